import datetime as dt

import pytest

from pirlib import durations


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (dt.timedelta(0), "0 min"),
        (dt.timedelta(seconds=59), "0 min"),
        (dt.timedelta(minutes=45), "45 min"),
        (dt.timedelta(hours=3), "3 h"),
        (dt.timedelta(hours=5, minutes=24, seconds=50), "5 h 24 min"),
        (dt.timedelta(days=1), "1 d"),
        (dt.timedelta(days=2, hours=3, minutes=59), "2 d 3 h"),
        (dt.timedelta(days=455, hours=1), "455 d 1 h"),
        (dt.timedelta(minutes=-98), "−1 h 38 min"),
    ],
)
def test_one_style_for_every_span(delta, shown):
    assert durations.span(delta) == shown


def test_minutes_and_deadlines_read_the_same_way():
    assert durations.minutes(10899.1) == "7 d 13 h"
    assert durations.minutes(None) == durations.minutes(float("nan")) == "—"
    assert durations.deadline(dt.timedelta(hours=5, minutes=24)) == "due in 5 h 24 min"
    assert durations.deadline(-dt.timedelta(days=2, hours=3)) == "late by 2 d 3 h"

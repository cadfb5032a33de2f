"""Deploys, PRs, flags and config changes -> change events."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pirlib.errors import InputError
from pirlib.timeline.importers import SOURCE_COLUMNS
from pirlib.timeline.importers.changes import parse_changes

FIXTURES = Path(__file__).parent / "fixtures" / "timeline"


def test_csv_kinds_map_to_sources_and_times_to_utc() -> None:
    frame = parse_changes(FIXTURES / "changes.csv", tz="America/Los_Angeles")
    assert list(frame.columns) == SOURCE_COLUMNS
    assert list(frame["source"]) == ["deploy", "code", "flag", "deploy"]
    assert list(frame["kind"]) == ["deploy", "pull_request", "flag_change", "rollback"]
    assert list(frame["occurred_at"]) == [
        pd.Timestamp("2025-10-26 00:20", tz="UTC"),
        pd.Timestamp("2025-10-26 00:05", tz="UTC"),
        pd.Timestamp("2025-10-26 09:40", tz="UTC"),  # naive, read in Los Angeles (PDT, -7)
        pd.Timestamp("2025-10-26 02:00", tz="UTC"),
    ]
    assert frame.iloc[1]["text"] == "Retry budget for card auth, take 2\nhttps://git.example.com/pay/pull/1842"
    assert frame.iloc[1]["to_value"] == "#1842" and frame.iloc[1]["actor"] == "Bob Stone"
    assert frame.iloc[3]["origin"] == "changes.csv: line 5"


def test_json_changes_with_epoch_time_and_missing_summary() -> None:
    frame = parse_changes(FIXTURES / "changes.json")
    assert list(frame["kind"]) == ["config_change", "flag_change"]
    assert frame.iloc[1]["occurred_at"] == pd.Timestamp("2025-10-26 00:53:20", tz="UTC")
    assert frame.iloc[1]["text"] == "payments-new-flow" and frame.iloc[1]["actor"] is None


def test_unknown_kind_names_the_record() -> None:
    with pytest.raises(InputError, match=r"changes_bad.json: change 1: unknown kind 'earthquake'"):
        parse_changes(FIXTURES / "changes_bad.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,what\n", r"changes.csv: line 1: the header must be at,kind,ref,author,summary,url"),
        ("at,kind,ref,summary\n2025-10-26T00:00Z,deploy,,\n", r"line 2: both 'ref' and 'summary' are empty"),
        ("at,kind,ref\nsoon,deploy,v1\n", r"line 2: 'soon' is not a time"),
    ],
)
def test_malformed_csv(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "changes.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        parse_changes(path)

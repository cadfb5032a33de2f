"""One way to show a duration to people, everywhere: "45 min", "5 h 24 min", "2 d 3 h", "late by 2 d 3 h".

Below an hour in minutes; below a day in hours and minutes; from a day on in days and hours (minutes no longer
matter at that scale). Rounded down to the minute, so a deadline that is 59 s away still reads "due in 0 min"
rather than a minute early; ``minutes`` (measured durations) rounds to the nearest minute. A negative span is shown with a minus sign (−): callers that must not publish one (a
milestone before the incident started) flag it themselves; this module only says it as it is.
"""

from __future__ import annotations

import datetime as dt
import math

__all__ = ["MISSING", "deadline", "minutes", "span"]

MISSING = "—"  # a duration that is not known


def span(delta: dt.timedelta) -> str:
    """'0 min', '45 min', '5 h 24 min', '3 h', '1 d', '2 d 3 h'; negative spans get a leading '−'."""
    total = int(delta.total_seconds() // 60) if delta >= dt.timedelta(0) else -int(-delta.total_seconds() // 60)
    if total < 0:
        return "−" + span(dt.timedelta(minutes=-total))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min"


def minutes(value: float | None) -> str:
    """A number of minutes (as the metrics and timelines count them) shown like ``span``; None/NaN is '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return span(dt.timedelta(minutes=round(float(value))))  # a measured duration: to the nearest minute


def deadline(remaining: dt.timedelta) -> str:
    """A deadline seen from now: 'due in 5 h 24 min', or 'late by 2 d 3 h' once it has passed."""
    if remaining < dt.timedelta(0):
        return f"late by {span(-remaining)}"
    return f"due in {span(remaining)}"

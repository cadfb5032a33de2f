"""Where the facilitator left the guided review: the incident and step, so reopening resumes there."""

from __future__ import annotations

import datetime as dt

import duckdb

from pirlib.errors import InputError
from pirlib.review.session import ReviewSession

__all__ = ["STEPS", "last_progress", "save_progress"]

STEPS = {
    "pick": "Pick",
    "prepare": "Prepare",
    "timeline": "Timeline",
    "meeting": "Meeting",
    "actions": "Actions",
    "wrap_up": "Wrap-up",
}


def save_progress(session: ReviewSession, step: str) -> None:
    """Remember the incident and step the facilitator is on, so reopening resumes there."""
    if step not in STEPS:
        raise InputError(f"step {step!r} is unknown; use one of {', '.join(STEPS)}")
    session.con.execute(
        "INSERT INTO review_progress (incident_id, current_step, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (incident_id) DO UPDATE SET current_step = EXCLUDED.current_step, "
        "updated_at = EXCLUDED.updated_at",
        [session.incident_id, step, dt.datetime.now(dt.timezone.utc)],
    )


def last_progress(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(incident_id, step) of the review worked on last whose postmortem is not published, if any."""
    row = con.execute(
        "SELECT p.incident_id, p.current_step FROM review_progress AS p "
        "JOIN incidents AS i ON i.issue_id = p.incident_id "
        "LEFT JOIN reviews AS r ON r.incident_id = p.incident_id "
        "WHERE r.published_at IS NULL AND NOT i.deleted ORDER BY p.updated_at DESC LIMIT 1"
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None

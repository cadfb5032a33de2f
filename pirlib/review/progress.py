"""The guided review's progress: which of its steps are done (decided here, not in the widgets), and where the
facilitator left it (the incident and step, so reopening resumes there).

A step is done when its work is: Pick once an incident is picked; Prepare when the facilitator is assigned,
the artifacts collected, the invite list sent and the agenda circulated; Timeline when the incident has
events; Meeting when every segment has a note; Actions when there are drafts and all are SMART; Wrap-up
when the other five are done and the review-quality check finds nothing missing. ``update_done`` decides
again only the step that changed (and Wrap-up, which follows from the others), so one change costs one
step's queries, not every step's.
"""

from __future__ import annotations

import datetime as dt

from pirlib.db import Connection, one
from pirlib.errors import InputError
from pirlib.review import actions, meeting
from pirlib.review.session import ReviewSession
from pirlib.review.wrap_up import quality_check

__all__ = ["STEPS", "done_steps", "last_progress", "save_progress", "step_done", "update_done"]

STEPS = {
    "pick": "Pick",
    "prepare": "Prepare",
    "timeline": "Timeline",
    "meeting": "Meeting",
    "actions": "Actions",
    "wrap_up": "Wrap-up",
}
PREPARE_STAMPS = ("facilitator_assigned_at", "artifacts_collected_at", "invites_sent_at", "agenda_circulated_at")


def step_done(session: ReviewSession, step: str, done: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether ``step``'s work is complete; for Wrap-up, ``done`` holds the other steps already found done."""
    con, incident_id = session.con, session.incident_id
    if step == "pick":
        return True
    if step == "prepare":
        row = con.execute(
            f"SELECT {', '.join(PREPARE_STAMPS)} FROM reviews WHERE incident_id = ?", [incident_id]
        ).fetchone()
        return row is not None and all(value is not None for value in row)
    if step == "timeline":
        return bool(one(con, "SELECT EXISTS (SELECT 1 FROM incident_events WHERE incident_id = ?)", [incident_id])[0])
    if step == "meeting":
        return not meeting.segments_without_notes(con, [incident_id])[incident_id]
    if step == "actions":
        drafts = actions.list_drafts(session)
        return bool(drafts) and all(checked.smart for checked in drafts)
    if step == "wrap_up":
        return set(STEPS) - {"wrap_up"} <= set(done) and not quality_check(session)
    raise InputError(f"step {step!r} is unknown; use one of {', '.join(STEPS)}")


def done_steps(session: ReviewSession) -> set[str]:
    """Every step that is done, for the guide's progress indicator (when an incident is opened)."""
    done: set[str] = set()
    for step in STEPS:
        if step_done(session, step, done):
            done.add(step)
    return done


def update_done(session: ReviewSession, done: set[str], changed: str) -> set[str]:
    """``done`` after a change in step ``changed``: that step decided again, and Wrap-up, which follows."""
    now_done = set(done) - {changed, "wrap_up"}
    for step in dict.fromkeys([changed, "wrap_up"]):
        if step_done(session, step, now_done):
            now_done.add(step)
    return now_done


def save_progress(session: ReviewSession, step: str) -> None:
    """Remember the incident and step the facilitator is on, so reopening resumes there."""
    if step not in STEPS:
        raise InputError(f"step {step!r} is unknown; use one of {', '.join(STEPS)}")
    session.con.execute(
        "INSERT INTO review_progress (incident_id, current_step, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (incident_id) DO UPDATE SET current_step = EXCLUDED.current_step, "
        "updated_at = EXCLUDED.updated_at",
        [session.incident_id, step, dt.datetime.now(dt.UTC)],
    )


def last_progress(con: Connection) -> tuple[str, str] | None:
    """(incident_id, step) of the review worked on last whose postmortem is not published, if any."""
    row = con.execute(
        "SELECT p.incident_id, p.current_step FROM review_progress AS p "
        "JOIN incidents AS i ON i.issue_id = p.incident_id "
        "LEFT JOIN reviews AS r ON r.incident_id = p.incident_id "
        "WHERE r.published_at IS NULL AND NOT i.deleted ORDER BY p.updated_at DESC LIMIT 1"
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None

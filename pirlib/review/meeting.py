"""Runbook §2, the meeting: six timed segments, the ground rules, the notes taken in each segment, and the
record of the meeting: who attended, who held its roles, and the root cause with its contributing factors.

The meeting clocks need no thread: starting a segment stores its start time, and whoever shows the
clocks computes them from the stored times (``segment_elapsed``, ``meeting_elapsed``).

Decisions where the runbook is silent: notes in "what went wrong" need a tag; risk review notes may carry
a compliance or security flag. The meeting's roles are the facilitator (``reviews.facilitator``, assigned
in preparation), the incident commander who walks through the recap (Jira's commander unless the meeting
names another) and the scribe; the facilitator is never the incident commander. Someone who attended
without being invited is added to ``attendees`` (``invited`` false) rather than typed into a note.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pirlib import db
from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.failure_modes import similar
from pirlib.review import versions
from pirlib.review.session import ReviewSession, touch_review
from pirlib.values import as_utc, same_person

__all__ = [
    "GROUND_RULES",
    "MEETING_ROLES",
    "NOTE_FLAGS",
    "NOTE_TAGS",
    "SEGMENTS",
    "SEGMENT_BY_NAME",
    "Segment",
    "add_note",
    "delete_note",
    "edit_note",
    "end_segment",
    "meeting_elapsed",
    "notes",
    "record",
    "save_root_cause",
    "segment_elapsed",
    "segment_times",
    "segments_without_notes",
    "set_attended",
    "set_role",
    "start_segment",
]


@dataclass(frozen=True)
class Segment:
    name: str
    title: str
    minutes: int
    purpose: str
    category: str  # the review_notes.category its notes get


SEGMENTS = (
    Segment("welcome", "Welcome & objectives", 5, "Set ground rules (blameless, action-oriented).", "note"),
    Segment("recap", "Recap", 10, "IC walks through incident summary and timeline.", "note"),
    Segment("went_well", "What went well", 10, "Identify resilience strengths.", "well"),
    Segment(
        "went_wrong", "What went wrong", 20, "Discuss detection gaps, process breakdowns, tooling limits.", "wrong"
    ),
    Segment("actions", "Action items", 10, "Assign SMART actions with owners and due dates.", "note"),
    Segment("risk_review", "Risk review", 5, "Compliance & security flag follow-ups.", "risk"),
)
SEGMENT_BY_NAME = {s.name: s for s in SEGMENTS}

GROUND_RULES = (
    "Blameless: we look at systems and decisions, not at people; nobody is at fault for an incident.",
    "Assume everyone acted with the best information they had at the time.",
    "Action-oriented: every problem we name should end in an owned, measurable action or a conscious no.",
    "One conversation at a time; the facilitator keeps the clock and parks side topics.",
)

NOTE_TAGS = {
    "detection_gap": "Detection gap",
    "process_breakdown": "Process breakdown",
    "tooling_limit": "Tooling limit",
}
NOTE_FLAGS = {"compliance": "Compliance", "security": "Security"}


# ------------------------------------------------------------------------------------------- segments


def _check_segment(segment: str) -> None:
    if segment not in SEGMENT_BY_NAME:
        raise InputError(f"segment {segment!r} is unknown; use one of {', '.join(SEGMENT_BY_NAME)}")


def start_segment(session: ReviewSession, segment: str, at: dt.datetime | None = None) -> None:
    """Start (or restart) a segment's clock; end whichever other segment is running; stamp ``meeting_at``."""
    _check_segment(segment)
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    with db.transaction(con):
        con.execute(
            "UPDATE meeting_segments SET ended_at = ? WHERE incident_id = ? AND ended_at IS NULL AND segment <> ?",
            [at, incident_id, segment],
        )
        con.execute(
            "INSERT INTO meeting_segments (incident_id, segment, started_at) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id, segment) DO UPDATE SET started_at = EXCLUDED.started_at, ended_at = NULL",
            [incident_id, segment, at],
        )
        touch_review(session, at)
        con.execute("UPDATE reviews SET meeting_at = coalesce(meeting_at, ?) WHERE incident_id = ?", [at, incident_id])


def end_segment(session: ReviewSession, segment: str, at: dt.datetime | None = None) -> None:
    _check_segment(segment)
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    con.execute(
        "UPDATE meeting_segments SET ended_at = ? WHERE incident_id = ? AND segment = ? AND ended_at IS NULL",
        [at, incident_id, segment],
    )


def segment_times(session: ReviewSession) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
    """{segment: (started_at, ended_at or None while it runs)} for the segments started so far."""
    con, incident_id = session.con, session.incident_id
    rows = con.execute(
        "SELECT segment, started_at, ended_at FROM meeting_segments WHERE incident_id = ?", [incident_id]
    ).fetchall()
    times = {}
    for segment, started, ended in rows:
        start = as_utc(started)
        assert start is not None  # meeting_segments.started_at is NOT NULL
        times[segment] = (start, as_utc(ended))
    return times


def segment_elapsed(times: tuple[dt.datetime, dt.datetime | None] | None, at: dt.datetime) -> dt.timedelta:
    if not times:
        return dt.timedelta(0)
    started, ended = times
    return max(dt.timedelta(0), (ended or at) - started)


def meeting_elapsed(times: Mapping[str, tuple[dt.datetime, dt.datetime | None]], at: dt.datetime) -> dt.timedelta:
    """Wall time from the first segment's start to now (or to the last end when no segment is running)."""
    if not times:
        return dt.timedelta(0)
    first = min(started for started, _ in times.values())
    running = any(ended is None for _, ended in times.values())
    last = at if running else max(ended for _, ended in times.values() if ended is not None)
    return max(dt.timedelta(0), last - first)


# ------------------------------------------------------------------------------------------------ notes


def add_note(
    session: ReviewSession,
    segment: str,
    text: str,
    *,
    tag: str | None = None,
    flag: str | None = None,
    author: str | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Save one meeting note; return its id. A "what went wrong" note needs a tag (see NOTE_TAGS)."""
    _check_segment(segment)
    title = SEGMENT_BY_NAME[segment].title
    text = _note_text(text, title, "add")
    tag, flag = tag or None, flag or None
    if segment == "went_wrong" and tag not in NOTE_TAGS:
        raise InputError(f"{title} note: tag is missing; choose {', '.join(NOTE_TAGS.values())} for what went wrong")
    if segment != "went_wrong" and tag:
        raise InputError(f"{title} note: tags are for what went wrong only; clear the tag")
    if flag and (segment != "risk_review" or flag not in NOTE_FLAGS):
        raise InputError(
            f"{title} note: flag {flag!r} is not allowed; flag risk review notes as compliance or security"
        )
    at = at or session.now()
    note_id = uuid.uuid4().hex
    con, incident_id = session.con, session.incident_id
    with db.transaction(con):  # notes are text `pir similar` scores: the index follows them
        con.execute(
            "INSERT INTO review_notes (note_id, incident_id, segment, category, tag, flag, text, author, created_at, "
            "updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                note_id,
                incident_id,
                segment,
                SEGMENT_BY_NAME[segment].category,
                tag,
                flag,
                text,
                author,
                at,
                at,
                versions.editor(author),
            ],
        )
        similar.refresh_index(con, [incident_id])
    return note_id


def _note_text(text: str | None, title: str, verb: str) -> str:
    text = (text or "").strip()
    if not text:
        raise InputError(f"{title} note: the text is empty; type the note, then {verb} it")
    return text


_NOTES = versions.Versioned("review_notes", "note_id", "note", "reload the Meeting step")


def edit_note(
    session: ReviewSession,
    note_id: str,
    text: str,
    *,
    version: int,
    by: str | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Change a note's text if it is still at ``version`` (what the form showed); return its new version. A newer
    version raises ``versions.VersionConflict`` and writes nothing; a note deleted meanwhile is an InputError."""
    segment = session.con.execute(
        "SELECT segment FROM review_notes WHERE note_id = ? AND incident_id = ?", [note_id, session.incident_id]
    ).fetchone()
    if segment is None:
        raise InputError("note: it no longer exists (deleted in another window?); reload the Meeting step")
    text = _note_text(text, SEGMENT_BY_NAME[segment[0]].title, "save")
    con = session.con
    with db.transaction(con):
        saved = versions.update(con, _NOTES, note_id, version, {"text": text}, versions.editor(by), at or session.now())
        if saved is None:
            raise InputError("note: it no longer exists (deleted in another window?); reload the Meeting step")
        similar.refresh_index(con, [session.incident_id])
    return saved


def delete_note(con: Connection, note_id: str, *, version: int, at: dt.datetime | None = None) -> None:
    """Delete a note if it is still at ``version``; one that is gone already is no error, one changed since
    raises ``versions.VersionConflict``."""
    with db.transaction(con):
        gone = versions.delete(con, _NOTES, note_id, version, at or dt.datetime.now(dt.UTC), returning="incident_id")
        similar.refresh_index(con, [row[0] for row in gone])


def notes(session: ReviewSession) -> pd.DataFrame:
    """The incident's notes in meeting order, then by time, each with its version (what an edit names)."""
    con, incident_id = session.con, session.incident_id
    frame = con.execute(
        "SELECT note_id, segment, category, tag, flag, text, author, created_at, version, updated_by, updated_at "
        "FROM review_notes "
        "WHERE incident_id = ? ORDER BY created_at, note_id",
        [incident_id],
    ).df()
    order = {s.name: n for n, s in enumerate(SEGMENTS)}
    return frame.sort_values("segment", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def segments_without_notes(con: Connection, incident_ids: list[str]) -> dict[str, list[Segment]]:
    """Per incident, the segments (in meeting order) nobody has taken a note in yet; one query for all."""
    noted = set(
        con.execute(
            "SELECT DISTINCT incident_id, segment FROM review_notes WHERE incident_id IN (SELECT unnest(?))",
            [list(incident_ids)],
        ).fetchall()
    )
    return {incident_id: [s for s in SEGMENTS if (incident_id, s.name) not in noted] for incident_id in incident_ids}


# ---------------------------------------------------------------------------------- the meeting's record

# The runbook's meeting roles: key -> label. The facilitator is assigned in preparation (prepare.assign_facilitator).
MEETING_ROLES = {"facilitator": "Facilitator", "incident_commander": "Incident commander", "scribe": "Scribe"}
NOT_INVITED = "attended, not invited"


def _name(text: str | None) -> str:
    return " ".join((text or "").split())


def set_attended(session: ReviewSession, name: str, attended: bool = True) -> None:
    """Record that a person attended (or not); someone not on the invite list is added as not invited."""
    name = _name(name)
    if not name:
        raise InputError("attendee: the name is empty; type the name of the person who attended")
    session.con.execute(
        "INSERT INTO attendees (incident_id, name, role, origin, invited, attended) VALUES (?, ?, 'participant', ?, "
        "false, ?) ON CONFLICT (incident_id, name) DO UPDATE SET attended = EXCLUDED.attended",
        [session.incident_id, name, NOT_INVITED, bool(attended)],
    )


def record(session: ReviewSession) -> dict[str, str | None]:
    """The meeting's record: facilitator, incident_commander (the meeting's, else Jira's), scribe, root_cause,
    contributing_factors (text, one factor per line)."""
    row = session.con.execute(
        "SELECT r.facilitator, coalesce(r.incident_commander, i.commander), r.scribe, r.root_cause, "
        "r.contributing_factors FROM incidents AS i LEFT JOIN reviews AS r ON r.incident_id = i.issue_id "
        "WHERE i.issue_id = ?",
        [session.incident_id],
    ).fetchone()
    keys = ("facilitator", "incident_commander", "scribe", "root_cause", "contributing_factors")
    return dict(zip(keys, row or (None,) * len(keys), strict=True))


def set_role(session: ReviewSession, role: str, name: str | None) -> None:
    """Name the meeting's incident commander or scribe (empty: the incident commander is Jira's again, no scribe).

    The facilitator is assigned in preparation; the incident commander is never the facilitator."""
    if role not in ("incident_commander", "scribe"):
        raise InputError(
            f"role {role!r} cannot be set here; use incident_commander or scribe "
            "(the facilitator is assigned in the Prepare step)"
        )
    name = _name(name) or None
    current = record(session)
    if role == "incident_commander" and same_person(name, current["facilitator"]):
        raise InputError(
            f"incident commander: {current['facilitator']} is the facilitator; the runbook asks for a "
            "facilitator who did not command the incident, so name the commander who walks through "
            "the recap"
        )
    touch_review(session, session.now())
    session.con.execute(f"UPDATE reviews SET {role} = ? WHERE incident_id = ?", [name, session.incident_id])


def save_root_cause(session: ReviewSession, root_cause: str | None, contributing_factors: str | None) -> None:
    """Keep the root cause and the contributing factors (one per line; blank lines dropped) as typed."""
    cause = (root_cause or "").strip() or None
    factors = "\n".join(line.strip() for line in (contributing_factors or "").splitlines() if line.strip()) or None
    touch_review(session, session.now())
    session.con.execute(
        "UPDATE reviews SET root_cause = ?, contributing_factors = ? WHERE incident_id = ?",
        [cause, factors, session.incident_id],
    )

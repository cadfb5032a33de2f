"""The runbook's review of one incident: deadlines, preparation, the meeting and its notes, a quality check.

Every write opens a connection, writes and closes it (``db.connect``), so the guided notebook never holds
the database while the facilitator thinks, and reopening the notebook resumes from what is stored.

Decisions where the runbook is silent:

- "Now" is the real clock, moved to ``Settings.today`` when that is set (``PIR_TODAY``): the date is the
  pretended one, the time of day and the passing seconds are real, so meeting clocks still run.
- A stage is *due soon* when less than a quarter of its window is left (3 h of 12, 6 h of 24, 12 h of 48).
- ``facilitator_assigned_at`` keeps the first assignment: handing over to another facilitator later does
  not make the stage late. ``artifacts_collected_at`` is the time the last of the four kinds was
  collected, and is cleared again when one is unticked.
- The invite list is stored as soon as it is proposed; removing someone sets ``invited = false`` (the row
  stays, so the proposal does not bring them back). A runbook role (Engineering leadership, QA, Compliance,
  Product) is proposed as a placeholder row named after the role until someone with that role is added.
- Notes in "what went wrong" need a tag; risk review notes may carry a compliance or security flag.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pirlib import db
from pirlib.config import Settings
from pirlib.errors import InputError
from pirlib.incidents import resolve_incident
from pirlib.values import as_utc, is_missing

__all__ = [
    "ARTIFACT_KINDS", "GROUND_RULES", "NOTE_FLAGS", "NOTE_TAGS", "RUNBOOK_ROLES", "SEGMENTS", "STAGES", "STEPS",
    "Candidate", "QualityIssue", "Segment", "StageClock",
    "add_attendee", "add_note", "agenda", "artifact_checklist", "assign_facilitator", "candidates",
    "delete_note", "draft_agenda", "end_segment", "export_agenda", "incident_facts", "invite_list",
    "last_progress", "mark_agenda_circulated", "mark_invites_sent", "meeting_elapsed", "notes", "now",
    "propose_attendees", "quality_check", "reset_agenda", "save_agenda", "save_progress", "segment_elapsed",
    "segment_times", "set_artifact", "set_invited", "stage_clocks", "start_segment",
]  # fmt: skip

UTC = dt.timezone.utc

STEPS = {
    "pick": "Pick",
    "prepare": "Prepare",
    "timeline": "Timeline",
    "meeting": "Meeting",
    "actions": "Actions",
    "wrap_up": "Wrap-up",
}

# Runbook §1 and §4: each stage, the `reviews` column that records it, and the Settings attribute of its hours.
STAGES = {
    "facilitator_assigned": ("Facilitator assigned", "facilitator_assigned_at", "facilitator_hours"),
    "artifacts_collected": ("Artifacts collected", "artifacts_collected_at", "artifacts_hours"),
    "invites_sent": ("Invite list prepared", "invites_sent_at", "invites_hours"),
    "agenda_circulated": ("Agenda circulated", "agenda_circulated_at", "agenda_hours"),
    "published": ("Postmortem published", "published_at", "publish_hours"),
}
DUE_SOON_SHARE = 0.25

ARTIFACT_KINDS = {
    "ticket_timeline_chat": "Incident ticket with timeline and chat transcript",
    "monitoring_snapshots": "Monitoring snapshots (New Relic, Grafana, CloudWatch) at peak and resolution",
    "code_flag_config_changes": "Code diffs, feature flag changes, config updates",
    "customer_communications": "Customer communications (status page posts, emails)",
}

RUNBOOK_ROLES = ("Engineering leadership", "QA", "Compliance", "Product")


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
    Segment("went_wrong", "What went wrong", 20, "Discuss detection gaps, process breakdowns, tooling limits.",
            "wrong"),
    Segment("actions", "Action items", 10, "Assign SMART actions with owners and due dates.", "note"),
    Segment("risk_review", "Risk review", 5, "Compliance & security flag follow-ups.", "risk"),
)  # fmt: skip
SEGMENT_BY_NAME = {s.name: s for s in SEGMENTS}

GROUND_RULES = (
    "Blameless: we look at systems and decisions, not at people; nobody is at fault for an incident.",
    "Assume everyone acted with the best information they had at the time.",
    "Action-oriented: every problem we name should end in an owned, measurable action or a conscious no.",
    "One conversation at a time; the facilitator keeps the clock and parks side topics.",
)

NOTE_TAGS = {"detection_gap": "Detection gap", "process_breakdown": "Process breakdown",
             "tooling_limit": "Tooling limit"}  # fmt: skip
NOTE_FLAGS = {"compliance": "Compliance", "security": "Security"}


# ------------------------------------------------------------------------------------------------ clock


def now(settings: Settings) -> dt.datetime:
    """The current instant in UTC, shifted to ``settings.today`` when that is set (see module notes)."""
    real = dt.datetime.now(UTC)
    if settings.today is None:
        return real
    return real + (settings.today - real.date())


@dataclass(frozen=True)
class StageClock:
    """One runbook stage of one review. ``state``: done, on_time, due_soon or late."""

    stage: str
    label: str
    hours: float
    due_at: dt.datetime
    done_at: dt.datetime | None
    state: str
    remaining: dt.timedelta  # until the deadline; negative once past it (for a done stage: at completion)

    @property
    def done_late(self) -> bool:
        return self.done_at is not None and self.done_at > self.due_at

    def describe(self) -> str:
        """A short reading for people, e.g. 'late by 3 h 10 min' or 'due in 5 h 02 min'."""
        if self.state == "done":
            return f"done {self.done_at:%Y-%m-%d %H:%M} UTC" + (" (late)" if self.done_late else "")
        if self.remaining < dt.timedelta(0):
            return f"late by {_span(-self.remaining)}"
        return f"due in {_span(self.remaining)}"


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours} h {mins:02d} min"


def stage_clocks(closed_at: Any, review: Mapping[str, Any] | None, settings: Settings,
                 at: dt.datetime) -> list[StageClock]:  # fmt: skip
    """The runbook clock of one closed incident: every stage's deadline from closure and its state (pure)."""
    closed = as_utc(closed_at)
    if closed is None:
        raise ValueError("the incident is not closed: its deadlines count from closure (resolved_at)")
    review = review or {}
    clocks = []
    for stage, (label, column, hours_attr) in STAGES.items():
        hours = float(getattr(settings, hours_attr))
        due = closed + dt.timedelta(hours=hours)
        done = as_utc(review.get(column))
        remaining = due - (done or at)
        if done is not None:
            state = "done"
        elif remaining < dt.timedelta(0):
            state = "late"
        elif remaining < dt.timedelta(hours=hours * DUE_SOON_SHARE):
            state = "due_soon"
        else:
            state = "on_time"
        clocks.append(StageClock(stage, label, hours, due, done, state, remaining))
    return clocks


@dataclass(frozen=True)
class Candidate:
    """A Sev-0/Sev-1 incident that is closed and whose postmortem is not published yet."""

    issue_id: str
    key: str
    summary: str
    severity: str
    service: str | None
    commander: str | None
    closed_at: dt.datetime
    facilitator: str | None
    clocks: list[StageClock]

    def label(self) -> str:
        """One line of plain text (for a dropdown): key, severity, summary, closure and the next deadline."""
        pending = [c for c in self.clocks if c.state != "done"]
        worst = next((c for c in pending if c.state == "late"), pending[0] if pending else None)
        clock = f"{worst.label}: {worst.describe()}" if worst else "all stages done"
        summary = self.summary if len(self.summary) <= 70 else self.summary[:67] + "..."
        return f"{self.key} · {self.severity} · {summary} · closed {self.closed_at:%Y-%m-%d %H:%M} UTC · {clock}"


_REVIEW_COLUMNS = [column for _, column, _ in STAGES.values()]


def candidates(settings: Settings, at: dt.datetime | None = None) -> list[Candidate]:
    """Closed, not yet published incidents of the review severities, newest closure first, with clocks."""
    at = at or now(settings)
    with db.connect(settings) as con:
        rows = con.execute(
            "SELECT i.issue_id, i.key, i.summary, i.severity, i.service, i.commander, i.resolved_at, "
            "r.facilitator, " + ", ".join(f"r.{c}" for c in _REVIEW_COLUMNS) + " "
            "FROM incidents AS i LEFT JOIN reviews AS r ON r.incident_id = i.issue_id "
            "WHERE NOT i.deleted AND i.resolved_at IS NOT NULL AND r.published_at IS NULL "
            "AND i.severity IN (SELECT unnest(?)) "
            "ORDER BY i.resolved_at DESC, i.key",
            [list(settings.review_severities)],
        ).df()
    found = []
    for row in rows.to_dict("records"):
        clocks = stage_clocks(row["resolved_at"], row, settings, at)
        found.append(Candidate(
            str(row["issue_id"]), str(row["key"]), str(row["summary"] or ""), str(row["severity"]),
            row["service"], row["commander"], as_utc(row["resolved_at"]), row["facilitator"], clocks,
        ))  # fmt: skip
    return found


# ------------------------------------------------------------------------------------------ the incident


def incident_facts(settings: Settings, incident: str) -> dict[str, Any]:
    """The incident row and its review row in one dict (review columns as in ``reviews``)."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        facts = con.execute("SELECT * EXCLUDE (raw) FROM incidents WHERE issue_id = ?", [incident_id]).df()
        review = con.execute("SELECT * EXCLUDE (incident_id) FROM reviews WHERE incident_id = ?", [incident_id]).df()
        events = con.execute("SELECT count(*) FROM incident_events WHERE incident_id = ?", [incident_id]).fetchone()
    out = {k: (None if is_missing(v) else v) for k, v in facts.iloc[0].to_dict().items()}
    for column in ["facilitator", *_REVIEW_COLUMNS, "meeting_at", "doc_url", "regulatory_filed_at"]:
        value = review.iloc[0][column] if not review.empty else None
        out[column] = None if is_missing(value) else value
    out["event_count"] = int(events[0]) if events else 0
    return out


def _touch_review(con: duckdb.DuckDBPyConnection, incident_id: str, at: dt.datetime) -> None:
    con.execute(
        "INSERT INTO reviews (incident_id, updated_at) VALUES (?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
        "updated_at = EXCLUDED.updated_at",
        [incident_id, at],
    )


def _same_person(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def assign_facilitator(settings: Settings, incident: str, name: str, at: dt.datetime | None = None) -> None:
    """Record the facilitator (never the incident commander) and, the first time, when they were assigned."""
    name = " ".join((name or "").split())
    if not name:
        raise InputError("facilitator: the name is empty; type the name of the person who will facilitate")
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        key, commander = con.execute(
            "SELECT key, commander FROM incidents WHERE issue_id = ?", [incident_id]
        ).fetchone()
        if _same_person(name, commander):
            raise InputError(
                f"facilitator: {commander} is the incident commander of {key}; the runbook asks for someone "
                "who did not command the incident, so pick another person"
            )
        _touch_review(con, incident_id, at)
        con.execute(
            "UPDATE reviews SET facilitator = ?, facilitator_assigned_at = coalesce(facilitator_assigned_at, ?) "
            "WHERE incident_id = ?",
            [name, at, incident_id],
        )


# ------------------------------------------------------------------------------------------- artifacts


def _artifact_id(incident_id: str, kind: str) -> str:
    return f"{incident_id}:{kind}"


def artifact_checklist(settings: Settings, incident: str) -> list[dict[str, Any]]:
    """The four kinds of the runbook's checklist, each with label, location, collected_at, collected_by.

    The ticket's location defaults to the incident's Jira link until the facilitator sets another.
    """
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        stored = con.execute(
            "SELECT kind, location, collected_at, collected_by FROM artifacts WHERE incident_id = ?", [incident_id]
        ).df()
        url = con.execute("SELECT url FROM incidents WHERE issue_id = ?", [incident_id]).fetchone()[0]
    by_kind = {row["kind"]: row for row in stored.to_dict("records")}
    items = []
    for kind, label in ARTIFACT_KINDS.items():
        row = by_kind.get(kind, {})
        if kind in by_kind:
            location = None if is_missing(row["location"]) else row["location"]
        else:
            location = url if kind == "ticket_timeline_chat" else None
        items.append({
            "kind": kind, "label": label, "location": location,
            "collected_at": as_utc(row.get("collected_at")),
            "collected_by": None if is_missing(row.get("collected_by")) else row.get("collected_by"),
        })  # fmt: skip
    return items


_UNSET: Any = object()


def set_artifact(
    settings: Settings,
    incident: str,
    kind: str,
    *,
    collected: bool | None = None,
    location: str | None = _UNSET,
    by: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Tick or untick one artifact kind and/or set its link or file; keep ``artifacts_collected_at`` in step."""
    if kind not in ARTIFACT_KINDS:
        raise InputError(f"artifact kind {kind!r} is unknown; use one of {', '.join(ARTIFACT_KINDS)}")
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        artifact_id = _artifact_id(incident_id, kind)
        con.execute("BEGIN TRANSACTION")
        try:
            exists = con.execute("SELECT 1 FROM artifacts WHERE artifact_id = ?", [artifact_id]).fetchone()
            if not exists:
                url = con.execute("SELECT url FROM incidents WHERE issue_id = ?", [incident_id]).fetchone()[0]
                con.execute(
                    "INSERT INTO artifacts (artifact_id, incident_id, kind, label, location) VALUES (?, ?, ?, ?, ?)",
                    [artifact_id, incident_id, kind, ARTIFACT_KINDS[kind],
                     url if kind == "ticket_timeline_chat" else None],
                )  # fmt: skip
            if location is not _UNSET:
                text = (location or "").strip() or None
                con.execute("UPDATE artifacts SET location = ? WHERE artifact_id = ?", [text, artifact_id])
            if collected is True:
                con.execute(
                    "UPDATE artifacts SET collected_at = coalesce(collected_at, ?), collected_by = coalesce(?, "
                    "collected_by) WHERE artifact_id = ?",
                    [at, by, artifact_id],
                )
            elif collected is False:
                con.execute(
                    "UPDATE artifacts SET collected_at = NULL, collected_by = NULL WHERE artifact_id = ?", [artifact_id]
                )
            _touch_review(con, incident_id, at)
            con.execute(
                "UPDATE reviews SET artifacts_collected_at = (SELECT CASE WHEN count(collected_at) = ? "
                "THEN max(collected_at) END FROM artifacts WHERE incident_id = ? AND kind IN (SELECT unnest(?))) "
                "WHERE incident_id = ?",
                [len(ARTIFACT_KINDS), incident_id, list(ARTIFACT_KINDS), incident_id],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


# ------------------------------------------------------------------------------------------- attendees


def propose_attendees(con: duckdb.DuckDBPyConnection, incident_id: str) -> pd.DataFrame:
    """People in the incident (commander, assignee, reporter, Jira actors, chat participants), one row each.

    Columns: name, role, origin. The first origin found wins for a person named twice.
    """
    people = con.execute(
        """
        WITH found AS (
            SELECT commander AS name, 'commander' AS role, 'incident commander' AS origin, 1 AS rank
            FROM incidents WHERE issue_id = $id
            UNION ALL SELECT assignee, 'responder', 'Jira assignee', 2 FROM incidents WHERE issue_id = $id
            UNION ALL SELECT reporter, 'responder', 'Jira reporter', 3 FROM incidents WHERE issue_id = $id
            UNION ALL
            SELECT actor, 'responder',
                   CASE source WHEN 'jira_comment' THEN 'Jira commenter' WHEN 'jira_changelog' THEN 'Jira history'
                               WHEN 'chat' THEN 'chat participant' ELSE source END,
                   CASE source WHEN 'jira_comment' THEN 4 WHEN 'jira_changelog' THEN 5 WHEN 'chat' THEN 6 ELSE 7 END
            FROM incident_events WHERE incident_id = $id AND source IN ('jira_comment', 'jira_changelog', 'chat')
        )
        SELECT trim(name) AS name, arg_min(role, rank) AS role, arg_min(origin, rank) AS origin, min(rank) AS rank
        FROM found WHERE coalesce(trim(name), '') <> ''
        GROUP BY trim(name) ORDER BY rank, name
        """,
        {"id": incident_id},
    ).df()
    return people[["name", "role", "origin"]]


def _ensure_attendees(con: duckdb.DuckDBPyConnection, incident_id: str) -> None:
    people = propose_attendees(con, incident_id)
    covered = {r[0] for r in con.execute(
        "SELECT DISTINCT role FROM attendees WHERE incident_id = ?", [incident_id]).fetchall()}  # fmt: skip
    roles = pd.DataFrame(
        [{"name": role, "role": role, "origin": "runbook role"} for role in RUNBOOK_ROLES if role not in covered]
    )
    frame = pd.concat([people, roles], ignore_index=True) if not roles.empty else people
    if frame.empty:
        return
    frame = frame.assign(incident_id=incident_id, invited=True)
    con.register("_proposed_attendees", frame)
    try:
        con.execute(
            "INSERT INTO attendees (incident_id, name, role, origin, invited) "
            "SELECT incident_id, name, role, origin, invited FROM _proposed_attendees ON CONFLICT DO NOTHING"
        )
    finally:
        con.unregister("_proposed_attendees")


def invite_list(settings: Settings, incident: str) -> pd.DataFrame:
    """The invite list (proposals stored on first read): name, role, origin, invited; people first, roles last."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        _ensure_attendees(con, incident_id)
        return con.execute(
            "SELECT name, role, origin, invited FROM attendees WHERE incident_id = ? "
            "ORDER BY origin = 'runbook role', CASE role WHEN 'commander' THEN 0 ELSE 1 END, name",
            [incident_id],
        ).df()


def add_attendee(settings: Settings, incident: str, name: str, role: str | None = None) -> None:
    """Add a person (or re-invite one); a person with a runbook role replaces that role's placeholder."""
    name = " ".join((name or "").split())
    if not name:
        raise InputError("invitee name: empty; type the person's name before adding")
    role = (role or "").strip() or "participant"
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "INSERT INTO attendees (incident_id, name, role, origin, invited) VALUES (?, ?, ?, 'added by facilitator', "
            "true) ON CONFLICT (incident_id, name) DO UPDATE SET role = EXCLUDED.role, invited = true",
            [incident_id, name, role],
        )
        if role in RUNBOOK_ROLES and name != role:
            con.execute(
                "DELETE FROM attendees WHERE incident_id = ? AND name = ? AND origin = 'runbook role'",
                [incident_id, role],
            )


def set_invited(settings: Settings, incident: str, name: str, invited: bool) -> None:
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "UPDATE attendees SET invited = ? WHERE incident_id = ? AND name = ?", [bool(invited), incident_id, name]
        )


def mark_invites_sent(settings: Settings, incident: str, at: dt.datetime | None = None) -> None:
    """Stamp ``invites_sent_at`` (the first time); at least one person must be invited."""
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        _ensure_attendees(con, incident_id)
        invited = con.execute(
            "SELECT count(*) FROM attendees WHERE incident_id = ? AND invited AND origin <> 'runbook role'",
            [incident_id],
        ).fetchone()[0]
        if not invited:
            raise InputError("invite list: nobody is invited yet; tick or add at least one person, then send")
        _touch_review(con, incident_id, at)
        con.execute(
            "UPDATE reviews SET invites_sent_at = coalesce(invites_sent_at, ?) WHERE incident_id = ?", [at, incident_id]
        )


# ----------------------------------------------------------------------------------------------- agenda


def _when(value: Any) -> str:
    stamp = as_utc(value)
    return f"{stamp:%Y-%m-%d %H:%M} UTC" if stamp else "not recorded"


def draft_agenda(facts: Mapping[str, Any]) -> str:
    """The runbook's six segments as a Markdown agenda with the incident's facts filled in (pure)."""
    started, resolved = as_utc(facts.get("started_at")), as_utc(facts.get("resolved_at"))
    duration = _span(resolved - started) if started and resolved else "not known"
    yes_no = {True: "yes", False: "no", None: "not recorded"}
    lines = [
        f"# Post-incident review: {facts.get('key')} {facts.get('summary') or ''}".rstrip(),
        "",
        f"- Severity: {facts.get('severity') or 'not set'}; service: {facts.get('service') or 'not set'}",
        f"- Incident commander: {facts.get('commander') or 'not recorded'}; "
        f"facilitator: {facts.get('facilitator') or 'to be assigned'}",
        f"- Started {_when(facts.get('started_at'))}; detected {_when(facts.get('detected_at'))}; "
        f"mitigated {_when(facts.get('mitigated_at'))}; resolved {_when(facts.get('resolved_at'))} "
        f"(duration {duration})",
        f"- Customer impact: {yes_no.get(facts.get('customer_impact'), 'not recorded')}; "
        f"regulatory reporting: {yes_no.get(facts.get('regulatory'), 'not recorded')}",
    ]
    if facts.get("url"):
        lines.append(f"- Ticket: {facts['url']}")
    lines += ["", f"## Agenda ({sum(s.minutes for s in SEGMENTS)} minutes)", ""]
    for n, segment in enumerate(SEGMENTS, 1):
        lines.append(f"{n}. **{segment.title} ({segment.minutes} min)**: {segment.purpose}")
    lines += ["", "Ground rules: " + " ".join(GROUND_RULES), ""]
    return "\n".join(lines)


def agenda(settings: Settings, incident: str) -> str:
    """The agenda as the facilitator edited it, else the draft from the incident's facts."""
    facts = incident_facts(settings, incident)
    with db.connect(settings) as con:
        row = con.execute(
            "SELECT agenda_markdown FROM review_progress WHERE incident_id = ?", [facts["issue_id"]]
        ).fetchone()
    return row[0] if row and row[0] else draft_agenda(facts)


def save_agenda(settings: Settings, incident: str, text: str | None) -> None:
    """Keep the facilitator's edit of the agenda (empty text goes back to the draft)."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "INSERT INTO review_progress (incident_id, agenda_markdown, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET agenda_markdown = EXCLUDED.agenda_markdown, "
            "updated_at = EXCLUDED.updated_at",
            [incident_id, (text or "").strip() or None, now(settings)],
        )


def reset_agenda(settings: Settings, incident: str) -> str:
    save_agenda(settings, incident, None)
    return agenda(settings, incident)


def export_agenda(settings: Settings, incident: str, out_dir: Path | str | None = None) -> Path:
    """Write the agenda to ``<out_dir>/<KEY>-agenda.md`` (default: the published folder); return the path."""
    facts = incident_facts(settings, incident)
    folder = Path(out_dir or settings.published_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{facts['key']}-agenda.md"
    path.write_text(agenda(settings, incident), encoding="utf-8")
    return path


def mark_agenda_circulated(settings: Settings, incident: str, at: dt.datetime | None = None) -> None:
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        _touch_review(con, incident_id, at)
        con.execute(
            "UPDATE reviews SET agenda_circulated_at = coalesce(agenda_circulated_at, ?) WHERE incident_id = ?",
            [at, incident_id],
        )


# --------------------------------------------------------------------------------------------- progress


def save_progress(settings: Settings, incident: str, step: str) -> None:
    """Remember the incident and step the facilitator is on, so reopening resumes there."""
    if step not in STEPS:
        raise InputError(f"step {step!r} is unknown; use one of {', '.join(STEPS)}")
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "INSERT INTO review_progress (incident_id, current_step, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (incident_id) DO UPDATE SET current_step = EXCLUDED.current_step, "
            "updated_at = EXCLUDED.updated_at",
            [incident_id, step, dt.datetime.now(UTC)],
        )


def last_progress(settings: Settings) -> tuple[str, str] | None:
    """(incident_id, step) of the review worked on last whose postmortem is not published, if any."""
    with db.connect(settings) as con:
        row = con.execute(
            "SELECT p.incident_id, p.current_step FROM review_progress AS p "
            "JOIN incidents AS i ON i.issue_id = p.incident_id "
            "LEFT JOIN reviews AS r ON r.incident_id = p.incident_id "
            "WHERE r.published_at IS NULL AND NOT i.deleted ORDER BY p.updated_at DESC LIMIT 1"
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


# ---------------------------------------------------------------------------------------------- meeting


def _check_segment(segment: str) -> None:
    if segment not in SEGMENT_BY_NAME:
        raise InputError(f"segment {segment!r} is unknown; use one of {', '.join(SEGMENT_BY_NAME)}")


def start_segment(settings: Settings, incident: str, segment: str, at: dt.datetime | None = None) -> None:
    """Start (or restart) a segment's clock; end whichever other segment is running; stamp ``meeting_at``."""
    _check_segment(segment)
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "UPDATE meeting_segments SET ended_at = ? WHERE incident_id = ? AND ended_at IS NULL AND segment <> ?",
                [at, incident_id, segment],
            )
            con.execute(
                "INSERT INTO meeting_segments (incident_id, segment, started_at) VALUES (?, ?, ?) "
                "ON CONFLICT (incident_id, segment) DO UPDATE SET started_at = EXCLUDED.started_at, ended_at = NULL",
                [incident_id, segment, at],
            )
            _touch_review(con, incident_id, at)
            con.execute(
                "UPDATE reviews SET meeting_at = coalesce(meeting_at, ?) WHERE incident_id = ?", [at, incident_id]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def end_segment(settings: Settings, incident: str, segment: str, at: dt.datetime | None = None) -> None:
    _check_segment(segment)
    at = at or now(settings)
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "UPDATE meeting_segments SET ended_at = ? WHERE incident_id = ? AND segment = ? AND ended_at IS NULL",
            [at, incident_id, segment],
        )


def segment_times(settings: Settings, incident: str) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
    """{segment: (started_at, ended_at or None while it runs)} for the segments started so far."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        rows = con.execute(
            "SELECT segment, started_at, ended_at FROM meeting_segments WHERE incident_id = ?", [incident_id]
        ).fetchall()
    return {segment: (as_utc(started), as_utc(ended)) for segment, started, ended in rows}


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
    last = at if running else max(ended for _, ended in times.values())
    return max(dt.timedelta(0), last - first)


# ------------------------------------------------------------------------------------------------ notes


def add_note(
    settings: Settings,
    incident: str,
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
    text = (text or "").strip()
    title = SEGMENT_BY_NAME[segment].title
    if not text:
        raise InputError(f"{title} note: the text is empty; type the note, then add it")
    tag, flag = tag or None, flag or None
    if segment == "went_wrong" and tag not in NOTE_TAGS:
        raise InputError(
            f"{title} note: tag is missing; choose {', '.join(NOTE_TAGS.values())} for what went wrong"
        )
    if segment != "went_wrong" and tag:
        raise InputError(f"{title} note: tags are for what went wrong only; clear the tag")
    if flag and (segment != "risk_review" or flag not in NOTE_FLAGS):
        raise InputError(f"{title} note: flag {flag!r} is not allowed; flag risk review notes as compliance or security")
    at = at or now(settings)
    note_id = uuid.uuid4().hex
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        con.execute(
            "INSERT INTO review_notes (note_id, incident_id, segment, category, tag, flag, text, author, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [note_id, incident_id, segment, SEGMENT_BY_NAME[segment].category, tag, flag, text, author, at, at],
        )
    return note_id


def delete_note(settings: Settings, note_id: str) -> None:
    with db.connect(settings) as con:
        con.execute("DELETE FROM review_notes WHERE note_id = ?", [note_id])


def notes(settings: Settings, incident: str) -> pd.DataFrame:
    """The incident's notes in meeting order, then by time."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0]
        frame = con.execute(
            "SELECT note_id, segment, category, tag, flag, text, author, created_at FROM review_notes "
            "WHERE incident_id = ? ORDER BY created_at, note_id",
            [incident_id],
        ).df()
    order = {s.name: n for n, s in enumerate(SEGMENTS)}
    return frame.sort_values("segment", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


# -------------------------------------------------------------------------------------------- wrap-up


@dataclass(frozen=True)
class QualityIssue:
    area: str  # milestones, actions, notes, preparation
    message: str

    def __str__(self) -> str:
        return f"{self.area}: {self.message}"


_MILESTONE_COLUMNS = {"started": "started_at", "detected": "detected_at", "mitigated": "mitigated_at",
                      "resolved": "resolved_at"}  # fmt: skip


def _missing_milestones(settings: Settings, facts: Mapping[str, Any]) -> list[str]:
    try:
        from pirlib.timeline import milestone_report
    except ImportError:  # the timeline module is optional here: fall back to the incident's own fields
        return [name for name, column in _MILESTONE_COLUMNS.items() if facts.get(column) is None]
    table = milestone_report(settings, facts["issue_id"], read_only=False).table
    return [str(m) for m, at in zip(table["milestone"], table["occurred_at"]) if pd.isna(at)]


def quality_check(settings: Settings, incident: str, at: dt.datetime | None = None) -> list[QualityIssue]:
    """What the review still lacks: milestones, action owners and metrics, notes per segment, stages."""
    facts = incident_facts(settings, incident)
    incident_id = facts["issue_id"]
    found = [QualityIssue("milestones", f"{m} is missing; set it in the Timeline step")
             for m in _missing_milestones(settings, facts)]  # fmt: skip
    with db.connect(settings) as con:
        actions = con.execute(
            "SELECT 'draft' AS kind, coalesce(summary, '(no summary)') AS summary, owner, success_metric, "
            "verification_method FROM action_drafts WHERE incident_id = $id AND state <> 'pushed' "
            "UNION ALL SELECT 'Jira ' || key, coalesce(summary, key), owner, success_metric, verification_method "
            "FROM actions WHERE incident_id = $id AND NOT deleted",
            {"id": incident_id},
        ).df()
        segments = {r[0] for r in con.execute(
            "SELECT DISTINCT segment FROM review_notes WHERE incident_id = ?", [incident_id]).fetchall()}  # fmt: skip
    if actions.empty:
        found.append(QualityIssue("actions", "no actions drafted; draft at least one in the Actions step"))
    for row in actions.to_dict("records"):
        gaps = [what for what, column in (("owner", "owner"), ("success metric", "success_metric"),
                                          ("verification method", "verification_method"))
                if not str(row[column] or "").strip() or is_missing(row[column])]  # fmt: skip
        if gaps:
            found.append(QualityIssue("actions", f"{row['kind']} '{row['summary']}' has no {' and no '.join(gaps)}"))
    for segment in SEGMENTS:
        if segment.name not in segments:
            found.append(QualityIssue("notes", f"no notes for '{segment.title}'; add them in the Meeting step"))
    clocks = stage_clocks(facts["resolved_at"], facts, settings, at or now(settings)) if facts.get("resolved_at") else []
    for clock in clocks:
        if clock.stage != "published" and clock.state != "done":
            found.append(QualityIssue("preparation", f"{clock.label.lower()}: not done ({clock.describe()})"))
    return found


def quality_report(settings: Settings, incident: str | None = None) -> list[tuple[str, list[QualityIssue]]]:
    """(key, gaps) for one incident, or for every review not yet published (newest closure first)."""
    if incident is not None:
        with db.connect(settings, read_only=True) as con:
            incident_id, key = resolve_incident(con, incident)
        return [(key, quality_check(settings, incident_id))]
    return [(c.key, quality_check(settings, c.issue_id)) for c in candidates(settings)]

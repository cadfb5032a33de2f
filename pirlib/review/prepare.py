"""Runbook §1, preparation: the facilitator, the artifacts checklist, the invite list and the agenda.

Each write stamps its stage in ``reviews`` (see ``clock.STAGES``) through the session it is given.

Decisions where the runbook is silent:

- ``facilitator_assigned_at`` keeps the first assignment: handing over to another facilitator later does
  not make the stage late. ``artifacts_collected_at`` is the time the last of the four kinds was
  collected, and is cleared again when one is unticked.
- The invite list is stored as soon as it is proposed; removing someone sets ``invited = false`` (the row
  stays, so the proposal does not bring them back). A runbook role (Engineering leadership, QA, Compliance,
  Product) is proposed as a placeholder row named after the role until someone with that role is added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib import durations
from pirlib.db import Connection, one, transaction
from pirlib.errors import InputError
from pirlib.files import write_atomic
from pirlib.review.meeting import GROUND_RULES, SEGMENTS
from pirlib.review.session import ReviewSession, incident_facts, touch_review
from pirlib.values import as_utc, is_missing, same_person, utc_minute

__all__ = [
    "ARTIFACT_KINDS",
    "RUNBOOK_ROLES",
    "add_attendee",
    "agenda",
    "artifact_checklist",
    "assign_facilitator",
    "draft_agenda",
    "export_agenda",
    "invite_list",
    "mark_agenda_circulated",
    "mark_invites_sent",
    "propose_attendees",
    "reset_agenda",
    "save_agenda",
    "set_artifact",
    "set_invited",
]

ARTIFACT_KINDS = {
    "ticket_timeline_chat": "Incident ticket with timeline and chat transcript",
    "monitoring_snapshots": "Monitoring snapshots (New Relic, Grafana, CloudWatch) at peak and resolution",
    "code_flag_config_changes": "Code diffs, feature flag changes, config updates",
    "customer_communications": "Customer communications (status page posts, emails)",
}

RUNBOOK_ROLES = ("Engineering leadership", "QA", "Compliance", "Product")


# ----------------------------------------------------------------------------------------- facilitator


def assign_facilitator(session: ReviewSession, name: str, at: dt.datetime | None = None) -> None:
    """Record the facilitator (never the incident commander) and, the first time, when they were assigned."""
    name = " ".join((name or "").split())
    if not name:
        raise InputError("facilitator: the name is empty; type the name of the person who will facilitate")
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    key, commander = one(  # the meeting's incident commander when it names one, else Jira's
        con,
        "SELECT i.key, coalesce(r.incident_commander, i.commander) FROM incidents AS i "
        "LEFT JOIN reviews AS r ON r.incident_id = i.issue_id WHERE i.issue_id = ?",
        [incident_id],
    )
    if same_person(name, commander):
        raise InputError(
            f"facilitator: {commander} is the incident commander of {key}; the runbook asks for someone "
            "who did not command the incident, so pick another person"
        )
    touch_review(session, at)
    con.execute(
        "UPDATE reviews SET facilitator = ?, facilitator_assigned_at = coalesce(facilitator_assigned_at, ?) "
        "WHERE incident_id = ?",
        [name, at, incident_id],
    )


# ------------------------------------------------------------------------------------------- artifacts


def _artifact_id(incident_id: str, kind: str) -> str:
    return f"{incident_id}:{kind}"


def artifact_checklist(session: ReviewSession) -> list[dict[str, Any]]:
    """The four kinds of the runbook's checklist, each with label, location, collected_at, collected_by.

    The ticket's location defaults to the incident's Jira link until the facilitator sets another.
    """
    con, incident_id = session.con, session.incident_id
    stored = con.execute(
        "SELECT kind, location, collected_at, collected_by FROM artifacts WHERE incident_id = ?", [incident_id]
    ).df()
    (url,) = one(con, "SELECT url FROM incidents WHERE issue_id = ?", [incident_id])
    by_kind = {row["kind"]: row for row in stored.to_dict("records")}
    items = []
    for kind, label in ARTIFACT_KINDS.items():
        row = by_kind.get(kind, {})
        if kind in by_kind:
            location = None if is_missing(row["location"]) else row["location"]
        else:
            location = url if kind == "ticket_timeline_chat" else None
        items.append(
            {
                "kind": kind,
                "label": label,
                "location": location,
                "collected_at": as_utc(row.get("collected_at")),
                "collected_by": None if is_missing(row.get("collected_by")) else row.get("collected_by"),
            }
        )
    return items


_UNSET: Any = object()


def set_artifact(
    session: ReviewSession,
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
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    artifact_id = _artifact_id(incident_id, kind)
    with transaction(con):
        exists = con.execute("SELECT 1 FROM artifacts WHERE artifact_id = ?", [artifact_id]).fetchone()
        if not exists:
            (url,) = one(con, "SELECT url FROM incidents WHERE issue_id = ?", [incident_id])
            con.execute(
                "INSERT INTO artifacts (artifact_id, incident_id, kind, label, location) VALUES (?, ?, ?, ?, ?)",
                [artifact_id, incident_id, kind, ARTIFACT_KINDS[kind], url if kind == "ticket_timeline_chat" else None],
            )
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
        touch_review(session, at)
        con.execute(
            "UPDATE reviews SET artifacts_collected_at = (SELECT CASE WHEN count(collected_at) = ? "
            "THEN max(collected_at) END FROM artifacts WHERE incident_id = ? AND kind IN (SELECT unnest(?))) "
            "WHERE incident_id = ?",
            [len(ARTIFACT_KINDS), incident_id, list(ARTIFACT_KINDS), incident_id],
        )


# ------------------------------------------------------------------------------------------- attendees


def propose_attendees(con: Connection, incident_id: str) -> pd.DataFrame:
    """People in the incident (commander, assignee, reporter, Jira actors, chat participants), one row each.

    Columns: name, role, origin. The first origin found wins for a person named twice.
    """
    return con.execute(
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
        ),
        people AS (  -- each person once, as first found (DISTINCT ON: both stores; PostgreSQL has no arg_min)
            SELECT DISTINCT ON (trim(name)) trim(name) AS name, role, origin, rank
            FROM found WHERE coalesce(trim(name), '') <> ''
            ORDER BY trim(name), rank, origin
        )
        SELECT name, role, origin FROM people ORDER BY rank, name
        """,
        {"id": incident_id},
    ).df()


def _ensure_attendees(con: Connection, incident_id: str) -> None:
    people = propose_attendees(con, incident_id)
    covered = {
        r[0] for r in con.execute("SELECT DISTINCT role FROM attendees WHERE incident_id = ?", [incident_id]).fetchall()
    }
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


def invite_list(session: ReviewSession) -> pd.DataFrame:
    """The invite list (proposals stored on first read): name, role, origin, invited, attended (None: not
    recorded); people first, roles last."""
    con, incident_id = session.con, session.incident_id
    _ensure_attendees(con, incident_id)
    return con.execute(
        "SELECT name, role, origin, invited, attended FROM attendees WHERE incident_id = ? "
        "ORDER BY origin = 'runbook role', CASE role WHEN 'commander' THEN 0 ELSE 1 END, name",
        [incident_id],
    ).df()


def add_attendee(session: ReviewSession, name: str, role: str | None = None) -> None:
    """Add a person (or re-invite one); a person with a runbook role replaces that role's placeholder."""
    name = " ".join((name or "").split())
    if not name:
        raise InputError("invitee name: empty; type the person's name before adding")
    role = (role or "").strip() or "participant"
    con, incident_id = session.con, session.incident_id
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


def set_invited(session: ReviewSession, name: str, invited: bool) -> None:
    con, incident_id = session.con, session.incident_id
    con.execute(
        "UPDATE attendees SET invited = ? WHERE incident_id = ? AND name = ?", [bool(invited), incident_id, name]
    )


def mark_invites_sent(session: ReviewSession, at: dt.datetime | None = None) -> None:
    """Stamp ``invites_sent_at`` (the first time); at least one person must be invited."""
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    _ensure_attendees(con, incident_id)
    (invited,) = one(
        con,
        "SELECT count(*) FROM attendees WHERE incident_id = ? AND invited AND origin <> 'runbook role'",
        [incident_id],
    )
    if not invited:
        raise InputError("invite list: nobody is invited yet; tick or add at least one person, then send")
    touch_review(session, at)
    con.execute(
        "UPDATE reviews SET invites_sent_at = coalesce(invites_sent_at, ?) WHERE incident_id = ?", [at, incident_id]
    )


# ----------------------------------------------------------------------------------------------- agenda


def _when_recorded(value: Any) -> str:
    return utc_minute(value, missing="not recorded")


def draft_agenda(facts: Mapping[str, Any]) -> str:
    """The runbook's six segments as a Markdown agenda with the incident's facts filled in (pure)."""
    started, resolved = as_utc(facts.get("started_at")), as_utc(facts.get("resolved_at"))
    duration = durations.span(resolved - started) if started and resolved else "not known"
    yes_no = {True: "yes", False: "no", None: "not recorded"}
    lines = [
        f"# Post-incident review: {facts.get('key')} {facts.get('summary') or ''}".rstrip(),
        "",
        f"- Severity: {facts.get('severity') or 'not set'}; service: {facts.get('service') or 'not set'}",
        f"- Incident commander: {facts.get('commander') or 'not recorded'}; "
        f"facilitator: {facts.get('facilitator') or 'to be assigned'}",
        f"- Started {_when_recorded(facts.get('started_at'))}; detected {_when_recorded(facts.get('detected_at'))}; "
        f"mitigated {_when_recorded(facts.get('mitigated_at'))}; resolved {_when_recorded(facts.get('resolved_at'))} "
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


def agenda(session: ReviewSession) -> str:
    """The agenda as the facilitator edited it, else the draft from the incident's facts."""
    facts = incident_facts(session)
    row = session.con.execute(
        "SELECT agenda_markdown FROM review_progress WHERE incident_id = ?", [facts["issue_id"]]
    ).fetchone()
    return row[0] if row and row[0] else draft_agenda(facts)


def save_agenda(session: ReviewSession, text: str | None) -> None:
    """Keep the facilitator's edit of the agenda (empty text goes back to the draft)."""
    con, incident_id = session.con, session.incident_id
    con.execute(
        "INSERT INTO review_progress (incident_id, agenda_markdown, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (incident_id) DO UPDATE SET agenda_markdown = EXCLUDED.agenda_markdown, "
        "updated_at = EXCLUDED.updated_at",
        [incident_id, (text or "").strip() or None, session.now()],
    )


def reset_agenda(session: ReviewSession) -> str:
    save_agenda(session, None)
    return agenda(session)


def export_agenda(session: ReviewSession, out_dir: Path | str | None = None) -> Path:
    """Write the agenda to ``<out_dir>/<KEY>-agenda.md`` (default: the published folder); return the path."""
    facts = incident_facts(session)
    folder = Path(out_dir or session.settings.published_dir)
    return write_atomic(folder / f"{facts['key']}-agenda.md", agenda(session))


def mark_agenda_circulated(session: ReviewSession, at: dt.datetime | None = None) -> None:
    at = at or session.now()
    con, incident_id = session.con, session.incident_id
    touch_review(session, at)
    con.execute(
        "UPDATE reviews SET agenda_circulated_at = coalesce(agenda_circulated_at, ?) WHERE incident_id = ?",
        [at, incident_id],
    )

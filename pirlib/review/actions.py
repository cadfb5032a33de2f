"""SMART action drafts (runbook §3): validation that explains itself, and drafts kept in ``action_drafts``.

A draft is saved as it is typed, valid or not, so nothing lives only in a form; ``validate`` says what
still keeps it from being a SMART action. Drafts of one incident take its ``ReviewSession``; a draft named
by its id takes the connection. Pushing drafts to Jira is ``pirlib.jira_sync.push``'s work: it
changes ``state`` from ``draft``; a draft that is ``pushing`` or ``pushed`` is no longer edited here.

Decisions where the runbook is silent:

- The due date must be after today (``Settings.current_date()``): an action due today is already late
  by the time it reaches Jira.
- A vague verb ("investigate", "look into", "explore", "consider", "check", ...) is flagged when it leads
  the summary (or a clause after "and") and neither the summary nor the success metric names a number.
  "Add a health check" is not vague: "check" there is a noun, not the action.
- The action type is required (the dashboards count actions by type); the priority is optional.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from pirlib.errors import InputError
from pirlib.review.session import ReviewSession
from pirlib.values import BLANK_TEXT, clean_text

__all__ = [
    "ACCOUNTABILITY_FIELDS", "ACTION_TYPES", "EDITABLE_FIELDS", "PRIORITIES", "OpenActions", "Problem", "create_draft",
    "delete_draft", "get_draft", "list_drafts", "open_actions", "update_draft", "validate", "vague_verb",
]  # fmt: skip

ACTION_TYPES = ("prevent", "detect", "mitigate", "process")
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
EDITABLE_FIELDS = ("summary", "description", "owner", "team", "priority", "due_date", "action_type",
                   "success_metric", "verification_method")  # fmt: skip
_EDITABLE_STATES = ("draft", "failed")
# What the review-quality check asks of every open action, draft or Jira issue: (label, column).
ACCOUNTABILITY_FIELDS = (("owner", "owner"), ("success metric", "success_metric"),
                         ("verification method", "verification_method"))  # fmt: skip

VAGUE_VERBS = ("investigate", "look into", "look at", "explore", "consider", "check", "think about",
               "research", "evaluate")  # fmt: skip
_LEAD = r"(?:^|\band\s+|[;:,.]\s*)(?:we\s+(?:should|will|need\s+to|must)\s+|(?:team\s+)?to\s+)?"
_VAGUE = re.compile(_LEAD + r"(" + "|".join(v.replace(" ", r"\s+") for v in VAGUE_VERBS) + r")\b", re.I)
_MEASURABLE = re.compile(r"\d|\bzero\b|\bnone\b", re.I)


@dataclass(frozen=True)
class Problem:
    """What keeps a draft from being SMART: the field and a message naming the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def vague_verb(summary: str | None) -> str | None:
    """The vague verb that leads the summary or one of its clauses, if any (lower case)."""
    match = _VAGUE.search(summary or "")
    return " ".join(match.group(1).lower().split()) if match else None


def _as_date(value: Any) -> dt.date | None:
    if value is None or clean_text(value) == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"due date: {value!r} is not a date; use YYYY-MM-DD") from None


def validate(draft: Mapping[str, Any], today: dt.date) -> list[Problem]:
    """Every reason the draft is not a SMART action yet (empty when it is), each naming the field and fix."""
    problems: list[Problem] = []
    summary = clean_text(draft.get("summary"))
    metric = clean_text(draft.get("success_metric"))
    if not summary:
        problems.append(Problem("summary", "empty; say what will be done, e.g. 'Add an alert on checkout 5xx rate'"))
    if not clean_text(draft.get("owner")):
        problems.append(Problem("owner", "required; name the one person accountable for the action"))
    try:
        due = _as_date(draft.get("due_date"))
    except InputError as exc:
        problems.append(Problem("due date", str(exc).removeprefix("due date: ")))
    else:
        if due is None:
            problems.append(Problem("due date", "required; pick a date after today"))
        elif due <= today:
            problems.append(Problem(
                "due date", f"{due.isoformat()} is not in the future (today is {today.isoformat()}); pick a later date"
            ))  # fmt: skip
    if not metric:
        problems.append(Problem(
            "success metric", "required; state the number that shows it worked, e.g. 'p99 latency < 300 ms for 7 days'"
        ))  # fmt: skip
    if not clean_text(draft.get("verification_method")):
        problems.append(Problem(
            "verification method", "required; say how the metric will be checked, e.g. 'game day on 2025-10-01'"
        ))  # fmt: skip
    action_type = clean_text(draft.get("action_type"))
    if action_type not in ACTION_TYPES:
        shown = f"{action_type!r} is not a type" if action_type else "required"
        problems.append(Problem("type", f"{shown}; choose one of {', '.join(ACTION_TYPES)}"))
    priority = clean_text(draft.get("priority"))
    if priority and priority not in PRIORITIES:
        problems.append(Problem("priority", f"{priority!r} is not a Jira priority; choose one of {', '.join(PRIORITIES)}"))
    verb = vague_verb(summary)
    if verb and not _MEASURABLE.search(summary) and not _MEASURABLE.search(metric):
        problems.append(Problem(
            "summary", f"'{verb}' is vague and no measurable outcome is given; say what will change and put the "
            "target number in the summary or the success metric"
        ))  # fmt: skip
    return problems


# ---------------------------------------------------------------------------------------------- drafts


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InputError(f"draft field {unknown[0]!r} is unknown; use one of {', '.join(EDITABLE_FIELDS)}")
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        cleaned[name] = _as_date(value) if name == "due_date" else (clean_text(value) or None)
    return cleaned


def create_draft(session: ReviewSession, **fields: Any) -> str:
    """Store a new draft for the session's incident; return its id."""
    cleaned = _clean(fields)
    draft_id = uuid.uuid4().hex
    at = dt.datetime.now(dt.timezone.utc)
    columns = ["draft_id", "incident_id", "state", "created_at", "updated_at", *cleaned]
    values = [draft_id, session.incident_id, "draft", at, at, *cleaned.values()]
    session.con.execute(
        f"INSERT INTO action_drafts ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", values
    )
    return draft_id


def update_draft(con: duckdb.DuckDBPyConnection, draft_id: str, **fields: Any) -> None:
    """Change fields of a draft that has not been pushed."""
    cleaned = _clean(fields)
    if not cleaned:
        return
    row = con.execute("SELECT state, pushed_key FROM action_drafts WHERE draft_id = ?", [draft_id]).fetchone()
    if row is None:
        raise InputError(f"draft {draft_id} no longer exists; start a new draft")
    if row[0] not in _EDITABLE_STATES:
        raise InputError(f"draft is {row[0]} as {row[1] or 'a Jira issue'}; edit the action in Jira instead")
    assignments = ", ".join(f"{name} = ?" for name in cleaned)
    con.execute(
        f"UPDATE action_drafts SET {assignments}, updated_at = ? WHERE draft_id = ?",
        [*cleaned.values(), dt.datetime.now(dt.timezone.utc), draft_id],
    )


def delete_draft(con: duckdb.DuckDBPyConnection, draft_id: str) -> None:
    row = con.execute("SELECT state, pushed_key FROM action_drafts WHERE draft_id = ?", [draft_id]).fetchone()
    if row and row[0] not in _EDITABLE_STATES:
        raise InputError(f"draft is {row[0]} as {row[1] or 'a Jira issue'}; it cannot be deleted here")
    con.execute("DELETE FROM action_drafts WHERE draft_id = ?", [draft_id])


def get_draft(con: duckdb.DuckDBPyConnection, draft_id: str) -> dict[str, Any] | None:
    frame = con.execute("SELECT * FROM action_drafts WHERE draft_id = ?", [draft_id]).df()
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    row["due_date"] = _as_date(row["due_date"]) if not pd.isna(row["due_date"]) else None
    return {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v) for k, v in row.items()}


def list_drafts(session: ReviewSession) -> pd.DataFrame:
    """The incident's drafts, oldest first, with ``problems`` (a list of Problem) as of today."""
    frame = session.con.execute(
        "SELECT * FROM action_drafts WHERE incident_id = ? ORDER BY created_at, draft_id", [session.incident_id]
    ).df()
    today = session.settings.current_date()
    frame["problems"] = [validate(row, today) for row in frame.to_dict("records")]
    return frame


# ------------------------------------------------------------------------------- the review-quality check


@dataclass(frozen=True)
class OpenActions:
    """A review's actions (drafts not pushed, and Jira actions): how many, and those lacking a field.

    ``lacking`` holds (what, summary, missing labels): what is ``draft`` or ``Jira KEY``.
    """

    count: int
    lacking: list[tuple[str, str, list[str]]]


def open_actions(con: duckdb.DuckDBPyConnection, incident_ids: list[str]) -> dict[str, OpenActions]:
    """Per incident, its open actions and those without an owner, success metric or verification method.

    Two queries for all incidents (how many, and which lack something: drafts first, then Jira actions, each
    in the order they were stored), so only the actions that lack something leave the database. Blank is
    what ``clean_text`` calls blank.
    """
    blanks = [f"regexp_full_match(coalesce({column}, ''), $blank)" for _, column in ACCOUNTABILITY_FIELDS]
    open_sql = (
        "WITH open AS ("
        "SELECT incident_id, 0 AS part, rowid AS stored, 'draft' AS what, coalesce(summary, '(no summary)') AS summary, "
        "owner, success_metric, verification_method FROM action_drafts "
        "WHERE state <> 'pushed' AND incident_id IN (SELECT unnest($ids)) "
        "UNION ALL SELECT incident_id, 1, rowid, 'Jira ' || key, coalesce(summary, key), owner, success_metric, "
        "verification_method FROM actions WHERE NOT deleted AND incident_id IN (SELECT unnest($ids))) "
    )
    counts = con.execute(open_sql + "SELECT incident_id, count(*) FROM open GROUP BY incident_id",
                         {"ids": list(incident_ids)}).fetchall()  # fmt: skip
    lacking = con.execute(
        open_sql + f"SELECT incident_id, what, summary, {', '.join(blanks)} FROM open "
        f"WHERE {' OR '.join(blanks)} ORDER BY incident_id, part, stored",
        {"ids": list(incident_ids), "blank": BLANK_TEXT},
    ).fetchall()
    found = {incident_id: OpenActions(0, []) for incident_id in incident_ids}
    for incident_id, count in counts:
        found[incident_id] = OpenActions(count, [])
    labels = [label for label, _ in ACCOUNTABILITY_FIELDS]
    for incident_id, what, summary, *blank in lacking:
        found[incident_id].lacking.append((what, summary, [label for label, b in zip(labels, blank) if b]))
    return found

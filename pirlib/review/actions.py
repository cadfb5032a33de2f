"""SMART action drafts (runbook §3): validation that explains itself, and drafts kept in ``action_drafts``.

A draft is saved as it is typed, valid or not, so nothing lives only in a form; ``validate`` says what
still keeps it from being a SMART action. Drafts of one incident take its ``ReviewSession``; a draft named
by its id takes the connection. This module is the one owner of ``action_drafts``: every query on it is
here, and drafts leave it as ``Draft`` values (``None`` where a column is empty, never NaN).

A draft's ``state`` moves only along ``TRANSITIONS``: ``draft`` -> ``pushing`` (``start_push``, before
``pir push`` sends its first request about the draft, so a crash leaves a draft the next push looks up
before creating) -> ``pushed`` (``mark_pushed``: the Jira key and id) or ``failed`` (``mark_failed``: Jira's
words, redacted). A failed draft is pushed again by the next push; a push after a crash takes up a draft
left ``pushing``; a problem of the whole incident (no label, no epic) fails its drafts before they are
``pushing``. A ``pushed`` draft is Jira's: nothing moves it, and it is no longer edited or deleted here
(``EDITABLE_STATES``). ``pirlib.jira_sync.push`` does the Jira side and reports each outcome through
those three functions.

Two facilitators may edit one draft at once (team mode): an edit or a delete names the ``version`` the form
showed and lands only if the draft still has it (``pirlib.review.versions``), else it becomes a message saying
who changed the draft and when. The version counts edits of what people type; a push's state moves leave it
alone (they change no typed field, and the state machine checks them in the same statement).

What SMART means here (``validate``; push, the guide and the review-quality check all ask it):

- **Measurable**: the success metric states a target: a number with a unit ("300 ms", "1%", "14 days",
  "3 pages") or a threshold with a comparison ("< 300", "at most 2", "under 5", "p99 <= 0.3"). Numbers
  are digits (or "zero"); a date ("2025-10-15") or a time of day ("14:00") is not a target. Units:
  time (ms, s, sec, min, h, hours, d, days, weeks, months), percent (%, percent), data size (KB ... TB),
  rates (rps, qps, req/s, "per minute"), and countable things (errors, requests, pages, alerts, incidents,
  failures, retries, restarts, deploys, tickets, customers, users, times, occurrences, nines).
  Comparisons: < > <= >= = ≤ ≥ and "under", "below", "over", "above", "within", "at most", "at least",
  "less/fewer/more/greater than", "no more/less/fewer than", "up to", "exceeds".
- **Verifiable**: the verification method says *how* (at least one word of three or more letters that is
  not about time: "game day", "load test", "dashboard review") and *when* (an ISO date, a weekday or month
  name, "daily"/"weekly"/"monthly"/"quarterly"/"every ..."/"each ...", "within/after/in/for N days", or
  "next ..."); a date in it must not be in the past.
- **Assigned**: the owner is a known person, compared case-insensitively: someone on the review's invite or
  attendance list (not a runbook-role placeholder), or a Jira user the data has seen (an incident's
  commander, assignee or reporter, an action's owner or owner e-mail, the author of a Jira comment or change).
- **Time-bound**: the due date lies after today and at most ``action_horizon_days`` (default 90) ahead;
  an action due today is already late by the time it reaches Jira.
- A vague verb ("investigate", "look into", "explore", "consider", "check", ...) is flagged when it leads
  the summary (or a clause after "and") and neither the summary nor the success metric names a number.
  "Add a health check" is not vague: "check" there is a noun, not the action.
- The action type is required (the dashboards count actions by type); the priority and the team are
  optional (an action without a team is counted under "no team" on the boards).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pirlib import db
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.redact import redact
from pirlib.review import versions
from pirlib.review.session import ReviewSession
from pirlib.values import BLANK_CHARS, BLANK_TEXT, as_date

__all__ = [
    "ACCOUNTABILITY_FIELDS",
    "ACTION_TYPES",
    "EDITABLE_FIELDS",
    "EDITABLE_STATES",
    "GOOD_METRIC",
    "PRIORITIES",
    "PUSHABLE_STATES",
    "STATES",
    "TRANSITIONS",
    "CheckedDraft",
    "Draft",
    "DraftState",
    "OpenActions",
    "Problem",
    "SmartRules",
    "can_move",
    "create_draft",
    "delete_draft",
    "draft_from_note",
    "drafts_by_note",
    "drafts_to_push",
    "get_draft",
    "good_verification",
    "is_measurable",
    "known_teams",
    "list_drafts",
    "mark_failed",
    "mark_pushed",
    "open_actions",
    "open_drafts",
    "start_push",
    "update_draft",
    "validate",
    "vague_verb",
    "verification_gaps",
]

ACTION_TYPES = ("prevent", "detect", "mitigate", "process")
SUMMARY_LIMIT = 255  # Jira's summary limit
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
EDITABLE_FIELDS = (
    "summary",
    "description",
    "owner",
    "team",
    "priority",
    "due_date",
    "action_type",
    "success_metric",
    "verification_method",
)

DraftState = Literal["draft", "pushing", "pushed", "failed"]
STATES: tuple[DraftState, ...] = ("draft", "pushing", "pushed", "failed")
# The state machine of a draft (the module's docstring tells the story): the states each state may move to.
TRANSITIONS: dict[DraftState, frozenset[DraftState]] = {
    "draft": frozenset({"pushing", "failed"}),
    "pushing": frozenset({"pushing", "pushed", "failed"}),
    "failed": frozenset({"pushing", "failed"}),
    "pushed": frozenset(),
}
# What the facilitator may still change or delete: a push neither holds nor has finished these.
EDITABLE_STATES: frozenset[DraftState] = frozenset({"draft", "failed"})
# What `pir push` takes up: every state that may move to pushing.
PUSHABLE_STATES: tuple[DraftState, ...] = tuple(s for s in STATES if "pushing" in TRANSITIONS[s])
# What the review-quality check asks of every open action, draft or Jira issue: (label, column).
ACCOUNTABILITY_FIELDS = (
    ("owner", "owner"),
    ("success metric", "success_metric"),
    ("verification method", "verification_method"),
)

VAGUE_VERBS = (
    "investigate",
    "look into",
    "look at",
    "explore",
    "consider",
    "check",
    "think about",
    "research",
    "evaluate",
)
_LEAD = r"(?:^|\band\s+|[;:,.]\s*)(?:we\s+(?:should|will|need\s+to|must)\s+|(?:team\s+)?to\s+)?"
_VAGUE = re.compile(_LEAD + r"(" + "|".join(v.replace(" ", r"\s+") for v in VAGUE_VERBS) + r")\b", re.I)
_MEASURABLE = re.compile(r"\d|\bzero\b|\bnone\b", re.I)

# The examples the messages show: a draft written like this passes (tests/test_actions.py checks it).
GOOD_METRIC = "p99 checkout latency < 300 ms for 14 days"


def good_verification(today: dt.date) -> str:
    """The example verification the messages show, dated two weeks ahead (a past date would not pass)."""
    return f"game day on {(today + dt.timedelta(days=14)).isoformat()}, checked by the SRE on call"


_ISO_DATE = r"\b\d{4}-\d{2}-\d{2}\b"
_NOT_A_TARGET = re.compile(_ISO_DATE + r"|\b\d{1,2}:\d{2}(?::\d{2})?\b")  # dates and times of day
_NUMBER = r"(?:\d+(?:[.,]\d+)?|\bzero\b)"
_UNITS = (
    r"%|percent|pct|ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?"
    r"|months?|quarters?|years?|[kmgt]i?b|bytes?|rps|qps|tps|req/s|requests?|errors?|pages?|alerts?|incidents?"
    r"|failures?|retries|retry|restarts?|deploys?|deployments?|rollbacks?|tickets?|customers?|users?|times|"
    r"occurrences?|events?|nines|x|per\s+(?:second|minute|hour|day|week|month)"
)
_WITH_UNIT = re.compile(_NUMBER + r"\s*(?:" + _UNITS + r")(?![a-z])", re.I)
_COMPARISONS = (
    r"<=?|>=?|≤|≥|=|under|below|over|above|within|exceeds?|up\s+to|at\s+(?:most|least)|"
    r"(?:no\s+)?(?:less|fewer|more|greater|lower|higher)\s+than"
)
_THRESHOLD = re.compile(r"(?:" + _COMPARISONS + r")\s*" + _NUMBER + r"(?![a-z])", re.I)

_WHEN = re.compile(
    _ISO_DATE + r"|\b(?:daily|nightly|hourly|weekly|fortnightly|monthly|quarterly|yearly|annually|every|each|next)\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|june|july"
    r"|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b"  # not "may"
    r"|\b(?:within|after|in|for|before|by)\s+(?:the\s+)?(?:\d+|one|two|three|four|six|eight)\s*"
    r"(?:h|hours?|d|days?|weeks?|months?|sprints?|releases?|deploys?)\b",
    re.I,
)
_TIME_WORDS = re.compile(
    r"\b(?:on|by|at|in|the|a|an|and|of|for|until|till|before|after|within|every|each|next|then|date|time|day|days"
    r"|week|weeks|month|months|daily|weekly|monthly|quarterly|yearly|nightly|hourly|today|tomorrow|soon|later"
    r"|asap|tbd|when|once)\b",
    re.I,
)
_HOW_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class Problem:
    """What keeps a draft from being SMART: the field and a message naming the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class SmartRules:
    """What ``validate`` checks a draft against besides the draft: today and the due-date horizon."""

    today: dt.date
    horizon_days: int

    @property
    def latest_due(self) -> dt.date:
        return self.today + dt.timedelta(days=self.horizon_days)


@dataclass(frozen=True)
class Draft:
    """One row of ``action_drafts``, typed: text is stripped, and ``None`` when empty; ``due_date`` a date.

    The fields are the table's columns in its order (``docs/schema.md``); drafts are read and written only here."""

    draft_id: str
    incident_id: str
    summary: str | None = None
    description: str | None = None
    owner: str | None = None
    owner_id: str | None = None  # the Jira user push resolved the owner to
    team: str | None = None
    priority: str | None = None
    due_date: dt.date | None = None
    action_type: str | None = None
    success_metric: str | None = None
    verification_method: str | None = None
    state: DraftState = "draft"
    pushed_key: str | None = None
    pushed_issue_id: str | None = None
    error: str | None = None  # Jira's words (redacted) of the last failed push
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    note_id: str | None = None  # the meeting note it was made from
    version: int = 1  # bumped by every edit (011): a save names the version it was made from
    updated_by: str | None = None  # who created it or made the last edit


_COLUMNS = tuple(f.name for f in dataclasses.fields(Draft))


@dataclass(frozen=True)
class CheckedDraft:
    """A draft and what keeps it from being SMART as of the day it was read (``validate``; empty when SMART)."""

    draft: Draft
    problems: list[Problem]

    @property
    def smart(self) -> bool:
        return not self.problems


def vague_verb(summary: str | None) -> str | None:
    """The vague verb that leads the summary or one of its clauses, if any (lower case)."""
    match = _VAGUE.search(summary or "")
    return " ".join(match.group(1).lower().split()) if match else None


def _text(value: str | None) -> str:
    return (value or "").strip()


def is_measurable(metric: str | None) -> bool:
    """True when the metric states a target: a number with a unit, or a comparison with a threshold."""
    text = _NOT_A_TARGET.sub(" ", _text(metric))
    return bool(_WITH_UNIT.search(text) or _THRESHOLD.search(text))


def verification_gaps(method: str | None) -> list[str]:
    """What the verification method leaves out: 'how', 'when' (empty when it says both)."""
    text = _text(method)
    gaps = []
    if not _HOW_WORD.search(_TIME_WORDS.sub(" ", _WHEN.sub(" ", text))):
        gaps.append("how")
    if not _WHEN.search(text):
        gaps.append("when")
    return gaps


def _due_problem(due: dt.date | None, rules: SmartRules) -> Problem | None:
    latest = rules.latest_due.isoformat()
    if due is None:
        return Problem(
            "due date", f"required; pick a date after today and by {latest} (within {rules.horizon_days} days)"
        )
    if due <= rules.today:
        return Problem(
            "due date",
            f"{due.isoformat()} is not in the future (today is {rules.today.isoformat()}); "
            f"pick a later date, by {latest}",
        )
    if due > rules.latest_due:
        return Problem(
            "due date",
            f"{due.isoformat()} is {(due - rules.today).days} days away, beyond the "
            f"{rules.horizon_days}-day horizon; pick a date by {latest} or split the action "
            "into steps that fit",
        )
    return None


def _verification_problem(method: str, today: dt.date) -> Problem | None:
    example = f"e.g. '{good_verification(today)}'"
    if not method:
        return Problem("verification method", f"required; say how and when the metric is checked, {example}")
    gaps = verification_gaps(method)
    if gaps:
        missing = " and ".join({"how": "how it is checked", "when": "when"}[g] for g in gaps)
        return Problem("verification method", f"does not say {missing}; {example}")
    past = sorted(d for d in re.findall(_ISO_DATE, method) if d < today.isoformat())
    if past:
        return Problem(
            "verification method",
            f"{past[0]} is in the past (today is {today.isoformat()}); pick the date the check will happen, {example}",
        )
    return None


def validate(draft: Draft, rules: SmartRules, *, owner_known: bool) -> list[Problem]:
    """Every reason the draft is not a SMART action yet (empty when it is), each naming the field and fix.

    ``owner_known``: whether the owner is a known person (``_owner_known_sql`` decides, in the query that
    reads the draft). Blank text counts as missing, also in a row this module did not write."""
    problems: list[Problem] = []
    summary = _text(draft.summary)
    metric = _text(draft.success_metric)
    owner = _text(draft.owner)
    if not summary:
        problems.append(Problem("summary", "empty; say what will be done, e.g. 'Add an alert on checkout 5xx rate'"))
    if not owner:
        problems.append(
            Problem("owner", "required; name the one person accountable for the action, e.g. an invitee of the review")
        )
    elif not owner_known:
        problems.append(
            Problem(
                "owner",
                f"{owner!r} is not a known person; pick someone on the invite list or "
                "a Jira user as Jira shows the name, or add them to the invite list",
            )
        )
    due = _due_problem(draft.due_date, rules)
    if due:
        problems.append(due)
    if not metric:
        problems.append(
            Problem("success metric", f"required; state the target that shows it worked, e.g. '{GOOD_METRIC}'")
        )
    elif not is_measurable(metric):
        problems.append(
            Problem(
                "success metric",
                f"{metric!r} states no measurable target; give a number with a unit or a threshold "
                f"with a comparison, e.g. '{GOOD_METRIC}'",
            )
        )
    verification = _verification_problem(_text(draft.verification_method), rules.today)
    if verification:
        problems.append(verification)
    action_type = _text(draft.action_type)
    if action_type not in ACTION_TYPES:
        shown = f"{action_type!r} is not a type" if action_type else "required"
        problems.append(Problem("type", f"{shown}; choose one of {', '.join(ACTION_TYPES)}"))
    priority = _text(draft.priority)
    if priority and priority not in PRIORITIES:
        problems.append(
            Problem("priority", f"{priority!r} is not a Jira priority; choose one of {', '.join(PRIORITIES)}")
        )
    verb = vague_verb(summary)
    if verb and not _MEASURABLE.search(summary) and not _MEASURABLE.search(metric):
        problems.append(
            Problem(
                "summary",
                f"'{verb}' is vague and no measurable outcome is given; say what will change and put the "
                "target number in the summary or the success metric",
            )
        )
    return problems


# Who counts as a known person: the review's people (not a runbook-role placeholder) and every Jira user the
# data has seen. An SQL expression over a row (alias) with incident_id and owner, so that every reader of drafts
# gets it in the query it already runs.
_JIRA_PEOPLE = (
    "SELECT commander AS name FROM incidents UNION SELECT assignee FROM incidents UNION SELECT reporter "
    "FROM incidents UNION SELECT owner FROM actions UNION SELECT owner_email FROM actions UNION SELECT "
    "actor FROM incident_events WHERE source IN ('jira_comment', 'jira_changelog')"
)


def _owner_known_sql(alias: str, dialect: db.Dialect) -> str:
    """SQL: true when ``alias.owner`` is a known person for ``alias.incident_id``.

    Case and runs of spaces in the owner do not matter. The names it is compared with are only trimmed and
    lower-cased (the invite list stores names with single spaces; Jira keeps display names tidy), and both
    tests are uncorrelated IN lists: folding every name's spaces, or an EXISTS per draft on the attendees, cost
    2.5 times as much (40 ms instead of 16 ms at 1k incidents, on the loaded test machine). DuckDB compares
    (incident, name) as a struct; PostgreSQL as a row."""
    who = f"lower(regexp_replace(trim({alias}.owner), '\\s+', ' ', 'g'))"
    if dialect == "duckdb":
        invited = (
            f"{{'incident': {alias}.incident_id, 'name': {who}}} IN (SELECT {{'incident': incident_id, 'name': "
            "lower(trim(name))} FROM attendees WHERE origin IS DISTINCT FROM 'runbook role')"
        )
    else:
        invited = (
            f"({alias}.incident_id, {who}) IN (SELECT incident_id, lower(trim(name)) FROM attendees "
            "WHERE origin IS DISTINCT FROM 'runbook role')"
        )
    return (
        f"coalesce({who} IN (SELECT lower(trim(name)) FROM ({_JIRA_PEOPLE}) AS people WHERE name IS NOT NULL) "
        f"OR {invited}, false)"
    )


# ---------------------------------------------------------------------------------------------- drafts


def _as_date(value: Any) -> dt.date | None:
    """A due date as a form gives it: a date, ISO text, or nothing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return as_date(value)
    except ValueError:
        raise InputError(f"due date: {value!r} is not a date; use YYYY-MM-DD") from None


def _form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Draft fields as a form gives them, typed as ``Draft`` holds them (stripped text, None for blank)."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise InputError(f"draft field {unknown[0]!r} is unknown; use one of {', '.join(EDITABLE_FIELDS)}")
    return {
        name: _as_date(value) if name == "due_date" else (None if value is None else str(value).strip() or None)
        for name, value in fields.items()
    }


def _insert(session: ReviewSession, fields: Mapping[str, Any], by: str | None, note_id: str | None = None) -> str:
    at = dt.datetime.now(dt.UTC)
    draft = Draft(
        uuid.uuid4().hex,
        session.incident_id,
        **fields,
        created_at=at,
        updated_at=at,
        note_id=note_id,
        updated_by=versions.editor(by),
    )
    session.con.execute(
        f"INSERT INTO action_drafts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})",
        [getattr(draft, column) for column in _COLUMNS],
    )
    return draft.draft_id


def create_draft(session: ReviewSession, *, by: str | None = None, **fields: Any) -> str:
    """Store a new draft for the session's incident (version 1, by ``versions.editor(by)``); return its id."""
    return _insert(session, _form(fields), by)


def draft_from_note(session: ReviewSession, note_id: str, *, by: str | None = None) -> str:
    """The draft made from a meeting note (its text as summary and description): made now, or the one made
    before, so a second click never makes a second draft."""
    with db.transaction(session.con):
        made = session.con.execute(
            "SELECT draft_id FROM action_drafts WHERE incident_id = ? AND note_id = ? ORDER BY created_at LIMIT 1",
            [session.incident_id, note_id],
        ).fetchone()
        if made:
            return str(made[0])
        note = session.con.execute(
            "SELECT text FROM review_notes WHERE incident_id = ? AND note_id = ?", [session.incident_id, note_id]
        ).fetchone()
        if note is None:
            raise InputError("note: it no longer exists (deleted in another window?); reload the Meeting step")
        text = " ".join(str(note[0]).split())
        summary = text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"
        return _insert(session, _form({"summary": summary, "description": text}), by, note_id)


def known_teams(con: Connection) -> list[str]:
    """The teams the boards already group actions by (Jira's and the drafts'), for the draft's team field."""
    rows = con.execute(
        "SELECT DISTINCT trim(team) AS team FROM (SELECT team FROM actions WHERE NOT deleted UNION ALL "
        "SELECT team FROM action_drafts) AS teams WHERE coalesce(trim(team), '') <> '' ORDER BY team"
    ).fetchall()
    return [str(row[0]) for row in rows]


def drafts_by_note(session: ReviewSession) -> dict[str, str]:
    """{note id: draft id} of the incident's drafts made from meeting notes."""
    rows = session.con.execute(
        "SELECT note_id, min(draft_id) FROM action_drafts WHERE incident_id = ? AND note_id IS NOT NULL "
        "GROUP BY note_id",
        [session.incident_id],
    ).fetchall()
    return {str(note_id): str(draft_id) for note_id, draft_id in rows}


_DRAFTS = versions.Versioned("action_drafts", "draft_id", "draft", "reload the draft (its Edit button)")
_EDITABLE = " AND state IN (SELECT unnest(?))"


def _editable(con: Connection, draft_id: str, refused: str) -> bool:
    """Whether the draft exists; raise ``draft is <state> ...; <refused>`` when it is not editable here."""
    row = con.execute("SELECT state, pushed_key FROM action_drafts WHERE draft_id = ?", [draft_id]).fetchone()
    if row is not None and row[0] not in EDITABLE_STATES:
        raise InputError(f"draft is {row[0]} as {row[1] or 'a Jira issue'}; {refused}")
    return row is not None


def update_draft(con: Connection, draft_id: str, *, version: int, by: str | None = None, **fields: Any) -> int:
    """Change fields of a draft that has not been pushed, if it is still at ``version`` (what the form showed);
    return its new version. A newer version raises ``versions.VersionConflict`` and writes nothing."""
    typed = _form(fields)
    if not typed:
        return version
    saved = versions.update(
        con,
        _DRAFTS,
        draft_id,
        version,
        typed,
        versions.editor(by),
        dt.datetime.now(dt.UTC),
        only_if=_EDITABLE,
        only_if_params=[list(EDITABLE_STATES)],
    )
    if saved is None:  # gone, or held by a push (which _editable says) at the moment of the save
        if _editable(con, draft_id, "edit the action in Jira instead"):
            raise InputError(
                f"draft {draft_id} was being pushed when it was saved, and nothing was saved; "
                "reload the draft (its Edit button) and make the change again"
            )
        raise InputError(f"draft {draft_id} no longer exists; start a new draft")
    return saved


def delete_draft(con: Connection, draft_id: str, *, version: int) -> None:
    """Delete a draft that no push holds or made, if it is still at ``version``; one that is gone already is no
    error, one changed since raises ``versions.VersionConflict``."""
    at = dt.datetime.now(dt.UTC)
    if not versions.delete(
        con, _DRAFTS, draft_id, version, at, only_if=_EDITABLE, only_if_params=[list(EDITABLE_STATES)]
    ):
        _editable(con, draft_id, "it cannot be deleted here")


_SELECT = f"SELECT {', '.join(f'd.{column}' for column in _COLUMNS)}"


def _drafts(con: Connection, where: str, params: list[Any]) -> list[Draft]:
    rows = con.execute(
        f"{_SELECT} FROM action_drafts AS d WHERE {where} ORDER BY d.created_at, d.draft_id", params
    ).fetchall()
    return [Draft(*row) for row in rows]


def _checked(
    con: Connection,
    settings: Settings,
    where: str,
    params: list[Any],
    order: str = "d.created_at, d.draft_id",
) -> list[CheckedDraft]:
    """The drafts ``where`` selects, each with its problems under the rules in force today."""
    rows = con.execute(
        f"{_SELECT}, {_owner_known_sql('d', db.dialect(con))} FROM action_drafts AS d WHERE {where} ORDER BY {order}",
        params,
    ).fetchall()
    rules = SmartRules(settings.current_date(), settings.action_horizon_days)
    checked = []
    for *columns, owner_known in rows:
        draft = Draft(*columns)
        checked.append(CheckedDraft(draft, validate(draft, rules, owner_known=bool(owner_known))))
    return checked


def get_draft(con: Connection, draft_id: str) -> Draft | None:
    found = _drafts(con, "d.draft_id = ?", [draft_id])
    return found[0] if found else None


def list_drafts(session: ReviewSession) -> list[CheckedDraft]:
    """The incident's drafts, oldest first, each with its problems as of today."""
    return _checked(session.con, session.settings, "d.incident_id = ?", [session.incident_id])


def open_drafts(con: Connection, incident_id: str) -> list[Draft]:
    """The incident's drafts that are not in Jira yet (every state but pushed), oldest first."""
    return _drafts(con, "d.incident_id = ? AND d.state <> 'pushed'", [incident_id])


def drafts_to_push(con: Connection, settings: Settings, incident_id: str | None) -> list[CheckedDraft]:
    """What ``pir push`` takes up (of one incident, or of all when None): every draft in a state that may move
    to pushing, with its problems as of today (a draft with problems is not pushed), in the order of the
    incidents' keys, oldest first within an incident."""
    where = "d.state IN (SELECT unnest(?)) AND d.incident_id IN (SELECT issue_id FROM incidents)"
    params: list[Any] = [list(PUSHABLE_STATES)]
    if incident_id is not None:
        where, params = where + " AND d.incident_id = ?", [*params, incident_id]
    order = "(SELECT key FROM incidents WHERE issue_id = d.incident_id), d.created_at, d.draft_id"
    return _checked(con, settings, where, params, order)


def can_move(state: DraftState, to: DraftState) -> bool:
    """Whether the state machine lets a draft in ``state`` move to ``to``."""
    return to in TRANSITIONS[state]


def _move(con: Connection, draft_id: str, to: DraftState, **values: Any) -> None:
    """Move the draft to state ``to`` and write ``values`` with it, in one statement that checks the move."""
    sources = [state for state in STATES if can_move(state, to)]
    columns = {"state": to, **values, "updated_at": dt.datetime.now(dt.UTC)}
    moved = con.execute(
        f"UPDATE action_drafts SET {', '.join(f'{c} = ?' for c in columns)} WHERE draft_id = ? "
        "AND state IN (SELECT unnest(?)) RETURNING draft_id",
        [*columns.values(), draft_id, sources],
    ).fetchall()
    if moved:
        return
    row = con.execute("SELECT state FROM action_drafts WHERE draft_id = ?", [draft_id]).fetchone()
    if row is None:
        raise InputError(f"draft {draft_id} no longer exists (deleted in the guide?); reload the Actions step")
    raise InputError(
        f"draft {draft_id} is {row[0]} and cannot become {to} (a draft goes draft -> pushing -> pushed or failed); "
        "reload the Actions step to see its state"
    )


def start_push(con: Connection, draft_id: str) -> None:
    """The push is about to send its first request about the draft (a crash from here leaves it pushing)."""
    _move(con, draft_id, "pushing")


def mark_pushed(con: Connection, draft_id: str, key: str, issue_id: str, owner_id: str | None = None) -> None:
    """The draft is the Jira issue ``key`` (created now, or found by its marker); ``owner_id`` the Jira user
    it was assigned to, when the push resolved one."""
    values: dict[str, Any] = {"pushed_key": key, "pushed_issue_id": issue_id, "error": None}
    if owner_id:
        values["owner_id"] = owner_id
    _move(con, draft_id, "pushed", **values)


def mark_failed(con: Connection, settings: Settings, draft_id: str, error: str) -> str:
    """The push of the draft failed with ``error`` (Jira's words): stored with every secret redacted, as returned.
    The draft keeps everything the facilitator typed and is pushed again by the next push."""
    redacted = redact(error, settings)
    _move(con, draft_id, "failed", error=redacted)
    return redacted


# ------------------------------------------------------------------------------- the review-quality check


@dataclass(frozen=True)
class OpenActions:
    """A review's actions (drafts not pushed, and Jira actions): how many, and what is wrong with them.

    ``not_smart`` holds (summary, problems) of each draft ``validate`` does not pass; ``lacking`` holds
    (``Jira KEY``, summary, missing labels) of each Jira action without an owner, success metric or
    verification method (Jira's actions are not drafts: they are only asked for those fields).
    """

    count: int
    not_smart: list[tuple[str, list[Problem]]]
    lacking: list[tuple[str, str, list[str]]]


def open_actions(con: Connection, settings: Settings, incident_ids: list[str]) -> dict[str, OpenActions]:
    """Per incident, its open actions, the drafts that are not SMART and the Jira actions lacking a field.

    Two queries for all incidents: the drafts (checked by ``validate``, the rule push and the guide use),
    and per incident the count of Jira actions with only those that lack something, in the order they were
    stored. Blank is what ``clean_text`` calls blank.
    """
    ids = list(incident_ids)
    drafts = _checked(con, settings, "d.state <> 'pushed' AND d.incident_id IN (SELECT unnest(?))", [ids])
    found = {incident_id: OpenActions(0, [], []) for incident_id in ids}
    labels = [label for label, _ in ACCOUNTABILITY_FIELDS]
    for incident_id, count, lacking in _jira_actions_lacking(con, ids):
        found[incident_id] = OpenActions(
            count,
            [],
            [
                (f"Jira {row['key']}", row["summary"], [label for label, b in zip(labels, row["blank"]) if b])
                for row in lacking or []
            ],
        )
    for checked in drafts:
        known = found[checked.draft.incident_id]
        found[checked.draft.incident_id] = OpenActions(known.count + 1, known.not_smart, known.lacking)
        if checked.problems:
            known.not_smart.append((_text(checked.draft.summary) or "(no summary)", checked.problems))
    return found


def _jira_actions_lacking(con: Connection, ids: list[str]) -> list[tuple[str, int, list[dict[str, Any]] | None]]:
    """Per incident with Jira actions: (incident id, how many, [{summary, key, blank: [per field]}] of those that
    lack a field, or None when none lacks one). In the order they were stored: DuckDB's rowid; PostgreSQL's
    physical order (ctid), which an update of the row can move."""
    fields = [column for _, column in ACCOUNTABILITY_FIELDS]
    if db.dialect(con) == "duckdb":
        blanks = [f"regexp_full_match(coalesce({column}, ''), $blank)" for column in fields]
        entry = f"{{'summary': coalesce(summary, key), 'key': key, 'blank': [{', '.join(blanks)}]}}"
        return con.execute(
            f"SELECT incident_id, count(*), list({entry} ORDER BY rowid) FILTER (WHERE {' OR '.join(blanks)}) "
            "FROM actions WHERE NOT deleted AND incident_id IN (SELECT unnest($ids)) GROUP BY incident_id",
            {"ids": ids, "blank": BLANK_TEXT},
        ).fetchall()
    blanks = [f"btrim(coalesce({column}, ''), $blank) = ''" for column in fields]
    entry = f"json_build_object('summary', coalesce(summary, key), 'key', key, 'blank', json_build_array({', '.join(blanks)}))"
    rows = con.execute(
        f"SELECT incident_id, count(*), json_agg({entry} ORDER BY ctid) FILTER (WHERE {' OR '.join(blanks)}) "
        "FROM actions WHERE NOT deleted AND incident_id IN (SELECT unnest($ids)) GROUP BY incident_id",
        {"ids": ids, "blank": BLANK_CHARS},
    ).fetchall()
    return [
        (incident_id, count, None if lacking is None else json.loads(lacking)) for incident_id, count, lacking in rows
    ]

"""The runbook's clock (§1, §4): "now", the stages with their deadlines from closure, and the candidates.

Decisions where the runbook is silent:

- "Now" is the real clock, moved to ``Settings.today`` when that is set (``PIR_TODAY``): the date is the
  pretended one, the time of day and the passing seconds are real, so meeting clocks still run.
- A stage is *due soon* when less than a quarter of its window is left (3 h of 12, 6 h of 24, 12 h of 48).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from pirlib import durations
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.values import as_utc

__all__ = [
    "DUE_SOON_SHARE",
    "REVIEW_COLUMNS",
    "STAGES",
    "Candidate",
    "StageClock",
    "candidates",
    "now",
    "open_reviews",
    "review_clocks",
    "stage_clocks",
    "store_deadlines",
]

UTC = dt.UTC

# Runbook §1 and §4: each stage, the `reviews` column that records it, and the Settings attribute of its hours.
STAGES = {
    "facilitator_assigned": ("Facilitator assigned", "facilitator_assigned_at", "facilitator_hours"),
    "artifacts_collected": ("Artifacts collected", "artifacts_collected_at", "artifacts_hours"),
    "invites_sent": ("Invite list sent", "invites_sent_at", "invites_hours"),
    "agenda_circulated": ("Agenda circulated", "agenda_circulated_at", "agenda_hours"),
    "published": ("Postmortem published", "published_at", "publish_hours"),
}
DUE_SOON_SHARE = 0.25
REVIEW_COLUMNS = [column for _, column, _ in STAGES.values()]


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
        """A short reading for people, e.g. 'late by 3 h 10 min' or 'due in 5 h 2 min'."""
        if self.state == "done":
            return f"done {self.done_at:%Y-%m-%d %H:%M} UTC" + (" (late)" if self.done_late else "")
        return durations.deadline(self.remaining)


def store_deadlines(con: Connection, settings: Settings) -> None:
    """Write the configured stage deadlines and review severities into ``review_stage_deadlines`` and
    ``review_severities``, which the views read (inside the caller's transaction; unchanged rows stay)."""
    hours = [float(getattr(settings, hours_attr)) for _, _, hours_attr in STAGES.values()]
    con.execute(
        "UPDATE review_stage_deadlines AS d SET hours = c.hours FROM (SELECT unnest(?) AS stage,"
        " unnest(?) AS hours) AS c WHERE d.stage = c.stage AND d.hours <> c.hours",
        [list(STAGES), hours],
    )
    severities = list(settings.review_severities)
    con.execute("DELETE FROM review_severities WHERE severity <> ALL (?)", [severities])
    con.execute("INSERT INTO review_severities SELECT unnest(?) ON CONFLICT DO NOTHING", [severities])


def stage_clocks(
    closed_at: Any, review: Mapping[str, Any] | None, settings: Settings, at: dt.datetime
) -> list[StageClock]:
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


def _reviews(published: bool) -> str:
    """The FROM ... ORDER BY of the closed incidents of the review severities: not published yet (the open
    reviews, the candidates), newest closure first; or published, most recently published first."""
    state, order = ("IS NOT NULL", "r.published_at DESC") if published else ("IS NULL", "i.resolved_at DESC")
    return (
        " FROM incidents AS i LEFT JOIN reviews AS r ON r.incident_id = i.issue_id "
        f"WHERE NOT i.deleted AND i.resolved_at IS NOT NULL AND r.published_at {state} "
        f"AND i.severity IN (SELECT unnest(?)) ORDER BY {order}, i.key"
    )


_OPEN_REVIEWS = _reviews(published=False)


def review_clocks(
    con: Connection, settings: Settings, incident_ids: list[str], at: dt.datetime
) -> dict[str, list[StageClock]]:
    """Per incident, its stage clocks at ``at``; none for an incident not closed yet. One query for all."""
    # Plain tuples of naive UTC times: a frame's to_dict, or a TIMESTAMPTZ turned into a zoned datetime, costs
    # several times what the clocks themselves do (as_utc reads a naive time as UTC).
    rows = con.execute(
        "SELECT i.issue_id, timezone('UTC', i.resolved_at), "
        + ", ".join(f"timezone('UTC', r.{c})" for c in REVIEW_COLUMNS)
        + " FROM incidents AS i LEFT JOIN reviews AS r ON r.incident_id = i.issue_id "
        "WHERE i.issue_id IN (SELECT unnest(?))",
        [list(incident_ids)],
    ).fetchall()
    found: dict[str, list[StageClock]] = dict.fromkeys(incident_ids, [])
    for issue_id, resolved_at, *done in rows:
        if resolved_at is not None:
            found[issue_id] = stage_clocks(resolved_at, dict(zip(REVIEW_COLUMNS, done, strict=True)), settings, at)
    return found


def open_reviews(con: Connection, settings: Settings) -> list[tuple[str, str]]:
    """(issue id, key) of the candidates, in their order, without their clocks."""
    rows = con.execute("SELECT i.issue_id, i.key" + _OPEN_REVIEWS, [list(settings.review_severities)]).fetchall()
    return [(str(issue_id), str(key)) for issue_id, key in rows]


def candidates(
    con: Connection, settings: Settings, at: dt.datetime | None = None, *, published: bool = False
) -> list[Candidate]:
    """Closed, not yet published incidents of the review severities, newest closure first, with clocks; with
    ``published``, the published ones instead, most recently published first (to reopen one)."""
    at = at or now(settings)
    rows = con.execute(
        "SELECT i.issue_id, i.key, i.summary, i.severity, i.service, i.commander, i.resolved_at, r.facilitator, "
        + ", ".join(f"r.{c}" for c in REVIEW_COLUMNS)
        + _reviews(published),
        [list(settings.review_severities)],
    ).df()
    found = []
    for row in cast("list[dict[str, Any]]", rows.to_dict("records")):
        clocks = stage_clocks(row["resolved_at"], row, settings, at)
        closed_at = as_utc(row["resolved_at"])
        assert closed_at is not None  # _reviews keeps closed incidents only
        found.append(
            Candidate(
                str(row["issue_id"]),
                str(row["key"]),
                str(row["summary"] or ""),
                str(row["severity"]),
                row["service"],
                row["commander"],
                closed_at,
                row["facilitator"],
                clocks,
            )
        )
    return found

"""Milestones of an incident (started, detected, acknowledged, mitigated, resolved) and its durations.

Milestones are inferred from the visible, curated events (``pirlib.timeline.events``) by the rules in
``infer_milestones``; each reports the rule that chose it. An override in ``milestone_overrides`` wins and is
kept; the inferred value is still reported beside it. Milestones out of order are flagged, never reordered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from pirlib import db
from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.incidents import resolve_incident
from pirlib.timeline.events import timeline_of, utc_instant

__all__ = [
    "DURATION_SPANS",
    "MILESTONES",
    "MilestoneReport",
    "compute_milestones",
    "duration_problem",
    "durations",
    "infer_milestones",
    "milestone_report",
    "milestones_of",
    "missing_milestones",
    "out_of_order",
    "set_milestone_override",
]

MILESTONES = ("started", "detected", "acknowledged", "mitigated", "resolved")
_HUMAN_CHAT_KINDS = ("message", "thread_reply")


# -------------------------------------------------------------------------------------------- overrides


def set_milestone_override(
    con: Connection,
    incident: str,
    milestone: str,
    occurred_at: dt.datetime | str | None,
    *,
    note: str | None = None,
    by: str | None = None,
) -> None:
    """Fix a milestone's time by hand (it wins over inference and is kept); ``None`` removes the override."""
    if milestone not in MILESTONES:
        raise InputError(f"unknown milestone {milestone!r}; use one of {', '.join(MILESTONES)}")
    incident_id, _ = resolve_incident(con, incident)
    if occurred_at is None:
        con.execute("DELETE FROM milestone_overrides WHERE incident_id = ? AND milestone = ?", [incident_id, milestone])
        return
    at = utc_instant(occurred_at, f"time of {milestone}")
    frame = pd.DataFrame(
        [
            {
                "incident_id": incident_id,
                "milestone": milestone,
                "occurred_at": pd.Timestamp(at),
                "note": note,
                "set_by": by,
                "set_at": pd.Timestamp.now(tz="UTC"),
            }
        ]
    )
    db.upsert_frame(con, "milestone_overrides", frame, ["incident_id", "milestone"])


# ------------------------------------------------------------------------------------------- milestones


def _first(frame: pd.DataFrame) -> pd.Series | None:
    return None if frame.empty else frame.sort_values("occurred_at", kind="stable").iloc[0]


def _describe(event: pd.Series) -> str:
    text = next((str(v) for v in (event.get("text"), event.get("to_value")) if v is not None and not pd.isna(v)), "")
    return text if len(text) <= 60 else text[:57] + "..."


def _all_clear(alerts: pd.DataFrame) -> pd.Series | None:
    """The first alert event after which no alert that has fired is still firing."""
    firing: set[str] = set()
    for _, event in alerts.sort_values("occurred_at", kind="stable").iterrows():
        name = str(event["field"])
        if event["kind"] == "alert_firing":
            firing.add(name)
        elif event["kind"] == "alert_resolved" and name in firing:
            firing.discard(name)
            if not firing:
                return event
    return None


def infer_milestones(events: pd.DataFrame, incident: Mapping[str, Any]) -> pd.DataFrame:
    """Milestones inferred from the visible events of one incident (pure); one row per milestone.

    Columns: ``milestone``, ``occurred_at`` (NaT when nothing says), ``rule`` (which rule chose it, with the
    event), ``event_id``. The rules, in order:

    - started: the Jira "incident start" field; else the first alert firing; else the earliest event.
    - detected: the earliest of the first alert firing, the first human chat message, the ticket's creation.
    - acknowledged: the earliest of the first Jira status change into an acknowledging status (the sync marks
      e.g. Investigating), the first alert acknowledged, the first human chat message after detection.
    - mitigated: the first Jira status change into Mitigated; else the moment every alert that fired was
      resolved again.
    - resolved: Jira's resolution date; else the last status change into Resolved.
    """
    visible = events.loc[~events["hidden"].fillna(False).astype(bool)] if "hidden" in events else events
    visible = visible.loc[visible["occurred_at"].notna()]
    alerts = visible.loc[visible["source"] == "alert"]
    firing = alerts.loc[alerts["kind"] == "alert_firing"]
    human = visible.loc[(visible["source"] == "chat") & visible["kind"].isin(_HUMAN_CHAT_KINDS)]
    marked = visible.loc[visible["source"] == "jira_changelog"]

    def ts(value: Any) -> pd.Timestamp | None:
        if value is None or pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

    chosen: dict[str, tuple[pd.Timestamp | None, str | None, str | None]] = {}

    def from_event(event: pd.Series, rule: str, *, quote: bool = True) -> tuple[pd.Timestamp, str, str | None]:
        at = ts(event["occurred_at"])
        assert at is not None  # only events with a time are visible
        return at, f"{rule}: {_describe(event)}" if quote else rule, str(event["event_id"])

    # started
    first_firing = _first(firing)
    if ts(incident.get("started_at")) is not None:
        chosen["started"] = (ts(incident["started_at"]), "Jira field: incident start", None)
    elif first_firing is not None:
        chosen["started"] = from_event(first_firing, "first alert firing")
    elif (earliest := _first(visible)) is not None:
        chosen["started"] = from_event(earliest, "earliest event on the timeline")
    # detected
    candidates: list[tuple[pd.Timestamp, str, str | None]] = []
    if first_firing is not None:
        candidates.append(from_event(first_firing, "first alert firing"))
    first_human = _first(human)
    if first_human is not None:
        candidates.append(from_event(first_human, "first human message in chat"))
    if (created := ts(incident.get("created_at"))) is not None:
        candidates.append((created, "Jira ticket created", None))
    if candidates:
        chosen["detected"] = min(candidates, key=lambda c: c[0])
    # acknowledged
    candidates = []
    ack_status = _first(marked.loc[marked["milestone"] == "acknowledged"])
    if ack_status is not None:
        candidates.append(from_event(ack_status, f"Jira status changed to {ack_status['to_value']}", quote=False))
    ack_alert = _first(alerts.loc[alerts["kind"] == "alert_acknowledged"])
    if ack_alert is not None:
        candidates.append(from_event(ack_alert, "first alert acknowledged"))
    detected_at = chosen.get("detected", (None,))[0]
    if detected_at is not None:
        reply = _first(human.loc[human["occurred_at"] > detected_at])
        if reply is not None:
            candidates.append(from_event(reply, "first human chat message after detection"))
    if candidates:
        chosen["acknowledged"] = min(candidates, key=lambda c: c[0])
    # mitigated
    mitigated = _first(marked.loc[marked["milestone"] == "mitigated"])
    clear = _all_clear(alerts)
    if mitigated is not None:
        chosen["mitigated"] = from_event(mitigated, f"Jira status changed to {mitigated['to_value']}", quote=False)
    elif clear is not None:
        chosen["mitigated"] = from_event(clear, "every alert that fired was resolved again")
    # resolved
    resolutions = marked.loc[marked["milestone"] == "resolved"]
    if ts(incident.get("resolved_at")) is not None:
        chosen["resolved"] = (ts(incident["resolved_at"]), "Jira resolution date", None)
    elif not resolutions.empty:
        last = resolutions.sort_values("occurred_at", kind="stable").iloc[-1]
        chosen["resolved"] = from_event(last, f"last Jira status change to {last['to_value']}", quote=False)

    rows = [
        {
            "milestone": m,
            "occurred_at": chosen.get(m, (None,))[0],
            "rule": chosen.get(m, (None, None))[1],
            "event_id": chosen.get(m, (None, None, None))[2],
        }
        for m in MILESTONES
    ]
    # object columns: a missing rule stays None (pandas would otherwise infer str and turn it into NaN)
    frame = pd.DataFrame(
        {
            "milestone": pd.Series([r["milestone"] for r in rows], dtype=object),
            "occurred_at": pd.to_datetime(pd.Series([r["occurred_at"] for r in rows], dtype=object), utc=True),
            "rule": pd.Series([r["rule"] for r in rows], dtype=object),
            "event_id": pd.Series([r["event_id"] for r in rows], dtype=object),
        }
    )
    return frame


def out_of_order(milestones: pd.DataFrame) -> pd.Series:
    """Per milestone, a message when it falls before an earlier milestone of the sequence (None if in order)."""
    times = dict(zip(milestones["milestone"], milestones["occurred_at"], strict=True))
    flags = []
    for n, name in enumerate(MILESTONES):
        at = times.get(name)
        problems: list[str] = []
        if at is not None and not pd.isna(at):
            for earlier in MILESTONES[:n]:
                before = times.get(earlier)
                if before is not None and not pd.isna(before) and at < before:
                    problems.append(
                        f"{name} ({at:%Y-%m-%d %H:%M} UTC) is before {earlier} ({before:%Y-%m-%d %H:%M} UTC)"
                    )
        flags.append("; ".join(problems) or None)
    return pd.Series(flags, index=milestones.index, dtype="object")


def durations(milestones: pd.DataFrame) -> dict[str, float | None]:
    """TTD, TTA, TTM, TTR in minutes, as ``v_incident_durations`` counts them.

    TTD = detected - started, TTA = acknowledged - detected, TTM = mitigated - started,
    TTR = resolved - started. None when a milestone is missing; negative when the two are out of order.
    """
    times = dict(zip(milestones["milestone"], milestones["occurred_at"], strict=True))

    def minutes(end: str, start: str) -> float | None:
        a, b = times.get(end), times.get(start)
        if a is None or b is None or pd.isna(a) or pd.isna(b):
            return None
        return (a - b).total_seconds() / 60.0

    return {
        "ttd_minutes": minutes("detected", "started"),
        "tta_minutes": minutes("acknowledged", "detected"),
        "ttm_minutes": minutes("mitigated", "started"),
        "ttr_minutes": minutes("resolved", "started"),
    }


# Each duration of ``durations``: the later milestone and the earlier one it is measured from.
DURATION_SPANS = {
    "ttd_minutes": ("detected", "started"),
    "tta_minutes": ("acknowledged", "detected"),
    "ttm_minutes": ("mitigated", "started"),
    "ttr_minutes": ("resolved", "started"),
}


def duration_problem(key: str, minutes: float | None) -> str | None:
    """Why a duration must not be shown as a number ('mitigated is before started' when negative), else None."""
    if minutes is None or minutes >= 0:
        return None
    end, start = DURATION_SPANS[key]
    return f"{end} is before {start}"


@dataclass
class MilestoneReport:
    """Milestones of one incident: the table (with rules and flags), durations, and the flags' messages."""

    incident_id: str
    key: str
    table: pd.DataFrame
    durations: dict[str, float | None]
    flags: list[str] = field(default_factory=list)


def compute_milestones(
    events: pd.DataFrame, incident: Mapping[str, Any], overrides: pd.DataFrame | None = None
) -> MilestoneReport:
    """Inferred milestones with overrides applied, out-of-order flags and durations (pure).

    Table columns: milestone, occurred_at, rule, event_id, overridden, note, inferred_at, inferred_rule,
    out_of_order.
    """
    inferred = infer_milestones(events, incident)
    table = inferred.rename(columns={"occurred_at": "inferred_at", "rule": "inferred_rule"})
    table["occurred_at"], table["rule"] = table["inferred_at"], table["inferred_rule"]
    table["overridden"], table["note"] = False, None
    if overrides is not None and not overrides.empty:
        by_name = overrides.set_index("milestone")
        for n, name in table["milestone"].items():
            if name in by_name.index:
                override = by_name.loc[name]
                table.loc[n, "occurred_at"] = pd.Timestamp(override["occurred_at"]).tz_convert("UTC")
                table.loc[n, "rule"] = "manual override" + (f": {override['note']}" if override.get("note") else "")
                table.loc[n, "overridden"], table.loc[n, "note"] = True, override.get("note")
    table["out_of_order"] = out_of_order(table)
    table = table[
        [
            "milestone",
            "occurred_at",
            "rule",
            "event_id",
            "overridden",
            "note",
            "inferred_at",
            "inferred_rule",
            "out_of_order",
        ]
    ]
    flags = [f for f in table["out_of_order"] if f]
    return MilestoneReport(
        str(incident.get("issue_id", "")), str(incident.get("key", "")), table, durations(table), flags
    )


# The rules of ``infer_milestones`` (and ``compute_milestones``' overrides) reduced to "is there one?", over
# many incidents in one query, for the review-quality check: inferring every milestone of thousands of
# reviews one by one costs a query and a pandas pass each. A milestone is found when it is overridden, or:
# started: the Jira field, or any visible event; detected: the first alert firing, a human chat message, or
# the ticket's creation; acknowledged: a status marked acknowledged, an alert acknowledged, or a human message
# after detection (detection as inferred); mitigated: a status marked mitigated, or an alert resolved that
# leaves none firing; resolved: Jira's resolution date, or a status marked resolved. Alerts are taken in
# timeline order (time, then event id), as ``_all_clear`` reads them. tests/test_timeline.py holds both to
# the same answers.
_MISSING_MILESTONES_SQL = """
WITH subject AS (
    SELECT i.issue_id AS incident_id, i.created_at, i.started_at, i.resolved_at
    FROM incidents AS i WHERE i.issue_id IN (SELECT unnest($ids))
),
visible AS (
    SELECT t.incident_id, t.event_id, t.occurred_at, t.source, t.kind, t.field, t.milestone,
           t.source = 'chat' AND t.kind IN ('message', 'thread_reply') AS human
    FROM v_timeline AS t
    WHERE t.incident_id IN (SELECT incident_id FROM subject)
      AND NOT coalesce(t.hidden, false) AND t.occurred_at IS NOT NULL
),
alert_steps AS (  -- per alert event: was its alert firing before it, and how many fire after it
    SELECT incident_id, event_id, occurred_at, kind,
           coalesce(lag(kind = 'alert_firing') OVER (PARTITION BY incident_id, field ORDER BY occurred_at, event_id),
                    false) AS was_firing,
           kind = 'alert_firing' AS is_firing
    FROM visible WHERE source = 'alert' AND kind IN ('alert_firing', 'alert_resolved')
),
all_clear AS (
    SELECT DISTINCT incident_id FROM (
        SELECT incident_id, kind, was_firing,
               sum(CAST(is_firing AS INTEGER) - CAST(was_firing AS INTEGER)) OVER (
                   PARTITION BY incident_id ORDER BY occurred_at, event_id ROWS UNBOUNDED PRECEDING) AS firing_after
        FROM alert_steps
    ) AS counted WHERE kind = 'alert_resolved' AND was_firing AND firing_after = 0
),
found AS (
    SELECT incident_id,
           min(occurred_at) FILTER (WHERE source = 'alert' AND kind = 'alert_firing') AS first_firing,
           min(occurred_at) FILTER (WHERE human) AS first_human,
           max(occurred_at) FILTER (WHERE human) AS last_human,
           bool_or(source = 'jira_changelog' AND milestone = 'acknowledged'
                   OR source = 'alert' AND kind = 'alert_acknowledged') AS acknowledged,
           bool_or(source = 'jira_changelog' AND milestone = 'mitigated') AS mitigated,
           bool_or(source = 'jira_changelog' AND milestone = 'resolved') AS resolved
    FROM visible GROUP BY incident_id
),
inferred AS (
    SELECT s.incident_id,
           s.started_at IS NOT NULL OR f.incident_id IS NOT NULL AS started,
           least(f.first_firing, f.first_human, s.created_at) AS detected_at,
           coalesce(f.acknowledged, false) AS acknowledged_by_event,
           f.last_human,
           coalesce(f.mitigated, false) OR c.incident_id IS NOT NULL AS mitigated,
           s.resolved_at IS NOT NULL OR coalesce(f.resolved, false) AS resolved
    FROM subject AS s
    LEFT JOIN found AS f ON f.incident_id = s.incident_id
    LEFT JOIN all_clear AS c ON c.incident_id = s.incident_id
),
missing AS (
    SELECT incident_id, name, rank FROM inferred, LATERAL (VALUES
        (1, 'started', NOT started),
        (2, 'detected', detected_at IS NULL),
        (3, 'acknowledged', NOT acknowledged_by_event AND NOT coalesce(last_human > detected_at, false)),
        (4, 'mitigated', NOT mitigated),
        (5, 'resolved', NOT resolved)
    ) AS m(rank, name, absent)
    WHERE absent
)
SELECT m.incident_id, m.name FROM missing AS m
WHERE NOT EXISTS (SELECT 1 FROM milestone_overrides AS o WHERE o.incident_id = m.incident_id AND o.milestone = m.name)
ORDER BY m.incident_id, m.rank
"""


def missing_milestones(con: Connection, incident_ids: list[str]) -> dict[str, list[str]]:
    """Per incident, the milestones neither inferred nor overridden (in ``MILESTONES`` order); set-based."""
    found: dict[str, list[str]] = {incident_id: [] for incident_id in incident_ids}
    for incident_id, name in con.execute(_MISSING_MILESTONES_SQL, {"ids": list(incident_ids)}).fetchall():
        found[incident_id].append(name)
    return found


# ------------------------------------------------------------------------------------------------ reads


def milestone_report(con: Connection, incident: str) -> MilestoneReport:
    """Milestones, durations and out-of-order flags of the incident named by key or id."""
    return milestones_of(con, resolve_incident(con, incident)[0])


def milestones_of(con: Connection, incident_id: str) -> MilestoneReport:
    """Milestones, durations and out-of-order flags of one incident, read through an open connection."""
    events = timeline_of(con, incident_id)
    row = con.execute(
        "SELECT issue_id, key, created_at, started_at, resolved_at FROM incidents WHERE issue_id = ?", [incident_id]
    ).df()
    overrides = con.execute(
        "SELECT milestone, occurred_at, note FROM milestone_overrides WHERE incident_id = ?", [incident_id]
    ).df()
    return compute_milestones(events, cast("dict[str, Any]", row.iloc[0].to_dict()), overrides)

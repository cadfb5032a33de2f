"""The review-quality check (the guide's Wrap-up step and ``pir check``): what a review still lacks.

Missing milestones (as the timeline computes them, overrides included), actions without an owner, a
success metric or a verification method, segments without notes, and preparation stages not done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from pirlib.config import Settings
from pirlib.review.clock import candidates, stage_clocks
from pirlib.review.meeting import SEGMENTS
from pirlib.review.session import ReviewSession, incident_facts
from pirlib.timeline import milestones_of
from pirlib.values import is_missing

__all__ = ["QualityIssue", "quality_check", "quality_report"]


@dataclass(frozen=True)
class QualityIssue:
    area: str  # milestones, actions, notes, preparation
    message: str

    def __str__(self) -> str:
        return f"{self.area}: {self.message}"


def _missing_milestones(session: ReviewSession) -> list[str]:
    table = milestones_of(session.con, session.incident_id).table
    return [str(m) for m, at in zip(table["milestone"], table["occurred_at"]) if pd.isna(at)]


def quality_check(session: ReviewSession, at: dt.datetime | None = None) -> list[QualityIssue]:
    """What the review still lacks: milestones, action owners and metrics, notes per segment, stages."""
    con, incident_id = session.con, session.incident_id
    facts = incident_facts(session)
    found = [QualityIssue("milestones", f"{m} is missing; set it in the Timeline step")
             for m in _missing_milestones(session)]  # fmt: skip
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
    clocks = stage_clocks(facts["resolved_at"], facts, session.settings, at or session.now()) if facts.get("resolved_at") else []
    for clock in clocks:
        if clock.stage != "published" and clock.state != "done":
            found.append(QualityIssue("preparation", f"{clock.label.lower()}: not done ({clock.describe()})"))
    return found


def quality_report(con: duckdb.DuckDBPyConnection, settings: Settings,
                   incident: str | None = None) -> list[tuple[str, list[QualityIssue]]]:  # fmt: skip
    """(key, gaps) for one incident, or for every review not yet published (newest closure first)."""
    if incident is not None:
        session = ReviewSession.resolve(con, settings, incident)
        return [(session.key, quality_check(session))]
    return [(c.key, quality_check(ReviewSession(con, settings, c.issue_id, c.key))) for c in candidates(con, settings)]

"""The review-quality check (the guide's Wrap-up step and ``pir check``): what a review still lacks.

Missing milestones (as the timeline computes them, overrides included), drafts that are not SMART (the
rule push and the Actions step use), Jira actions without an owner, a success metric or a verification
method, segments without notes, and preparation stages not done.
Each stage module answers its own question for many reviews in one query (``timeline.missing_milestones``,
``actions.open_actions``, ``meeting.segments_without_notes``, ``clock.review_clocks``), so checking every
open review costs a handful of queries, however many there are; one review is the same check on a set of one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.review.actions import open_actions
from pirlib.review.clock import now, open_reviews, review_clocks
from pirlib.review.meeting import SEGMENTS, segments_without_notes
from pirlib.review.session import ReviewSession
from pirlib.timeline.milestones import MILESTONES, missing_milestones

__all__ = ["QualityIssue", "quality_check", "quality_report", "review_gaps"]


@dataclass(frozen=True)
class QualityIssue:
    area: str  # milestones, actions, notes, preparation
    message: str

    def __str__(self) -> str:
        return f"{self.area}: {self.message}"


# The same words for every review, made once: a check of thousands of reviews repeats them tens of thousands of times.
_MISSING_MILESTONE = {m: QualityIssue("milestones", f"{m} is missing; set it in the Timeline step") for m in MILESTONES}
_NO_ACTIONS = QualityIssue("actions", "no actions drafted; draft at least one in the Actions step")
_NO_NOTES = {s.name: QualityIssue("notes", f"no notes for '{s.title}'; add them in the Meeting step") for s in SEGMENTS}


def review_gaps(
    con: Connection, settings: Settings, incident_ids: list[str], at: dt.datetime
) -> dict[str, list[QualityIssue]]:
    """What each of the reviews still lacks: milestones, action owners and metrics, notes, stages (as of ``at``)."""
    milestones = missing_milestones(con, incident_ids)
    actions = open_actions(con, settings, incident_ids)
    segments = segments_without_notes(con, incident_ids)
    clocks = review_clocks(con, settings, incident_ids, at)
    report = {}
    for incident_id in incident_ids:
        found = [_MISSING_MILESTONE[m] for m in milestones[incident_id]]
        if not actions[incident_id].count:
            found.append(_NO_ACTIONS)
        found += [
            QualityIssue("actions", f"draft '{summary}' is not SMART yet: {'; '.join(map(str, problems))}")
            for summary, problems in actions[incident_id].not_smart
        ]
        found += [
            QualityIssue("actions", f"{what} '{summary}' has no {' and no '.join(missing)}")
            for what, summary, missing in actions[incident_id].lacking
        ]
        found += [_NO_NOTES[segment.name] for segment in segments[incident_id]]
        found += [
            QualityIssue("preparation", f"{clock.label.lower()}: not done ({clock.describe()})")
            for clock in clocks[incident_id]
            if clock.stage != "published" and clock.state != "done"
        ]
        report[incident_id] = found
    return report


def quality_check(session: ReviewSession, at: dt.datetime | None = None) -> list[QualityIssue]:
    """What the review still lacks: milestones, action owners and metrics, notes per segment, stages."""
    return review_gaps(session.con, session.settings, [session.incident_id], at or session.now())[session.incident_id]


def quality_report(
    con: Connection, settings: Settings, incident: str | None = None
) -> list[tuple[str, list[QualityIssue]]]:
    """(key, gaps) for one incident, or for every review not yet published (newest closure first)."""
    at = now(settings)
    if incident is not None:
        session = ReviewSession.resolve(con, settings, incident)
        subjects = [(session.incident_id, session.key)]
    else:
        subjects = open_reviews(con, settings)
    gaps = review_gaps(con, settings, [incident_id for incident_id, _ in subjects], at)
    return [(key, gaps[incident_id]) for incident_id, key in subjects]

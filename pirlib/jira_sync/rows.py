"""The rows a sync writes: the columns of ``incidents``, ``actions`` and ``incident_events``, the
changelog's event kinds and milestones, and Jira's timestamps. ``transform`` and ``flatten`` both build
these rows; ``load`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pirlib.errors import InputError

__all__ = ["ACTION_COLUMNS", "EVENT_COLUMNS", "INCIDENT_COLUMNS", "KIND_BY_FIELD", "MILESTONES", "Batch", "parse_time"]

INCIDENT_COLUMNS = [
    "issue_id",
    "key",
    "project_key",
    "summary",
    "description",
    "severity",
    "failure_mode",
    "service",
    "status",
    "status_category",
    "priority",
    "components",
    "labels",
    "commander",
    "assignee",
    "reporter",
    "created_at",
    "updated_at",
    "resolved_at",
    "started_at",
    "detected_at",
    "mitigated_at",
    "epic_key",
    "customer_impact",
    "regulatory",
    "url",
    "raw",
]
ACTION_COLUMNS = [
    "issue_id",
    "key",
    "incident_id",
    "epic_key",
    "summary",
    "owner",
    "owner_id",
    "owner_email",
    "team",
    "status",
    "status_category",
    "priority",
    "due_date",
    "created_at",
    "updated_at",
    "resolved_at",
    "labels",
    "success_metric",
    "verification_method",
    "action_type",
    "url",
]
# hidden and starred are the facilitator's curation and origin belongs to non-Jira sources: a sync never
# writes them.
EVENT_COLUMNS = [
    "event_id",
    "incident_id",
    "occurred_at",
    "source",
    "kind",
    "actor",
    "field",
    "from_value",
    "to_value",
    "text",
    "milestone",
]

# Status names (case-insensitive) whose transitions mark a milestone of the incident's timeline.
MILESTONES = {"investigating": "acknowledged", "mitigated": "mitigated", "resolved": "resolved"}
KIND_BY_FIELD = {
    "status": "status_change",
    "severity": "severity_change",
    "assignee": "assignee_change",
    "priority": "priority_change",
}


@dataclass
class Batch:
    """Rows for one load: each frame has exactly the columns ``load_batch`` writes; times are UTC."""

    incidents: pd.DataFrame
    actions: pd.DataFrame
    events: pd.DataFrame

    @classmethod
    def empty(cls) -> Batch:
        return cls(
            pd.DataFrame(columns=INCIDENT_COLUMNS),
            pd.DataFrame(columns=ACTION_COLUMNS),
            pd.DataFrame(columns=EVENT_COLUMNS),
        )


def parse_time(value: str | None) -> pd.Timestamp | None:
    """A Jira timestamp (``2022-06-09T16:29:31.871-0700``, ``+0000``, ``Z``, ``+02:00``) as a UTC Timestamp."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(
            f"{value!r} is not a Jira timestamp; expected ISO 8601 like 2022-06-09T16:29:31.871-0700"
        ) from None
    if pd.isna(stamp):
        return None
    if stamp.tzinfo is None:
        # Jira always sends an offset; a bare time is a date-only field or a hand-made payload: read as UTC.
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")

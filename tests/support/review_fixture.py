"""A small pir database for the facilitator's review tests, written through the real schema.

It mirrors the runbook's case "Stage-31" (Sev-1, label stage31, resolved 2025-09-06 01:12:40 UTC, only the
facilitator assigned) and adds what the pick list must leave out (Sev-2, published, open, deleted) and a
hostile summary that must be shown as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib import configure, db
from pirlib.config import Secret, Settings
from pirlib.failure_modes import similar
from pirlib.review.session import ReviewSession, open_review

TODAY = dt.date(2025, 9, 6)
STAGE31_ID = "31031"
STAGE31_KEY = "INC-31"
STAGE31_SUMMARY = "Stage-31: payments-api 5xx spike during staged rollout of v2.14.0"
COMMANDER = "Priya Raman"
FACILITATOR = "Alex Chen"
XSS_SUMMARY = "Ledger <img src=x onerror=alert(1)> & <script>alert('pir')</script> stalled"
RESOLVED = pd.Timestamp("2025-09-06 01:12:40.25", tz="UTC")


def _ts(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC") if text else pd.NaT


def incidents_frame() -> pd.DataFrame:
    rows = [  # id, key, severity, summary, started, resolved, deleted
        (STAGE31_ID, STAGE31_KEY, "Sev-1", STAGE31_SUMMARY, "2025-09-05 13:38:12", "2025-09-06 01:12:40.25", False),
        ("40001", "INC-40", "Sev-0", XSS_SUMMARY, "2025-09-05 20:00", "2025-09-06 03:00", False),
        ("40002", "INC-41", "Sev-2", "Search slow", "2025-09-05 10:00", "2025-09-05 12:00", False),
        (
            "40003",
            "INC-42",
            "Sev-1",
            "Already published: payments-api 5xx after a rollout",
            "2025-09-01 10:00",
            "2025-09-01 12:00",
            False,
        ),
        ("40004", "INC-43", "Sev-1", "Still open", "2025-09-05 22:00", None, False),
        ("40005", "INC-44", "Sev-0", "Deleted in Jira", "2025-09-05 09:00", "2025-09-05 11:00", True),
        ("40006", "INC-45", "Sev-1", "Older closed incident", "2025-09-02 09:00", "2025-09-02 11:00", False),
    ]
    frame = pd.DataFrame(rows, columns=["issue_id", "key", "severity", "summary", "started", "resolved", "deleted"])
    started = frame.pop("started").map(_ts)
    resolved = frame.pop("resolved").map(_ts)
    frame = frame.assign(
        project_key="INC",
        status="Closed",
        status_category="done",
        service="payments-api",
        commander=COMMANDER,
        assignee="Sam Okafor",
        reporter="Jordan Nunez",
        created_at=started + pd.Timedelta(minutes=9),
        started_at=started,
        detected_at=started + pd.Timedelta(minutes=9),
        mitigated_at=started + pd.Timedelta(hours=5),
        resolved_at=resolved,
        updated_at=resolved,
        customer_impact=True,
        regulatory=True,
        url="https://jira.example.com/browse/" + frame["key"],
        labels=[["stage31"]] + [[]] * (len(frame) - 1),
    )
    return frame


def events_frame() -> pd.DataFrame:
    rows = [
        ("jira:comment:1", "2025-09-05 13:50", "jira_comment", "comment", "Lee Park", "Rolling back"),
        ("jira:changelog:1:1", "2025-09-05 13:52", "jira_changelog", "status_change", "Sam Okafor", None),
        ("chat:1", "2025-09-05 13:55", "chat", "message", "Mo Diaz", "5xx at 12%"),
        ("chat:2", "2025-09-05 13:56", "chat", "message", COMMANDER, "I have command"),
    ]
    frame = pd.DataFrame(rows, columns=["event_id", "occurred_at", "source", "kind", "actor", "text"])
    return frame.assign(incident_id=STAGE31_ID, occurred_at=frame["occurred_at"].map(_ts))


def build(path: Path, database_url: Secret | None = None) -> Settings:
    """Create the fixture database at ``path`` (or, with ``database_url``, in that PostgreSQL database); return
    Settings pointing at it (today = TODAY)."""
    settings = Settings(
        db=Path(path),
        today=TODAY,
        published_dir=Path(path).parent / "published",
        db_lock_timeout=20.0,
        database_url=database_url,
    )
    with configure.open_configured(settings) as con:
        db.upsert_frame(con, "incidents", incidents_frame(), "issue_id")
        db.upsert_frame(con, "incident_events", events_frame(), "event_id")
        reviews = pd.DataFrame(
            {
                "incident_id": [STAGE31_ID, "40003"],
                "facilitator": [FACILITATOR, "Kim Lee"],
                "facilitator_assigned_at": [RESOLVED + pd.Timedelta(hours=5, minutes=17), _ts("2025-09-01 14:00")],
                "published_at": [pd.NaT, _ts("2025-09-02 10:00")],
            }
        )
        db.upsert_frame(con, "reviews", reviews, "incident_id")
        similar.refresh(con)  # what a sync does after writing incidents
    return settings


def in_review(
    settings: Settings, action: Callable[..., Any], *args: Any, incident: str = STAGE31_ID, **kwargs: Any
) -> Any:
    """``action(session, *args, **kwargs)`` in one short connection, the way a wizard step runs it."""
    with open_review(settings, incident) as session:
        return action(session, *args, **kwargs)


def with_con(action: Callable[..., Any], *args: Any) -> Callable[[ReviewSession], Any]:
    """A function of the session that calls ``action(session.con, *args)`` (for lookups by row id)."""
    return lambda session: action(session.con, *args)

"""A small pir database for dashboard tests, written through the real schema (configure.open_configured + frames).

It holds what the overview draws plus the hostile cases: HTML-looking and Unicode Jira text, an incident
without a severity, a deleted incident, done / open / overdue actions, and one finished sync run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pirlib import configure, db
from pirlib.config import Settings
from pirlib.failure_modes import similar

XSS_SUMMARY = "Checkout down <img src=x onerror=alert(1)> <script>alert('pir')</script> & more"
TODAY = "2026-11-01"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def incidents_frame() -> pd.DataFrame:
    rows = [
        ("1001", "INC-1", "Sev-0", "Payments API returned 500s", "2026-08-03 10:00", False),
        ("1002", "INC-2", "Sev-1", XSS_SUMMARY, "2026-08-20 09:30", False),
        ("1003", "INC-3", "Sev-2", "Äpfel & Birnen: Unicode ✓ summary", "2026-09-02 22:15", False),
        ("1004", "INC-4", "Sev-1", "Search latency", "2026-09-15 04:00", False),
        ("1005", "INC-5", None, "Incident without a severity", "2026-10-01 12:00", False),
        ("1006", "INC-6", "Sev-3", "Deleted in Jira", "2026-10-05 12:00", True),
        ("1007", "INC-7", "Sev-3", "Minor glitch", "2026-10-10 08:00", False),
    ]
    frame = pd.DataFrame(rows, columns=["issue_id", "key", "severity", "summary", "started", "deleted"])
    started = frame.pop("started").map(_ts)
    return frame.assign(
        project_key="INC",
        status="Closed",
        status_category="done",
        created_at=started,
        started_at=started,
        resolved_at=started + pd.Timedelta(hours=3),
        updated_at=started + pd.Timedelta(hours=3),
    )


def actions_frame() -> pd.DataFrame:
    rows = [
        ("2001", "INC-101", "1001", "done", "2026-08-05", "2026-08-20", "2026-08-15"),
        ("2002", "INC-102", "1001", "indeterminate", "2026-08-05", "2026-09-01", None),  # overdue
        ("2003", "INC-103", "1002", "done", "2026-08-22", "2026-09-10", "2026-09-20"),  # done late
        ("2004", "INC-104", "1004", "new", "2026-09-16", "2099-01-01", None),  # open, not overdue
        ("2005", "INC-105", "1004", "new", "2026-09-16", None, None),  # open, no due date
    ]
    frame = pd.DataFrame(
        rows, columns=["issue_id", "key", "incident_id", "status_category", "created", "due", "resolved"]
    )
    return pd.DataFrame(
        {
            "issue_id": frame["issue_id"],
            "key": frame["key"],
            "incident_id": frame["incident_id"],
            "summary": "Action <b>for</b> " + frame["key"],
            "status_category": frame["status_category"],
            "status": frame["status_category"].map({"done": "Done", "new": "To Do", "indeterminate": "In Progress"}),
            "created_at": frame["created"].map(_ts),
            "due_date": pd.to_datetime(frame["due"]).dt.date,
            "resolved_at": frame["resolved"].map(lambda v: _ts(v) if v else pd.NaT),
        }
    )


def sync_runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["run-1"],
            "started_at": [_ts("2026-10-30 06:00")],
            "finished_at": [_ts("2026-10-30 06:02")],
            "status": ["success"],
            "mode": ["full"],
            "source": ["fixture"],
        }
    )


def build(path: Path) -> Settings:
    """Create the fixture database at ``path``; return Settings pointing at it (today = TODAY)."""
    settings = Settings(db=Path(path), today=pd.Timestamp(TODAY).date())
    with configure.open_configured(settings) as con:  # as the sync that would have written them
        db.upsert_frame(con, "incidents", incidents_frame(), "issue_id")
        db.upsert_frame(con, "actions", actions_frame(), "issue_id")
        db.upsert_frame(con, "sync_runs", sync_runs_frame(), "run_id")
        similar.refresh(con)  # what a sync does after writing incidents
    return settings


def build_empty(path: Path) -> Settings:
    """A migrated and configured database with no rows."""
    settings = Settings(db=Path(path), today=pd.Timestamp(TODAY).date())
    with configure.open_configured(settings):
        pass
    return settings

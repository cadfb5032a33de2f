"""The runbook's Stage-31 incident as `pir demo` loads it, with a review on top, for the publishing tests.

The demo database is built once per test session (about 5 s) and copied for each test. The review content
(notes, starred events, attendees and who attended, the scribe, the root cause) is written through pirlib's own review functions at fixed times, so the
rendered documents are deterministic; one note is hostile, to prove every format escapes it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from pirlib import db, demo
from pirlib.config import Settings
from pirlib.review import meeting, prepare
from pirlib.review.session import open_review
from pirlib.timeline.events import curate, load_timeline

UTC = dt.UTC
TODAY = dt.date(2025, 9, 7)
RENDERED_AT = dt.datetime(2025, 9, 7, 9, 0, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script> **bold** [click](javascript:alert(1)) | pipe & <b>tag</b> `tick` # heading"


def build_demo(folder: Path) -> Path:
    """`pir demo` into ``folder``; return the database file."""
    settings = Settings(db=folder / "pir.duckdb", sample_dir=folder / "sample", db_lock_timeout=20.0)
    demo.load_demo(settings)
    return settings.db


def stage31_settings(demo_db: Path, folder: Path, **changes: object) -> Settings:
    """A copy of the demo database in ``folder`` with a review of Stage-31 written into it."""
    target = folder / "pir.duckdb"
    shutil.copyfile(demo_db, target)
    settings = Settings(
        db=target, sample_dir=folder / "sample", published_dir=folder / "published", today=TODAY, db_lock_timeout=20.0
    ).replace(**changes)
    incident = stage31_key(settings)
    at = dt.datetime(2025, 9, 6, 15, 0, tzinfo=UTC)
    with open_review(settings, incident) as s:
        meeting.add_note(
            s, "went_well", "Rollback finished in 6 minutes once it was started.", author="Alex Chen", at=at
        )
        meeting.add_note(
            s,
            "went_wrong",
            "The canary looked only at latency, not at 5xx.",
            tag="detection_gap",
            author="Alex Chen",
            at=at + dt.timedelta(minutes=1),
        )
        meeting.add_note(
            s, "went_wrong", HOSTILE, tag="tooling_limit", author="Alex Chen", at=at + dt.timedelta(minutes=2)
        )
        meeting.add_note(
            s,
            "risk_review",
            "Card payments failed for EU customers: regulator report.",
            flag="compliance",
            author="Alex Chen",
            at=at + dt.timedelta(minutes=3),
        )
        events = load_timeline(s.con, incident)
        for event_id in events["event_id"].iloc[[0, 3, 7]]:
            curate(s.con, event_id, starred=True, by="Alex Chen")
        prepare.add_attendee(s, "Dana Roe", "Compliance")
        for person in prepare.invite_list(s)["name"]:  # everyone invited came, but José Núñez
            if person not in prepare.RUNBOOK_ROLES and person != "José Núñez":
                meeting.set_attended(s, person)
        meeting.set_attended(s, "Ravi Iyer")  # came without an invitation
        meeting.set_role(s, "scribe", "Dana Roe")
        meeting.save_root_cause(
            s,
            "The v4.29.7 config rejected the <new> pool size & the canary did not look at 5xx.",
            "Canary analysis watched latency only\n\nNo automatic rollback on 5xx",
        )
    return settings


def stage31_key(settings: Settings) -> str:
    with db.connect(settings, read_only=True) as con:
        return con.execute("SELECT key FROM incidents WHERE 'stage31' = ANY(labels)").fetchone()[0]

"""The unit a review step works in: one open connection and the incident, resolved once.

``open_review(settings, "INC-123")`` is for the edges (a CLI command, a wizard step): it opens the
database for one unit of work, resolves the incident as people name it (key in any case, or Jira id) and
closes the connection afterwards. Everything below the edge takes the ``ReviewSession`` it is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pirlib import db, pg
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.incidents import resolve_incident
from pirlib.review.clock import REVIEW_COLUMNS, now
from pirlib.values import frame_row, frame_value

__all__ = ["ReviewSession", "incident_facts", "open_review", "touch_review"]


@dataclass(frozen=True)
class ReviewSession:
    """An open connection, the settings in force and the incident being reviewed (id and key)."""

    con: Connection
    settings: Settings
    incident_id: str
    key: str

    @classmethod
    def resolve(cls, con: Connection, settings: Settings, incident: str) -> ReviewSession:
        """The session of the incident named by key or id; an unknown one raises InputError."""
        incident_id, key = resolve_incident(con, incident)
        return cls(con, settings, incident_id, key)

    def now(self) -> dt.datetime:
        return now(self.settings)


@contextmanager
def open_review(settings: Settings, incident: str, *, read_only: bool = False) -> Iterator[ReviewSession]:
    """Open the database for one unit of work on one incident (for the edges: commands, wizard steps)."""
    with db.connect(settings, read_only=read_only) as con:
        yield ReviewSession.resolve(con, settings, incident)


def incident_facts(session: ReviewSession) -> dict[str, Any]:
    """The incident row and its review row in one dict (review columns as in ``reviews``). Read as Python rows,
    not data frames: a frame of one wide row costs about ten times the three queries (the guide reads this
    on most clicks); times come back as UTC ``pd.Timestamp``s and lists as arrays, as a frame gives them."""
    con, incident_id = session.con, session.incident_id
    out = frame_row(con.execute(f"SELECT {_incident_columns(con)} FROM incidents WHERE issue_id = ?", [incident_id]))
    assert out is not None  # a session is opened on an incident resolve_incident found; sync never removes rows
    columns = ["facilitator", *REVIEW_COLUMNS, "meeting_at", "doc_url", "regulatory_filed_at"]
    review = con.execute(f"SELECT {', '.join(columns)} FROM reviews WHERE incident_id = ?", [incident_id]).fetchone()
    out.update({column: frame_value(value) for column, value in zip(columns, review or [None] * len(columns))})
    events = con.execute("SELECT count(*) FROM incident_events WHERE incident_id = ?", [incident_id]).fetchone()
    out["event_count"] = int(events[0]) if events else 0
    return out


# PostgreSQL has no ``SELECT * EXCLUDE``: the incident's columns but ``raw`` (the Jira JSON, large and never shown
# here) as a list, read from the catalog once per process (the schema changes only with pir's own migrations).
_PG_INCIDENT_COLUMNS: list[str] = []


def _incident_columns(con: Connection) -> str:
    if db.dialect(con) == "duckdb":
        return "* EXCLUDE (raw)"
    if not _PG_INCIDENT_COLUMNS:
        assert isinstance(con, pg.PgConnection)
        _PG_INCIDENT_COLUMNS.extend(f'"{name}"' for name in con.column_types("incidents") if name != "raw")
    return ", ".join(_PG_INCIDENT_COLUMNS)


def touch_review(session: ReviewSession, at: dt.datetime) -> None:
    """Make sure the incident has its ``reviews`` row and stamp ``updated_at``."""
    session.con.execute(
        "INSERT INTO reviews (incident_id, updated_at) VALUES (?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
        "updated_at = EXCLUDED.updated_at",
        [session.incident_id, at],
    )

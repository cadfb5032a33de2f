"""The events of an incident's timeline: imports into ``incident_events``, curation, and reads.

- ``import_file`` parses a chat, alerts or changes file (``pirlib.timeline.importers``) and upserts its events. Event
  ids are a hash of the incident, the source and the event's natural key, so importing a file twice adds
  nothing and a corrected file updates its events in place. Parsing finishes before anything is written:
  a malformed file writes nothing.
- Curation (hide, star, re-time, edit text) lives in ``event_curation``, which no sync or import writes;
  ``v_timeline`` applies it. Setting a value back to ``None`` restores the source's value. Manual events are
  ``incident_events`` rows with ``source='manual'``. ``incident_events.hidden/starred`` mirror the curation
  (written in the same transaction) for analysts who read the table directly.

Milestones and durations, inferred from these events, are ``pirlib.timeline.milestones``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib import db
from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.incidents import resolve_incident
from pirlib.timeline.importers import parse_instant, zone
from pirlib.timeline.importers.alerts import parse_alerts
from pirlib.timeline.importers.changes import parse_changes
from pirlib.timeline.importers.slack import parse_chat

__all__ = [
    "IMPORT_KINDS",
    "add_manual_event",
    "curate",
    "describe_import",
    "event_ids",
    "import_file",
    "load_timeline",
    "timeline_of",
    "utc_instant",
]

IMPORT_KINDS: dict[str, Callable[..., pd.DataFrame]] = {
    "chat": parse_chat,
    "alerts": parse_alerts,
    "changes": parse_changes,
}
# Columns an import writes. hidden/starred are curation and never written by an import.
_IMPORT_COLUMNS = [
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
    "origin",
]
_UNSET: Any = object()


# ---------------------------------------------------------------------------------------------- imports


def event_ids(incident_id: str, sources: pd.Series, natural_keys: pd.Series) -> pd.Series:
    """Stable ids ``<source>:<hash>``: the same event of the same incident always gets the same id."""
    digests = [
        hashlib.sha256(f"{incident_id}\x1f{s}\x1f{k}".encode()).hexdigest()[:24]
        for s, k in zip(sources, natural_keys, strict=True)
    ]
    return pd.Series([f"{s}:{d}" for s, d in zip(sources, digests, strict=True)], index=sources.index, dtype="object")


def to_event_rows(parsed: pd.DataFrame, incident_id: str) -> pd.DataFrame:
    """A parser's frame as ``incident_events`` rows of one incident (pure)."""
    rows = parsed.copy()
    rows["incident_id"] = incident_id
    rows["event_id"] = event_ids(incident_id, rows["source"], rows["natural_key"])
    return rows[_IMPORT_COLUMNS]


def import_file(
    con: Connection, kind: str, incident: str, path: Path | str, *, tz: str | None = None
) -> dict[str, int]:
    """Import one chat, alerts or changes file into the incident's timeline; return the counts.

    Counts: ``read`` events in the file, ``added`` new, ``updated`` (same id, different content),
    ``unchanged``, ``skipped`` (records the parser ignored on purpose, e.g. Slack channel joins).
    """
    if kind not in IMPORT_KINDS:
        raise InputError(f"unknown import kind {kind!r}; use one of {', '.join(IMPORT_KINDS)}")
    zone(tz)  # an unknown zone is an error even for formats that carry their own offsets
    parsed = IMPORT_KINDS[kind](Path(path), tz=tz)
    incident_id, _ = resolve_incident(con, incident)
    counts = _write_events(con, to_event_rows(parsed, incident_id))
    counts["read"] = len(parsed)
    counts["skipped"] = int(parsed.attrs.get("skipped", 0))
    return counts


def describe_import(counts: dict[str, int]) -> str:
    """What an import did, for people: '12 events read, 9 added, 1 updated, 2 unchanged, 0 skipped'."""
    line = (
        f"{counts['read']} events read, {counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['skipped']} skipped"
    )
    if counts["read"] and not counts["added"] and not counts["updated"]:
        line += " (nothing new: this file was imported before)"
    return line


def _write_events(con: Connection, rows: pd.DataFrame) -> dict[str, int]:
    rows = rows.drop_duplicates(subset=["event_id"], keep="last")
    compared = [c for c in _IMPORT_COLUMNS if c != "event_id"]
    differs = " OR ".join(f'e."{c}" IS DISTINCT FROM b."{c}"' for c in compared)
    with db.transaction(con):
        con.register("_import_batch", rows)
        try:
            added, updated = con.execute(
                f"SELECT count(*) FILTER (WHERE e.event_id IS NULL),"
                f" count(*) FILTER (WHERE e.event_id IS NOT NULL AND ({differs}))"
                " FROM _import_batch AS b LEFT JOIN incident_events AS e ON e.event_id = b.event_id"
            ).fetchall()[0]
        finally:
            con.unregister("_import_batch")
        db.upsert_frame(con, "incident_events", rows, "event_id")
        if len(rows):
            _mirror_curation(con, str(rows["incident_id"].iloc[0]))
    return {"added": int(added), "updated": int(updated), "unchanged": len(rows) - int(added) - int(updated)}


def _mirror_curation(con: Connection, incident_id: str) -> None:
    """Copy curated hidden/starred onto incident_events (a re-created row would otherwise show defaults)."""
    con.execute(
        "UPDATE incident_events AS e SET hidden = coalesce(c.hidden, false), starred = coalesce(c.starred, false)"
        " FROM event_curation AS c"
        " WHERE c.event_id = e.event_id AND c.incident_id = ?"
        " AND (e.hidden IS DISTINCT FROM coalesce(c.hidden, false)"
        "      OR e.starred IS DISTINCT FROM coalesce(c.starred, false))",
        [incident_id],
    )


# --------------------------------------------------------------------------------------------- curation


def utc_instant(value: dt.datetime | pd.Timestamp | str, what: str) -> dt.datetime:
    """A time a person gave (a datetime, a Timestamp or ISO 8601 text; naive means UTC) as an aware UTC datetime."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return parse_instant(value, zone("UTC"), what)


def curate(
    con: Connection,
    event_id: str,
    *,
    hidden: bool | None = _UNSET,
    starred: bool | None = _UNSET,
    occurred_at: dt.datetime | str | None = _UNSET,
    text: str | None = _UNSET,
    by: str | None = None,
) -> None:
    """Change the facilitator's view of one event; ``None`` reverts that aspect to the source's value.

    Arguments left out keep their current curation. The row is removed once nothing is curated any more.
    """
    changes: dict[str, Any] = {}
    if hidden is not _UNSET:
        changes["hidden"] = None if hidden is None else bool(hidden)
    if starred is not _UNSET:
        changes["starred"] = None if starred is None else bool(starred)
    if occurred_at is not _UNSET:
        changes["occurred_at"] = None if occurred_at is None else utc_instant(occurred_at, f"new time of {event_id}")
    if text is not _UNSET:
        changes["text"] = text
    if not changes:
        return
    sources = con.execute(
        "SELECT incident_id, occurred_at, text FROM incident_events WHERE event_id = ?", [event_id]
    ).fetchall()
    if not sources:
        raise InputError(f"unknown event {event_id!r}; reload the timeline, it may have been removed in Jira")
    source = sources[0]
    curated = con.execute(
        "SELECT hidden, starred, occurred_at, text, original_occurred_at, original_text"
        " FROM event_curation WHERE event_id = ?",
        [event_id],
    ).fetchall()
    current = curated[0] if curated else None
    row = dict(
        zip(
            ["hidden", "starred", "occurred_at", "text", "original_occurred_at", "original_text"],
            current or [None] * 6,
            strict=True,
        )
    )
    row.update(changes)
    if "occurred_at" in changes:
        row["original_occurred_at"] = source[1] if changes["occurred_at"] is not None else None
    if "text" in changes:
        row["original_text"] = source[2] if changes["text"] is not None else None
    with db.transaction(con):
        if all(row[k] is None for k in ("hidden", "starred", "occurred_at", "text")):
            con.execute("DELETE FROM event_curation WHERE event_id = ?", [event_id])
        else:
            frame = pd.DataFrame(
                [
                    {
                        "event_id": event_id,
                        "incident_id": source[0],
                        **row,
                        "updated_by": by,
                        "updated_at": pd.Timestamp.now(tz="UTC"),
                    }
                ]
            )
            for column in ("occurred_at", "original_occurred_at"):
                frame[column] = pd.to_datetime(frame[column], utc=True)
            for column in ("hidden", "starred"):
                frame[column] = frame[column].astype("boolean")
            for column in ("text", "original_text", "updated_by"):
                frame[column] = frame[column].astype("object")
            db.upsert_frame(con, "event_curation", frame, "event_id")
        con.execute(
            "UPDATE incident_events SET hidden = ?, starred = ? WHERE event_id = ?",
            [bool(row["hidden"]), bool(row["starred"]), event_id],
        )


def add_manual_event(
    con: Connection,
    incident: str,
    occurred_at: dt.datetime | str,
    text: str,
    *,
    kind: str = "note",
    actor: str | None = None,
) -> str:
    """Add a facilitator's own event (``source='manual'``) to the incident's timeline; return its id."""
    if not str(text).strip():
        raise InputError("a manual event needs a text; say what happened")
    at = utc_instant(occurred_at, "time of the manual event")
    event_id = f"manual:{uuid.uuid4().hex}"
    frame = pd.DataFrame(
        [
            {
                "event_id": event_id,
                "incident_id": None,
                "occurred_at": pd.Timestamp(at),
                "source": "manual",
                "kind": kind,
                "actor": actor,
                "text": str(text),
                "origin": "added in pir",
            }
        ]
    )
    frame["incident_id"] = resolve_incident(con, incident)[0]
    db.upsert_frame(con, "incident_events", frame, "event_id")
    return event_id


# ------------------------------------------------------------------------------------------------ reads


def load_timeline(con: Connection, incident: str) -> pd.DataFrame:
    """Every event of the incident from ``v_timeline`` (curation applied, hidden ones included), in order."""
    incident_id, _ = resolve_incident(con, incident)
    return timeline_of(con, incident_id)


def timeline_of(con: Connection, incident_id: str) -> pd.DataFrame:
    """``load_timeline`` for an incident id already resolved."""
    return con.execute(
        "SELECT * FROM v_timeline WHERE incident_id = ? ORDER BY occurred_at, event_id", [incident_id]
    ).df()

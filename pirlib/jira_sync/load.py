"""Write a transformed Batch into the store (DuckDB or PostgreSQL): one transaction, set-based, keyed by Jira ids.

Incidents and actions are keyed by the Jira issue id (it survives a move between projects, the key does
not), events by ``jira:changelog:<history>:<item>`` / ``jira:comment:<id>``. A reload of the same batch
leaves the tables as they were; the facilitator's curation (``hidden``, ``starred``) and events from other
sources (chat, alerts, manual) are never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa

from pirlib.db import ABORTED, Connection, as_table_types, cast_to, columns_of, dialect, drop_temp, one
from pirlib.jira_sync.rows import ACTION_COLUMNS, EVENT_COLUMNS, INCIDENT_COLUMNS, Batch

__all__ = ["JIRA_SOURCES", "load_batch", "load_batches", "mark_deleted"]

JIRA_SOURCES = ("jira_changelog", "jira_comment")
_SOURCES_SQL = ", ".join(f"'{s}'" for s in JIRA_SOURCES)


def load_batch(con: Connection, batch: Batch, *, synced_at: dt.datetime | pd.Timestamp) -> dict[str, int]:
    """Upsert the batch's incidents, actions and events in one transaction; return rows written per table.

    Rows seen again lose their ``deleted`` flag. Jira events of an incident in the batch that Jira no
    longer has (a deleted comment) are removed, since the batch carries each incident's full history.
    Afterwards every action still without an incident is linked through its epic, over the whole table,
    so an action synced before its incident (or in another batch) finds it.
    """
    return load_batches(con, [batch], synced_at=synced_at)


def load_batches(
    con: Connection,
    batches: Iterable[Batch],
    *,
    synced_at: dt.datetime | pd.Timestamp,
    commit_every: int | None = None,
    on_written: Callable[[Connection, Batch], None] | None = None,
) -> dict[str, int]:
    """``load_batch`` over a stream of batches (``Transformer.batches``), in one transaction by default.

    The next batch is built on a worker thread while the current one is written: the transform (DuckDB
    flattening and Python text conversion) and the upsert (DuckDB) overlap on two cores, and at most two
    batches are in memory. A failure anywhere, in the stream or in a write, rolls the open transaction
    back. With ``commit_every``, the transaction is committed after a batch once it holds that many
    incidents and actions: DuckDB keeps a transaction's writes in memory until it commits (measured: 100k
    incidents with 1.1M events in one transaction peaked 350-400 MB above committing every 25k; the 324k
    actions of a 100k site, in slices that held no incident and so were never committed until the end,
    added 240 MB). A failure then keeps the chunks committed before it; they are whole incidents with their
    full timelines, or whole slices of actions, and a rerun writes the same rows again. ``on_written`` is
    called after each batch is written, in its transaction (the sync keeps its derived tables in step with
    each chunk).
    """
    stamp = pd.Timestamp(synced_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    counts = {"incidents": 0, "actions": 0, "events": 0, "linked": 0}
    stream = iter(batches)
    pending = 0
    con.execute("BEGIN TRANSACTION")
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="pir-transform") as pool:
            upcoming = pool.submit(next, stream, None)
            try:
                while (batch := upcoming.result()) is not None:
                    upcoming = pool.submit(next, stream, None)
                    for table, written in _upsert(con, batch, stamp).items():
                        counts[table] += written
                    if on_written is not None:
                        on_written(con, batch)
                    pending += len(batch.incidents) + len(batch.actions)
                    del batch
                    # Commit right away, while the next batch is still being built: the commit overlaps
                    # that work, and the transaction's memory is freed before the next batch arrives.
                    if commit_every and pending >= commit_every:
                        con.execute("COMMIT")
                        _checkpoint(con)
                        con.execute("BEGIN TRANSACTION")
                        pending = 0
            finally:
                upcoming.cancel()
        counts["linked"] = link_actions(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _checkpoint(con: Connection) -> None:
    """Write what the write-ahead log holds into the database file now, while the next batch is built.

    Rows of a chunk smaller than a row group (``db.ROW_GROUP_SIZE``) go through the log, and DuckDB
    checkpoints at the first commit after the log passes ``checkpoint_threshold``. Left to itself that
    was the last commit of a large load, writing two chunks' incidents with nothing left to overlap
    (bench/bench_load.py: 1.7 s of a 10.8 s load). Another connection's open transaction makes DuckDB
    refuse; the next commit past the threshold checkpoints then. PostgreSQL checkpoints on its own schedule.
    """
    if dialect(con) == "postgres":
        return
    try:
        con.execute("CHECKPOINT")
    except duckdb.TransactionException:
        pass


def _upsert(con: Connection, batch: Batch, stamp: pd.Timestamp) -> dict[str, int]:
    incidents = _unique(batch.incidents[INCIDENT_COLUMNS], "issue_id").assign(deleted=False, synced_at=stamp)
    actions = _unique(batch.actions[ACTION_COLUMNS], "issue_id").assign(deleted=False, synced_at=stamp)
    events = _unique(batch.events[EVENT_COLUMNS], "event_id")
    # Two runs at once: the one that read Jira earlier may write last. A stored row that Jira updated later
    # than the batch's copy stays, and so do that incident's events.
    stale = _stored_newer(con, "incidents", incidents)
    if stale:
        incidents = incidents[~incidents["issue_id"].isin(stale)]
        events = events[~events["incident_id"].isin(stale)]
    stale_actions = _stored_newer(con, "actions", actions)
    if stale_actions:
        actions = actions[~actions["issue_id"].isin(stale_actions)]
    _replace(con, "incidents", incidents, "issue_id", stamp)
    _replace(con, "actions", actions, "issue_id", stamp)
    _replace_events(con, incidents, events)
    return {"incidents": len(incidents), "actions": len(actions), "events": len(events)}


def _stored_newer(con: Connection, table: str, frame: pd.DataFrame) -> set[str]:
    """Ids of ``frame`` whose stored row has a later Jira ``updated_at`` than the frame's."""
    if frame.empty:
        return set()
    _register(con, "_batch_updated", frame[["issue_id", "updated_at"]])
    try:
        rows = con.execute(
            f"SELECT t.issue_id FROM {table} AS t JOIN _batch_updated AS b ON t.issue_id = b.issue_id"
            " WHERE t.updated_at > b.updated_at"
        ).fetchall()
    finally:
        _unregister(con, "_batch_updated")
    return {str(row[0]) for row in rows}


def link_actions(con: Connection) -> int:
    """Set ``actions.incident_id`` where it is NULL and the action's epic is some incident's epic."""
    (count,) = one(
        con,
        """
        UPDATE actions AS a SET incident_id = m.issue_id
        FROM (
            SELECT epic_key, min(issue_id) AS issue_id
            FROM incidents WHERE epic_key IS NOT NULL AND NOT deleted GROUP BY epic_key
        ) AS m
        WHERE a.incident_id IS NULL AND a.epic_key = m.epic_key
        """,
    )
    return int(count)


def mark_deleted(
    con: Connection,
    kind: Literal["incidents", "actions"],
    seen_ids: Iterable[str],
    synced_before: dt.datetime | None = None,
) -> int:
    """Flag rows of ``kind`` that a full sync did not see as deleted (kept for history, hidden by views).

    ``seen_ids`` are taken ``SEEN_PART`` at a time into a temporary table (a site's ids need not all be in
    memory at once). ``synced_before``: the run's start; a row written after it (by a run or push that
    started later and saw an issue this run's reads missed) is not this run's to flag."""
    if kind not in ("incidents", "actions"):
        raise ValueError(f"mark_deleted: kind must be 'incidents' or 'actions', not {kind!r}")
    drop_temp(con, "_seen_ids")
    con.execute("CREATE TEMP TABLE _seen_ids (issue_id VARCHAR)")
    try:
        ids = iter(seen_ids)
        while part := list(islice(ids, SEEN_PART)):
            _register(con, "_seen_part", pd.DataFrame({"issue_id": pd.Series(part, dtype="str")}))
            try:
                con.execute("INSERT INTO _seen_ids SELECT issue_id FROM _seen_part")
            finally:
                _unregister(con, "_seen_part")
        # NOT EXISTS, never NOT IN: PostgreSQL runs NOT IN over a subquery larger than work_mem as a nested
        # loop. The actions of a 100,000-incident site (330,000 ids) were still not flagged after 60 s; as an
        # anti-join they take 0.3 s.
        (count,) = one(
            con,
            f"UPDATE {kind} SET deleted = true WHERE NOT deleted"
            f" AND NOT EXISTS (SELECT 1 FROM _seen_ids AS s WHERE s.issue_id = {kind}.issue_id)"
            " AND (CAST($before AS TIMESTAMPTZ) IS NULL OR synced_at IS NULL OR synced_at <= $before)",
            {"before": synced_before},
        )
    finally:
        drop_temp(con, "_seen_ids")
    return int(count)


SEEN_PART = 50_000


def _unique(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    # One statement cannot write a key twice; checking first skips the copy in the usual case.
    if frame[key].is_unique:
        return frame
    return frame.drop_duplicates(subset=[key], keep="last")


# Upserts write only what changed, inside the caller's transaction. A re-sync sends mostly rows that are
# stored already; deleting and re-inserting them costs the write of every byte again (``raw`` is most of
# an incident) plus the primary key's index upkeep at COMMIT, which dominated bench/bench_load.py. So a row
# whose values all match is only re-stamped (``synced_at``, ``deleted``), a changed row is deleted and
# inserted again, a new row is inserted. (Measured with DuckDB 2.0 on a half-full database: INSERT ... ON
# CONFLICT DO UPDATE of 55k events took 1.4 s, delete-then-insert 0.15 s; the gap grows with the batch.)
# Columns a sync does not own are carried over explicitly (events) or must not exist (incidents, actions:
# checked, so that a migration adding a curated column to them fails a test instead of silently wiping it
# on every sync).
_MANAGED = {"deleted", "synced_at"}
_checked: set[tuple[str, tuple[str, ...]]] = set()


def _register(con: Connection, name: str, frame: pd.DataFrame) -> None:
    # An Arrow table scans faster than a DataFrame, and pandas' Arrow-backed strings convert without a copy.
    con.register(name, pa.Table.from_pandas(frame, preserve_index=False))


def _unregister(con: Connection, *names: str) -> None:
    """Drop registered frames, also after a failed statement: the store then refuses every statement until
    the rollback (which drops them anyway), and that refusal must not replace the error that caused it."""
    for name in names:
        try:
            con.unregister(name)
        except ABORTED:
            pass


def _replace(con: Connection, table: str, frame: pd.DataFrame, key: str, stamp: pd.Timestamp) -> None:
    if frame.empty:
        return
    columns = list(frame.columns)
    signature = (table, tuple(columns))
    if signature not in _checked:
        unowned = [c for c in columns_of(con, table) if c not in columns and c not in _MANAGED]
        if unowned:
            raise RuntimeError(f"{table} has columns the Jira load does not write: {unowned}; carry them over")
        _checked.add(signature)
    name = f"_batch_{table}"
    data = [c for c in columns if c not in _MANAGED]
    column_list = ", ".join(f'"{c}"' for c in columns)
    # The batch's values are read as the table's types (PostgreSQL: a column of a slice with no due date at all
    # is registered as text). JSON columns compare as their stored text: a difference in formatting only costs
    # a rewrite, and PostgreSQL gives JSON back as the store's type formats it.
    batch = as_table_types(con, table, data, alias="b")
    changed = " OR ".join(
        f't."{c}"::VARCHAR IS DISTINCT FROM {batch[c]}::VARCHAR'
        if c == "raw"
        else f't."{c}" IS DISTINCT FROM {batch[c]}'
        for c in data
        if c != key
    )
    _register(con, name, frame)
    try:
        con.execute(
            f'DELETE FROM {table} WHERE "{key}" IN'
            f' (SELECT t."{key}" FROM {table} AS t JOIN {name} AS b ON t."{key}" = b."{key}" WHERE {changed or "false"})'
        )
        con.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {cast_to(con, table, columns)} FROM {name}"
            # NOT EXISTS, not NOT IN: DuckDB then builds its hash table from the batch, not from every key of
            # the table (2M stored actions: 0.09 s instead of 0.17-0.29 s, and memory that does not grow with them).
            f' WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t."{key}" = {name}."{key}")'
        )
        con.execute(
            f"UPDATE {table} AS t SET synced_at = $stamp, deleted = false FROM {name} AS b"
            f' WHERE t."{key}" = b."{key}" AND (t.deleted OR t.synced_at IS DISTINCT FROM $stamp)',
            {"stamp": stamp.to_pydatetime()},
        )
    finally:
        _unregister(con, name)


def _replace_events(con: Connection, incidents: pd.DataFrame, events: pd.DataFrame) -> None:
    """Merge the batch's Jira events: insert new ones, rewrite changed ones, drop vanished ones.

    A changelog entry never changes once written and a re-sync re-reads whole histories, so most rows of a
    batch are already stored as they are: those are left alone, which keeps the facilitator's curation on
    them and costs no write (deleting and re-inserting a row makes DuckDB's commit maintain the primary
    key index for it, which dominated the load: see bench/bench_load.py). The batch holds every incident's
    full changelog and comments, so a Jira event of such an incident that is not in the batch was deleted
    in Jira (a removed comment) and goes too. Rows of other sources (chat, alerts, manual) are never
    deleted or rewritten.
    """
    if incidents.empty and events.empty:
        return
    columns = list(events.columns)
    column_list = ", ".join(f'"{c}"' for c in columns)
    batch = as_table_types(con, "incident_events", columns, alias="b")
    changed = " OR ".join(f'e."{c}" IS DISTINCT FROM {batch[c]}' for c in columns if c != "event_id")
    assignments = ", ".join(f'"{c}" = {batch[c]}' for c in columns if c != "event_id")
    _register(con, "_batch_incident_ids", incidents[["issue_id"]])
    _register(con, "_batch_events", events)
    try:
        con.execute(
            f"DELETE FROM incident_events WHERE source IN ({_SOURCES_SQL})"
            " AND incident_id IN (SELECT issue_id FROM _batch_incident_ids)"
            " AND NOT EXISTS (SELECT 1 FROM _batch_events AS b WHERE b.event_id = incident_events.event_id)"
        )
        # One join with the table tells new rows from changed ones (most of a re-sync is neither).
        drop_temp(con, "_event_state")
        con.execute(
            "CREATE TEMP TABLE _event_state AS SELECT b.event_id, e.event_id IS NULL AS is_new,"
            f" coalesce(e.source IN ({_SOURCES_SQL}) AND ({changed or 'false'}), false) AS is_changed"
            " FROM _batch_events AS b LEFT JOIN incident_events AS e ON e.event_id = b.event_id"
        )
        new, rewritten = con.execute(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_changed) FROM _event_state"
        ).fetchall()[0]
        if rewritten:
            con.execute(
                f"UPDATE incident_events AS e SET {assignments} FROM _batch_events AS b"
                " WHERE e.event_id = b.event_id AND b.event_id IN (SELECT event_id FROM _event_state WHERE is_changed)"
            )
        if new:
            con.execute(
                f"INSERT INTO incident_events ({column_list}) SELECT {cast_to(con, 'incident_events', columns)}"
                " FROM _batch_events"
                " WHERE event_id IN (SELECT event_id FROM _event_state WHERE is_new)"
            )
        con.execute("DROP TABLE _event_state")
    finally:
        _unregister(con, "_batch_incident_ids", "_batch_events")

"""``pir sync``: Jira -> the store (DuckDB, or PostgreSQL in team mode), incremental by default, every run
recorded in ``sync_runs``.

A run costs three start-up requests (``serverInfo``, ``myself`` for the time zone JQL dates are read in,
``field`` for the custom field ids), one search request per page per query, and follow-up requests only
for issues whose embedded changelog or comments were cut short. A run with nothing changed is five
requests.

Incremental window: the cursor is the largest ``updated`` the last successful run saw (Jira's clock, not
ours). The next run asks for ``updated >= cursor - sync_overlap_minutes``, formatted in the Jira user's
time zone at minute precision: JQL reads dates in that zone and ignores seconds, and Cloud's search index
lags behind writes, so the overlap re-reads a few minutes. Re-reading is harmless: rows are upserted by
Jira id and events by stable ids. The cursor never passes the moment the run started reading (Jira's
``serverTime``): a run that outlasts the overlap (``Retry-After`` waits of up to 300 s each) sees changes
on late pages but not those made meanwhile to pages it already read, and the next run must read those.

Two runs at once (cron and a person): the load keeps a stored row whose ``updated`` is newer than the
run's (``load.py``), and ``--full`` flags as deleted only rows no later run has written, so the slower
run never puts old values back.

Memory and atomicity: the read streams (``extract``): epics and actions first, kept as their row values,
then the incidents in chunks of at most ``extract.READ_CHUNK_ISSUES`` incidents or ``READ_CHUNK_BYTES`` of
JSON, each parked in a spool file next to the database (``spool.py``) as soon as its timelines are complete.
The actions' row values and what the run must remember of every issue until its end (the incidents' ids,
keys, links and epics, the ids seen) are parked on disk as well (``spool.TableSpool``, ``spool.Ledger``).
So a run holds a couple of search pages and one chunk, whatever the site's size, and the database is not
opened until everything is read: a failure while reading (a malformed answer, Jira gone) writes nothing at
all. The load then reads the chunks back one at a time (``load_batches``: each chunk's transform overlaps
the previous chunk's write), with DuckDB's buffer pool capped (``SYNC_MEMORY_LIMIT``). A run of one chunk,
which is every incremental run in practice, is one transaction with its actions; a larger one (a first or
``--full`` sync of a big site) commits chunk by chunk, each chunk whole incidents with their full timelines
and their words in the similar-incidents index, then the actions a slice (``transform.ACTION_SLICE``) at a
time. The new cursor is written (with ``mark_deleted`` on ``--full``, and the board's similar answers) only
after the last commit. A run that fails anywhere leaves the cursor where it was, so the next run reads the
same window again and ends in the database a run without faults gives.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pirlib import configure, db
from pirlib.config import Settings
from pirlib.errors import PirError
from pirlib.failure_modes import similar
from pirlib.files import output_folder
from pirlib.jira_sync import extract as extract_mod
from pirlib.jira_sync.client import JiraClient, RequestCounter, RetryPolicy, connect
from pirlib.jira_sync.fields import describe, resolve_fields
from pirlib.jira_sync.load import load_batches, mark_deleted
from pirlib.jira_sync.rows import Batch
from pirlib.jira_sync.spool import Spool
from pirlib.jira_sync.transform import Transformer
from pirlib.redact import redact

__all__ = ["SyncResult", "last_cursor", "run"]

SOURCE = "jira"


@dataclass
class SyncResult:
    """What one run did; ``summary()`` is the line ``pir sync`` prints."""

    run_id: str
    mode: str
    status: str
    deployment: str = ""
    incidents: int = 0
    actions: int = 0
    events: int = 0
    deleted: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    cursor: dt.datetime | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # The site's fields found and not found, and what classifies without a failure-mode field (printed once).
    field_report: list[str] = field(default_factory=list)

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def summary(self) -> str:
        where = {"cloud": "Jira Cloud", "datacenter": "Jira Data Center"}.get(self.deployment, "Jira")
        parts = [f"{self.incidents} incidents, {self.actions} actions, {self.events} events from {where}"]
        extra = f"{self.mode}, {self.request_count} requests"
        if self.retries:
            extra += f" ({self.retries} retried)"
        extra += f", {self.seconds:.1f} s"
        if self.deleted:
            extra += f", {self.deleted} flagged deleted"
        if self.warnings:
            extra += f", {len(self.warnings)} warnings"
        cursor = f"; next sync reads changes since {self.cursor:%Y-%m-%d %H:%M} UTC" if self.cursor else ""
        return f"synced {parts[0]} ({extra}){cursor}"


def last_cursor(settings: Settings) -> dt.datetime | None:
    """The cursor of the last successful run, or None (then the run reads everything)."""
    with db.connect(settings) as con:
        return _last_cursor(con)


def _last_cursor(con: Any) -> dt.datetime | None:
    row = con.execute(
        "SELECT cursor FROM sync_runs WHERE source = ? AND status = 'success' AND cursor IS NOT NULL"
        " ORDER BY finished_at DESC LIMIT 1",
        [SOURCE],
    ).fetchone()
    if not row or row[0] is None:
        return None
    return _aware(row[0])


def _server_time(info: dict[str, Any]) -> dt.datetime | None:
    """Jira's clock when the run began (``serverInfo.serverTime``), or None when it did not say."""
    value = extract_mod.jira_time(info.get("serverTime"))
    return _aware(value) if value is not None else None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _known(settings: Settings) -> extract_mod.Known:
    """What the database holds, for an incremental run to skip what the overlap window re-reads: looked up a
    page of issues at a time, each in a short connection of its own (the read holds none while Jira answers),
    so that the run's memory follows the window it reads, not the number of stored issues."""

    def updated_of(ids: list[str]) -> dict[str, dt.datetime]:
        with db.connect(settings) as con:
            rows = con.execute(
                "SELECT issue_id, updated_at FROM incidents WHERE issue_id IN (SELECT unnest($ids))"
                " AND NOT deleted AND updated_at IS NOT NULL"
                " UNION ALL SELECT issue_id, updated_at FROM actions WHERE issue_id IN (SELECT unnest($ids))"
                " AND NOT deleted AND updated_at IS NOT NULL",
                {"ids": ids},
            ).fetchall()
        return {str(issue_id): _aware(updated) for issue_id, updated in rows}

    def linked_of(epic_keys: list[str]) -> set[tuple[str, str]]:
        with db.connect(settings) as con:
            rows = con.execute(
                "SELECT DISTINCT unnest(labels), epic_key FROM incidents WHERE epic_key IN (SELECT unnest($keys))"
                " AND NOT deleted",
                {"keys": epic_keys},
            ).fetchall()
        return {(str(label), str(epic)) for label, epic in rows}

    return extract_mod.Known(updated_of, linked_of)


def _spool_folder(settings: Settings) -> Path:
    """Where a run parks what it read: beside the database file (solo: made by the run's first connection); in
    team mode beside the read model ``PIR_DB``, whose folder the run makes if needed (no database file is
    written there by a sync)."""
    folder = Path(settings.db).parent
    return output_folder(folder) if db.team_mode(settings) else folder


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    # A bar on a person's terminal; nothing in CI logs or pipes.
    return sys.stderr.isatty() and not os.environ.get("CI")


def run(
    settings: Settings,
    full: bool = False,
    *,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
    on_client: Callable[[JiraClient], None] | None = None,
) -> SyncResult:
    """Sync incidents, timelines and actions from Jira into the database; raise PirError on failure.

    ``full`` re-reads everything and flags incidents and actions Jira no longer has as deleted.
    ``retry`` tunes the retry layer (tests use short delays); ``on_client`` sees the connected client.
    """
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    result = SyncResult(run_id=uuid.uuid4().hex, mode="full" if full else "incremental", status="failed")
    counter = RequestCounter()
    with configure.open_configured(settings) as con:
        previous = _last_cursor(con)
    known = _known(settings) if previous is not None and not full else None
    bar = None
    spool: Spool | None = None
    transformer: Transformer | None = None
    try:
        client = connect(settings, policy=retry, counter=counter)
        result.deployment = client.deployment
        read_from = _server_time(client.server_info) or started
        if on_client:
            on_client(client)
        me = client.get("myself", api="2")
        zone = settings.jira_timezone or (me.get("timeZone") if isinstance(me, dict) else None) or "UTC"
        catalogue = client.get("field", api="2")
        fields = resolve_fields(catalogue, settings)
        result.field_report = describe(catalogue, fields)
        since = None if full or previous is None else previous - dt.timedelta(minutes=settings.sync_overlap_minutes)
        if _show_progress(progress):
            bar = tqdm(desc="jira issues", unit="issue", file=sys.stderr, leave=False)
        work_folder = _spool_folder(settings)
        transformer = Transformer(
            [],
            fields,
            base_url=client.base_url,
            postmortem_label=settings.postmortem_label,
            spool_folder=work_folder,
        )
        data = extract_mod.extract(
            client,
            settings,
            fields,
            since=since,
            zone=zone,
            known=known,
            progress=bar.update if bar is not None else None,
            on_others=transformer.add_others,
        )
        # Everything is read before the database is opened, so that no one waits on it while Jira answers.
        spool = Spool(work_folder, data.chunks)
        result.warnings = data.warnings
        newest = min(data.max_updated, read_from) if data.max_updated is not None else None
        cursor = max(c for c in (previous, newest) if c is not None) if (previous or newest) else None
        commit_every = 1 if spool.count > 1 else None
        with db.connect(settings) as con:
            _bound_memory(con)
            counts = load_batches(
                con,
                transformer.batches(spool.chunks()),
                synced_at=started,
                commit_every=commit_every,
                on_written=_index_text,
            )
            result.incidents, result.actions, result.events = counts["incidents"], counts["actions"], counts["events"]
            # The cursor and the deletion flags commit together, after the data: a crash in between only
            # means the next run reads this window again.
            try:
                with db.transaction(con):  # a failed COMMIT (a full disk) is reported as itself
                    if full:
                        result.deleted = mark_deleted(con, "incidents", transformer.incident_ids, synced_before=started)
                        result.deleted += mark_deleted(con, "actions", transformer.action_ids, synced_before=started)
                        similar.refresh_index(con, _indexed_but_gone(con))
                    if transformer.incident_ids or result.deleted:
                        # What the board's stored answers read moved (services, modes, start times, which are
                        # latest): they no longer hold, and are worked out again from the index the chunks
                        # brought up to date. A run that read nothing keeps them.
                        con.execute("DELETE FROM similar_answers_state")
                    similar.refresh(con, [])
                    result.status = "success"
                    result.cursor = cursor
                    _record(con, result, started, counter, settings)
            except BaseException:
                result.status = "failed"
                raise
    except PirError as exc:
        result.error = redact(exc, settings)
        exc.args = (result.error,)  # the line `pir sync` prints is made from Jira's answer too
        _record_failure(settings, result, started, counter)
        raise
    except Exception as exc:
        # A bug or an unexpected library error: record it (without secrets) and let it surface as is.
        result.error = redact(f"{type(exc).__name__}: {exc}", settings)[:1000]
        _record_failure(settings, result, started, counter)
        raise
    finally:
        if bar is not None:
            bar.close()
        if spool is not None:
            spool.close()
        if transformer is not None:
            transformer.close()
        result.seconds = time.monotonic() - clock
        result.requests = counter.snapshot()
        result.retries = counter.retries
    return result


# What DuckDB may keep in its buffer pool while a sync writes. Each chunk's upsert joins the batch with the
# whole table (incidents, incident_events) and the board's answers are worked out over the whole corpus at
# the end; by default DuckDB keeps every block it read, up to 80 % of the machine's memory, so a sync's
# memory grew with the database. With a limit, blocks are evicted (they are on disk) and big joins spill to
# a temporary folder beside the database (``<database>.tmp``, removed when the connection closes).
SYNC_MEMORY_LIMIT = "256MB"


def _bound_memory(con: Any) -> None:
    if db.dialect(con) == "duckdb":  # PostgreSQL's memory is the server's, sized by its own settings
        con.execute(f"SET memory_limit = '{SYNC_MEMORY_LIMIT}'")


def _index_text(con: Any, batch: Batch) -> None:
    """Re-count the words of a chunk's incidents (the similar-incidents index) in the chunk's transaction: a
    chunk at a time, so that the index of a first sync costs the memory of a chunk, not of the site."""
    if len(batch.incidents):
        similar.refresh_index(con, batch.incidents["issue_id"].tolist())


def _indexed_but_gone(con: Any) -> list[str]:
    """Incidents the similar-incidents index holds that are deleted now (a full run flagged them)."""
    return [
        row[0]
        for row in con.execute(
            "SELECT incident_id FROM similar_documents WHERE incident_id NOT IN"
            " (SELECT issue_id FROM incidents WHERE NOT deleted)"
        ).fetchall()
    ]


def _record(con: Any, result: SyncResult, started: dt.datetime, counter: RequestCounter, settings: Settings) -> None:
    requests = counter.snapshot()
    con.execute(
        "INSERT INTO sync_runs (run_id, started_at, finished_at, status, mode, source, cursor, requests,"
        " issues_written, actions_written, events_written, deleted_marked, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.run_id,
            started,
            dt.datetime.now(dt.UTC),
            result.status,
            result.mode,
            SOURCE,
            result.cursor,
            redact(json.dumps(requests, sort_keys=True), settings),
            result.incidents,
            result.actions,
            result.events,
            result.deleted,
            result.error,
        ],
    )


def _record_failure(settings: Settings, result: SyncResult, started: dt.datetime, counter: RequestCounter) -> None:
    result.status = "failed"
    result.cursor = None  # a failed run never moves the cursor
    try:
        with db.connect(settings) as con:
            _record(con, result, started, counter, settings)
    except PirError:
        pass  # the database itself is the problem (locked): the original error is the one to show

"""DuckDB access: short-lived connections, migrations, and a bounded wait for the file lock.

DuckDB locks the file per process: while one process holds a read-write connection no other process can
open it at all, and a read-only holder blocks every writer. So nobody keeps a connection open while a
person thinks: ``with connect() as con:`` opens, works and closes, and on a lock conflict it retries with
backoff until ``db_lock_timeout`` seconds have passed, then raises one clear error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from pirlib.config import Settings, load_settings
from pirlib.errors import DatabaseLockedError, PirError
from pirlib.failure_modes import taxonomy

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")
# Files already migrated by this process: a migration check costs a query, so do it once per file.
_migrated: set[Path] = set()


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped in pirlib/schema, in order."""
    found = []
    for entry in resources.files("pirlib.schema").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise PirError(f"two migrations share a number in pirlib/schema: {versions}; renumber one")
    return found


def views_sql() -> str:
    return resources.files("pirlib.schema").joinpath("views.sql").read_text(encoding="utf-8")


def migrate(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> list[str]:
    """Apply the migrations this file lacks, each in its own transaction; return the names applied.

    Views are recreated every time (they hold no data), and the runbook deadlines, the recurrence window
    and the failure-mode taxonomy are written from the settings so that the views use what is configured.
    """
    modes = taxonomy.load(settings.failure_mode_taxonomy if settings else None)  # a bad file fails before any write
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    con.execute("BEGIN TRANSACTION")
    con.execute(views_sql())
    if settings is not None:
        frame = pd.DataFrame(
            list(settings.stage_deadline_hours.items()), columns=["stage", "hours"]
        )
        con.register("configured_deadlines", frame)
        con.execute(
            "UPDATE review_stage_deadlines AS d SET hours = c.hours"
            " FROM configured_deadlines AS c WHERE d.stage = c.stage AND d.hours <> c.hours"
        )
        con.unregister("configured_deadlines")
        con.execute("DELETE FROM review_severities WHERE severity <> ALL (?)", [list(settings.review_severities)])
        con.execute(
            "INSERT INTO review_severities SELECT unnest(?) ON CONFLICT DO NOTHING",
            [list(settings.review_severities)],
        )
        con.execute("UPDATE recurrence_window SET days = ? WHERE days <> ?", [settings.recurrence_window_days] * 2)
    taxonomy.store(con, modes)
    con.execute("COMMIT")
    return applied


def _is_lock_error(exc: Exception) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


def _locked_out(path: Path, timeout: float) -> DatabaseLockedError:
    return DatabaseLockedError(
        f"{path} stayed locked by another process for {timeout:g} s; close the other pir "
        "process or notebook kernel that holds it, or raise PIR_DB_LOCK_TIMEOUT"
    )


def _backoff(deadline: float, delay: float) -> float:
    """Sleep a jittered ``delay`` (never past ``deadline``); return the next, longer delay."""
    time.sleep(max(0.0, min(deadline - time.monotonic(), delay * (0.5 + random.random()))))
    return min(delay * 2, 0.05)


def _flock(path: Path, operation: int, deadline: float, db_path: Path, timeout: float) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _locked_out(db_path, timeout) from None
            delay = _backoff(deadline, delay)


@contextlib.contextmanager
def _turn(db_path: Path, read_only: bool, deadline: float, timeout: float) -> Iterator[None]:
    """Take pir's own reader/writer lock on side files next to the database, writers first.

    DuckDB's file lock has no queue: five dashboards that keep reopening the file read-only can starve a
    writer for as long as they refresh. So every pir process passes a gate first: a writer holds the gate
    while it waits, which stops new readers, and the readers already inside finish their short reads.
    """
    gate = db_path.with_name(db_path.name + ".gate")
    turn = db_path.with_name(db_path.name + ".turn")
    if read_only:
        gate_fd = _flock(gate, fcntl.LOCK_SH, deadline, db_path, timeout)
        os.close(gate_fd)  # only to wait while a writer is queued
        fd = _flock(turn, fcntl.LOCK_SH, deadline, db_path, timeout)
        held = [fd]
    else:
        gate_fd = _flock(gate, fcntl.LOCK_EX, deadline, db_path, timeout)
        try:
            fd = _flock(turn, fcntl.LOCK_EX, deadline, db_path, timeout)
        except BaseException:
            os.close(gate_fd)
            raise
        held = [fd, gate_fd]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)


# Rows per DuckDB row group in what pir writes (DuckDB's default is 122,880). pir's tables are small next to
# that default: an incidents table of a large site is a single row group, and a checkpoint after rows were
# appended rewrites the whole of it, ``raw`` JSON and all (measured: 0.2 s at 12.5k incidents, 1.7 s at
# 100k, for the same 12.5k appended). An insert of at least a row group is also written straight into the
# file instead of through the write-ahead log. bench/bench_load.py with 16,384: 7.9-9.5 s instead of
# 10.3-11.1 s. It applies to what this connection writes; rows written before keep their row groups.
ROW_GROUP_SIZE = 16_384
_RESERVED_CATALOGS = {"memory", "system", "temp"}


def _open(path: Path, read_only: bool, deadline: float, timeout: float) -> duckdb.DuckDBPyConnection:
    # pir's own processes are queued by _turn; this loop waits out anything else (the duckdb CLI, say).
    delay = 0.01
    while True:
        try:
            if read_only:
                return duckdb.connect(str(path), read_only=True)
            return _open_for_writing(path)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise _locked_out(path, timeout) from None
            delay = _backoff(deadline, delay)


def _open_for_writing(path: Path) -> duckdb.DuckDBPyConnection:
    """The database file attached with pir's ``ROW_GROUP_SIZE`` (an ATTACH option, not a setting) as the
    connection's default catalog, under the name ``duckdb.connect(path)`` gives it (the file's stem)."""
    con = duckdb.connect(":memory:")
    try:
        name = path.stem if path.stem.lower() not in _RESERVED_CATALOGS else "pir"
        quoted_path = str(path).replace("'", "''")
        quoted_name = name.replace('"', '""')
        con.execute(f"""ATTACH '{quoted_path}' AS "{quoted_name}" (ROW_GROUP_SIZE {ROW_GROUP_SIZE})""")
        con.execute(f'USE "{quoted_name}"')
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def connect(
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    path: Path | str | None = None,
    auto_migrate: bool = True,
    create: bool = True,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the pir database for one unit of work and close it afterwards.

    A read-write open creates the file (unless ``create`` is False) and applies pending migrations the first
    time this process sees it. A read-only open, or one with ``create=False``, of a file that does not exist
    yet raises a PirError that says how to create it.
    """
    settings = settings or load_settings()
    db_path = Path(path or settings.db)
    if (read_only or not create) and not db_path.exists():
        raise PirError(f"{db_path} does not exist yet; run `pir init` (or `pir demo` for sample data)")
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    timeout = settings.db_lock_timeout
    deadline = time.monotonic() + timeout
    with _turn(db_path, read_only, deadline, timeout):
        con = _open(db_path, read_only, deadline, timeout)
        try:
            con.execute("SET TimeZone = 'UTC'")
            resolved = db_path.resolve()
            if auto_migrate and not read_only and resolved not in _migrated:
                migrate(con, settings)
                _migrated.add(resolved)
            yield con
        finally:
            con.close()


def init(settings: Settings | None = None) -> list[str]:
    """Create or upgrade the database; return the migrations applied now."""
    settings = settings or load_settings()
    with connect(settings, auto_migrate=False) as con:
        applied = migrate(con, settings)
    _migrated.add(Path(settings.db).resolve())
    return applied


def upsert_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, key: list[str] | str
) -> int:
    """Insert or replace rows of ``frame`` into ``table`` by ``key`` in one set-based statement.

    The batch is deduplicated by key first (the last row wins) because one statement cannot touch a key
    twice. Columns of the table missing from the frame keep their current values on update and their
    defaults on insert.
    """
    if frame.empty:
        return 0
    keys = [key] if isinstance(key, str) else list(key)
    frame = frame.drop_duplicates(subset=keys, keep="last")
    columns = list(frame.columns)
    name = f"_upsert_{table}"
    con.register(name, frame)
    try:
        column_list = ", ".join(f'"{c}"' for c in columns)
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
        conflict = ", ".join(f'"{k}"' for k in keys)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        con.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {name} "
            f"ON CONFLICT ({conflict}) {action}"
        )
    finally:
        con.unregister(name)
    return len(frame)

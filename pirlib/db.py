"""The store: the one module that knows which database pir writes (solo: the DuckDB file; team: PostgreSQL).

``connect`` opens the system of record for one unit of work: the DuckDB file ``PIR_DB`` by default, or, with
``PIR_DATABASE_URL`` set, PostgreSQL through ``pirlib.pg`` (a connection with the same small API). Module code
is shared; where the two dialects differ it asks ``dialect(con)`` and keeps both variants side by side.
``read_model`` opens the DuckDB file boards and analysts read: the database itself when solo, the read model
``pir snapshot`` publishes in team mode. Migrations exist for both (``pirlib/schema`` and
``pirlib/schema/postgres``).

DuckDB locks the file per process: while one process holds a read-write connection no other process can
open it at all, and a read-only holder blocks every writer. So nobody keeps a connection open while a
person thinks: ``with connect() as con:`` opens, works and closes, and on a lock conflict it retries with
backoff until ``db_lock_timeout`` seconds have passed, then raises one clear error.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import random
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

import duckdb
import pandas as pd
import psycopg

from pirlib import pg
from pirlib.config import Settings, load_settings
from pirlib.errors import DatabaseLockedError, PirError
from pirlib.files import fix_for_message, os_error

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")
# Files already migrated by this process: a migration check costs a query, so do it once per file.
_migrated: set[Path | str] = set()

Connection: TypeAlias = duckdb.DuckDBPyConnection | pg.PgConnection
Dialect = Literal["duckdb", "postgres"]
_SCHEMA_PACKAGE: dict[Dialect, str] = {"duckdb": "pirlib.schema", "postgres": "pirlib.schema.postgres"}


def dialect(con: Connection) -> Dialect:
    """Which SQL the connection speaks, for the few statements the two stores spell differently."""
    return "postgres" if isinstance(con, pg.PgConnection) else "duckdb"


def team_mode(settings: Settings) -> bool:
    return settings.database_url is not None


def describe(settings: Settings) -> str:
    """The store in words, for messages: the DuckDB file, or PostgreSQL's URL without its password."""
    return pg.describe(settings.database_url.reveal()) if settings.database_url is not None else str(settings.db)


def migrations(kind: Dialect = "duckdb") -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped for a store, in order."""
    found = []
    for entry in resources.files(_SCHEMA_PACKAGE[kind]).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise PirError(f"two migrations share a number in pirlib/schema: {versions}; renumber one")
    return found


def views_sql(kind: Dialect = "duckdb") -> str:
    return resources.files(_SCHEMA_PACKAGE[kind]).joinpath("views.sql").read_text(encoding="utf-8")


def migrate(con: Connection) -> list[str]:
    """Apply the migrations this file lacks, each in its own transaction; return the names applied.

    Views are recreated every time (they hold no data). The configured values the views read (deadlines,
    severities, recurrence window, taxonomy) are written by ``pirlib.configure.apply``, not here.
    """
    kind = dialect(con)
    if kind == "postgres":
        # Two pir processes starting at once against a new database: one migrates, the other waits for it.
        con.execute("SELECT pg_advisory_lock(hashtext('pir migrate'))")
    try:
        if kind == "duckdb":
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        elif one(con, "SELECT to_regclass('schema_migrations')")[0] is None:
            done = set()  # the baseline makes the table in its own transaction: a database it refuses stays empty
        else:
            done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in migrations(kind):
            if version in done:
                continue
            with transaction(con):
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            applied.append(name)
        views = views_sql(kind)
        if kind == "duckdb":  # cheap, and a DuckDB file holds no record of which views.sql made its views
            with transaction(con):
                con.execute(views)
        else:
            # Replacing a view waits for every query that reads it: only when views.sql changed.
            stamp = "pir views " + hashlib.sha256(views.encode()).hexdigest()[:16]
            if one(con, "SELECT obj_description('schema_migrations'::regclass, 'pg_class')")[0] != stamp:
                with transaction(con):
                    con.execute(views)
                    con.execute(f"COMMENT ON TABLE schema_migrations IS '{stamp}'")
    finally:
        if kind == "postgres":
            con.execute("SELECT pg_advisory_unlock(hashtext('pir migrate'))")
    return applied


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN, then COMMIT, or ROLLBACK on an error and re-raise that error.

    A COMMIT that fails (a full disk) has already ended the transaction; the ROLLBACK after it would fail
    with "no transaction is active" and hide the error that says what happened.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error, psycopg.Error):
            con.execute("ROLLBACK")
        raise


# What each store raises for every statement after a failed one, until the transaction is rolled back.
ABORTED = (duckdb.TransactionException, psycopg.errors.InFailedSqlTransaction)


def drop_temp(con: Connection, *names: str) -> None:
    """Drop temporary tables, also after a failed statement: the store then refuses every statement until the
    rollback (which drops them anyway), and that refusal must not replace the error that caused it."""
    with contextlib.suppress(*ABORTED):
        for name in names:
            con.execute(f"DROP TABLE IF EXISTS {name}")


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


def _lock_file(path: Path, read_only: bool, db_path: Path) -> int | None:
    """An open descriptor of a lock file; None when a reader can neither create nor open one.

    A reader of a database in a read-only folder, or in one owned by another user, still reads: it opens
    an existing lock file read-only (flock does not need write access), and without one it skips pir's
    queue and relies on DuckDB's own lock. A writer that cannot create the lock file cannot write the
    database either, which is the error it gets.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if not read_only:
            raise os_error(exc, db_path, "cannot write the database") from None
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _flock(path: Path, operation: int, deadline: float, db_path: Path, timeout: float) -> int | None:
    fd = _lock_file(path, operation == fcntl.LOCK_SH, db_path)
    if fd is None:
        return None
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
        if gate_fd is not None:
            os.close(gate_fd)  # only to wait while a writer is queued
        held = [_flock(turn, fcntl.LOCK_SH, deadline, db_path, timeout)]
    else:
        gate_fd = _flock(gate, fcntl.LOCK_EX, deadline, db_path, timeout)
        try:
            fd = _flock(turn, fcntl.LOCK_EX, deadline, db_path, timeout)
        except BaseException:
            if gate_fd is not None:
                os.close(gate_fd)
            raise
        held = [fd, gate_fd]
    try:
        yield
    finally:
        for fd in held:
            if fd is not None:
                os.close(fd)


def one_at_a_time(con: Connection, name: str) -> None:
    """Inside the caller's transaction: wait until no other pir process is inside one for ``name`` on this store.

    For a read-then-claim (reminders, the digest) that two runs (cron and a person) must not both make. DuckDB
    lets one writing process at a time into the file already; PostgreSQL takes a transaction advisory lock on
    ``name``, released at COMMIT or ROLLBACK.
    """
    if dialect(con) == "postgres":
        con.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [name])


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
                raise _unreadable(path, exc) from None
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


# DuckDB errors that are about the file rather than the statement: found in a query's error, they mean the
# database is damaged (a block that fails its checksum, a file cut short), not that the SQL is wrong.
_DAMAGE_MARKERS = (
    "Corrupt database",
    "checksum",
    "Could not read enough bytes",
    "not a valid DuckDB database",
    "invalidated because of a previous fatal error",
)


def _unreadable(path: Path, exc: Exception) -> PirError:
    """One line for a database file DuckDB cannot open or write: the file, what is wrong, the fix."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    fix = fix_for_message(detail)
    if fix:
        return PirError(f"cannot use the database {path}: {fix}")
    return PirError(
        f"{path} is not a pir database DuckDB can read ({detail}); restore it from a backup, or move it "
        "away and run `pir init` and `pir sync` (or `pir demo`) to make a new one"
    )


def _is_damage(path: Path, exc: Exception) -> bool:
    # An IOException about another file (a COPY target, a CSV a query reads) is the statement's problem.
    text = str(exc)
    return (
        isinstance(exc, duckdb.FatalException)
        or any(marker in text for marker in _DAMAGE_MARKERS)
        or any(str(name) in text for name in {path.absolute(), path.resolve()})
    )


def _remove_new_file(path: Path) -> None:
    """Remove a database this connection created and could not finish: a half-made file is no database."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def connect(
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    path: Path | str | None = None,
    auto_migrate: bool = True,
    create: bool = True,
) -> Iterator[Connection]:
    """Open the store for one unit of work and close it afterwards.

    Team mode (``PIR_DATABASE_URL``): PostgreSQL, migrated the first time this process connects. Solo, or
    with an explicit ``path``: the DuckDB file. A read-write open creates the file (unless ``create`` is
    False) and applies pending migrations the first time this process sees it. A read-only open, or one with
    ``create=False``, of a file that does not exist yet raises a PirError that says how to create it.
    """
    settings = settings or load_settings()
    if settings.database_url is not None and path is None:
        with _connect_postgres(settings, read_only=read_only, auto_migrate=auto_migrate) as pg_con:
            yield pg_con
        return
    with _connect_duckdb(settings, read_only=read_only, path=path, auto_migrate=auto_migrate, create=create) as con:
        yield con


@contextlib.contextmanager
def read_model(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB file boards and analysts read, read-only: the database itself when solo; in team mode the read
    model at ``PIR_DB`` that `pir snapshot` replaces whole, so that no reader ever blocks a writer."""
    settings = settings or load_settings()
    if team_mode(settings) and not Path(settings.db).exists():
        raise PirError(
            f"the read model {settings.db} does not exist yet; run `pir snapshot` (or `pir sync`) to publish it"
        )
    with _connect_duckdb(settings, read_only=True) as con:
        yield con


@contextlib.contextmanager
def _connect_postgres(settings: Settings, *, read_only: bool, auto_migrate: bool) -> Iterator[pg.PgConnection]:
    assert settings.database_url is not None
    url = settings.database_url.reveal()
    con = pg.connect(url, timeout=settings.db_lock_timeout, read_only=read_only)
    try:
        if auto_migrate and not read_only and url not in _migrated:
            migrate(con)
            _migrated.add(url)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def _connect_duckdb(
    settings: Settings,
    *,
    read_only: bool = False,
    path: Path | str | None = None,
    auto_migrate: bool = True,
    create: bool = True,
) -> Iterator[duckdb.DuckDBPyConnection]:
    db_path = Path(path or settings.db)
    if db_path.is_dir():
        raise PirError(f"the database {db_path} is a folder; set PIR_DB to a file such as {db_path / 'pir.duckdb'}")
    if (read_only or not create) and not db_path.exists():
        raise PirError(f"{db_path} does not exist yet; run `pir init` (or `pir demo` for sample data)")
    if not read_only:
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, db_path.parent, "cannot create the database's folder") from None
    timeout = settings.db_lock_timeout
    deadline = time.monotonic() + timeout
    with _turn(db_path, read_only, deadline, timeout):
        new_file = not read_only and not db_path.exists()
        try:
            con = _open(db_path, read_only, deadline, timeout)
        except BaseException:
            if new_file:
                _remove_new_file(db_path)
            raise
        try:
            con.execute("SET TimeZone = 'UTC'")
            resolved = db_path.resolve()
            if auto_migrate and not read_only and resolved not in _migrated:
                migrate(con)
                _migrated.add(resolved)
            yield con
        except duckdb.Error as exc:
            con.close()
            if new_file:
                _remove_new_file(db_path)
            if _is_damage(db_path, exc):
                raise _unreadable(db_path, exc) from None
            raise
        except BaseException:
            con.close()
            if new_file:
                _remove_new_file(db_path)
            raise
        finally:
            con.close()


def init(settings: Settings | None = None) -> list[str]:
    """Create or upgrade the database; return the migrations applied now."""
    settings = settings or load_settings()
    with connect(settings, auto_migrate=False) as con:
        applied = migrate(con)
    _migrated.add(settings.database_url.reveal() if settings.database_url else Path(settings.db).resolve())
    return applied


def upsert_frame(con: Connection, table: str, frame: pd.DataFrame, key: list[str] | str) -> int:
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
            f"INSERT INTO {table} ({column_list}) SELECT {cast_to(con, table, columns)} FROM {name}"
            f" ON CONFLICT ({conflict}) {action}"
        )
    finally:
        con.unregister(name)
    return len(frame)


def columns_of(con: Connection, table: str) -> list[str]:
    """A table's columns in order (``information_schema`` speaks both dialects; DESCRIBE is DuckDB's)."""
    return [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def as_table_types(con: Connection, table: str, columns: list[str], alias: str | None = None) -> dict[str, str]:
    """Each of a registered frame's ``columns`` (read through ``alias``, if given) as an expression of ``table``'s
    type for that column. DuckDB casts on assignment and compares across types; PostgreSQL does neither from
    text to a date or JSON, and a frame's column that holds only None is registered as text."""
    prefix = f"{alias}." if alias else ""
    types = con.column_types(table) if isinstance(con, pg.PgConnection) else {}
    return {c: f'CAST({prefix}"{c}" AS {types[c]})' if c in types else f'{prefix}"{c}"' for c in columns}


def cast_to(con: Connection, table: str, columns: list[str]) -> str:
    """The frame's columns as the select list of an INSERT into ``table`` (``as_table_types``)."""
    return ", ".join(as_table_types(con, table, columns).values())


def one(con: Connection, sql: str, params: Any = None) -> tuple[Any, ...]:
    """The row of a query that always returns one: an aggregate, an UPDATE's count, or the row of an incident
    that was resolved before. None from such a query is a bug, not bad input; the error names the query."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"no row from a query that always returns one: {sql}")
    return row

"""The read model of team mode: `pir snapshot` copies PostgreSQL into the DuckDB file boards and analysts read.

In team mode PostgreSQL is the system of record and nobody writes the DuckDB file ``PIR_DB`` but this module:
it is rebuilt whole from one consistent instant of PostgreSQL (one REPEATABLE READ, read-only transaction)
with the schema and views of ``pirlib/schema`` (docs/schema.md, the analysts' API in both modes), written to
a new file in a temporary folder beside ``PIR_DB``, checkpointed and closed (no ``.wal``), fsynced, and renamed
over ``PIR_DB`` (``os.replace``, then the folder fsynced).

Readers (``db.read_model``) open ``PIR_DB`` read-only for one unit of work. A reader in the middle of a query
when a new file is renamed in keeps the old one (its open descriptor holds the old inode, which the file
system frees when it closes); the next open sees the new file. So the snapshot never waits for a reader and
takes none of the reader/writer side-file locks of ``db.connect`` (``.gate``, ``.turn``): it never opens
``PIR_DB`` for writing. Snapshots queue among themselves on their own lock file (``PIR_DB.snapshot``), so
that the one `pir sync` starts at its end is never overtaken by an older one from the schedule.

The copy is in bulk: each table leaves PostgreSQL as one ``COPY ... TO STDOUT`` in CSV into a file in the
temporary folder, which DuckDB's CSV reader loads with the read model's column types (arrays travel as JSON);
the next table is read from PostgreSQL while DuckDB loads the last one.

The file says what it is: ``schema_migrations`` has the comment ``pir read model of <server> as of <time>``.
A ``PIR_DB`` without it is someone's solo database, which a snapshot refuses to overwrite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import duckdb
import psycopg

from pirlib import db, pg
from pirlib.config import Settings
from pirlib.errors import PirError
from pirlib.files import os_error, output_folder
from pirlib.redact import redact

__all__ = ["MARK", "Snapshot", "Stopped", "Table", "every", "publish", "tables"]

MARK = "pir read model"


@dataclass(frozen=True)
class Snapshot:
    """What one snapshot published."""

    path: Path
    source: str  # the server and database, without a password (pg.describe)
    taken_at: dt.datetime  # the instant of PostgreSQL it shows (UTC)
    rows: dict[str, int] = field(default_factory=dict)  # rows per table
    bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"published the read model {self.path}: {len(self.rows)} tables, {sum(self.rows.values()):,} rows, "
            f"{self.bytes / 1e6:.1f} MB, from {self.source} as of {self.taken_at:%Y-%m-%d %H:%M:%S} UTC "
            f"in {self.seconds:.1f} s"
        )


def publish(settings: Settings, stopping: Callable[[], bool] = lambda: False) -> Snapshot:
    """Copy PostgreSQL into a new read model and put it in place of ``settings.db``; return what was published.

    A failure anywhere (PostgreSQL down, a full disk, a table PostgreSQL lacks) leaves the published file as it
    was and no temporary file behind, and is a PirError. ``stopping`` is asked between tables: when it says
    yes, the round gives up the same way (the file as it was, nothing left behind) with ``Stopped``.
    """
    if not db.team_mode(settings):
        raise PirError(
            "pir snapshot builds team mode's read model from PostgreSQL, and PIR_DATABASE_URL is not set; "
            f"solo, boards and analysts read {settings.db} itself"
        )
    assert settings.database_url is not None
    source = pg.describe(settings.database_url.reveal())
    target = Path(settings.db)
    if target.is_dir():
        raise PirError(f"the read model {target} is a folder; set PIR_DB to a file such as {target / 'pir.duckdb'}")
    output_folder(target.parent)
    started = time.perf_counter()
    with _queue(target, settings.db_lock_timeout):
        _remove_leftovers(target)
        _check_replaceable(target, settings)
        try:
            folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.snapshot-", dir=target.parent))
        except OSError as exc:
            raise os_error(exc, target.parent, "cannot write the read model's folder") from None
        try:
            built = folder / target.name
            taken_at, rows = _build(settings, built, folder, source, stopping)
            _put_in_place(built, target)
        except (psycopg.Error, duckdb.Error) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise PirError(
                f"the snapshot of {source} failed ({redact(detail, settings)}); the read model {target} is unchanged"
            ) from None
        except OSError as exc:
            raise os_error(exc, target, "cannot write the read model") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        size = target.stat().st_size
    return Snapshot(target, source, taken_at, rows, size, time.perf_counter() - started)


def every(settings: Settings, seconds: float, say: Callable[[str, bool], None]) -> int:
    """Publish a snapshot every ``seconds`` (counted from each start; a round that took longer is followed at
    once) until SIGTERM or SIGINT. A failed round is one error line through ``say(line, True)``; the next round
    tries again. Returns 0 on SIGTERM (a service being stopped); SIGINT raises KeyboardInterrupt as usual.

    SIGTERM only raises a flag, which the loop reads between rounds and the round between tables: an exception
    raised from the handler would surface inside whatever C code was running, and DuckDB turns it into its own
    "Query interrupted" error, which a round reports and the schedule survives (the service would never stop).
    """
    stop = threading.Event()  # the loop only asks is_set, which takes no lock

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while not stop.is_set():
            round_started = time.monotonic()
            try:
                say(publish(settings, stop.is_set).summary(), False)
            except Stopped:
                break
            except Exception as exc:  # one line per failed round; the schedule goes on
                message = str(exc) if isinstance(exc, PirError) else f"{type(exc).__name__}: {exc}"
                say(f"pir snapshot: error: {redact(' '.join(message.split()), settings)}", True)
            # Until the next round in slices: a signal does not cut time.sleep short (PEP 475), and Event.wait
            # would take the lock the handler's set takes.
            while not stop.is_set() and (left := round_started + seconds - time.monotonic()) > 0:
                time.sleep(min(left, 0.1))
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


class Stopped(Exception):
    """The round was asked to stop (SIGTERM): nothing was published and nothing is left behind."""


# -- queueing and the file in place ------------------------------------------------------------------------


@contextlib.contextmanager
def _queue(target: Path, timeout: float) -> Iterator[None]:
    """One snapshot of ``target`` at a time: the others wait up to ``timeout`` seconds for it."""
    lock = target.with_name(target.name + ".snapshot")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise os_error(exc, lock, "cannot write the read model's lock file") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PirError(
                        f"another pir snapshot was still writing {target} after {timeout:g} s; let it finish, "
                        "or raise PIR_DB_LOCK_TIMEOUT"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _remove_leftovers(target: Path) -> None:
    """Temporary folders of snapshots that were killed: whoever holds the queue is the only one building."""
    for leftover in target.parent.glob(f".{target.name}.snapshot-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _check_replaceable(target: Path, settings: Settings) -> None:
    """Refuse to replace a file that is not a read model: in solo mode ``PIR_DB`` is the only copy of a team's
    reviews, and setting PIR_DATABASE_URL must not make the next `pir sync` throw them away."""
    if not target.exists():
        return
    try:
        with db.read_model(settings) as con:
            row = con.execute(
                "SELECT comment FROM duckdb_tables() WHERE database_name = current_database()"
                " AND schema_name = 'main' AND table_name = 'schema_migrations'"
            ).fetchone()
    except PirError as exc:
        raise PirError(
            f"{target} is in the way of the read model: {exc}; pir snapshot writes the read model there, so move "
            "the file away (or set PIR_DB to another file for the read model)"
        ) from None
    if row is None or not str(row[0] or "").startswith(MARK):
        raise PirError(
            f"{target} holds a solo pir database, not the read model pir snapshot publishes; move it away (or set "
            "PIR_DB to another file for the read model) so that team mode does not overwrite it"
        )


def _put_in_place(built: Path, target: Path) -> None:
    """Make ``built`` durable, then rename it over ``target`` and make the rename durable."""
    if target.exists():
        os.chmod(built, target.stat().st_mode & 0o7777)  # as the operator left it for the readers
    else:
        os.chmod(built, 0o644)
    fd = os.open(built, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    # A write-ahead log beside the target would be replayed into the new file by its next reader. Only a
    # solo process writing the read model (run without PIR_DATABASE_URL) leaves one, and what it wrote is
    # not in PostgreSQL: the snapshot replaces it as it replaces the file.
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(built, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a file system that cannot sync a folder
            raise
    finally:
        os.close(folder)


# -- the copy ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[tuple[str, str]]  # (name, DuckDB type) in the read model's order

    def select(self) -> str:
        """What PostgreSQL sends: the columns in order, arrays as JSON (CSV has no array syntax DuckDB reads)."""
        return ", ".join(
            f"array_to_json({_quote(c)})" if kind.endswith("[]") else _quote(c) for c, kind in self.columns
        )

    def read(self, csv: Path) -> str:
        """DuckDB's INSERT from that CSV file: text for arrays and JSON, the column's own type for the rest."""
        types = ", ".join(
            f"{_literal(c)}: {_literal('VARCHAR' if kind.endswith('[]') or kind == 'JSON' else kind)}"
            for c, kind in self.columns
        )
        values = ", ".join(
            f"CAST(CAST({_quote(c)} AS JSON) AS {kind})" if kind.endswith("[]") else _quote(c)
            for c, kind in self.columns
        )
        # PostgreSQL writes NULL as an empty field and an empty string as "": allow_quoted_nulls keeps them apart.
        options = "header = false, auto_detect = false, allow_quoted_nulls = false, quote = '\"', escape = '\"'"
        return (
            f"INSERT INTO {_quote(self.name)} SELECT {values} "
            f"FROM read_csv({_literal(str(csv))}, columns = {{{types}}}, {options})"
        )


def _build(
    settings: Settings, built: Path, folder: Path, source: str, stopping: Callable[[], bool]
) -> tuple[dt.datetime, dict[str, int]]:
    """The read model in ``built``, copied from one instant of PostgreSQL; return that instant and the rows."""
    rows: dict[str, int] = {}
    # Read-only: a snapshot never writes PostgreSQL (a role with SELECT alone will do), so it does not migrate
    # either; the next writing command does, and until then the check below says so.
    with db.connect(settings, read_only=True) as store, _consistent(store) as (raw, taken_at):
        _check_versions(store, source)
        with db.connect(settings, path=built, auto_migrate=False) as duck:
            assert isinstance(duck, duckdb.DuckDBPyConnection)
            duck.execute("SET enable_progress_bar = false")  # a service's log is no terminal
            db.migrate(duck)
            copied = tables(duck)
            _check_columns(store, copied, source)
            with db.transaction(duck):
                for table in copied:
                    duck.execute(f"DELETE FROM {_quote(table.name)}")  # the rows the migrations seed
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pir-snapshot") as reader:
                    # PostgreSQL writes the next table's CSV while DuckDB loads this one.
                    pending: Future[Path] | None = None
                    for index, table in enumerate(copied):
                        if stopping():
                            raise Stopped
                        csv = pending.result() if pending else _copy_out(raw, table, folder)
                        if index + 1 < len(copied):
                            pending = reader.submit(_copy_out, raw, copied[index + 1], folder)
                        rows[table.name] = db.one(duck, table.read(csv))[0]
                        csv.unlink()
            mark = f"{MARK} of {source} as of {taken_at.isoformat()}"
            duck.execute(f"COMMENT ON TABLE schema_migrations IS {_literal(mark)}")
            duck.execute("CHECKPOINT")
    if built.with_name(built.name + ".wal").exists():
        raise PirError(
            f"DuckDB left a write-ahead log beside {built} after its checkpoint; the read model is unchanged"
        )
    return taken_at, rows


@contextlib.contextmanager
def _consistent(store: db.Connection) -> Iterator[tuple[psycopg.Connection, dt.datetime]]:
    """One REPEATABLE READ, read-only transaction: every table is read as of the same instant."""
    assert isinstance(store, pg.PgConnection)
    raw = store.raw
    raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        # How PostgreSQL writes values DuckDB then reads: ISO dates, times in UTC, doubles to the last digit.
        raw.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        raw.execute("SET LOCAL TimeZone = 'UTC'")
        raw.execute("SET LOCAL extra_float_digits = 3")
        row = raw.execute("SELECT now()").fetchone()
        assert row is not None
        yield raw, row[0].astimezone(dt.UTC)
    finally:
        with contextlib.suppress(psycopg.Error):
            raw.execute("ROLLBACK")  # read-only: nothing to commit


def tables(duck: duckdb.DuckDBPyConnection) -> list[Table]:
    """The tables of a pir DuckDB file, their columns in order, but schema_migrations: that records the migrations
    that made the file (PostgreSQL has its own baseline instead of DuckDB's 001-010)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in duck.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() AS c"
        " JOIN duckdb_tables() AS t USING (database_name, schema_name, table_name)"
        " WHERE c.database_name = current_database() AND c.schema_name = 'main'"
        " AND c.table_name <> 'schema_migrations' ORDER BY c.table_name, c.column_index"
    ).fetchall():
        found.setdefault(table, []).append((column, kind))
    return [Table(name, columns) for name, columns in found.items()]


def _check_versions(store: db.Connection, source: str) -> None:
    """PostgreSQL must be at this pir's schema: a newer pir migrated it, or the read model would lack columns."""
    if db.one(store, "SELECT to_regclass('schema_migrations') IS NULL")[0]:
        raise PirError(f"PostgreSQL at {source} holds no pir database yet; run `pir init` to create it")
    known = {version: name for version, name, _ in db.migrations("duckdb")}
    newer = sorted(
        (version, name)
        for version, name in store.execute("SELECT version, name FROM schema_migrations").fetchall()
        if version not in known
    )
    if newer:
        version, name = newer[-1]
        raise PirError(
            f"PostgreSQL at {source} is at migration {name}, newer than this pir knows (up to "
            f"{known[max(known)]}); upgrade pir where pir snapshot runs"
        )


def _check_columns(store: db.Connection, copied: list[Table], source: str) -> None:
    present: dict[str, set[str]] = {}
    for table, column in store.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    ).fetchall():
        present.setdefault(table, set()).add(column)
    for table in copied:
        if table.name not in present:
            raise PirError(f"PostgreSQL at {source} has no table {table.name}; run `pir init` to migrate it")
        lacking = [c for c, _ in table.columns if c not in present[table.name]]
        if lacking:
            raise PirError(
                f"PostgreSQL at {source} lacks the column {table.name}.{lacking[0]}; run `pir init` to migrate it"
            )


def _copy_out(raw: psycopg.Connection, table: Table, folder: Path) -> Path:
    csv = folder / f"{table.name}.csv"
    with csv.open("wb") as out, raw.cursor() as cursor:
        with cursor.copy(f"COPY (SELECT {table.select()} FROM {_quote(table.name)}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                out.write(block)
    return csv


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

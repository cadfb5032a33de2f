"""The same data in either store, for the modules marked ``both_stores`` whose tests start from a DuckDB file.

Some tests start from a database built once through the solo path (the demo sample, the Stage-31 review on
top of it): rebuilding that in PostgreSQL for every test would cost seconds each. ``on_store`` gives such a
test its data in the store under test: the DuckDB file as it is, or a fresh PostgreSQL database holding a copy
of every table's rows (bulk, through ``pirlib.pg``'s ``register``: no row-by-row inserts), with
``database_url`` set. A copy of a file that does not change (the demo) is made once per process and then
cloned by PostgreSQL (``CREATE DATABASE ... TEMPLATE``), which takes a fraction of a second.

``contents`` is what "writes nothing" compares: the DuckDB file's bytes, or every PostgreSQL table's rows.
``environment`` is what a `pir` command run in the test needs to use the same store. ``two_runs_at_once``
runs a command's work twice at one moment, for the claims two runs (cron and a person) must not both make.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import TypeVar
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pytest

from pirlib import db
from pirlib.config import Secret, Settings

T = TypeVar("T")

_TEMPLATES: dict[tuple[Path, int, int], str] = {}  # (file, size, mtime) -> name of a database holding its copy


def tables(con: db.Connection) -> list[str]:
    """The store's own tables (not its views), by name; ``schema_migrations`` is each store's own."""
    schema = "main" if db.dialect(con) == "duckdb" else "public"
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'"
        " AND table_name <> 'schema_migrations' ORDER BY table_name",
        [schema],
    ).fetchall()
    return [name for (name,) in rows]


def copy_into(source: Path, target: Settings) -> None:
    """Every table's rows of the DuckDB file ``source`` into the (migrated, emptied) store of ``target``."""
    with duckdb.connect(str(source), read_only=True) as src, db.connect(target) as dst:
        with db.transaction(dst):
            for table in tables(src):
                dst.execute(f"DELETE FROM {table}")  # rows a migration seeds: the copy is the file's own
                frame = _as_text_where_wide(src.sql(f"SELECT * FROM {table}").to_arrow_table())
                if not frame.num_rows:
                    continue
                types = dst.column_types(table)  # type: ignore[union-attr]
                names = ", ".join(f'"{c}"' for c in frame.column_names)
                # Arrow's JSON and text columns arrive as text: cast each to the table's own type.
                select = ", ".join(f'CAST("{c}" AS {types[c]})' for c in frame.column_names)
                dst.register("_copy", frame)
                dst.execute(f"INSERT INTO {table} ({names}) SELECT {select} FROM _copy")
                dst.unregister("_copy")


def _as_text_where_wide(frame: pa.Table) -> pa.Table:
    """UBIGINT (fingerprints) does not fit PostgreSQL's bigint: such columns go as text, cast by the INSERT."""
    for i, field in enumerate(frame.schema):
        if pa.types.is_uint64(field.type):
            frame = frame.set_column(i, field.name, frame.column(i).cast(pa.string()))
    return frame


def on_store(store: str, solo: Settings, *, source: Path | None = None) -> Settings:
    """``solo`` (settings on a DuckDB file) for the ``duckdb`` store; for ``postgres`` the same settings on a
    fresh PostgreSQL database holding a copy of the rows of ``solo.db``, or of ``source``: a file that does not
    change during the run (the demo), copied once and then cloned for each test."""
    if store == "duckdb":
        return solo
    from support import postgres

    server = postgres.server()
    if source is None:
        team = dataclasses.replace(solo, database_url=Secret(server.fresh_database()))
        copy_into(Path(solo.db), team)
        return team
    stat = source.stat()
    key = (source.resolve(), stat.st_size, stat.st_mtime_ns)
    if key not in _TEMPLATES:
        url = server.fresh_database()
        copy_into(source, dataclasses.replace(solo, database_url=Secret(url)))
        _TEMPLATES[key] = urlsplit(url).path.lstrip("/")
    return dataclasses.replace(solo, database_url=Secret(server.fresh_database(template=_TEMPLATES[key])))


def contents(settings: Settings) -> object:
    """What a command that writes nothing leaves as it was: the DuckDB file's bytes, or every table's rows."""
    if settings.database_url is None:
        return Path(settings.db).read_bytes()
    with db.connect(settings, read_only=True) as con:
        return {table: con.execute(f"SELECT t::text FROM {table} AS t ORDER BY 1").fetchall() for table in tables(con)}


def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """PIR_DB, and in team mode PIR_DATABASE_URL, for a `pir` command run in this process or a child."""
    monkeypatch.setenv("PIR_DB", str(settings.db))
    if settings.database_url is not None:
        monkeypatch.setenv("PIR_DATABASE_URL", settings.database_url.reveal())
    else:
        monkeypatch.delenv("PIR_DATABASE_URL", raising=False)


def two_runs_at_once(monkeypatch: pytest.MonkeyPatch, module: ModuleType, step: str, run: Callable[[], T]) -> list[T]:
    """``run`` twice at the same moment, each holding ``module.step`` (a step between reading the claims and
    making them) for half a second, so that without a lock both would read before either claims."""
    original = getattr(module, step)

    def slowly(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, step, slowly)
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: run(), range(2)))

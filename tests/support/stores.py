"""The store a test runs against (``pytest.mark.both_stores``): the DuckDB file or PostgreSQL (team mode).

- Settings: ``new_settings`` makes settings on a new store (conftest's ``settings`` fixture is it, per test);
  ``on_store`` gives a test whose data was built once through the solo path (the demo, the Stage-31 review)
  that data in the store under test: the DuckDB file as it is, or a PostgreSQL copy of its rows (a file that
  does not change is copied once per process, then cloned by ``CREATE DATABASE ... TEMPLATE``).
- ``copy_into_postgres``: every table of a pir DuckDB file into a migrated PostgreSQL database, in bulk
  (DuckDB writes CSV, PostgreSQL reads it with ``COPY ... FROM STDIN``): for those copies, the read-model
  tests and bench/bench_snapshot.py.
- The environment of a `pir` command on the test's store: ``store_env`` (PIR_DB and, in team mode,
  PIR_DATABASE_URL), ``pir_env`` (a child's whole environment), ``environment`` (this process, by monkeypatch).
- ``contents`` is what "writes nothing" compares; ``select_all_but`` is SQL both dialects accept;
  ``two_runs_at_once`` runs a command's work twice at one moment, for claims two runs must not both make.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import duckdb
import psycopg
import pytest

from pirlib import db, snapshot
from pirlib.config import Secret, Settings

T = TypeVar("T")

_TEMPLATES: dict[tuple[Path, int, int], str] = {}  # (file, size, mtime) -> name of a database holding its copy


def new_settings(store: str, root: Path, **values: Any) -> Settings:
    """Settings on a new store: the DuckDB file ``root/pir.duckdb``, or (``postgres``) a new PostgreSQL database."""
    settings = Settings(db=root / "pir.duckdb", sample_dir=root / "sample", db_lock_timeout=20.0, **values)
    if store == "postgres":
        from support import postgres

        return dataclasses.replace(settings, database_url=Secret(postgres.server().fresh_database()))
    return settings


def tables(con: db.Connection) -> list[str]:
    """The store's own tables (not its views), by name; ``schema_migrations`` is each store's own."""
    schema = "main" if db.dialect(con) == "duckdb" else "public"
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'"
        " AND table_name <> 'schema_migrations' ORDER BY table_name",
        [schema],
    ).fetchall()
    return [name for (name,) in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_postgres_array(column: str) -> str:
    """A DuckDB list as PostgreSQL's array text: {"a","b \\"c\\"",NULL}."""
    element = "CASE WHEN x IS NULL THEN 'NULL' ELSE '\"' || replace(replace(x, '\\', '\\\\'), '\"', '\\\"') || '\"' END"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"ELSE '{{' || array_to_string(list_transform({column}, lambda x: {element}), ',') || '}}' END"
    )


def copy_into_postgres(source: Path, url: str) -> dict[str, int]:
    """Copy every table of the DuckDB file ``source`` but schema_migrations into PostgreSQL at ``url`` (migrated;
    the rows its migrations seed are replaced by the file's); return the rows copied per table."""
    copied: dict[str, int] = {}
    with (
        duckdb.connect(str(source), read_only=True) as duck,
        psycopg.connect(url, autocommit=True) as store,
        tempfile.TemporaryDirectory(prefix="pir-store-copy-") as folder,
    ):
        duck.execute("SET TimeZone = 'UTC'")
        duck.execute("SET enable_progress_bar = false")
        with store.transaction():
            for table in snapshot.tables(duck):
                name, cols = table.name, table.columns
                csv = Path(folder) / f"{name}.csv"
                select = ", ".join(
                    _as_postgres_array(_quote(c)) if kind.endswith("[]") else _quote(c) for c, kind in cols
                )
                path = str(csv).replace("'", "''")
                duck.execute(f"COPY (SELECT {select} FROM {_quote(name)}) TO '{path}' (HEADER false)")
                names = ", ".join(_quote(c) for c, _ in cols)
                store.execute(f"DELETE FROM {_quote(name)}")
                with store.cursor().copy(f"COPY {_quote(name)} ({names}) FROM STDIN (FORMAT csv)") as copy:
                    with csv.open("rb") as rows:
                        while block := rows.read(1 << 20):
                            copy.write(block)
                counted = store.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()
                copied[name] = counted[0] if counted else 0
    return copied


def _copy_of(source: Path, solo: Settings, url: str) -> Settings:
    team = dataclasses.replace(solo, database_url=Secret(url))
    with db.connect(team):  # migrated
        pass
    copy_into_postgres(source, url)
    return team


def on_store(store: str, solo: Settings, *, source: Path | None = None) -> Settings:
    """``solo`` (settings on a DuckDB file) for the ``duckdb`` store; for ``postgres`` the same settings on a
    fresh PostgreSQL database holding a copy of the rows of ``solo.db``, or of ``source``: a file that does not
    change during the run (the demo), copied once and then cloned for each test."""
    if store == "duckdb":
        return solo
    from support import postgres

    server = postgres.server()
    if source is None:
        return _copy_of(Path(solo.db), solo, server.fresh_database())
    stat = source.stat()
    key = (source.resolve(), stat.st_size, stat.st_mtime_ns)
    if key not in _TEMPLATES:
        url = server.fresh_database()
        _copy_of(source, solo, url)
        _TEMPLATES[key] = urlsplit(url).path.lstrip("/")
    return dataclasses.replace(solo, database_url=Secret(server.fresh_database(template=_TEMPLATES[key])))


def contents(settings: Settings) -> object:
    """What a command that writes nothing leaves as it was: the DuckDB file's bytes, or every table's rows."""
    if settings.database_url is None:
        return Path(settings.db).read_bytes()
    with db.connect(settings, read_only=True) as con:
        return {table: con.execute(f"SELECT t::text FROM {table} AS t ORDER BY 1").fetchall() for table in tables(con)}


def store_env(settings: Settings) -> dict[str, str]:
    """PIR_DB, and in team mode PIR_DATABASE_URL, for a `pir` command (``cli.main`` or a child) on the test's store."""
    env = {"PIR_DB": str(settings.db)}
    if settings.database_url is not None:
        env["PIR_DATABASE_URL"] = settings.database_url.reveal()
    return env


def pir_env(settings: Settings, **values: str) -> dict[str, str]:
    """A `pir` subprocess's environment on ``settings``' store: no PIR_* of the caller's, ``store_env``, ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    return {**env, **store_env(settings), **values}


def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """``store_env`` in this process (for `pir` run here or in a child); no PIR_DATABASE_URL when solo."""
    monkeypatch.delenv("PIR_DATABASE_URL", raising=False)
    for name, value in store_env(settings).items():
        monkeypatch.setenv(name, value)


def select_all_but(con: Any, table: str, *left_out: str) -> str:
    """``SELECT`` of every column of ``table`` but ``left_out``, in order (DuckDB's ``SELECT * EXCLUDE`` has no
    PostgreSQL spelling)."""
    return "SELECT " + ", ".join(f'"{c}"' for c in db.columns_of(con, table) if c not in left_out) + f" FROM {table}"


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

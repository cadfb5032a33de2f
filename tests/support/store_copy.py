"""Fill a migrated PostgreSQL database with the rows of a pir DuckDB file (the demo's, the bench's 10k site).

The tests of `pir snapshot` and bench/bench_snapshot.py need a PostgreSQL that holds a realistic site; loading
the generated sample through each loader's PostgreSQL path would test those loaders instead. Each table goes
over in bulk: DuckDB writes it as CSV (arrays in PostgreSQL's array syntax), PostgreSQL reads it with
``COPY ... FROM STDIN``. The rows the migrations seed (deadlines, severities, the recurrence window) are
replaced by the file's; ``schema_migrations`` stays each store's own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import psycopg

from pirlib import snapshot


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
    """Copy every table of the DuckDB file ``source`` but schema_migrations into PostgreSQL at ``url`` (migrated,
    its rows replaced); return the rows copied per table."""
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
                copied[name] = store.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0]
    return copied

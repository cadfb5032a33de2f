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
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in duck.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() AS c"
            " JOIN duckdb_tables() AS t USING (database_name, schema_name, table_name)"
            " WHERE c.schema_name = 'main' AND c.table_name <> 'schema_migrations'"
            " ORDER BY c.table_name, c.column_index"
        ).fetchall():
            columns.setdefault(table, []).append((column, kind))
        with store.transaction():
            for table, cols in columns.items():
                csv = Path(folder) / f"{table}.csv"
                select = ", ".join(
                    _as_postgres_array(_quote(c)) if kind.endswith("[]") else _quote(c) for c, kind in cols
                )
                path = str(csv).replace("'", "''")
                duck.execute(f"COPY (SELECT {select} FROM {_quote(table)}) TO '{path}' (HEADER false)")
                names = ", ".join(_quote(c) for c, _ in cols)
                store.execute(f"DELETE FROM {_quote(table)}")
                with store.cursor().copy(f"COPY {_quote(table)} ({names}) FROM STDIN (FORMAT csv)") as copy:
                    with csv.open("rb") as rows:
                        while block := rows.read(1 << 20):
                            copy.write(block)
                copied[table] = store.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]
    return copied

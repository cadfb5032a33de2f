"""Export every table and analyst view to Parquet for tools that do not speak DuckDB.

``incidents`` and ``incident_events`` are written Hive-partitioned by year and month (UTC) of creation
(``created_at`` / ``occurred_at``): ``incidents/year=2025/month=9/data_0.parquet``, the layout Spark, Trino
and DuckDB (``hive_partitioning=true``) read as a table, with ``year`` and ``month`` as columns. Every
other table and view is one ``<name>.parquet`` file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

# Tables written Hive-partitioned, and the column whose UTC year/month is the partition.
PARTITIONED = {"incidents": "created_at", "incident_events": "occurred_at"}


def _quoted(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def to_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Path]:
    """Write every table and view to ``out_dir``; return the files and partitioned folders written.

    Each file or folder is written under a temporary name and renamed into place, so a reader never sees
    half of one; a partitioned folder replaces the previous export's whole.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    for name in names:
        if name in PARTITIONED:
            written.append(_write_partitioned(con, name, PARTITIONED[name], out_dir))
            continue
        target = out_dir / f"{name}.parquet"
        partial = target.with_suffix(".parquet.partial")
        con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{_quoted(partial)}' (FORMAT parquet)")
        partial.replace(target)
        written.append(target)
    return written


def _write_partitioned(con, name: str, column: str, out_dir: Path) -> Path:
    target = out_dir / name
    partial, old = out_dir / f".{name}.partial", out_dir / f".{name}.old"
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    con.execute(
        f'COPY (SELECT *, year("{column}") AS year, month("{column}") AS month FROM "{name}")'
        f" TO '{_quoted(partial)}' (FORMAT parquet, PARTITION_BY (year, month))"
    )
    if target.exists():
        target.rename(old)
    partial.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    (out_dir / f"{name}.parquet").unlink(missing_ok=True)  # the unpartitioned file of an older pir
    return target

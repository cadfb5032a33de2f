"""Export every table and analyst view to Parquet for tools that do not speak DuckDB.

``incidents`` and ``incident_events`` are written Hive-partitioned by year and month (UTC) of creation
(``created_at`` / ``occurred_at``): ``incidents/year=2025/month=9/data_0.parquet``, the layout Spark, Trino
and DuckDB (``hive_partitioning=true``) read as a table, with ``year`` and ``month`` as columns. Every
other table and view is one ``<name>.parquet`` file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pirlib.db import Connection
from pirlib.errors import PirError
from pirlib.files import fix_for_message, os_error, output_folder

# Tables written Hive-partitioned, and the column whose UTC year/month is the partition.
PARTITIONED = {"incidents": "created_at", "incident_events": "occurred_at"}
STAGING = ".pir-export.partial"  # inside the output folder, so that moving into place is a rename


@dataclass(frozen=True)
class Export:
    """What an export wrote: one entry per table or view, and every Parquet file of them on disk."""

    folder: Path
    tables: list[Path]  # ``<name>.parquet`` files and partitioned ``<name>/`` folders
    files: list[Path]

    def summary(self) -> str:
        partitioned = [t.name for t in self.tables if t.name in PARTITIONED]
        split = f"; {' and '.join(partitioned)} partitioned by year and month" if partitioned else ""
        return f"wrote {len(self.files)} Parquet files for {len(self.tables)} tables and views to {self.folder}{split}"


def _quoted(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def to_parquet(con: Connection, out_dir: Path) -> Export:
    """Write every table and view to ``out_dir``; return what was written.

    Everything is written into a staging folder inside ``out_dir`` first and only then renamed into place,
    so a failure (a full disk, no permission) leaves the previous export as it was and no partial file; a
    partitioned folder replaces the previous export's whole.
    """
    created = not out_dir.exists()
    out_dir = output_folder(out_dir)
    stage = out_dir / STAGING
    shutil.rmtree(stage, ignore_errors=True)
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    try:
        tables = _write_all(con, names, stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)  # the folder this export made, and nothing else yet
        raise
    shutil.rmtree(stage, ignore_errors=True)
    files = sorted(p for t in tables for p in ([t] if t.is_file() else t.rglob("*.parquet")))
    return Export(out_dir, tables, files)


def _write_all(con: Connection, names: list[str], stage: Path, out_dir: Path) -> list[Path]:
    try:
        stage.mkdir()
        for name in names:
            if name in PARTITIONED:
                column = PARTITIONED[name]
                con.execute(
                    f'COPY (SELECT *, year("{column}") AS year, month("{column}") AS month FROM "{name}")'
                    f" TO '{_quoted(stage / name)}' (FORMAT parquet, PARTITION_BY (year, month))"
                )
            else:
                con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{_quoted(stage / name)}.parquet' (FORMAT parquet)")
        return [_move_into_place(stage, out_dir, name) for name in names]
    except duckdb.Error as exc:
        detail = str(exc).strip().splitlines()[0]
        if str(out_dir.absolute()) not in detail and str(out_dir) not in detail:
            raise  # about the database, not the folder: db.connect names the file and the fix
        fix = fix_for_message(detail) or f"{detail}; check the folder and run the export again"
        raise PirError(f"cannot write the export into {out_dir}: {fix}") from None
    except OSError as exc:
        raise os_error(exc, out_dir, "cannot write the export into") from None


def _move_into_place(stage: Path, out_dir: Path, name: str) -> Path:
    if name not in PARTITIONED:
        return (stage / f"{name}.parquet").replace(out_dir / f"{name}.parquet")
    target, old = out_dir / name, out_dir / f".{name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    (stage / name).rename(target)
    shutil.rmtree(old, ignore_errors=True)
    (out_dir / f"{name}.parquet").unlink(missing_ok=True)  # the unpartitioned file of an older pir
    return target

"""Export every table and analyst view to Parquet, one file each, for tools that do not speak DuckDB."""

from __future__ import annotations

from pathlib import Path

from pirlib import db
from pirlib.config import Settings


def to_parquet(settings: Settings, out_dir: Path) -> list[Path]:
    """Write ``<out_dir>/<name>.parquet`` for every table and view; return the files written.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with db.connect(settings, read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        for name in names:
            target = out_dir / f"{name}.parquet"
            partial = target.with_suffix(".parquet.partial")
            con.execute(f"COPY (SELECT * FROM \"{name}\") TO '{partial.as_posix()}' (FORMAT parquet)")
            partial.replace(target)
            written.append(target)
    return written

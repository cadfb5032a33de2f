"""`pir snapshot` (team mode's read model, issue 20) on the 10k-incident site: time and file size against floors.

PostgreSQL is a real one started for the bench (tests/support/postgres.py: initdb/pg_ctl in a temporary folder on
127.0.0.1, as ``nobody`` under root); the 10k site is the shared generated database (``bench.helpers.big_database``,
or ``PIR_BENCH_BIG``) copied table by table into it (tests/support/stores.py).

Time. Floor: the least a snapshot can cost, reading the same tables out of the same PostgreSQL: a Python process
(psycopg, same interpreter) that runs ``COPY (SELECT ...) TO STDOUT`` in CSV for every table, in one REPEATABLE READ
transaction, and throws the bytes away. Measured: `pir snapshot` as a whole process (reading, DuckDB's load of the
CSV, primary keys, checkpoint, fsync, rename). Each round times the floor and then the snapshot, RUNS rounds after
one warm-up; the verdict is the median of the per-round ratios. Goal: within GOAL_RATIO times the floor. Measured
while the goal was set (2 cores shared with other work, load 8-14): 3.2x (floor 8.5 s, snapshot 29 s, 3 rounds)
and 4.3x (floor 2.9 s, snapshot 12.6 s, 1 round); most of the difference is DuckDB parsing and compressing 75 MB of
incident JSON and building the primary keys, which PostgreSQL's COPY does not do.

Size. Floor: the solo DuckDB file the site came from (the same schema and rows). Goal: the read model within
SIZE_RATIO of it.

``PIR_BENCH_QUICK=1``: 1k incidents, one round.
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import postgres  # noqa: E402
from support.stores import copy_into_postgres  # noqa: E402

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Secret, Settings  # noqa: E402

RUNS = helpers.runs(3)
GOAL_RATIO = 5.0
SIZE_RATIO = 1.1
INCIDENTS = helpers.size(10_000, 1_000)

# Every table of the read model out of PostgreSQL as pir snapshot reads it, into nothing.
FLOOR = textwrap.dedent(
    """
    import sys
    import psycopg

    with psycopg.connect(sys.argv[1], autocommit=True) as raw:
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        raw.execute("SET LOCAL TimeZone = 'UTC'")
        columns = {}
        for table, column, kind in raw.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " JOIN information_schema.tables USING (table_schema, table_name)"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position"
        ):
            columns.setdefault(table, []).append(f'array_to_json("{column}")' if kind == "ARRAY" else f'"{column}"')
        for table, select in columns.items():
            with raw.cursor().copy(f'COPY (SELECT {", ".join(select)} FROM "{table}") TO STDOUT (FORMAT csv)') as copy:
                for _ in copy:
                    pass
        raw.execute("ROLLBACK")
    """
)


def main() -> int:
    report = helpers.Report()
    missing = postgres.missing()
    if missing is not None:
        report.problem(f"PostgreSQL cannot run here: {missing}")
        return report.exit_code()
    with tempfile.TemporaryDirectory(prefix="pir-bench-snapshot-") as tmp:
        folder = Path(tmp)
        source = helpers.big_database(folder / "solo.duckdb", INCIDENTS, base=INCIDENTS)
        url = postgres.server().fresh_database()
        settings = Settings(db=folder / "model" / "pir.duckdb", database_url=Secret(url))
        db.init(settings)
        seconds, copied = helpers.clock(lambda: copy_into_postgres(source.path, url))
        report.note(
            f"PostgreSQL holds a site of {source.incidents:,} incidents ({source.made}): "
            f"{sum(copied.values()):,} rows in {len(copied)} tables, copied in {seconds:.0f} s"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
        env.update(PIR_DB=str(settings.db), PIR_DATABASE_URL=url)
        last: list[str] = []

        def snap() -> None:
            last[:] = helpers.run_process([sys.executable, "-m", "pirlib", "snapshot"], env).splitlines()

        timings = helpers.interleaved(
            {
                "floor: COPY TO STDOUT of every table": lambda: helpers.run_process(
                    [sys.executable, "-c", FLOOR, url], env
                ),
                "pir snapshot": snap,
            },
            RUNS,
            warmup=1,
        )
        for timing in timings.values():
            report.timing(timing)
        report.note(last[-1])
        floor, measured = timings.values()
        report.add(
            helpers.Goal(f"pir snapshot of {source.incidents:,} incidents", GOAL_RATIO, floor.name).judge_pairs(
                zip(floor.seconds, measured.seconds, strict=True)
            )
        )
        report.check(
            helpers.Goal("read model size", SIZE_RATIO, "the solo DuckDB file of the same site", unit="MB"),
            settings.db.stat().st_size / 1e6,
            source.path.stat().st_size / 1e6,
        )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())

"""A sync's per-chunk indexing for `pir similar` (``similar.refresh_index``) as the site grows, on both stores.

A first sync indexes each chunk's new incidents in the chunk's transaction, so that work must cost the chunk's,
not the site's: at 100k incidents a first sync writes about 210 chunks. Before, each chunk deleted the index
rows of its incidents with a scan of every term of the site (similar_terms has no index) and summed its new
documents' lengths with another: on PostgreSQL a chunk of 400 new incidents took 4.8 s against a 100k index.

Measured: ``refresh_index`` for a chunk of CHUNK new incidents against an index of SITE incidents with
TERMS_PER_INCIDENT terms each (the demo sample averages 36), in a transaction rolled back after each run, so
every run indexes the same chunk into the same index. Floor: the same chunk against an empty index, on the same
store, each round timing the floor and then the site. Goal: within GOAL_RATIO times the floor, on DuckDB and on
PostgreSQL (a real one started for the bench, tests/support/postgres.py). ``PIR_BENCH_QUICK=1``: a 10k site.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support import postgres  # noqa: E402

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Secret, Settings  # noqa: E402
from pirlib.failure_modes import similar  # noqa: E402

RUNS = helpers.runs(5)
SITE = helpers.size(100_000, 10_000)
CHUNK = 500
TERMS_PER_INCIDENT = 36
GOAL_RATIO = 3.0


def fill(settings: Settings, indexed: int) -> None:
    """``indexed`` incidents in the index, and CHUNK more incidents with text that it does not hold yet."""
    db.init(settings)
    postgres_store = settings.database_url is not None
    series = "generate_series(0, {} - 1) AS s(n)" if postgres_store else "range({}) AS s(n)"
    with db.connect(settings) as con, db.transaction(con):
        con.execute(
            "INSERT INTO incidents (issue_id, key, summary, description) SELECT 'i' || n, 'INC-' || n,"
            " 'checkout latency after deploy ' || md5(n::VARCHAR), 'rollback of the payment gateway ' || n"
            f" FROM {series.format(indexed + CHUNK)}"
        )
        if indexed:
            con.execute(
                f"INSERT INTO similar_documents SELECT 'i' || n, {TERMS_PER_INCIDENT}, n FROM {series.format(indexed)}"
            )
            con.execute(
                f"INSERT INTO similar_terms SELECT 'i' || floor(n / {TERMS_PER_INCIDENT})::INTEGER, 'term' || (n % 997), 1"
                f" FROM {series.format(indexed * TERMS_PER_INCIDENT)}"
            )
    if postgres_store:
        with db.connect(settings) as con:
            con.execute("ANALYZE")


def index_the_chunk(settings: Settings, indexed: int) -> None:
    """Index the chunk of new incidents, then roll back: the next run finds the same index."""
    chunk = [f"i{indexed + n}" for n in range(CHUNK)]
    with db.connect(settings) as con:
        con.execute("BEGIN")
        try:
            assert similar.refresh_index(con, chunk) == CHUNK
        finally:
            con.execute("ROLLBACK")


def measure(report: helpers.Report, store: str, settings_for) -> None:
    empty, site = settings_for("empty"), settings_for("site")
    seconds, _ = helpers.clock(lambda: (fill(empty, 0), fill(site, SITE)))
    report.note(f"{store}: {SITE:,} incidents indexed ({SITE * TERMS_PER_INCIDENT:,} terms) in {seconds:.0f} s")
    timings = helpers.interleaved(
        {
            f"{store}: chunk of {CHUNK}, empty index": lambda: index_the_chunk(empty, 0),
            f"{store}: chunk of {CHUNK}, {SITE:,} indexed": lambda: index_the_chunk(site, SITE),
        },
        RUNS,
        warmup=1,
    )
    floor, measured = timings.values()
    report.timing(floor)
    report.timing(measured)
    report.check(helpers.Goal(f"{store}: index a chunk at {SITE:,}", GOAL_RATIO, "an empty index"), measured, floor)


def main() -> int:
    report = helpers.Report()
    with tempfile.TemporaryDirectory(prefix="pir-bench-similar-index-") as tmp:
        folder = Path(tmp)
        measure(report, "DuckDB", lambda name: Settings(db=folder / f"{name}.duckdb"))
        missing = postgres.missing()
        if missing is not None:
            report.problem(f"PostgreSQL cannot run here: {missing}")
        else:
            server = postgres.server()
            measure(
                report,
                "PostgreSQL",
                lambda name: Settings(db=folder / f"{name}-model.duckdb", database_url=Secret(server.fresh_database())),
            )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())

"""`pir check` over every open review (issue 22): the whole command at 10k and 50k incidents against a floor.

Floor: `python -c 'import duckdb, pandas'`, the least any pir command costs, timed in the same run with the
same interpreter. Each round times the floor, then `pir check` on 10k, then on 50k, as whole processes;
the figures are medians over RUNS rounds (default 5), so a burst of other work on this shared machine
lands on both sides. Goal: `pir check` at 50k within 2 s, that is within GOAL_RATIO times the floor "import floor"
(the floor was 0.44 s in the run that set the goal: 2 s / 0.44 s = 4.5); the bench exits 1 when it is missed.

The databases are a backlog: a generated site (pirlib.sample) loaded as `pir demo` loads it, then every
review unpublished, so that each closed Sev-0/Sev-1 incident (about a fifth of them) is an open review to
check: about 2,000 at 10k and 10,000 at 50k (as generated, only about one in seventeen is open). The 10k
site is generated in a child process (about 45 s and 3.5 GB at its peak); the 50k one is that database
plus four copies of each of its incidents with their events, actions and review rows under new ids and
keys, made by INSERT ... SELECT inside DuckDB, so memory stays that of the 10k generation whatever the size.
Set PIR_BENCH_BIG=/path/to/10k.duckdb to start from a generated 10k database instead (it is copied, never
changed). The generation and the copying are ``bench.helpers.big_database`` and ``replicate``; the generation's
peak RSS is printed. ``PIR_BENCH_QUICK=1``: 1k and 5k incidents, one round.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402

RUNS = helpers.runs(5)
GOAL_RATIO = 4.5
SIZES = {"10k": helpers.size(10_000, 1_000), "50k": helpers.size(50_000, 5_000)}


def backlog(path: Path) -> int:
    """Unpublish every review; return the incidents and the reviews `pir check` will find open."""
    with db.connect(Settings(db=path)) as con:
        con.execute("UPDATE reviews SET published_at = NULL")
        return con.execute("SELECT count(*) FROM incidents").fetchone()[0]


def main() -> int:
    report = helpers.Report()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        small, big = workdir / "10k" / "pir.duckdb", workdir / "50k" / "pir.duckdb"
        made = helpers.big_database(small, SIZES["10k"], base=SIZES["10k"])
        copied = helpers.big_database(big, SIZES["50k"], base=SIZES["10k"], copy_of=small)
        sizes = {"10k": backlog(small), "50k": backlog(big)}
        report.note(
            f"databases ready: 10k {made.made} in {made.seconds:.0f} s (peak RSS {made.peak_mb:,.0f} MB), "
            f"50k made from it in {copied.seconds:.0f} s (peak RSS of the copying {copied.peak_mb:,.0f} MB): "
            + ", ".join(f"{label} = {n:,} incidents" for label, n in sizes.items())
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
        checked: dict[str, str] = {}

        def check(label: str, path: Path) -> None:
            checked[label] = helpers.run_process(
                [sys.executable, "-m", "pirlib", "check"], {**env, "PIR_DB": str(path)}
            ).splitlines()[-1]

        # One warm-up round fills the page cache; then each round times the floor, 10k and 50k in turn.
        timings = helpers.interleaved(
            {
                "import floor": lambda: helpers.run_process(helpers.import_floor()),
                "pir check 10k": lambda: check("10k", small),
                "pir check 50k": lambda: check("50k", big),
            },
            RUNS,
            warmup=1,
        )
    for timing in timings.values():
        report.timing(timing)
    report.note(f"10k: {checked['10k']}")
    report.note(f"50k: {checked['50k']}")
    report.check(
        helpers.Goal("pir check 50k", GOAL_RATIO, "import floor"), timings["pir check 50k"], timings["import floor"]
    )
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())

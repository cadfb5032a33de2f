"""Run every bench/bench_*.py in turn (`make bench`, or `python -m bench [bench_check bench_load ...]`).

Every goal is a ratio to a floor timed in the same run (``bench/helpers.py``: a plain INSERT, an empty
notebook or figure, the naive request loop, `python -c 'import duckdb, pandas'`), judged on medians, and
printed as PASS or FAIL with both the seconds and the ratio. Each bench runs as its own process, so that one
bench's memory (peak RSS is a goal of some) and imports do not count against the next. The exit status is 1
iff a bench fails a goal (or cannot measure it), else 0. The whole run takes about 20-25 minutes on a
2-CPU machine.

The 10k-incident database that bench_check, bench_dashboards and bench_similar start from is generated
once here (about a minute and 3.5 GB at its peak, in a child process) and handed to them as PIR_BENCH_BIG.

Environment:
- ``PIR_BENCH_QUICK=1``: smaller sizes (1k incidents instead of 10k, 10k issues in bench_load, 300 incidents
  in bench_sync) and one run per timing, a few minutes in all, for development. Its verdicts are printed
  but judge small sizes against limits set for the full ones.
- ``PIR_BENCH_RUNS=N``: runs per timing (each bench has its own default, 3 to 9).
- ``PIR_BENCH_BIG=/path/to/10k.duckdb``: a generated 10k database to start from (copied or read, never
  changed) instead of generating one; ``PIR_BENCH_BIG=skip`` leaves the 10k boards out of bench_dashboards.
- ``PIR_BENCH_STORE=postgres``: bench_guide times the guide in team mode, on a PostgreSQL it starts (both the
  clicks and their floor query), instead of on the DuckDB file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import helpers  # noqa: E402

NEEDS_BIG = {"bench_check", "bench_dashboards", "bench_similar", "bench_snapshot"}


def main(argv: list[str], folder: Path = Path(__file__).parent) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in folder.glob("bench_*.py") if not wanted or p.stem in wanted)
    failed, took = [], {}
    with tempfile.TemporaryDirectory(prefix="pir-bench-") as tmp:
        env = dict(os.environ)
        if not env.get("PIR_BENCH_BIG") and NEEDS_BIG & {p.stem for p in scripts}:
            made = helpers.big_database(
                Path(tmp) / "10k.duckdb", helpers.size(10_000, 1_000), base=helpers.size(10_000, 1_000)
            )
            print(
                f"== shared database: {made.incidents:,} incidents generated in {made.seconds:.0f} s, "
                f"peak RSS {made.peak_mb:,.0f} MB\n",
                flush=True,
            )
            env["PIR_BENCH_BIG"] = str(made.path)
        for script in scripts:
            print(f"== {script.stem}", flush=True)
            started = time.perf_counter()
            # Its own process: one bench's peak memory and loaded modules must not count against the next.
            if subprocess.run([sys.executable, str(script)], env=env).returncode:
                failed.append(script.stem)
            took[script.stem] = time.perf_counter() - started
            print(f"   ({took[script.stem]:.1f} s)\n", flush=True)
    for name, seconds in took.items():
        print(f"{'FAIL' if name in failed else 'PASS'} {name} ({seconds:.0f} s)")
    print(f"{len(failed)} of {len(took)} benches failed a goal" if failed else f"all {len(took)} benches passed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

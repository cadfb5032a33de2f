"""`pir similar` on the demo sample (264 incidents, the baseline) and on a generated 10k-incident site.

Times the planted recurrence's later incident (sample.RECURRING_ROOT_CAUSE_MARKER) as a function call in a
warm process (median of RUNS) and as the whole `pir similar` command (Python start included), prints the
ratio 10k / sample and the top 3 it returns. Goal: the command answers within 5 s on 10k incidents.
Set PIR_BENCH_BIG=/path/to/big.duckdb to reuse a generated database (as bench_dashboards does).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pirlib import db, sample
from pirlib.config import Settings
from pirlib.demo import load_demo
from pirlib.failure_modes import similar

RUNS = int(os.environ.get("PIR_BENCH_RUNS", "5"))
GOAL_SECONDS = 5.0


def measure(path: Path) -> tuple[str, float, float, list[str]]:
    settings = Settings(db=path)
    with db.connect(settings, read_only=True) as con:
        (key,) = con.execute("SELECT key FROM incidents WHERE contains(description, ?) ORDER BY started_at DESC LIMIT 1",
                             [sample.RECURRING_ROOT_CAUSE_MARKER]).fetchone()  # fmt: skip
        n = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            found = similar.similar(con, key, k=3)
            times.append(time.perf_counter() - started)
    started = time.perf_counter()
    env = {**os.environ, "PIR_DB": str(path)}
    out = subprocess.run([sys.executable, "-m", "pirlib", "similar", key, "-k", "3"], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    command = time.perf_counter() - started
    print(f"   {n} incidents, {key}: call median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, n = {RUNS}), command {command:.2f} s")
    for line in out.splitlines():
        print("      " + line)
    return key, statistics.median(times), command, list(found["key"])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sample_db = workdir / "pir.duckdb"
        load_demo(Settings(db=sample_db, sample_dir=workdir / "sample"))
        big = Path(os.environ["PIR_BENCH_BIG"]) if os.environ.get("PIR_BENCH_BIG") else workdir / "big.duckdb"
        if not os.environ.get("PIR_BENCH_BIG"):
            sample.write_sample(workdir / "sample10k", n_incidents=10_000)
            load_demo(Settings(db=big, sample_dir=workdir / "sample10k"))
        _, base_call, base_command, _ = measure(sample_db)
        _, big_call, big_command, _ = measure(big)
    print(f"   ratio 10k / sample: call {big_call / base_call:.1f}x, command {big_command / base_command:.1f}x")
    ok = big_command <= GOAL_SECONDS
    print(f"   goal: command within {GOAL_SECONDS:g} s on 10k: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

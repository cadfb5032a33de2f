"""`pir similar` and the incidents board on the demo sample (264 incidents), 10k and 50k incidents.

1. `pir similar` for the planted recurrence's later incident (sample.RECURRING_ROOT_CAUSE_MARKER): as a
   function call in a warm process (median of RUNS) and as the whole command (Python start included).
   Goal: the command answers within 5 s on 10k incidents.
2. The incidents board (issue 22): first render in headless Chromium against an empty one-cell notebook
   on the same `pir serve`, as bench_dashboards measures it (pairs of loads, median of board / empty).
   Goal: within 1.5x the empty page at 10k and at 50k. The board reads the answers a sync works out
   (similar_answers), so the databases get them as a sync would: `similar.refresh` after they are built.

The 10k site is generated and the 50k one made from it as bench_check makes them (its functions, imported).
Set PIR_BENCH_BIG=/path/to/10k.duckdb to start from a generated 10k database (copied, never changed), and
PIR_BENCH_BOARD=skip to time `pir similar` only.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.bench_check import COPIES, generate_10k, replicate  # noqa: E402
from pirlib import db, sample  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.demo import load_demo  # noqa: E402
from pirlib.failure_modes import similar  # noqa: E402

RUNS = int(os.environ.get("PIR_BENCH_RUNS", "5"))
BOARD_RUNS = int(os.environ.get("PIR_BENCH_BOARD_RUNS", "3"))
GOAL_SECONDS = 5.0
BOARD_GOAL = 1.5


def measure(path: Path) -> tuple[float, float]:
    settings = Settings(db=path)
    with db.connect(settings, read_only=True) as con:
        (key,) = con.execute("SELECT key FROM incidents WHERE contains(description, ?) ORDER BY started_at DESC LIMIT 1",
                             [sample.RECURRING_ROOT_CAUSE_MARKER]).fetchone()  # fmt: skip
        n = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            similar.similar(con, key, k=3)
            times.append(time.perf_counter() - started)
    started = time.perf_counter()
    env = {**os.environ, "PIR_DB": str(path)}
    out = subprocess.run([sys.executable, "-m", "pirlib", "similar", key, "-k", "3"], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    command = time.perf_counter() - started
    print(f"   {n:,} incidents, {key}: call median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, n = {RUNS}), command {command:.2f} s", flush=True)
    for line in out.splitlines():
        print("      " + line)
    return statistics.median(times), command


def board_ratio(path: Path, workdir: Path) -> tuple[float, float, float]:
    """Median incidents-board and empty-page seconds and the median of the pairs' ratios."""
    from playwright.sync_api import sync_playwright

    from bench.bench_dashboards import load
    from support import browser as browsing
    from support import serving

    serving.write_workdir(workdir)
    pairs = []
    with sync_playwright() as playwright, serving.pir_serve(workdir, path) as url:
        browser = playwright.chromium.launch(executable_path=browsing.CHROMIUM, args=browsing.CHROMIUM_ARGS)
        load(browser, url, "empty")  # the server's first page pays one-off costs; not counted
        for _ in range(BOARD_RUNS):
            empty, _ = load(browser, url, "empty")
            board, _ = load(browser, url, "incidents")
            pairs.append((empty, board))
        browser.close()
    return (statistics.median(b for _, b in pairs), statistics.median(e for e, _ in pairs),
            statistics.median(b / e for e, b in pairs))  # fmt: skip


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        demo_db = workdir / "demo" / "pir.duckdb"
        load_demo(Settings(db=demo_db, sample_dir=workdir / "sample"))
        big, huge = workdir / "10k" / "pir.duckdb", workdir / "50k" / "pir.duckdb"
        big.parent.mkdir()
        huge.parent.mkdir()
        if os.environ.get("PIR_BENCH_BIG"):
            shutil.copyfile(os.environ["PIR_BENCH_BIG"], big)
            db.init(Settings(db=big))  # a database from before the index gets it here
        else:
            generate_10k(big)
        shutil.copyfile(big, huge)
        replicate(huge, COPIES)
        for path in (big, huge):  # the copies were written behind pir's back: count and answer as a sync does
            with db.connect(Settings(db=path)) as con, db.transaction(con):
                started = time.perf_counter()
                similar.refresh(con)
                print(f"   {path.parent.name}: similar.refresh (the end of a full sync) {time.perf_counter() - started:.2f} s")
        base_call, base_command = measure(demo_db)
        big_call, big_command = measure(big)
        huge_call, huge_command = measure(huge)
        print(f"   ratio 10k / sample: call {big_call / base_call:.1f}x, command {big_command / base_command:.1f}x; "
              f"50k / sample: call {huge_call / base_call:.1f}x, command {huge_command / base_command:.1f}x")  # fmt: skip
        ok = big_command <= GOAL_SECONDS
        print(f"   goal: command within {GOAL_SECONDS:g} s on 10k: {'met' if ok else 'MISSED'}")
        if os.environ.get("PIR_BENCH_BOARD") != "skip":
            for label, path in (("10k", big), ("50k", huge)):
                board, empty, ratio = board_ratio(path, workdir / f"serve-{label}")
                met = ratio <= BOARD_GOAL
                ok &= met
                print(f"   incidents board {label}: {board:.2f} s, empty page {empty:.2f} s, {ratio:.2f}x "
                      f"(median of {BOARD_RUNS} pairs; goal {BOARD_GOAL}x): {'PASS' if met else 'FAIL'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

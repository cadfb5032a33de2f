"""First render of each dashboard vs an empty one-cell notebook on the same `pir serve`, in headless Chromium.

Two databases: the demo sample (264 incidents) and a generated 10k-incident one, whose actions are topped
up to 50k by copying rows under new ids. A render counts from navigation until every figure is drawn.
Prints the median of RUNS loads per page and its ratio to the empty notebook (goal: 1.5x sample, 3x 10k).
Set PIR_BENCH_BIG=/path/to/big.duckdb to reuse a generated database (generation takes about a minute), or
PIR_BENCH_BIG=skip to measure the sample only. Loads are PIR_BENCH_PAUSE seconds apart (default 2), as a
reader's are: `pir serve` hands pages started kernels from a small pool and refills it after each load,
and the empty notebook gets its kernel from the same pool.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

import test_serve as serving  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.demo import load_demo  # noqa: E402

RUNS = int(os.environ.get("PIR_BENCH_RUNS", "3"))
PAUSE = float(os.environ.get("PIR_BENCH_PAUSE", "2"))
PLOTS = {"empty": 0, **serving.FIGURES}
ACTIONS_WANTED = 50_000


def big_database(workdir: Path) -> Path:
    given = os.environ.get("PIR_BENCH_BIG")
    if given:
        return Path(given)
    from pirlib import sample

    database = workdir / "big.duckdb"
    sample.write_sample(workdir / "sample10k", n_incidents=10_000)
    load_demo(Settings(db=database, sample_dir=workdir / "sample10k"))
    with db.connect(Settings(db=database)) as con:
        have = con.execute("SELECT count(*) FROM actions").fetchone()[0]
        if have < ACTIONS_WANTED:
            missing = int(ACTIONS_WANTED - have)  # DuckDB's SAMPLE takes only a literal
            con.execute(
                "INSERT INTO actions SELECT * REPLACE ('copy-' || issue_id AS issue_id, key || 'c' AS key) "
                f"FROM actions USING SAMPLE {missing} ROWS"
            )
    return database


def measure(browser, database: Path, workdir: Path) -> dict[str, float]:
    serving.write_workdir(workdir)
    timings: dict[str, list[float]] = {name: [] for name in PLOTS}
    with serving.pir_serve(workdir, database) as url:
        for _ in range(RUNS):
            for name, plots in PLOTS.items():
                time.sleep(PAUSE)
                visit = serving.Visit(browser, f"{url}/voila/render/{name}.ipynb", wait_for_plots=plots)
                serving.assert_clean(visit)
                timings[name].append(visit.seconds)
                visit.close()
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp_path = Path(tmp)
        browser = playwright.chromium.launch(executable_path=serving.CHROMIUM, args=serving.CHROMIUM_ARGS)
        sample_db = tmp_path / "demo.duckdb"
        load_demo(Settings(db=sample_db, sample_dir=tmp_path / "sample"))
        databases = [("sample", sample_db, 1.5)]
        if os.environ.get("PIR_BENCH_BIG") != "skip":
            databases.append(("10k", big_database(tmp_path), 3.0))
        for label, database, goal in databases:
            medians = measure(browser, database, tmp_path / label)
            empty = medians.pop("empty")
            print(f"   {label}: empty notebook {empty:.2f} s (median of {RUNS}); goal {goal}x")
            for name, seconds in medians.items():
                print(f"   {label}: {name:14s} {seconds:5.2f} s  {seconds / empty:4.2f}x")
        browser.close()


if __name__ == "__main__":
    main()

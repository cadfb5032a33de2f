"""First render of each dashboard vs an empty one-cell notebook on the same `pir serve`, in headless Chromium.

Two databases: the demo sample (264 incidents) and a generated 10k-incident one, whose actions are topped
up to 50k by copying rows under new ids. A render counts from navigation until every figure is drawn (the
board's content on screen); a board's filter bar, whose widgets come from the kernel, arrives after that,
and the time until it is there is printed too ("filters"), against the same empty loads, without a goal.
Each dashboard load follows a load of the empty notebook on the same server, and the ratio is the median
over RUNS such pairs of dashboard / empty (goal: 1.5x sample, 3x 10k): other work on this shared machine
comes and goes over seconds, and a pair sees the same conditions on both sides, which the median of all
empty loads against the median of all loads of a board did not. Exits 1 when a board misses its goal.
The 10k database is ``bench.helpers.big_database`` (PIR_BENCH_BIG=/path/to/10k.duckdb copies a generated one
instead of generating, about a minute; PIR_BENCH_BIG=skip measures the sample only); each goal is a
``bench.helpers.Goal`` judged on the pairs. ``PIR_BENCH_QUICK=1``: one pair per board, 1k incidents and 5k
actions instead of 10k and 50k. Each load starts once `pir serve`'s kernel pool is full again and
PIR_BENCH_PAUSE seconds (default 2) have passed: the server hands pages started kernels from a small pool
and refills it after each hand-out by starting a kernel that imports pirlib (about 1.5 CPU-seconds). A
load that met a refill shared this 2-core machine with it, and which side of a pair met one was chance:
the ratio of one pair of the 50k incidents board ranged 1.11-1.94x in one run. The empty notebook gets
its kernel from the same pool, so both sides of a pair start from the same state.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from support import browser as browsing  # noqa: E402
from support import serving  # noqa: E402

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.demo import load_demo  # noqa: E402

RUNS = helpers.runs(3)
PAUSE = float(os.environ.get("PIR_BENCH_PAUSE", "2"))
PLOTS = {"empty": 0, **browsing.FIGURES}
BIG_INCIDENTS = helpers.size(10_000, 1_000)
ACTIONS_WANTED = helpers.size(50_000, 5_000)
GOALS = {"sample": 1.5, "10k": 3.0}  # a board's first render against the empty notebook's


def big_database(workdir: Path) -> Path:
    """The 10k-incident database, its actions topped up to ACTIONS_WANTED by copying rows under new ids."""
    made = helpers.big_database(workdir / "big.duckdb", BIG_INCIDENTS, base=BIG_INCIDENTS)
    with db.connect(Settings(db=made.path)) as con:
        have = con.execute("SELECT count(*) FROM actions").fetchone()[0]
        if have < ACTIONS_WANTED:
            missing = int(ACTIONS_WANTED - have)  # DuckDB's SAMPLE takes only a literal
            con.execute(
                "INSERT INTO actions SELECT * REPLACE ('copy-' || issue_id AS issue_id, key || 'c' AS key) "
                f"FROM actions USING SAMPLE {missing} ROWS"
            )
    return made.path


def databases(workdir: Path) -> list[tuple[str, Path]]:
    """(label, path): the demo sample, and the 10k database unless PIR_BENCH_BIG=skip (bench_home too)."""
    sample = workdir / "demo.duckdb"
    load_demo(Settings(db=sample, sample_dir=workdir / "sample"))
    return [("sample", sample)] + (
        [("10k", big_database(workdir))] if os.environ.get("PIR_BENCH_BIG") != "skip" else []
    )


def browsed_databases() -> Iterator[tuple[Browser, str, Path, Path]]:
    """(browser, label, database, workdir) for each of ``databases``: one headless Chromium and one temporary
    folder for them all, closed when the iteration ends (bench_home too)."""
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp_path = Path(tmp)
        browser = playwright.chromium.launch(executable_path=browsing.CHROMIUM, args=browsing.CHROMIUM_ARGS)
        try:
            for label, database in databases(tmp_path):
                yield browser, label, database, tmp_path / label
        finally:
            browser.close()


class PageProblem(Exception):
    """A load that did not finish or showed an error: the bench reports it and fails."""


def load(browser, url: str, name: str) -> tuple[float, float]:
    """Seconds until the figures are drawn, and until the filters are there too."""
    time.sleep(PAUSE)
    serving.wait_for_full_pool(url)
    try:  # Visit raises when the page does not finish (saying how far it got), assert_clean when it shows an error
        visit = browsing.Visit(
            browser, f"{url}/voila/render/{name}.ipynb", wait_for_plots=PLOTS[name], wait_for=browsing.controls(name)
        )
        try:
            browsing.assert_clean(visit)
            return visit.seconds, visit.ready_seconds
        finally:
            visit.close()
    except AssertionError as exc:
        raise PageProblem(f"{name}: {str(exc)[:1500]}") from None


Pair = tuple[float, float, float]  # empty notebook, board drawn, board's filters there (seconds)


def measure(browser, database: Path, workdir: Path, problems: list[str]) -> dict[str, list[Pair]]:
    """Per dashboard, RUNS pairs (empty notebook, dashboard) loaded one right after the other; a load that
    fails goes to ``problems`` instead."""
    serving.write_workdir(workdir)
    pairs: dict[str, list[Pair]] = {name: [] for name in PLOTS if name != "empty"}
    with serving.pir_serve(workdir, database) as url:
        load(browser, url, "empty")  # the server's first page pays one-off costs; not counted
        for _ in range(RUNS):
            for name in pairs:
                try:
                    empty, _ = load(browser, url, "empty")
                    pairs[name].append((empty, *load(browser, url, name)))
                except PageProblem as exc:  # report it, count it, and go on measuring
                    problems.append(str(exc))
                    print(f"   PROBLEM {exc}", flush=True)
    return pairs


def main() -> int:
    report = helpers.Report()
    for browser, label, database, workdir in browsed_databases():
        goal = GOALS[label]
        start = os.getloadavg()[0]
        problems: list[str] = []
        pairs = measure(browser, database, workdir, problems)
        for problem in problems:
            report.problem(f"{label}: {problem}")
        empties = [empty for runs in pairs.values() for empty, _, _ in runs]
        if empties:
            report.note(
                f"{label}: empty notebook {statistics.median(empties):.2f} s (median of {len(empties)} "
                f"loads); load average {start:.2f} -> {os.getloadavg()[0]:.2f}"
            )
        for name, runs in pairs.items():
            if not runs:
                report.problem(f"{label}: {name}: no load finished cleanly")
                continue
            report.add(
                helpers.Goal(f"{label}: {name} drawn", goal, "empty notebook (median of pairs)").judge_pairs(
                    (empty, board) for empty, board, _ in runs
                )
            )
            ready = statistics.median(filters / empty for empty, _, filters in runs)
            report.note(
                f"   pairs: {' '.join(f'{b / e:.2f}' for e, b, _ in runs)}; filters there "
                f"{statistics.median(f for _, _, f in runs):.2f} s, {ready:.2f}x (no goal)"
            )
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())

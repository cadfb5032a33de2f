"""The home page (`/` of `pir serve`: what needs attention) vs an empty one-cell notebook on the same server, in
headless Chromium. Goal: the home page's first load is at most 1.5x the empty notebook's, on the demo sample
and on the 10k-incident database (actions topped up to 50k, as in bench_dashboards).

A home load counts from navigating to `/` (which leads to the home page) until its attention list is on the
screen; an empty load from navigating to the notebook until its output is. Each home load follows an empty
load on the same server, and the ratio is the median over RUNS such pairs (``Goal.judge_pairs``), so that the
shared machine's load changes between pairs, not within one. ``PIR_BENCH_QUICK=1``: one pair, 1k incidents.
PIR_BENCH_BIG as in bench_dashboards (a generated 10k database to copy, or ``skip``).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support import browser as browsing  # noqa: E402
from support import serving  # noqa: E402

from bench import helpers  # noqa: E402
from bench.bench_dashboards import PAUSE, browsed_databases  # noqa: E402

RUNS = helpers.runs(5)
GOAL = 1.5


def load(browser, url: str, wait_for: str | None) -> float:
    """Seconds until the page's output (and ``wait_for``, if given) is on the screen; raises on a page error."""
    time.sleep(PAUSE)
    visit = browsing.Visit(browser, url, wait_for=wait_for)
    try:
        browsing.assert_clean(visit)
        return visit.ready_seconds
    finally:
        visit.close()


def measure(browser, database: Path, workdir: Path) -> list[tuple[float, float]]:
    serving.write_workdir(workdir)
    pairs = []
    with serving.pir_serve(workdir, database) as url:
        load(browser, f"{url}/voila/render/empty.ipynb", None)  # the server's first page pays one-off costs
        for _ in range(RUNS):
            empty = load(browser, f"{url}/voila/render/empty.ipynb", None)
            pairs.append((empty, load(browser, f"{url}/", "div.pir-attention")))
    return pairs


def main() -> int:
    report = helpers.Report()
    for browser, label, database, workdir in browsed_databases():
        try:
            pairs = measure(browser, database, workdir)
        except AssertionError as exc:  # a load that did not finish or showed an error
            report.problem(f"{label}: {str(exc)[:1500]}")
            continue
        report.note(
            f"{label}: empty notebook {statistics.median(e for e, _ in pairs):.2f} s, home page "
            f"{statistics.median(h for _, h in pairs):.2f} s (medians of {len(pairs)}); pairs: "
            f"{' '.join(f'{h / e:.2f}' for e, h in pairs)}"
        )
        report.add(
            helpers.Goal(f"{label}: home page loaded", GOAL, "empty notebook (median of pairs)").judge_pairs(pairs)
        )
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())

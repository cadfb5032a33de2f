"""Timeline figure benchmark (issue 4): an incident with 5,000 events, against an empty figure.

Both builds go through ``pirlib.ui.timeline.timeline_figure`` with the same milestones; the events are
spread over nine source lanes, with long texts full of characters that must be escaped, 5 % hidden and 2 %
starred. Also timed: serialising the figure to JSON (what a notebook or Voila sends to the browser).
Target: the 5,000-event build in <= 1 s. Run: ``python bench/bench_timeline.py [--events N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import pandas as pd

from pirlib.timeline import MILESTONES
from pirlib.ui.timeline import timeline_figure

SOURCES = np.array(["jira_changelog", "jira_comment", "chat", "alert", "deploy", "code", "flag", "config", "manual"])


def events(n: int, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["rollback", "latency", "<b>p99</b>", "&", "card-auth", "5xx", "retry", "naïve café 🚨"])
    texts = [" ".join(rng.choice(words, rng.integers(5, 80))) for _ in range(n)]
    return pd.DataFrame({
        "event_id": [f"chat:{i:08x}" for i in range(n)],
        "occurred_at": pd.Timestamp("2025-09-05 13:00", tz="UTC") + pd.to_timedelta(rng.integers(0, 43_200, n), unit="s"),
        "source": rng.choice(SOURCES, n), "kind": "message", "actor": rng.choice(["Ann Lee", "Bob <Stone>"], n),
        "field": None, "from_value": None, "to_value": None, "text": texts,
        "hidden": rng.random(n) < 0.05, "starred": rng.random(n) < 0.02, "retimed": False, "edited": False,
    })  # fmt: skip


def timed(build, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        build()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    big, empty = events(args.events), events(0)
    milestones = pd.DataFrame({
        "milestone": list(MILESTONES),
        "occurred_at": pd.to_datetime(["2025-09-05 13:10", "2025-09-05 13:20", "2025-09-05 13:25",
                                       "2025-09-05 19:02", "2025-09-06 01:12"], utc=True),
        "out_of_order": [None] * 5,
    })  # fmt: skip
    timeline_figure(big.head(50), milestones)  # warm up imports and plotly's validators
    empty_s = timed(lambda: timeline_figure(empty, milestones), args.repeat)
    big_s = timed(lambda: timeline_figure(big, milestones), args.repeat)
    figure = timeline_figure(big, milestones)
    json_s = timed(figure.to_json, args.repeat)
    print(f"   empty figure:          {empty_s:.3f} s")
    print(f"   {args.events:,} events figure:  {big_s:.3f} s  (ratio {big_s / empty_s:.1f} x empty; target <= 1 s)")
    print(f"   to_json of that figure: {json_s:.3f} s")
    return 0 if big_s <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

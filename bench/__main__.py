"""Run every bench/bench_*.py in turn (`make bench`); each prints its own ratios against a baseline."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    wanted = set(argv)
    scripts = sorted(p for p in here.glob("bench_*.py") if not wanted or p.stem in wanted)
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        saved, sys.argv = sys.argv, [str(script)]  # each bench parses its own (default) options
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.argv = saved
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Run every bench/bench_*.py in turn (`make bench`); each prints its own ratios against a baseline."""

from __future__ import annotations

import runpy
import sys
import time
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    wanted = set(argv)
    scripts = sorted(p for p in here.glob("bench_*.py") if not wanted or p.stem in wanted)
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        saved, sys.argv = sys.argv, [str(script)]  # each bench parses its own (default) options
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(script.stem)
        except Exception:  # one broken bench must not hide the others' numbers
            traceback.print_exc()
            failed.append(script.stem)
        finally:
            sys.argv = saved
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

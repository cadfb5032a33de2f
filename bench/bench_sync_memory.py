"""Benchmark: peak memory (RSS) of a first `pir sync` at a given size, the number README.md promises.

The fake Jira runs in a child process (``FakeJiraProcess``: its site, several GB of JSON at 10,000
incidents, must not count against the sync); the sync runs in this process, and the peak is ``ru_maxrss``
of this process, read after the run, against the goal in the same run. Sizes are incidents of the
generated site (``pirlib.sample``, with the same lengthened histories as bench_sync.py).

Measured here (Data Center, peak RSS of the process, about 170 MB of it imports before the sync): before
the streaming sync 841 MB at 2,000 incidents (Cloud 1,021 MB) and 2.6 GB at 10,000; with it 509 MB at
2,000 (Cloud 522 MB), 677 MB at 10,000 and 746 MB at 20,000 (100,000 not measured: generating the site takes too long here).

Run: ``.venv/bin/python bench/bench_sync_memory.py [--incidents 2000] [--flavour datacenter|cloud]``.
Prints one line per run; exits non-zero when the peak is above ``--limit-mb`` (default 1024).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--flavour", choices=["datacenter", "cloud"], default="datacenter")
    parser.add_argument("--limit-mb", type=float, default=1024.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from support.fake_jira import FakeJiraProcess

    with FakeJiraProcess("bench.bench_sync:site_server", flavour=args.flavour, incidents=args.incidents,
                         seed=args.seed, latency_ms=0) as server:  # bench_sync's site, lengthened histories
        from pirlib.config import Secret, Settings
        from pirlib.jira_sync import sync

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with tempfile.TemporaryDirectory() as tmp:
            secrets = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
            settings = Settings(db=Path(tmp) / "pir.duckdb", jira_url=server.url, **secrets)
            started = time.perf_counter()
            result = sync.run(settings, full=True, progress=False)
            seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[{args.flavour}, {args.incidents} incidents] {result.summary()}")
    print(f"[{args.flavour}, {args.incidents} incidents] peak RSS of the sync process {peak:.0f} MB "
          f"(before the sync {before:.0f} MB), {seconds:.1f} s; limit {args.limit_mb:.0f} MB")
    return 0 if peak <= args.limit_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`pir publish` on the Stage-31 sample (issue 12), against `pir init` on the same database as the baseline.

`pir demo` loads the sample into a temporary folder; then each command runs as its own process, as a user
runs it: `pir init` (process start, imports, opening the database: the floor any command pays), `pir publish
KEY` (the three files), and `pir publish KEY --confluence` against the Confluence-compatible test server on
127.0.0.1 (the first run creates the page, later ones update it). Prints the median of RUNS runs of each,
the ratio to the baseline, and the Confluence requests of the create and of an update. The three commands
run one after the other in each round (``bench.helpers.interleaved``), so the baseline sees the same load.
It sets no goal (issue 12 set none): it prints, and exits 0 unless a command fails.
``--store postgres`` times the same in team mode (issue 20): the demo's rows copied into a fresh database of a
PostgreSQL started for the run (tests/support/postgres.py; needs the Debian package), every command with
``PIR_DATABASE_URL``, so the floor is `pir init` on PostgreSQL too.
Run: ``python bench/bench_publish.py [--runs N] [--store duckdb|postgres]`` (``PIR_BENCH_QUICK=1``: one run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.fake_confluence import EMAIL, TOKEN, FakeConfluence  # noqa: E402

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.demo import load_demo  # noqa: E402

PIR = [sys.executable, "-m", "pirlib"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=helpers.runs(5))
    parser.add_argument("--store", choices=["duckdb", "postgres"], default="duckdb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        settings = Settings(db=work / "pir.duckdb", sample_dir=work / "sample")
        load_demo(settings)
        with db.connect(settings, read_only=True) as con:
            key = con.execute("SELECT key FROM incidents WHERE list_contains(labels, 'stage31')").fetchone()[0]
        wiki = FakeConfluence()
        wiki.add_page("REL", "Incidents", wiki.add_page("REL", "Reliability"))
        env = {
            **os.environ,
            "PIR_DB": str(settings.db),
            "PIR_TODAY": "2025-09-07",
            "PIR_CONFLUENCE_URL": wiki.url,
            "PIR_CONFLUENCE_SPACE": "REL",
            "PIR_CONFLUENCE_EMAIL": EMAIL,
            "PIR_CONFLUENCE_TOKEN": TOKEN,
        }
        if args.store == "postgres":
            from support import postgres, stores

            team = stores.on_store("postgres", settings)  # a fresh database holding the demo's rows
            assert team.database_url is not None
            env["PIR_DATABASE_URL"] = team.database_url.reveal()
            print(f"   team mode: the demo's rows in PostgreSQL ({postgres.bin_dir()})")
        requests_per_run = []

        def to_confluence() -> None:
            before = len(wiki.requests)
            helpers.run_process(PIR + ["publish", key, "--out", "out", "--confluence"], env, work)
            requests_per_run.append(len(wiki.requests) - before)

        try:
            times = helpers.interleaved(
                {
                    "baseline: pir init": lambda: helpers.run_process(PIR + ["init"], env, work),
                    f"pir publish {key}": lambda: helpers.run_process(
                        PIR + ["publish", key, "--out", "out"], env, work
                    ),
                    f"pir publish {key} --confluence": to_confluence,
                },
                args.runs,
            )
        finally:
            wiki.close()
        baseline = times["baseline: pir init"]
        for timing in times.values():
            print(f"   {timing} = {timing.median / baseline.median:.2f}x baseline")
        print(f"   Confluence requests: create {requests_per_run[0]}, update {sorted(set(requests_per_run[1:]))}")
        sizes = {p.name: p.stat().st_size for p in sorted((work / "out").glob(f"{key}-postmortem*"))}
        print("   files: " + ", ".join(f"{name} {size:,} B" for name, size in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Load benchmark (issue 3): 100k Jira issues with 1M changelog items, JSON -> rows -> upsert into DuckDB.

The input is synthetic Jira JSON made here (Data Center shape: wiki text, Epic Link, users with names),
in search pages of ``--page`` issues as a sync receives them, made before the clock starts. The database
starts half full: the first half of the issues (and their events) are already loaded, so half of the
upsert finds its rows unchanged and half inserts. Timed in the same run, on the same rows:

- ``plain``: ``INSERT INTO t SELECT * FROM arrow_table`` of the already-flattened rows into empty tables;
- ``load``: what ``pir sync`` does with what it read: ``Transformer.batches`` over the chunks ``pir sync``
  makes (``plan_chunks``: ``--chunk`` issues each, the last chunk's worth in two halves; the page JSON
  text with ``--input text``, the default; parsed dicts with ``--input dicts``) streamed into
  ``load_batches`` (each chunk's transform overlapping the previous chunk's upsert and commit).

Floor "plain INSERT": the same rows (the same chunks, already flattened) written by the plainest DuckDB
write there is, so both sides do DuckDB's share of the work and only ours pays for transforming JSON and
for the upsert. Goals (``bench.helpers.Goal``, on the medians of ``--repeat`` runs, default 3):

- load <= 6x plain INSERT. The old absolute goal, load <= 10 s, was met at 7.9-9.7 s (commit e59018d) with the
  load path at about 5x the plain INSERT, as in every run since, so the plain INSERT on that machine was
  about 1.7 s and 10 s / 1.7 s = 5.9: the existing 6x goal is the 10 s goal as a ratio, and replaces it.
  (Divided by the plain INSERT measured here under a load average of 7 on 2 CPUs, 7.7 s, it would be 1.3x,
  a goal the path never met even when the 10 s one passed: the seconds moved with the machine, the ratio not.)
- peak extra memory (VmHWM during our path over the RSS before it) <= 1 GB, the limit README.md states for a
  sync: a size, not a time, so it stays absolute (the worst run counts).

Run: ``python bench/bench_load.py`` (``--issues 10000`` or ``PIR_BENCH_QUICK=1``, 10,000 issues and one run, for
a quick look). Other sessions share this machine: every figure is printed with the load average and the
process CPU time next to the wall time. The half-full database is built once and copied for each run.

The default chunk is ``CHUNK_ISSUES`` (25,000 issues, 275k events): DuckDB writes an insert of at least a
row group (``pirlib.db.ROW_GROUP_SIZE`` rows in what pir writes) straight into the database file, while
smaller ones go through the write-ahead log and are written again by the checkpoint that follows. Both
sides open their database through ``pirlib.db.connect``, so both write row groups of that size.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import helpers  # noqa: E402
from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.jira_sync.fields import FieldMap  # noqa: E402
from pirlib.jira_sync.load import load_batches  # noqa: E402
from pirlib.jira_sync.rows import Batch  # noqa: E402
from pirlib.jira_sync.transform import Transformer, transform  # noqa: E402

# Incidents per chunk of the load this bench times (a chunk's incidents and its events, about 11 per incident
# in a typical site, are then each at least a row group, ``db.ROW_GROUP_SIZE``, which DuckDB writes straight
# into the database file instead of through the write-ahead log). `pir sync` itself bounds its chunks by
# memory (``extract.READ_CHUNK_ISSUES``); this plan is the bench's model of a load of many chunks.
CHUNK_ISSUES = 25_000


def plan_chunks(count: int, chunk: int | None = None) -> tuple[list[tuple[int, int]], int | None]:
    """The (start, size) of each chunk of a load of ``count`` incidents, and the ``commit_every`` for
    ``load.load_batches`` that commits after each of them (None: one chunk, one transaction).

    Chunks take ``chunk`` (default ``CHUNK_ISSUES``) incidents, except that the last chunk's worth is split
    into two halves: the last chunk's write and commit have no transform left to overlap, so a smaller one
    waits less (bench/bench_load.py: 100k incidents in 25k chunks spent 2.1 s writing the last one).
    """
    chunk = chunk or CHUNK_ISSUES
    if count <= chunk:
        return [(0, count)] if count else [], None
    sizes = []
    while count > chunk + chunk // 2:
        sizes.append(chunk)
        count -= chunk
    half = count // 2
    sizes += [count - half, half]
    return list(zip(itertools.accumulate(sizes, initial=0), sizes)), min(sizes)


FIELDS = FieldMap(
    severity="customfield_10010",
    failure_mode="customfield_10011",
    epic_link="customfield_10014",
    success_metric="customfield_10020",
    verification="customfield_10021",
    action_type="customfield_10022",
    team="customfield_10027",
    commander="customfield_10023",
    incident_start="customfield_10026",
    customer_impact="customfield_10024",
    regulatory="customfield_10025",
)
LOAD_LIMIT = 6.0
BASE_URL = "https://jira.example.com"
STATUSES = ["Open", "Investigating", "Mitigated", "Resolved", "Closed"]
USERS = [
    {
        "name": f"user{n}",
        "key": f"user{n}",
        "displayName": f"User Number {n}",
        "emailAddress": f"user{n}@example.com",
        "active": True,
        "avatarUrls": {"48x48": f"https://jira.example.com/secure/useravatar?ownerId=user{n}"},
    }
    for n in range(50)
]


def _stamp(minutes: int) -> str:
    seconds = 1_700_000_000 + minutes * 60
    return time.strftime("%Y-%m-%dT%H:%M:%S.000-0700", time.gmtime(seconds - 7 * 3600))


def make_issue(number: int, items_per_issue: int, rng: random.Random) -> dict:
    """One incident as GET /issue?expand=changelog returns it (fields trimmed to what a sync reads)."""
    start = number * 37
    histories = []
    item_id = 0
    history_number = 0
    while item_id < items_per_issue:
        n_items = min(2, items_per_issue - item_id)
        items = []
        for _ in range(n_items):
            if item_id % 2 == 0:
                state = (item_id // 2) % (len(STATUSES) - 1)
                items.append(
                    {
                        "field": "status",
                        "fieldtype": "jira",
                        "from": str(state),
                        "fromString": STATUSES[state],
                        "to": str(state + 1),
                        "toString": STATUSES[state + 1],
                    }
                )
            else:
                items.append(
                    {
                        "field": "assignee",
                        "fieldtype": "jira",
                        "from": "user1",
                        "fromString": "User Number 1",
                        "to": "user2",
                        "toString": "User Number 2",
                    }
                )
            item_id += 1
        histories.append(
            {
                "id": str(number * 100 + history_number),
                "author": rng.choice(USERS),
                "created": _stamp(start + history_number * 7),
                "items": items,
            }
        )
        history_number += 1
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog",
        "id": str(100000 + number),
        "self": f"{BASE_URL}/rest/api/2/issue/{100000 + number}",
        "key": f"INC-{number + 1}",
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
        "fields": {
            "summary": f"Checkout latency spike on service-{number % 12} (p99 > 2 s)",
            "description": "Customers saw *slow* checkouts. See [runbook|https://wiki.example.com/rb] and {{svc}}.",
            "issuetype": {"id": "10100", "name": "Incident", "subtask": False},
            "project": {"id": "10000", "key": "INC", "name": "Incidents"},
            "status": {"name": "Resolved", "id": "5", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
            "priority": {"name": "High", "id": "2"},
            "labels": ["postmortem", f"inc{number}"],
            "components": [{"id": str(number % 12), "name": f"service-{number % 12}"}],
            "assignee": rng.choice(USERS),
            "reporter": rng.choice(USERS),
            "created": _stamp(start),
            "updated": _stamp(start + 300),
            "resolutiondate": _stamp(start + 200),
            "duedate": None,
            "issuelinks": [],
            "customfield_10010": {"value": f"Sev-{number % 4}", "id": str(10100 + number % 4)},
            "customfield_10011": {"value": f"mode-{number % 10}", "id": str(10200 + number % 10)},
            "customfield_10023": rng.choice(USERS),
            "customfield_10024": {"value": "Yes" if number % 3 else "No"},
            "customfield_10025": {"value": "Not required"},
            "customfield_10026": _stamp(start - 15),
            "comment": {
                "startAt": 0,
                "maxResults": 1,
                "total": 1,
                "comments": [
                    {
                        "id": str(number),
                        "author": rng.choice(USERS),
                        "created": _stamp(start + 5),
                        "updated": _stamp(start + 5),
                        "body": f"Rolled back deploy {number}; error rate back to normal.",
                    }
                ],
            },
        },
    }


def pages(first: int, count: int, page: int, items_per_issue: int) -> Iterator[str]:
    """JSON text of search pages of ``page`` issues, made lazily so the input never sits in memory at once."""
    for start in range(first, first + count, page):
        # Each issue's random parts come from its own number, so an issue is the same whichever page or
        # chunk it lands in (the half-full database and the timed run cut the issues differently).
        issues = [
            make_issue(n, items_per_issue, random.Random(n)) for n in range(start, min(start + page, first + count))
        ]
        yield json.dumps({"startAt": start, "total": first + count, "issues": issues})


def chunks(first: int, count: int, args: argparse.Namespace) -> tuple[Iterator[list[str]], int | None]:
    """The pages of each chunk of a sync of ``count`` issues (``plan_chunks`` with ``--chunk``), and the
    ``commit_every`` that commits after each."""
    spans, commit_every = plan_chunks(count, args.chunk)
    return (list(pages(first + start, size, args.page, args.items)) for start, size in spans), commit_every


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_insert(con, batch: Batch) -> None:
    for table, frame in (("incidents", batch.incidents), ("actions", batch.actions), ("incident_events", batch.events)):
        if frame.empty:
            continue
        con.register("_plain", pa.Table.from_pandas(frame, preserve_index=False))
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _plain")
        con.unregister("_plain")


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def hwm_mb() -> float:
    """Peak RSS since the last reset_hwm() (VmHWM)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_mb()


def reset_hwm() -> None:
    # Linux: writing 5 to clear_refs resets the peak RSS to the current RSS.
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def run_once(settings: Settings, empty_settings: Settings, args: argparse.Namespace, synced: pd.Timestamp) -> dict:
    """Our path over every chunk, then the plain INSERT of the same rows (transformed again, untimed).

    The input pages are made before the clock starts (a sync holds the pages it downloaded; making the
    synthetic JSON is not part of a load). Our path is ``Transformer.batches`` streamed into
    ``load_batches``, one transaction, as ``pir sync`` does. The two sides run one after the other so that
    the peak memory of our path is its own: DuckDB keeps the tables it wrote in its buffer pool, and the
    plain side's would count against ours if they interleaved.
    """
    wall = {"load": 0.0, "plain": 0.0}
    cpu = dict.fromkeys(wall, 0.0)

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def add(name: str, since: tuple[float, float]) -> tuple[float, float]:
        now = clock()
        wall[name] += now[0] - since[0]
        cpu[name] += now[1] - since[1]
        return now

    stream, commit_every = chunks(0, args.issues, args)
    inputs = list(stream)
    if args.input == "dicts":
        inputs = [[issue for text in texts for issue in json.loads(text)["issues"]] for texts in inputs]
    gc.collect()
    start_rss = rss_mb()
    reset_hwm()
    with db.connect(settings) as con:
        if args.checkpoint_threshold:
            con.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
        t = clock()
        transformer = Transformer([], FIELDS, base_url=BASE_URL)
        counts = load_batches(con, transformer.batches(inputs), synced_at=synced, commit_every=commit_every)
        # Data still in the write-ahead log is written at the next checkpoint: both sides pay for theirs.
        con.execute("CHECKPOINT")
        add("load", t)
        counts["tables"] = (
            con.execute("SELECT count(*) FROM incidents").fetchall()[0][0],
            con.execute("SELECT count(*) FROM incident_events").fetchall()[0][0],
        )
    extra = hwm_mb() - start_rss
    with db.connect(empty_settings) as plain_con:
        if args.checkpoint_threshold:
            plain_con.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
        for chunk in inputs:
            batch = transform(chunk, [], FIELDS, base_url=BASE_URL)
            t = clock()
            plain_con.execute("BEGIN TRANSACTION")
            plain_insert(plain_con, batch)
            plain_con.execute("COMMIT")
            add("plain", t)
            del batch
        t = clock()
        plain_con.execute("CHECKPOINT")
        add("plain", t)
    return {"wall": wall, "cpu": cpu, "counts": counts, "extra": extra, "start_rss": start_rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=helpers.size(100_000, 10_000))
    parser.add_argument("--items", type=int, default=10, help="changelog items per issue")
    parser.add_argument("--chunk", type=int, default=CHUNK_ISSUES, help="issues per chunk (transform + upsert)")
    parser.add_argument("--page", type=int, default=1_000, help="issues per search page (JSON text)")
    parser.add_argument("--input", choices=["text", "dicts"], default="text", help="what transform is given")
    parser.add_argument(
        "--repeat", type=int, default=helpers.runs(3), help="timed runs, each over a fresh half-full database"
    )
    parser.add_argument("--checkpoint-threshold", default=None, help="DuckDB checkpoint_threshold for both runs")
    args = parser.parse_args()

    half = args.issues // 2
    print(f"   start: {_load()}; {os.cpu_count()} CPUs")
    load, plain = (
        helpers.Timing("our path (transform of each chunk overlapping the upsert of the one before)"),
        helpers.Timing("plain INSERT of flattened rows into empty tables"),
    )
    extra = []
    with tempfile.TemporaryDirectory() as tmp:
        half_full = Path(tmp) / "half.duckdb"
        synced = pd.Timestamp.now(tz="UTC")
        # Half-full database: the first half of the issues, loaded once before timing starts, copied per run.
        with db.connect(Settings(db=half_full)) as con:
            transformer = Transformer([], FIELDS, base_url=BASE_URL)
            stream, commit_every = chunks(0, half, args)
            load_batches(con, transformer.batches(stream), synced_at=synced, commit_every=commit_every)
            con.execute("CHECKPOINT")
        for number in range(args.repeat):
            settings = Settings(db=Path(tmp) / f"load{number}.duckdb")
            shutil.copyfile(half_full, settings.db)
            empty_settings = Settings(db=Path(tmp) / f"plain{number}.duckdb")
            gc.collect()
            result = run_once(settings, empty_settings, args, synced)
            settings.db.unlink()
            empty_settings.db.unlink()
            wall, cpu, counts = result["wall"], result["cpu"], result["counts"]
            load.add(wall["load"])
            plain.add(wall["plain"])
            extra.append(result["extra"])
            print(
                f"   run {number + 1}: {counts['incidents']} issues, {counts['events']} events (changelog + comments) "
                f"in chunks of {args.chunk}, input {args.input}; tables now {counts['tables'][0]} incidents, "
                f"{counts['tables'][1]} events; {_load()}"
            )
            print(
                f"     plain {wall['plain']:.2f} s (cpu {cpu['plain']:.2f} s), ours {wall['load']:.2f} s "
                f"(cpu {cpu['load']:.2f} s), {wall['load'] / wall['plain']:.2f}x; peak extra memory "
                f"{result['extra']:.0f} MB over {result['start_rss']:.0f} MB before the timed run"
            )
    report = helpers.Report()
    report.timing(plain)
    report.timing(load)
    report.check(helpers.Goal("load", LOAD_LIMIT, "plain INSERT"), load, plain)
    report.check(helpers.Goal("peak extra memory", 1.0, "the 1 GB README.md states", unit="MB"), max(extra), 1024)
    return report.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())

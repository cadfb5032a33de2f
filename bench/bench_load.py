"""Load benchmark (issue 3): 100k Jira issues with 1M changelog items, JSON -> rows -> upsert into DuckDB.

The input is synthetic Jira JSON made here (Data Center shape: wiki text, Epic Link, users with names),
in pages of ``--chunk`` issues as a sync would receive them. The database starts half full: the first
half of the issues (and their events) are already loaded, so half of the upsert updates and half inserts.
Timed in the same run, on the same rows:

- ``plain``: ``INSERT INTO t SELECT * FROM frame`` of the already-flattened rows into empty tables;
- ``load``: ``json.loads`` + ``transform`` + ``load_batch`` over the half-full database.

Targets: load <= 10 s, load <= 6 x plain, peak extra memory <= 1 GB. Run: ``python bench/bench_load.py``
(``--issues 10000`` for a quick look).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402
from pirlib.jira_sync.fields import FieldMap  # noqa: E402
from pirlib.jira_sync.load import load_batch  # noqa: E402
from pirlib.jira_sync.transform import Batch, transform  # noqa: E402

FIELDS = FieldMap(
    severity="customfield_10010", failure_mode="customfield_10011", epic_link="customfield_10014",
    success_metric="customfield_10020", verification="customfield_10021", action_type="customfield_10022",
    team="customfield_10027", commander="customfield_10023", incident_start="customfield_10026",
    customer_impact="customfield_10024", regulatory="customfield_10025",
)  # fmt: skip
BASE_URL = "https://jira.example.com"
STATUSES = ["Open", "Investigating", "Mitigated", "Resolved", "Closed"]
USERS = [{"name": f"user{n}", "key": f"user{n}", "displayName": f"User Number {n}",
          "emailAddress": f"user{n}@example.com", "active": True,
          "avatarUrls": {"48x48": f"https://jira.example.com/secure/useravatar?ownerId=user{n}"}}
         for n in range(50)]  # fmt: skip


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
                items.append({"field": "status", "fieldtype": "jira", "from": str(state), "fromString": STATUSES[state],
                              "to": str(state + 1), "toString": STATUSES[state + 1]})  # fmt: skip
            else:
                items.append({"field": "assignee", "fieldtype": "jira", "from": "user1", "fromString": "User Number 1",
                              "to": "user2", "toString": "User Number 2"})  # fmt: skip
            item_id += 1
        histories.append({
            "id": str(number * 100 + history_number), "author": rng.choice(USERS),
            "created": _stamp(start + history_number * 7), "items": items,
        })  # fmt: skip
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
            "assignee": rng.choice(USERS), "reporter": rng.choice(USERS),
            "created": _stamp(start), "updated": _stamp(start + 300), "resolutiondate": _stamp(start + 200),
            "duedate": None, "issuelinks": [],
            "customfield_10010": {"value": f"Sev-{number % 4}", "id": str(10100 + number % 4)},
            "customfield_10011": {"value": f"mode-{number % 10}", "id": str(10200 + number % 10)},
            "customfield_10023": rng.choice(USERS),
            "customfield_10024": {"value": "Yes" if number % 3 else "No"},
            "customfield_10025": {"value": "Not required"},
            "customfield_10026": _stamp(start - 15),
            "comment": {"startAt": 0, "maxResults": 1, "total": 1, "comments": [{
                "id": str(number), "author": rng.choice(USERS), "created": _stamp(start + 5),
                "updated": _stamp(start + 5), "body": f"Rolled back deploy {number}; error rate back to normal.",
            }]},
        },
    }  # fmt: skip


def pages(first: int, count: int, chunk: int, items_per_issue: int) -> Iterator[str]:
    """JSON text of search pages, made lazily so the input never sits in memory all at once."""
    for start in range(first, first + count, chunk):
        rng = random.Random(start)
        issues = [make_issue(n, items_per_issue, rng) for n in range(start, min(start + chunk, first + count))]
        yield json.dumps({"startAt": start, "total": first + count, "issues": issues})


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
        con.register("_plain", frame)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _plain")
        con.unregister("_plain")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10, help="changelog items per issue")
    parser.add_argument("--chunk", type=int, default=5_000, help="issues per batch (search page group)")
    parser.add_argument("--checkpoint-threshold", default=None, help="DuckDB checkpoint_threshold for both runs")
    parser.add_argument("--no-raw", action="store_true", help="diagnostic: skip the raw JSON column")
    args = parser.parse_args()

    if args.no_raw:
        import pirlib.jira_sync.transform as transform_module

        transform_module._raw = lambda issue: None
    base_rss = rss_mb()
    half = args.issues // 2
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "load.duckdb")
        empty_settings = Settings(db=Path(tmp) / "plain.duckdb")
        synced = pd.Timestamp.now(tz="UTC")

        # Half-full database: the first half of the issues, loaded before timing starts.
        with db.connect(settings) as con:
            for text in pages(0, half, args.chunk, args.items):
                batch = transform(json.loads(text)["issues"], [], FIELDS, base_url=BASE_URL)
                load_batch(con, batch, synced_at=synced)
            con.execute("CHECKPOINT")
        gc.collect()

        timings = {"generate": 0.0, "json": 0.0, "transform": 0.0, "upsert": 0.0, "plain": 0.0}
        counts = {"incidents": 0, "events": 0}
        start_rss = rss_mb()
        with db.connect(settings) as con, db.connect(empty_settings) as plain_con:
            if args.checkpoint_threshold:
                for c in (con, plain_con):
                    c.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
            t = time.perf_counter()
            for text in pages(0, args.issues, args.chunk, args.items):
                timings["generate"] += time.perf_counter() - t
                t = time.perf_counter()
                issues = json.loads(text)["issues"]
                del text
                timings["json"] += time.perf_counter() - t
                t = time.perf_counter()
                batch = transform(issues, [], FIELDS, base_url=BASE_URL)
                del issues
                timings["transform"] += time.perf_counter() - t
                t = time.perf_counter()
                written = load_batch(con, batch, synced_at=synced)
                timings["upsert"] += time.perf_counter() - t
                counts["incidents"] += written["incidents"]
                counts["events"] += written["events"]
                t = time.perf_counter()
                plain_con.execute("BEGIN TRANSACTION")
                plain_insert(plain_con, batch)
                plain_con.execute("COMMIT")
                timings["plain"] += time.perf_counter() - t
                del batch
                t = time.perf_counter()
            total_events = con.execute("SELECT count(*) FROM incident_events").fetchone()[0]
            total_incidents = con.execute("SELECT count(*) FROM incidents").fetchone()[0]

    load = timings["transform"] + timings["upsert"]
    with_json = load + timings["json"]
    extra = peak_mb() - base_rss
    print(f"input: {counts['incidents']} issues, {counts['events']} events (changelog + comments), "
          f"chunks of {args.chunk}; tables now {total_incidents} incidents, {total_events} events")  # fmt: skip
    print(f"plain INSERT of flattened rows into empty tables: {timings['plain']:.2f} s")
    print(f"transform (dicts -> frames): {timings['transform']:.2f} s; upsert: {timings['upsert']:.2f} s")
    print(f"load (transform + upsert): {load:.2f} s = {load / timings['plain']:.2f} x plain  (target <= 10 s, <= 6 x)")
    print(f"load incl. json.loads ({timings['json']:.2f} s): {with_json:.2f} s = {with_json / timings['plain']:.2f} x plain")
    print(f"peak extra memory: {extra:.0f} MB (target <= 1024 MB; process RSS at start {base_rss:.0f} MB)")
    ok = with_json <= 10 and load / timings["plain"] <= 6 and extra <= 1024
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

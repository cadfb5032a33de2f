"""Benchmark: a full `pir sync` of a 2,000-incident generated site against the fake Jira (both flavours).

Prints, per flavour:
- requests of the full sync against the minimum: search pages at the server's page size for both queries,
  plus changelog pages only for truncated histories, plus comment pages only where comments were
  truncated (target: <= 1.1x);
- wall time of the full sync (HTTP + transform + DuckDB load, and it also reads the ~3x as many action
  issues) against a naive loop of one ``jira.issue(key, expand="changelog")`` and one
  ``jira.comments(key)`` per incident on the same server in the same run (HTTP only; target: >= 5x).

The fake answers on loopback with no network delay, where a naive loop pays almost nothing per request;
``--latency-ms`` (default 20) adds a fixed per-request delay like a real site's round trip and request
overhead. Run with ``--latency-ms 0`` to see the CPU-bound case (measured here: about 1.2x).

Run: ``.venv/bin/python bench/bench_sync.py [--incidents 2000] [--flavour datacenter|cloud|both]``.
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from math import ceil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import fake_jira  # noqa: E402
from support.fake_jira import FakeJira  # noqa: E402

from pirlib import sample  # noqa: E402
from pirlib.config import Secret, Settings  # noqa: E402
from pirlib.jira_sync import sync  # noqa: E402

REQUEST_TARGET = 1.1
SPEED_TARGET = 5.0


def _lengthen(server: FakeJira, rng: random.Random, share: float) -> None:
    """Give a share of incidents long changelogs and many comments, so truncation is exercised."""
    incidents = [i for i in server.live_issues() if i["fields"]["issuetype"]["name"] == "Incident"]
    for issue in rng.sample(incidents, int(len(incidents) * share)):
        server.add_histories(issue["id"], rng.randint(60, 260))
    for issue in rng.sample(incidents, int(len(incidents) * share)):
        comments = issue["fields"].setdefault("comment", {"comments": []})["comments"]
        template = comments[0] if comments else None
        for n in range(rng.randint(21, 140)):
            if template is None:
                server.update_issue(issue["id"], comment=f"note {n}")
                template = issue["fields"]["comment"]["comments"][0]
                continue
            comments.append({**template, "id": str(9_000_000 + int(issue["id"]) * 200 + n), "body": f"note {n}"})
        issue["fields"]["comment"]["total"] = len(comments)


def minimum_requests(server: FakeJira) -> int:
    """The floor the issue sets: search pages at the server's page size + truncated follow-ups."""
    incidents = server.search("project = INC AND issuetype = Incident")
    others = server.search('labels = "postmortem" AND NOT (project = INC AND issuetype = Incident)')
    page = server.cloud_search_page if server.cloud else server.dc_search_page
    need = ceil(len(incidents) / page) + ceil(len(others) / page)
    history_cap = fake_jira.CLOUD_SEARCH_CHANGELOG if server.cloud else fake_jira.ISSUE_GET_CHANGELOG
    for issue in incidents:
        histories = len(issue["changelog"]["histories"])
        comments = len(issue["fields"].get("comment", {}).get("comments", []))
        if histories > history_cap:
            # Cloud pages /changelog at 100; Data Center returns the whole changelog in one issue GET.
            need += ceil(histories / fake_jira.CHANGELOG_PAGE) if server.cloud else 1
        if comments > fake_jira.EMBEDDED_COMMENTS:
            need += ceil(comments / fake_jira.COMMENT_PAGE)
    return need


def naive_loop(server: FakeJira, keys: list[str]) -> float:
    from jira import JIRA

    if server.cloud:
        jira = JIRA(server.url, basic_auth=(fake_jira.CLOUD_EMAIL, fake_jira.CLOUD_TOKEN))
    else:
        jira = JIRA(server.url, token_auth=fake_jira.DC_PAT)
    started = time.perf_counter()
    for key in keys:
        jira.issue(key, expand="changelog")
        jira.comments(key)
    return time.perf_counter() - started


def bench(flavour: str, n_incidents: int, seed: int, latency_ms: float) -> bool:
    site = sample.generate(seed, n_incidents)
    with FakeJira(site, flavour=flavour, latency=latency_ms / 1000) as server, tempfile.TemporaryDirectory() as tmp:
        _lengthen(server, random.Random(seed), share=0.05)
        creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
        settings = Settings(db=Path(tmp) / "pir.duckdb", jira_url=server.url, **creds)
        floor = minimum_requests(server)
        server.reset_counts()
        started = time.perf_counter()
        result = sync.run(settings, full=True, progress=False)
        ours = time.perf_counter() - started
        sent = result.request_count
        startup = 3
        keys = [i["key"] for i in server.live_issues() if i["fields"]["issuetype"]["name"] == "Incident"]
        naive = naive_loop(server, keys)
    request_ratio = (sent - startup) / floor
    speedup = naive / ours
    print(f"[{flavour}, {latency_ms:g} ms per request] {result.summary()}")
    print(f"[{flavour}] requests: {sent} sent ({startup} start-up) vs minimum {floor} (+{startup}) "
          f"-> ratio {request_ratio:.3f} without start-up, {sent / (floor + startup):.3f} with (target <= {REQUEST_TARGET})")
    print(f"[{flavour}]   by endpoint: {result.requests}")
    print(f"[{flavour}] wall time: full sync {ours:.2f} s vs naive loop over {len(keys)} incidents {naive:.2f} s "
          f"({2 * len(keys)} requests) -> {speedup:.1f}x faster (target >= {SPEED_TARGET})")
    return request_ratio <= REQUEST_TARGET and speedup >= SPEED_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--flavour", choices=["datacenter", "cloud", "both"], default="both")
    parser.add_argument(
        "--latency-ms", type=float, default=20.0,
        help="per-request latency of the fake site (default 20: a Data Center on the same LAN; Cloud is slower)",
    )
    args = parser.parse_args()
    flavours = ["datacenter", "cloud"] if args.flavour == "both" else [args.flavour]
    ok = all([bench(flavour, args.incidents, args.seed, args.latency_ms) for flavour in flavours])
    print("PASS" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

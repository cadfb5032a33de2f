"""Facilitators in parallel (issue 20): six writer processes for 60 s, four on reviews of their own and two on one
draft, while `pir sync` runs against the fake Jira, on each store. Nothing is lost (every save a writer counted is
in the store, and nothing else), the two on one draft get version messages and no other error, the sync never
fails. In team mode four readers query the read model meanwhile while `pir snapshot --every 2` swaps it in
(at least 20 times): no reader ever gets an error. The DuckDB file runs the writers and syncs the same with its
one-writer lock, for the figures per store the issue asks for.

And the negative control: a second process that opens the solo DuckDB file read-write while another holds it
gets pir's one clear lock line.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.fake_jira import FakeJira
from support.stores import pir_env

from pirlib import db, sample
from pirlib.config import Settings
from pirlib.review import actions
from pirlib.review.session import open_review

pytestmark = pytest.mark.both_stores

SUPPORT = Path(__file__).resolve().parent / "support"
SECONDS = 60.0
OWN_REVIEWS = 4  # facilitators each on a review of their own
ON_ONE_DRAFT = 2  # facilitators saving the same draft
SYNC_PAUSE = 2.0  # seconds between one `pir sync` and the next, with a change in Jira before each
READERS = 4  # boards reading the read model (team mode)
MIN_SWAPS = 20  # snapshots swapped in under the readers, besides the syncs' own
SNAPSHOT_EVERY = 2.0  # seconds between `pir snapshot --every` rounds: about 30 swaps in the 60 s, besides the syncs'


def child_env(settings: Settings, server: FakeJira | None = None, **extra: str) -> dict[str, str]:
    """The environment `pir` reads, for this test's store (and Jira), without any PIR_ setting of the caller's."""
    jira = {} if server is None else {"PIR_JIRA_URL": server.url, "PIR_JIRA_PAT": server.credentials()["jira_pat"]}
    return pir_env(settings, **{"PIR_DB_LOCK_TIMEOUT": "120", **jira, **extra})


def pir(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pirlib", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@pytest.mark.slow
def test_six_facilitators_and_a_sync_lose_nothing(settings, store, tmp_path):
    with FakeJira(sample.generate(31, 40), flavour="datacenter") as server:
        env = child_env(settings, server)
        first = pir("sync", env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        with db.connect(settings) as con:
            rows = con.execute("SELECT key FROM incidents ORDER BY key LIMIT ?", [OWN_REVIEWS + 1]).fetchall()
            keys = [row[0] for row in rows]
        drafts = {}
        for key in keys:
            with open_review(settings, key) as session:
                drafts[key] = actions.create_draft(session, by="setup", summary=f"Follow up {key}")
        writers = [(f"own{n}", keys[n]) for n in range(OWN_REVIEWS)]
        shared_key = keys[OWN_REVIEWS]
        writers += [(f"shared{n}", shared_key) for n in range(ON_ONE_DRAFT)]
        worker = str(SUPPORT / "facilitator_worker.py")
        procs = {
            name: subprocess.Popen(
                [
                    sys.executable,
                    worker,
                    name,
                    key,
                    drafts[key],
                    str(SECONDS),
                    *(["shared"] if key == shared_key else []),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=child_env(settings),
                cwd=tmp_path,
            )
            for name, key in writers
        }
        syncs: list[subprocess.CompletedProcess[str]] = []

        def sync_meanwhile() -> None:  # Jira changes, and the cron's `pir sync` picks it up, while people save
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                server.update_issue(keys[len(syncs) % len(keys)], comment=f"update {len(syncs)} from Jira")
                syncs.append(pir("sync", env=env, cwd=tmp_path))
                time.sleep(SYNC_PAUSE)

        syncing = threading.Thread(target=sync_meanwhile)
        syncing.start()
        # Team mode: four boards read the read model while `pir snapshot` swaps it in every couple of seconds (each
        # `pir sync` publishes one too). Solo has no read model: a reader of the file would hold up the writers.
        stop = tmp_path / "stop readers"
        readers, snapshots = [], None
        if store == "postgres":
            readers = [
                subprocess.Popen(
                    [sys.executable, str(SUPPORT / "read_model_reader.py"), str(settings.db), str(stop)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=child_env(settings),
                    cwd=tmp_path,
                )
                for _ in range(READERS)
            ]
            snapshots = subprocess.Popen(
                [sys.executable, "-m", "pirlib", "snapshot", "--every", str(SNAPSHOT_EVERY)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=child_env(settings),
                cwd=tmp_path,
            )
        results = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=SECONDS + 240)
            assert proc.returncode == 0, f"{name}: {err}"  # a VersionConflict is counted; anything else fails
            results[name] = json.loads(out)
        syncing.join(timeout=300)
        swaps = 0
        if snapshots is not None:
            snapshots.send_signal(signal.SIGTERM)
            published, failed = snapshots.communicate(timeout=120)
            assert snapshots.returncode == 0 and failed == "", failed
            swaps = published.count("published the read model")
            while swaps < MIN_SWAPS:  # a loaded machine takes longer per snapshot: the readers read on until 20
                more = pir("snapshot", env=child_env(settings), cwd=tmp_path)
                assert more.returncode == 0, more.stderr
                swaps += 1
        stop.touch()
        reads = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    assert syncs and all(run.returncode == 0 for run in syncs), [run.stderr for run in syncs if run.returncode]
    if store == "postgres":
        assert swaps >= MIN_SWAPS, swaps
        for read in reads:  # no reader ever failed or waited out a lock while the file was swapped under it
            assert read["error_count"] == 0 and read["queries"] > 0 and read["snapshots_seen"] >= 2, read

    with db.connect(settings) as con:
        for key, draft_id in drafts.items():
            draft = actions.get_draft(con, draft_id)
            assert draft is not None
            on_it = [name for name, k in writers if k == key]
            saved = re.findall(r"(\w+):(\d+);", draft.description or "")
            # Every save a writer counted is in the store once, in its order; nothing else is.
            for name in on_it:
                assert [int(n) for who, n in saved if who == name] == list(range(results[name]["saves"])), name
            assert len(saved) == sum(results[name]["saves"] for name in on_it)
            assert draft.version == 1 + len(saved)  # each landed save bumped the version exactly once
        notes = dict(con.execute("SELECT author, count(*) FROM review_notes GROUP BY author").fetchall())
    assert notes == {name: r["notes"] for name, r in results.items() if r["notes"]}
    for name, _ in writers[:OWN_REVIEWS]:
        assert results[name]["conflicts"] == 0, name  # nobody else edits their drafts
    shared = [results[name] for name, _ in writers[OWN_REVIEWS:]]
    assert sum(r["conflicts"] for r in shared) > 0  # the two on one draft did overlap, and were told
    assert all(r["saves"] > 0 for r in results.values()), results

    latencies = [ms for r in results.values() for ms in r["latency_ms"]]
    print(
        f"\n{store}: {SECONDS:g} s, {len(writers)} writers + {len(syncs)} pir sync runs: "
        f"{sum(r['saves'] for r in results.values())} drafts saved "
        f"({sum(r['saves'] for r in shared)} on the shared draft), {sum(r['notes'] for r in results.values())} notes, "
        f"{sum(r['conflicts'] for r in shared)} version messages, 0 lost; {swaps} snapshots swapped under "
        f"{len(reads)} readers ({sum(r['queries'] for r in reads)} reads, 0 errors); save latency p50 "
        f"{percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, max {max(latencies):.0f} ms"
    )


def test_a_second_process_writing_the_solo_file_gets_the_lock_line(tmp_path):
    settings = Settings(db=tmp_path / "pir.duckdb")  # the DuckDB file's own lock: solo only
    db.init(settings)
    holder = subprocess.Popen(
        [sys.executable, str(SUPPORT / "db_worker.py"), "holder", str(settings.db), "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        second = pir("init", env=child_env(settings, PIR_DB_LOCK_TIMEOUT="1"), cwd=tmp_path)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode != 0 and second.stdout == ""
    assert second.stderr.strip().splitlines() == [
        f"pir: error: {settings.db} stayed locked by another process for 1 s; close the other pir process or "
        "notebook kernel that holds it, or raise PIR_DB_LOCK_TIMEOUT"
    ], second.stderr
    assert waited < 25  # it gave up after its second, not when the holder let go

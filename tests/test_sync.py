"""`pir sync` end to end: the real `jira` package against the fake Jira (both flavours) into a real DuckDB file.

The site is the generated sample (``pirlib.sample.generate``), served by ``tests/fake_jira.py`` as Data
Center or converted on the fly to Cloud (ADF, ``parent``, accountId-only users, ``/search/jql``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
from support.fake_jira import CLOUD_TOKEN, DC_PAT, FakeJira, FakeJiraProcess
from support.jira_samples import jira_sample
from support.stores import store_env

from pirlib import cli, db, pg, sample
from pirlib.config import Secret, Settings
from pirlib.errors import PirError
from pirlib.jira_sync import client as jc
from pirlib.jira_sync import extract, sync
from pirlib.jira_sync import flatten as flatten_mod
from pirlib.jira_sync import transform as transform_mod
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.transform import Transformer, transform

FAST = jc.RetryPolicy(base_delay=0.01, max_delay=0.05, connect_timeout=1.0, read_timeout=0.5)
N_INCIDENTS = 40
# What a run with nothing changed may cost: serverInfo, myself, field and one search per query.
STARTUP = {"GET /rest/api/2/serverInfo": 1, "GET /rest/api/2/myself": 1, "GET /rest/api/2/field": 1}


@pytest.fixture(scope="module")
def site() -> dict:
    return sample.generate(31, N_INCIDENTS)


@pytest.fixture(params=["datacenter", "cloud"])
def server(request: pytest.FixtureRequest, site: dict):
    with FakeJira(site, flavour=request.param) as fake:
        yield fake


def settings_for(server: FakeJira, store: Path | Settings, **changes: object) -> Settings:
    """Settings that sync ``server`` into ``store``: a DuckDB file, or the store of a ``stores`` fixture's Settings."""
    creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
    base = store if isinstance(store, Settings) else Settings(db=store, db_lock_timeout=20.0)
    return base.replace(jira_url=server.url, **{**creds, **changes})


@pytest.fixture
def stores(settings: Settings, tmp_path: Path) -> Callable[[str], Settings]:
    """Fresh stores of the test's kind by name (a test that compares two runs needs two): the DuckDB file
    ``<name>.duckdb``, or in the postgres flavour a fresh PostgreSQL database (its read model ``<name>.duckdb``)."""

    def fresh(name: str) -> Settings:
        if settings.database_url is None:
            return settings.replace(db=tmp_path / f"{name}.duckdb")
        from support import postgres

        return settings.replace(db=tmp_path / f"{name}.duckdb", database_url=Secret(postgres.server().fresh_database()))

    return fresh


def sync_run(settings: Settings, full: bool = False) -> sync.SyncResult:
    return sync.run(settings, full=full, progress=False, retry=FAST)


def search_name(server: FakeJira) -> str:
    return "GET /rest/api/3/search/jql" if server.cloud else "GET /rest/api/2/search"


def expected(site_issues: list[dict]) -> dict[str, int]:
    incidents = [i for i in site_issues if i["fields"]["issuetype"]["name"] == "Incident"]
    actions = [
        i
        for i in site_issues
        if i["fields"]["issuetype"]["name"] not in ("Incident", "Epic") and "postmortem" in i["fields"]["labels"]
    ]
    events = sum(len(h["items"]) for i in incidents for h in i["changelog"]["histories"] if h["items"])
    events += sum(len(i["fields"]["comment"]["comments"]) for i in incidents)
    return {"incidents": len(incidents), "actions": len(actions), "events": events}


def table_counts(settings: Settings) -> dict[str, int]:
    with db.connect(settings, read_only=True) as con:
        return {
            "incidents": con.execute("SELECT count(*) FROM incidents WHERE NOT deleted").fetchone()[0],
            "actions": con.execute("SELECT count(*) FROM actions WHERE NOT deleted").fetchone()[0],
            "events": con.execute("SELECT count(*) FROM incident_events").fetchone()[0],
        }


def dump(settings: Settings) -> dict[str, list]:
    """Every Jira-fed table, ordered, without the per-run synced_at stamp: for 'same database' checks."""
    out = {}
    with db.connect(settings, read_only=True) as con:
        for table, key in (("incidents", "issue_id"), ("actions", "issue_id"), ("incident_events", "event_id")):
            columns = [c for c in db.columns_of(con, table) if c != "synced_at"]
            out[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}").fetchall()
    return out


def runs(settings: Settings) -> list[tuple]:
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT status, mode, cursor, requests, error, issues_written FROM sync_runs ORDER BY started_at"
        ).fetchall()


# --- loading -------------------------------------------------------------------------------------------


@pytest.mark.both_stores
def test_a_first_sync_loads_the_whole_site(server: FakeJira, site: dict, stores: Callable[[str], Settings]):
    settings = settings_for(server, stores("pir"))
    result = sync_run(settings)
    want = expected(site["issues"])
    assert table_counts(settings) == want
    assert (result.incidents, result.actions, result.events) == (want["incidents"], want["actions"], want["events"])
    assert result.status == "success" and result.deployment == server.flavour
    assert result.requests == dict(server.counts)  # our count and the server's agree
    with db.connect(settings, read_only=True) as con:
        # Every action found its incident; every reviewed incident its epic; text is plain on both flavours.
        assert con.execute("SELECT count(*) FROM actions WHERE incident_id IS NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM incidents WHERE epic_key IS NOT NULL").fetchone()[0] > 0
        descriptions = [r[0] for r in con.execute("SELECT description FROM incidents").fetchall()]
        assert all(d is None or not d.lstrip().startswith("{") for d in descriptions)
        status, mode, cursor, requests, error, written = con.execute(
            "SELECT status, mode, cursor, requests, error, issues_written FROM sync_runs"
        ).fetchone()
    assert (status, mode, error, written) == ("success", "incremental", None, want["incidents"])
    assert json.loads(requests) == result.requests
    newest = max(sync.extract_mod._updated(i) for i in site["issues"])
    assert cursor == newest
    assert "synced" in result.summary() and "\n" not in result.summary()


@pytest.mark.both_stores
@pytest.mark.slow
def test_a_sync_in_small_chunks_writes_the_database_of_one_chunk(
    server: FakeJira, stores: Callable[[str], Settings], monkeypatch
):
    whole = settings_for(server, stores("whole"))
    sync_run(whole, full=True)
    monkeypatch.setattr(extract, "READ_CHUNK_ISSUES", 7)  # the site's incidents in several chunks
    chunked = settings_for(server, stores("chunked"))
    result = sync_run(chunked, full=True)
    assert result.status == "success"
    assert dump(chunked) == dump(whole)


def long_timelines(flavour: str) -> FakeJira:
    """A site of 120 incidents with 300 changelog entries each, two issues to a search page."""
    fake = FakeJira(sample.generate(31, 120), flavour=flavour, dc_search_page=2, cloud_search_page=2)
    for issue in fake.live_issues():
        if issue["fields"]["issuetype"]["name"] == "Incident":
            fake.add_histories(issue["id"], 300)
    return fake


def long_timelines_site(flavour: str) -> tuple[FakeJira, dict]:
    """``long_timelines`` as a ``FakeJiraProcess`` factory."""
    return long_timelines(flavour), {}


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_a_first_sync_holds_a_chunk_of_the_site_not_the_site(flavour: str, tmp_path: Path, monkeypatch):
    # The site is served from its own process: only what the sync allocates is traced.
    site_json = sum(
        len(json.dumps(i))
        for i in long_timelines(flavour).live_issues()
        if i["fields"]["issuetype"]["name"] == "Incident"
    )
    monkeypatch.setattr(extract, "READ_CHUNK_ISSUES", 4)
    with FakeJiraProcess("test_sync:long_timelines_site", flavour=flavour) as server:
        settings = settings_for(server, tmp_path / "pir.duckdb")
        tracemalloc.start()
        try:
            result = sync_run(settings)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.incidents == 120 and result.events > 120 * 300
    # Holding the site's issues as parsed JSON costs several times its text (measured: 64 MB for 5 MB).
    assert peak < site_json / 2, f"peak {peak / 1e6:.1f} MB for a site of {site_json / 1e6:.1f} MB of JSON"


def _held_by_a_first_sync(incidents: int, tmp_path: Path, monkeypatch) -> dict[str, float]:
    """Bytes a first sync of a lazy site of ``incidents`` holds (Python, traced, plus Arrow's pool) when every
    incident is written and the actions come next, and again in its final transaction; and its Python peak."""
    previous = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(previous)
    held: dict[str, float] = {}

    def note(when: str) -> None:
        held[when] = tracemalloc.get_traced_memory()[0] + pool.bytes_allocated()

    real_actions, real_record = Transformer.action_batches, sync._record

    def action_batches(self, *args, **kwargs):
        note("before the actions")
        yield from real_actions(self, *args, **kwargs)

    def record(*args, **kwargs):
        note("at the end")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(Transformer, "action_batches", action_batches)
    monkeypatch.setattr(sync, "_record", record)
    with FakeJiraProcess("support.lazy_jira:lazy_server", incidents=incidents, long_share=0, search_page=10) as server:
        settings = settings_for(server, tmp_path / f"{incidents}.duckdb")
        pa.set_memory_pool(pool)  # Arrow's allocations (not traced by tracemalloc) are counted by the proxy
        tracemalloc.start()
        try:
            result = sync.run(settings, progress=False, retry=jc.RetryPolicy(base_delay=0.01, max_delay=0.05))
            held["peak"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            pa.set_memory_pool(previous)
    assert result.incidents == incidents and result.actions > incidents
    return held


@pytest.mark.slow
def test_what_a_first_sync_holds_does_not_grow_with_the_site(tmp_path: Path, monkeypatch):
    # Search pages and chunks of 10 incidents and slices of 40 actions, so that both sites are many pages,
    # chunks and slices: what the smaller site holds is then the floor, and a larger one may add nothing per
    # incident (no incident has a timeline longer than Jira embeds, so no chunk is much larger; the smaller
    # site goes first, so one-time costs such as caches land in the floor). Before, a run kept every action
    # candidate (in Arrow) and the incidents' ids, keys, links and epics (in Python) until its end: measured
    # here, 2.0 KB more per incident before the actions and 2.2 KB at the end; now about nothing (-0.4 KB).
    monkeypatch.setattr(extract, "READ_CHUNK_ISSUES", 10)
    monkeypatch.setattr(transform_mod, "ACTION_SLICE", 40)
    small = _held_by_a_first_sync(50, tmp_path, monkeypatch)
    large = _held_by_a_first_sync(200, tmp_path, monkeypatch)
    for when in ("before the actions", "at the end"):
        grown = (large[when] - small[when]) / 150
        assert grown < 500, f"{when}: {grown:.0f} bytes more per incident ({small[when]:,.0f} -> {large[when]:,.0f})"
    assert large["peak"] < 1.25 * small["peak"], f"Python's peak grew from {small['peak']:,} to {large['peak']:,}"


@pytest.mark.both_stores
@pytest.mark.slow
def test_a_sync_bigger_than_a_chunk_commits_chunk_by_chunk(
    server: FakeJira, stores: Callable[[str], Settings], monkeypatch
):
    clean = settings_for(server, stores("clean"))
    sync_run(clean)
    monkeypatch.setattr(extract, "READ_CHUNK_ISSUES", 4)
    sizes: list[int] = []
    real_incidents = Transformer.incidents

    def incidents(self: Transformer, chunk):
        batch = real_incidents(self, chunk)
        sizes.append(len(batch.incidents))
        if len(sizes) == 4:
            raise RuntimeError("the disk went away while the fourth chunk was written")
        return batch

    monkeypatch.setattr(Transformer, "incidents", incidents)
    settings = settings_for(server, stores("pir"))
    with pytest.raises(RuntimeError, match="fourth chunk"):
        sync_run(settings)
    assert sizes == [4, 4, 4, 4]
    # The three chunks written before stay, whole incidents with their timelines; the cursor did not move.
    assert sync.last_cursor(settings) is None
    with db.connect(settings, read_only=True) as con:
        kept = {r[0] for r in con.execute("SELECT issue_id FROM incidents").fetchall()}
        events = con.execute("SELECT count(*) FROM incident_events").fetchone()[0]
    with db.connect(clean, read_only=True) as con:
        first = [
            r[0] for r in con.execute("SELECT issue_id FROM incidents ORDER BY created_at, key LIMIT 12").fetchall()
        ]
        want = con.execute(
            "SELECT count(*) FROM incident_events WHERE incident_id IN (SELECT unnest(?))", [first]
        ).fetchone()[0]
    assert kept == set(first) and events == want
    monkeypatch.setattr(Transformer, "incidents", real_incidents)
    sync_run(settings)
    assert dump(settings) == dump(clean)


@pytest.mark.both_stores
@pytest.mark.slow  # 6 s a flavour on a quiet machine
def test_a_read_that_fails_late_writes_nothing(
    server: FakeJira, site: dict, stores: Callable[[str], Settings], monkeypatch
):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    before = dump(settings)
    server.dc_search_page = server.cloud_search_page = 4
    monkeypatch.setattr(extract, "READ_CHUNK_ISSUES", 4)
    for issue in server.live_issues():
        server.update_issue(issue["id"], fields={"summary": issue["fields"]["summary"] + " (edited)"})
    server.reset_counts()
    sync_run(settings_for(server, stores("counting")))
    pages = server.counts[search_name(server)]
    # The incidents are read last: the last two pages fail for good, after eight chunks were read.
    server.add_fault("search", "503", times=-1, skip=pages - 2)
    with pytest.raises(jc.JiraUnavailableError):
        sync_run(settings)
    assert dump(settings) == before


@pytest.mark.both_stores
def test_a_sync_with_nothing_changed_costs_exactly_the_minimum(server: FakeJira, stores: Callable[[str], Settings]):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    before = dump(settings)
    server.reset_counts()
    result = sync_run(settings)
    assert dict(server.counts) == {**STARTUP, search_name(server): 2}
    assert result.request_count == 5 and (result.incidents, result.actions, result.events) == (0, 0, 0)
    assert dump(settings) == before


@pytest.mark.both_stores
def test_an_incremental_sync_looks_up_what_it_reads_not_every_stored_id(
    server: FakeJira, site: dict, stores: Callable[[str], Settings], monkeypatch
):
    # What the database holds is asked for a page of issues at a time, so an incremental run's memory follows
    # the window it reads, not the number of stored issues.
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    stored = sum(table_counts(settings)[t] for t in ("incidents", "actions"))
    incident = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident")
    server.update_issue(incident["key"], fields={"summary": "Checkout down (again)"})
    asked: list[int] = []
    real_known = sync._known

    def known(settings: Settings) -> extract.Known:
        found = real_known(settings)
        return extract.Known(lambda ids: asked.append(len(ids)) or found.updated_of(ids), found.linked_of)

    monkeypatch.setattr(sync, "_known", known)
    result = sync_run(settings)
    assert result.incidents == 1 and asked
    assert max(asked) <= max(extract.DC_PAGE, extract.CLOUD_PAGE) and sum(asked) < stored / 2, (asked, stored)
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT summary FROM incidents WHERE issue_id = ?", [incident["id"]]).fetchone() == (
            "Checkout down (again)",
        )


def test_a_sync_flattens_in_a_capped_workspace_beside_the_database(server: FakeJira, tmp_path: Path, monkeypatch):
    # The flattening DuckDB's spill folder is a private one beside the database (not .tmp/ in the working
    # directory), its memory is capped, and nothing of it is left when the run ends.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    seen: list[tuple[Path, str, str]] = []
    real_flatten = transform_mod.flatten

    def flatten(incidents, fm, base_url, workspace=None):
        assert workspace is not None
        seen.append(
            (
                workspace.folder,
                *workspace.con.execute(
                    "SELECT current_setting('temp_directory'), current_setting('memory_limit')"
                ).fetchone(),
            )
        )
        return real_flatten(incidents, fm, base_url, workspace)

    monkeypatch.setattr(transform_mod, "flatten", flatten)
    settings = settings_for(server, tmp_path / "data" / "pir.duckdb")
    assert sync_run(settings).incidents > 0 and seen
    folder, spill, limit = seen[0]
    assert folder.parent == settings.db.parent and spill.startswith(str(folder))
    capped = duckdb.connect(config={"memory_limit": flatten_mod.WORKSPACE_MEMORY_LIMIT})
    assert limit == capped.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert not folder.exists() and not any(settings.db.parent.glob(".pir-flatten-*"))
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.both_stores
def test_changes_show_up_incrementally_with_complete_timelines(
    server: FakeJira, site: dict, stores: Callable[[str], Settings]
):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    incident = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident")
    server.update_issue(incident["key"], fields={"summary": "Checkout down (updated)"})
    server.add_histories(incident["key"], 230)  # past every embedded cap: 40, 100
    for n in range(45):  # past the embedded 20 comments
        server.update_issue(incident["key"], comment=f"late note {n}")
    server.reset_counts()
    result = sync_run(settings)
    stored = server.resolve(incident["key"])
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT summary FROM incidents WHERE issue_id = ?", [incident["id"]]).fetchone()[0] == (
            "Checkout down (updated)"
        )
        events = dict(
            con.execute(
                "SELECT source, count(*) FROM incident_events WHERE incident_id = ? GROUP BY source", [incident["id"]]
            ).fetchall()
        )
        texts = {
            r[0]
            for r in con.execute(
                "SELECT text FROM incident_events WHERE incident_id = ? AND source = 'jira_comment'", [incident["id"]]
            ).fetchall()
        }
    assert events["jira_changelog"] == sum(len(h["items"]) for h in stored["changelog"]["histories"])
    assert events["jira_comment"] == len(stored["fields"]["comment"]["comments"])
    assert {f"late note {n}" for n in range(45)} <= texts
    assert result.incidents == 1
    # Only the truncated lists cost follow-up requests, at 100 a page.
    if server.cloud:
        assert server.counts["GET /rest/api/3/issue/{id}/changelog"] == -(-len(stored["changelog"]["histories"]) // 100)
        assert server.counts["GET /rest/api/3/issue/{id}/comment"] == 1
    else:
        assert server.counts["GET /rest/api/2/issue/{id}"] == 1  # DC returns changelog and comments in one GET
        assert "GET /rest/api/2/issue/{id}/comment" not in server.counts
    assert table_counts(settings) == expected(server.live_issues())


def jqls(server: FakeJira) -> list[str]:
    """The JQL of every search the server answered, decoded."""
    from urllib.parse import parse_qs

    return [parse_qs(line.split("?", 1)[1]).get("jql", [""])[0] for line in server.log if "/search" in line]


def test_the_window_is_written_in_the_jira_users_time_zone(server: FakeJira, tmp_path: Path):
    import datetime as dt

    settings = settings_for(server, tmp_path / "pir.duckdb")
    sync_run(settings)
    start = sync.last_cursor(settings) - dt.timedelta(minutes=10)
    server.reset_counts()
    sync_run(settings)
    window = f'updated >= "{start.astimezone(ZoneInfo(server.user_tz)):%Y/%m/%d %H:%M}"'
    assert len(jqls(server)) == 2 and all(window in jql for jql in jqls(server))
    # An explicit setting wins over the user's profile.
    server.reset_counts()
    sync_run(settings.replace(jira_timezone="Asia/Tokyo"))
    tokyo = f'updated >= "{start.astimezone(ZoneInfo("Asia/Tokyo")):%Y/%m/%d %H:%M}"'
    assert tokyo != window and all(tokyo in jql for jql in jqls(server))


@pytest.mark.both_stores
def test_a_key_move_keeps_the_row_and_its_timeline(server: FakeJira, site: dict, stores: Callable[[str], Settings]):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    incident = next(
        i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident" and i["changelog"]["histories"]
    )
    with db.connect(settings, read_only=True) as con:
        before = con.execute("SELECT count(*) FROM incident_events WHERE incident_id = ?", [incident["id"]]).fetchone()[
            0
        ]
    # The incident query still finds it in its new project (the JQL is widened to follow it).
    server.move_issue(incident["key"], "OPS-901")
    moved = settings.replace(incident_jql="project in (INC, OPS) AND issuetype = Incident")
    sync_run(moved)
    with db.connect(settings, read_only=True) as con:
        rows = con.execute("SELECT key, project_key FROM incidents WHERE issue_id = ?", [incident["id"]]).fetchall()
        after = con.execute("SELECT count(*) FROM incident_events WHERE incident_id = ?", [incident["id"]]).fetchone()[
            0
        ]
        assert con.execute("SELECT count(*) FROM incidents WHERE key = ?", [incident["key"]]).fetchone()[0] == 0
    assert rows == [("OPS-901", "OPS")]
    assert after == before + 2  # the move's Key and project items; nothing duplicated
    assert table_counts(settings)["incidents"] == expected(site["issues"])["incidents"]


@pytest.mark.both_stores
def test_full_sync_flags_deleted_issues_and_keeps_them(server: FakeJira, site: dict, stores: Callable[[str], Settings]):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    incident = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident")
    action = next(
        i
        for i in site["issues"]
        if i["fields"]["issuetype"]["name"] == "Task" and "postmortem" in i["fields"]["labels"]
    )
    server.delete_issue(incident["id"])
    server.delete_issue(action["id"])
    incremental = sync_run(settings)
    assert incremental.deleted == 0  # an incremental run cannot see deletions
    result = sync_run(settings, full=True)
    assert result.deleted == 2 and result.mode == "full"
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT deleted FROM incidents WHERE issue_id = ?", [incident["id"]]).fetchone() == (True,)
        assert con.execute("SELECT deleted FROM actions WHERE issue_id = ?", [action["id"]]).fetchone() == (True,)
        assert con.execute("SELECT count(*) FROM incidents WHERE deleted").fetchone()[0] == 1
        assert con.execute("SELECT deleted_marked FROM sync_runs WHERE mode = 'full'").fetchone() == (2,)


@pytest.mark.both_stores
def test_an_epic_that_changed_alone_still_links_to_its_incident(
    server: FakeJira, site: dict, stores: Callable[[str], Settings]
):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    # An incident linked to its epic by label only: unlink it in the database and change only the epic.
    epic = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Epic")
    with db.connect(settings) as con:
        con.execute("UPDATE incidents SET epic_key = NULL WHERE epic_key = ?", [epic["key"]])
    server.update_issue(epic["key"], fields={"summary": "Follow-ups (renamed)"})
    sync_run(settings)
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents WHERE epic_key = ?", [epic["key"]]).fetchone()[0] == 1


def test_cloud_search_lag_is_caught_by_the_overlap_window(site: dict, tmp_path: Path):
    with FakeJira(site, flavour="cloud") as server:
        settings = settings_for(server, tmp_path / "pir.duckdb")
        sync_run(settings)
        incident = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident")
        server.update_issue(incident["key"], fields={"summary": "indexed late"}, lag=1)
        sync_run(settings)  # /search/jql has not indexed the change yet
        with db.connect(settings, read_only=True) as con:
            query = "SELECT summary FROM incidents WHERE issue_id = ?"
            assert con.execute(query, [incident["id"]]).fetchone()[0] != "indexed late"
        sync_run(settings)
        with db.connect(settings, read_only=True) as con:
            assert con.execute(query, [incident["id"]]).fetchone()[0] == "indexed late"


# --- faults --------------------------------------------------------------------------------------------

# Each fault spoils one request; faults on one endpoint spoil consecutive attempts of the same request.
FAULTS = [
    ("serverInfo", "reset", {}),
    ("myself", "503", {"retry_after": "0"}),
    ("field", "500", {}),
    ("search", "429", {"retry_after": "0"}),
    ("search", "429", {"retry_after": "date:0"}),
    ("search", "502", {}),
    ("search", "504", {}),
    ("search", "drop", {}),
    ("search", "slow", {"delay": 1.0}),
    ("issue/", "drop", {}),
    ("issue/", "503", {}),
]


@pytest.mark.both_stores
def test_every_fault_kind_is_retried_and_the_database_matches_a_clean_run(
    server: FakeJira, site: dict, stores: Callable[[str], Settings]
):
    # Truncated timelines so that follow-up endpoints exist to inject into.
    incident = next(i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident")
    server.add_histories(incident["key"], 150)
    for n in range(25):
        server.update_issue(incident["key"], comment=f"c{n}")
    clean = settings_for(server, stores("clean"))
    sync_run(clean)
    faulty = settings_for(server, stores("faulty"))
    injected = [server.add_fault(pattern, kind, **options) for pattern, kind, options in FAULTS]
    patient = jc.RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, connect_timeout=1.0, read_timeout=0.5)
    result = sync.run(faulty, progress=False, retry=patient)
    assert [f.hits for f in injected] == [1] * len(FAULTS)
    assert result.retries == len(FAULTS)
    assert dump(faulty) == dump(clean)


@pytest.mark.both_stores
def test_a_run_that_fails_midway_keeps_the_cursor_and_a_rerun_completes_it(
    server: FakeJira, site: dict, stores: Callable[[str], Settings]
):
    clean = settings_for(server, stores("clean"))
    faulty = settings_for(server, stores("faulty"))
    sync_run(clean)
    sync_run(faulty)
    cursor = sync.last_cursor(faulty)
    incidents = [i for i in site["issues"] if i["fields"]["issuetype"]["name"] == "Incident"]
    for issue in incidents[:3]:
        server.update_issue(issue["key"], fields={"summary": issue["fields"]["summary"] + " (edited)"})
    server.add_histories(incidents[1]["key"], 120)
    # The follow-up request for the long changelog fails for good: after the incident search succeeded.
    server.add_fault(r"issue/\d+", "503", times=-1)
    with pytest.raises(jc.JiraUnavailableError) as caught:
        sync_run(faulty)
    assert "\n" not in str(caught.value)
    assert sync.last_cursor(faulty) == cursor
    status, mode, failed_cursor, requests, error, _ = runs(faulty)[-1]
    assert (status, failed_cursor) == ("failed", None) and "503" in error and json.loads(requests)
    server.clear_faults()
    sync_run(faulty)
    sync_run(clean)
    assert dump(faulty) == dump(clean)
    assert sync.last_cursor(faulty) > cursor


def test_bad_credentials_are_one_line_without_the_token(server: FakeJira, tmp_path: Path, monkeypatch, capsys):
    from pirlib import cli

    secret = "wrong-secret-Zq81x"
    monkeypatch.setenv("PIR_DB", str(tmp_path / "pir.duckdb"))
    monkeypatch.setenv("PIR_JIRA_URL", server.url)
    if server.cloud:
        monkeypatch.setenv("PIR_JIRA_EMAIL", "pir-bot@example.com")
        monkeypatch.setenv("PIR_JIRA_TOKEN", secret)
    else:
        monkeypatch.setenv("PIR_JIRA_PAT", secret)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sync"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "401" in err and "PIR_JIRA_" in err
    assert secret not in err
    raw = (tmp_path / "pir.duckdb").read_bytes()
    wal = tmp_path / "pir.duckdb.wal"
    raw += wal.read_bytes() if wal.exists() else b""
    for token in (secret, CLOUD_TOKEN, DC_PAT):
        assert token.encode() not in raw
    settings = Settings(db=tmp_path / "pir.duckdb")
    ((status, _, _, _, error, _),) = runs(settings)
    assert status == "failed" and "401" in error and secret not in error


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert sync._show_progress(None) is False
    monkeypatch.delenv("CI")
    assert sync._show_progress(None) is True
    assert sync._show_progress(False) is False


# --- realism samples ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "sample_file", "keys"),
    [
        ("datacenter", "jira_ruby_server_v2/issue.json", None),
        ("cloud", "atlassian_openapi_v3_examples/get_search_jql.json", "response_200"),
    ],
)
def test_the_realism_samples_search_envelopes_parse(flavour: str, sample_file: str, keys: str | None, tmp_path: Path):
    envelope = jira_sample(sample_file)
    envelope = envelope[keys] if keys else envelope
    site = {"serverInfo": {}, "fields": [], "users": [], "issues": []}
    with FakeJira(site, flavour=flavour) as server:
        server.canned_search = envelope  # answer every search with the captured page
        client = jc.connect(settings_for(server, tmp_path / "x.duckdb"), policy=FAST)
        # The captured pages were taken without expand=changelog, and Atlassian's Cloud example has no real
        # fields: asking for either would make them (rightly) malformed answers.
        issues = list(extract.search(client, "project = X", [] if flavour == "cloud" else ["summary"]))
    assert [i["key"] for i in issues] == [i["key"] for i in envelope["issues"]]
    assert len(server.log) == 2  # serverInfo + one page: isLast / total end the paging
    if flavour == "cloud":
        return  # Atlassian's R2 example body is not realistic ("updated": 1); only its envelope counts here
    batch = transform(issues, [], FieldMap(severity=None, failure_mode=None), base_url="https://jira.example.com")
    assert list(batch.incidents["key"]) == [i["key"] for i in envelope["issues"]]
    assert batch.incidents["created_at"].notna().all()


def test_a_pat_and_a_token_together_pick_by_site(site: dict, tmp_path: Path):
    # Both kinds configured: an atlassian.net URL would take the token; any other URL the PAT.
    with FakeJira(site, flavour="datacenter") as server:
        settings = settings_for(
            server, tmp_path / "pir.duckdb", jira_email="me@example.com", jira_token=Secret("unused-token")
        )
        assert sync_run(settings).status == "success"


def test_unknown_jql_fields_fail_with_the_setting_named(server: FakeJira, tmp_path: Path):
    settings = settings_for(server, tmp_path / "pir.duckdb", incident_jql="project = = INC")
    with pytest.raises(PirError, match="PIR_INCIDENT_JQL"):
        sync_run(settings)
    assert re.search("failed", runs(settings)[-1][0])


# --- malformed answers (issue 17) -----------------------------------------------------------------------


def damage_counts(settings: Settings) -> tuple:
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT (SELECT count(*) FROM incident_events), (SELECT count(*) FROM actions WHERE deleted),"
            " (SELECT count(*) FROM incidents WHERE status IS NULL), (SELECT count(*) FROM sync_runs)"
        ).fetchone()


@pytest.mark.parametrize("hidden", ["comment", "changelog", "labels", "status"])
def test_an_answer_missing_a_field_pir_asked_for_fails_the_run_and_writes_nothing(
    server: FakeJira, tmp_path: Path, hidden: str, monkeypatch, capsys
):
    settings = settings_for(server, tmp_path / "pir.duckdb")
    sync_run(settings)
    events, deleted, blank, _ = damage_counts(settings)
    assert events > 0 and deleted == 0 and blank == 0
    server.hidden_fields = {hidden}
    for name, value in (("PIR_DB", str(settings.db)), ("PIR_JIRA_URL", server.url)):
        monkeypatch.setenv(name, value)
    for name, value in server.credentials().items():
        monkeypatch.setenv(f"PIR_{name.upper()}", value)
    assert cli.main(["sync", "--full"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pir: error: Jira's answer is malformed: ")
    assert re.search(r"[A-Z]+-\d+ (lacks|has no)", err) and (f"'{hidden}'" in err or f"no {hidden}" in err)
    assert "nothing was written" in err and "run `pir sync` again" in err
    assert damage_counts(settings)[:3] == (events, 0, 0)
    assert runs(settings)[-1][0] == "failed"


def test_an_issue_without_a_key_is_one_line_not_a_traceback(server: FakeJira, tmp_path: Path):
    settings = settings_for(server, tmp_path / "pir.duckdb")
    page = {
        "issues": [{"id": "1", "fields": {"summary": "x"}}],
        "isLast": True,
        "startAt": 0,
        "maxResults": 50,
        "total": 1,
    }
    server.canned_search = page
    with pytest.raises(PirError, match=r"malformed: issue id 1 has no key; nothing was written"):
        sync_run(settings)
    server.canned_search = {"total": 3}  # no issues list at all
    with pytest.raises(PirError, match=r"malformed: a search page: the answer has no list 'issues'"):
        sync_run(settings)


def test_a_field_jira_sends_as_null_is_not_missing(server: FakeJira, tmp_path: Path):
    # An asked-for field without a value comes back null (duedate, resolutiondate, priority ...): that is data.
    settings = settings_for(server, tmp_path / "pir.duckdb")
    for issue in server.live_issues():
        issue["fields"].pop("duedate", None)
        issue["fields"].pop("resolutiondate", None)
    assert sync_run(settings).status == "success"


@pytest.mark.slow
def test_the_cursor_never_passes_the_start_of_a_run_that_outlasts_the_overlap(
    server: FakeJira, tmp_path: Path, monkeypatch
):
    from support.fake_jira import format_jira_time

    settings = settings_for(server, tmp_path / "pir.duckdb")
    sync_run(settings)
    incidents = [i for i in server.live_issues() if i["fields"]["issuetype"]["name"] == "Incident"]
    early, late = incidents[0], incidents[-1]
    start = dt.datetime.now(dt.UTC)
    real_extract = sync.extract_mod.extract

    def long_run(*args, **kwargs):
        # A run held up by Retry-After waits: the last page, read an hour in, has a change made then; the
        # first page, read at the start, missed a change made half an hour in.
        server.update_issue(late["id"], fields={"summary": "changed late"})
        late["fields"]["updated"] = format_jira_time(start + dt.timedelta(minutes=60), server.tz)
        data = real_extract(*args, **kwargs)
        data.chunks = iter(list(data.chunks))  # every page read
        server.update_issue(early["id"], fields={"summary": "changed while the run read later pages"})
        early["fields"]["updated"] = format_jira_time(start + dt.timedelta(minutes=30), server.tz)
        return data

    monkeypatch.setattr(sync.extract_mod, "extract", long_run)
    result = sync_run(settings)
    assert result.cursor <= start + dt.timedelta(minutes=1)  # not the late page's hour
    monkeypatch.setattr(sync.extract_mod, "extract", real_extract)
    sync_run(settings)
    with db.connect(settings, read_only=True) as con:
        summary = con.execute("SELECT summary FROM incidents WHERE issue_id = ?", [str(early["id"])]).fetchone()[0]
    assert summary == "changed while the run read later pages"


@pytest.mark.both_stores
@pytest.mark.slow
def test_a_slower_concurrent_sync_does_not_put_old_values_back(
    server: FakeJira, stores: Callable[[str], Settings], monkeypatch
):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    incident = next(i for i in server.live_issues() if i["fields"]["issuetype"]["name"] == "Incident")
    real_extract = sync.extract_mod.extract

    def slow_run(*args, **kwargs):
        data = real_extract(*args, **kwargs)
        data.chunks = iter(list(data.chunks))  # this run has read the old values ...
        server.update_issue(incident["id"], fields={"summary": "newer"}, comment="a newer comment")
        monkeypatch.setattr(sync.extract_mod, "extract", real_extract)
        sync_run(settings, full=True)  # ... when another run reads and writes the newer ones
        return data

    monkeypatch.setattr(sync.extract_mod, "extract", slow_run)
    sync_run(settings, full=True)
    with db.connect(settings, read_only=True) as con:
        summary = con.execute("SELECT summary FROM incidents WHERE issue_id = ?", [str(incident["id"])]).fetchone()[0]
        comments = con.execute(
            "SELECT count(*) FROM incident_events WHERE incident_id = ? AND source = 'jira_comment'"
            " AND text LIKE '%a newer comment%'",
            [str(incident["id"])],
        ).fetchone()[0]
    assert summary == "newer" and comments == 1


def test_a_full_disk_for_the_spool_is_one_line_and_writes_nothing(server: FakeJira, tmp_path: Path, monkeypatch):
    import errno
    import tempfile

    from pirlib.jira_sync import spool

    settings = settings_for(server, tmp_path / "pir.duckdb")
    sync_run(settings)
    before = dump(settings)
    server.update_issue(next(iter(server.live_issues()))["id"], fields={"summary": "edited"})

    real_temporary_file = tempfile.TemporaryFile

    class FullDisk:
        def __init__(self, *args, **kwargs):
            self.file = real_temporary_file(*args, **kwargs)

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str):
            return getattr(self.file, name)

    monkeypatch.setattr(spool.tempfile, "TemporaryFile", FullDisk)
    with pytest.raises(PirError) as caught:
        sync_run(settings)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"cannot keep the issues read from Jira in {tmp_path}")
    assert dump(settings) == before and runs(settings)[-1][0] == "failed"


# --- team mode: PostgreSQL is the store -------------------------------------------------------------------------


@pytest.mark.both_stores
def test_a_sync_that_fails_while_writing_leaves_the_store_as_it_was(
    server: FakeJira, stores: Callable[[str], Settings], monkeypatch
):
    settings = settings_for(server, stores("pir"))
    sync_run(settings)
    before, cursor = dump(settings), sync.last_cursor(settings)
    for issue in server.live_issues():
        server.update_issue(issue["id"], fields={"summary": issue["fields"]["summary"] + " (edited)"})

    def failing_index(con, batch):  # the chunk's rows are written in the open transaction by now
        raise RuntimeError("the store went away after the chunk's rows were written")

    monkeypatch.setattr(sync, "_index_text", failing_index)
    with pytest.raises(RuntimeError, match="went away"):
        sync_run(settings)
    assert dump(settings) == before and sync.last_cursor(settings) == cursor
    assert runs(settings)[-1][0] == "failed"


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_pir_init_and_sync_in_team_mode_write_postgresql_and_publish_only_the_read_model(
    server: FakeJira, settings: Settings, monkeypatch, capsys
):
    from support import postgres

    # A URL with a password: no line pir prints may show it.
    url = postgres.server().fresh_database(password=True)
    settings = settings_for(server, settings.replace(database_url=Secret(url)))
    password = postgres.server().password
    for name, value in {**store_env(settings), "PIR_JIRA_URL": server.url}.items():
        monkeypatch.setenv(name, value)
    for name, value in server.credentials().items():
        monkeypatch.setenv(f"PIR_{name.upper()}", value)
    assert cli.main(["init"]) == 0
    out = capsys.readouterr().out
    every = ", ".join(name for _, name, _ in db.migrations("postgres"))
    assert out.startswith(f"initialised {pg.describe(url)} ({every})") and password not in out
    assert cli.main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "synced " in out and password not in out
    with db.connect(settings) as con:
        assert db.dialect(con) == "postgres"
        names = con.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()
        assert names == [(name,) for _, name, _ in db.migrations("postgres")]
        assert con.execute("SELECT status FROM sync_runs").fetchall() == [("success",)]
        assert con.execute("SELECT count(*) FROM similar_documents").fetchone()[0] == N_INCIDENTS
    assert table_counts(settings) == expected(server.live_issues())
    # Beside PIR_DB only the read model the sync published at its end (and the lock its snapshots take turns on):
    # no write-ahead log, spool or workspace left behind, and the read model holds what PostgreSQL holds.
    assert sorted(p.name for p in settings.db.parent.iterdir()) == [settings.db.name, settings.db.name + ".snapshot"]
    with db.read_model(settings) as model:
        assert model.execute("SELECT count(*) FROM incidents").fetchone()[0] == N_INCIDENTS
        mark = model.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'schema_migrations'").fetchone()
        assert mark is not None and pg.describe(url) in mark[0] and password not in mark[0]
    assert password not in json.dumps(runs(settings), default=str)

"""load_batch / mark_deleted against a real DuckDB file: idempotent, id-keyed, curation-safe."""

from __future__ import annotations

import copy
import time

import duckdb
import pandas as pd
import psycopg
import pytest
from test_transform import FIELDS, site

from pirlib import db
from pirlib.config import Settings
from pirlib.jira_sync import transform as transform_module
from pirlib.jira_sync.load import load_batch, load_batches, mark_deleted
from pirlib.jira_sync.transform import Transformer, transform

pytestmark = pytest.mark.both_stores

SYNCED = pd.Timestamp("2026-11-01 12:00", tz="UTC")


def batch_of(incidents, others):
    return transform(incidents, others, FIELDS, base_url="https://jira.example.com")


def snapshot(con) -> dict[str, pd.DataFrame]:
    tables = {"incidents": "issue_id", "actions": "issue_id", "incident_events": "event_id"}
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY {k}").df() for t, k in tables.items()}


@pytest.fixture
def loaded(settings: Settings):
    incidents, others = site()
    with db.connect(settings) as con:
        counts = load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
    return settings, counts


def test_first_load_writes_every_row(loaded) -> None:
    settings, counts = loaded
    assert counts == {"incidents": 2, "actions": 5, "events": 8, "linked": 0}
    with db.connect(settings, read_only=True) as con:
        row = con.execute(
            "SELECT key, severity, started_at, mitigated_at, components, customer_impact, deleted, synced_at"
            " FROM incidents WHERE issue_id = '100'"
        ).fetchone()
        assert row[0:2] == ("INC-440", "Sev-1")
        assert str(row[2]) == "2025-09-05 13:38:12.418000+00:00" and str(row[3]) == "2025-09-05 19:02:40+00:00"
        assert row[4:7] == (["payments-api", "ledger"], True, False)
        assert row[7] == SYNCED.to_pydatetime()
        assert con.execute("SELECT raw->>'key' FROM incidents WHERE issue_id = '100'").fetchone() == ("INC-440",)
        assert (
            con.execute("SELECT due_date FROM actions WHERE key = 'INC-442'").fetchone()[0].isoformat() == "2025-09-30"
        )
        assert con.execute("SELECT count(*) FROM incident_events WHERE NOT hidden AND NOT starred").fetchone() == (8,)


def test_reloading_the_same_batch_leaves_identical_tables(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    with db.connect(settings) as con:
        before = snapshot(con)
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        after = snapshot(con)
    for table in before:
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_a_moved_issue_updates_its_row(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    incidents[0]["key"] = "OPS-7"
    incidents[0]["fields"]["project"] = {"key": "OPS"}
    with db.connect(settings) as con:
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        rows = con.execute("SELECT issue_id, key, project_key, url FROM incidents WHERE issue_id = '100'").fetchall()
        assert rows == [("100", "OPS-7", "OPS", "https://jira.example.com/browse/OPS-7")]
        assert con.execute("SELECT count(*) FROM incidents").fetchone() == (2,)
        # Its events and actions follow: they hang on the id, not the key.
        assert con.execute("SELECT count(*) FROM incident_events WHERE incident_id = '100'").fetchone() == (8,)
        assert con.execute("SELECT count(*) FROM actions WHERE incident_id = '100'").fetchone() == (2,)


def test_curation_and_other_sources_survive_a_reload(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    with db.connect(settings) as con:
        con.execute("UPDATE incident_events SET hidden = true WHERE event_id = 'jira:changelog:502:1'")
        con.execute("UPDATE incident_events SET starred = true WHERE event_id = 'jira:comment:9001'")
        con.execute(
            "INSERT INTO incident_events (event_id, incident_id, occurred_at, source, kind, text, starred)"
            " VALUES ('chat:C1:1', '100', '2025-09-05 13:50:00+00', 'chat', 'message', 'paging payments', true)"
        )
        # The comment was edited in Jira: the text changes, the star stays.
        incidents[0]["fields"]["comment"]["comments"][0]["body"] = "Rolled back at 14:02"
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        rows = con.execute(
            "SELECT event_id, hidden, starred, text FROM incident_events WHERE hidden OR starred ORDER BY event_id"
        ).fetchall()
        assert rows == [
            ("chat:C1:1", False, True, "paging payments"),
            ("jira:changelog:502:1", True, False, None),
            ("jira:comment:9001", False, True, "Rolled back at 14:02"),
        ]


def test_a_comment_deleted_in_jira_goes_but_other_sources_stay(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    incidents[0]["fields"]["comment"]["comments"] = []
    with db.connect(settings) as con:
        con.execute(
            "INSERT INTO incident_events (event_id, incident_id, occurred_at, source, kind)"
            " VALUES ('alert:1', '100', '2025-09-05 13:40:00+00', 'alert', 'alert')"
        )
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        ids = [r[0] for r in con.execute("SELECT event_id FROM incident_events ORDER BY event_id").fetchall()]
    assert "jira:comment:9001" not in ids and "alert:1" in ids and len(ids) == 8


def test_actions_of_a_later_batch_link_to_an_incident_through_its_epic(settings: Settings) -> None:
    incidents, others = site()
    epic_only = [o for o in others if o["key"] == "INC-441"]
    late_action = copy.deepcopy(next(o for o in others if o["key"] == "INC-442"))
    late_action.update(id="399", key="INC-460")
    with db.connect(settings) as con:
        load_batch(con, batch_of(incidents[:1], epic_only), synced_at=SYNCED)
        # Incremental batch: only the new action changed, its incident and epic are not in it.
        batch = batch_of([], [late_action])
        assert batch.actions["incident_id"].isna().all()
        counts = load_batch(con, batch, synced_at=SYNCED)
        assert counts["linked"] == 1
        assert con.execute("SELECT incident_id FROM actions WHERE issue_id = '399'").fetchone() == ("100",)


def test_mark_deleted_flags_unseen_rows_and_a_reload_clears_the_flag(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    with db.connect(settings) as con:
        assert mark_deleted(con, "incidents", {"100"}) == 1
        assert mark_deleted(con, "incidents", {"100"}) == 0
        assert mark_deleted(con, "actions", {"301", "302", "303", "304"}) == 1
        assert con.execute("SELECT count(*) FROM v_incident_durations").fetchone() == (1,)
        assert con.execute("SELECT issue_id FROM incidents WHERE deleted").fetchall() == [("200",)]
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        assert con.execute("SELECT count(*) FROM incidents WHERE deleted").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM actions WHERE deleted").fetchone() == (0,)


def test_a_failing_load_writes_nothing(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    batch = batch_of(incidents, others)
    batch.events.loc[0, "occurred_at"] = pd.NaT  # violates NOT NULL after the incidents were written
    batch.incidents.loc[:, "summary"] = "changed"
    with db.connect(settings) as con:
        before = snapshot(con)
        # The constraint's own error, not the "transaction is aborted" of a statement after it.
        with pytest.raises(
            (duckdb.ConstraintException, psycopg.errors.NotNullViolation),
            match='NOT NULL constraint failed: incident_events.occurred_at|null value in column "occurred_at"',
        ):
            load_batch(con, batch, synced_at=SYNCED)
        after = snapshot(con)
    for table in before:
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_a_resync_restamps_unchanged_rows_and_rewrites_changed_ones(loaded) -> None:
    settings, _ = loaded
    incidents, others = site()
    incidents[1]["fields"]["summary"] = "renamed in Jira"
    later = SYNCED + pd.Timedelta(hours=1)
    with db.connect(settings) as con:
        before = snapshot(con)["incidents"].set_index("issue_id")
        counts = load_batch(con, batch_of(incidents, others), synced_at=later)
        after = snapshot(con)["incidents"].set_index("issue_id")
        assert counts["incidents"] == 2
        assert (after["synced_at"] == later.to_pydatetime()).all()
        assert after.loc["200", "summary"] == "renamed in Jira"
        unchanged = after.drop(columns=["synced_at"]).loc["100"]
        pd.testing.assert_series_equal(unchanged, before.drop(columns=["synced_at"]).loc["100"])
        assert con.execute("SELECT count(*) FROM actions WHERE synced_at = ?", [later.to_pydatetime()]).fetchone() == (
            5,
        )


def test_batches_stream_in_one_transaction_and_a_failing_stream_writes_nothing(loaded) -> None:

    settings, counts = loaded
    incidents, others = site()

    def failing():
        changed = copy.deepcopy(incidents)
        for incident in changed:
            incident["fields"]["summary"] = "changed by a run that then fails"
        yield from Transformer(others, FIELDS, base_url="https://jira.example.com").batches([changed[:1]])
        raise RuntimeError("Jira went away between two chunks")

    with db.connect(settings) as con:
        before = snapshot(con)
        with pytest.raises(RuntimeError, match="between two chunks"):
            load_batches(con, failing(), synced_at=SYNCED)
        after = snapshot(con)
        for table in before:
            pd.testing.assert_frame_equal(before[table], after[table], obj=table)
        # The same stream without the failure writes what one load_batch of everything writes.
        transformer = Transformer(others, FIELDS, base_url="https://jira.example.com")
        streamed = load_batches(con, transformer.batches([incidents[:1], incidents[1:]]), synced_at=SYNCED)
        assert {k: streamed[k] for k in ("incidents", "actions", "events")} == {
            k: counts[k] for k in ("incidents", "actions", "events")
        }
        for table, frame in snapshot(con).items():
            pd.testing.assert_frame_equal(before[table], frame, obj=table)


def assert_a_rerun_writes_what_one_load_writes(con, settings: Settings, incidents, others) -> None:
    """After a load that failed part-way: a rerun in chunks leaves what one load of everything writes."""
    transformer = Transformer(others, FIELDS, base_url="https://jira.example.com")
    load_batches(con, transformer.batches([incidents[:1], incidents[1:]]), synced_at=SYNCED, commit_every=1)
    rerun = snapshot(con)
    with db.connect(Settings(db=settings.db.with_name("once.duckdb"))) as once_con:
        load_batch(once_con, batch_of(incidents, others), synced_at=SYNCED)
        once = snapshot(once_con)
    for table in once:
        pd.testing.assert_frame_equal(once[table], rerun[table], obj=table)


def test_commit_every_commits_whole_chunks_and_a_failure_keeps_only_those(settings: Settings) -> None:

    incidents, others = site()

    def failing():
        stream = Transformer(others, FIELDS, base_url="https://jira.example.com").batches(
            [incidents[:1], incidents[1:]]
        )
        yield next(stream)
        raise RuntimeError("a bad page after one chunk")

    with db.connect(settings) as con:
        # Not yet a whole commit's worth when the stream fails: the open transaction is rolled back.
        with pytest.raises(RuntimeError, match="bad page"):
            load_batches(con, failing(), synced_at=SYNCED, commit_every=2)
        assert con.execute("SELECT count(*) FROM incidents").fetchone() == (0,)
        with pytest.raises(RuntimeError, match="bad page"):
            load_batches(con, failing(), synced_at=SYNCED, commit_every=1)
        # The first chunk was committed as soon as it was written; nothing after it was.
        kept = con.execute("SELECT issue_id FROM incidents").fetchall()
        assert kept == [(incidents[0]["id"],)]
        assert con.execute("SELECT count(DISTINCT incident_id) FROM incident_events").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)
        assert_a_rerun_writes_what_one_load_writes(con, settings, incidents, others)


def test_a_batch_with_a_column_no_row_fills_loads_and_is_compared_as_the_tables_type(settings: Settings) -> None:
    """A batch of actions none of which has a due date (an incremental run's few changed actions, the last
    slice of a big site): PostgreSQL receives the empty column as text and must still compare it with a date."""
    incidents, others = site()
    undated = copy.deepcopy(others)
    for issue in undated:
        issue["fields"].pop("duedate", None)
    with db.connect(settings) as con:
        load_batch(con, batch_of(incidents, undated), synced_at=SYNCED)
        assert con.execute("SELECT count(*) FROM actions WHERE due_date IS NOT NULL").fetchone() == (0,)
        load_batch(con, batch_of(incidents, others), synced_at=SYNCED)
        assert [
            str(d) for (d,) in con.execute("SELECT due_date FROM actions WHERE due_date IS NOT NULL").fetchall()
        ] == ["2025-09-30"]
        load_batch(con, batch_of(incidents, undated), synced_at=SYNCED)
        assert con.execute("SELECT count(*) FROM actions WHERE due_date IS NOT NULL").fetchone() == (0,)


def test_commit_every_commits_slices_of_actions_too(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions come after the last chunk of incidents, in slices that hold no incident: each slice is
    committed as well, or a big site's actions all waited in one transaction (240 MB at 324k actions)."""
    monkeypatch.setattr(transform_module, "ACTION_SLICE", 2)  # the site's 5 actions: slices of 2, 2 and 1
    incidents, others = site()

    def failing_after_the_first_slice():
        for batch in Transformer(others, FIELDS, base_url="https://jira.example.com").batches(
            [incidents[:1], incidents[1:]]
        ):
            yield batch
            if len(batch.actions):
                raise RuntimeError("a bad slice of actions")

    with db.connect(settings) as con:
        with pytest.raises(RuntimeError, match="bad slice"):
            load_batches(con, failing_after_the_first_slice(), synced_at=SYNCED, commit_every=1)
        assert con.execute("SELECT count(*) FROM incidents").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM actions").fetchone() == (2,)
        assert_a_rerun_writes_what_one_load_writes(con, settings, incidents, others)


@pytest.mark.both_stores
def test_mark_deleted_over_a_large_sites_actions_takes_seconds(settings: Settings) -> None:
    """A full sync of a 100,000-incident site sees about 330,000 actions: PostgreSQL ran the old NOT IN over
    that many ids as a nested loop (still running after 60 s); an anti-join takes well under a second."""
    n = 330_000
    with db.connect(settings) as con:
        con.execute(
            "INSERT INTO actions (issue_id, key) SELECT 'a-' || CAST(g AS VARCHAR), 'A-' || CAST(g AS VARCHAR)"
            f" FROM generate_series(1, {n}) AS t(g)"
        )
        if settings.database_url is not None:  # fail in 30 s rather than hang
            con.execute("SET statement_timeout = '30s'")
        started = time.monotonic()
        flagged = mark_deleted(con, "actions", (f"a-{i}" for i in range(1, n - 9)))
        seconds = time.monotonic() - started
        deleted = con.execute("SELECT issue_id FROM actions WHERE deleted ORDER BY issue_id").fetchall()
    assert flagged == 10
    assert [row[0] for row in deleted] == sorted(f"a-{i}" for i in range(n - 9, n + 1))
    assert seconds < 20, f"mark_deleted took {seconds:.1f} s over {n:,} actions"

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pirlib import cli, configure, db
from pirlib.config import load_settings
from pirlib.errors import DatabaseLockedError, PirError
from pirlib.failure_modes import taxonomy

WORKER = Path(__file__).parent / "support" / "db_worker.py"

DESIGN_TABLES = {
    "incidents",
    "incident_events",
    "actions",
    "action_drafts",
    "reviews",
    "review_notes",
    "artifacts",
    "attendees",
    "failure_modes",
    "reminders",
    "sync_runs",
    "schema_migrations",
}
RUNBOOK_HOURS = {
    "facilitator_assigned": 12,
    "artifacts_collected": 24,
    "invites_sent": 24,
    "agenda_circulated": 24,
    "published": 48,
}
DESIGN_VIEWS = {"v_action_status", "v_review_deadlines", "v_incident_durations", "v_failure_mode_recurrence"}


def table_names(con: duckdb.DuckDBPyConnection, kind: str) -> set[str]:
    return {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = ?", [kind]).fetchall()
    }


def test_init_creates_every_table_and_view_once(settings):
    assert db.init(settings) == [name for _, name, _ in db.migrations()]
    assert db.init(settings) == []
    with db.connect(settings, read_only=True) as con:
        assert DESIGN_TABLES <= table_names(con, "BASE TABLE")
        assert DESIGN_VIEWS <= table_names(con, "VIEW")
        versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    assert versions == [v for v, _, _ in db.migrations()]


def test_migrations_apply_on_first_connect_of_an_existing_file(settings):
    # A file made by an older pir: only the bookkeeping table, no migrations yet.
    con = duckdb.connect(str(settings.db))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    con.close()
    with db.connect(settings) as con:
        assert "incidents" in table_names(con, "BASE TABLE")
    assert db.init(settings) == []


def test_migration_files_are_numbered_and_unique():
    numbers = [version for version, _, _ in db.migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


def configured_values(con) -> tuple[dict, list, list, int]:
    hours = dict(con.execute("SELECT stage, hours FROM review_stage_deadlines").fetchall())
    severities = [r[0] for r in con.execute("SELECT severity FROM review_severities ORDER BY ALL").fetchall()]
    modes = [r[0] for r in con.execute("SELECT mode FROM failure_mode_taxonomy ORDER BY position").fetchall()]
    return hours, severities, modes, con.execute("SELECT days FROM recurrence_window").fetchone()[0]


def test_migrate_only_migrates_and_configure_writes_the_configured_values(settings):
    settings = settings.replace(publish_hours=36.0, review_severities=("Sev-0",), recurrence_window_days=30)
    with db.connect(settings, auto_migrate=False) as con:
        assert db.migrate(con)[0] == "001_initial.sql"
        hours, severities, modes, window = configured_values(con)
        assert (hours["published"], severities, modes, window) == (48, ["Sev-0", "Sev-1"], [], 90)  # the schema's
        configure.apply(con, settings)
        hours, severities, modes, window = configured_values(con)
    assert (hours["published"], hours["facilitator_assigned"], severities, window) == (36, 12, ["Sev-0"], 30)
    assert modes == taxonomy.load().names()


def test_a_changed_setting_takes_effect_on_the_next_command_and_a_dry_run_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIR_DB", str(tmp_path / "pir.duckdb"))
    monkeypatch.setenv("PIR_PUBLISH_HOURS", "36")
    assert cli.main(["init"]) == 0
    monkeypatch.setenv("PIR_PUBLISH_HOURS", "30")
    monkeypatch.setenv("PIR_REVIEW_SEVERITIES", "Sev-0, Sev-2")
    assert cli.main(["digest", "--dry-run"]) == 0
    with db.connect(load_settings(), read_only=True) as con:
        assert configured_values(con)[:2] == ({**RUNBOOK_HOURS, "published": 36}, ["Sev-0", "Sev-1"])
    assert cli.main(["check"]) == 0
    with db.connect(load_settings(), read_only=True) as con:
        assert configured_values(con)[:2] == ({**RUNBOOK_HOURS, "published": 30}, ["Sev-0", "Sev-2"])


def test_read_only_on_a_missing_file_says_how_to_create_it(settings):
    with pytest.raises(PirError, match="run `pir init`"):
        with db.connect(settings, read_only=True):
            pass


def test_upsert_replaces_by_key_and_dedupes_the_batch(settings):
    import pandas as pd

    frame = pd.DataFrame(
        {"note_id": ["a", "b", "a"], "incident_id": ["i"] * 3, "segment": ["s"] * 3, "text": ["first", "b", "second"]}
    )
    with db.connect(settings) as con:
        assert db.upsert_frame(con, "review_notes", frame, "note_id") == 2
        db.upsert_frame(con, "review_notes", frame.iloc[[0]].assign(text="third"), "note_id")
        rows = con.execute("SELECT note_id, text FROM review_notes ORDER BY 1").fetchall()
    assert rows == [("a", "third"), ("b", "b")]


def spawn(role: str, path: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), role, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_waits_for_a_lock_then_proceeds(settings):
    db.init(settings)
    holder = spawn("holder", settings.db, 1.5)
    assert holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    with db.connect(settings) as con:
        con.execute("SELECT 1").fetchone()
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert 0.5 < waited < 10


def test_gives_up_with_one_clear_line(settings):
    db.init(settings)
    holder = spawn("holder", settings.db, 6)
    assert holder.stdout.readline().strip() == "holding"
    try:
        with pytest.raises(DatabaseLockedError) as err:
            with db.connect(settings.replace(db_lock_timeout=1.0)):
                pass
        assert "stayed locked by another process for 1 s" in str(err.value)
        assert "PIR_DB_LOCK_TIMEOUT" in str(err.value)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_one_writer_and_several_readers_lose_nothing(settings):
    db.init(settings)
    seconds = 6
    writer = spawn("writer", settings.db, seconds)
    readers = [spawn("reader", settings.db, seconds) for _ in range(4)]
    results = []
    for proc in [writer, *readers]:
        out, err = proc.communicate(timeout=seconds + 60)
        assert proc.returncode == 0, err
        results.append(int(out.strip()))
    written, reads = results[0], results[1:]
    print("writes, reads per reader:", results)
    # Everyone made progress (no starvation either way); the counts depend on the machine's load.
    assert written >= 5 and all(r >= 3 for r in reads), results
    with db.connect(settings, read_only=True) as con:
        stored = con.execute("SELECT count(*), count(DISTINCT text) FROM review_notes").fetchone()
    assert stored == (written, written)


def test_pir_writes_small_row_groups_under_the_files_own_name(settings) -> None:
    with db.connect(settings) as con:
        assert con.execute("SELECT current_database()").fetchone() == (settings.db.stem,)
        con.execute("CREATE TABLE rows_test AS SELECT range AS i FROM range(40000)")
        con.execute("CHECKPOINT")
        # 40,000 rows are one row group at DuckDB's default size (122,880) and three at pir's.
        (groups,) = con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('rows_test')").fetchone()
        assert groups == -(-40000 // db.ROW_GROUP_SIZE) == 3
    with duckdb.connect(str(settings.db), read_only=True) as con:  # an analyst's plain open sees the same tables
        assert con.execute("SELECT count(*) FROM rows_test").fetchone() == (40000,)

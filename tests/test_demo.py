"""`pir demo`: the sample site goes through the sync's own transform and load, and a reload changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.stores import select_all_but

from pirlib import db
from pirlib.config import Settings

sample = pytest.importorskip("pirlib.sample", reason="pirlib/sample.py (the sample generator) is not written yet")

from pirlib.demo import load_demo  # noqa: E402

pytestmark = pytest.mark.both_stores


def _tables(con) -> dict[str, list[tuple]]:
    queries = {
        "incidents": select_all_but(con, "incidents", "synced_at") + " ORDER BY issue_id",
        "actions": select_all_but(con, "actions", "synced_at") + " ORDER BY issue_id",
        "incident_events": "SELECT * FROM incident_events ORDER BY event_id",
        "reviews": select_all_but(con, "reviews", "updated_at") + " ORDER BY incident_id",
        "failure_modes": "SELECT * FROM failure_modes ORDER BY mode",
        "sync_runs": "SELECT run_id, status, mode, source, issues_written FROM sync_runs ORDER BY run_id",
    }
    return {name: con.execute(sql).fetchall() for name, sql in queries.items()}


def test_demo_loads_the_sample_twice_to_the_same_database(settings: Settings) -> None:
    first = load_demo(settings)
    sample_dir = Path(settings.sample_dir)
    issues = json.loads((sample_dir / "issues.json").read_text(encoding="utf-8"))["issues"]
    kinds = [i["fields"]["issuetype"]["name"] for i in issues]
    incidents = [i for i in issues if i["fields"]["issuetype"]["name"] == "Incident"]
    expected_events = sum(len(h["items"]) for i in incidents for h in i["changelog"]["histories"]) + sum(
        len(i["fields"]["comment"]["comments"]) for i in incidents
    )
    reviews = json.loads((sample_dir / "reviews.json").read_text(encoding="utf-8"))
    modes = json.loads((sample_dir / "failure_modes.json").read_text(encoding="utf-8"))

    assert first["incidents"] == kinds.count("Incident")
    assert first["actions"] == kinds.count("Task")
    assert first["events"] == expected_events
    assert first["reviews"] == len(reviews) and first["failure_modes"] == len(modes)

    with db.connect(settings, read_only=True) as con:
        before = _tables(con)
        assert len(before["incidents"]) == first["incidents"]
        assert len(before["actions"]) == first["actions"]
        assert len(before["incident_events"]) == expected_events
        assert len(before["reviews"]) == len(reviews)
        # Every action belongs to an incident, and Stage-31 has its epic.
        assert con.execute("SELECT count(*) FROM actions WHERE incident_id IS NULL").fetchone() == (0,)
        stage31 = con.execute(
            "SELECT epic_key, severity, CAST(resolved_at AS DATE) FROM incidents WHERE 'stage31' = ANY(labels)"
        ).fetchone()
        assert stage31[0] is not None and stage31[1] == "Sev-1" and str(stage31[2]) == "2025-09-06"
        assert con.execute("SELECT mode, status FROM sync_runs").fetchall() == [("demo", "success")]

    second = load_demo(settings)
    assert second == first
    with db.connect(settings, read_only=True) as con:
        assert _tables(con) == before


@pytest.mark.slow  # 6 s on a quiet machine
def test_demo_refuses_a_database_with_synced_incidents_unless_forced(tmp_path: Path, demo_db: Path) -> None:
    import shutil

    from support.sandbox import assert_one_error_line, run_pir

    from pirlib.errors import InputError

    shutil.copyfile(demo_db, tmp_path / "pir.duckdb")
    settings = Settings(db=tmp_path / "pir.duckdb", sample_dir=demo_db.parent / "sample")
    with db.connect(settings) as con:  # what a `pir sync` against a real site leaves
        con.execute(
            "INSERT INTO sync_runs (run_id, started_at, finished_at, status, mode, source)"
            " VALUES ('r1', now(), now(), 'success', 'incremental', 'https://jira.example.com')"
        )
        con.execute("UPDATE incidents SET summary = 'as synced from Jira'")
    with pytest.raises(InputError, match=r"holds 264 incidents synced from Jira .*`pir demo --force`"):
        load_demo(settings)
    result = run_pir("demo", env={"PIR_DB": str(settings.db), "PIR_SAMPLE_DIR": str(settings.sample_dir)})
    assert_one_error_line(result, str(settings.db), "PIR_DB=", "--force")
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents WHERE summary <> 'as synced from Jira'").fetchone() == (0,)
    load_demo(settings, force=True)
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents WHERE summary = 'as synced from Jira'").fetchone() == (0,)

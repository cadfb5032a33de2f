"""`pir roadmap` over the demo data: three sections from data, idempotent, configurable runbook mapping."""

from __future__ import annotations

from support import publish_fixture as fx

from pirlib import cli, db, roadmap
from pirlib.config import Settings


def write_roadmap(settings: Settings):
    """``roadmap.write_roadmap`` in one read-only connection, as `pir roadmap` runs it."""
    with db.connect(settings, read_only=True) as con:
        return roadmap.write_roadmap(con, settings)


def demo_settings(demo_db, tmp_path, **changes) -> Settings:
    return Settings(
        db=demo_db,
        today=fx.TODAY,
        roadmap_path=tmp_path / "docs/performance/reliability-roadmap.md",
        db_lock_timeout=20.0,
    ).replace(**changes)


def test_regenerating_is_byte_identical_and_has_every_section(demo_db, tmp_path):
    settings = demo_settings(demo_db, tmp_path)
    path, counts = write_roadmap(settings)
    first = path.read_bytes()
    assert write_roadmap(settings)[0].read_bytes() == first
    text = first.decode()
    with db.connect(settings, read_only=True) as con:
        actions = con.execute("SELECT count(*) FROM v_action_status").fetchone()[0]
        recurring = con.execute(
            "SELECT count(DISTINCT (failure_mode, service)) FROM v_failure_mode_recurrence"
        ).fetchone()[0]
        stage31 = con.execute("SELECT key FROM incidents WHERE list_contains(labels, 'stage31')").fetchone()[0]
    assert counts == {"actions": actions, "runbooks": 4, "exercises": recurring}
    assert text.count("\n| [INC-") == actions
    assert "Action states are as of 2025-09-07." in text
    deployment = text.split("**deployment** runbook")[1].split("- [ ]")[0]
    assert "Bad deploy:" in deployment and "Data corruption" not in deployment
    assert "**payments** runbook" in text and "**disputes** runbook" in text
    assert (
        "Game day: ship a deliberately faulty canary of payments-api and time detection and rollback: Bad deploy"
        in text
    )
    bad_deploy = text.split("\n### Bad deploy\n")[1].split("\n### ")[0]
    assert "#### payments-api:" in bad_deploy and stage31 in bad_deploy


def test_open_actions_come_before_done_ones_with_their_state(demo_db, tmp_path):
    text = write_roadmap(demo_settings(demo_db, tmp_path))[0].read_text()
    section = text.split("\n#### payments-api:")[1].split("\n####")[0]
    states = [line.rsplit("(", 1)[1].split(")")[0] for line in section.splitlines() if line.startswith("| [INC-")]
    done_from = next(n for n, s in enumerate(states) if s.startswith("done"))
    assert set(states[:done_from]) <= {"open", "overdue"} and all(s.startswith("done") for s in states[done_from:])


def test_the_runbook_mapping_is_configurable(demo_db, tmp_path):
    settings = demo_settings(
        demo_db,
        tmp_path,
        runbook_map=(("Bad deploy", ("deployment", "payments")), ("capacity", ("capacity-planning",))),
    )
    text = write_roadmap(settings)[0].read_text()
    payments = text.split("**payments** runbook")[1].split("- [ ]")[0]
    assert "Bad deploy:" in payments and "**capacity-planning** runbook" in text
    assert "**disputes** runbook" not in text  # unmapped modes fall back to the incident runbook only
    assert roadmap.runbooks_for("Unknown mode", None, {}) == ("incident",)


def test_hostile_action_text_is_escaped(demo_db, tmp_path):
    copy = tmp_path / "pir.duckdb"
    copy.write_bytes(demo_db.read_bytes())
    settings = demo_settings(copy, tmp_path)
    with db.connect(settings) as con:
        first = con.execute("SELECT issue_id FROM actions ORDER BY key LIMIT 1").fetchone()[0]
        con.execute("UPDATE actions SET summary = ? WHERE issue_id = ?", ["<img src=x onerror=alert(1)> | *x*", first])
    text = write_roadmap(settings)[0].read_text()
    assert "<img" not in text.replace("\\<", "") and "\\<img src=x onerror=alert(1)\\> \\| \\*x\\*" in text


def test_cli_roadmap(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIR_DB", str(demo_db))
    monkeypatch.setenv("PIR_TODAY", "2025-09-07")
    assert cli.main(["roadmap"]) == 0
    assert (tmp_path / "docs/performance/reliability-roadmap.md").exists()
    assert cli.main(["roadmap", "--out", "elsewhere/roadmap.md"]) == 0
    out = capsys.readouterr().out
    assert "wrote elsewhere/roadmap.md:" in out and (tmp_path / "elsewhere/roadmap.md").exists()

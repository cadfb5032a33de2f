"""One failure-mode vocabulary everywhere: every surface shows the mode as classified (the facilitator's, else
the taxonomy's, v_incident_failure_modes); a Jira value the taxonomy does not list appears only as "Jira says …".

The demo database gets a Jira value no taxonomy lists ("Cosmic rays") on every incident the sample marks
"Bad deploy", and Stage-31 a facilitator's correction; then each surface is rendered and searched for it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.publish_fixture import RENDERED_AT, stage31_key, stage31_settings

from pirlib import configure, db, metrics, roadmap
from pirlib.cli import main
from pirlib.config import Settings
from pirlib.failure_modes import manual, similar, taxonomy
from pirlib.publish import messages, render
from pirlib.ui import boards
from pirlib.ui.facilitator.recap import RecapPanel

RAW = "Cosmic rays"
SAYS = re.compile(r'Jira says (&#34;|&quot;|\\?")Cosmic rays(&#34;|&quot;|\\?")')


@pytest.fixture
def settings(demo_db: Path, tmp_path: Path) -> Settings:
    settings = stage31_settings(demo_db, tmp_path)
    key = stage31_key(settings)
    with db.connect(settings) as con:
        con.execute("UPDATE incidents SET failure_mode = ? WHERE failure_mode = 'Bad deploy' OR key = ?", [RAW, key])
        incident_id = con.execute("SELECT issue_id FROM incidents WHERE key = ?", [key]).fetchone()[0]
        manual.set_mode(con, incident_id, "Config change", set_by="Alex Chen")
    return settings


def only_as_jira_says(text: str) -> None:
    """RAW may appear only inside "Jira says …"."""
    assert RAW not in SAYS.sub("", text), [line for line in text.splitlines() if RAW in line][:3]


def test_the_view_never_takes_an_unlisted_jira_value_for_a_mode(settings: Settings) -> None:
    with db.connect(settings, read_only=True) as con:
        modes = set(taxonomy.modes(con))
        classified = con.execute(
            "SELECT count(*), count(*) FILTER (jira_says = 'Jira says \"Cosmic rays\"') FROM v_incident_failure_modes"
            " WHERE field_value = ?",
            [RAW],
        ).fetchone()
        shown = {r[0] for r in con.execute("SELECT failure_mode FROM v_incident_failure_modes").fetchall()}
        durations = {r[0] for r in con.execute("SELECT failure_mode FROM v_incident_durations").fetchall()}
    assert classified[0] > 10 and classified[0] == classified[1]
    assert shown <= modes and durations <= modes


def test_the_postmortem_in_every_format_and_the_status_summary(settings: Settings) -> None:
    key = stage31_key(settings)
    with db.connect(settings, read_only=True) as con:
        incident_id = con.execute("SELECT issue_id FROM incidents WHERE key = ?", [key]).fetchone()[0]
        data = render.postmortem_data(con, incident_id, RENDERED_AT)
    assert data["incident"]["failure_mode"] == "Config change"
    for fmt in render.FORMATS:
        text = render.render(data, fmt)
        assert "Config change" in text and SAYS.search(text), fmt
        only_as_jira_says(text)
    summary = messages.status_summary(data, settings)["text"]
    assert "Config change" in summary
    only_as_jira_says(summary)


def test_the_roadmap(settings: Settings, tmp_path: Path) -> None:
    with db.connect(settings, read_only=True) as con:
        modes = set(taxonomy.modes(con))
        path, counts = roadmap.write_roadmap(con, settings, tmp_path / "roadmap.md")
    text = path.read_text(encoding="utf-8")
    assert counts["actions"] > 0
    assert RAW not in text
    headings = set(re.findall(r"^### (.+)$", text, flags=re.M))
    assert headings and headings <= modes | {roadmap.NO_MODE}
    assert "Config change" in headings


def test_the_roadmap_speaks_the_taxonomy(tmp_path: Path) -> None:
    with configure.open_configured(Settings(db=tmp_path / "pir.duckdb")) as con:
        names = set(taxonomy.modes(con))
        categories = {r[0] for r in con.execute("SELECT category FROM failure_mode_taxonomy").fetchall()}
    assert set(roadmap.EXERCISES) <= names | categories
    assert set(roadmap.DEFAULT_RUNBOOK_MAP) <= categories


@pytest.mark.parametrize("name", ["failure_modes", "incidents"])
def test_each_board(settings: Settings, name: str) -> None:
    board = boards.load_board(name, settings)
    page = board.panels_html(metrics.Filters())
    only_as_jira_says(page)
    frames = [f for f in board.data.frames.values() if "failure_mode" in f.columns]
    assert frames
    with db.connect(settings, read_only=True) as con:
        modes = set(taxonomy.modes(con))
    for frame in frames:
        assert set(frame["failure_mode"].dropna()) <= modes


def test_pir_similar_and_the_guide(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    key = stage31_key(settings)
    with db.connect(settings, read_only=True) as con:
        modes = set(taxonomy.modes(con))
        later = con.execute(
            "SELECT key FROM incidents WHERE failure_mode = ? ORDER BY created_at DESC LIMIT 1", [RAW]
        ).fetchone()[0]
        found = similar.similar(con, later, 10)
    assert set(found["failure_mode"]) <= modes
    monkeypatch.setenv("PIR_DB", str(settings.db))
    monkeypatch.chdir(settings.db.parent)
    assert main(["similar", later, "-k", "10"]) == 0
    only_as_jira_says(capsys.readouterr().out)
    with db.connect(settings, read_only=True) as con:
        incident_id = con.execute("SELECT issue_id FROM incidents WHERE key = ?", [key]).fetchone()[0]
    panel = RecapPanel(settings, incident_id)
    assert "Config change" in panel.mode.value and SAYS.search(panel.mode.value)
    only_as_jira_says(panel.mode.value + panel.similar.value)

"""One resolver: every command, the guide and the library name an incident by key (any case) or Jira id the
same way, and refuse an unknown or deleted one with the same line."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import review_fixture as fx
from support.stores import pir_env

from pirlib import cli, db
from pirlib.errors import InputError
from pirlib.failure_modes import similar
from pirlib.incidents import resolve_incident
from pirlib.jira_sync import push
from pirlib.publish import pipeline
from pirlib.review.session import open_review
from pirlib.timeline.events import import_file
from pirlib.ui.facilitator.wizard import FacilitatorWizard

ALERTS = Path(__file__).parent / "fixtures" / "timeline" / "alerts.csv"
NAMES = [fx.STAGE31_KEY, fx.STAGE31_KEY.lower(), f"  {fx.STAGE31_KEY.lower()} ", fx.STAGE31_ID]
UNKNOWN = "pir: error: unknown incident 'inc-9999': no incident has that key or id"
DELETED = "pir: error: incident INC-44 was deleted in Jira"


pytestmark = pytest.mark.both_stores


@pytest.fixture
def fixture_db(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = fx.build(settings.db, settings.database_url)
    for name, value in pir_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIR_TODAY", fx.TODAY.isoformat())
    monkeypatch.setenv("PIR_PUBLISHED_DIR", str(tmp_path / "published"))
    monkeypatch.chdir(tmp_path)
    return settings


def test_a_key_in_any_case_or_the_id_names_the_incident(fixture_db) -> None:
    with db.connect(fixture_db, read_only=True) as con:
        assert {resolve_incident(con, name) for name in NAMES} == {(fx.STAGE31_ID, fx.STAGE31_KEY)}
        with pytest.raises(InputError, match="^unknown incident 'INC-9999'"):
            resolve_incident(con, "INC-9999")
        with pytest.raises(InputError, match="^no incident given"):
            resolve_incident(con, " ")
        with pytest.raises(InputError, match="^incident INC-44 was deleted in Jira"):
            resolve_incident(con, "inc-44")


def _analysts(fixture_db, commands: list) -> list:
    """``commands`` but `pir similar` in team mode: it reads the read model, which only `pir snapshot` makes."""
    return commands if fixture_db.database_url is None else [c for c in commands if c[0] != "similar"]


@pytest.mark.parametrize("name", NAMES)
def test_every_command_resolves_the_same_names(fixture_db, capsys: pytest.CaptureFixture[str], name: str) -> None:
    commands = [
        ["check", name],
        ["similar", name],
        ["push", name],
        ["regulator-filed", name],
        ["import", "alerts", name, str(ALERTS), "--tz", "UTC"],
        ["publish", name, "--format", "md"],
    ]
    for argv in _analysts(fixture_db, commands):
        assert cli.main(argv) == 0, (argv, capsys.readouterr().err)
    assert "not in the database" not in capsys.readouterr().err


def test_every_command_refuses_an_unknown_or_deleted_incident_with_the_same_line(fixture_db, capsys) -> None:
    commands = [["check"], ["similar"], ["push"], ["regulator-filed"], ["import", "alerts"], ["publish"]]
    for argv in _analysts(fixture_db, commands):
        for name, expected in (("inc-9999", UNKNOWN), ("inc-44", DELETED)):
            extra = [str(ALERTS)] if argv[0] == "import" else []
            assert cli.main([*argv, name, *extra]) == 1, argv
            err = capsys.readouterr().err
            assert err.startswith(expected) and err.count("\n") == 1, (argv, err)


def test_the_library_entry_points_and_the_guide_resolve_a_lower_case_key(fixture_db) -> None:
    lower = fx.STAGE31_KEY.lower()
    with db.connect(fixture_db) as con:
        assert import_file(con, "alerts", lower, ALERTS, tz="UTC")["read"] > 0
    if fixture_db.database_url is None:  # `pir similar` reads the read model: in team mode `pir snapshot` makes it
        with db.read_model(fixture_db) as con:
            assert list(similar.similar(con, lower)["key"]) == list(similar.similar(con, fx.STAGE31_ID)["key"])
    assert push.push(fixture_db, lower).outcomes == []  # no drafts: nothing to push, and no Jira needed
    assert pipeline.publish(fixture_db, lower, formats=["md"]).key == fx.STAGE31_KEY
    with open_review(fixture_db, lower) as session:
        assert session.incident_id == fx.STAGE31_ID
    wizard = FacilitatorWizard(fixture_db, incident=lower, render_figures=False)
    assert (wizard.incident_id, wizard.incident_key) == (fx.STAGE31_ID, fx.STAGE31_KEY)

"""deploy/jupyterhub_config.py in team mode: PostgreSQL is the store, and the boards read the read model
`pir snapshot` publishes. A facilitator's guide save lands in PostgreSQL at once and on the board after the next
snapshot. Its own module, so the solo Hub of test_hub.py has stopped before this one starts."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlparse

import pytest
from support import dashboard_fixture, hub, postgres
from support.serving import PIR

from pirlib import db
from pirlib.config import Secret, Settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # on the browser tests' worker, as test_hub


def pir_run(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([str(PIR), *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pir {' '.join(args)}: {result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def team_running(tmp_path_factory):
    """The Hub in team mode: the demo loaded into a fresh PostgreSQL database, its first read model
    published, PIR_DATABASE_URL (with a password) in the Hub's environment."""
    hub.require()
    database_url = postgres.require().fresh_database(password=True)
    folder = tmp_path_factory.mktemp("team-hub")
    env = {
        "PIR_DATABASE_URL": database_url,
        "PIR_DB": str(folder / "read-model.duckdb"),
        "PIR_TODAY": dashboard_fixture.TODAY,
    }
    commands_env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")} | env
    commands_env["PIR_SAMPLE_DIR"] = str(folder / "sample")
    for command in (("init",), ("demo",), ("snapshot",)):
        pir_run(commands_env, *command)
    with hub.running_hub(folder, env, hub.GROUPS, hub.USERS) as running:
        yield running, Settings(db=folder / "read-model.duckdb", database_url=Secret(database_url)), commands_env


@pytest.mark.browser
def test_team_mode_a_guide_save_lands_in_postgresql_and_on_the_board_after_the_next_snapshot(team_running, browser):
    running, settings, commands_env = team_running
    visit = hub.open_the_guide(browser, running.url)
    try:
        key, mode = hub.set_a_failure_mode_in_the_guide(visit)
        with db.connect(settings, read_only=True) as con:  # the store: PostgreSQL
            assert db.dialect(con) == "postgres"
            saved = con.execute(
                "SELECT o.mode FROM failure_mode_overrides AS o JOIN incidents AS i ON i.issue_id = o.incident_id"
                " WHERE i.key = ?",
                [key],
            ).fetchall()
        assert saved == [(mode,)]
        pir_run(commands_env, "snapshot")  # the next snapshot (the Hub's pir-snapshot service runs one a minute)
        hub.assert_the_incident_page_shows(visit, running.url, key, mode)
        password = urlparse(settings.database_url.reveal()).password
        assert password and password not in running.log.read_text() and password not in visit.page.content()
    finally:
        visit.close()

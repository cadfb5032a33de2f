"""deploy/jupyterhub_config.py on a real JupyterHub with its real configurable-http-proxy, on free loopback ports.

The dashboards are the Hub service pir-dashboards: sent to sign-in without a session, refused without the
pir-viewer role, a board drawn in Chromium with it. Users: ``viewer`` (group pir-viewers), ``outsider`` (no
group), ``facilitator`` (group pir-facilitators).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from support import dashboard_fixture, hub
from support.browser import FIGURES, FILTERS, Visit, assert_clean

from pirlib.config import Settings
from pirlib.demo import load_demo

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one Hub, on the browser tests' worker

BOARD = "actions"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    hub.require()
    folder = tmp_path_factory.mktemp("hub")
    database = folder / "pir.duckdb"
    load_demo(Settings(db=database, sample_dir=folder / "sample"))
    env = {"PIR_DB": str(database), "PIR_TODAY": dashboard_fixture.TODAY}
    with hub.running_hub(folder, env, hub.GROUPS, hub.USERS) as running:
        yield running


def test_an_anonymous_request_to_the_dashboards_is_sent_to_sign_in(running):
    url, hops = hub.board_url(running.url, BOARD), []
    for _ in range(5):
        answer = requests.get(url, allow_redirects=False, timeout=30)
        hops.append((answer.status_code, urlparse(url).path))
        if answer.status_code != 302:
            break
        url = requests.compat.urljoin(url, answer.headers["Location"])
    # the service sends the browser to the Hub's OAuth, which sends it to the login form: no board on the way
    assert [code for code, _ in hops] == [302, 302, 200], hops
    assert hops[1][1] == "/hub/api/oauth2/authorize", hops
    assert hops[2][1] == "/hub/login", hops
    assert "pir-filters" not in answer.text


def test_a_signed_in_user_without_the_viewer_role_is_refused(running):
    answer = running.signed_in("outsider").get(hub.board_url(running.url, BOARD), timeout=60)
    assert answer.status_code == 403, (answer.status_code, answer.url)
    assert "pir-filters" not in answer.text and "Data as of" not in answer.text


def test_only_facilitators_get_a_server_and_viewers_land_on_the_dashboards(running):
    viewer = running.signed_in("viewer")
    assert viewer.get(f"{running.url}/hub/spawn", allow_redirects=False, timeout=30).status_code == 403
    landing = viewer.get(f"{running.url}/hub/", timeout=60)
    assert landing.status_code == 200 and urlparse(landing.url).path == hub.DASHBOARDS


@pytest.mark.browser
def test_a_viewer_sees_a_board_drawn_through_the_hub(running, browser):
    visit = Visit(
        browser,
        hub.board_url(running.url, BOARD),
        wait_for_plots=FIGURES[BOARD],
        prepare=lambda page: hub.sign_in_page(page, running.url, "viewer"),
        wait_for=FILTERS,
    )
    try:
        assert_clean(visit)
        assert "Data as of" in visit.text
        assert urlparse(visit.page.url).path == f"{hub.DASHBOARDS}voila/render/{BOARD}.ipynb"
    finally:
        visit.close()


@pytest.mark.browser
def test_a_facilitator_server_starts_and_a_guide_save_appears_on_the_board(running, browser):
    """Solo store: the guide in the facilitator's server writes the DuckDB file the dashboards read."""
    visit = hub.open_the_guide(browser, running.url)
    try:
        key, mode = hub.set_a_failure_mode_in_the_guide(visit)
        assert visit.foreign_requests() == [] and visit.console_errors == []  # nothing from outside 127.0.0.1
        hub.assert_the_incident_page_shows(visit, running.url, key, mode)
    finally:
        visit.close()

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

USERS = {"viewer", "outsider", "facilitator"}
GROUPS = {"pir-viewers": ["viewer"], "pir-facilitators": ["facilitator"]}
BOARD = "actions"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    hub.require()
    folder = tmp_path_factory.mktemp("hub")
    database = folder / "pir.duckdb"
    load_demo(Settings(db=database, sample_dir=folder / "sample"))
    env = {"PIR_DB": str(database), "PIR_TODAY": dashboard_fixture.TODAY}
    with hub.running_hub(folder, env, GROUPS, USERS) as running:
        yield running


def board_url(base: str, name: str = BOARD) -> str:
    return f"{base}{hub.DASHBOARDS}voila/render/{name}.ipynb"


def test_an_anonymous_request_to_the_dashboards_is_sent_to_sign_in(running):
    url, hops = board_url(running.url), []
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
    answer = running.signed_in("outsider").get(board_url(running.url), timeout=60)
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
        board_url(running.url),
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


def pick_any_incident(visit: Visit) -> str:
    """Choose the first incident in the guide's Pick list; its key."""
    select = visit.page.locator(".pir-pick select")
    select.select_option(index=1)
    label = visit.page.evaluate("() => document.querySelector('.pir-pick select').selectedOptions[0].text")
    return label.replace("\u00a0", " ").split(" ", 1)[0]


@pytest.mark.browser
def test_a_facilitator_server_starts_and_a_guide_save_appears_on_the_board(running, browser):
    """The facilitator lands on their own server (JupyterLab), opens the guide as an app there, sets an
    incident's failure mode in the Meeting step's recap, and the incident's page on the dashboards shows it."""
    visit = Visit(
        browser,
        f"{running.url}/user/facilitator/voila/render/facilitator_guide.ipynb",
        prepare=lambda page: hub.sign_in_page(page, running.url, "facilitator", lands_on="/user/facilitator/lab"),
    )
    page = visit.page
    try:
        page.wait_for_selector(".pir-facilitator", timeout=60_000)
        key = pick_any_incident(visit)
        page.locator("button.pir-step-meeting").click()
        picker = page.locator(".pir-failure-mode-picker select")
        picker.wait_for(timeout=30_000)
        before = page.locator(".pir-failure-mode").inner_text()
        modes = picker.evaluate("s => Array.from(s.options).map(o => o.value).filter(v => v)")
        chosen = next(mode for mode in reversed(modes) if mode not in before)  # a change the board must show
        picker.select_option(value=chosen)
        page.locator("button.pir-failure-mode-save").click()
        page.wait_for_function("t => document.body.innerText.includes(t)", arg=f"saved: {chosen}", timeout=30_000)

        page.goto(f"{board_url(running.url, 'incident')}?incident={key}", wait_until="domcontentloaded")
        page.wait_for_function(
            "t => document.body.innerText.includes(t)", arg=f"Failure mode\t{chosen}", timeout=60_000
        )
    finally:
        visit.close()

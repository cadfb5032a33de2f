"""The facilitator guide served by Voila, driven in headless Chromium against the Stage-31 fixture.

Pick Stage-31, assign a facilitator, tick an artifact, add a "what went wrong" note, draft one valid and
one invalid action (and see the error), reload, and find everything still there. Screenshots of each step
go to tests/artifacts/ (git-ignored). Voila, Chromium and the page helpers are those of test_serve.py.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from support import review_fixture as fx
from pirlib import serve
from pirlib.review import actions
from pirlib.review.session import incident_facts
from support.browser import Visit
from support.serving import ARTIFACTS, ROOT, free_port

PAGE = "/voila/render/facilitator_guide.ipynb"


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("guide")
    shutil.copy(ROOT / "notebooks" / "facilitator_guide.ipynb", workdir / "facilitator_guide.ipynb")
    settings = fx.build(workdir / "pir.duckdb")
    port = free_port()
    env = serve.kernel_environment(settings)
    log = (workdir / "voila.log").open("w")
    process = subprocess.Popen(serve.voila_command(port, dashboards=workdir), env=env, cwd=workdir,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / "voila.log").read_text()
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "voila did not answer within 60 s"
                time.sleep(0.2)
        yield url, settings
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def shot(visit: Visit, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / f"facilitator-{name}.png"), full_page=True)


def wait_text(visit: Visit, text: str, timeout: float = 20_000) -> None:
    visit.page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def fill(visit: Visit, selector: str, value: str) -> None:
    field = visit.page.locator(selector).first
    field.fill(value)
    field.press("Tab")  # text fields save when they lose focus


def open_guide(browser, url: str) -> Visit:  # noqa: F811
    visit = Visit(browser, url + PAGE)
    visit.page.wait_for_selector(".pir-facilitator", timeout=60_000)
    return visit


@pytest.mark.browser
def test_facilitator_walkthrough_survives_a_reload(browser, guide_server):  # noqa: F811
    url, settings = guide_server
    visit = open_guide(browser, url)
    try:
        page = visit.page
        page.locator(".pir-pick select").select_option(index=1)  # Stage-31 is the second-newest closure
        wait_text(visit, fx.STAGE31_SUMMARY)
        shot(visit, "1-pick")
        page.locator(".pir-next button, button.pir-next").first.click()
        page.wait_for_selector(".pir-facilitator-name input")
        fill(visit, ".pir-facilitator-name input", fx.COMMANDER)
        page.locator("button.pir-assign").click()
        wait_text(visit, "is the incident commander of INC-31")
        fill(visit, ".pir-facilitator-name input", "Dana Roe")
        page.locator("button.pir-assign").click()
        wait_text(visit, "Dana Roe is the facilitator")
        page.locator(".pir-artifact-monitoring_snapshots input[type=checkbox]").check()
        wait_text(visit, "collected 2025-09-06")
        shot(visit, "2-prepare")

        page.locator("button.pir-step-timeline").click()  # the timeline editor with its plotly figure
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1",
                               timeout=60_000)  # fmt: skip
        wait_text(visit, "events")
        shot(visit, "3-timeline")

        page.locator("button.pir-step-meeting").click()
        page.wait_for_selector(".pir-note-went_wrong textarea")
        page.locator(".pir-note-went_wrong textarea").fill("Canary had no 5xx alert")
        page.locator(".pir-note-went_wrong textarea").press("Tab")
        page.locator(".pir-note-tag-went_wrong select").select_option(label="Detection gap")
        page.locator("button.pir-add-note-went_wrong").click()
        wait_text(visit, "[Detection gap] Canary had no 5xx alert")
        shot(visit, "4-meeting")

        page.locator("button.pir-step-actions").click()
        page.wait_for_selector(".pir-action-summary input")
        fill(visit, ".pir-action-summary input", "Add a canary alert on 5xx rate")
        wait_text(visit, "owner: required")
        fill(visit, ".pir-action-owner input", "Sam Okafor")
        page.locator(".pir-action-due_date input").fill("2025-09-30")
        page.locator(".pir-action-due_date input").press("Tab")
        page.locator(".pir-action-action_type select").select_option(label="detect")
        fill(visit, ".pir-action-success_metric textarea", "alert within 2 min of 5xx > 1%")
        fill(visit, ".pir-action-verification_method textarea", "game day on 2025-09-20, checked by the SRE on call")
        wait_text(visit, "SMART: this draft is complete")
        page.locator("button.pir-new-draft").click()
        fill(visit, ".pir-action-summary input", "Look into the alerts")
        wait_text(visit, "'look into' is vague")
        shot(visit, "5-actions")
        assert visit.console_errors == [] and visit.foreign_requests() == []
    finally:
        visit.close()

    drafts = fx.in_review(settings, actions.list_drafts)
    assert len(drafts) == 2 and drafts.loc[0, "problems"] == [] and drafts.loc[1, "problems"]

    visit = open_guide(browser, url)  # reload: the guide resumes on Actions with everything there
    try:
        wait_text(visit, "Add a canary alert on 5xx rate")
        text = visit.text
        assert "Step 5 of 6: Actions" in text and "Look into the alerts" in text
        visit.page.locator("button.pir-step-prepare").click()
        visit.page.wait_for_selector(".pir-current-facilitator")
        assert visit.page.locator(".pir-current-facilitator").inner_text() == "Dana Roe"
        assert visit.page.locator(".pir-artifact-monitoring_snapshots input[type=checkbox]").is_checked()
        visit.page.locator("button.pir-step-meeting").click()
        wait_text(visit, "[Detection gap] Canary had no 5xx alert")
        shot(visit, "6-reloaded")
        assert visit.console_errors == [] and visit.foreign_requests() == []
    finally:
        visit.close()
    facts = fx.in_review(settings, incident_facts)
    assert facts["facilitator"] == "Dana Roe"

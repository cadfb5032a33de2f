"""The facilitator's guide as `pir guide` serves it, driven in headless Chromium through a whole review of the
Stage-31 fixture.

Pick Stage-31; Prepare (facilitator, an artifact, invite list, agenda); Timeline (star an event); Meeting (a note
in every segment, with text typed and not added yet in another segment, which must survive); Actions (a bad
draft and its problems, then a good one; the bad one deleted after the confirmation); Wrap-up (publish);
reload; reopen the published review from Pick's "Published" list, find "Publish again (update)" and record the
regulator filing. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres
from support import review_fixture as fx
from support.browser import Visit
from support.serving import ARTIFACTS, PIR, free_port, port_open
from support.stores import pir_env

from pirlib import db
from pirlib.config import Secret, Settings
from pirlib.review import actions, meeting
from pirlib.review.session import incident_facts

GOOD_DRAFT = {
    "summary": "Add a canary alert on the checkout 5xx rate",
    "success_metric": "p99 checkout latency < 300 ms for 14 days",
    "verification_method": "game day on 2025-09-20, checked by the SRE on call",
}
OWNER = "Sam Okafor"  # the incident's assignee: on the invite list the guide proposes
DUE = "2025-10-15"  # within 60 days of the fixture's today (2025-09-06)
PAGE_URL = "https://wiki.example.com/postmortems/inc-31"


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory):
    """`pir guide` itself (the CLI), on a free port, over the Stage-31 fixture; stopped with SIGTERM after."""
    workdir = tmp_path_factory.mktemp("guide")
    yield from serve_guide(workdir, fx.build(workdir / "pir.duckdb"))


@pytest.fixture(scope="module")
def team_guide_server(tmp_path_factory):
    """`pir guide` in team mode: the Stage-31 fixture in a PostgreSQL database that PIR_DATABASE_URL names."""
    workdir = tmp_path_factory.mktemp("team-guide")
    url = postgres.require().fresh_database()
    yield from serve_guide(workdir, fx.build(workdir / "pir.duckdb", Secret(url)))


def serve_guide(workdir: Path, settings: Settings) -> Iterator[tuple[str, Settings, Path]]:
    port = free_port()
    env = pir_env(settings, PIR_TODAY=fx.TODAY.isoformat(), PIR_HOME=str(workdir))
    log_path = workdir / "guide.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(PIR), "guide", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "pir guide did not answer within 60 s"
                time.sleep(0.2)
        yield url, settings, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            log.close()
    assert code == 0, log_path.read_text()
    assert not port_open(port)


def shot(visit: Visit, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / f"facilitator-{name}.png"), full_page=True)


def wait_text(visit: Visit, text: str, timeout: float = 20_000) -> None:
    visit.page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def fill(visit: Visit, selector: str, value: str) -> None:
    field = visit.page.locator(selector).first
    field.fill(value)
    field.press("Tab")  # text fields save when they lose focus


def open_prepare(visit: Visit) -> None:
    """Next, from Pick to Prepare, once Prepare's fields hold what the store says. Filling the facilitator's name
    before that raced the step's load, which sets the field: Playwright's fill then typed after the loaded name
    ("Alex ChenDana Roe", seen once in CI on PostgreSQL)."""
    visit.page.locator("button.pir-next").click()
    visit.page.wait_for_selector(".pir-current-facilitator")


def open_step(visit: Visit, step: str, number: int) -> None:
    visit.page.locator(f"button.pir-step-{step}").click()
    wait_text(visit, f"Step {number} of 6")


def pick(visit: Visit, key: str) -> None:
    """Choose ``key`` in Pick's list (option labels start with the key; their values are not the ids)."""
    index = visit.page.evaluate(
        "k => Array.from(document.querySelector('.pir-pick select').options)"
        ".findIndex(o => o.text.replace(/\\u00a0/g, ' ').startsWith(k + ' '))",
        key,
    )
    assert index >= 0, f"{key} is not in the list"
    visit.page.locator(".pir-pick select").select_option(index=index)


def open_guide(browser, url: str) -> Visit:
    visit = Visit(browser, url)
    visit.page.wait_for_selector(".pir-facilitator", timeout=60_000)
    return visit


@pytest.mark.browser
def test_a_whole_review_in_pir_guide_then_reopened_after_publishing(browser, guide_server):
    url, settings, log_path = guide_server
    assert f"pir: serving the facilitator's guide at {url}" in log_path.read_text()
    visit = open_guide(browser, url)
    try:
        page = visit.page
        text = visit.text  # an app: no code, no "run the cell" on the page
        assert "from pirlib" not in text and "guide()" not in text and "run this cell" not in text.lower()
        assert "Run the cell" not in text and "import guide" not in page.content()  # sources stripped
        pick(visit, fx.STAGE31_KEY)
        wait_text(visit, fx.STAGE31_SUMMARY)

        open_prepare(visit)
        fill(visit, ".pir-facilitator-name input", "Dana Roe")
        page.locator("button.pir-assign").click()
        wait_text(visit, "Dana Roe is the facilitator")
        page.locator(".pir-artifact-monitoring_snapshots input[type=checkbox]").check()
        wait_text(visit, "collected 2025-09-06")
        page.get_by_role("button", name="Mark: invite list sent").click()
        page.wait_for_function(
            "() => document.querySelector('.pir-invite-message').innerText.includes('invite list sent')", timeout=20_000
        )
        shot(visit, "2-prepare")

        open_step(visit, "timeline", 3)  # star an event: a key moment
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1", timeout=60_000)
        page.locator(".pir-timeline-events select").select_option(index=0)
        page.locator("button.pir-star").click()
        page.wait_for_function(
            "() => document.querySelector('.pir-timeline-events select').options[0].text.includes('★')", timeout=20_000
        )
        shot(visit, "3-timeline")

        open_step(visit, "meeting", 4)
        pending = "Canary had no 5xx alert (typed, not added yet)"
        page.locator(".pir-note-went_wrong textarea").fill(pending)
        for segment in meeting.SEGMENTS:  # a note in every segment
            if segment.name == "went_wrong":
                continue
            if segment.name == "risk_review":
                page.locator(".pir-note-tag-risk_review select").select_option(label="Compliance")
            page.locator(f".pir-note-{segment.name} textarea").fill(f"Note on {segment.title}")
            page.locator(f"button.pir-add-note-{segment.name}").click()
            wait_text(visit, f"Note on {segment.title}")
            # the text typed in another segment is still there, on the page and in the kernel's widget
            assert page.locator(".pir-note-went_wrong textarea").input_value() == pending
        page.locator(".pir-note-tag-went_wrong select").select_option(label="Detection gap")
        page.locator("button.pir-add-note-went_wrong").click()
        wait_text(visit, f"[Detection gap] {pending}")
        assert page.locator(".pir-note-went_wrong textarea").input_value() == ""
        shot(visit, "4-meeting")

        open_step(visit, "actions", 5)
        fill(visit, ".pir-action-summary input", "Look into the alerts")  # a bad draft: its problems show
        wait_text(visit, "owner: required")
        wait_text(visit, "is vague")
        page.locator("button.pir-new-draft").click()
        wait_text(visit, "New draft: start typing")  # the form is emptied first: typing earlier races the reset
        fill(visit, ".pir-action-summary input", GOOD_DRAFT["summary"])
        wait_text(visit, f"{GOOD_DRAFT['summary']} — no owner")
        fill(visit, ".pir-action-owner input", OWNER)
        page.locator(".pir-action-due_date input").fill(DUE)
        page.locator(".pir-action-due_date input").press("Tab")
        page.locator(".pir-action-action_type select").select_option(label="detect")
        page.locator(".pir-action-priority select").select_option(index=1)
        fill(visit, ".pir-action-success_metric textarea", GOOD_DRAFT["success_metric"])
        fill(visit, ".pir-action-verification_method textarea", GOOD_DRAFT["verification_method"])
        wait_text(visit, "SMART: this draft is complete")
        wait_text(visit, f"{GOOD_DRAFT['summary']} — {OWNER}, {DUE}, draft: ✓ SMART")  # the list is redrawn
        bad = page.locator(".widget-hbox", has=page.locator(".pir-draft", has_text="Look into the alerts")).last
        bad.locator(".pir-delete-draft").click()  # asks first
        wait_text(visit, "Really delete?")
        assert "Look into the alerts" in visit.text
        bad.locator(".pir-delete-draft").click()
        wait_text(visit, "draft deleted")
        page.wait_for_function("() => !document.body.innerText.includes('Look into the alerts')", timeout=20_000)
        shot(visit, "5-actions")

        open_step(visit, "wrap_up", 6)
        fill(visit, ".pir-doc-url input", PAGE_URL)
        page.locator("button.pir-publish").click()
        wait_text(visit, "INC-31-postmortem.md", timeout=60_000)
        wait_text(visit, "Publish again (update)")
        shot(visit, "6-published")
        assert visit.console_errors == [] and visit.foreign_requests() == []
    finally:
        visit.close()

    [drafted] = fx.in_review(settings, actions.list_drafts)
    assert drafted.draft.summary == GOOD_DRAFT["summary"] and drafted.problems == []
    notes = fx.in_review(settings, meeting.notes)
    assert set(notes["segment"]) == {s.name for s in meeting.SEGMENTS}
    assert fx.in_review(settings, incident_facts)["doc_url"] == PAGE_URL

    visit = open_guide(browser, url)  # a day later: the published review is reachable from Pick
    try:
        page = visit.page
        page.wait_for_selector(".pir-pick select")
        assert fx.STAGE31_SUMMARY not in page.locator(".pir-pick select").inner_text()
        page.locator(".pir-pick-which button", has_text="Published").click()
        wait_text(visit, "Published reviews, most recently published first")
        page.wait_for_function("() => document.querySelector('.pir-pick select').options.length === 2", timeout=20_000)
        pick(visit, fx.STAGE31_KEY)
        wait_text(visit, "· published 2025-09-06")
        open_step(visit, "wrap_up", 6)
        wait_text(visit, "Publish again (update)")
        page.locator("button.pir-regulator-filed").click()
        wait_text(visit, "Regulator filing recorded")
        wait_text(visit, "filed 2025-09-06")
        assert page.locator("button.pir-regulator-filed").is_disabled()
        shot(visit, "7-reopened")
        assert visit.console_errors == [] and visit.foreign_requests() == []
    finally:
        visit.close()
    assert fx.in_review(settings, incident_facts)["regulatory_filed_at"] is not None


@pytest.mark.browser
def test_the_guide_in_team_mode_reads_and_writes_postgresql(browser, team_guide_server):
    """A facilitator's save lands in PostgreSQL at once, an edit made there by someone else shows on the next
    load, and nothing is written to a DuckDB file."""
    url, settings, _ = team_guide_server
    visit = open_guide(browser, url)
    try:
        page = visit.page
        pick(visit, fx.STAGE31_KEY)
        wait_text(visit, fx.STAGE31_SUMMARY)
        open_prepare(visit)
        fill(visit, ".pir-facilitator-name input", "Dana Roe")
        page.locator("button.pir-assign").click()
        wait_text(visit, "Dana Roe is the facilitator")
        page.locator(".pir-artifact-monitoring_snapshots input[type=checkbox]").check()
        wait_text(visit, "collected 2025-09-06")
        with db.connect(settings, read_only=True) as con:
            assert db.dialect(con) == "postgres"
            assert db.one(con, "SELECT facilitator FROM reviews WHERE incident_id = ?", [fx.STAGE31_ID]) == (
                "Dana Roe",
            )
            collected = "SELECT collected_at IS NOT NULL FROM artifacts WHERE artifact_id = ?"
            assert db.one(con, collected, [f"{fx.STAGE31_ID}:monitoring_snapshots"]) == (True,)
        assert visit.console_errors == []
    finally:
        visit.close()

    with db.connect(settings) as con:  # another facilitator, in another server, hands the review over
        con.execute("UPDATE reviews SET facilitator = 'Kim Lee' WHERE incident_id = ?", [fx.STAGE31_ID])
    visit = open_guide(browser, url)  # reopening resumes at Prepare, read from PostgreSQL
    try:
        visit.page.wait_for_function(
            "() => document.querySelector('.pir-current-facilitator')?.innerText === 'Kim Lee'", timeout=20_000
        )
        assert visit.console_errors == [] and visit.foreign_requests() == []
    finally:
        visit.close()
    assert not settings.db.exists()  # team mode: PostgreSQL is the store; no DuckDB file was made

"""`pir digest` over the demo database, against a real webhook receiver and a real SMTP server on 127.0.0.1:
sent once per ISO week per channel, the same attention list as the home page, and an HTML e-mail that a
browser (headless Chromium, as a mail client's HTML view) shows with its links and no remote asset. On both stores:
in team mode the digest reads and records in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import json
import shutil
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from support import stores
from support.receivers import Receiver, SmtpSink

from pirlib import attention, cli, db, delivery, digest
from pirlib.config import Secret, Settings
from pirlib.incidents import resolve_incident
from pirlib.publish import pipeline

TODAY = dt.date(2026, 11, 1)  # a Sunday: the run's ISO week is 2026-W44, "last week" 19-25 October
FAST = delivery.Backoff(attempts=2, base_delay=0.01, max_delay=0.02, timeout=2.0)
DASHBOARDS = "https://pir.example.com/boards"

pytestmark = pytest.mark.both_stores


@pytest.fixture
def solo_demo(tmp_path: Path, demo_db: Path) -> Settings:
    shutil.copy(demo_db, tmp_path / "pir.duckdb")
    return Settings(db=tmp_path / "pir.duckdb", today=TODAY, dashboard_url=DASHBOARDS, db_lock_timeout=20.0)


@pytest.fixture
def demo(store: str, solo_demo: Settings, demo_db: Path) -> Settings:
    """The demo in the store under test (in PostgreSQL: a copy of the demo file's rows)."""
    return stores.on_store(store, solo_demo, source=demo_db)


def sends(settings: Settings) -> list[tuple]:
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT week, channel, status, target, items, bytes > 0, error FROM digests ORDER BY channel"
        ).fetchall()


def test_the_digest_carries_the_home_pages_list_and_last_weeks_numbers(demo, solo_demo, monkeypatch):
    # One instant for every build here: the clocks' texts ("due in 5 h 2 min") follow the time of day.
    at = attention.now(demo)
    monkeypatch.setattr(attention, "now", lambda settings: at)
    with db.connect(demo, read_only=True) as con:
        built = digest.build(con, demo)
        home = attention.collect(con, TODAY, attention.now(demo))
    assert built.week == "2026-W44"
    assert (built.numbers.start, built.numbers.end) == (dt.date(2026, 10, 19), dt.date(2026, 10, 25))
    assert [[line.text for line in s.lines] for s in built.found.sections] == [
        [line.text for line in s.lines] for s in home.sections
    ]
    assert built.found.count > 0
    text = built.text()
    with db.connect(solo_demo, read_only=True) as con:  # the same digest from either store
        assert digest.build(con, solo_demo).text() == text
    for label, value in built.numbers.rows():
        assert f"{label}: {value}" in text
    # Every attention line links to its board and filter under the dashboards' address.
    first = next(line for section in built.found.sections for line in section.lines)
    assert f"{DASHBOARDS}/voila/render/{first.path}" in text


def test_slack_and_email_each_get_the_digest_once_a_week(demo, receiver: Receiver, smtp: SmtpSink):
    settings = demo.replace(
        digest_webhook=Secret(receiver.url),
        digest_to=("cto@example.com", "vp@example.com"),
        smtp_host="127.0.0.1",
        smtp_port=smtp.server_address[1],
    )
    first = digest.send_digest(settings, backoff=FAST)
    assert set(first.sent) == {"slack", "email"} and first.failed == {}
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
    _, recipients, _ = smtp.messages[0]
    assert recipients == ["<cto@example.com>", "<vp@example.com>"]  # as RCPT TO gives them
    payload = receiver.bodies[0]
    assert payload["blocks"][0]["text"]["text"] == "pir weekly digest, 2026-W44"
    assert f"<{DASHBOARDS}/voila/render/actions.ipynb?team=" in json.dumps(payload)
    count = first.digest.found.count
    assert sends(settings) == [
        ("2026-W44", "email", "sent", "cto@example.com, vp@example.com", count, True, None),
        ("2026-W44", "slack", "sent", "webhook", count, True, None),
    ]
    # The second run that week sends nothing; the next week's run sends again.
    again = digest.send_digest(settings, backoff=FAST)
    assert again.sent == {} and set(again.skipped) == {"slack", "email"}
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
    digest.send_digest(settings.replace(today=TODAY + dt.timedelta(days=1)), backoff=FAST)
    assert len(receiver.bodies) == 2 and len(smtp.messages) == 2


def test_two_runs_at_once_send_the_digest_once(demo, receiver: Receiver, monkeypatch):
    """Cron on two machines (team mode) or cron and a person: the second run reads the first one's claim."""
    settings = demo.replace(digest_webhook=Secret(receiver.url))
    runs = stores.two_runs_at_once(monkeypatch, digest, "_due", lambda: digest.send_digest(settings, backoff=FAST))
    assert sorted(len(run.sent) for run in runs) == [0, 1] and len(receiver.bodies) == 1
    (why,) = [why for run in runs for why in run.skipped.values()]
    assert why == "another run is sending it right now" or why.startswith("already sent this week"), why


def test_a_failed_send_is_recorded_and_the_next_run_sends_it(demo, receiver: Receiver, capsys):
    settings = demo.replace(digest_webhook=Secret(receiver.url))
    receiver.fail = FAST.attempts
    failed = digest.send_digest(settings, backoff=FAST)
    assert set(failed.failed) == {"slack"} and receiver.bodies == []
    (row,) = sends(settings)
    assert row[2] == "failed" and "HTTP 500" in row[6] and "s3cr3t" not in row[6]
    retried = digest.send_digest(settings, backoff=FAST)
    assert set(retried.sent) == {"slack"} and len(receiver.bodies) == 1


def test_a_dry_run_prints_the_digest_and_writes_nothing(demo, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_settings", lambda: demo)
    assert cli.main(["digest", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pir weekly digest, 2026-W44: ")
    assert "Overdue actions by team" in out and f"{DASHBOARDS}/voila/render/" in out
    assert "no channel set" in out
    assert sends(demo) == []


def test_without_a_channel_the_digest_says_what_to_set(demo, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_settings", lambda: demo)
    assert cli.main(["digest"]) == 1
    assert "pir: error: no digest channel: set PIR_DIGEST_WEBHOOK" in capsys.readouterr().err
    monkeypatch.setattr(cli, "load_settings", lambda: demo.replace(digest_to=("cto@example.com",)))
    assert cli.main(["digest"]) == 1
    assert "PIR_DIGEST_TO is set but PIR_SMTP_HOST is not" in capsys.readouterr().err


def test_the_digest_keeps_jira_text_as_text(demo):
    with db.connect(demo, read_only=True) as con:
        built = digest.build(con, demo)
    hostile = attention.Line("INC-9 <img src=x onerror=alert(1)> & <b>|bold|</b>", "reviews", (("incident", "INC-9"),))
    sections = (attention.Section("reviews", "Reviews <i>at risk</i>", "none", (hostile,), 1),)
    built = digest.Digest(
        built.week, built.numbers, attention.Attention(TODAY, built.found.as_of, sections), DASHBOARDS
    )
    page = built.html()
    assert "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "INC-9 &lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;|bold|&lt;/b&gt;" in page
    slack = json.dumps(built.slack_payload())
    assert "<img" not in slack and "&lt;img src=x onerror=alert(1)&gt;" in slack
    assert "|bold|" not in slack  # a "|" would end the link's text


@pytest.mark.browser
def test_the_html_email_looks_right_in_a_browser(solo_demo, smtp: SmtpSink, browser, tmp_path: Path):
    """The e-mail as a mail client gets it (through SMTP, parsed back), its HTML part opened in Chromium with
    the network cut off: it shows the numbers and every attention line as a link to the dashboards, styled
    inline (the headings keep their sizes) and loading nothing."""
    settings = solo_demo.replace(
        digest_to=("cto@example.com",), smtp_host="127.0.0.1", smtp_port=smtp.server_address[1]
    )
    result = digest.send_digest(settings, backoff=FAST)
    ((_, _, raw),) = smtp.messages
    message = email.message_from_string(raw, policy=policy.default)
    assert message["Subject"].startswith("pir weekly digest, 2026-W44")
    assert message.get_body(("plain",)).get_content().startswith("pir weekly digest")
    page = message.get_body(("html",)).get_content()
    assert "<link" not in page and "<style" not in page and "<img" not in page and "<script" not in page
    context = browser.new_context(viewport={"width": 800, "height": 1000}, java_script_enabled=False)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        tab = context.new_page()
        tab.set_content(page)
        shown = tab.inner_text("body")
        assert "pir weekly digest, 2026-W44" in shown and "Postmortems published on time" in shown
        lines = [line for section in result.digest.found.sections for line in section.lines]
        links = tab.eval_on_selector_all("a", "links => links.map(a => a.href)")
        assert len(links) == len(lines) + 1  # every line, and "Open the dashboards"
        assert all(href.startswith(f"{DASHBOARDS}/voila/render/") for href in links), links
        title_size = tab.eval_on_selector("h1", "h => parseFloat(getComputedStyle(h).fontSize)")
        body_size = tab.eval_on_selector("li", "li => parseFloat(getComputedStyle(li).fontSize)")
        assert title_size > body_size
        assert tab.eval_on_selector("body > div", "d => d.getBoundingClientRect().width") <= 680
        tab.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
        assert requests == []
    finally:
        context.close()


def test_a_claim_by_a_running_send_is_left_alone_until_it_is_stale():
    now = pd.Timestamp("2026-11-01 08:00", tz="UTC")
    history = pd.DataFrame(
        {
            "channel": ["slack", "email"],
            "status": ["sending", "sending"],
            "sent_at": [now - pd.Timedelta(minutes=2), now - digest.STALE],
        }
    )
    todo, skipped = digest._due(history, ["slack", "email"], now)
    assert todo == ["email"] and skipped == {"slack": "another run is sending it right now"}


def test_the_digest_shows_a_filing_recorded_a_moment_before(demo, monkeypatch):
    """`pir regulator-filed` writes the store and the next digest leaves the filing out: in team mode the digest
    reads PostgreSQL itself, not the read model (which has not had a snapshot since and still lists it)."""
    at = attention.now(demo)
    monkeypatch.setattr(attention, "now", lambda settings: at)  # the two digests count at one instant
    before = digest.send_digest(demo, dry_run=True).digest
    (filings,) = [section for section in before.found.sections if section.key == "regulatory"]
    assert filings.lines, "the demo has a regulator filing open"
    key = filings.lines[0].text.split(" ", 1)[0]
    with db.connect(demo) as con:
        pipeline.record_regulator_filing(con, resolve_incident(con, key)[0], dt.datetime.now(dt.UTC))
    after = digest.send_digest(demo, dry_run=True).digest
    (filed,) = [section for section in after.found.sections if section.key == "regulatory"]
    assert key not in " ".join(line.text for line in filed.lines) and filed.total == filings.total - 1
    assert after.found.count == before.found.count - 1
    if demo.database_url is not None:
        with db.read_model(demo) as con:
            stale = attention.collect(con, TODAY, attention.now(demo))
        assert key in " ".join(line.text for section in stale.sections for line in section.lines)

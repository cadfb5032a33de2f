"""`pir remind` against a real HTTP receiver (a Slack incoming webhook stand-in) and a real SMTP server,
both on 127.0.0.1, over each store (the DuckDB file, and PostgreSQL in team mode)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from support import stores
from support.receivers import Receiver, SmtpSink

from pirlib import cli, db, delivery, reminders
from pirlib.config import Secret, Settings

TODAY = dt.date(2025, 10, 1)
FAST = delivery.Backoff(attempts=3, base_delay=0.01, max_delay=0.02, timeout=2.0)

pytestmark = pytest.mark.both_stores


def seed(settings: Settings) -> Settings:
    """Incidents (one closed) and actions around TODAY: which ones get what is the point of each test."""
    settings = settings.replace(today=TODAY)
    day = dt.timedelta(days=1)
    incidents = pd.DataFrame(
        {
            "issue_id": ["1", "2"],
            "key": ["INC-1", "INC-2"],
            "summary": ["Checkout <down> & out", "Login slow"],
            "status": ["Investigating", "Closed"],
            "status_category": ["indeterminate", "done"],
        }
    )
    actions = pd.DataFrame(
        {
            "issue_id": ["11", "12", "13", "14", "15"],
            "key": ["INC-11", "INC-12", "INC-13", "INC-14", "INC-15"],
            "incident_id": ["1", "1", "1", "1", "2"],
            "summary": ["Add <alert> & page", "Fix retries", "Done already", "Later one", "Closed incident's action"],
            "owner": ["User 1", "User 2", "User 3", "User 4", "User 5"],
            "status_category": ["new", "indeterminate", "done", "new", "new"],
            "due_date": [TODAY + 2 * day, TODAY - 3 * day, TODAY + 2 * day, TODAY + 5 * day, TODAY + 2 * day],
            "url": [f"https://jira.example.com/browse/INC-{n}" for n in range(11, 16)],
        }
    )
    with db.connect(settings) as con:
        db.upsert_frame(con, "incidents", incidents, "issue_id")
        db.upsert_frame(con, "actions", actions, "issue_id")
    return settings


def another_store(settings: Settings, tmp_path: Path) -> Settings:
    """A second, empty store of the same kind as ``settings``'s."""
    other = settings.replace(db=tmp_path / "other.duckdb")
    if settings.database_url is None:
        return other
    from support import postgres

    return other.replace(database_url=Secret(postgres.server().fresh_database()))


def rows(settings: Settings) -> list[tuple]:
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT action_id, due_date, kind, sent_on, channel, status, error FROM reminders"
            " ORDER BY action_id, sent_on, kind"
        ).fetchall()


def keys(bodies: list[dict]) -> list[str]:
    return sorted(b["text"].split(": ", 1)[1].split(" ", 1)[0] for b in bodies)


def test_each_reminder_goes_out_exactly_once_over_repeated_runs(settings: Settings, receiver: Receiver):
    settings = seed(settings).replace(slack_webhook=Secret(receiver.url), overdue_reminder_cap=2)
    first = reminders.remind(settings, backoff=FAST)
    # due in 2 days: INC-11 and INC-15 (its incident is closed: reminders keep going); overdue: INC-12.
    assert keys(receiver.bodies) == ["INC-11", "INC-12", "INC-15"] and not first.failed
    assert reminders.remind(settings, backoff=FAST).sent == [] and len(receiver.bodies) == 3
    assert {r[5] for r in rows(settings)} == {"sent"} and len(rows(settings)) == 3
    # Next day: only the daily overdue nudge; the day after, the cap (2) stops it.
    tomorrow = settings.replace(today=TODAY + dt.timedelta(days=1))
    assert [r.key for r in reminders.remind(tomorrow, backoff=FAST).sent] == ["INC-12"]
    assert reminders.remind(tomorrow, backoff=FAST).sent == []
    assert reminders.remind(settings.replace(today=TODAY + dt.timedelta(days=2)), backoff=FAST).sent == []
    assert len(receiver.bodies) == 4


def test_a_moved_due_date_earns_a_new_reminder(settings: Settings, receiver: Receiver):
    settings = seed(settings).replace(slack_webhook=Secret(receiver.url))
    reminders.remind(settings, backoff=FAST)
    with db.connect(settings) as con:  # what the next sync writes after the owner moved it in Jira
        con.execute("UPDATE actions SET due_date = ? WHERE key = 'INC-11'", [TODAY + dt.timedelta(days=9)])
    assert reminders.remind(settings, backoff=FAST).sent == []
    later = settings.replace(today=TODAY + dt.timedelta(days=7))
    assert [r.key for r in reminders.remind(later, backoff=FAST).sent if r.kind == "due_soon"] == ["INC-11"]
    assert [b for b in receiver.bodies if "INC-11" in b["text"]].__len__() == 2


def test_a_failing_webhook_is_retried_with_backoff_recorded_and_sent_on_the_next_run(
    settings: Settings, receiver: Receiver, tmp_path: Path
):
    settings = seed(settings).replace(slack_webhook=Secret(receiver.url))
    receiver.fail = 1  # one 500, then fine: the retry inside the run delivers
    assert len(reminders.remind(settings, backoff=FAST).sent) == 3 and receiver.attempts == 4
    fresh = seed(another_store(settings, tmp_path)).replace(slack_webhook=Secret(receiver.url))
    receiver.fail, receiver.attempts = 100, 0
    result = reminders.remind(fresh, backoff=FAST)
    assert len(result.failed) == 3 and receiver.attempts == 3 * FAST.attempts
    failed = rows(fresh)
    assert {r[5] for r in failed} == {"failed"}
    assert all("HTTP 500: internal_error" in r[6] for r in failed)
    receiver.fail = 0  # the webhook recovers: the next run (the next day, even) sends what failed
    next_day = fresh.replace(today=TODAY + dt.timedelta(days=1))
    assert sorted(r.key for r in reminders.remind(next_day, backoff=FAST).sent) == ["INC-11", "INC-12", "INC-15"]
    assert reminders.remind(next_day, backoff=FAST).sent == []


def test_a_dry_run_prints_and_writes_nothing(settings: Settings, receiver: Receiver, monkeypatch, capsys):
    settings = seed(settings)
    before = stores.contents(settings)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PIR_SLACK_WEBHOOK", receiver.url)
    assert cli.main(["remind", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("would send (slack)") == 3 and "INC-12" in out
    assert receiver.attempts == 0 and rows(settings) == []
    assert stores.contents(settings) == before


def test_the_webhook_url_never_shows_in_logs_errors_output_or_the_database(
    settings: Settings, receiver: Receiver, monkeypatch, capsys, caplog
):
    settings = seed(settings)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PIR_SLACK_WEBHOOK", receiver.url)
    monkeypatch.setattr(delivery, "DEFAULT_BACKOFF", FAST)  # the CLI's retries, with test-sized sleeps
    receiver.fail = 100
    caplog.set_level(logging.DEBUG)
    assert cli.main(["remind"]) == 1
    captured = capsys.readouterr()
    assert "failed (slack)" in captured.out and "retried on the next run" in captured.err
    with db.connect(settings, read_only=True) as con:
        everything = json.dumps(con.execute("SELECT * FROM reminders").fetchall(), default=str)
    for text in (captured.out, captured.err, caplog.text, everything):
        assert "s3cr3tW3bh00kT0ken" not in text and "/services/" not in text
    assert "retry 1 of 2" in caplog.text  # the backoff did run, and was logged without the URL


def test_the_command_configures_the_store_in_use_and_in_team_mode_leaves_pir_db_alone(
    settings: Settings, receiver: Receiver, monkeypatch
):
    """`pir remind` writes the configured values (here the publish deadline) into the store before it works:
    the DuckDB file, or in team mode PostgreSQL, where PIR_DB (the read model's path) is never created."""
    settings = seed(settings)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PIR_SLACK_WEBHOOK", receiver.url)
    monkeypatch.setenv("PIR_PUBLISH_HOURS", "36")
    assert cli.main(["remind"]) == 0 and len(receiver.bodies) == 3
    with db.connect(settings, read_only=True) as con:
        assert db.one(con, "SELECT hours FROM review_stage_deadlines WHERE stage = 'published'") == (36.0,)
    assert Path(settings.db).exists() == (settings.database_url is None)


def test_two_runs_at_once_send_each_reminder_once(settings: Settings, receiver: Receiver, monkeypatch):
    """Cron and a person running `pir remind` at the same moment (in team mode from two machines): the second
    reads the claims of the first, not what was there before them, and sends nothing twice."""
    settings = seed(settings).replace(slack_webhook=Secret(receiver.url))
    runs = stores.two_runs_at_once(
        monkeypatch, reminders, "due_reminders", lambda: reminders.remind(settings, backoff=FAST)
    )
    assert sorted(len(run.sent) for run in runs) == [0, 3] and not any(run.failed for run in runs)
    assert keys(receiver.bodies) == ["INC-11", "INC-12", "INC-15"]


def test_email_reminders_go_through_smtp_exactly_once(settings: Settings, smtp: SmtpSink):
    settings = seed(settings).replace(
        smtp_host="127.0.0.1", smtp_port=smtp.server_address[1], smtp_from="pir@example.com"
    )
    result = reminders.remind(settings, to=["sre-team@example.com"], backoff=FAST)
    assert len(result.sent) == 3 and len(smtp.messages) == 3
    sender, rcpts, data = smtp.messages[0]
    assert "pir@example.com" in sender and rcpts == ["<sre-team@example.com>"]
    assert "Subject: [pir] Action" in data and "Due date:" in data
    assert reminders.remind(settings, to=["sre-team@example.com"], backoff=FAST).sent == []
    assert len(smtp.messages) == 3 and {r[4] for r in rows(settings)} == {"email"}


def test_email_reminders_reach_the_owner_when_jira_has_their_address(settings: Settings, smtp: SmtpSink):
    settings = seed(settings).replace(
        smtp_host="127.0.0.1", smtp_port=smtp.server_address[1], smtp_from="pir@example.com"
    )
    with db.connect(settings) as con:
        con.execute("UPDATE actions SET owner_email = 'user1@example.com' WHERE issue_id = '11'")
    reminders.remind(settings, to=["sre-team@example.com"], backoff=FAST)
    by_action = {
        re.search(r"Subject: \[pir\] Action [a-z ]+: (INC-\d+)", data).group(1): rcpts
        for _, rcpts, data in smtp.messages
    }
    assert by_action["INC-11"] == ["<user1@example.com>"]
    assert by_action["INC-12"] == ["<sre-team@example.com>"]  # no address in Jira: the fallback hears it


def test_slack_payload_escapes_jira_text_and_carries_the_facts():
    reminder = reminders.Reminder(
        "11",
        "INC-11",
        "Add <alert> & page",
        "INC-1",
        "Checkout <down>",
        "Ann <admin>",
        None,
        TODAY,
        "due_soon",
        "https://jira.example.com/browse/INC-11",
        2,
    )
    payload = reminders.slack_payload(reminder)
    text = json.dumps(payload)
    assert "<alert>" not in text and "&lt;alert&gt; &amp; page" in text and "@Ann &lt;admin&gt;" in text
    assert "<https://jira.example.com/browse/INC-11|INC-11>" in text and "2025-10-01" in text
    assert "INC-1: Checkout &lt;down&gt;" in text and payload["text"].startswith("Action due soon: INC-11")


def test_due_reminders_respects_a_claim_by_a_concurrent_run():
    open_actions = pd.DataFrame({"issue_id": ["11"], "key": ["INC-11"], "due_date": [TODAY + dt.timedelta(days=2)]})
    now = dt.datetime(2025, 10, 1, 9, 0, tzinfo=dt.UTC)
    claim = pd.DataFrame(
        {
            "action_id": ["11"],
            "due_date": [TODAY + dt.timedelta(days=2)],
            "kind": ["due_soon"],
            "sent_on": [TODAY],
            "status": ["sending"],
            "sent_at": [now - dt.timedelta(minutes=1)],
        }
    )
    assert reminders.due_reminders(open_actions, claim, TODAY, 2, 5, now=now) == []
    stale = claim.assign(sent_at=[now - dt.timedelta(hours=1)])  # that run died mid-send: try again
    assert [r.key for r in reminders.due_reminders(open_actions, stale, TODAY, 2, 5, now=now)] == ["INC-11"]


def test_a_dry_run_needs_no_channel(settings: Settings, monkeypatch, capsys):
    settings = seed(settings)
    before = stores.contents(settings)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", TODAY.isoformat())
    for name in ("PIR_SLACK_WEBHOOK", "PIR_SMTP_HOST", "PIR_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["remind", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count(f"would send ({reminders.NO_CHANNEL})") == 3 and "set PIR_SLACK_WEBHOOK" in out
    assert rows(settings) == [] and stores.contents(settings) == before
    # Without --dry-run a missing channel is still one line naming the settings (and the dry run).
    assert cli.main(["remind"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pir: error: no reminder channel") and "--dry-run" in err and err.count("\n") == 1


def many_due(settings: Settings, count: int) -> Settings:
    """``count`` more open actions due in two days, so that a run has that many reminders to send."""
    frame = pd.DataFrame(
        {
            "issue_id": [str(100 + n) for n in range(count)],
            "key": [f"INC-{100 + n}" for n in range(count)],
            "incident_id": ["1"] * count,
            "summary": [f"Action {n}" for n in range(count)],
            "owner": ["User 1"] * count,
            "status_category": ["new"] * count,
            "due_date": [TODAY + dt.timedelta(days=2)] * count,
        }
    )
    with db.connect(settings) as con:
        db.upsert_frame(con, "actions", frame, "issue_id")
    return settings


def test_a_dead_webhook_stops_the_run_after_a_few_failures_and_the_rest_go_out_next_run(
    settings: Settings, receiver: Receiver
):
    settings = many_due(seed(settings), 20).replace(slack_webhook=Secret(receiver.url))
    receiver.fail = 10_000
    result = reminders.remind(settings, backoff=FAST)
    tried = reminders.FAILURES_BEFORE_STOP
    assert receiver.attempts == tried * FAST.attempts  # not 23 x 3
    assert len(result.failed) == 23 and result.sent == []
    assert sum("not tried" in error for _, error in result.failed) == 23 - tried
    assert result.stopped and "20 not tried" in result.stopped and result.stopped in result.lines()
    assert {r[5] for r in rows(settings)} == {"failed"} and len(rows(settings)) == 23
    receiver.fail = 0  # back up: every one of them goes out on the next run, once
    assert len(reminders.remind(settings, backoff=FAST).sent) == 23 and len(receiver.bodies) == 23
    assert reminders.remind(settings, backoff=FAST).sent == []


def test_a_dead_smtp_server_stops_the_run_after_a_few_failures(settings: Settings):
    import socket

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = many_due(seed(settings), 10).replace(smtp_host="127.0.0.1", smtp_port=port)
    result = reminders.remind(settings, backoff=FAST)
    assert len(result.failed) == 13 and result.stopped
    assert sum("not tried" not in error for _, error in result.failed) == reminders.FAILURES_BEFORE_STOP


def test_a_webhook_error_page_that_echoes_the_url_leaks_nothing(
    settings: Settings, receiver: Receiver, monkeypatch, capsys, caplog
):
    settings = seed(settings)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PIR_SLACK_WEBHOOK", receiver.url)
    monkeypatch.setattr(delivery, "DEFAULT_BACKOFF", FAST)
    receiver.fail, receiver.echo = 100, True
    caplog.set_level(logging.DEBUG)
    for status in (500, 404):  # retried, and refused at once
        receiver.status = status
        assert cli.main(["remind"]) == 1
    captured = capsys.readouterr()
    assert "no_service: ***" in captured.out  # the gateway's words are kept, the URL is not
    with db.connect(settings, read_only=True) as con:
        errors = json.dumps(con.execute("SELECT error FROM reminders").fetchall())
    assert "no_service: ***" in errors
    for text in (captured.out, captured.err, caplog.text, errors):
        assert "s3cr3tW3bh00kT0ken" not in text and "services" not in text, text

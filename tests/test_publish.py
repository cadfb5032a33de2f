"""`pir publish` on the Stage-31 sample against a Confluence-compatible server, a webhook receiver and an SMTP
sink, all on 127.0.0.1, over each store: the DuckDB file, and PostgreSQL in team mode (the same rows, copied)."""

from __future__ import annotations

import datetime as dt
import email
import json
from pathlib import Path

import pandas as pd
import pytest
from support import publish_fixture as fx
from support import stores
from support.fake_confluence import EMAIL, PAT, TOKEN, FakeConfluence

from pirlib import cli, db, metrics
from pirlib.config import Secret
from pirlib.delivery import Backoff
from pirlib.errors import PirError
from pirlib.publish import messages, pipeline
from pirlib.review import meeting
from pirlib.review.session import open_review
from pirlib.ui import boards

FAST = Backoff(attempts=2, base_delay=0.01, max_delay=0.02, timeout=2.0)
AT = dt.datetime(2025, 9, 7, 9, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.both_stores


@pytest.fixture
def wiki():
    server = FakeConfluence()
    reliability = server.add_page("REL", "Reliability")
    server.add_page("REL", "Incidents", reliability)
    server.add_page("REL", "Incidents", server.add_page("REL", "Archive"))  # same title elsewhere: not the parent
    yield server
    server.close()


@pytest.fixture
def solo_settings(demo_db, tmp_path, wiki):
    return fx.stage31_settings(
        demo_db,
        tmp_path,
        confluence_url=wiki.url,
        confluence_space="REL",
        confluence_email=EMAIL,
        confluence_token=Secret(TOKEN),
    )


@pytest.fixture
def settings(store, solo_settings):
    return stores.on_store(store, solo_settings)


def review_row(settings) -> tuple:
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT r.published_at, r.doc_url FROM reviews AS r JOIN incidents AS i ON i.issue_id = r.incident_id "
            "WHERE 'stage31' = ANY(i.labels)"
        ).fetchone()


def pd_ts(value: dt.datetime) -> dt.datetime:
    """``value`` as DuckDB gives a TIMESTAMPTZ back to this process."""
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def publications(settings) -> dict[str, tuple]:
    with db.connect(settings, read_only=True) as con:
        rows = con.execute("SELECT channel, target, page_id, version FROM publications").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_confluence_create_then_update_is_one_page_with_a_new_version(settings, wiki):
    key = fx.stage31_key(settings)
    first = pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    assert first.page.created and first.page.version == 1 and first.page.requests == 4
    page = wiki.pages[first.page.page_id]
    incidents_page = next(
        p for p in wiki.pages_titled("Incidents") if wiki.pages[p["ancestors"][-1]]["title"] == "Reliability"
    )
    assert page["ancestors"][-1] == incidents_page["id"] and page["title"].startswith(f"Postmortem {key}: Stage-31")
    assert "&lt;script&gt;" in page["body"] and "<script>" not in page["body"]
    assert first.page.url == f"{wiki.url}/spaces/REL/pages/{page['id']}"
    assert review_row(settings) == (pd_ts(AT), first.page.url)
    assert publications(settings)["confluence"] == (first.page.url, page["id"], 1)

    later = AT + dt.timedelta(hours=3)
    requests_before = len(wiki.requests)
    second = pipeline.publish(settings, key, to_confluence=True, at=later, backoff=FAST)
    assert not second.page.created and second.page.version == 2 and second.page.requests == 2
    assert len(wiki.requests) - requests_before == 2
    assert [m for m, _ in wiki.requests[-2:]] == ["GET", "PUT"]
    assert len(wiki.pages_titled(page["title"])) == 1 and wiki.pages[page["id"]]["version"] == 2
    assert review_row(settings) == (pd_ts(AT), first.page.url)  # the first publish is the stage's time
    assert publications(settings)["confluence"] == (first.page.url, page["id"], 2)


def test_a_page_with_the_title_but_unknown_to_pir_is_updated_not_duplicated(settings, wiki):
    key = fx.stage31_key(settings)
    first = pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    with db.connect(settings) as con:
        con.execute("DELETE FROM publications")  # e.g. a database rebuilt from Jira
    again = pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    assert again.page.page_id == first.page.page_id and again.page.version == 2 and not again.page.created


def test_data_center_bearer_token_without_the_wiki_prefix(store, demo_db, tmp_path):
    server = FakeConfluence(context="")
    try:
        server.add_page("REL", "Incidents", server.add_page("REL", "Reliability"))
        settings = fx.stage31_settings(
            demo_db, tmp_path, confluence_url=server.url, confluence_space="REL", confluence_pat=Secret(PAT)
        )
        settings = stores.on_store(store, settings)
        result = pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=FAST)
        assert result.page.created and result.page.url.startswith(server.url + "/spaces/REL/pages/")
    finally:
        server.close()


@pytest.mark.parametrize(
    "status, prefix, message",
    [
        (
            401,
            "/rest/api/content",
            r"refused the credentials \(HTTP 401\).*check PIR_CONFLUENCE_EMAIL and PIR_CONFLUENCE_TOKEN",
        ),
        (403, "/rest/api/content", r"HTTP 403.*space REL under 'Reliability > Incidents'; ask a space admin"),
        (404, "/rest/api/content", r"HTTP 404.*check PIR_CONFLUENCE_SPACE \(REL\)"),
    ],
)
def test_a_refusal_is_one_line_and_nothing_is_recorded_or_written(settings, wiki, status, prefix, message):
    wiki.fail[("GET", prefix)] = status
    with pytest.raises(PirError, match=message) as raised:
        pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=FAST)
    assert "\n" not in str(raised.value) and TOKEN not in str(raised.value)
    assert review_row(settings) == (None, None) and publications(settings) == {}
    assert not settings.published_dir.exists() and not wiki.pages_titled(f"Postmortem {fx.stage31_key(settings)}")


def test_reads_are_retried_on_rate_limits_and_server_errors(settings, wiki):
    wiki.flaky[("GET", "/rest/api/content")] = [429, 503]
    three = Backoff(attempts=3, base_delay=0.01, max_delay=0.02, timeout=2.0)
    result = pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=three)
    assert result.page.created and result.page.requests == 6


def test_a_failed_write_is_not_retried(settings, wiki):
    wiki.flaky[("POST", "/rest/api/content")] = [503]
    with pytest.raises(PirError, match="Confluence answered HTTP 503 while creating 'Postmortem"):
        pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=FAST)
    assert [m for m, _ in wiki.requests].count("POST") == 1 and review_row(settings) == (None, None)


def test_a_refused_create_records_nothing(settings, wiki):
    wiki.fail[("POST", "/rest/api/content")] = 403
    with pytest.raises(PirError, match="HTTP 403"):
        pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=FAST)
    assert review_row(settings) == (None, None) and publications(settings) == {}


def test_a_missing_parent_names_the_path_and_the_fix(settings, wiki):
    settings = settings.replace(confluence_parent="Reliability > Postmortems")
    with pytest.raises(
        PirError,
        match=r"space REL has no page 'Reliability > Postmortems'; create it, or set "
        r"PIR_CONFLUENCE_PARENT",
    ):
        pipeline.publish(settings, fx.stage31_key(settings), to_confluence=True, at=AT, backoff=FAST)
    assert review_row(settings) == (None, None)


def test_missing_confluence_settings_are_one_clear_line(settings):
    with pytest.raises(PirError, match="PIR_CONFLUENCE_SPACE is not set"):
        pipeline.publish(settings.replace(confluence_space=None), fx.stage31_key(settings), to_confluence=True)
    with pytest.raises(PirError, match="no Confluence credentials"):
        pipeline.publish(settings.replace(confluence_token=None), fx.stage31_key(settings), to_confluence=True)


def test_messages_go_out_once_and_say_what_the_postmortem_says(settings, receiver, smtp):
    settings = settings.replace(
        status_webhook=Secret(receiver.url),
        status_cc=("@cto", "@vp-eng"),
        smtp_host="127.0.0.1",
        smtp_port=smtp.server_address[1],
        customer_email_to=("support-broadcast@example.com",),
    )
    key = fx.stage31_key(settings)
    first = pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    assert first.failures == []
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
    text = receiver.bodies[0]["text"]
    assert f"<{first.page.url}|{key}: Stage-31: payments-api 5xx spike" in text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in text and "<script>" not in text
    assert "Time to mitigate: 5 h 24 min" in text and "cc @cto, @vp-eng" in text
    sender, recipients, raw = smtp.messages[0]
    mail = email.message_from_string(raw)
    assert recipients == ["<support-broadcast@example.com>"]
    assert mail["Subject"] == "Follow-up on the payments-api incident of 2025-09-05 13:38 UTC"
    body = mail.get_payload(decode=True).decode()
    assert "Stage-31: payments-api 5xx spike" in body and "2025-09-05 19:02 UTC" in body
    assert "Alex Chen" not in body  # no internal names go to customers
    assert set(publications(settings)) == {"confluence", "status_summary", "customer_email"}

    pipeline.publish(settings, key, to_confluence=True, at=AT + dt.timedelta(hours=1), backoff=FAST)
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1  # the update sends nothing twice


def test_a_failed_message_keeps_the_publish_and_is_retried_next_time(settings, receiver):
    settings = settings.replace(status_webhook=Secret(receiver.url))
    receiver.fail = 2
    key = fx.stage31_key(settings)
    first = pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    assert first.failures and "PIR_STATUS_WEBHOOK" not in first.failures[0] and receiver.url not in first.failures[0]
    assert review_row(settings)[0] is not None and "status_summary" not in publications(settings)
    pipeline.publish(settings, key, to_confluence=True, at=AT, backoff=FAST)
    assert len(receiver.bodies) == 1 and "status_summary" in publications(settings)


def test_without_channels_the_messages_are_files_and_nothing_is_marked_sent(settings):
    key = fx.stage31_key(settings)
    result = pipeline.publish(settings, key, doc_url="https://notion.example.com/postmortem-31", at=AT, backoff=FAST)
    names = sorted(p.name for p in settings.published_dir.iterdir())
    assert names == [
        f"{key}-customer-email.eml",
        f"{key}-postmortem.confluence.xml",
        f"{key}-postmortem.html",
        f"{key}-postmortem.md",
        f"{key}-status-summary.json",
    ]
    payload = json.loads((settings.published_dir / f"{key}-status-summary.json").read_text())
    assert "<https://notion.example.com/postmortem-31|" in payload["text"]
    mail = email.message_from_bytes((settings.published_dir / f"{key}-customer-email.eml").read_bytes())
    assert mail["To"] == "undisclosed-recipients:;" and mail["Subject"].startswith("Follow-up on the payments-api")
    assert review_row(settings) == (pd_ts(AT), "https://notion.example.com/postmortem-31")
    assert publications(settings) == {}
    assert any("set PIR_STATUS_WEBHOOK" in line for line in result.lines())


def test_files_alone_are_a_preview_and_record_nothing(settings, tmp_path):
    out = tmp_path / "preview"
    result = pipeline.publish(settings, fx.stage31_key(settings), formats=["md"], out_dir=out, at=AT)
    assert [p.name for p in result.files] == [f"{fx.stage31_key(settings)}-postmortem.md"]
    assert sorted(p.name for p in out.iterdir()) == [f"{fx.stage31_key(settings)}-postmortem.md"]
    assert review_row(settings) == (None, None) and "preview only" in result.lines()[-1]
    assert " --" not in " ".join(result.lines())  # the guide shows these lines: no command-line flags


def test_a_publish_after_48_hours_is_late_on_the_reviews_board(settings):
    key = fx.stage31_key(settings)
    late = dt.datetime(2025, 9, 8, 13, 12, 40, tzinfo=dt.UTC)  # closure + 60 h
    result = pipeline.publish(settings, key, doc_url="https://wiki.example.com/pm", at=late, backoff=FAST)
    assert (
        round(result.late_by.total_seconds() / 3600, 2) == 12.0
        and "late by 11 h 59 min (due 48 h after closure)" in result.lines()[-1]
    )  # rounded down
    with db.connect(settings, read_only=True) as con:
        states = metrics.review_stage_states(metrics.load_review_stages(con), late)
        view = con.execute(
            "SELECT state FROM v_review_deadlines WHERE key = ? AND stage = 'published'", [key]
        ).fetchone()
    row = states[(states["key"] == key) & (states["stage"] == "published")].iloc[0]
    assert row["state"] == "late" and round(row["hours_past_due"], 2) == 12.0 and view == ("late",)


def test_the_email_template_ships_in_docs_and_the_package_copy_is_the_same():
    docs = Path(__file__).resolve().parent.parent / messages.DEFAULT_EMAIL_TEMPLATE
    assert docs.read_text() == messages.PACKAGED_EMAIL_TEMPLATE.read_text()


def test_cli_publish_regulator_filed_and_errors(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    stores.environment(settings, monkeypatch)
    monkeypatch.setenv("PIR_TODAY", "2025-09-07")
    monkeypatch.setenv("PIR_CONFLUENCE_URL", settings.confluence_url)
    monkeypatch.setenv("PIR_CONFLUENCE_SPACE", "REL")
    monkeypatch.setenv("PIR_CONFLUENCE_EMAIL", EMAIL)
    monkeypatch.setenv("PIR_CONFLUENCE_TOKEN", TOKEN)
    key = fx.stage31_key(settings)
    assert cli.main(["publish", key, "--format", "md", "--out", "out", "--confluence"]) == 0
    out = capsys.readouterr().out
    assert f"wrote out/{key}-postmortem.md" in out and "Confluence page created" in out and "on time" in out
    assert TOKEN not in out
    with db.connect(settings, read_only=True) as con:
        stored = json.dumps(con.execute("SELECT * FROM publications").fetchall(), default=str)
        assert TOKEN not in stored
        assert con.execute("SELECT state FROM v_regulatory_followups WHERE key = ?", [key]).fetchone() == ("open",)
    assert cli.main(["regulator-filed", key]) == 0
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT state FROM v_regulatory_followups WHERE key = ?", [key]).fetchone() == ("filed",)
    assert cli.main(["publish", "INC-999999"]) == 1
    assert cli.main(["publish", key, "--doc-url", "javascript:alert(1)"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("pir: error: unknown incident 'INC-999999'")
    assert err[1].startswith("pir: error: page address 'javascript:alert(1)' is not an http(s) URL")


def test_the_reviews_board_keeps_the_regulatory_item_open_until_the_filing_is_recorded(solo_settings):
    # The boards read the read model: in team mode that is the snapshot, whose freshness `pir snapshot` tests.
    settings = solo_settings
    key = fx.stage31_key(settings)

    def panel() -> str:
        board = boards.load_board("reviews", settings)
        return next(c for c in board.contents(metrics.Filters()) if isinstance(c, str) and "Regulator filings" in c)

    before = panel()
    assert f'incident={key}">{key}</a></td>' in before and "Regulator filings open (" in before
    pipeline.publish(settings, key, doc_url="https://wiki.example.com/pm", at=AT, backoff=FAST)
    assert f'incident={key}">{key}</a></td>' in panel()  # publishing does not close the compliance item
    with db.connect(settings) as con:
        incident_id = con.execute("SELECT issue_id FROM incidents WHERE key = ?", [key]).fetchone()[0]
        pipeline.record_regulator_filing(con, incident_id, AT)
    assert f'incident={key}">{key}</a></td>' not in panel()
    with db.connect(settings) as con:
        pipeline.record_regulator_filing(con, incident_id, None)  # --undo
    assert f'incident={key}">{key}</a></td>' in panel()
    with db.connect(settings) as con:
        other = con.execute("SELECT issue_id FROM incidents WHERE NOT regulatory LIMIT 1").fetchone()[0]
        with pytest.raises(PirError, match="is not flagged for regulatory reporting"):
            pipeline.record_regulator_filing(con, other, AT)


def test_no_secret_of_a_webhook_or_confluence_error_page_reaches_the_terminal(
    settings, wiki, receiver, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    stores.environment(settings, monkeypatch)
    for name, value in (
        ("PIR_TODAY", "2025-09-07"),
        ("PIR_CONFLUENCE_URL", settings.confluence_url),
        ("PIR_CONFLUENCE_SPACE", "REL"),
        ("PIR_CONFLUENCE_EMAIL", EMAIL),
        ("PIR_CONFLUENCE_TOKEN", TOKEN),
        ("PIR_STATUS_WEBHOOK", receiver.url),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("pirlib.delivery.DEFAULT_BACKOFF", FAST)
    receiver.fail, receiver.echo, receiver.status = 100, True, 404  # the status webhook's error page quotes its URL
    key = fx.stage31_key(settings)
    assert cli.main(["publish", key, "--format", "md", "--out", "out", "--confluence"]) == 1
    first = capsys.readouterr()
    assert "status summary not posted" in first.err and "no_service: ***" in first.err
    wiki.fail[("PUT", "/rest/api/content")], wiki.echo_auth = 500, True  # the update's gateway quotes the auth
    assert cli.main(["publish", key, "--format", "md", "--out", "out", "--confluence"]) == 1
    second = capsys.readouterr()
    assert "Confluence answered HTTP 500" in second.err and "Authorization: Basic ***" in second.err
    import base64

    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    for text in (first.out, first.err, second.out, second.err):
        assert "s3cr3tW3bh00kT0ken" not in text and "services" not in text and basic not in text and TOKEN not in text


def test_the_postmortem_shows_an_edit_saved_a_moment_before(settings, tmp_path):
    """A facilitator's save lands in the store, and the very next publish renders it: in team mode publish reads
    PostgreSQL itself, not the read model (which has not had a snapshot since and still says the old thing)."""
    key = fx.stage31_key(settings)
    edit = "The pool size check compared bytes with megabytes (edited a moment ago)"
    with open_review(settings, key) as session:
        meeting.save_root_cause(session, edit, "Canary analysis watched latency only")
    result = pipeline.publish(settings, key, formats=["md"], out_dir=tmp_path / "fresh", at=AT)
    (document,) = result.files
    text = document.read_text(encoding="utf-8")
    assert "compared bytes with megabytes (edited a moment ago)" in text and "The v4.29.7 config" not in text
    if settings.database_url is not None:
        with db.read_model(settings) as con:
            (stale,) = db.one(
                con,
                "SELECT r.root_cause FROM reviews AS r JOIN incidents AS i ON i.issue_id = r.incident_id "
                "WHERE i.key = ?",
                [key],
            )
        assert stale.startswith("The v4.29.7 config")


@pytest.mark.parametrize(
    "command",
    [
        ["publish", "INC-1", "--doc-url", "https://wiki.example.com/pm"],
        ["regulator-filed", "INC-1"],
        ["push"],
        ["remind"],
        ["digest"],
    ],
    ids=lambda command: command[0],
)
def test_a_team_store_out_of_reach_is_one_line_without_the_password(command, tmp_path, monkeypatch, capsys):
    """Every command that writes PostgreSQL in team mode says which server it could not reach, never the
    password in PIR_DATABASE_URL, and writes no DuckDB file instead."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    for name, value in (
        ("PIR_DATABASE_URL", f"postgresql://pir:Pa55w0rdS3cret@127.0.0.1:{port}/pir_team"),
        ("PIR_DB", str(tmp_path / "pir.duckdb")),
        ("PIR_DB_LOCK_TIMEOUT", "0.3"),
        ("PIR_SLACK_WEBHOOK", "http://127.0.0.1:9/hook"),
        ("PIR_DIGEST_WEBHOOK", "http://127.0.0.1:9/hook"),
        ("PIR_JIRA_URL", "http://127.0.0.1:9"),
        ("PIR_JIRA_PAT", "token"),
    ):
        monkeypatch.setenv(name, value)
    assert cli.main(command) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Pa55w0rdS3cret" not in captured.out + captured.err
    assert captured.err.startswith(f"pir: error: cannot reach PostgreSQL at postgresql://pir@127.0.0.1:{port}/pir_team")
    assert list(tmp_path.iterdir()) == []

"""The postmortem of the Stage-31 sample in every format: golden files, hostile text, template overrides.

On both stores: in team mode the same rows, copied into PostgreSQL, must give the same documents (the same golden
files), read through PostgreSQL's own views.

Regenerate the golden files after an intended change with ``PIR_UPDATE_GOLDEN=1 pytest tests/test_publish_render.py``
and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support import publish_fixture as fx
from support import stores

from pirlib import db
from pirlib.errors import PirError
from pirlib.incidents import resolve_incident
from pirlib.publish import messages, render
from pirlib.review import actions
from pirlib.review.session import open_review
from pirlib.timeline.events import curate, load_timeline
from pirlib.timeline.milestones import set_milestone_override

GOLDEN = Path(__file__).resolve().parent / "golden"

pytestmark = pytest.mark.both_stores


@pytest.fixture
def stage31(store, demo_db, tmp_path):
    settings = stores.on_store(store, fx.stage31_settings(demo_db, tmp_path))
    with db.connect(settings, read_only=True) as con:
        incident_id = resolve_incident(con, fx.stage31_key(settings))[0]
        data = render.postmortem_data(con, incident_id, fx.RENDERED_AT)
    return settings, data


@pytest.mark.parametrize("fmt", list(render.FORMATS))
def test_stage31_matches_the_golden_file(stage31, fmt):
    _, data = stage31
    text = render.render(data, fmt)
    matches_golden(text, f"stage31-postmortem{render.FORMATS[fmt][1]}")
    assert render.render(data, fmt) == text  # deterministic


def matches_golden(text: str, name: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("PIR_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_the_status_summary_and_the_customer_email_match_their_golden_files(stage31):
    settings, data = stage31
    data = {**data, "review": {**data["review"], "doc_url": "https://wiki.example.com/pages/31"}}
    matches_golden(
        messages.status_summary(data, settings.replace(status_cc=("@cto",)))["text"] + "\n",
        "stage31-status-summary.txt",
    )
    mail = messages.customer_email(data, settings, ["support@example.com"])
    matches_golden(f"Subject: {mail['Subject']}\n\n{mail.get_content()}", "stage31-customer-email.txt")


def test_the_dataset_has_every_section(stage31):
    _, data = stage31
    assert data["incident"]["summary"].startswith("Stage-31: payments-api 5xx spike")
    assert len(data["went_well"]) == 1 and len(data["went_wrong"]) == 2
    # the timeline: the five milestones and the three starred events, in time order
    assert [e["who"] == "Milestone" for e in data["timeline"]] == [True, True, True, False, False, True, True, False]
    assert [e["at"] for e in data["timeline"]] == sorted(e["at"] for e in data["timeline"])
    assert not any(e["flag"] for e in data["timeline"])
    assert [n["flag_label"] for n in data["risks"]] == ["Compliance"]
    assert len(data["actions"]) == 8 and all(a["url"].startswith("https://") for a in data["actions"])
    assert {"Dana Roe", "Ravi Iyer"} <= {p["name"] for p in data["attendees"]}
    assert data["attendance_recorded"] and [p["name"] for p in data["absent"]] == ["José Núñez"]
    assert (data["review"]["scribe"], data["review"]["incident_commander"]) == ("Dana Roe", "Noah Williams")
    assert data["review"]["contributing_factors"] == [
        "Canary analysis watched latency only",
        "No automatic rollback on 5xx",
    ]
    assert "Compliance" not in {p["name"] for p in data["attendees"]}  # the role's placeholder is not a person
    assert [d["name"] for d in data["durations"]][0] == "Time to detect"


def test_drafts_not_in_jira_yet_are_listed_among_the_jira_actions_by_due_date(stage31):
    settings, data = stage31
    incident_id = data["incident"]["id"]
    jira = data["actions"]
    first_due = dt.date.fromisoformat(min(a["due_date"] for a in jira if a["due_date"]))
    with open_review(settings, incident_id) as s:
        early = first_due - dt.timedelta(days=1)
        actions.create_draft(
            s, summary="Alert on 5xx in canary", owner="Dana Roe", due_date=early, success_metric="page < 2 min"
        )
        actions.create_draft(s, summary="Write the rollback runbook")  # no due date: after every dated action
        pushed = actions.create_draft(s, summary="Pushed already", due_date=first_due)
        actions.start_push(s.con, pushed)
        actions.mark_pushed(s.con, pushed, "INC-999", "999")  # in Jira now: the next sync brings its action row
        data = render.postmortem_data(s.con, incident_id, fx.RENDERED_AT)
    listed = data["actions"]
    assert listed[1:-1] == jira and "Pushed already" not in [a["summary"] for a in listed]
    assert listed[0] == {
        "key": None,
        "summary": "Alert on 5xx in canary",
        "owner": "Dana Roe",
        "team": None,
        "status": "Not in Jira yet",
        "status_category": "new",
        "due_date": early.isoformat(),
        "success_metric": "page < 2 min",
        "verification_method": None,
        "action_type": None,
        "url": None,
    }
    undated = listed[-1]
    assert (undated["summary"], undated["due_date"], undated["owner"]) == ("Write the rollback runbook", None, None)
    text = render.render(data, "md")
    assert "| draft | Alert on 5xx in canary | Dana Roe |" in text
    assert "| draft | Write the rollback runbook | unassigned |" in text


def test_a_negative_duration_and_a_future_event_are_flagged_not_published(stage31):
    settings, data = stage31
    with db.connect(settings) as con:
        incident_id = data["incident"]["id"]
        set_milestone_override(con, incident_id, "mitigated", "2025-09-05T12:00:00Z")  # before started
        event_id = load_timeline(con, incident_id).query("starred")["event_id"].iloc[-1]
        curate(con, event_id, occurred_at="2025-09-09T10:00:00Z", by="Alex Chen")  # after RENDERED_AT
        data = render.postmortem_data(con, incident_id, fx.RENDERED_AT)
    ttm = next(d for d in data["durations"] if d["name"] == "Time to mitigate")
    assert ttm["minutes"] is None
    assert ttm["flag"] == "not shown: mitigated is before started; correct the milestones in the Timeline step"
    [future] = [e for e in data["timeline"] if e["flag"]]
    assert future["at"] > fx.RENDERED_AT
    for fmt in render.FORMATS:
        text = render.render(data, fmt)
        assert "−98 min" not in text and "-98 min" not in text and "mitigated is before started" in text
        assert "later than this document; check the time in the Timeline step" in text


def test_hostile_text_is_literal_in_markdown(stage31):
    _, data = stage31
    text = render.render(data, "md")
    line = next(line for line in text.splitlines() if "alert('x')" in line)
    assert "<script>" not in text and "\\<script\\>" in line
    assert "\\*\\*bold\\*\\*" in line and "\\[click\\](javascript:alert(1))" in line
    assert "\\| pipe \\& \\<b\\>tag\\</b\\> \\`tick\\` # heading" in line


@pytest.mark.parametrize(
    "value, escaped",
    [
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("- item", "\\- item"),
        ("> quote", "\\> quote"),
        ("a\n\n# b", "a # b"),
        ("2025) x", "2025\\) x"),
        ("x_y*z", "x\\_y\\*z"),
        ("a\\b", "a\\\\b"),
        ("&amp;", "\\&amp;"),
        ("<!-- c -->", "\\<!-- c --\\>"),
        ("~~s~~", "\\~\\~s\\~\\~"),
        (None, ""),
        ("bell\x07", "bell"),
    ],
)
def test_markdown_escape(value, escaped):
    assert render.markdown_escape(value) == escaped


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]


def test_hostile_text_is_text_in_html(stage31):
    _, data = stage31
    text = render.render(data, "html")
    parser = _Collect()
    parser.feed(text)
    assert "script" not in parser.tags and "b" not in parser.tags
    assert all(h.startswith("https://") for h in parser.hrefs)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text


def test_confluence_storage_format_is_well_formed_xhtml_with_the_hostile_text_as_text(stage31):
    _, data = stage31
    data["actions"][0]["status"] = '</ac:parameter><ac:structured-macro ac:name="html">'
    text = render.render(data, "confluence")
    namespaces = 'xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier"'
    root = ET.fromstring(f"<root {namespaces}>{text}</root>")
    macros = [
        m.get("{http://atlassian.com/content}name") for m in root.iter("{http://atlassian.com/content}structured-macro")
    ]
    assert set(macros) == {"status"}  # the hostile status stayed a parameter's text
    assert any("<script>alert('x')</script>" in "".join(li.itertext()) for li in root.iter("li"))
    assert "script" not in {el.tag for el in root.iter()}


def test_a_team_template_overrides_pirs_and_is_still_escaped(stage31, tmp_path):
    _, data = stage31
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "postmortem.md.j2").write_text("Our postmortem for {{ incident.key }}: {{ went_wrong[1].text }}\n")
    text = render.render(data, "md", overrides)
    assert text.startswith(f"Our postmortem for {data['incident']['key']}: \\<script\\>")
    (overrides / "postmortem.md.j2").write_text("{% for x in %}")
    with pytest.raises(PirError, match=r"templates/postmortem.md.j2, line 1: .*; fix the template"):
        render.render(data, "md", overrides)

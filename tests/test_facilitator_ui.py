"""The facilitator wizard driven in Python: set widget values, click buttons, read DuckDB back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as widgets
import nbformat
import pytest
from support import review_fixture as fx
from support.fake_confluence import EMAIL, TOKEN, FakeConfluence

from pirlib import db
from pirlib.config import Secret, Settings
from pirlib.review import actions, prepare, progress
from pirlib.review import meeting as review_meeting
from pirlib.review.session import incident_facts
from pirlib.ui import html
from pirlib.ui.facilitator.wizard import FacilitatorWizard

pytestmark = pytest.mark.both_stores

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The review fixture in the store conftest's ``settings`` use (the DuckDB file, or PostgreSQL)."""
    return fx.build(settings.db, settings.database_url)


def html_of(widget) -> list[str]:
    """The values of every HTML widget under ``widget``."""
    found = [widget.value] if isinstance(widget, widgets.HTML) else []
    for child in getattr(widget, "children", ()):
        found += html_of(child)
    return found


def wizard(settings) -> FacilitatorWizard:
    return FacilitatorWizard(settings, render_figures=False)


def picked(settings) -> FacilitatorWizard:
    w = wizard(settings)
    w.steps["pick"].select.value = fx.STAGE31_ID
    return w


def test_pick_says_the_deadlines_as_configured(settings):
    intro = wizard(dataclasses.replace(settings, facilitator_hours=6.0, publish_hours=72.0)).steps["pick"].intro.value
    assert "facilitator assigned 6 h; artifacts collected 1 d;" in intro and "postmortem published 3 d" in intro


def test_pick_lists_candidates_with_clocks_and_escapes_jira_text(settings):
    w = wizard(settings)
    assert w.step == "pick" and w.incident_id is None
    pick = w.steps["pick"]
    assert [value for _, value in pick.select.options] == ["40001", fx.STAGE31_ID, "40006"]
    assert "<script>" not in pick.table.value and "&lt;script&gt;" in pick.table.value
    assert "Facilitator assigned: <b>done</b>" in pick.table.value
    w.go("prepare")  # nothing picked: stays on Pick and says why
    assert w.step == "pick" and "No incident picked yet" in w.message.widget.value
    pick.select.value = "40001"
    assert "&lt;img src=x" in w.header.value and "<img" not in w.header.value


def test_progress_indicator_and_navigation(settings):
    w = picked(settings)
    assert w.step_buttons["pick"].description == "1 Pick ✓"
    w.next.click()
    assert w.step == "prepare" and "Step 2 of 6: Prepare" in w.position.value
    assert w.step_buttons["prepare"].button_style == "primary"
    w.step_buttons["wrap_up"].click()
    assert w.step == "wrap_up" and "Still missing" in w.steps["wrap_up"].report.value
    w.back.click()
    assert w.step == "actions"
    assert fx.in_review(settings, fx.with_con(progress.last_progress)) == (fx.STAGE31_ID, "actions")


def test_prepare_saves_each_change_at_once(settings):
    w = picked(settings)
    w.go("prepare")
    prep = w.steps["prepare"]
    prep.facilitator.value = fx.COMMANDER
    prep.assign.click()
    assert "is the incident commander of INC-31" in prep.facilitator_message.widget.value
    prep.facilitator.value = "Dana Roe"
    prep.assign.click()
    for kind in prepare.ARTIFACT_KINDS:
        prep.artifact_boxes[kind].value = True
    prep.artifact_locations["monitoring_snapshots"].value = "https://grafana.example/d/payments"
    prep.invite_boxes["Mo Diaz"].value = False
    prep.new_name.value, prep.new_role.value = "Quinn Park", "Product"
    prep.add_person.click()
    prep.send_invites.click()
    prep.agenda.value = "# Edited agenda <b>not bold</b>"
    prep.circulate.click()
    facts = fx.in_review(settings, incident_facts)
    assert facts["facilitator"] == "Dana Roe"
    assert all(facts[c] is not None for c in ("artifacts_collected_at", "invites_sent_at", "agenda_circulated_at"))
    invitees = fx.in_review(settings, prepare.invite_list).set_index("name")
    assert not invitees.loc["Mo Diaz", "invited"] and invitees.loc["Quinn Park", "role"] == "Product"
    assert fx.in_review(settings, prepare.agenda) == "# Edited agenda <b>not bold</b>"
    assert w.step_buttons["prepare"].description == "2 Prepare ✓"
    # reopening shows what was saved
    again = wizard(settings)
    assert again.step == "prepare" and again.incident_id == fx.STAGE31_ID
    prep2 = again.steps["prepare"]
    assert all(box.value for box in prep2.artifact_boxes.values())
    assert prep2.artifact_locations["monitoring_snapshots"].value == "https://grafana.example/d/payments"
    assert prep2.facilitator.value == "Dana Roe" and not prep2.invite_boxes["Mo Diaz"].value
    assert prep2.agenda.value.startswith("# Edited agenda")
    assert "base64," in prep2.download.value


def test_meeting_clocks_and_notes(settings):
    w = picked(settings)
    w.go("meeting")
    meeting = w.steps["meeting"]
    assert "Blameless" in meeting.widget.children[1].value
    assert "00:00 / 05:00 (not started)" in meeting.clocks["welcome"].value
    meeting.start("welcome")
    assert meeting.ticker.playing and "(running)" in meeting.clocks["welcome"].value
    with db.connect(settings) as con:  # pretend the segment began 7 minutes ago: the clock runs over
        con.execute("UPDATE meeting_segments SET started_at = started_at - INTERVAL '7 minutes'")
    meeting.times = fx.in_review(settings, review_meeting.segment_times)
    meeting.ticker.value = 1  # a tick from the browser redraws the clocks
    assert "07:0" in meeting.clocks["welcome"].value and "#b00020" in meeting.clocks["welcome"].value
    assert "Meeting: 07:0" in meeting.overall.value
    meeting.inputs["went_wrong"].value = "Canary had no 5xx alert <script>x</script>"
    meeting.add_buttons["went_wrong"].click()
    assert "tag is missing" in meeting.messages["went_wrong"].widget.value
    meeting.tags["went_wrong"].value = "detection_gap"
    meeting.add_buttons["went_wrong"].click()
    meeting.inputs["risk_review"].value = "Regulator notice due"
    meeting.tags["risk_review"].value = "compliance"
    meeting.add_buttons["risk_review"].click()
    frame = fx.in_review(settings, review_meeting.notes)
    assert list(zip(frame["segment"], frame["tag"].fillna(""), frame["flag"].fillna(""))) == [
        ("went_wrong", "detection_gap", ""),
        ("risk_review", "", "compliance"),
    ]
    shown = json.dumps(html_of(meeting.widget))
    assert "&lt;script&gt;x&lt;/script&gt;" in shown and "<script>x" not in shown


def find(widget, cls: type, css: str):
    """The widgets of type ``cls`` carrying ``css`` under ``widget``."""
    found = [widget] if isinstance(widget, cls) and css in widget._dom_classes else []
    for child in getattr(widget, "children", ()):
        found += find(child, cls, css)
    return found


def test_the_meeting_records_attendance_roles_and_the_root_cause(settings):
    w = picked(settings)
    w.go("meeting")
    record = w.steps["meeting"].record
    assert "Facilitator: <b>Alex Chen</b>" in record.facilitator.value
    assert record.roles["incident_commander"].value == fx.COMMANDER  # Jira's, until the meeting names another
    record.roles["scribe"].value = "Mo Diaz"
    record.roles["incident_commander"].value = fx.FACILITATOR  # the facilitator cannot be the commander
    assert "Alex Chen is the facilitator" in record.people_message.widget.value
    record.roles["incident_commander"].value = "Sam Okafor"
    record.boxes["Sam Okafor"].value = True
    record.boxes["Lee Park"].value = True
    record.newcomer.value = "Ravi Iyer"
    record.add.click()
    assert "Ravi Iyer" in record.boxes and record.boxes["Ravi Iyer"].value and record.newcomer.value == ""
    record.root_cause.value = "v2.14.0 shrank the pool <b>"
    record.factors.value = "Canary ignored 5xx\n\nNo auto-rollback"
    assert "root cause saved" in record.cause_message.widget.value
    saved = fx.in_review(settings, review_meeting.record)
    assert saved == {
        "facilitator": fx.FACILITATOR,
        "incident_commander": "Sam Okafor",
        "scribe": "Mo Diaz",
        "root_cause": "v2.14.0 shrank the pool <b>",
        "contributing_factors": "Canary ignored 5xx\nNo auto-rollback",
    }
    invitees = fx.in_review(settings, prepare.invite_list).set_index("name")
    assert invitees.loc["Sam Okafor", "attended"] and invitees.loc["Ravi Iyer", "attended"]
    assert not invitees.loc["Ravi Iyer", "invited"] and invitees["attended"].isna().sum() > 0
    w.steps["meeting"].refresh()  # loaded again: everything comes back from the database
    record = w.steps["meeting"].record
    assert record.roles["scribe"].value == "Mo Diaz" and record.boxes["Ravi Iyer"].value
    assert record.factors.value == "Canary ignored 5xx\nNo auto-rollback"
    assert "&lt;b&gt;" not in record.root_cause.value and record.root_cause in w.steps["meeting"].record.cause.children


def test_an_action_item_note_becomes_a_draft_with_one_click(settings):
    w = picked(settings)
    w.go("meeting")
    step = w.steps["meeting"]
    step.inputs["actions"].value = "Alert on checkout 5xx above 1% in canary"
    step.add_buttons["actions"].click()
    step.inputs["went_well"].value = "typed, not added yet"
    [button] = find(step.widget, widgets.Button, "pir-note-to-draft")
    button.click()
    button.click()  # a second click makes no second draft
    assert button.disabled and button.description == "Draft made ✓"
    assert "draft made" in step.messages["actions"].widget.value
    assert step.inputs["went_well"].value == "typed, not added yet"
    [made] = [checked.draft for checked in fx.in_review(settings, actions.list_drafts)]
    assert made.summary == "Alert on checkout 5xx above 1% in canary"
    assert made.note_id == fx.in_review(settings, review_meeting.notes).loc[0, "note_id"]
    w.go("meeting")
    [button] = find(w.steps["meeting"].widget, widgets.Button, "pir-note-to-draft")
    assert button.disabled  # still known after a reload
    w.go("actions")
    step = w.steps["actions"]
    step.edit(made.draft_id)
    assert step.fields["summary"].value == "Alert on checkout 5xx above 1% in canary"
    assert "owner: required" in step.problems.value


def test_actions_autosave_and_explain_problems(settings):
    w = picked(settings)
    w.go("actions")
    step = w.steps["actions"]
    step.fields["summary"].value = "Look into the alerts"
    draft_id = step.draft_id
    assert draft_id is not None
    assert "owner: required" in step.problems.value
    assert "&#x27;look into&#x27; is vague" in step.problems.value
    step.new.click()
    assert step.draft_id is None and step.fields["summary"].value == ""
    shown = "".join(html_of(step.widget))
    assert "within 90 days" in shown and html.text(actions.GOOD_METRIC) in shown
    good = {
        "summary": "Add a canary alert on 5xx rate",
        "owner": "Sam Okafor",
        "action_type": "detect",
        "team": "SRE",
        "success_metric": "alert within 2 min of 5xx > 1%",
        "verification_method": "game day on 2025-09-20, checked by the SRE on call",
    }
    for name, value in good.items():
        step.fields[name].value = value
    step.fields["due_date"].value = fx.TODAY + dt.timedelta(days=14)
    assert "✓ SMART" in step.problems.value
    drafts = fx.in_review(settings, actions.list_drafts)
    assert len(drafts) == 2 and drafts[1].problems == [] and drafts[0].problems
    assert drafts[1].draft.team == "SRE" and "Sam Okafor (SRE)" in json.dumps(html_of(step.listing))
    step.fields["success_metric"].value = "asdf qwerty"
    assert (
        "states no measurable target" in step.problems.value and html.text(actions.GOOD_METRIC) in step.problems.value
    )
    step.fields["success_metric"].value = "alert within 2 min of 5xx > 1%"
    step.edit(draft_id)
    assert step.fields["summary"].value == "Look into the alerts"
    step.fields["due_date"].value = fx.TODAY
    assert "due date: 2025-09-06 is not in the future" in step.problems.value
    assert fx.in_review(settings, fx.with_con(actions.get_draft, draft_id)).due_date == fx.TODAY
    step.delete(draft_id, fx.in_review(settings, fx.with_con(actions.get_draft, draft_id)).version)
    assert len(fx.in_review(settings, actions.list_drafts)) == 1


def test_wrap_up_points_to_publish(settings):
    w = picked(settings)
    w.go("wrap_up")
    text = "".join(html_of(w.steps["wrap_up"].widget))
    assert "pir publish INC-31" in text and "Postmortem published" in text
    assert "actions: no actions drafted" in text
    assert "Confluence is not configured" in text


@pytest.fixture
def wiki():
    server = FakeConfluence()
    server.add_page("REL", "Incidents", server.add_page("REL", "Reliability"))
    yield server
    server.close()


def test_wrap_up_publish_button_creates_then_updates_the_page(settings, wiki):
    settings = settings.replace(
        confluence_url=wiki.url, confluence_space="REL", confluence_email=EMAIL, confluence_token=Secret(TOKEN)
    )
    w = picked(settings)
    w.go("wrap_up")
    panel = w.steps["wrap_up"].publishing
    assert panel.button.description == "Publish" and panel.doc_url not in w.steps["wrap_up"].widget.children
    panel.button.click()
    page = next(p for p in wiki.pages.values() if p["title"].startswith("Postmortem INC-31"))
    url = f"{wiki.url}/spaces/REL/pages/{page['id']}"
    assert f'<a href="{url}"' in panel.result.value and "INC-31-postmortem.md" in panel.result.value
    assert "Confluence page created" in panel.result.value and panel.message.widget.value == ""
    assert panel.button.description == "Publish again (update)"
    assert fx.in_review(settings, incident_facts)["doc_url"] == url
    panel.button.click()
    assert [p["version"] for p in wiki.pages.values() if p["title"] == page["title"]] == [2]
    assert "updated (version 2)" in panel.result.value
    wiki.fail[("PUT", "/rest/api/content")] = 403
    panel.button.click()
    assert "HTTP 403" in panel.message.widget.value and "ask a space admin" in panel.message.widget.value


def test_wrap_up_records_the_regulator_filing(settings):
    w = picked(settings)
    w.go("wrap_up")
    panel = w.steps["wrap_up"].publishing
    assert 'Regulator filing (runbook §4.4): <b style="color:#b00020">open</b>' in panel.filing.value
    panel.filed.click()
    assert "filed 2025-09-06" in panel.filing.value and panel.filed.disabled
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT state FROM v_regulatory_followups WHERE key = 'INC-31'").fetchone() == ("filed",)


def test_wrap_up_without_confluence_records_a_page_published_elsewhere(settings):
    w = picked(settings)
    w.go("wrap_up")
    panel = w.steps["wrap_up"].publishing
    panel.doc_url.value = "javascript:alert(1)"
    panel.button.click()
    assert "is not an http(s) URL" in panel.message.widget.value
    panel.doc_url.value = "https://notion.example.com/pm-31"
    panel.button.click()
    assert fx.in_review(settings, incident_facts)["doc_url"] == "https://notion.example.com/pm-31"
    assert "INC-31-customer-email.eml" in panel.result.value


def test_timeline_step_embeds_the_editor(settings):
    w = picked(settings)
    w.go("timeline")
    step = w.steps["timeline"]
    assert step.editor is not None  # pirlib.ui.facilitator.timeline_editor is there
    step.import_button.click()
    assert "no file chosen" in step.message.widget.value
    assert "Star (★) an event to put it in the postmortem" in "".join(html_of(step.widget))


def test_a_relative_import_path_is_the_projects_and_the_import_says_what_it_added(settings, tmp_path, monkeypatch):
    import shutil

    project = tmp_path / "project"
    (project / "imports").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "fixtures" / "timeline" / "alerts.csv", project / "imports" / "alerts.csv")
    monkeypatch.chdir(tmp_path)  # a kernel runs in notebooks/, not in the project folder
    w = picked(settings.replace(home=project))
    w.go("timeline")
    step = w.steps["timeline"]
    step.kind.value = "alerts"
    step.path.value = "imports/nope.csv"
    step.import_button.click()
    assert (
        f"imports/nope.csv: no such file in the project folder {project}; give a path relative to that folder, "
        "or an absolute path"
    ) in step.message.widget.value
    step.path.value = "imports/alerts.csv"
    step.import_button.click()
    message = step.message.widget.value
    assert "imported alerts.csv: " in message and " events read, " in message and "0 added" not in message
    step.import_button.click()
    assert "0 added" in step.message.widget.value and "nothing new" in step.message.widget.value


def test_notebook_is_thin_and_stripped():
    notebook = nbformat.read(ROOT / "notebooks" / "facilitator_guide.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert 1 <= len(code) <= 2
    for cell in code:
        assert len(cell.source.splitlines()) <= 10 and "def " not in cell.source and "class " not in cell.source
        assert cell.outputs == []


def test_recap_shows_and_sets_the_failure_mode_and_lists_similar_incidents(settings):
    w = picked(settings)
    w.user = "Alex Chen"
    w.go("meeting")
    recap = w.steps["meeting"].recap
    assert (
        "Failure mode: <b>Bad deploy</b>" in recap.mode.value and "summary has &quot;rollout&quot;" in recap.mode.value
    )
    assert "INC-42" in recap.similar.value and "INC-40" not in recap.similar.value  # earlier incidents only
    assert "same service and mode; shared terms: 5xx, api, payments, rollout" in recap.similar.value
    recap.picker.value = "Config change"
    recap.note.value = "the rollout only carried a config push"
    recap.save.click()
    assert "saved: Config change" in recap.message.value
    assert "Failure mode: <b>Config change</b>" in recap.mode.value and "set by Alex Chen" in recap.mode.value
    with db.connect(settings, read_only=True) as con:
        assert con.execute("SELECT mode, note, set_by FROM failure_mode_overrides").fetchall() == [
            ("Config change", "the rollout only carried a config push", "Alex Chen")
        ]
    reopened = wizard(settings)  # a new session resumes with the saved mode selected
    reopened.go("meeting")
    assert reopened.steps["meeting"].recap.picker.value == "Config change"
    recap.picker.value = ""
    recap.save.click()
    assert "manual mode cleared" in recap.message.value and "<b>Bad deploy</b>" in recap.mode.value


HOSTILE = "<script>alert('pir')</script> <img src=x onerror=alert(1)> \"' onmouseover=alert(2) x='"
ACTIVE_TAGS = {"script", "img", "iframe", "object", "embed", "svg", "style", "link", "meta", "form", "input"}


def test_every_step_of_the_guide_keeps_hostile_text_as_text(settings):
    """Hostile text in every place a person or Jira can put it, through every step's HTML."""
    with db.connect(settings) as con:
        con.execute(
            "UPDATE incidents SET commander = ?, service = ?, description = ? WHERE issue_id = '40001'",
            [HOSTILE, HOSTILE, HOSTILE],
        )
        con.execute("UPDATE incident_events SET incident_id = '40001', text = ?, actor = ?", [HOSTILE, HOSTILE])
    fx.in_review(settings, prepare.assign_facilitator, "Kim <b>Lee</b>", incident="40001")
    fx.in_review(settings, prepare.add_attendee, HOSTILE, role=HOSTILE, incident="40001")
    fx.in_review(
        settings,
        prepare.set_artifact,
        "monitoring_snapshots",
        collected=True,
        location=HOSTILE,
        by=HOSTILE,
        incident="40001",
    )
    for segment in ("welcome", "went_well", "risk_review"):
        fx.in_review(settings, review_meeting.add_note, segment, HOSTILE, author=HOSTILE, incident="40001")
    fx.in_review(
        settings,
        actions.create_draft,
        summary=HOSTILE,
        owner=HOSTILE,
        success_metric=HOSTILE,
        verification_method=HOSTILE,
        incident="40001",
    )

    class Elements(HTMLParser):
        def __init__(self, markup: str):
            super().__init__(convert_charrefs=True)
            self.found: list[tuple[str, dict]] = []
            self.feed(markup)

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    w = wizard(settings)
    w.steps["pick"].select.value = "40001"
    for step in ("pick", "prepare", "timeline", "meeting", "actions", "wrap_up"):
        w.go(step)
        assert w.step == step
        shown = "".join(html_of(w.widget))
        assert "alert(" in shown, step  # the hostile text is on screen...
        for tag, attrs in Elements(shown).found:  # ...as text only
            assert tag not in ACTIVE_TAGS, (step, tag, attrs)
            assert not [name for name in attrs if name.startswith("on")], (step, tag, attrs)
            href = attrs.get("href")
            assert href is None or href.startswith(("https://", "http://", "data:text/markdown")), (step, href)


def test_a_note_added_in_one_segment_keeps_text_typed_in_another(settings):
    w = picked(settings)
    w.go("meeting")
    step = w.steps["meeting"]
    step.inputs["went_wrong"].value = "typed, not added yet"
    step.inputs["went_well"].value = "Rollback took 4 minutes"
    step.add_buttons["went_well"].click()
    assert step.inputs["went_wrong"].value == "typed, not added yet" and step.inputs["went_well"].value == ""
    assert "Rollback took 4 minutes" in json.dumps(html_of(step.note_lists["went_well"]))
    w.go("actions")
    w.go("meeting")  # the step shown again keeps what was typed
    assert step.inputs["went_wrong"].value == "typed, not added yet"


def test_deleting_a_note_or_a_draft_asks_first(settings):
    w = picked(settings)
    w.go("meeting")
    step = w.steps["meeting"]
    step.inputs["welcome"].value = "Ground rules read"
    step.add_buttons["welcome"].click()
    delete = step.note_lists["welcome"].children[0].children[2]  # the note's delete button (after Edit)
    delete.click()
    assert delete.description == "Really delete?" and len(fx.in_review(settings, review_meeting.notes)) == 1
    delete.click()
    assert fx.in_review(settings, review_meeting.notes).empty and step.note_lists["welcome"].children == ()
    w.go("actions")
    actions_step = w.steps["actions"]
    actions_step.fields["summary"].value = "Look into the alerts"
    remove = actions_step.listing.children[0].children[2]
    remove.click()
    assert len(fx.in_review(settings, actions.list_drafts)) == 1 and remove.description == "Really delete?"
    remove.click()
    assert fx.in_review(settings, actions.list_drafts) == [] and actions_step.draft_id is None


def test_one_change_is_one_connection_and_decides_one_step(settings, monkeypatch):
    """A tick of an artifact opens the database once, and opening a step seen before reads nothing but the
    remembered step; the progress of the other steps is not decided again."""
    w = picked(settings)
    for step in ("prepare", "timeline", "meeting", "actions", "wrap_up", "prepare"):
        w.go(step)
    opened: list[bool] = []
    decided: list[str] = []
    real_connect, real_step_done = db.connect, progress.step_done
    monkeypatch.setattr(db, "connect", lambda *a, **k: (opened.append(True), real_connect(*a, **k))[1])
    monkeypatch.setattr(
        progress,
        "step_done",
        lambda s, step, done=frozenset(): (decided.append(step), real_step_done(s, step, done))[1],
    )
    w.steps["prepare"].artifact_boxes["monitoring_snapshots"].value = True
    assert len(opened) == 1 and decided == ["prepare", "wrap_up"]
    assert "collected 2025-09-06" in w.steps["prepare"].artifact_stamps["monitoring_snapshots"].value
    opened.clear()
    decided.clear()
    meeting_view = w.steps["meeting"].widget.children
    w.go("meeting")  # seen before and nothing it shows changed: the same widgets, one write of the step
    assert len(opened) == 1 and decided == [] and w.steps["meeting"].widget.children == meeting_view
    w.go("wrap_up")  # Prepare changed since: the quality check is read again
    assert "Still missing" in w.steps["wrap_up"].report.value


def test_progress_is_decided_in_review_progress(settings):
    def done() -> set[str]:
        return fx.in_review(settings, progress.done_steps)

    assert done() == {"pick", "timeline"}  # the fixture's incident has events
    for kind in prepare.ARTIFACT_KINDS:
        fx.in_review(settings, prepare.set_artifact, kind, collected=True)
    fx.in_review(settings, prepare.mark_invites_sent)
    fx.in_review(settings, prepare.mark_agenda_circulated)
    assert done() == {"pick", "prepare", "timeline"}
    for segment in review_meeting.SEGMENTS:
        fx.in_review(
            settings,
            review_meeting.add_note,
            segment.name,
            f"note on {segment.title}",
            **({"tag": "detection_gap"} if segment.name == "went_wrong" else {}),
        )
    assert "meeting" in done()
    before = done()
    after = fx.in_review(settings, progress.update_done, before - {"meeting"}, "meeting")
    assert after == before  # deciding one step again gives what deciding all does


def test_pick_reopens_a_published_review(settings):
    w = wizard(settings)
    pick = w.steps["pick"]
    assert "40003" not in [value for _, value in pick.select.options]  # INC-42 is published
    pick.which.value = "published"
    assert [value for _, value in pick.select.options] == ["40003"]
    assert "publish it again" in pick.intro.value
    pick.select.value = "40003"
    assert w.incident_id == "40003" and "· published 2025-09-02" in w.header.value
    w.go("wrap_up")
    assert w.steps["wrap_up"].publishing.button.description == "Publish again (update)"


def test_starring_updates_the_timeline_figure_without_building_it_again(settings, monkeypatch):
    from pirlib.ui.facilitator import timeline_editor

    w = picked(settings)
    w.go("wrap_up")
    w.go("timeline")
    assert not w.steps["wrap_up"].stale
    editor = w.steps["timeline"].editor
    figure, lanes = editor.figure, [t for t in editor.figure["data"] if t["name"] != "key moments"]
    monkeypatch.setattr(timeline_editor, "timeline_json", lambda *a, **k: pytest.fail("the figure was built again"))
    editor.event_list.value = editor.event_list.options[0][1]
    editor.star_button.click()
    assert editor.status.value == "starred" and "★" in editor.event_list.options[0][0]
    assert w.steps["wrap_up"].stale  # the review check reads the timeline: shown again, it is read again
    stars = [t for t in editor.figure["data"] if t["name"] == "key moments"]
    assert editor.figure is figure and len(stars) == 1 and len(stars[0]["x"]) == 1
    assert [t for t in editor.figure["data"] if t["name"] != "key moments"] == lanes
    editor.star_button.click()
    assert editor.status.value == "unstarred" and not [t for t in editor.figure["data"] if t["name"] == "key moments"]


def test_the_timeline_of_an_incident_seen_before_comes_back_without_reading_it_again(settings, monkeypatch):
    from pirlib.ui.facilitator import timeline_editor

    w = picked(settings)
    w.go("timeline")
    editor = w.steps["timeline"].editor
    shown = list(editor.event_list.options)
    w.steps["pick"].select.value = "40001"
    w.go("timeline")
    assert editor.incident == "40001" and list(editor.event_list.options) != shown
    monkeypatch.setattr(timeline_editor.events, "load_timeline", lambda *a: pytest.fail("read again"))
    w.steps["pick"].select.value = fx.STAGE31_ID
    w.go("timeline")
    assert editor.incident == fx.STAGE31_ID and list(editor.event_list.options) == shown

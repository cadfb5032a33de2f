"""pirlib.review's stage modules against a real DuckDB file: the runbook clock, preparation stamps, meeting and
notes, progress and the wrap-up check; each test works through one open connection, as a wizard step does."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from support import review_fixture as fx

from pirlib import db
from pirlib.config import Settings
from pirlib.errors import InputError
from pirlib.review import actions, clock, meeting, prepare, progress, wrap_up
from pirlib.review.session import ReviewSession

pytestmark = pytest.mark.both_stores

UTC = dt.UTC
CLOSED = fx.RESOLVED.to_pydatetime()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The review fixture in the store conftest's ``settings`` use (the DuckDB file, or PostgreSQL)."""
    return fx.build(settings.db, settings.database_url)


@pytest.fixture
def s(settings) -> ReviewSession:
    """INC-31's session on a connection open for the whole test."""
    with db.connect(settings) as con:
        yield ReviewSession.resolve(con, settings, fx.STAGE31_KEY)


def _review_row(con, incident_id: str = fx.STAGE31_ID) -> dict:
    return con.execute("SELECT * FROM reviews WHERE incident_id = ?", [incident_id]).df().iloc[0].to_dict()


# ----------------------------------------------------------------------------------------- the clock


def test_stage_clocks_count_from_closure_with_configured_hours():
    settings = Settings(facilitator_hours=6)
    at = CLOSED + dt.timedelta(hours=5)
    clocks = {c.stage: c for c in clock.stage_clocks(CLOSED, {}, settings, at)}
    assert clocks["facilitator_assigned"].due_at == CLOSED + dt.timedelta(hours=6)
    assert clocks["facilitator_assigned"].state == "due_soon"  # 1 h of 6 left: under a quarter
    assert clocks["artifacts_collected"].state == "on_time"
    assert clocks["published"].due_at == CLOSED + dt.timedelta(hours=48)
    assert clocks["artifacts_collected"].describe() == "due in 19 h"


def test_stage_clock_states_late_done_and_done_late():
    review_row = {
        "facilitator_assigned_at": CLOSED + dt.timedelta(hours=13),
        "artifacts_collected_at": CLOSED + dt.timedelta(hours=2),
    }
    clocks = {c.stage: c for c in clock.stage_clocks(CLOSED, review_row, Settings(), CLOSED + dt.timedelta(hours=30))}
    assert clocks["facilitator_assigned"].state == "done" and clocks["facilitator_assigned"].done_late
    assert clocks["artifacts_collected"].state == "done" and not clocks["artifacts_collected"].done_late
    assert clocks["invites_sent"].state == "late"
    assert clocks["invites_sent"].describe() == "late by 6 h"
    assert clocks["published"].state == "on_time"  # 18 h of 48 left: more than a quarter
    assert clock.stage_clocks(CLOSED, {}, Settings(), CLOSED + dt.timedelta(hours=37))[4].state == "due_soon"


def test_candidates_are_closed_unpublished_review_severities_newest_first(settings, s):
    found = clock.candidates(s.con, settings, at=CLOSED + dt.timedelta(hours=3))
    assert [c.key for c in found] == ["INC-40", fx.STAGE31_KEY, "INC-45"]
    stage31 = found[1]
    assert stage31.facilitator == fx.FACILITATOR
    states = {c.stage: c.state for c in stage31.clocks}
    assert states == {
        "facilitator_assigned": "done",
        "artifacts_collected": "on_time",
        "invites_sent": "on_time",
        "agenda_circulated": "on_time",
        "published": "on_time",
    }
    assert "late" in found[2].label()
    assert fx.XSS_SUMMARY[:30] in found[0].label()  # plain text, for a dropdown


def test_now_moves_to_pir_today_but_keeps_the_time_running():
    moved = clock.now(Settings(today=dt.date(2025, 9, 6)))
    assert moved.date() == dt.date(2025, 9, 6) and moved.tzinfo is not None
    assert abs((clock.now(Settings()) - dt.datetime.now(UTC)).total_seconds()) < 5


# ---------------------------------------------------------------------------------------- preparation


def test_assign_facilitator_refuses_the_commander(settings, s):
    with pytest.raises(InputError, match=r"^facilitator: Priya Raman is the incident commander of INC-31;"):
        prepare.assign_facilitator(s, "  priya   RAMAN ")
    assert _review_row(s.con)["facilitator"] == fx.FACILITATOR  # unchanged


def test_assign_facilitator_stamps_once(settings, s):
    inc40 = ReviewSession.resolve(s.con, settings, "INC-40")
    first = CLOSED + dt.timedelta(hours=2)
    prepare.assign_facilitator(inc40, "Dana Roe", at=first)
    prepare.assign_facilitator(inc40, "Eli Moss", at=first + dt.timedelta(hours=20))
    row = _review_row(s.con, "40001")
    assert row["facilitator"] == "Eli Moss"
    assert row["facilitator_assigned_at"] == pd.Timestamp(first)
    with pytest.raises(InputError, match="^facilitator: the name is empty"):
        prepare.assign_facilitator(inc40, "   ")


def test_artifacts_collected_when_all_four_kinds_are(settings, s):
    items = prepare.artifact_checklist(s)
    assert [i["kind"] for i in items] == list(prepare.ARTIFACT_KINDS)
    assert items[0]["location"] == "https://jira.example.com/browse/INC-31"
    times = [CLOSED + dt.timedelta(hours=h) for h in (1, 2, 3, 4)]
    for kind, at in zip(prepare.ARTIFACT_KINDS, times):
        assert pd.isna(_review_row(s.con)["artifacts_collected_at"])
        prepare.set_artifact(s, kind, collected=True, by="Alex Chen", at=at)
    assert _review_row(s.con)["artifacts_collected_at"] == pd.Timestamp(times[-1])
    prepare.set_artifact(s, "monitoring_snapshots", location="grafana.example/d/1")
    prepare.set_artifact(s, "customer_communications", collected=False)
    assert pd.isna(_review_row(s.con)["artifacts_collected_at"])
    items = {i["kind"]: i for i in prepare.artifact_checklist(s)}
    assert items["monitoring_snapshots"]["location"] == "grafana.example/d/1"
    assert items["monitoring_snapshots"]["collected_by"] == "Alex Chen"
    assert items["customer_communications"]["collected_at"] is None
    with pytest.raises(InputError, match="artifact kind 'logs' is unknown"):
        prepare.set_artifact(s, "logs", collected=True)


def test_invite_list_proposes_people_and_runbook_roles_and_is_editable(settings, s):
    invitees = prepare.invite_list(s)
    people = dict(zip(invitees["name"], invitees["origin"]))
    assert people[fx.COMMANDER] == "incident commander"
    assert people["Sam Okafor"] == "Jira assignee" and people["Jordan Nunez"] == "Jira reporter"
    assert people["Lee Park"] == "Jira commenter" and people["Mo Diaz"] == "chat participant"
    assert {n for n, o in people.items() if o == "runbook role"} == set(prepare.RUNBOOK_ROLES)
    prepare.set_invited(s, "Mo Diaz", False)
    prepare.add_attendee(s, "Rita QA-Lead", "QA")
    invitees = prepare.invite_list(s).set_index("name")
    assert not invitees.loc["Mo Diaz", "invited"]  # stays removed: the proposal does not bring them back
    assert "QA" not in invitees.index and invitees.loc["Rita QA-Lead", "role"] == "QA"
    with pytest.raises(InputError, match="^invitee name: empty"):
        prepare.add_attendee(s, " ", "QA")


def test_invites_and_agenda_stamp_their_times(settings, s):
    at = CLOSED + dt.timedelta(hours=8)
    prepare.mark_invites_sent(s, at=at)
    prepare.mark_agenda_circulated(s, at=at)
    prepare.mark_agenda_circulated(s, at=at + dt.timedelta(hours=1))
    row = _review_row(s.con)
    assert row["invites_sent_at"] == pd.Timestamp(at) and row["agenda_circulated_at"] == pd.Timestamp(at)
    states = dict(
        s.con.execute(  # the deadline view reads the same stamps
            "SELECT stage, state FROM v_review_deadlines WHERE incident_id = ?", [fx.STAGE31_ID]
        ).fetchall()
    )
    assert states["invites_sent"] == "on_time" and states["facilitator_assigned"] == "on_time"


def test_invites_need_someone_invited(settings, s):
    for name in prepare.invite_list(s)["name"]:
        prepare.set_invited(s, name, False)
    with pytest.raises(InputError, match="^invite list: nobody is invited yet"):
        prepare.mark_invites_sent(s)


def test_agenda_draft_has_facts_and_segments_and_edits_persist(settings, s, tmp_path):
    text = prepare.agenda(s)
    assert text.startswith(f"# Post-incident review: {fx.STAGE31_KEY} {fx.STAGE31_SUMMARY}")
    assert "Incident commander: Priya Raman; facilitator: Alex Chen" in text
    assert "resolved 2025-09-06 01:12 UTC (duration 11 h 34 min)" in text
    assert "4. **What went wrong (20 min)**" in text and "## Agenda (60 minutes)" in text
    prepare.save_agenda(s, "# My agenda\n")
    assert prepare.agenda(s) == "# My agenda"
    path = prepare.export_agenda(s, tmp_path / "out")
    assert path.name == "INC-31-agenda.md" and path.read_text() == "# My agenda"
    assert prepare.reset_agenda(s) == text


def test_progress_resumes_last_unpublished_review(settings, s):
    assert progress.last_progress(s.con) is None
    progress.save_progress(s, "meeting")
    assert progress.last_progress(s.con) == (fx.STAGE31_ID, "meeting")
    with pytest.raises(InputError, match="step 'lunch' is unknown"):
        progress.save_progress(s, "lunch")


# --------------------------------------------------------------------------------------------- meeting


def test_segments_run_one_at_a_time_and_stamp_the_meeting(settings, s):
    t0 = CLOSED + dt.timedelta(hours=20)
    meeting.start_segment(s, "welcome", at=t0)
    meeting.start_segment(s, "recap", at=t0 + dt.timedelta(minutes=6))
    times = meeting.segment_times(s)
    assert times["welcome"] == (t0, t0 + dt.timedelta(minutes=6))  # starting recap ended welcome
    assert times["recap"][1] is None
    later = t0 + dt.timedelta(minutes=10)
    assert meeting.segment_elapsed(times["recap"], later) == dt.timedelta(minutes=4)
    assert meeting.meeting_elapsed(times, later) == dt.timedelta(minutes=10)
    meeting.end_segment(s, "recap", at=later)
    times = meeting.segment_times(s)
    assert meeting.meeting_elapsed(times, later + dt.timedelta(hours=1)) == dt.timedelta(minutes=10)
    assert _review_row(s.con)["meeting_at"] == pd.Timestamp(t0)
    assert sum(s.minutes for s in meeting.SEGMENTS) == 60
    assert [s.minutes for s in meeting.SEGMENTS] == [5, 10, 10, 20, 10, 5]


def test_notes_are_rows_with_category_tag_and_flag(settings, s):
    meeting.add_note(s, "went_wrong", "Canary had no 5xx alert", tag="detection_gap")
    meeting.add_note(s, "risk_review", "PCI notice due", flag="compliance")
    note_id = meeting.add_note(s, "went_well", "Rollback took 4 min")
    frame = meeting.notes(s)
    assert list(frame["segment"]) == ["went_well", "went_wrong", "risk_review"]
    assert list(frame["category"]) == ["well", "wrong", "risk"]
    assert frame.loc[1, "tag"] == "detection_gap" and frame.loc[2, "flag"] == "compliance"
    meeting.delete_note(s.con, note_id, version=1)
    assert len(meeting.notes(s)) == 2


@pytest.mark.parametrize(
    ("segment", "text", "extra", "message"),
    [
        ("went_wrong", "no alert", {}, "^What went wrong note: tag is missing; choose Detection gap"),
        ("went_well", "  ", {}, "^What went well note: the text is empty"),
        ("went_well", "fast", {"tag": "tooling_limit"}, "tags are for what went wrong only"),
        ("recap", "x", {"flag": "security"}, "flag 'security' is not allowed"),
        ("coffee", "x", {}, "segment 'coffee' is unknown"),
    ],
)
def test_bad_notes_are_refused_with_one_line(settings, s, segment, text, extra, message):
    with pytest.raises(InputError, match=message):
        meeting.add_note(s, segment, text, **extra)
    assert meeting.notes(s).empty


# --------------------------------------------------------------------------------------------- wrap-up


def test_quality_check_names_what_is_missing(settings, s):
    at = CLOSED + dt.timedelta(hours=30)
    issues = [str(i) for i in wrap_up.quality_check(s, at=at)]
    assert "actions: no actions drafted; draft at least one in the Actions step" in issues
    assert sum(i.startswith("notes: no notes for") for i in issues) == 6
    assert any(i.startswith("preparation: artifacts collected: not done (late by") for i in issues)
    actions.create_draft(s, summary="Add 5xx canary alert", success_metric="alert < 2 min")
    for segment in meeting.SEGMENTS:
        meeting.add_note(s, segment.name, "said", tag="tooling_limit" if segment.name == "went_wrong" else None)
    issues = [str(i) for i in wrap_up.quality_check(s, at=at)]
    assert (
        "actions: draft 'Add 5xx canary alert' is not SMART yet: owner: required; name the one person "
        "accountable for the action, e.g. an invitee of the review; due date: required; pick a date after today "
        "and by 2025-12-05 (within 90 days); verification method: required; say how and when the metric is "
        f"checked, e.g. '{actions.good_verification(fx.TODAY)}'; type: required; choose one of prevent, detect, mitigate, "
        "process"
    ) in issues
    assert not any(i.startswith("notes:") for i in issues)


def test_quality_check_reports_missing_milestones(settings, s):
    s.con.execute("UPDATE incidents SET started_at = NULL WHERE issue_id = ?", [fx.STAGE31_ID])
    s.con.execute("DELETE FROM incident_events WHERE incident_id = ?", [fx.STAGE31_ID])
    issues = [str(i) for i in wrap_up.quality_check(s)]
    assert "milestones: started is missing; set it in the Timeline step" in issues
    assert "milestones: resolved is missing; set it in the Timeline step" not in issues


def test_open_actions_call_blank_what_clean_text_calls_blank(settings, s):
    """Jira text is not cleaned on the way in: an owner of odd spaces is no owner, in SQL as in Python."""
    import sys

    from pirlib.values import clean_text

    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    owners = [None, "", *spaces, " \u3000\t", "\u200b", "\ufeff", "\u180e", " a ", "\u00a0Ann\u00a0"]
    for n, owner in enumerate(owners):
        s.con.execute(
            "INSERT INTO action_drafts (draft_id, incident_id, summary, owner, success_metric, verification_method, "
            "state) VALUES (?, ?, ?, ?, 'p99 < 300 ms', 'game day', 'draft')",
            [f"d{n}", fx.STAGE31_ID, f"a{n}", owner],
        )
        s.con.execute(
            "INSERT INTO actions (issue_id, key, incident_id, summary, owner, success_metric, verification_method, "
            "deleted) VALUES (?, ?, ?, ?, ?, 'p99 < 300 ms', 'game day', false)",
            [f"j{n}", f"INC-{900 + n}", fx.STAGE31_ID, f"a{n}", owner],
        )
    found = actions.open_actions(s.con, settings, [fx.STAGE31_ID])[fx.STAGE31_ID]
    assert found.count == 2 * len(owners)
    blank = {f"a{n}" for n, owner in enumerate(owners) if not clean_text(owner)}
    assert {summary for _, summary, missing in found.lacking if missing == ["owner"]} == blank
    owner_required = {
        summary
        for summary, problems in found.not_smart
        if any(p.field == "owner" and p.message.startswith("required") for p in problems)
    }
    assert owner_required == blank
    assert len(blank) == len(spaces) + 3


# ------------------------------------------------------------------------------------- the meeting's record


def test_the_meeting_records_roles_attendance_and_the_root_cause(settings, s):
    assert meeting.record(s) == {
        "facilitator": fx.FACILITATOR,
        "incident_commander": fx.COMMANDER,
        "scribe": None,
        "root_cause": None,
        "contributing_factors": None,
    }
    with pytest.raises(InputError, match="^incident commander: Alex Chen is the facilitator"):
        meeting.set_role(s, "incident_commander", " alex  chen ")
    with pytest.raises(InputError, match="^role 'facilitator' cannot be set here"):
        meeting.set_role(s, "facilitator", "Mo Diaz")
    meeting.set_role(s, "incident_commander", "Sam Okafor")
    meeting.set_role(s, "scribe", "  Mo   Diaz ")
    with pytest.raises(InputError, match="^facilitator: Sam Okafor is the incident commander"):
        prepare.assign_facilitator(s, "Sam Okafor")  # the meeting's commander counts
    prepare.invite_list(s)
    meeting.set_attended(s, "Lee Park")
    meeting.set_attended(s, "Ravi Iyer")  # not invited
    meeting.set_attended(s, "Mo Diaz", False)
    with pytest.raises(InputError, match="^attendee: the name is empty"):
        meeting.set_attended(s, "  ")
    meeting.save_root_cause(s, "  pool too small ", "a\n\n  b  \n")
    assert meeting.record(s) == {
        "facilitator": fx.FACILITATOR,
        "incident_commander": "Sam Okafor",
        "scribe": "Mo Diaz",
        "root_cause": "pool too small",
        "contributing_factors": "a\nb",
    }
    people = prepare.invite_list(s).set_index("name")
    assert people.loc["Lee Park", "attended"] and not people.loc["Ravi Iyer", "invited"]
    assert people.loc["Mo Diaz", "attended"] == False  # noqa: E712  (recorded as absent, not unknown)
    meeting.set_role(s, "incident_commander", "")
    assert meeting.record(s)["incident_commander"] == fx.COMMANDER  # Jira's again

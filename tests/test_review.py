"""pirlib.review against a real DuckDB file: the runbook clock, preparation stamps, meeting and notes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from support import review_fixture as fx
from pirlib import actions, db, review
from pirlib.config import Settings
from pirlib.errors import InputError

UTC = dt.timezone.utc
CLOSED = fx.RESOLVED.to_pydatetime()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return fx.build(tmp_path / "pir.duckdb")


def _review_row(settings: Settings, incident_id: str = fx.STAGE31_ID) -> dict:
    with db.connect(settings) as con:
        return con.execute("SELECT * FROM reviews WHERE incident_id = ?", [incident_id]).df().iloc[0].to_dict()


# ----------------------------------------------------------------------------------------- the clock


def test_stage_clocks_count_from_closure_with_configured_hours():
    settings = Settings(facilitator_hours=6)
    at = CLOSED + dt.timedelta(hours=5)
    clocks = {c.stage: c for c in review.stage_clocks(CLOSED, {}, settings, at)}
    assert clocks["facilitator_assigned"].due_at == CLOSED + dt.timedelta(hours=6)
    assert clocks["facilitator_assigned"].state == "due_soon"  # 1 h of 6 left: under a quarter
    assert clocks["artifacts_collected"].state == "on_time"
    assert clocks["published"].due_at == CLOSED + dt.timedelta(hours=48)
    assert clocks["artifacts_collected"].describe() == "due in 19 h 00 min"


def test_stage_clock_states_late_done_and_done_late():
    review_row = {"facilitator_assigned_at": CLOSED + dt.timedelta(hours=13),
                  "artifacts_collected_at": CLOSED + dt.timedelta(hours=2)}  # fmt: skip
    clocks = {c.stage: c for c in review.stage_clocks(CLOSED, review_row, Settings(), CLOSED + dt.timedelta(hours=30))}
    assert clocks["facilitator_assigned"].state == "done" and clocks["facilitator_assigned"].done_late
    assert clocks["artifacts_collected"].state == "done" and not clocks["artifacts_collected"].done_late
    assert clocks["invites_sent"].state == "late"
    assert clocks["invites_sent"].describe() == "late by 6 h 00 min"
    assert clocks["published"].state == "on_time"  # 18 h of 48 left: more than a quarter
    assert review.stage_clocks(CLOSED, {}, Settings(), CLOSED + dt.timedelta(hours=37))[4].state == "due_soon"


def test_candidates_are_closed_unpublished_review_severities_newest_first(settings):
    found = review.candidates(settings, at=CLOSED + dt.timedelta(hours=3))
    assert [c.key for c in found] == ["INC-40", fx.STAGE31_KEY, "INC-45"]
    stage31 = found[1]
    assert stage31.facilitator == fx.FACILITATOR
    states = {c.stage: c.state for c in stage31.clocks}
    assert states == {"facilitator_assigned": "done", "artifacts_collected": "on_time", "invites_sent": "on_time",
                      "agenda_circulated": "on_time", "published": "on_time"}  # fmt: skip
    assert "late" in found[2].label()
    assert fx.XSS_SUMMARY[:30] in found[0].label()  # plain text, for a dropdown


def test_now_moves_to_pir_today_but_keeps_the_time_running():
    moved = review.now(Settings(today=dt.date(2025, 9, 6)))
    assert moved.date() == dt.date(2025, 9, 6) and moved.tzinfo is not None
    assert abs((review.now(Settings()) - dt.datetime.now(UTC)).total_seconds()) < 5


# ---------------------------------------------------------------------------------------- preparation


def test_assign_facilitator_refuses_the_commander(settings):
    with pytest.raises(InputError, match=r"^facilitator: Priya Raman is the incident commander of INC-31;"):
        review.assign_facilitator(settings, fx.STAGE31_KEY, "  priya   RAMAN ")
    assert _review_row(settings)["facilitator"] == fx.FACILITATOR  # unchanged


def test_assign_facilitator_stamps_once(settings):
    first = CLOSED + dt.timedelta(hours=2)
    review.assign_facilitator(settings, "INC-40", "Dana Roe", at=first)
    review.assign_facilitator(settings, "INC-40", "Eli Moss", at=first + dt.timedelta(hours=20))
    row = _review_row(settings, "40001")
    assert row["facilitator"] == "Eli Moss"
    assert row["facilitator_assigned_at"] == pd.Timestamp(first)
    with pytest.raises(InputError, match="^facilitator: the name is empty"):
        review.assign_facilitator(settings, "INC-40", "   ")


def test_artifacts_collected_when_all_four_kinds_are(settings):
    items = review.artifact_checklist(settings, fx.STAGE31_KEY)
    assert [i["kind"] for i in items] == list(review.ARTIFACT_KINDS)
    assert items[0]["location"] == "https://jira.example.com/browse/INC-31"
    times = [CLOSED + dt.timedelta(hours=h) for h in (1, 2, 3, 4)]
    for kind, at in zip(review.ARTIFACT_KINDS, times):
        assert pd.isna(_review_row(settings)["artifacts_collected_at"])
        review.set_artifact(settings, fx.STAGE31_KEY, kind, collected=True, by="Alex Chen", at=at)
    assert _review_row(settings)["artifacts_collected_at"] == pd.Timestamp(times[-1])
    review.set_artifact(settings, fx.STAGE31_KEY, "monitoring_snapshots", location="grafana.example/d/1")
    review.set_artifact(settings, fx.STAGE31_KEY, "customer_communications", collected=False)
    assert pd.isna(_review_row(settings)["artifacts_collected_at"])
    items = {i["kind"]: i for i in review.artifact_checklist(settings, fx.STAGE31_KEY)}
    assert items["monitoring_snapshots"]["location"] == "grafana.example/d/1"
    assert items["monitoring_snapshots"]["collected_by"] == "Alex Chen"
    assert items["customer_communications"]["collected_at"] is None
    with pytest.raises(InputError, match="artifact kind 'logs' is unknown"):
        review.set_artifact(settings, fx.STAGE31_KEY, "logs", collected=True)


def test_invite_list_proposes_people_and_runbook_roles_and_is_editable(settings):
    invitees = review.invite_list(settings, fx.STAGE31_KEY)
    people = dict(zip(invitees["name"], invitees["origin"]))
    assert people[fx.COMMANDER] == "incident commander"
    assert people["Sam Okafor"] == "Jira assignee" and people["Jordan Nunez"] == "Jira reporter"
    assert people["Lee Park"] == "Jira commenter" and people["Mo Diaz"] == "chat participant"
    assert {n for n, o in people.items() if o == "runbook role"} == set(review.RUNBOOK_ROLES)
    review.set_invited(settings, fx.STAGE31_KEY, "Mo Diaz", False)
    review.add_attendee(settings, fx.STAGE31_KEY, "Rita QA-Lead", "QA")
    invitees = review.invite_list(settings, fx.STAGE31_KEY).set_index("name")
    assert not invitees.loc["Mo Diaz", "invited"]  # stays removed: the proposal does not bring them back
    assert "QA" not in invitees.index and invitees.loc["Rita QA-Lead", "role"] == "QA"
    with pytest.raises(InputError, match="^invitee name: empty"):
        review.add_attendee(settings, fx.STAGE31_KEY, " ", "QA")


def test_invites_and_agenda_stamp_their_times(settings):
    at = CLOSED + dt.timedelta(hours=8)
    review.mark_invites_sent(settings, fx.STAGE31_KEY, at=at)
    review.mark_agenda_circulated(settings, fx.STAGE31_KEY, at=at)
    review.mark_agenda_circulated(settings, fx.STAGE31_KEY, at=at + dt.timedelta(hours=1))
    row = _review_row(settings)
    assert row["invites_sent_at"] == pd.Timestamp(at) and row["agenda_circulated_at"] == pd.Timestamp(at)
    with db.connect(settings) as con:  # the deadline view reads the same stamps
        states = dict(con.execute("SELECT stage, state FROM v_review_deadlines WHERE incident_id = ?",
                                  [fx.STAGE31_ID]).fetchall())  # fmt: skip
    assert states["invites_sent"] == "on_time" and states["facilitator_assigned"] == "on_time"


def test_invites_need_someone_invited(settings):
    for name in review.invite_list(settings, fx.STAGE31_KEY)["name"]:
        review.set_invited(settings, fx.STAGE31_KEY, name, False)
    with pytest.raises(InputError, match="^invite list: nobody is invited yet"):
        review.mark_invites_sent(settings, fx.STAGE31_KEY)


def test_agenda_draft_has_facts_and_segments_and_edits_persist(settings, tmp_path):
    text = review.agenda(settings, fx.STAGE31_KEY)
    assert text.startswith(f"# Post-incident review: {fx.STAGE31_KEY} {fx.STAGE31_SUMMARY}")
    assert "Incident commander: Priya Raman; facilitator: Alex Chen" in text
    assert "resolved 2025-09-06 01:12 UTC (duration 11 h 34 min)" in text
    assert "4. **What went wrong (20 min)**" in text and "## Agenda (60 minutes)" in text
    review.save_agenda(settings, fx.STAGE31_KEY, "# My agenda\n")
    assert review.agenda(settings, fx.STAGE31_KEY) == "# My agenda"
    path = review.export_agenda(settings, fx.STAGE31_KEY, tmp_path / "out")
    assert path.name == "INC-31-agenda.md" and path.read_text() == "# My agenda"
    assert review.reset_agenda(settings, fx.STAGE31_KEY) == text


def test_progress_resumes_last_unpublished_review(settings):
    assert review.last_progress(settings) is None
    review.save_progress(settings, fx.STAGE31_KEY, "meeting")
    assert review.last_progress(settings) == (fx.STAGE31_ID, "meeting")
    with pytest.raises(InputError, match="step 'lunch' is unknown"):
        review.save_progress(settings, fx.STAGE31_KEY, "lunch")


# --------------------------------------------------------------------------------------------- meeting


def test_segments_run_one_at_a_time_and_stamp_the_meeting(settings):
    t0 = CLOSED + dt.timedelta(hours=20)
    review.start_segment(settings, fx.STAGE31_KEY, "welcome", at=t0)
    review.start_segment(settings, fx.STAGE31_KEY, "recap", at=t0 + dt.timedelta(minutes=6))
    times = review.segment_times(settings, fx.STAGE31_KEY)
    assert times["welcome"] == (t0, t0 + dt.timedelta(minutes=6))  # starting recap ended welcome
    assert times["recap"][1] is None
    later = t0 + dt.timedelta(minutes=10)
    assert review.segment_elapsed(times["recap"], later) == dt.timedelta(minutes=4)
    assert review.meeting_elapsed(times, later) == dt.timedelta(minutes=10)
    review.end_segment(settings, fx.STAGE31_KEY, "recap", at=later)
    times = review.segment_times(settings, fx.STAGE31_KEY)
    assert review.meeting_elapsed(times, later + dt.timedelta(hours=1)) == dt.timedelta(minutes=10)
    assert _review_row(settings)["meeting_at"] == pd.Timestamp(t0)
    assert sum(s.minutes for s in review.SEGMENTS) == 60
    assert [s.minutes for s in review.SEGMENTS] == [5, 10, 10, 20, 10, 5]


def test_notes_are_rows_with_category_tag_and_flag(settings):
    review.add_note(settings, fx.STAGE31_KEY, "went_wrong", "Canary had no 5xx alert", tag="detection_gap")
    review.add_note(settings, fx.STAGE31_KEY, "risk_review", "PCI notice due", flag="compliance")
    note_id = review.add_note(settings, fx.STAGE31_KEY, "went_well", "Rollback took 4 min")
    frame = review.notes(settings, fx.STAGE31_KEY)
    assert list(frame["segment"]) == ["went_well", "went_wrong", "risk_review"]
    assert list(frame["category"]) == ["well", "wrong", "risk"]
    assert frame.loc[1, "tag"] == "detection_gap" and frame.loc[2, "flag"] == "compliance"
    review.delete_note(settings, note_id)
    assert len(review.notes(settings, fx.STAGE31_KEY)) == 2


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
def test_bad_notes_are_refused_with_one_line(settings, segment, text, extra, message):
    with pytest.raises(InputError, match=message):
        review.add_note(settings, fx.STAGE31_KEY, segment, text, **extra)
    assert review.notes(settings, fx.STAGE31_KEY).empty


# --------------------------------------------------------------------------------------------- wrap-up


def test_quality_check_names_what_is_missing(settings):
    at = CLOSED + dt.timedelta(hours=30)
    issues = [str(i) for i in review.quality_check(settings, fx.STAGE31_KEY, at=at)]
    assert "actions: no actions drafted; draft at least one in the Actions step" in issues
    assert sum(i.startswith("notes: no notes for") for i in issues) == 6
    assert any(i.startswith("preparation: artifacts collected: not done (late by") for i in issues)
    actions.create_draft(settings, fx.STAGE31_ID, summary="Add 5xx canary alert", success_metric="alert < 2 min")
    for segment in review.SEGMENTS:
        review.add_note(settings, fx.STAGE31_KEY, segment.name, "said",
                        tag="tooling_limit" if segment.name == "went_wrong" else None)  # fmt: skip
    issues = [str(i) for i in review.quality_check(settings, fx.STAGE31_KEY, at=at)]
    assert "actions: draft 'Add 5xx canary alert' has no owner and no verification method" in issues
    assert not any(i.startswith("notes:") for i in issues)


def test_quality_check_reports_missing_milestones(settings):
    with db.connect(settings) as con:
        con.execute("UPDATE incidents SET started_at = NULL WHERE issue_id = ?", [fx.STAGE31_ID])
        con.execute("DELETE FROM incident_events WHERE incident_id = ?", [fx.STAGE31_ID])
    issues = [str(i) for i in review.quality_check(settings, fx.STAGE31_KEY)]
    assert "milestones: started is missing; set it in the Timeline step" in issues
    assert "milestones: resolved is missing; set it in the Timeline step" not in issues

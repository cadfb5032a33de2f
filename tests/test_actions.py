"""SMART validation of action drafts, and draft CRUD against a real DuckDB file."""

from __future__ import annotations

import datetime as dt

import pytest

from support import review_fixture as fx
from pirlib.errors import InputError
from pirlib.review import actions
from pirlib.review.session import ReviewSession, open_review

TODAY = dt.date(2025, 9, 6)
GOOD = {
    "summary": "Add a canary alert on payments-api 5xx rate",
    "owner": "Sam Okafor",
    "due_date": dt.date(2025, 9, 30),
    "priority": "High",
    "action_type": "detect",
    "success_metric": "alert fires within 2 min of 5xx > 1% in canary",
    "verification_method": "game day on 2025-09-25 injecting 5xx in canary",
}


def fields(problems: list[actions.Problem]) -> list[str]:
    return [p.field for p in problems]


def test_a_complete_draft_has_no_problems():
    assert actions.validate(GOOD, TODAY) == []


def test_every_missing_field_is_named_with_its_fix():
    problems = actions.validate({"summary": "Add an alert"}, TODAY)
    assert fields(problems) == ["owner", "due date", "success metric", "verification method", "type"]
    text = [str(p) for p in problems]
    assert text[0] == "owner: required; name the one person accountable for the action"
    assert text[1] == "due date: required; pick a date after today"
    assert all(";" in line for line in text)  # each says the fix after the problem


@pytest.mark.parametrize(("due", "ok"), [(TODAY, False), (TODAY - dt.timedelta(days=1), False),
                                         (TODAY + dt.timedelta(days=1), True), ("2025-10-01", True)])  # fmt: skip
def test_due_date_must_be_after_today(due, ok):
    problems = actions.validate({**GOOD, "due_date": due}, TODAY)
    assert (problems == []) is ok
    if not ok:
        assert str(problems[0]).startswith(f"due date: {due.isoformat()} is not in the future (today is 2025-09-06)")


def test_bad_date_text_and_unknown_choices():
    problems = actions.validate({**GOOD, "due_date": "next week", "priority": "Urgent", "action_type": "fix"}, TODAY)
    assert [str(p) for p in problems] == [
        "due date: 'next week' is not a date; use YYYY-MM-DD",
        "type: 'fix' is not a type; choose one of prevent, detect, mitigate, process",
        "priority: 'Urgent' is not a Jira priority; choose one of Highest, High, Medium, Low, Lowest",
    ]


@pytest.mark.parametrize(
    ("summary", "metric", "flagged"),
    [
        ("Investigate database latency", "latency is better", "investigate"),
        ("Look into the alerting gaps", "fewer pages", "look into"),
        ("We should explore canary analysis", "safer deploys", "explore"),
        ("Update runbook and consider rate limits", "done", "consider"),
        ("Check the retry settings", "ok", "check"),
        ("Investigate database latency", "p99 < 300 ms for 7 days", None),  # the metric is measurable
        ("Investigate why 3 of 5 canaries missed the spike", "n/a", None),
        ("Add a health check to payments-api", "health check fails within 30 s", None),  # a noun, not the action
        ("Add a canary alert", "alert is useful", None),
    ],
)
def test_vague_verbs_without_a_measurable_outcome_are_flagged(summary, metric, flagged):
    problems = actions.validate({**GOOD, "summary": summary, "success_metric": metric}, TODAY)
    vague = [str(p) for p in problems if "vague" in p.message]
    if flagged:
        assert vague == [f"summary: '{flagged}' is vague and no measurable outcome is given; say what will change "
                         "and put the target number in the summary or the success metric"]  # fmt: skip
    else:
        assert vague == []


def test_blank_text_counts_as_missing():
    problems = actions.validate({**GOOD, "owner": "   ", "success_metric": "\n"}, TODAY)
    assert fields(problems) == ["owner", "success metric"]


# ------------------------------------------------------------------------------------------------ drafts


@pytest.fixture
def settings(tmp_path):
    return fx.build(tmp_path / "pir.duckdb")


@pytest.fixture
def s(settings) -> ReviewSession:
    with open_review(settings, fx.STAGE31_ID) as session:
        yield session


def test_draft_crud_keeps_invalid_drafts_and_lists_their_problems(s):
    good = actions.create_draft(s, **GOOD)
    bad = actions.create_draft(s, summary="Look into it", owner="")
    listed = actions.list_drafts(s)
    assert list(listed["draft_id"]) == [good, bad]
    assert listed.loc[0, "problems"] == [] and listed.loc[0, "state"] == "draft"
    assert "owner" in fields(listed.loc[1, "problems"])
    actions.update_draft(s.con, bad, owner="Lee Park", due_date="2025-09-20")
    draft = actions.get_draft(s.con, bad)
    assert draft["owner"] == "Lee Park" and draft["due_date"] == dt.date(2025, 9, 20)
    assert draft["success_metric"] is None
    actions.delete_draft(s.con, bad)
    assert actions.get_draft(s.con, bad) is None
    assert len(actions.list_drafts(s)) == 1


def test_pushed_drafts_are_not_edited_here(s):
    draft_id = actions.create_draft(s, **GOOD)
    s.con.execute("UPDATE action_drafts SET state = 'pushed', pushed_key = 'INC-900' WHERE draft_id = ?", [draft_id])
    with pytest.raises(InputError, match="^draft is pushed as INC-900; edit the action in Jira instead"):
        actions.update_draft(s.con, draft_id, owner="Someone")
    with pytest.raises(InputError, match="cannot be deleted here"):
        actions.delete_draft(s.con, draft_id)


def test_bad_input_writes_nothing(settings, s):
    with pytest.raises(InputError, match="^due date: 'soon' is not a date; use YYYY-MM-DD"):
        actions.create_draft(s, summary="x", due_date="soon")
    with pytest.raises(InputError, match="draft field 'colour' is unknown"):
        actions.create_draft(s, colour="red")
    with pytest.raises(InputError, match="^unknown incident 'nope'"):  # no draft without an incident
        ReviewSession.resolve(s.con, settings, "nope")
    assert actions.list_drafts(s).empty

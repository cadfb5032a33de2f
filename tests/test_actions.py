"""SMART validation of action drafts, and draft CRUD against a real DuckDB file."""

from __future__ import annotations

import datetime as dt

import pytest

from support import review_fixture as fx
from pirlib.errors import InputError
from pirlib.review import actions
from pirlib.review.session import ReviewSession, open_review

TODAY = dt.date(2025, 9, 6)
RULES = actions.SmartRules(TODAY, 90)
GOOD = {
    "summary": "Add a canary alert on payments-api 5xx rate",
    "owner": "Sam Okafor",
    "due_date": dt.date(2025, 9, 30),
    "priority": "High",
    "action_type": "detect",
    "success_metric": "alert fires within 2 min of 5xx > 1% in canary",
    "verification_method": "game day on 2025-09-25 injecting 5xx in canary",
}


def check(draft, rules=RULES, owner_known=True):
    return actions.validate(draft, rules, owner_known=owner_known)


def fields(problems: list[actions.Problem]) -> list[str]:
    return [p.field for p in problems]


def test_a_complete_draft_has_no_problems():
    assert check(GOOD) == []


def test_the_examples_the_messages_show_pass():
    good = {**GOOD, "success_metric": actions.GOOD_METRIC, "verification_method": actions.good_verification(TODAY)}
    assert check(good) == []


def test_the_browser_tests_good_draft_passes():
    """The draft the guide's browser test types (another test file): an invitee, 60 days, a game day in 30."""
    verification = f"game day on {(TODAY + dt.timedelta(days=30)).isoformat()}, checked by the SRE on call"
    draft = {**GOOD, "success_metric": "p99 checkout latency < 300 ms for 14 days", "verification_method": verification,
             "due_date": TODAY + dt.timedelta(days=60)}  # fmt: skip
    assert check(draft) == []


def test_every_missing_field_is_named_with_its_fix():
    problems = check({"summary": "Add an alert"}, owner_known=False)
    assert fields(problems) == ["owner", "due date", "success metric", "verification method", "type"]
    text = [str(p) for p in problems]
    assert text[0] == "owner: required; name the one person accountable for the action, e.g. an invitee of the review"
    assert text[1] == "due date: required; pick a date after today and by 2025-12-05 (within 90 days)"
    assert text[2] == f"success metric: required; state the target that shows it worked, e.g. '{actions.GOOD_METRIC}'"
    assert text[3] == ("verification method: required; say how and when the metric is checked, "
                       f"e.g. '{actions.good_verification(TODAY)}'")  # fmt: skip
    assert all(";" in line for line in text)  # each says the fix after the problem


@pytest.mark.parametrize(("due", "ok"), [(TODAY, False), (TODAY - dt.timedelta(days=1), False),
                                         (TODAY + dt.timedelta(days=1), True), ("2025-10-01", True)])  # fmt: skip
def test_due_date_must_be_after_today(due, ok):
    problems = check({**GOOD, "due_date": due})
    assert (problems == []) is ok
    if not ok:
        assert str(problems[0]).startswith(f"due date: {due.isoformat()} is not in the future (today is 2025-09-06)")


@pytest.mark.parametrize(("days", "horizon", "ok"), [(90, 90, True), (91, 90, False), (28, 28, True),
                                                     (29, 28, False), (365, 400, True)])  # fmt: skip
def test_due_date_lies_within_the_horizon(days, horizon, ok):
    due = TODAY + dt.timedelta(days=days)
    problems = check({**GOOD, "due_date": due}, actions.SmartRules(TODAY, horizon))
    assert (problems == []) is ok
    if not ok:
        latest = (TODAY + dt.timedelta(days=horizon)).isoformat()
        assert [str(p) for p in problems] == [
            f"due date: {due.isoformat()} is {days} days away, beyond the {horizon}-day horizon; pick a date by "
            f"{latest} or split the action into steps that fit"
        ]


def test_the_horizon_is_a_setting_with_a_default_of_90_days(tmp_path):
    from pirlib.config import load_settings

    (tmp_path / "pir.toml").write_text("")
    assert load_settings(env={}, config_path=tmp_path / "pir.toml").action_horizon_days == 90
    assert load_settings(env={"PIR_ACTION_HORIZON_DAYS": "56"}, config_path=tmp_path / "pir.toml").action_horizon_days == 56


@pytest.mark.parametrize(
    "metric",
    [
        "p99 < 300 ms for 14 days",
        "p99 checkout latency < 300 ms for 14 days",
        "alert fires within 2 min of 5xx > 1% in canary",
        "5xx alert fires within 2 min",
        "alert < 2 min",
        "error rate below 0.5 %",
        "99.9% availability over 30 days",
        "MTTD under 5 minutes",
        "fewer than 3 pages per week",
        "no more than 2 rollbacks a quarter",
        "test coverage at least 80",
        "p99 <= 0.3",
        "zero pages for 30 days",
        "deploy time 12m",
        "throughput ≥ 500 rps",
        "queue lag 2h at most",
        "failed logins 3 times",
    ],
)
def test_measurable_metrics(metric):
    assert actions.is_measurable(metric), metric
    assert check({**GOOD, "success_metric": metric}) == []


@pytest.mark.parametrize(
    "metric",
    [
        "asdf qwerty",
        "latency is better",
        "alert is useful",
        "fewer pages",
        "done",
        "runbook updated",
        "2",  # a number without a unit or a comparison
        "version 2",
        "rollout of v2.14.0 finished",
        "5xx gone",
        "done by 2025-10-01",  # a date is a deadline, not a target
        "checked at 14:00",
        "p99 300",
        "ten minutes faster",  # numbers are digits
    ],
)
def test_unmeasurable_metrics_are_named_with_a_good_example(metric):
    assert not actions.is_measurable(metric), metric
    problems = check({**GOOD, "success_metric": metric})
    assert [str(p) for p in problems if p.field == "success metric"] == [
        f"success metric: {metric!r} states no measurable target; give a number with a unit or a threshold with a "
        f"comparison, e.g. '{actions.GOOD_METRIC}'"
    ]


@pytest.mark.parametrize(
    "method",
    [
        "game day on 2025-10-15, checked by the SRE on call",
        "game day on 2025-09-25 injecting 5xx in canary",
        "load test within 14 days of the fix",
        "weekly review of the checkout latency dashboard",
        "chaos test every sprint",
        "query the error budget report each Monday",
        "dashboard review on October 1",
        "synthetic probe checked daily by the on-call",
        "replay the incident traffic in the next game day",
    ],
)
def test_verification_that_says_how_and_when(method):
    assert actions.verification_gaps(method) == [], method
    assert check({**GOOD, "verification_method": method}) == []


@pytest.mark.parametrize(
    ("method", "missing"),
    [
        ("game day", "when"),
        ("someone checks it", "when"),
        ("asdf qwerty", "when"),
        ("2025-10-15", "how"),
        ("weekly", "how"),
        ("on 2025-10-15 at 10:00", "how"),
        ("by next week", "how"),
        ("tbd", "how it is checked and when"),
        ("?", "how it is checked and when"),
    ],
)
def test_verification_without_how_or_when_is_named(method, missing):
    missing = "how it is checked" if missing == "how" else missing
    problems = check({**GOOD, "verification_method": method})
    assert [str(p) for p in problems] == [
        f"verification method: does not say {missing}; e.g. '{actions.good_verification(TODAY)}'"
    ]


def test_a_verification_date_in_the_past_is_named():
    problems = check({**GOOD, "verification_method": "game day on 2025-09-01"})
    assert [str(p) for p in problems] == [
        "verification method: 2025-09-01 is in the past (today is 2025-09-06); pick the date the check will happen, "
        f"e.g. '{actions.good_verification(TODAY)}'"
    ]


def test_an_owner_nobody_knows_is_named():
    problems = check(GOOD, owner_known=False)
    assert [str(p) for p in problems] == [
        "owner: 'Sam Okafor' is not a known person; pick someone on the invite list or a Jira user as Jira shows "
        "the name, or add them to the invite list"
    ]


def test_bad_date_text_and_unknown_choices():
    problems = check({**GOOD, "due_date": "next week", "priority": "Urgent", "action_type": "fix"})
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
    problems = check({**GOOD, "summary": summary, "success_metric": metric})
    vague = [str(p) for p in problems if "vague" in p.message]
    if flagged:
        assert vague == [f"summary: '{flagged}' is vague and no measurable outcome is given; say what will change "
                         "and put the target number in the summary or the success metric"]  # fmt: skip
    else:
        assert vague == []


def test_blank_text_counts_as_missing():
    problems = check({**GOOD, "owner": "   ", "success_metric": "\n"}, owner_known=False)
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


@pytest.mark.parametrize(
    ("owner", "known"),
    [
        ("Sam Okafor", True),  # the incident's Jira assignee
        ("  sam   okafor ", True),  # case and runs of spaces do not matter
        ("SAM OKAFOR", True),
        ("Priya Raman", True),  # the commander
        ("Lee Park", True),  # wrote a Jira comment
        ("Mo Diaz", True),  # a chat participant: on the proposed invite list
        ("Dana Invitee", True),  # added to the invite list by the facilitator
        ("QA", False),  # a runbook-role placeholder, not a person
        ("Nobody Known", False),
    ],
)
def test_the_owner_must_be_a_known_person(s, owner, known):
    from pirlib.review import prepare

    prepare.add_attendee(s, "Dana Invitee", "QA")
    prepare.invite_list(s)  # stores the proposals, role placeholders included
    s.con.execute("INSERT INTO attendees (incident_id, name, role, origin) VALUES (?, 'QA', 'QA', 'runbook role') "
                  "ON CONFLICT DO NOTHING", [fx.STAGE31_ID])  # fmt: skip
    actions.create_draft(s, **{**GOOD, "owner": owner})
    problems = actions.list_drafts(s).loc[0, "problems"]
    assert (fields(problems) == []) is known, problems


def test_the_review_quality_check_and_push_use_the_same_rule(settings, s):
    from pirlib.review import wrap_up

    actions.create_draft(s, **{**GOOD, "success_metric": "asdf qwerty"})
    actions.create_draft(s, **GOOD)
    problems = actions.list_drafts(s)["problems"]
    gaps = [str(g) for g in wrap_up.quality_check(s) if g.area == "actions"]
    assert gaps == [f"actions: draft '{GOOD['summary']}' is not SMART yet: {problems[0][0]}"]
    assert problems[1] == []


def test_the_boards_read_a_pushed_drafts_team_when_jira_has_none(s):
    draft_id = actions.create_draft(s, **{**GOOD, "team": "Payments SRE"})
    s.con.execute("UPDATE action_drafts SET state = 'pushed', pushed_key = 'INC-900', pushed_issue_id = '900' "
                  "WHERE draft_id = ?", [draft_id])  # fmt: skip
    s.con.execute("INSERT INTO actions (issue_id, key, incident_id, summary, deleted) VALUES "
                  "('900', 'INC-900', ?, 'x', false), ('901', 'INC-901', ?, 'y', false)", [fx.STAGE31_ID] * 2)  # fmt: skip
    teams = dict(s.con.execute("SELECT key, team FROM v_action_status").fetchall())
    assert teams == {"INC-900": "Payments SRE", "INC-901": None}
    s.con.execute("UPDATE actions SET team = 'Checkout' WHERE issue_id = '900'")  # Jira's Team field wins
    assert s.con.execute("SELECT team FROM v_action_status WHERE key = 'INC-900'").fetchone() == ("Checkout",)
    assert actions.known_teams(s.con) == ["Checkout", "Payments SRE"]


def test_a_meeting_note_becomes_one_draft(s):
    from pirlib.review import meeting

    note_id = meeting.add_note(s, "actions", "  Alert on checkout 5xx\nabove 1% ")
    draft_id = actions.draft_from_note(s, note_id)
    assert actions.draft_from_note(s, note_id) == draft_id  # a second click: the same draft
    draft = actions.get_draft(s.con, draft_id)
    assert (draft["summary"], draft["description"], draft["note_id"]) == (
        "Alert on checkout 5xx above 1%", "Alert on checkout 5xx above 1%", note_id)
    assert actions.drafts_by_note(s) == {note_id: draft_id}
    long_note = meeting.add_note(s, "actions", "x" * 300)
    assert len(actions.get_draft(s.con, actions.draft_from_note(s, long_note))["summary"]) == actions.SUMMARY_LIMIT
    with pytest.raises(InputError, match="^note: it no longer exists"):
        actions.draft_from_note(s, "gone")

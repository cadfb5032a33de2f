"""SMART validation of action drafts, and draft CRUD against a real store (the DuckDB file, and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from support import review_fixture as fx

from pirlib.config import Secret
from pirlib.errors import InputError
from pirlib.review import actions
from pirlib.review.session import ReviewSession, open_review

pytestmark = pytest.mark.both_stores

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


def check(fields, rules=RULES, owner_known=True):
    return actions.validate(actions.Draft("d1", fx.STAGE31_ID, **fields), rules, owner_known=owner_known)


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
    draft = {
        **GOOD,
        "success_metric": "p99 checkout latency < 300 ms for 14 days",
        "verification_method": verification,
        "due_date": TODAY + dt.timedelta(days=60),
    }
    assert check(draft) == []


def test_every_missing_field_is_named_with_its_fix():
    problems = check({"summary": "Add an alert"}, owner_known=False)
    assert fields(problems) == ["owner", "due date", "success metric", "verification method", "type"]
    text = [str(p) for p in problems]
    assert text[0] == "owner: required; name the one person accountable for the action, e.g. an invitee of the review"
    assert text[1] == "due date: required; pick a date after today and by 2025-12-05 (within 90 days)"
    assert text[2] == f"success metric: required; state the target that shows it worked, e.g. '{actions.GOOD_METRIC}'"
    assert text[3] == (
        "verification method: required; say how and when the metric is checked, "
        f"e.g. '{actions.good_verification(TODAY)}'"
    )
    assert all(";" in line for line in text)  # each says the fix after the problem


@pytest.mark.parametrize(
    ("due", "ok"),
    [
        (TODAY, False),
        (TODAY - dt.timedelta(days=1), False),
        (TODAY + dt.timedelta(days=1), True),
        (dt.date(2025, 10, 1), True),
    ],
)
def test_due_date_must_be_after_today(due, ok):
    problems = check({**GOOD, "due_date": due})
    assert (problems == []) is ok
    if not ok:
        assert str(problems[0]).startswith(f"due date: {due.isoformat()} is not in the future (today is 2025-09-06)")


@pytest.mark.parametrize(
    ("days", "horizon", "ok"), [(90, 90, True), (91, 90, False), (28, 28, True), (29, 28, False), (365, 400, True)]
)
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
    assert (
        load_settings(env={"PIR_ACTION_HORIZON_DAYS": "56"}, config_path=tmp_path / "pir.toml").action_horizon_days
        == 56
    )


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


def test_unknown_choices_are_named():
    problems = check({**GOOD, "priority": "Urgent", "action_type": "fix"})
    assert [str(p) for p in problems] == [
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
        assert vague == [
            f"summary: '{flagged}' is vague and no measurable outcome is given; say what will change "
            "and put the target number in the summary or the success metric"
        ]
    else:
        assert vague == []


def test_blank_text_counts_as_missing():
    problems = check({**GOOD, "owner": "   ", "success_metric": "\n"}, owner_known=False)
    assert fields(problems) == ["owner", "success metric"]


# ------------------------------------------------------------------------------------------------ drafts


@pytest.fixture
def settings(settings):
    return fx.build(settings.db, database_url=settings.database_url)


@pytest.fixture
def s(settings) -> ReviewSession:
    with open_review(settings, fx.STAGE31_ID) as session:
        yield session


def test_draft_crud_keeps_invalid_drafts_and_lists_their_problems(s):
    good = actions.create_draft(s, **GOOD)
    bad = actions.create_draft(s, summary="Look into it", owner="")
    listed = actions.list_drafts(s)
    assert [checked.draft.draft_id for checked in listed] == [good, bad]
    assert listed[0].problems == [] and listed[0].smart and listed[0].draft.state == "draft"
    assert "owner" in fields(listed[1].problems) and not listed[1].smart
    assert actions.update_draft(s.con, bad, version=1, owner="Lee Park", due_date="2025-09-20") == 2
    draft = actions.get_draft(s.con, bad)
    assert draft.owner == "Lee Park" and draft.due_date == dt.date(2025, 9, 20)
    assert draft.success_metric is None and draft.version == 2
    actions.delete_draft(s.con, bad, version=2)
    assert actions.get_draft(s.con, bad) is None
    assert len(actions.list_drafts(s)) == 1


def test_pushed_drafts_are_not_edited_here(s):
    draft_id = actions.create_draft(s, **GOOD)
    actions.start_push(s.con, draft_id)
    actions.mark_pushed(s.con, draft_id, "INC-900", "900")
    with pytest.raises(InputError, match="^draft is pushed as INC-900; edit the action in Jira instead"):
        actions.update_draft(s.con, draft_id, version=1, owner="Someone")
    with pytest.raises(InputError, match="cannot be deleted here"):
        actions.delete_draft(s.con, draft_id, version=1)


def test_bad_input_writes_nothing(settings, s):
    with pytest.raises(InputError, match="^due date: 'soon' is not a date; use YYYY-MM-DD"):
        actions.create_draft(s, summary="x", due_date="soon")
    draft_id = actions.create_draft(s, summary="x")
    with pytest.raises(InputError, match="^due date: 'next week' is not a date; use YYYY-MM-DD"):
        actions.update_draft(s.con, draft_id, version=1, summary="y", due_date="next week")
    assert actions.get_draft(s.con, draft_id).summary == "x"
    actions.delete_draft(s.con, draft_id, version=1)
    with pytest.raises(InputError, match="draft field 'colour' is unknown"):
        actions.create_draft(s, colour="red")
    with pytest.raises(InputError, match="^unknown incident 'nope'"):  # no draft without an incident
        ReviewSession.resolve(s.con, settings, "nope")
    assert actions.list_drafts(s) == []


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
    s.con.execute(
        "INSERT INTO attendees (incident_id, name, role, origin) VALUES (?, 'QA', 'QA', 'runbook role') "
        "ON CONFLICT DO NOTHING",
        [fx.STAGE31_ID],
    )
    actions.create_draft(s, **{**GOOD, "owner": owner})
    problems = actions.list_drafts(s)[0].problems
    assert (fields(problems) == []) is known, problems


def test_the_review_quality_check_and_push_use_the_same_rule(settings, s):
    from pirlib.review import wrap_up

    actions.create_draft(s, **{**GOOD, "success_metric": "asdf qwerty"})
    actions.create_draft(s, **GOOD)
    problems = [checked.problems for checked in actions.list_drafts(s)]
    gaps = [str(g) for g in wrap_up.quality_check(s) if g.area == "actions"]
    assert gaps == [f"actions: draft '{GOOD['summary']}' is not SMART yet: {problems[0][0]}"]
    assert problems[1] == []


def test_the_boards_read_a_pushed_drafts_team_when_jira_has_none(s):
    draft_id = actions.create_draft(s, **{**GOOD, "team": "Payments SRE"})
    actions.start_push(s.con, draft_id)
    actions.mark_pushed(s.con, draft_id, "INC-900", "900")
    s.con.execute(
        "INSERT INTO actions (issue_id, key, incident_id, summary, deleted) VALUES "
        "('900', 'INC-900', ?, 'x', false), ('901', 'INC-901', ?, 'y', false)",
        [fx.STAGE31_ID] * 2,
    )
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
    assert (draft.summary, draft.description, draft.note_id) == (
        "Alert on checkout 5xx above 1%",
        "Alert on checkout 5xx above 1%",
        note_id,
    )
    assert actions.drafts_by_note(s) == {note_id: draft_id}
    long_note = meeting.add_note(s, "actions", "x" * 300)
    assert len(actions.get_draft(s.con, actions.draft_from_note(s, long_note)).summary) == actions.SUMMARY_LIMIT
    with pytest.raises(InputError, match="^note: it no longer exists"):
        actions.draft_from_note(s, "gone")


# ------------------------------------------------------------------------------------ the state machine

# Every move a draft may make, written out: draft -> pushing -> pushed or failed; failed is pushed again; a
# push after a crash takes up a draft left pushing; a problem of the whole incident fails drafts not yet pushing.
ALLOWED = {
    ("draft", "pushing"),
    ("draft", "failed"),
    ("pushing", "pushing"),
    ("pushing", "pushed"),
    ("pushing", "failed"),
    ("failed", "pushing"),
    ("failed", "failed"),
}
STATES = ("draft", "pushing", "pushed", "failed")


def draft_in(s: ReviewSession, state: str) -> str:
    """A draft brought into ``state`` the way push brings it there."""
    draft_id = actions.create_draft(s, **GOOD)
    if state in ("pushing", "pushed"):
        actions.start_push(s.con, draft_id)
    if state == "pushed":
        actions.mark_pushed(s.con, draft_id, "INC-900", "900", owner_id="user9")
    if state == "failed":
        actions.mark_failed(s.con, s.settings, draft_id, "priority: Field 'priority' is required")
    assert actions.get_draft(s.con, draft_id).state == state
    return draft_id


def move(s: ReviewSession, draft_id: str, to: str) -> None:
    if to == "pushing":
        actions.start_push(s.con, draft_id)
    elif to == "pushed":
        actions.mark_pushed(s.con, draft_id, "INC-901", "901")
    else:
        actions.mark_failed(s.con, s.settings, draft_id, "Jira answered HTTP 502 without an error message")


def test_the_state_machine_allows_exactly_its_moves(s):
    assert set(actions.STATES) == set(STATES)
    for state in STATES:
        assert not actions.can_move(state, "draft"), state  # no way back: a failed draft stays failed until pushed
        for to in ("pushing", "pushed", "failed"):
            allowed = (state, to) in ALLOWED
            assert actions.can_move(state, to) is allowed, (state, to)
            draft_id = draft_in(s, state)
            before = actions.get_draft(s.con, draft_id)
            if allowed:
                move(s, draft_id, to)
                assert actions.get_draft(s.con, draft_id).state == to, (state, to)
            else:
                with pytest.raises(InputError, match=f"^draft {draft_id} is {state} and cannot become {to} "):
                    move(s, draft_id, to)
                assert actions.get_draft(s.con, draft_id) == before, (state, to)  # nothing written
    gone = draft_in(s, "draft")
    actions.delete_draft(s.con, gone, version=1)
    with pytest.raises(InputError, match=f"^draft {gone} no longer exists"):
        actions.start_push(s.con, gone)


def test_push_takes_up_every_state_that_may_move_to_pushing(settings, s):
    ids = {state: draft_in(s, state) for state in STATES}
    actions.create_draft(s, summary="Look into it")  # not SMART: taken up, with its problems
    to_push = actions.drafts_to_push(s.con, settings, fx.STAGE31_ID)
    assert [c.draft.draft_id for c in to_push][:3] == [ids["draft"], ids["pushing"], ids["failed"]]
    assert [c.smart for c in to_push] == [True, True, True, False]
    assert actions.PUSHABLE_STATES == ("draft", "pushing", "failed")
    assert actions.drafts_to_push(s.con, settings, None) == to_push
    assert actions.drafts_to_push(s.con, settings, "no such incident") == []


def test_only_drafts_no_push_holds_or_made_are_edited_or_deleted(s):
    for state in STATES:
        draft_id = draft_in(s, state)
        if state in ("draft", "failed"):
            actions.update_draft(s.con, draft_id, version=1, owner="Lee Park")
            assert actions.get_draft(s.con, draft_id).owner == "Lee Park"
            actions.delete_draft(s.con, draft_id, version=2)
            assert actions.get_draft(s.con, draft_id) is None
        else:
            with pytest.raises(InputError, match=f"^draft is {state} as "):
                actions.update_draft(s.con, draft_id, version=1, owner="Lee Park")
            with pytest.raises(InputError, match=f"^draft is {state} as .*; it cannot be deleted here"):
                actions.delete_draft(s.con, draft_id, version=1)
            assert actions.get_draft(s.con, draft_id).owner == GOOD["owner"]


# ------------------------------------------------------------------------------------- Draft and the table


def test_a_draft_round_trips_through_the_table_typed(settings, s):
    typed = {
        **GOOD,
        "summary": "  Add a canary alert  ",
        "description": "Why:\nthe canary missed 5xx",
        "team": "Payments SRE",
    }
    draft_id = actions.create_draft(s, **typed)
    actions.start_push(s.con, draft_id)
    actions.mark_pushed(s.con, draft_id, "INC-900", "900", owner_id="user9")
    stored = actions.get_draft(s.con, draft_id)
    assert stored == actions.Draft(
        draft_id,
        fx.STAGE31_ID,
        summary="Add a canary alert",
        description="Why:\nthe canary missed 5xx",
        owner="Sam Okafor",
        owner_id="user9",
        team="Payments SRE",
        priority="High",
        due_date=dt.date(2025, 9, 30),
        action_type="detect",
        success_metric=GOOD["success_metric"],
        verification_method=GOOD["verification_method"],
        state="pushed",
        pushed_key="INC-900",
        pushed_issue_id="900",
        error=None,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        note_id=None,
        version=1,  # a push's state moves are not edits
        updated_by=stored.updated_by,
    )
    assert stored.created_at.tzinfo is not None and stored.created_at <= stored.updated_at
    assert [checked.draft for checked in actions.list_drafts(s)] == [stored]  # every reader gives the same Draft
    assert actions.open_drafts(s.con, fx.STAGE31_ID) == []  # pushed: in Jira now

    blank = actions.get_draft(s.con, actions.create_draft(s, summary="   ", owner="", due_date="", team=None))
    empty = [
        f.name
        for f in dataclasses.fields(actions.Draft)
        if f.name not in ("draft_id", "incident_id", "state", "created_at", "updated_at", "version", "updated_by")
    ]
    assert {name: getattr(blank, name) for name in empty} == dict.fromkeys(empty)  # None, never NaN or ""
    assert actions.open_drafts(s.con, fx.STAGE31_ID) == [blank]


def test_a_failed_push_is_stored_redacted_and_keeps_what_was_typed(settings, s):
    secret = "tok-3f9a1c77e2b4"
    with_secret = settings.replace(jira_token=Secret(secret))
    draft_id = actions.create_draft(s, **GOOD)
    actions.start_push(s.con, draft_id)
    shown = actions.mark_failed(s.con, with_secret, draft_id, f"HTTP 401: token {secret} was refused")
    stored = actions.get_draft(s.con, draft_id)
    assert shown == stored.error == "HTTP 401: token *** was refused" and secret not in str(stored)
    assert (stored.state, stored.summary, stored.due_date) == ("failed", GOOD["summary"], GOOD["due_date"])
    actions.start_push(s.con, draft_id)
    actions.mark_pushed(s.con, draft_id, "INC-900", "900")
    assert actions.get_draft(s.con, draft_id).error is None  # pushed: the old error is gone

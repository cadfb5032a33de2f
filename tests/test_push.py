"""`pir push` end to end: drafts -> the real `jira` package -> the fake Jira (both flavours) -> back via sync.

Each test syncs a small site into the store (a real DuckDB file, and PostgreSQL in team mode), drafts SMART actions
through ``pirlib.review.actions`` and pushes them. Duplicates are counted in the fake's store by the draft's marker
label.
"""

from __future__ import annotations

import datetime as dt

import pytest
from support.fake_jira import FakeJira, tiny_site
from support.jira_samples import jira_sample

from pirlib import db
from pirlib.config import Secret, Settings
from pirlib.errors import PirError
from pirlib.jira_sync import client as jc
from pirlib.jira_sync import push, sync
from pirlib.review import actions, prepare
from pirlib.review.session import open_review
from pirlib.ui.facilitator.wizard import FacilitatorWizard

FAST = jc.RetryPolicy(base_delay=0.01, max_delay=0.05, connect_timeout=1.0, read_timeout=1.0)
TODAY = dt.date(2025, 10, 1)
POST_ISSUE = r"^POST /rest/api/\d/issue\?"

pytestmark = pytest.mark.both_stores


def site_with_an_epicless_incident() -> dict:
    site = tiny_site(3)
    # INC-7 (the third incident) loses its epic INC-8 and action INC-9: pir push must make the epic.
    site["issues"] = [i for i in site["issues"] if i["key"] not in ("INC-8", "INC-9")]
    inc7 = next(i for i in site["issues"] if i["key"] == "INC-7")
    inc7["fields"]["issuelinks"] = []
    return site


@pytest.fixture(params=["datacenter", "cloud"])
def server(request: pytest.FixtureRequest):
    with FakeJira(site_with_an_epicless_incident(), flavour=request.param) as fake:
        yield fake


@pytest.fixture
def cfg(server: FakeJira, settings: Settings) -> Settings:
    creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
    settings = settings.replace(jira_url=server.url, today=TODAY, **creds)
    sync.run(settings, progress=False, retry=FAST)
    return settings


def incident_id(settings: Settings, key: str) -> str:
    with db.connect(settings, read_only=True) as con:
        return con.execute("SELECT issue_id FROM incidents WHERE key = ?", [key]).fetchone()[0]


def draft(settings: Settings, key: str = "INC-1", **changes: object) -> str:
    fields = {
        "summary": "Add an alert on checkout 5xx rate",
        "owner": "User 2",
        "due_date": dt.date(2025, 10, 20),
        "action_type": "detect",
        "priority": "High",
        "success_metric": "5xx alert fires within 2 min",
        "verification_method": "game day on 2025-10-15",
        "description": "Checkout failed silently for 40 min.",
    }
    with open_review(settings, key) as session:
        return actions.create_draft(session, **{**fields, **changes})


def run_push(settings: Settings, incident: str | None = "INC-1") -> push.PushResult:
    return push.push(settings, incident, retry=FAST)


def marked(server: FakeJira, draft_id: str) -> list[dict]:
    return server.issues_with_label(push.marker_label(draft_id))


def posts(server: FakeJira) -> int:
    return sum(n for name, n in server.counts.items() if name.startswith("POST /rest/api/") and name.endswith("/issue"))


def draft_row(settings: Settings, draft_id: str) -> actions.Draft:
    with db.connect(settings) as con:
        row = actions.get_draft(con, draft_id)
    assert row is not None
    return row


TYPED = (
    "summary",
    "description",
    "owner",
    "team",
    "priority",
    "due_date",
    "action_type",
    "success_metric",
    "verification_method",
)


# --- create ----------------------------------------------------------------------------------------------


def test_a_draft_becomes_one_issue_under_the_epic_with_labels_fields_and_a_link(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    server.reset_counts()
    result = run_push(cfg)
    [outcome] = result.outcomes
    assert outcome.state == "pushed" and not outcome.found_existing, outcome
    [issue] = marked(server, draft_id)
    f = issue["fields"]
    assert outcome.key == issue["key"] and posts(server) == 1
    assert f["labels"] == ["postmortem", "stage1", push.marker_label(draft_id)]
    assert f[server.epic_link_id] == "INC-2"  # Cloud sent `parent`, DC the Epic Link field; both land here
    assert f["assignee"]["name"] == "user2" and f["duedate"] == "2025-10-20" and f["priority"]["name"] == "High"
    assert f["customfield_10020"] == "5xx alert fires within 2 min"  # the site's Success Metric field
    # The site has no Verification Method field: a headed section of the description carries it.
    assert "h3. Verification method" in f["description"] and "game day on 2025-10-15" in f["description"]
    assert "Checkout failed silently" in f["description"]
    incident = server.resolve("INC-1")
    assert issue["key"] in [link.get("inwardIssue", {}).get("key") for link in incident["fields"]["issuelinks"]]
    assert server.property(issue["key"], push.MARKER_PROPERTY)["draftId"] == draft_id
    # The draft is pushed and the action row is there before any sync, with Jira's own values.
    row = draft_row(cfg, draft_id)
    assert (row.state, row.pushed_key, row.error) == ("pushed", issue["key"], None)
    assert row.owner_id == ("557058:00000002-aaaa" if server.cloud else "user2")
    with db.connect(cfg, read_only=True) as con:
        action = con.execute(
            "SELECT incident_id, epic_key, status, owner, due_date, success_metric FROM actions WHERE key = ?",
            [issue["key"]],
        ).fetchone()
    assert action == (
        incident_id(cfg, "INC-1"),
        "INC-2",
        "To Do",
        "User 2",
        dt.date(2025, 10, 20),
        "5xx alert fires within 2 min",
    )
    # Pushing again sends nothing: the draft is pushed.
    server.reset_counts()
    assert run_push(cfg).outcomes == [] and posts(server) == 0


def test_v3_sends_adf_and_v2_wiki(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    server.reset_counts()
    run_push(cfg)
    [post] = [line for line in server.log if line.startswith("POST")]
    assert post.startswith("POST /rest/api/3/issue" if server.cloud else "POST /rest/api/2/issue")
    body = push.issue_body(
        draft_row(cfg, draft_id),
        push.Target(
            cloud=server.cloud,
            api="3" if server.cloud else "2",
            project="INC",
            issue_type="Task",
            labels=("postmortem", "stage1"),
            epic_key="INC-2",
            incident_key="INC-1",
            fields=push.FieldMap(None, None, success_metric="customfield_10020"),
            rich_fields=frozenset({"customfield_10020"}),
        ),
        None,
    )
    description = body["fields"]["description"]
    if server.cloud:
        assert description["type"] == "doc" and body["fields"]["customfield_10020"]["type"] == "doc"
        assert body["fields"]["parent"] == {"key": "INC-2"}
    else:
        assert isinstance(description, str) and body["fields"]["customfield_10020"] == "5xx alert fires within 2 min"
        assert "parent" not in body["fields"]


def test_an_incident_without_an_epic_gets_one_linked_and_labelled(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg, "INC-7")
    result = run_push(cfg, "INC-7")
    assert [o.state for o in result.outcomes] == ["pushed"] and len(result.epics_created) == 1
    epic = server.resolve(result.epics_created[0])
    assert epic["fields"]["issuetype"]["name"] == "Epic" and epic["fields"]["labels"] == ["postmortem", "stage3"]
    incident = server.resolve("INC-7")
    assert epic["key"] in [link.get("inwardIssue", {}).get("key") for link in incident["fields"]["issuelinks"]]
    [issue] = marked(server, draft_id)
    assert issue["fields"][server.epic_link_id] == epic["key"]
    with db.connect(cfg, read_only=True) as con:
        assert con.execute("SELECT epic_key FROM incidents WHERE key = 'INC-7'").fetchone()[0] == epic["key"]
    # A second draft for the same incident goes under the same epic: no second epic.
    draft(cfg, "INC-7", summary="Add a runbook entry for the 5xx alert")
    again = run_push(cfg, "INC-7")
    assert again.epics_created == [] and [o.state for o in again.outcomes] == ["pushed"]
    epics = [
        i
        for i in server.live_issues()
        if i["fields"]["issuetype"]["name"] == "Epic" and "stage3" in i["fields"]["labels"]
    ]
    assert len(epics) == 1


# --- never a duplicate -----------------------------------------------------------------------------------


def test_a_lost_answer_after_the_create_finds_the_issue_instead_of_creating_another(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    server.create_lag = 10  # Cloud's search index does not show the new issue for a while
    fault = server.add_fault(POST_ISSUE, "lost")
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert fault.hits == 1 and posts(server) == 1
    assert outcome.state == "pushed", outcome
    assert len(marked(server, draft_id)) == 1
    assert draft_row(cfg, draft_id).pushed_key == marked(server, draft_id)[0]["key"]


def test_a_draft_left_pushing_by_a_crash_is_found_not_created_again(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    target = push.Target(
        cloud=server.cloud,
        api="3" if server.cloud else "2",
        project="INC",
        issue_type="Task",
        labels=("postmortem", "stage1"),
        epic_key="INC-2",
        incident_key="INC-1",
        fields=push.FieldMap(None, None, epic_link=None if server.cloud else server.epic_link_id),
    )
    # The previous run created the issue and died before writing the state down.
    server.create_lag = 10
    status, _ = server.api_create(push.issue_body(draft_row(cfg, draft_id), target, None), "3" if server.cloud else "2")
    assert status == 201
    with db.connect(cfg) as con:
        actions.start_push(con, draft_id)
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert (outcome.state, outcome.found_existing, posts(server)) == ("pushed", True, 0)
    assert len(marked(server, draft_id)) == 1


def test_429_on_the_create_is_resent_once_and_makes_one_issue(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    fault = server.add_fault(POST_ISSUE, "429", retry_after="0")
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert outcome.state == "pushed" and fault.hits == 1
    assert posts(server) == 2  # the 429 and the resend
    assert len(marked(server, draft_id)) == 1


# --- failures --------------------------------------------------------------------------------------------


def test_a_400_keeps_jiras_words_and_the_draft_and_a_retry_after_the_fix_pushes_it(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    before = {k: getattr(draft_row(cfg, draft_id), k) for k in TYPED}
    server.unsettable.add("labels")
    [outcome] = run_push(cfg).outcomes
    row = draft_row(cfg, draft_id)
    assert outcome.state == "failed" and row.state == "failed"
    assert row.error == "labels: Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."
    assert {k: getattr(row, k) for k in TYPED} == before  # nothing the facilitator typed is lost
    assert marked(server, draft_id) == []
    server.unsettable.clear()  # the Jira admin puts Labels on the screen
    [again] = run_push(cfg).outcomes
    assert again.state == "pushed" and draft_row(cfg, draft_id).error is None
    assert len(marked(server, draft_id)) == 1


def test_an_unknown_owner_fails_that_draft_only_with_one_clear_line(server: FakeJira, cfg: Settings):
    stranger = draft(cfg, owner="Nobody Here", summary="Add a canary for checkout flags")
    [skipped] = run_push(cfg).outcomes  # nobody pir knows: not SMART, Jira is not asked
    assert skipped.state == "skipped" and "owner: 'Nobody Here' is not a known person" in skipped.error
    with open_review(cfg, "INC-1") as session:
        actions.delete_draft(session.con, stranger, version=1)
        prepare.add_attendee(session, "Nobody Here")  # on the invite list, but not a Jira user
    bad = draft(cfg, owner="Nobody Here")
    good = draft(cfg, summary="Add a canary for checkout deploys")
    result = run_push(cfg)
    states = {o.draft_id: o.state for o in result.outcomes}
    assert states == {bad: "failed", good: "pushed"}
    error = draft_row(cfg, bad).error
    assert "owner 'Nobody Here' is not a Jira user" in error and "\n" not in error
    with db.connect(cfg) as con:
        actions.update_draft(con, bad, version=1, owner="User 3")  # a failed draft stays editable
    assert [o.state for o in run_push(cfg).outcomes] == ["pushed"]
    assert marked(server, bad)[0]["fields"]["assignee"]["name"] == "user3"


def test_a_draft_deleted_in_the_guide_while_the_push_runs_is_not_sent(server: FakeJira, cfg: Settings):
    gone = draft(cfg, summary="Add a canary for checkout flags")
    kept = draft(cfg)

    def delete_in_the_guide(_client: object) -> None:  # after the push read its drafts, before it sends anything
        with open_review(cfg, "INC-1") as session:
            actions.delete_draft(session.con, gone, version=1)

    server.reset_counts()
    result = push.push(cfg, "INC-1", retry=FAST, on_client=delete_in_the_guide)
    outcomes = {o.draft_id: o for o in result.outcomes}
    assert outcomes[kept].state == "pushed" and outcomes[gone].state == "failed"
    assert outcomes[gone].error.startswith(f"draft {gone} no longer exists")
    assert posts(server) == 1 and marked(server, gone) == [] and len(marked(server, kept)) == 1


def test_a_draft_that_is_not_smart_is_not_pushed(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg, success_metric="")
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert outcome.state == "skipped" and "success metric" in outcome.error
    assert draft_row(cfg, draft_id).state == "draft" and posts(server) == 0


# --- read-back -------------------------------------------------------------------------------------------


def test_the_next_sync_reads_changes_made_in_jira_and_jira_wins(server: FakeJira, cfg: Settings):
    draft(cfg)
    [outcome] = run_push(cfg).outcomes
    server.update_issue(
        outcome.key,
        fields={
            "status": {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}},
            "duedate": "2025-11-30",
            "resolutiondate": server.now(),
            "assignee": server.users[3],
        },
    )
    sync.run(cfg, progress=False, retry=FAST)
    [live] = push.draft_status(cfg, incident_id(cfg, "INC-1")).to_dict("records")
    assert (live["jira_key"], live["jira_status"], live["jira_status_category"]) == (outcome.key, "Done", "done")
    assert live["jira_due_date"].date() == dt.date(2025, 11, 30) and live["jira_owner"] == "User 4"
    assert live["changed_in_jira"] and live["due_date"].date() == dt.date(2025, 10, 20)  # the draft as typed
    with db.connect(cfg, read_only=True) as con:
        assert con.execute("SELECT status, owner, due_date FROM actions WHERE key = ?", [outcome.key]).fetchone() == (
            "Done",
            "User 4",
            dt.date(2025, 11, 30),
        )


# --- pure parts against Jira's real error bodies ----------------------------------------------------------


def test_jira_error_text_reads_real_error_bodies():
    cloud_v2 = jira_sample("atlassian_python_api_cloud_v2/issue_POST.json")
    body = next(iter(cloud_v2.values()))
    assert (
        push.jira_error_text(body)
        == "labels: Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."
    )
    v3 = jira_sample("atlassian_openapi_v3_examples/post_issue.json")
    assert push.jira_error_text(v3["response_400"]) == "Field 'priority' is required"
    server = jira_sample("jira_ruby_server_v2/issue_10002.invalid.put.json")
    assert push.jira_error_text(server) == "invalid: Field 'invalid' is not valid for this operation."
    assert push.jira_error_text(None, 502) == "Jira answered HTTP 502 without an error message"


def test_pick_user_wants_exactly_one_active_match():
    users = [
        {"accountId": "a1", "displayName": "Sam Okafor", "emailAddress": "sam@x.io", "active": True},
        {"accountId": "a2", "displayName": "Sam Okafor", "emailAddress": "sam.o@x.io", "active": True},
        {"accountId": "a3", "displayName": "Ana Ruiz", "active": False},
    ]
    assert push.pick_user(users, "SAM@x.io", cloud=True)["accountId"] == "a1"
    with pytest.raises(push._DraftFailed, match="matches 2 Jira users"):
        push.pick_user(users, "Sam Okafor", cloud=True)
    with pytest.raises(push._DraftFailed, match="is not a Jira user"):
        push.pick_user(users, "Ana Ruiz", cloud=True)


def test_the_guides_push_button_pushes_and_shows_jiras_words_as_text(server: FakeJira, cfg: Settings):
    good = draft(cfg, summary="Add <b>bold</b> alert & page")
    bad = draft(cfg, summary="Add a canary for checkout deploys")
    server.unsettable.add("priority")
    wizard = FacilitatorWizard(cfg, incident=incident_id(cfg, "INC-1"))
    wizard.go("actions")
    step = wizard.steps["actions"]
    step.push_button.click()
    shown = step.push_result.value
    assert "2 failed" in shown and "priority: Field &#x27;priority&#x27; cannot be set" in shown
    assert "<b>bold</b>" not in shown and "&lt;b&gt;bold&lt;/b&gt;" in shown
    server.unsettable.clear()
    step.push_button.click()
    keys = [draft_row(cfg, d).pushed_key for d in (good, bad)]
    assert all(keys) and all(k in step.push_result.value for k in keys)
    assert all(k in " ".join(row.children[0].value for row in step.listing.children) for k in keys)


def test_one_push_at_a_time_per_store(server: FakeJira, cfg: Settings):
    """Solo a lock file beside the database; in team mode a PostgreSQL advisory lock, which holds for pushes from
    other machines too (the lock file would not)."""
    draft_id = draft(cfg)
    with push._one_push_at_a_time(cfg):
        with pytest.raises(PirError, match=r"^another `pir push` is running on this database; wait"):
            run_push(cfg)
    assert draft_row(cfg, draft_id).state == "draft" and marked(server, draft_id) == []
    assert [o.state for o in run_push(cfg).outcomes] == ["pushed"]  # the lock went with the push that held it


# --- ambiguous creates (issue 17) ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["503", "502"])
def test_a_proxy_error_after_jira_created_the_issue_is_looked_up_not_resent(server: FakeJira, cfg: Settings, status):
    draft_id = draft(cfg)
    server.create_lag = 10
    fault = server.add_fault(POST_ISSUE, status, carry_out=True, retry_after="0")
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert fault.hits == 1 and posts(server) == 1  # no resend: the lookup found it first
    assert (outcome.state, outcome.found_existing) == ("pushed", True)
    assert len(marked(server, draft_id)) == 1


def test_a_drop_during_the_answer_to_an_unlinked_create_finds_and_links_the_issue(server: FakeJira, cfg: Settings):
    draft_id = draft(cfg)
    server.unsettable.add("issuelinks")  # the create screen has no Linked Issues: create, then link
    server.create_lag = 2  # Cloud's index shows the new issue after a couple of searches (seconds)
    server.add_fault(POST_ISSUE, "drop", skip=1)  # the first POST is refused (issuelinks), the second drops
    [outcome] = run_push(cfg).outcomes
    assert outcome.state == "pushed", outcome
    [issue] = marked(server, draft_id)
    assert issue["key"] in [
        link.get("inwardIssue", {}).get("key") for link in server.resolve("INC-1")["fields"]["issuelinks"]
    ]
    server.clear_faults()
    assert run_push(cfg).outcomes == [] and len(marked(server, draft_id)) == 1


def test_an_unconfirmed_create_is_not_resent_and_the_next_push_finds_it(server: FakeJira, cfg: Settings):
    if not server.cloud:
        pytest.skip("Data Center's search is consistent: the first push finds the issue (test above)")
    draft_id = draft(cfg)
    server.unsettable.add("issuelinks")
    server.create_lag = 50  # the index stays behind for the whole run
    server.add_fault(POST_ISSUE, "lost", skip=1)
    server.reset_counts()
    [outcome] = run_push(cfg).outcomes
    assert outcome.state == "failed" and "did not confirm" in outcome.error and "run `pir push` again" in outcome.error
    assert posts(server) == 2 and len(marked(server, draft_id)) == 1  # the refused one and the lost one
    server.lag.clear()  # minutes later the index has caught up
    [again] = run_push(cfg).outcomes
    assert (again.state, again.found_existing) == ("pushed", True) and len(marked(server, draft_id)) == 1

"""transform: Jira issue JSON (v2 Data Center and v3 Cloud) -> incidents, actions and events rows."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from support.jira_samples import jira_sample

from pirlib.errors import InputError
from pirlib.jira_sync import flatten
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.rows import ACTION_COLUMNS, EVENT_COLUMNS, INCIDENT_COLUMNS, Batch, parse_time
from pirlib.jira_sync.transform import Transformer, transform

FIELDS = FieldMap(
    severity="customfield_10010",
    failure_mode="customfield_10011",
    epic_link="customfield_10014",
    success_metric="customfield_10020",
    verification="customfield_10021",
    action_type="customfield_10022",
    team="customfield_10027",
    commander="customfield_10023",
    incident_start="customfield_10026",
    customer_impact="customfield_10024",
    regulatory="customfield_10025",
)
NO_FIELDS = FieldMap(severity=None, failure_mode=None)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --- parse_time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-06-09T16:29:31.871-0700", "2022-06-09 23:29:31.871"),
        ("2011-12-15T15:35:06.000+1300", "2011-12-15 02:35:06"),
        ("2021-01-17T12:34:00.000+0000", "2021-01-17 12:34:00"),
        ("2025-09-05T14:03:00Z", "2025-09-05 14:03:00"),
        ("2025-09-05T14:03:00.000+02:00", "2025-09-05 12:03:00"),
    ],
)
def test_parse_time_gives_the_utc_instant(value: str, expected: str) -> None:
    parsed = parse_time(value)
    assert parsed == utc(expected)
    assert str(parsed.tz) == "UTC"


def test_parse_time_none_and_garbage() -> None:
    assert parse_time(None) is None
    with pytest.raises(InputError, match="'yesterday' is not a Jira timestamp"):
        parse_time("yesterday")


# --- a small hand-made Data Center site ----------------------------------------------------------------


def user(name: str) -> dict:
    return {"name": name.lower(), "key": name.lower(), "displayName": name, "emailAddress": f"{name}@x"}


def issue(issue_id: str, key: str, kind: str, labels: list[str], **fields) -> dict:
    return {
        "id": issue_id,
        "key": key,
        "fields": {
            "summary": f"{key} summary",
            "issuetype": {"name": kind, "subtask": kind == "Sub-task"},
            "project": {"key": key.split("-")[0]},
            "status": {"name": "Open", "statusCategory": {"key": "new"}},
            "priority": {"name": "High"},
            "labels": labels,
            "components": [],
            "created": "2025-09-05T06:47:12.418-0700",
            "updated": "2025-09-08T02:30:00.000-0700",
            "resolutiondate": None,
            "issuelinks": [],
            **fields,
        },
    }


def history(hid: str, created: str, *items: tuple[str, str | None, str | None], author: str = "Noah") -> dict:
    return {
        "id": hid,
        "author": user(author),
        "created": created,
        "items": [{"field": f, "fieldtype": "jira", "fromString": a, "toString": b} for f, a, b in items],
    }


def site() -> tuple[list[dict], list[dict]]:
    stage31 = issue(
        "100",
        "INC-440",
        "Incident",
        ["postmortem", "stage31"],
        description="h2. What happened\nSome *bold* claim <script>alert(1)</script>",
        components=[{"name": "payments-api"}, {"name": "ledger"}],
        status={"name": "Closed", "statusCategory": {"key": "done"}},
        resolutiondate="2025-09-05T18:12:40.250-0700",
        customfield_10010={"value": "Sev-1"},
        customfield_10011={"value": "Bad deploy"},
        customfield_10023=user("Noah"),
        customfield_10024={"value": "Yes"},
        customfield_10025={"value": "Required"},
        customfield_10026="2025-09-05T06:38:12.418-0700",
        issuelinks=[
            {
                "type": {"name": "Relates"},
                "outwardIssue": {"id": "400", "key": "INC-441", "fields": {"issuetype": {"name": "Epic"}}},
            }
        ],
        comment={
            "total": 1,
            "comments": [
                {
                    "id": "9001",
                    "author": user("José Núñez"),
                    "created": "2025-09-05T07:00:00.000-0700",
                    "body": "Rolled back <b>now</b> :)",
                }
            ],
        },
    )
    # Jira does not promise the order of histories: this one comes newest first.
    stage31["changelog"] = {
        "histories": [
            history("503", "2025-09-05T18:12:40.250-0700", ("status", "Mitigated", "Resolved")),
            history(
                "502",
                "2025-09-05T12:02:40.000-0700",
                ("status", "Investigating", "Mitigated"),
                ("assignee", None, "Élodie"),
            ),
            history("504", "2025-09-05T19:00:00.000-0700", ("status", "Resolved", "Mitigated")),
            history(
                "501",
                "2025-09-05T06:50:00.000-0700",
                ("status", "Open", "Investigating"),
                ("Severity", "Sev-2", "Sev-1"),
                ("Priority", "Low", "High"),
            ),
        ]
    }
    stage31["changelog"]["histories"][3]["items"][1]["fieldId"] = "customfield_10010"
    labelled = issue(
        "200",
        "INC-500",
        "Incident",
        ["inc500"],
        customfield_10024={"value": "No"},
        customfield_10025={"value": "Not required"},
    )
    labelled["changelog"] = {"histories": []}
    incidents = [stage31, labelled]

    others = [
        issue("400", "INC-441", "Epic", ["postmortem", "stage31"]),
        issue("401", "INC-501", "Epic", ["postmortem", "inc500"]),
        issue(
            "301",
            "INC-442",
            "Task",
            ["postmortem", "stage31"],
            customfield_10014="INC-441",
            assignee=user("Søren"),
            duedate="2025-09-30",
            customfield_10027={"value": "Payments"},
            customfield_10020="p99 < 300 ms for 7 days",
            customfield_10021="Grafana panel",
            customfield_10022={"value": "prevent"},
        ),
        # Cloud shape: parent instead of Epic Link, user without a name.
        issue(
            "302",
            "INC-502",
            "Task",
            ["postmortem"],
            parent={"id": "401", "key": "INC-501", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}},
            assignee={"accountId": "5b10a284", "displayName": "Mia Krystof"},
        ),
        issue(
            "303",
            "INC-443",
            "Task",
            ["postmortem"],
            issuelinks=[{"type": {"name": "Relates"}, "inwardIssue": {"id": "100", "key": "INC-440"}}],
        ),
        issue("304", "INC-444", "Task", ["postmortem"], customfield_10014="INC-9999"),
        issue("305", "INC-445", "Task", ["stage31"], customfield_10014="INC-441"),
        issue(
            "306",
            "INC-446",
            "Sub-task",
            ["postmortem"],
            parent={"id": "301", "key": "INC-442", "fields": {"issuetype": {"name": "Task"}}},
        ),
    ]
    return incidents, others


def run(incidents=None, others=None, fields=FIELDS):
    if incidents is None:
        incidents, others = site()
    return transform(incidents, others, fields, base_url="https://jira.example.com/")


def test_incident_columns() -> None:
    batch = run()
    assert list(batch.incidents.columns) == INCIDENT_COLUMNS
    row = batch.incidents.set_index("key").loc["INC-440"]
    assert row["issue_id"] == "100" and row["project_key"] == "INC"
    assert row["severity"] == "Sev-1" and row["failure_mode"] == "Bad deploy"
    assert row["service"] == "payments-api" and list(row["components"]) == ["payments-api", "ledger"]
    assert row["status"] == "Closed" and row["status_category"] == "done" and row["priority"] == "High"
    assert row["commander"] == "Noah"
    assert row["started_at"] == utc("2025-09-05 13:38:12.418")
    assert row["detected_at"] == row["created_at"] == utc("2025-09-05 13:47:12.418")
    assert row["mitigated_at"] == utc("2025-09-05 19:02:40")  # the first of two transitions into Mitigated
    assert row["resolved_at"] == utc("2025-09-06 01:12:40.250")
    assert row["epic_key"] == "INC-441"  # linked epic
    assert row["customer_impact"] is True or row["customer_impact"] == True  # noqa: E712
    assert row["regulatory"] == True  # noqa: E712
    assert row["url"] == "https://jira.example.com/browse/INC-440"
    assert row["description"] == "What happened\nSome bold claim <script>alert(1)</script>"
    raw = json.loads(row["raw"])
    assert raw["key"] == "INC-440" and "changelog" not in raw

    other = batch.incidents.set_index("key").loc["INC-500"]
    assert other["epic_key"] == "INC-501"  # the epic carrying the incident's own label
    assert other["customer_impact"] == False and other["regulatory"] == False  # noqa: E712
    assert other["started_at"] == other["created_at"] and pd.isna(other["mitigated_at"])
    for column in ("created_at", "updated_at", "resolved_at", "started_at", "detected_at", "mitigated_at"):
        assert str(batch.incidents[column].dtype) == "datetime64[us, UTC]", column


def test_events_from_changelog_and_comments() -> None:
    events = run().events
    assert list(events.columns) == EVENT_COLUMNS
    by_id = events.set_index("event_id")
    assert len(events) == 8  # seven changelog items, one comment
    first = by_id.loc["jira:changelog:501:0"]
    assert first["incident_id"] == "100" and first["source"] == "jira_changelog"
    assert (first["kind"], first["field"], first["from_value"], first["to_value"]) == (
        "status_change",
        "status",
        "Open",
        "Investigating",
    )
    assert first["milestone"] == "acknowledged" and first["actor"] == "Noah"
    assert first["occurred_at"] == utc("2025-09-05 13:50:00")
    assert by_id.loc["jira:changelog:501:1", "kind"] == "severity_change"
    assert by_id.loc["jira:changelog:501:2", "kind"] == "priority_change"
    assert by_id.loc["jira:changelog:502:1", "kind"] == "assignee_change"
    assert pd.isna(by_id.loc["jira:changelog:502:1", "milestone"])
    assert by_id.loc["jira:changelog:503:0", "milestone"] == "resolved"
    comment = by_id.loc["jira:comment:9001"]
    assert (comment["source"], comment["kind"], comment["actor"]) == ("jira_comment", "comment", "José Núñez")
    assert comment["text"] == "Rolled back <b>now</b> :)"
    assert pd.isna(comment["milestone"])


def test_the_order_of_histories_does_not_matter() -> None:
    incidents, others = site()
    reordered = copy.deepcopy(incidents)
    reordered[0]["changelog"]["histories"].sort(key=lambda h: h["id"])
    a, b = run(incidents, others), run(reordered, others)
    assert a.incidents.drop(columns="raw").equals(b.incidents.drop(columns="raw"))
    key = ["event_id"]
    pd.testing.assert_frame_equal(
        a.events.sort_values(key).reset_index(drop=True), b.events.sort_values(key).reset_index(drop=True)
    )


def test_actions_found_by_epic_link_parent_and_direct_link() -> None:
    actions = run().actions
    assert list(actions.columns) == ACTION_COLUMNS
    by_key = actions.set_index("key")
    assert sorted(by_key.index) == ["INC-442", "INC-443", "INC-444", "INC-446", "INC-502"]
    dc = by_key.loc["INC-442"]
    assert (dc["incident_id"], dc["epic_key"], dc["owner"], dc["owner_id"]) == ("100", "INC-441", "Søren", "søren")
    assert (dc["team"], dc["action_type"]) == ("Payments", "prevent")
    assert dc["success_metric"] == "p99 < 300 ms for 7 days" and dc["verification_method"] == "Grafana panel"
    assert str(dc["due_date"]) == "2025-09-30"
    cloud = by_key.loc["INC-502"]
    assert (cloud["incident_id"], cloud["epic_key"], cloud["owner_id"]) == ("200", "INC-501", "5b10a284")
    assert by_key.loc["INC-443", "incident_id"] == "100"  # linked straight to the incident
    assert pd.isna(by_key.loc["INC-444", "incident_id"])  # epic not in this batch: load links it later
    assert by_key.loc["INC-444", "epic_key"] == "INC-9999"
    assert pd.isna(by_key.loc["INC-446", "epic_key"])  # a sub-task's parent is not an epic


def test_jira_ruby_server_search_page() -> None:
    page = jira_sample("jira_ruby_server_v2/issue.json")
    batch = transform(page["issues"], [], NO_FIELDS, base_url="http://localhost:2990/jira")
    assert len(batch.incidents) == page["total"] == 11
    row = batch.incidents.set_index("key").loc["SAMPLEPROJECT-13"]
    assert row["created_at"] == utc("2011-12-15 02:35:06")  # +1300
    assert row["status"] == "Open" and pd.isna(row["status_category"])  # old Server: no statusCategory
    assert row["assignee"] == "admin" and pd.isna(row["severity"])
    assert row["url"] == "http://localhost:2990/jira/browse/SAMPLEPROJECT-13"
    assert batch.events.empty and batch.actions.empty


def test_jira_ruby_issue_with_components_and_comments() -> None:
    single = jira_sample("jira_ruby_server_v2/issue_10002.json")
    single["fields"]["comment"] = jira_sample("jira_ruby_server_v2/issue_10002_comment.json")
    batch = transform([single], [], NO_FIELDS, base_url="http://localhost:2990/jira")
    row = batch.incidents.iloc[0]
    assert row["service"] == "Jamflam" and list(row["components"]) == ["Jamflam", "Jammy"]
    comments = batch.events
    assert len(comments) == len(single["fields"]["comment"]["comments"]) > 0
    assert set(comments["kind"]) == {"comment"} and comments["text"].notna().all()


def test_cloud_v3_epic_with_adf_and_offsets() -> None:
    cloud = jira_sample("airbyte_source_jira_cloud_v3/issues.json")["issues"][0]
    cloud["fields"]["comment"]["comments"] = jira_sample("airbyte_source_jira_cloud_v3/issue_comments.json")["comments"]
    batch = transform([cloud], [], NO_FIELDS, base_url="https://airbyteio.atlassian.net")
    row = batch.incidents.iloc[0]
    assert row["description"] == "Test issue"
    assert row["created_at"] == utc("2022-06-09 23:29:31.871")
    assert row["updated_at"] == utc("2022-12-08 10:22:18.889")
    assert row["reporter"] == "integration test" and row["service"] == "Component 0"
    texts = batch.events.set_index("event_id")["text"]
    assert texts["jira:comment:10755"] == "Closed"
    assert texts["jira:comment:10521"].startswith("Lorem ipsum")


def test_cloud_changelog_page_shape_is_read() -> None:
    page = jira_sample("atlassian_openapi_v3_examples/get_issue_issueIdOrKey_changelog.json")["response_200"]
    example = jira_sample("atlassian_openapi_v3_examples/get_issue_issueIdOrKey.json")["response_200"]
    example["fields"].update(created="2021-01-17T12:34:00.000+0000", updated="2021-01-18T23:45:00.000+0000")
    example["changelog"] = {"histories": page["values"]}
    batch = transform([example], [], NO_FIELDS, base_url="https://your-domain.atlassian.net")
    changes = batch.events[batch.events["source"] == "jira_changelog"].set_index("event_id")
    assert list(changes.index) == ["jira:changelog:10001:0", "jira:changelog:10002:0"]
    assert changes.loc["jira:changelog:10002:0", "to_value"] == "label-1 label-2"
    assert changes.loc["jira:changelog:10001:0", "actor"] == "Mia Krystof"
    # The example embeds comments as a bare list with an ADF body.
    assert batch.events.set_index("event_id").loc["jira:comment:10000", "text"].startswith("Lorem ipsum")


def test_a_bad_timestamp_is_one_clear_error() -> None:
    incidents, others = site()
    incidents[0]["changelog"]["histories"][0]["created"] = "last tuesday"
    with pytest.raises(InputError, match="'last tuesday' is not a Jira timestamp"):
        run(incidents, others)


def test_empty_batch() -> None:
    batch = transform([], [], FIELDS, base_url="https://x")
    assert batch.incidents.empty and batch.actions.empty and batch.events.empty
    assert list(batch.events.columns) == EVENT_COLUMNS


# --- JSON text in, the same rows out ------------------------------------------------------------------


def _same_batch(a, b) -> None:
    for name in ("incidents", "actions", "events"):
        left, right = getattr(a, name), getattr(b, name)
        key = "event_id" if name == "events" else "issue_id"
        left = left.sort_values(key).reset_index(drop=True)
        right = right.sort_values(key).reset_index(drop=True)
        if name == "incidents":  # the same JSON, possibly serialised with other spacing or key order
            assert [json.loads(r) for r in left.pop("raw")] == [json.loads(r) for r in right.pop("raw")]
        pd.testing.assert_frame_equal(left, right, obj=name)


def test_json_text_gives_the_rows_that_dicts_give() -> None:
    incidents, others = site()
    from_dicts = run(incidents, others)
    page = json.dumps({"startAt": 0, "maxResults": 50, "total": 2, "issues": incidents})
    _same_batch(from_dicts, run(page, others))
    _same_batch(from_dicts, run(page.encode(), others))
    _same_batch(from_dicts, run("  " + json.dumps(incidents), others))
    # A sync's pages, one text each.
    _same_batch(from_dicts, run([json.dumps({"issues": [i]}) for i in incidents], others))


def test_many_groups_on_threads_give_the_rows_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    incidents, others = site()
    many = []
    for n in range(40):
        for incident in copy.deepcopy(incidents):
            incident["id"] = f"{incident['id']}{n:02d}"
            incident["key"] = f"{incident['key']}{n:02d}"
            for h in (incident.get("changelog") or {}).get("histories", []):
                h["id"] = f"{h['id']}{n:02d}"
            many.append(incident)
    pages = [json.dumps({"issues": many[n : n + 7]}) for n in range(0, len(many), 7)]
    whole = run(pages, others)
    monkeypatch.setattr(flatten, "_GROUP_CHARS", 1)  # one group per page, on two threads
    _same_batch(whole, run(pages, others))
    assert len(whole.incidents) == 80 and len(whole.events) == 40 * 8


def test_custom_field_shapes_read_like_select_values() -> None:
    incidents, others = site()
    incident = incidents[1]
    incident["fields"].update(
        customfield_10010=[{"value": "Sev-2"}, {"id": "x"}, "Sev-3"],  # multi-select: names joined
        customfield_10011="Capacity",  # a plain text field
        customfield_10023=[],  # an empty multi-user picker
        customfield_10024=True,  # a boolean
        customfield_10025={"value": "Not applicable"},  # "not ..." reads as false
        customfield_10026="",  # an empty start falls back to created
    )
    row = run(incidents, others).incidents.set_index("key").loc["INC-500"]
    assert row["severity"] == "Sev-2, Sev-3" and row["failure_mode"] == "Capacity"
    assert pd.isna(row["commander"])
    assert row["customer_impact"] == True and row["regulatory"] == False  # noqa: E712
    assert row["started_at"] == row["created_at"]
    incident["fields"].update(
        customfield_10010=4,
        customfield_10024={"value": "maybe"},
        description={
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": "ADF body"}]}],
        },
    )
    row = run(incidents, others).incidents.set_index("key").loc["INC-500"]
    assert row["severity"] == "4" and pd.isna(row["customer_impact"]) and row["description"] == "ADF body"


def test_text_that_is_not_json_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        transform('{"issues": [{"id": "1",', [], FIELDS, base_url="https://x")
    with pytest.raises(InputError, match="without an id"):
        transform('[{"key": "INC-1", "fields": {}}]', [], FIELDS, base_url="https://x")


def test_chunked_transform_gives_the_rows_of_one_batch() -> None:
    """Transformer.batches: incidents chunk by chunk, then actions that still find incidents of every chunk."""
    incidents, others = site()
    whole = run(incidents, others)
    transformer = Transformer(others, FIELDS, base_url="https://jira.example.com/")
    parts = list(transformer.batches([incidents[:1], json.dumps(incidents[1:])]))
    assert len(parts) == 3 and parts[-1].incidents.empty and all(p.actions.empty for p in parts[:-1])
    joined = Batch(
        pd.concat([p.incidents for p in parts[:-1]], ignore_index=True),
        parts[-1].actions,
        pd.concat([p.events for p in parts[:-1]], ignore_index=True),
    )
    _same_batch(whole, joined)
    # Actions found incidents of both chunks (by epic and by the incident's links).
    assert set(joined.actions["incident_id"].dropna()) == {parts[0].incidents["issue_id"][0], "200"}
    assert set(transformer.incident_ids) == set(whole.incidents["issue_id"])
    assert set(transformer.action_ids) == set(whole.actions["issue_id"])


def test_raw_is_the_issue_as_jira_sent_it_without_the_changelog() -> None:
    incidents, others = site()
    incident = copy.deepcopy(incidents[0])
    incident["names"] = {"customfield_10010": "Severity"}  # an expanded top-level part is kept too
    incident["id"] = int(incident["id"])  # a number where Jira sends a string reads the same
    for given in ([incident], json.dumps({"issues": [incident]})):
        batch = run(given, others)
        want = {k: v for k, v in incident.items() if k != "changelog"}
        assert json.loads(batch.incidents["raw"][0]) == want
        assert batch.incidents["issue_id"][0] == str(incident["id"])


def test_action_batches_slice_the_rows_of_one_actions_batch() -> None:
    incidents, others = site()
    transformer = Transformer(others, FIELDS, base_url="https://jira.example.com/")
    transformer.incidents(incidents)
    whole = transformer.actions().actions
    slices = list(transformer.action_batches(slice_rows=1))
    assert len(whole) > 1 and len(slices) == len(whole) and all(len(b.actions) == 1 for b in slices)
    joined = pd.concat([b.actions for b in slices], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole)


# --- one "visible name of a Jira value" in Python and in SQL ---------------------------------------------

# Every shape a Jira field value takes (and a few it should not): the action rows read them with the
# Python ``_name``, the bulk load of incidents with the SQL macro ``jname``, so both must agree.
JIRA_VALUES = [
    None,
    "",
    "Sev-1",
    "  padded  ",
    "Störung 障害 ✓",
    'quote " and \\ backslash',
    0,
    4,
    -7,
    10**15,
    2.5,
    3.0,
    True,
    False,
    {"value": "Sev-0", "id": "10001", "self": "https://jira/rest/api/2/customFieldOption/10001"},  # select option
    {"displayName": "Ana Lima", "name": "alima", "key": "JIRAUSER1", "accountId": "5b10a"},  # user
    {"name": "High", "id": "2", "iconUrl": "https://jira/high.svg"},  # priority, status, component
    {"title": "Runbook", "url": "https://x"},
    {"key": "INC-1"},
    {"id": "x"},
    {},
    {"value": ""},
    {"value": 1, "name": "after a number"},
    {"value": None, "displayName": "after a null"},
    {"value": {"value": "inner"}, "title": "after an object"},
    {"value": "Payments", "child": {"value": "Refunds"}},  # cascading select: the parent option
    [],
    [None],
    [""],
    ["a", "b"],
    [{"value": "Sev-2"}, {"id": "x"}, "Sev-3"],  # multi-select, skipping nameless
    [{"displayName": "Ana"}, {"displayName": "Bo"}],
    [1, True, 2.5],
    [["nested"], "flat"],
    [[]],
    [{"value": "Zürich"}, {"name": "東京"}],
]


@pytest.mark.parametrize("value", JIRA_VALUES, ids=[json.dumps(v, ensure_ascii=False) for v in JIRA_VALUES])
def test_python_and_sql_give_a_jira_value_the_same_visible_name(value: object) -> None:
    from pirlib.jira_sync.transform import _name

    con = flatten._shared_workspace().con.cursor()
    try:
        in_sql = con.execute("SELECT jname(?::JSON)", [flatten.to_json(value)]).fetchone()[0]
    finally:
        con.close()
    assert in_sql == _name(value)

"""Jira issue JSON -> the rows of ``incidents``, ``actions`` and ``incident_events``.

Pure functions over the dicts that Jira's REST API returns (Data Center v2 and Cloud v3 alike); no I/O.
The HTTP side merges paged changelogs and comments into each incident before calling ``transform``, and
the demo feeds the generated sample site through the same function, so both paths produce the same rows.

A full sync flattens about a million changelog items, so the per-item work is kept to list
comprehensions that pick values out of dicts; timestamps are parsed per column, not per value, and ids,
kinds and milestones are derived over whole columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pirlib.errors import InputError
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.text import to_text

__all__ = ["Batch", "INCIDENT_COLUMNS", "ACTION_COLUMNS", "EVENT_COLUMNS", "parse_time", "transform"]

INCIDENT_COLUMNS = [
    "issue_id", "key", "project_key", "summary", "description", "severity", "failure_mode", "service",
    "status", "status_category", "priority", "components", "labels", "commander", "assignee", "reporter",
    "created_at", "updated_at", "resolved_at", "started_at", "detected_at", "mitigated_at", "epic_key",
    "customer_impact", "regulatory", "url", "raw",
]  # fmt: skip
ACTION_COLUMNS = [
    "issue_id", "key", "incident_id", "epic_key", "summary", "owner", "owner_id", "team", "status",
    "status_category", "priority", "due_date", "created_at", "updated_at", "resolved_at", "labels",
    "success_metric", "verification_method", "action_type", "url",
]  # fmt: skip
# hidden and starred are the facilitator's curation and origin belongs to non-Jira sources: a sync never
# writes them.
EVENT_COLUMNS = [
    "event_id", "incident_id", "occurred_at", "source", "kind", "actor", "field", "from_value", "to_value",
    "text", "milestone",
]  # fmt: skip

# Status names (case-insensitive) whose transitions mark a milestone of the incident's timeline.
MILESTONES = {"investigating": "acknowledged", "mitigated": "mitigated", "resolved": "resolved"}
_KIND_BY_FIELD = {
    "status": "status_change",
    "severity": "severity_change",
    "assignee": "assignee_change",
    "priority": "priority_change",
}


@dataclass
class Batch:
    """Rows for one load: each frame has exactly the columns ``load_batch`` writes; times are UTC."""

    incidents: pd.DataFrame
    actions: pd.DataFrame
    events: pd.DataFrame

    @classmethod
    def empty(cls) -> Batch:
        return cls(
            pd.DataFrame(columns=INCIDENT_COLUMNS), pd.DataFrame(columns=ACTION_COLUMNS),
            pd.DataFrame(columns=EVENT_COLUMNS),
        )  # fmt: skip


def parse_time(value: str | None) -> pd.Timestamp | None:
    """A Jira timestamp (``2022-06-09T16:29:31.871-0700``, ``+0000``, ``Z``, ``+02:00``) as a UTC Timestamp."""
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{value!r} is not a Jira timestamp; expected ISO 8601 like 2022-06-09T16:29:31.871-0700") from None
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        # Jira always sends an offset; a bare time is a date-only field or a hand-made payload: read as UTC.
        return stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC")


def _times(values: list[str | None], what: str) -> pd.Series:
    """Parse a whole column of Jira timestamps at once (per-value parsing dominates a large sync)."""
    series = pd.Series(values, dtype=object)
    try:
        parsed = pd.to_datetime(series, format="ISO8601", utc=True)
    except (ValueError, TypeError):
        for value in values:
            parse_time(value)  # raises InputError naming the first bad value
        raise InputError(f"{what}: a timestamp could not be read; expected ISO 8601 with an offset") from None
    # An all-empty column comes back in seconds; one unit keeps frames from different batches alike.
    return parsed.astype("datetime64[us, UTC]")


def _dates(values: list[str | None]) -> list[Any]:
    parsed = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", errors="coerce")
    return [None if pd.isna(v) else v.date() for v in parsed]


# --- small extractors over Jira field values ----------------------------------------------------------


def _name(value: Any) -> str | None:
    """Visible name of a select option, user, status, priority or plain value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("value", "displayName", "name", "title"):
            found = value.get(key)
            if isinstance(found, str):
                return found
        return None
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    return str(value)


def _user_id(user: Any) -> str | None:
    # Cloud has only accountId (GDPR); Data Center identifies users by name.
    if not isinstance(user, dict):
        return None
    return user.get("accountId") or user.get("name") or user.get("key")


_TRUE = {"yes", "true", "y", "required", "1"}
_FALSE = {"no", "false", "n", "not required", "none", "0", "not-required"}


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _name(value)
    if text is None:
        return None
    folded = text.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE or folded.startswith("not "):
        return False
    return None


def _is_epic(issue_type: Any) -> bool:
    if not isinstance(issue_type, dict):
        return False
    return issue_type.get("name") == "Epic" or issue_type.get("hierarchyLevel") == 1


def _linked_issues(fields: dict[str, Any]) -> list[dict[str, Any]]:
    links = fields.get("issuelinks") or []
    return [other for link in links for other in (link.get("outwardIssue"), link.get("inwardIssue")) if other]


def _comments(fields: dict[str, Any]) -> list[dict[str, Any]]:
    comment = fields.get("comment")
    if isinstance(comment, dict):
        return comment.get("comments") or []
    if isinstance(comment, list):  # the Cloud OpenAPI examples embed a bare list
        return comment
    return []


def _histories(issue: dict[str, Any]) -> list[dict[str, Any]]:
    changelog = issue.get("changelog")
    if isinstance(changelog, dict):
        return changelog.get("histories") or changelog.get("values") or []
    return []


def _raw(issue: dict[str, Any]) -> str:
    # The changelog is stored as events already and is most of an issue's size.
    return _ENCODER.encode({k: v for k, v in issue.items() if k != "changelog"})


_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


# --- transform --------------------------------------------------------------------------------------------


def transform(
    incidents: list[dict[str, Any]],
    others: list[dict[str, Any]],
    fields: FieldMap,
    *,
    base_url: str,
    postmortem_label: str = "postmortem",
) -> Batch:
    """Rows for the incidents, their timeline events and their actions.

    ``incidents`` carry their full changelog and comments; ``others`` are the epics and action candidates
    the sync read alongside. An action's ``incident_id`` stays None when its epic belongs to an incident
    outside this batch; ``load_batch`` links it up from the table.
    """
    base_url = base_url.rstrip("/")
    epics = [o for o in others if _is_epic((o.get("fields") or {}).get("issuetype"))]
    epic_keys = {e.get("key") for e in epics}
    epics_by_label: dict[str, str] = {}
    for epic in epics:
        for label in (epic.get("fields") or {}).get("labels") or []:
            if label != postmortem_label:
                epics_by_label.setdefault(label, epic["key"])

    incident_frame, epic_of_incident = _incident_rows(
        incidents, fields, base_url, postmortem_label, epic_keys, epics_by_label
    )
    events = _event_rows(incidents, fields)
    incident_frame["mitigated_at"] = _first_transition(events, "mitigated", incident_frame["issue_id"])
    actions = _action_rows(incidents, others, fields, base_url, postmortem_label, epic_keys, epic_of_incident)
    return Batch(incident_frame, actions, events)


def _incident_rows(
    incidents: list[dict[str, Any]],
    fm: FieldMap,
    base_url: str,
    postmortem_label: str,
    epic_keys: set[str | None],
    epics_by_label: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, str]]:
    rows = []
    created, updated, resolved, started = [], [], [], []
    epic_of_incident: dict[str, str] = {}
    for issue in incidents:
        f = issue.get("fields") or {}
        key = issue.get("key")
        labels = list(f.get("labels") or [])
        status = f.get("status") or {}
        components = [c.get("name") for c in f.get("components") or [] if c.get("name")]
        epic_key = _incident_epic(f, labels, postmortem_label, epic_keys, epics_by_label)
        if epic_key:
            epic_of_incident[epic_key] = str(issue["id"])
        project = f.get("project") or {}
        rows.append((
            str(issue["id"]), key, project.get("key") or (key.rsplit("-", 1)[0] if key else None),
            f.get("summary"), to_text(f.get("description")),
            _name(f.get(fm.severity)) if fm.severity else None,
            _name(f.get(fm.failure_mode)) if fm.failure_mode else None,
            components[0] if components else None,
            status.get("name"), (status.get("statusCategory") or {}).get("key"),
            _name(f.get("priority")), components, labels,
            _name(f.get(fm.commander)) if fm.commander else None,
            _name(f.get("assignee")), _name(f.get("reporter")),
            epic_key,
            _flag(f.get(fm.customer_impact)) if fm.customer_impact else None,
            _flag(f.get(fm.regulatory)) if fm.regulatory else None,
            f"{base_url}/browse/{key}", _raw(issue),
        ))  # fmt: skip
        created.append(f.get("created"))
        updated.append(f.get("updated"))
        resolved.append(f.get("resolutiondate"))
        started.append((f.get(fm.incident_start) if fm.incident_start else None) or f.get("created"))
    names = [
        "issue_id", "key", "project_key", "summary", "description", "severity", "failure_mode", "service",
        "status", "status_category", "priority", "components", "labels", "commander", "assignee", "reporter",
        "epic_key", "customer_impact", "regulatory", "url", "raw",
    ]  # fmt: skip
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    created_at = _times(created, "incident created")
    frame["created_at"] = created_at
    frame["updated_at"] = _times(updated, "incident updated")
    frame["resolved_at"] = _times(resolved, "incident resolutiondate")
    frame["started_at"] = _times(started, "incident start")
    frame["detected_at"] = created_at
    frame["mitigated_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    for column in ("customer_impact", "regulatory"):
        frame[column] = frame[column].astype("boolean")
    return frame[INCIDENT_COLUMNS], epic_of_incident


def _incident_epic(
    f: dict[str, Any],
    labels: list[str],
    postmortem_label: str,
    epic_keys: set[str | None],
    epics_by_label: dict[str, str],
) -> str | None:
    """The incident's action epic: a linked epic, else an epic carrying the incident's own label."""
    for other in _linked_issues(f):
        if other.get("key") in epic_keys or _is_epic((other.get("fields") or {}).get("issuetype")):
            return other.get("key")
    for label in labels:
        if label != postmortem_label and label in epics_by_label:
            return epics_by_label[label]
    return None


def _event_rows(incidents: list[dict[str, Any]], fm: FieldMap) -> pd.DataFrame:
    # Changelog: per-history values are collected once and repeated over the history's items.
    h_incident: list[str] = []
    h_id: list[str] = []
    h_created: list[str] = []
    h_actor: list[str | None] = []
    h_count: list[int] = []
    items: list[dict[str, Any]] = []
    # Comments: one row each.
    c_incident: list[str] = []
    c_id: list[str] = []
    c_created: list[str] = []
    c_actor: list[str | None] = []
    c_text: list[str | None] = []
    for issue in incidents:
        incident_id = str(issue["id"])
        for history in _histories(issue):
            history_items = history.get("items") or []
            if not history_items:
                continue
            author = history.get("author")
            h_incident.append(incident_id)
            h_id.append(str(history["id"]))
            h_created.append(history.get("created"))
            h_actor.append(author.get("displayName") if author else None)
            h_count.append(len(history_items))
            items.extend(history_items)
        for comment in _comments(issue.get("fields") or {}):
            author = comment.get("author")
            c_incident.append(incident_id)
            c_id.append("jira:comment:" + str(comment["id"]))
            c_created.append(comment.get("created"))
            c_actor.append(author.get("displayName") if author else None)
            c_text.append(to_text(comment.get("body")))

    counts = np.asarray(h_count, dtype=np.int64)
    n_items = int(counts.sum())
    n_comments = len(c_id)
    # Index of each item's history, and the item's position inside it (the last part of its event id).
    of_history = pa.array(np.repeat(np.arange(len(h_id), dtype=np.int64), counts))
    item_index = pa.array(np.arange(n_items, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts))
    history_ids = pa.array(h_id, type=pa.string()).take(of_history)
    change_ids = pc.binary_join_element_wise("jira:changelog:", history_ids, ":", item_index.cast(pa.string()), "")

    field = pa.array([item.get("field") for item in items], type=pa.string())
    to_value = pa.array([item.get("toString") for item in items], type=pa.string())
    from_value = pa.array([item.get("fromString") for item in items], type=pa.string())
    kind = _kinds(field, items, fm)
    milestone = pc.if_else(
        pc.equal(kind, "status_change"), _lookup(pc.utf8_lower(to_value), MILESTONES), pa.nulls(n_items, pa.string())
    )
    utc = pa.timestamp("us", tz="UTC")
    history_times = pa.array(_times(h_created, "changelog created"), type=utc)
    comment_times = pa.array(_times(c_created, "comment created"), type=utc)

    def column(changelog: pa.Array, comments: Any, kind: pa.DataType = pa.string()) -> pa.ChunkedArray:
        return pa.chunked_array([changelog.cast(kind), pa.array(comments, type=kind)], type=kind)

    table = pa.table({
        "event_id": column(change_ids, c_id),
        "incident_id": column(pa.array(h_incident, type=pa.string()).take(of_history), c_incident),
        "occurred_at": column(history_times.take(of_history), comment_times, utc),
        "source": column(pa.array(["jira_changelog"] * n_items, type=pa.string()), ["jira_comment"] * n_comments),
        "kind": column(kind, ["comment"] * n_comments),
        "actor": column(pa.array(h_actor, type=pa.string()).take(of_history), c_actor),
        "field": column(field, pa.nulls(n_comments, pa.string())),
        "from_value": column(from_value, pa.nulls(n_comments, pa.string())),
        "to_value": column(to_value, pa.nulls(n_comments, pa.string())),
        "text": column(pa.nulls(n_items, pa.string()), c_text),
        "milestone": column(milestone, pa.nulls(n_comments, pa.string())),
    })  # fmt: skip
    return table.to_pandas()


def _lookup(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Map strings through ``mapping`` over a whole column (null where absent)."""
    keys = pa.array(list(mapping), type=pa.string())
    targets = pa.array(list(mapping.values()), type=pa.string())
    return targets.take(pc.index_in(values, value_set=keys))


def _kinds(field: pa.Array, items: list[dict[str, Any]], fm: FieldMap) -> pa.Array:
    kinds = pc.fill_null(_lookup(pc.utf8_lower(field), _KIND_BY_FIELD), "field_change")
    if fm.severity:
        # The severity field's display name differs per site; the changelog item's fieldId does not.
        is_severity = pa.array([item.get("fieldId") == fm.severity for item in items], type=pa.bool_())
        kinds = pc.if_else(is_severity, "severity_change", kinds)
    return kinds


def _first_transition(events: pd.DataFrame, milestone: str, incident_ids: pd.Series) -> pd.Series:
    """Time of each incident's first status change that carries ``milestone`` (NaT when none)."""
    hits = events.loc[events["milestone"] == milestone, ["incident_id", "occurred_at"]]
    first = hits.groupby("incident_id")["occurred_at"].min()
    values = first.reindex(pd.Index(incident_ids, dtype=object)).to_numpy()
    return pd.Series(pd.to_datetime(values, utc=True), index=incident_ids.index).astype("datetime64[us, UTC]")


def _action_rows(
    incidents: list[dict[str, Any]],
    others: list[dict[str, Any]],
    fm: FieldMap,
    base_url: str,
    postmortem_label: str,
    epic_keys: set[str | None],
    epic_of_incident: dict[str, str],
) -> pd.DataFrame:
    incident_ids = {str(i["id"]) for i in incidents}
    incident_by_key = {i.get("key"): str(i["id"]) for i in incidents}
    # Links are stored on both sides in Jira, but a batch may hold only one side: read both.
    linked_to_incident: dict[str, str] = {}
    for incident in incidents:
        for other in _linked_issues(incident.get("fields") or {}):
            linked_to_incident.setdefault(str(other.get("id")), str(incident["id"]))

    rows = []
    created, updated, resolved, due = [], [], [], []
    for issue in others:
        f = issue.get("fields") or {}
        labels = list(f.get("labels") or [])
        if postmortem_label not in labels or _is_epic(f.get("issuetype")) or str(issue["id"]) in incident_ids:
            continue
        epic_key = _action_epic(f, fm, epic_keys)
        incident_id = epic_of_incident.get(epic_key) if epic_key else None
        if incident_id is None:
            incident_id = linked_to_incident.get(str(issue["id"]))
        if incident_id is None:
            for other in _linked_issues(f):
                found = incident_by_key.get(other.get("key"))
                if found or str(other.get("id")) in incident_ids:
                    incident_id = found or str(other.get("id"))
                    break
        status = f.get("status") or {}
        assignee = f.get("assignee")
        key = issue.get("key")
        rows.append((
            str(issue["id"]), key, incident_id, epic_key, f.get("summary"),
            _name(assignee), _user_id(assignee),
            _name(f.get(fm.team)) if fm.team else None,
            status.get("name"), (status.get("statusCategory") or {}).get("key"), _name(f.get("priority")),
            labels,
            to_text(f.get(fm.success_metric)) if fm.success_metric else None,
            to_text(f.get(fm.verification)) if fm.verification else None,
            _name(f.get(fm.action_type)) if fm.action_type else None,
            f"{base_url}/browse/{key}",
        ))  # fmt: skip
        created.append(f.get("created"))
        updated.append(f.get("updated"))
        resolved.append(f.get("resolutiondate"))
        due.append(f.get("duedate"))
    names = [
        "issue_id", "key", "incident_id", "epic_key", "summary", "owner", "owner_id", "team", "status",
        "status_category", "priority", "labels", "success_metric", "verification_method", "action_type", "url",
    ]  # fmt: skip
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    frame["due_date"] = pd.Series(_dates(due), index=frame.index, dtype=object)
    frame["created_at"] = _times(created, "action created")
    frame["updated_at"] = _times(updated, "action updated")
    frame["resolved_at"] = _times(resolved, "action resolutiondate")
    return frame[ACTION_COLUMNS]


def _action_epic(f: dict[str, Any], fm: FieldMap, epic_keys: set[str | None]) -> str | None:
    """The epic an action sits under: Data Center's Epic Link field, else Cloud's ``parent``."""
    if fm.epic_link:
        value = f.get(fm.epic_link)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and value.get("key"):
            return value["key"]
    parent = f.get("parent")
    if isinstance(parent, dict) and parent.get("key"):
        issue_type = (parent.get("fields") or {}).get("issuetype")
        # A sub-task's parent is its task, not an epic; when the payload omits the type, trust it.
        if issue_type is None or _is_epic(issue_type) or parent["key"] in epic_keys:
            return parent["key"]
    return None

"""Jira issue JSON -> the rows of ``incidents``, ``actions`` and ``incident_events``.

No I/O: what Jira's REST API returns (Data Center v2 and Cloud v3 alike) in, frames out. The HTTP side merges
paged changelogs and comments into each incident before calling ``transform``, and the demo feeds the
generated sample site through the same function, so both paths produce the same rows. Incidents and their
events are flattened in an in-memory DuckDB (``flatten``); action candidates are few and keep the plain dict
code here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pirlib.errors import InputError
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.flatten import Workspace, flatten
from pirlib.jira_sync.rows import ACTION_COLUMNS, EVENT_COLUMNS, INCIDENT_COLUMNS, Batch, parse_time
from pirlib.jira_sync.spool import Ledger, LedgerMap, LedgerSet, TableSpool
from pirlib.jira_sync.text import to_text

__all__ = ["ACTION_SLICE", "Transformer", "transform"]

# Action rows per batch of a sync's load (``Transformer.action_batches``).
ACTION_SLICE = 20_000


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
    """Visible name of a select option, user, status, priority or plain value.

    The bulk load of incidents computes the same in SQL (``jname`` in ``flatten``); a test feeds both the
    same values. A list's own lists are no Jira value shape and are skipped, as SQL does."""
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
        names = [n for n in (_name(v) for v in value if not isinstance(v, list)) if n]
        return ", ".join(names) or None
    return str(value)


def _user_id(user: Any) -> str | None:
    # Cloud has only accountId (GDPR); Data Center identifies users by name.
    if not isinstance(user, dict):
        return None
    return user.get("accountId") or user.get("name") or user.get("key")


def _is_epic(issue_type: Any) -> bool:
    if not isinstance(issue_type, dict):
        return False
    return issue_type.get("name") == "Epic" or issue_type.get("hierarchyLevel") == 1


def _linked_issues(fields: dict[str, Any]) -> list[dict[str, Any]]:
    links = fields.get("issuelinks") or []
    return [other for link in links for other in (link.get("outwardIssue"), link.get("inwardIssue")) if other]


# --- transform --------------------------------------------------------------------------------------------


def transform(
    incidents: list[dict[str, Any]] | list[str] | list[bytes] | str | bytes,
    others: list[dict[str, Any]],
    fields: FieldMap,
    *,
    base_url: str,
    postmortem_label: str = "postmortem",
) -> Batch:
    """Rows for the incidents, their timeline events and their actions.

    ``incidents`` carry their full changelog and comments, either as parsed dicts or as the JSON text Jira
    sent: one text or a list of texts, each a search page ``{"issues": [...]}`` or a JSON array of issues.
    Text skips building and re-encoding Python dicts, the larger part of a big sync's transform. ``others``
    are the epics and action candidates the sync read alongside. An action's ``incident_id`` stays None
    when its epic belongs to an incident outside this batch; ``load_batch`` links it up from the table.
    """
    transformer = Transformer(others, fields, base_url=base_url, postmortem_label=postmortem_label)
    try:
        batch = transformer.incidents(incidents)
        batch.actions = transformer.actions().actions
    finally:
        transformer.close()
    return batch


class Transformer:
    """One sync's transform in parts: incidents (with their events) chunk by chunk, then the actions once.

    A large sync is written in chunks so that only one chunk's rows are in memory at a time
    (``batches``); the actions come last because finding an action's incident needs every incident's
    epic and links, which each ``incidents`` call collects.
    """

    def __init__(
        self,
        others: list[dict[str, Any]],
        fields: FieldMap,
        *,
        base_url: str,
        postmortem_label: str = "postmortem",
        spool_folder: Path | None = None,
    ) -> None:
        self.fields = fields
        self.base_url = base_url.rstrip("/")
        self.postmortem_label = postmortem_label
        # The action candidates' row values, a table per page (``add_others``): columnar, not the dicts Jira
        # sent, and with ``spool_folder`` (a sync) on disk until the actions are built: a site's hundreds of
        # thousands of actions are about 0.5 KB each, 200 MB at 100,000 incidents.
        self.candidates = TableSpool(_CANDIDATE_SCHEMA, spool_folder)
        # A sync flattens its chunks in a DuckDB of its own, memory capped, spilling beside the database.
        self.workspace = Workspace(spool_folder) if spool_folder is not None else None
        # What the actions need to know about every epic and incident seen so far, and the ids seen: in a
        # ledger (SQLite), not Python sets and dicts, so that a run's memory does not grow with the site.
        self._ledger = Ledger()
        self.epic_keys = self._ledger.set("epic_keys")
        self.epics_by_label = self._ledger.map("epics_by_label")
        self.incident_ids = self._ledger.set("incident_ids")
        self.incident_by_key = self._ledger.map("incident_by_key")
        self.linked_to_incident = self._ledger.map("linked_to_incident")
        self.epic_of_incident = self._ledger.map("epic_of_incident")
        self.action_ids = self._ledger.set("action_ids")
        self.add_others(others)

    def add_others(self, others: list[dict[str, Any]]) -> None:
        """Take in epics and action candidates (a sync hands them over page by page, before the incidents
        that need them); only the values their rows need are kept, not the issues."""
        for issue in others:
            f = issue.get("fields") or {}
            if _is_epic(f.get("issuetype")):
                self.epic_keys.add(issue.get("key"))
                for label in f.get("labels") or []:
                    if label != self.postmortem_label:
                        self.epics_by_label.setdefault(label, issue["key"])
        rows = [
            _candidate(issue, self.fields, self.base_url)
            for issue in others
            if not _is_epic((issue.get("fields") or {}).get("issuetype"))
            and self.postmortem_label in ((issue.get("fields") or {}).get("labels") or [])
        ]
        if rows:
            self.candidates.append(pa.Table.from_pylist(rows, schema=_CANDIDATE_SCHEMA))

    def close(self) -> None:
        """Remove what the transformer parked on disk."""
        self.candidates.close()
        self._ledger.close()
        if self.workspace is not None:
            self.workspace.close()

    def batches(
        self, chunks: Iterable[list[dict[str, Any]] | list[str] | list[bytes] | str | bytes]
    ) -> Iterator[Batch]:
        """A batch of incidents and events per chunk of incidents, then one batch of the actions."""
        for chunk in chunks:
            yield self.incidents(chunk)
        yield from self.action_batches(ACTION_SLICE)

    def incidents(self, incidents: list[dict[str, Any]] | list[str] | list[bytes] | str | bytes) -> Batch:
        """Incident and event rows of these incidents (no actions); remembers what ``actions`` needs."""
        incident_table, event_table, links = flatten(incidents, self.fields, self.base_url, self.workspace)
        incident_frame = _frame(incident_table, INCIDENT_COLUMNS)
        events = _frame(event_table, EVENT_COLUMNS)
        del incident_table, event_table

        # What needs Python: the epic an incident's actions sit under (labels and links), read per incident.
        incident_ids = incident_frame["issue_id"].tolist()
        epic_column: list[str | None] = [None] * len(incident_ids)
        label_lists = incident_frame["labels"].tolist() if self.epics_by_label else None
        for row, incident_id in enumerate(incident_ids):
            text = links[row]
            linked = _linked_issues({"issuelinks": json.loads(text)}) if text is not None and text != "[]" else []
            for other in linked:
                self.linked_to_incident.setdefault(str(other.get("id")), incident_id)
            labels = list(label_lists[row]) if label_lists is not None and label_lists[row] is not None else []
            epic_key = (
                _incident_epic(
                    {"issuelinks": [{"outwardIssue": o} for o in linked]},
                    labels,
                    self.postmortem_label,
                    self.epic_keys,
                    self.epics_by_label,
                )
                if linked or labels
                else None
            )
            if epic_key:
                self.epic_of_incident[epic_key] = incident_id
                epic_column[row] = epic_key
        incident_frame["epic_key"] = pd.Series(epic_column, index=incident_frame.index, dtype="str")
        self.incident_ids.update(incident_ids)
        self.incident_by_key.update(zip(incident_frame["key"].tolist(), incident_ids, strict=True))
        return Batch(incident_frame, pd.DataFrame(columns=ACTION_COLUMNS), events)

    def actions(self) -> Batch:
        """Action rows of the candidates, linked to the incidents every ``incidents`` call has seen."""
        (batch,) = self.action_batches(slice_rows=None)
        return batch

    def action_batches(self, slice_rows: int | None) -> Iterator[Batch]:
        """``actions`` in batches of ``slice_rows`` candidates (None: one), each linked and built on its
        own, so that a site's actions are never all rows of Python objects at once."""
        self.action_ids.clear()
        empty = Batch.empty()
        for number, table in enumerate(self.candidates.slices(slice_rows)):
            part, incident_ids, epic_keys = _action_links(
                table,
                self.incident_ids,
                self.incident_by_key,
                self.linked_to_incident,
                self.epic_keys,
                self.epic_of_incident,
            )
            self.action_ids.update(part.column("issue_id").to_pylist())
            if len(part) or number == 0:
                yield Batch(empty.incidents, _action_frame(part, incident_ids, epic_keys), empty.events)


def _incident_epic(
    f: dict[str, Any],
    labels: list[str],
    postmortem_label: str,
    epic_keys: LedgerSet,
    epics_by_label: LedgerMap,
) -> str | None:
    """The incident's action epic: a linked epic, else an epic carrying the incident's own label."""
    for other in _linked_issues(f):
        if other.get("key") in epic_keys or _is_epic((other.get("fields") or {}).get("issuetype")):
            return other.get("key")
    for label in labels:
        if label != postmortem_label and label in epics_by_label:
            return epics_by_label[label]
    return None


def _frame(table: pa.Table, columns: list[str]) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in ("customer_impact", "regulatory"):
        if column in frame:
            frame[column] = frame[column].astype("boolean")
    for column, kind in zip(table.schema.names, table.schema.types, strict=True):
        if pa.types.is_timestamp(kind):
            frame[column] = frame[column].astype("datetime64[us, UTC]")
    if "epic_key" in columns and "epic_key" not in frame:
        frame["epic_key"] = pd.Series(None, index=frame.index, dtype="str")
    return frame[columns]


_ACTION_NAMES = [
    "issue_id",
    "key",
    "incident_id",
    "epic_key",
    "summary",
    "owner",
    "owner_id",
    "owner_email",
    "team",
    "status",
    "status_category",
    "priority",
    "labels",
    "success_metric",
    "verification_method",
    "action_type",
    "url",
]


# An action candidate: its row (``_ACTION_NAMES``; incident_id and epic_key are found in ``_action_rows``),
# Jira's timestamps as sent, and what finds its epic and incident once every issue is read: Data Center's
# Epic Link, Cloud's parent (``parent_is_epic``: the parent's type says epic, or the payload leaves it out)
# and the (key, id) of the issues it links to.
_CANDIDATE_SCHEMA = pa.schema(
    [(name, pa.list_(pa.string()) if name == "labels" else pa.string()) for name in _ACTION_NAMES]
    + [(name, pa.string()) for name in ("created", "updated", "resolutiondate", "duedate", "epic_link", "parent")]
    + [("parent_is_epic", pa.bool_()), ("linked_keys", pa.list_(pa.string())), ("linked_ids", pa.list_(pa.string()))]
)


def _candidate(issue: dict[str, Any], fm: FieldMap, base_url: str) -> dict[str, Any]:
    f = issue.get("fields") or {}
    status = f.get("status") or {}
    assignee = f.get("assignee")
    key = issue.get("key")
    epic_link = None
    if fm.epic_link:
        value = f.get(fm.epic_link)
        if isinstance(value, str) and value:
            epic_link = value
        elif isinstance(value, dict) and value.get("key"):
            epic_link = value["key"]
    parent = f.get("parent")
    parent_key, parent_is_epic = None, False
    if isinstance(parent, dict) and parent.get("key"):
        parent_key = parent["key"]
        issue_type = (parent.get("fields") or {}).get("issuetype")
        # A sub-task's parent is its task, not an epic; when the payload omits the type, trust it.
        parent_is_epic = issue_type is None or _is_epic(issue_type)
    linked = _linked_issues(f)
    return {
        "issue_id": str(issue["id"]),
        "key": key,
        "incident_id": None,
        "epic_key": None,
        "summary": f.get("summary"),
        "owner": _name(assignee),
        "owner_id": _user_id(assignee),
        "owner_email": assignee.get("emailAddress") if isinstance(assignee, dict) else None,
        "team": _name(f.get(fm.team)) if fm.team else None,
        "status": status.get("name"),
        "status_category": (status.get("statusCategory") or {}).get("key"),
        "priority": _name(f.get("priority")),
        "labels": list(f.get("labels") or []),
        "success_metric": to_text(f.get(fm.success_metric)) if fm.success_metric else None,
        "verification_method": to_text(f.get(fm.verification)) if fm.verification else None,
        "action_type": _name(f.get(fm.action_type)) if fm.action_type else None,
        "url": f"{base_url}/browse/{key}",
        "created": f.get("created"),
        "updated": f.get("updated"),
        "resolutiondate": f.get("resolutiondate"),
        "duedate": f.get("duedate"),
        "epic_link": epic_link,
        "parent": parent_key,
        "parent_is_epic": parent_is_epic,
        "linked_keys": [other.get("key") for other in linked],
        "linked_ids": [str(other.get("id")) for other in linked],
    }


def _action_links(
    table: pa.Table,
    incident_ids: LedgerSet,
    incident_by_key: LedgerMap,
    linked_to_incident: LedgerMap,
    epic_keys: LedgerSet,
    epic_of_incident: LedgerMap,
) -> tuple[pa.Table, list[str | None], list[str | None]]:
    """The candidates that are actions, and each one's incident and epic."""
    # Links are stored on both sides in Jira, but a batch may hold only one side: ``linked_to_incident``
    # holds the incidents' side, the action's own links are read below.
    column = {
        name: table.column(name).to_pylist()
        for name in ("issue_id", "epic_link", "parent", "parent_is_epic", "linked_keys", "linked_ids")
    }
    keep, incident_column, epic_column = [], [], []
    for row, issue_id in enumerate(column["issue_id"]):
        if issue_id in incident_ids:
            continue
        epic_key, parent = column["epic_link"][row], column["parent"][row]
        if epic_key is None and parent and (column["parent_is_epic"][row] or parent in epic_keys):
            epic_key = parent
        incident_id = epic_of_incident.get(epic_key) if epic_key else None
        if incident_id is None:
            incident_id = linked_to_incident.get(issue_id)
        if incident_id is None:
            for key, other_id in zip(column["linked_keys"][row], column["linked_ids"][row], strict=True):
                found = incident_by_key.get(key)
                if found or other_id in incident_ids:
                    incident_id = found or other_id
                    break
        keep.append(row)
        incident_column.append(incident_id)
        epic_column.append(epic_key)
    if len(keep) < len(table):
        table = table.take(pa.array(keep, pa.int64()))
    return table, incident_column, epic_column


def _action_frame(table: pa.Table, incident_ids: list[str | None], epic_keys: list[str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series(table.column(name).to_pylist(), dtype=object) for name in _ACTION_NAMES}, columns=_ACTION_NAMES
    )
    frame["incident_id"] = pd.Series(incident_ids, index=frame.index, dtype=object)
    frame["epic_key"] = pd.Series(epic_keys, index=frame.index, dtype=object)
    frame["due_date"] = pd.Series(_dates(table.column("duedate").to_pylist()), index=frame.index, dtype=object)
    frame["created_at"] = _times(table.column("created").to_pylist(), "action created")
    frame["updated_at"] = _times(table.column("updated").to_pylist(), "action updated")
    frame["resolved_at"] = _times(table.column("resolutiondate").to_pylist(), "action resolutiondate")
    return frame[ACTION_COLUMNS]

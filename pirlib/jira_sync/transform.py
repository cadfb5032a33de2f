"""Jira issue JSON -> the rows of ``incidents``, ``actions`` and ``incident_events``.

Pure functions over what Jira's REST API returns (Data Center v2 and Cloud v3 alike); no I/O. The HTTP
side merges paged changelogs and comments into each incident before calling ``transform``, and the demo
feeds the generated sample site through the same function, so both paths produce the same rows.

A full sync flattens about a million changelog items. Walking them as Python dicts (and building those
dicts with ``json.loads``) was most of a large load, so incidents and their events are flattened in an
in-memory DuckDB from the JSON text (given as text, or encoded once from dicts): each issue is parsed once
into a typed struct, changelog items are unnested in SQL, and only rich text (descriptions and comment
bodies, wiki markup or ADF) comes back to Python for ``to_text``. Action candidates are few and keep the
plain dict code.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from pirlib.errors import InputError, PirError
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.text import to_text

__all__ = ["Batch", "INCIDENT_COLUMNS", "ACTION_COLUMNS", "EVENT_COLUMNS", "CHUNK_ISSUES", "Transformer", "parse_time", "plan_chunks", "transform"]

INCIDENT_COLUMNS = [
    "issue_id", "key", "project_key", "summary", "description", "severity", "failure_mode", "service",
    "status", "status_category", "priority", "components", "labels", "commander", "assignee", "reporter",
    "created_at", "updated_at", "resolved_at", "started_at", "detected_at", "mitigated_at", "epic_key",
    "customer_impact", "regulatory", "url", "raw",
]  # fmt: skip
ACTION_COLUMNS = [
    "issue_id", "key", "incident_id", "epic_key", "summary", "owner", "owner_id", "owner_email", "team",
    "status", "status_category", "priority", "due_date", "created_at", "updated_at", "resolved_at", "labels",
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


def _is_epic(issue_type: Any) -> bool:
    if not isinstance(issue_type, dict):
        return False
    return issue_type.get("name") == "Epic" or issue_type.get("hierarchyLevel") == 1


def _linked_issues(fields: dict[str, Any]) -> list[dict[str, Any]]:
    links = fields.get("issuelinks") or []
    return [other for link in links for other in (link.get("outwardIssue"), link.get("inwardIssue")) if other]


_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


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
    batch = transformer.incidents(incidents)
    batch.actions = transformer.actions().actions
    return batch


class Transformer:
    """One sync's transform in parts: incidents (with their events) chunk by chunk, then the actions once.

    A large sync is written in chunks so that only one chunk's rows are in memory at a time
    (``batches``); the actions come last because finding an action's incident needs every incident's
    epic and links, which each ``incidents`` call collects.
    """

    def __init__(self, others: list[dict[str, Any]], fields: FieldMap, *, base_url: str,
                 postmortem_label: str = "postmortem") -> None:  # fmt: skip
        self.others = others
        self.fields = fields
        self.base_url = base_url.rstrip("/")
        self.postmortem_label = postmortem_label
        epics = [o for o in others if _is_epic((o.get("fields") or {}).get("issuetype"))]
        self.epic_keys = {e.get("key") for e in epics}
        self.epics_by_label: dict[str, str] = {}
        for epic in epics:
            for label in (epic.get("fields") or {}).get("labels") or []:
                if label != postmortem_label:
                    self.epics_by_label.setdefault(label, epic["key"])
        # What the actions need to know about every incident seen so far.
        self.incident_ids: set[str] = set()
        self.incident_by_key: dict[str | None, str] = {}
        self.linked_to_incident: dict[str, str] = {}
        self.epic_of_incident: dict[str, str] = {}
        self.action_ids: set[str] = set()

    def batches(self, chunks: Iterable[list[dict[str, Any]] | list[str] | list[bytes] | str | bytes]) -> Iterator[Batch]:
        """A batch of incidents and events per chunk of incidents, then one batch of the actions."""
        for chunk in chunks:
            yield self.incidents(chunk)
        yield self.actions()

    def incidents(self, incidents: list[dict[str, Any]] | list[str] | list[bytes] | str | bytes) -> Batch:
        """Incident and event rows of these incidents (no actions); remembers what ``actions`` needs."""
        texts = _texts_of(incidents)
        groups = _groups(texts)
        fm, base_url = self.fields, self.base_url
        if len(groups) > 1 and _WORKERS > 1:
            with ThreadPoolExecutor(_WORKERS) as pool:
                parts = list(pool.map(lambda group: _flatten(group, fm, base_url), groups))
        else:
            parts = [_flatten(group, fm, base_url) for group in groups]
        del texts, groups
        incident_frame = _frame(pa.concat_tables([p[0] for p in parts]), INCIDENT_COLUMNS)
        events = _frame(pa.concat_tables([p[1] for p in parts]), EVENT_COLUMNS)
        links = [link for p in parts for link in p[2]]
        del parts

        # What needs Python: the epic an incident's actions sit under (labels and links), read per incident.
        incident_ids = incident_frame["issue_id"].tolist()
        epic_column: list[str | None] = [None] * len(incident_ids)
        label_lists = incident_frame["labels"].tolist() if self.epics_by_label else None
        for row, incident_id in enumerate(incident_ids):
            linked = _linked_issues({"issuelinks": json.loads(links[row])}) if links[row] not in (None, "[]") else []
            for other in linked:
                self.linked_to_incident.setdefault(str(other.get("id")), incident_id)
            labels = list(label_lists[row]) if label_lists is not None and label_lists[row] is not None else []
            epic_key = _incident_epic({"issuelinks": [{"outwardIssue": o} for o in linked]}, labels,
                                      self.postmortem_label, self.epic_keys, self.epics_by_label) if linked or labels else None  # fmt: skip
            if epic_key:
                self.epic_of_incident[epic_key] = incident_id
                epic_column[row] = epic_key
        incident_frame["epic_key"] = pd.Series(epic_column, index=incident_frame.index, dtype="str")
        self.incident_ids.update(incident_ids)
        self.incident_by_key.update(zip(incident_frame["key"].tolist(), incident_ids, strict=True))
        return Batch(incident_frame, pd.DataFrame(columns=ACTION_COLUMNS), events)

    def actions(self) -> Batch:
        """Action rows of ``others``, linked to the incidents every ``incidents`` call has seen."""
        actions = _action_rows(
            self.incident_ids, self.incident_by_key, self.linked_to_incident, self.others, self.fields,
            self.base_url, self.postmortem_label, self.epic_keys, self.epic_of_incident,
        )  # fmt: skip
        self.action_ids = set(actions["issue_id"].astype(str))
        empty = Batch.empty()
        return Batch(empty.incidents, actions, empty.events)


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


# --- flattening in DuckDB ----------------------------------------------------------------------------------
#
# A full sync flattens about a million changelog items. Python spends more time building the dicts of
# that JSON (json.loads) and walking them than DuckDB needs to parse the text and unnest it in C++, so the
# incidents and their events are flattened in an in-memory DuckDB: every issue is parsed once into a typed
# struct (fields whose shape varies per site stay small JSON values), and only rich text (descriptions,
# comment bodies: wiki markup or ADF) comes back to Python for ``to_text``.

_USER = {"displayName": "VARCHAR"}
_ITEM = {"field": "VARCHAR", "fieldId": "VARCHAR", "fromString": "VARCHAR", "toString": "VARCHAR"}
_HISTORY = {"id": "VARCHAR", "created": "VARCHAR", "author": _USER, "items": [_ITEM]}
_COMMENT = [{"id": "VARCHAR", "created": "VARCHAR", "author": _USER, "body": "JSON"}]
# Standard fields read by the incident rows; custom fields are added per site as JSON (see _Flattener).
_FIELDS = {
    "summary": "VARCHAR", "description": "JSON", "project": {"key": "VARCHAR"},
    "status": {"name": "VARCHAR", "statusCategory": {"key": "VARCHAR"}}, "priority": "JSON",
    "components": [{"name": "VARCHAR"}], "labels": ["VARCHAR"], "assignee": "JSON", "reporter": "JSON",
    "created": "VARCHAR", "updated": "VARCHAR", "resolutiondate": "VARCHAR", "issuelinks": "JSON",
    "comment": "JSON",
}  # fmt: skip

# _name() of a JSON value whose shape differs per site: a string, an option or user object, a number or
# a list of those.
# Values of a yes/no select read as true / false (compared trimmed and lower-cased; "not ..." is false).
# jflag binds the name to a lambda's parameter so that it is worked out once, not once per comparison (a
# macro's argument is substituted, and evaluated, wherever it occurs): 2.3x faster.
_TRUE = {"yes", "true", "y", "required", "1"}
_FALSE = {"no", "false", "n", "not required", "none", "0", "not-required"}
_MACROS = r"""
CREATE MACRO jname1(x) AS CASE json_type(x)
    WHEN 'VARCHAR' THEN x->>'$'
    WHEN 'OBJECT' THEN coalesce(
        CASE WHEN json_type(x, '$.value') = 'VARCHAR' THEN x->>'$.value' END,
        CASE WHEN json_type(x, '$.displayName') = 'VARCHAR' THEN x->>'$.displayName' END,
        CASE WHEN json_type(x, '$.name') = 'VARCHAR' THEN x->>'$.name' END,
        CASE WHEN json_type(x, '$.title') = 'VARCHAR' THEN x->>'$.title' END)
    WHEN 'BOOLEAN' THEN CASE WHEN x::VARCHAR = 'true' THEN 'True' ELSE 'False' END
    WHEN 'NULL' THEN NULL
    WHEN 'ARRAY' THEN NULL
    ELSE x->>'$' END;
CREATE MACRO jname(x) AS CASE WHEN json_type(x) = 'ARRAY'
    THEN nullif(array_to_string(list_filter(list_transform(from_json(x, '["JSON"]'), lambda e: jname1(e)),
                                            lambda e: e IS NOT NULL AND e <> ''), ', '), '')
    ELSE jname1(x) END;
CREATE MACRO jflag(x) AS CASE
    WHEN json_type(x) = 'BOOLEAN' THEN x::VARCHAR = 'true'
    ELSE list_transform([lower(trim(jname(x)))], lambda s: CASE
        WHEN s IN ({true}) THEN true WHEN s IN ({false}) OR starts_with(s, 'not ') THEN false END)[1]
    END;
CREATE MACRO ts(x) AS try_cast(nullif(x, '') AS TIMESTAMPTZ);
""".format(
    true=", ".join(f"'{word}'" for word in sorted(_TRUE)), false=", ".join(f"'{word}'" for word in sorted(_FALSE))
)

# The top-level keys of Jira's issue bean that ``raw`` keeps (all but the changelog), in Jira's order.
_TOP_LEVEL = ("expand", "id", "self", "key", "fields", "renderedFields", "properties", "names", "schema",
              "transitions", "operations", "editmeta", "versionedRepresentations", "fieldsToInclude")  # fmt: skip

_CUSTOM = ("severity", "failure_mode", "commander", "customer_impact", "regulatory", "incident_start")


# Texts of about this size are flattened together: big enough that per-query overhead vanishes, small
# enough that DuckDB's working copy of them stays a few hundred MB.
_GROUP_CHARS = 24_000_000
# Groups are flattened on this many threads, each in its own cursor (DuckDB releases the GIL while it works).
_WORKERS = 2
# Incidents per chunk of a large sync (``Transformer.batches``): a chunk's incidents and its events (about
# 11 per incident in a typical site) are then each at least a row group (``db.ROW_GROUP_SIZE``), which
# DuckDB writes straight into the database file instead of through the write-ahead log and a checkpoint.
CHUNK_ISSUES = 25_000


def plan_chunks(count: int, chunk: int | None = None) -> tuple[list[tuple[int, int]], int | None]:
    """The (start, size) of each chunk of a load of ``count`` incidents, and the ``commit_every`` for
    ``load.load_batches`` that commits after each of them (None: one chunk, one transaction).

    Chunks take ``chunk`` (default ``CHUNK_ISSUES``) incidents, except that the last chunk's worth is split
    into two halves: the last chunk's write and commit have no transform left to overlap, so a smaller one
    waits less (bench/bench_load.py: 100k incidents in 25k chunks spent 2.1 s writing the last one).
    """
    chunk = chunk or CHUNK_ISSUES
    if count <= chunk:
        return [(0, count)] if count else [], None
    sizes = []
    while count > chunk + chunk // 2:
        sizes.append(chunk)
        count -= chunk
    half = count // 2
    sizes += [count - half, half]
    return list(zip(itertools.accumulate(sizes, initial=0), sizes)), min(sizes)


_IS_ARRAY = re.compile(r"\s*\[")


def _groups(texts: list[str]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    size = 0
    for text in texts:
        if size >= _GROUP_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += len(text)
    return groups


_database_lock = threading.Lock()
_database_connection: duckdb.DuckDBPyConnection | None = None


def _database() -> duckdb.DuckDBPyConnection:
    """The process's in-memory DuckDB for flattening; each flattening works in its own cursor's temp tables.

    Kept for the life of the process: a fresh database per batch spent a good part of its time on first
    touching the memory it allocates.
    """
    global _database_connection
    with _database_lock:
        if _database_connection is None:
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            con.execute(_MACROS)
            _database_connection = con
        return _database_connection


def _flatten(texts: list[str], fm: FieldMap, base_url: str) -> tuple[pa.Table, pa.Table, list[str | None]]:
    with _Flattener(texts, fm) as flat:
        incidents, links = flat.incidents(base_url)
        return incidents, flat.events(), links


class _Flattener:
    """An in-memory DuckDB holding a group of incident JSON texts, parsed once; closed on exit."""

    def __init__(self, texts: list[str], fm: FieldMap) -> None:
        self.fm = fm
        self.con = _database().cursor()
        try:
            self._load(texts)
        except BaseException:
            self.con.close()
            raise

    def _load(self, texts: list[str]) -> None:
        fm = self.fm
        structure = dict(_FIELDS)
        self.custom: dict[str, str | None] = {}
        for name in _CUSTOM:
            field_id = getattr(fm, name)
            if field_id and structure.get(field_id, "JSON") == "JSON":
                structure[field_id] = "JSON"
                self.custom[name] = f'i.fields."{field_id.replace(chr(34), "")}"'
            elif field_id:  # a custom field that is a standard field read with a fixed shape: read it as JSON
                self.custom[name] = f"json_extract(raws.raw, {_sql_string('$.fields.' + json.dumps(field_id))})"
            else:
                self.custom[name] = None
        # Each issue is parsed once from the page: its top-level values as JSON (kept for ``raw``), the
        # changelog typed; then only ``fields`` is parsed again, into its typed struct.
        top = {key: "JSON" for key in _TOP_LEVEL} | {"changelog": {"histories": [_HISTORY], "values": [_HISTORY]}}
        raw_parts = ", ".join(f"{_sql_string(json.dumps(key) + ':')} || i.{_quoted(key)}" for key in _TOP_LEVEL)
        # Each text is a JSON array of issues or a search page {"issues": [...]}.
        arrays = [_IS_ARRAY.match(text) is not None for text in texts]
        self.con.register("texts", pa.table({"t": pa.array(texts, pa.large_string()), "is_array": arrays}))
        try:
            self.con.execute(
                f"CREATE TEMP TABLE top AS SELECT unnest(from_json(t, {_sql_string(json.dumps([top]))})) AS i"
                " FROM texts WHERE is_array"
                f" UNION ALL SELECT unnest(from_json(t, {_sql_string(json.dumps({'issues': [top]}))}).issues)"
                " FROM texts WHERE NOT is_array"
            )
            self.con.execute(
                "CREATE TEMP TABLE issues AS SELECT {'id': i.id->>'$', 'key': i.key->>'$',"
                f" 'fields': from_json(i.fields, {_sql_string(json.dumps(structure))})}} AS i"
                " FROM top"
            )
            # ``raw`` is the issue without its changelog (stored as events already, and most of its size).
            self.con.execute(f"CREATE TEMP TABLE raws AS SELECT '{{' || concat_ws(',', {raw_parts}) || '}}' AS raw FROM top")
            # ``top`` stays until the changelog is read from it (``_changelog``): copying the changelog into
            # ``issues`` took a fifth of the time of flattening.
        except duckdb.OutOfMemoryException as exc:
            raise PirError(f"out of memory while reading the Jira issues ({str(exc).splitlines()[0]}); "
                           "free some memory and run again") from None  # fmt: skip
        except duckdb.Error as exc:
            raise InputError(f"the Jira issues are not valid JSON ({str(exc).splitlines()[0]})") from None
        finally:
            self.con.unregister("texts")
        missing = self.con.execute("SELECT count(*) FROM issues WHERE i.id IS NULL").fetchall()[0][0]
        if missing:
            raise InputError(f"{missing} Jira issue(s) without an id; every issue from Jira's REST API has one")

    def __enter__(self) -> _Flattener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _table(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def _check_times(self, table: str, pairs: list[tuple[str, str, str]]) -> None:
        """Raise InputError naming the first text in ``table`` that is not a timestamp."""
        for text_column, time_column, what in pairs:
            (bad,) = self.con.execute(
                f"SELECT min({text_column}) FROM {table}"
                f" WHERE {time_column} IS NULL AND {text_column} IS NOT NULL AND {text_column} <> ''"
            ).fetchall()[0]
            if bad is not None:
                parse_time(bad)  # raises InputError naming the value
                raise InputError(f"{what}: {bad!r} could not be read as a timestamp; expected ISO 8601")

    def incidents(self, base_url: str) -> tuple[pa.Table, list[str | None]]:
        c = self.custom
        start = "i.fields.created"
        if c["incident_start"]:
            start = f"coalesce(nullif({c['incident_start']}->>'$', ''), i.fields.created)"

        def name(column: str | None) -> str:
            return f"jname({column})" if column else "NULL::VARCHAR"

        def flag(column: str | None) -> str:
            return f"jflag({column})" if column else "NULL::BOOLEAN"

        self.con.execute(f"""
            CREATE TEMP TABLE incident_rows AS SELECT
                row_number() OVER () AS position,
                i.id AS issue_id, i.key AS key,
                coalesce(i.fields.project.key, regexp_extract(i.key, '^(.*)-[^-]*$', 1)) AS project_key,
                i.fields.summary AS summary,
                json_type(i.fields.description) AS description_type,
                CASE WHEN json_type(i.fields.description) = 'VARCHAR' THEN i.fields.description->>'$'
                     ELSE i.fields.description::VARCHAR END AS description_json,
                {name(c['severity'])} AS severity, {name(c['failure_mode'])} AS failure_mode,
                list_filter(list_transform(i.fields.components, lambda x: x.name), lambda x: x IS NOT NULL) AS components,
                i.fields.status.name AS status, i.fields.status.statusCategory.key AS status_category,
                jname(i.fields.priority) AS priority,
                coalesce(i.fields.labels, []::VARCHAR[]) AS labels,
                {name(c['commander'])} AS commander,
                jname(i.fields.assignee) AS assignee, jname(i.fields.reporter) AS reporter,
                i.fields.created AS created_text, i.fields.updated AS updated_text,
                i.fields.resolutiondate AS resolved_text, {start} AS started_text,
                ts(i.fields.created) AS created_at, ts(i.fields.updated) AS updated_at,
                ts(i.fields.resolutiondate) AS resolved_at, ts({start}) AS started_at,
                {flag(c['customer_impact'])} AS customer_impact, {flag(c['regulatory'])} AS regulatory,
                i.fields.issuelinks::VARCHAR AS links,
                raws.raw
            FROM issues POSITIONAL JOIN raws
        """)  # fmt: skip
        self._check_times("incident_rows", [
            ("created_text", "created_at", "incident created"), ("updated_text", "updated_at", "incident updated"),
            ("resolved_text", "resolved_at", "incident resolutiondate"), ("started_text", "started_at", "incident start"),
        ])  # fmt: skip
        self._changelog()
        table = self._table(f"""
            SELECT r.issue_id, r.key, r.project_key, r.summary, r.severity, r.failure_mode,
                r.components[1] AS service, r.status, r.status_category, r.priority, r.components, r.labels,
                r.commander, r.assignee, r.reporter, r.created_at, r.updated_at, r.resolved_at, r.started_at,
                r.created_at AS detected_at, m.mitigated_at, r.customer_impact, r.regulatory,
                {_sql_string(base_url + '/browse/')} || r.key AS url, r.raw, r.description_type, r.description_json,
                r.links
            FROM incident_rows AS r
            LEFT JOIN (SELECT incident_id, min(occurred_at) AS mitigated_at FROM changelog
                       WHERE milestone = 'mitigated' GROUP BY incident_id) AS m ON m.incident_id = r.issue_id
            ORDER BY r.position
        """)  # fmt: skip
        descriptions = _texts(table.column("description_type").to_pylist(), table.column("description_json").to_pylist())
        links = table.column("links").to_pylist()
        table = table.drop_columns(["description_type", "description_json", "links"])
        table = table.append_column("description", pa.array(descriptions, pa.string()))
        return table, links

    def _changelog(self) -> None:
        kinds = " ".join(f"WHEN {_sql_string(k)} THEN {_sql_string(v)}" for k, v in _KIND_BY_FIELD.items())
        milestones = " ".join(f"WHEN {_sql_string(k)} THEN {_sql_string(v)}" for k, v in MILESTONES.items())
        severity = f"item.fieldId = {_sql_string(self.fm.severity)}" if self.fm.severity else "false"
        self.con.execute(f"""
            CREATE TEMP TABLE changelog AS
            WITH histories AS (
                SELECT i.id->>'$' AS incident_id, unnest(CASE WHEN len(i.changelog.histories) > 0
                    THEN i.changelog.histories ELSE i.changelog."values" END) AS h
                FROM top
            ), items AS (
                SELECT incident_id, h.id AS history_id, h.created AS created_text, h.author.displayName AS actor,
                    unnest(h.items) AS item, unnest(range(len(h.items))) AS position
                FROM histories
            ), kinds AS (
                SELECT *, CASE WHEN {severity} THEN 'severity_change'
                    ELSE CASE lower(item.field) {kinds} ELSE 'field_change' END END AS kind
                FROM items
            )
            SELECT 'jira:changelog:' || history_id || ':' || position AS event_id, incident_id,
                ts(created_text) AS occurred_at, created_text, actor, kind,
                item.field AS field, item.fromString AS from_value, item.toString AS to_value,
                CASE WHEN kind = 'status_change' THEN CASE lower(item.toString) {milestones} END END AS milestone
            FROM kinds
        """)  # fmt: skip
        self.con.execute("DROP TABLE top")
        self._check_times("changelog", [("created_text", "occurred_at", "changelog created")])

    def events(self) -> pa.Table:
        self.con.execute(f"""
            CREATE TEMP TABLE comments AS
            WITH c AS (
                SELECT i.id AS incident_id, unnest(from_json(CASE json_type(i.fields.comment)
                    WHEN 'ARRAY' THEN i.fields.comment WHEN 'OBJECT' THEN i.fields.comment->'comments' END,
                    {_sql_string(json.dumps(_COMMENT))})) AS c
                FROM issues
            )
            SELECT 'jira:comment:' || c.id AS event_id, incident_id, c.created AS created_text,
                ts(c.created) AS occurred_at, c.author.displayName AS actor, json_type(c.body) AS body_type,
                CASE WHEN json_type(c.body) = 'VARCHAR' THEN c.body->>'$' ELSE c.body::VARCHAR END AS body
            FROM c
        """)  # fmt: skip
        self._check_times("comments", [("created_text", "occurred_at", "comment created")])
        comments = self._table("SELECT body_type, body FROM comments")
        texts = _texts(comments.column("body_type").to_pylist(), comments.column("body").to_pylist())
        self.con.register("comment_texts", pa.table({"text": pa.array(texts, pa.string())}))
        try:
            return self._table(
                "SELECT event_id, incident_id, occurred_at, 'jira_changelog' AS source, kind, actor, field,"
                " from_value, to_value, NULL::VARCHAR AS text, milestone FROM changelog"
                " UNION ALL BY NAME"
                " SELECT event_id, incident_id, occurred_at, 'jira_comment' AS source, 'comment' AS kind, actor,"
                " NULL::VARCHAR AS field, NULL::VARCHAR AS from_value, NULL::VARCHAR AS to_value, t.text,"
                " NULL::VARCHAR AS milestone"
                " FROM comments POSITIONAL JOIN comment_texts AS t"
            ).select(EVENT_COLUMNS)
        finally:
            self.con.unregister("comment_texts")


def _texts_of(incidents: list[dict[str, Any]] | list[str] | list[bytes] | str | bytes) -> list[str]:
    """The incidents as JSON texts: Jira's own text as it came, parsed dicts encoded again in slices."""
    if isinstance(incidents, (str, bytes, bytearray)):
        incidents = [incidents]  # type: ignore[list-item]
    if incidents and isinstance(incidents[0], (str, bytes, bytearray)):
        return [t.decode("utf-8") if isinstance(t, (bytes, bytearray)) else t for t in incidents]  # type: ignore[union-attr]
    step = 2_000
    return [_ENCODER.encode(incidents[n : n + step]) for n in range(0, len(incidents), step)] or ["[]"]


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


def _texts(types: list[str | None], values: list[str | None]) -> list[str | None]:
    """Plain text of rich-text JSON values: strings are wiki markup, objects ADF (``to_text`` on each)."""
    out: list[str | None] = []
    for kind, value in zip(types, values, strict=True):
        if value is None or kind is None or kind == "NULL":
            out.append(None)
        elif kind == "VARCHAR":
            out.append(to_text(value))
        else:
            out.append(to_text(json.loads(value)))
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _action_rows(
    incident_ids: set[str],
    incident_by_key: dict[str | None, str],
    linked_to_incident: dict[str, str],
    others: list[dict[str, Any]],
    fm: FieldMap,
    base_url: str,
    postmortem_label: str,
    epic_keys: set[str | None],
    epic_of_incident: dict[str, str],
) -> pd.DataFrame:
    # Links are stored on both sides in Jira, but a batch may hold only one side: ``linked_to_incident``
    # holds the incidents' side, the action's own links are read below.

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
            assignee.get("emailAddress") if isinstance(assignee, dict) else None,
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
        "issue_id", "key", "incident_id", "epic_key", "summary", "owner", "owner_id", "owner_email", "team",
        "status", "status_category", "priority", "labels", "success_metric", "verification_method",
        "action_type", "url",
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

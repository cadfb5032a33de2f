"""Jira incident JSON -> incident and event rows, flattened in an in-memory DuckDB.

A full sync flattens about a million changelog items. Python spends more time building the dicts of that
JSON (json.loads) and walking them than DuckDB needs to parse the text and unnest it in C++, so incidents and
their events are flattened here: every issue is parsed once into a typed struct (fields whose shape varies per
site stay small JSON values), changelog items are unnested in SQL, and only rich text (descriptions, comment
bodies: wiki markup or ADF) comes back to Python for ``to_text``. ``transform`` turns the tables into frames.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pirlib.errors import InputError, PirError
from pirlib.files import os_error
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.rows import EVENT_COLUMNS, KIND_BY_FIELD, MILESTONES, parse_time
from pirlib.jira_sync.text import to_text

__all__ = ["Workspace", "flatten", "to_json"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


def to_json(value: Any) -> str:
    """Compact JSON text of parsed Jira JSON, as ``flatten`` reads it."""
    return _ENCODER.encode(value)


_USER = {"displayName": "VARCHAR"}
_ITEM = {"field": "VARCHAR", "fieldId": "VARCHAR", "fromString": "VARCHAR", "toString": "VARCHAR"}
_HISTORY = {"id": "VARCHAR", "created": "VARCHAR", "author": _USER, "items": [_ITEM]}
_COMMENT = [{"id": "VARCHAR", "created": "VARCHAR", "author": _USER, "body": "JSON"}]
# Standard fields read by the incident rows; custom fields are added per site as JSON (see _Flattener).
_FIELDS = {
    "summary": "VARCHAR",
    "description": "JSON",
    "project": {"key": "VARCHAR"},
    "status": {"name": "VARCHAR", "statusCategory": {"key": "VARCHAR"}},
    "priority": "JSON",
    "components": [{"name": "VARCHAR"}],
    "labels": ["VARCHAR"],
    "assignee": "JSON",
    "reporter": "JSON",
    "created": "VARCHAR",
    "updated": "VARCHAR",
    "resolutiondate": "VARCHAR",
    "issuelinks": "JSON",
    "comment": "JSON",
}

# jname: transform._name() of a JSON value whose shape differs per site (a string, an option or user object,
# a number or a list of those), in SQL for the bulk load; test_transform feeds both the same values.
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
_TOP_LEVEL = (
    "expand",
    "id",
    "self",
    "key",
    "fields",
    "renderedFields",
    "properties",
    "names",
    "schema",
    "transitions",
    "operations",
    "editmeta",
    "versionedRepresentations",
    "fieldsToInclude",
)

_CUSTOM = ("severity", "failure_mode", "commander", "customer_impact", "regulatory", "incident_start")


# Texts of about this size are flattened together: big enough that per-query overhead vanishes, small
# enough that DuckDB's working copy of them stays a few hundred MB.
_GROUP_CHARS = 24_000_000
# Groups are flattened on this many threads, each in its own cursor (DuckDB releases the GIL while it works).
_WORKERS = 2


def flatten(
    incidents: list[dict[str, Any]] | list[str] | list[bytes] | str | bytes,
    fm: FieldMap,
    base_url: str,
    workspace: Workspace | None = None,
) -> tuple[pa.Table, pa.Table, list[str | None]]:
    """Incident rows, event rows and each incident's ``issuelinks`` JSON, in the order of ``incidents``.

    ``incidents`` are parsed dicts or Jira's JSON text (one text or a list, each a search page or an array).
    Groups of texts are flattened on ``_WORKERS`` threads, each in its own cursor of ``workspace`` (by default
    the process's).
    """
    space = workspace or _shared_workspace()
    groups = _groups(_texts_of(incidents))
    if len(groups) > 1 and _WORKERS > 1:
        with ThreadPoolExecutor(_WORKERS) as pool:
            parts = list(pool.map(lambda group: _flatten_group(group, fm, base_url, space), groups))
    else:
        parts = [_flatten_group(group, fm, base_url, space) for group in groups]
    del groups
    incidents_table = pa.concat_tables([p[0] for p in parts])
    events_table = pa.concat_tables([p[1] for p in parts])
    return incidents_table, events_table, [link for p in parts for link in p[2]]


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


# What a workspace's DuckDB may hold: a sync's chunk (``extract.READ_CHUNK_BYTES`` of JSON) takes about its size
# again while it is parsed and a few times its size as rows (measured by bench/bench_sync_memory.py); temp
# tables past the limit spill to the workspace's folder.
WORKSPACE_MEMORY_LIMIT = "192MB"
SHARED_MEMORY_LIMIT = "2GB"  # `pir demo` flattens its whole sample site (10,000 incidents for the benches) at once


class Workspace:
    """An in-memory DuckDB to flatten in, with its memory capped and its spill folder a private temporary folder
    in ``folder`` (a sync's: beside the database, like the spool), removed by ``close``.

    Without them an in-memory DuckDB may take 80 % of the machine's memory and spills into ``.tmp/`` in the
    working directory. Each flattening works in its own cursor's temp tables, dropped when it ends; one
    workspace serves a whole run, because a fresh database per chunk spent a good part of its time on first
    touching the memory it allocates."""

    def __init__(self, folder: Path | None = None, memory_limit: str = WORKSPACE_MEMORY_LIMIT) -> None:
        try:
            self.folder = Path(tempfile.mkdtemp(prefix=".pir-flatten-", dir=folder))
        except OSError as exc:
            where = folder or Path(tempfile.gettempdir())
            raise os_error(exc, where, "cannot create the sync's temporary folder") from None
        self.con = duckdb.connect(
            ":memory:", config={"memory_limit": memory_limit, "temp_directory": str(self.folder / "duckdb")}
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(_MACROS)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_process_workspace: Workspace | None = None
_process_workspace_lock = threading.Lock()


def _shared_workspace() -> Workspace:
    """The process's workspace for ``flatten`` calls given none (``transform``: the demo, the tests): in the
    system's temporary folder, with the memory of a whole sample site, and closed when the process exits."""
    global _process_workspace
    with _process_workspace_lock:
        if _process_workspace is None:
            _process_workspace = Workspace(memory_limit=SHARED_MEMORY_LIMIT)
            atexit.register(_process_workspace.close)
        return _process_workspace


def _severity_level(value: str, fm: FieldMap) -> str:
    """SQL for a severity field's value as the runbook's level (``FieldMap.severity_values``), else as is."""
    if not fm.severity_values:
        return value
    cases = " ".join(
        f"WHEN {_sql_string(jira.strip().lower())} THEN {_sql_string(level)}" for jira, level in fm.severity_values
    )
    return f"coalesce(CASE lower(trim({value})) {cases} END, {value})"


def _flatten_group(
    texts: list[str], fm: FieldMap, base_url: str, workspace: Workspace
) -> tuple[pa.Table, pa.Table, list[str | None]]:
    with _Flattener(texts, fm, workspace) as flat:
        incidents, links = flat.incidents(base_url)
        return incidents, flat.events(), links


class _Flattener:
    """An in-memory DuckDB holding a group of incident JSON texts, parsed once; closed on exit."""

    def __init__(self, texts: list[str], fm: FieldMap, workspace: Workspace) -> None:
        self.fm = fm
        self.con = workspace.con.cursor()
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
            self.con.execute(
                f"CREATE TEMP TABLE raws AS SELECT '{{' || concat_ws(',', {raw_parts}) || '}}' AS raw FROM top"
            )
            # ``top`` stays until the changelog is read from it (``_changelog``): copying the changelog into
            # ``issues`` took a fifth of the time of flattening.
        except duckdb.OutOfMemoryException as exc:
            raise PirError(
                f"out of memory while reading the Jira issues ({str(exc).splitlines()[0]}); "
                "free some memory and run again"
            ) from None
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
                {_severity_level(name(c["severity"]), self.fm)} AS severity, {name(c["failure_mode"])} AS failure_mode,
                list_filter(list_transform(i.fields.components, lambda x: x.name), lambda x: x IS NOT NULL) AS components,
                i.fields.status.name AS status, i.fields.status.statusCategory.key AS status_category,
                jname(i.fields.priority) AS priority,
                coalesce(i.fields.labels, []::VARCHAR[]) AS labels,
                {name(c["commander"])} AS commander,
                jname(i.fields.assignee) AS assignee, jname(i.fields.reporter) AS reporter,
                i.fields.created AS created_text, i.fields.updated AS updated_text,
                i.fields.resolutiondate AS resolved_text, {start} AS started_text,
                ts(i.fields.created) AS created_at, ts(i.fields.updated) AS updated_at,
                ts(i.fields.resolutiondate) AS resolved_at, ts({start}) AS started_at,
                {flag(c["customer_impact"])} AS customer_impact, {flag(c["regulatory"])} AS regulatory,
                i.fields.issuelinks::VARCHAR AS links,
                raws.raw
            FROM issues POSITIONAL JOIN raws
        """)
        self._check_times(
            "incident_rows",
            [
                ("created_text", "created_at", "incident created"),
                ("updated_text", "updated_at", "incident updated"),
                ("resolved_text", "resolved_at", "incident resolutiondate"),
                ("started_text", "started_at", "incident start"),
            ],
        )
        self._changelog()
        table = self._table(f"""
            SELECT r.issue_id, r.key, r.project_key, r.summary, r.severity, r.failure_mode,
                r.components[1] AS service, r.status, r.status_category, r.priority, r.components, r.labels,
                r.commander, r.assignee, r.reporter, r.created_at, r.updated_at, r.resolved_at, r.started_at,
                r.created_at AS detected_at, m.mitigated_at, r.customer_impact, r.regulatory,
                {_sql_string(base_url + "/browse/")} || r.key AS url, r.raw, r.description_type, r.description_json,
                r.links
            FROM incident_rows AS r
            LEFT JOIN (SELECT incident_id, min(occurred_at) AS mitigated_at FROM changelog
                       WHERE milestone = 'mitigated' GROUP BY incident_id) AS m ON m.incident_id = r.issue_id
            ORDER BY r.position
        """)
        descriptions = _texts(
            table.column("description_type").to_pylist(), table.column("description_json").to_pylist()
        )
        links = table.column("links").to_pylist()
        table = table.drop_columns(["description_type", "description_json", "links"])
        table = table.append_column("description", pa.array(descriptions, pa.string()))
        return table, links

    def _changelog(self) -> None:
        kinds = " ".join(f"WHEN {_sql_string(k)} THEN {_sql_string(v)}" for k, v in KIND_BY_FIELD.items())
        milestones = " ".join(f"WHEN {_sql_string(k)} THEN {_sql_string(v)}" for k, v in MILESTONES.items())
        severity = f"item.fieldId = {_sql_string(self.fm.severity)}" if self.fm.severity else "false"
        if self.fm.severity == "priority":
            # Data Center's changelog items may lack fieldId; a system field's item names it in `field`.
            severity = "coalesce(item.fieldId, lower(item.field)) = 'priority'"
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
                item.field AS field,
                CASE WHEN kind = 'severity_change' THEN {_severity_level("item.fromString", self.fm)}
                     ELSE item.fromString END AS from_value,
                CASE WHEN kind = 'severity_change' THEN {_severity_level("item.toString", self.fm)}
                     ELSE item.toString END AS to_value,
                CASE WHEN kind = 'status_change' THEN CASE lower(item.toString) {milestones} END END AS milestone
            FROM kinds
        """)
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
        """)
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
    items: list[Any] = [incidents] if isinstance(incidents, (str, bytes, bytearray)) else incidents
    if items and isinstance(items[0], (str, bytes, bytearray)):
        return [t.decode("utf-8") if isinstance(t, (bytes, bytearray)) else t for t in items]
    step = 2_000
    return [_ENCODER.encode(items[n : n + step]) for n in range(0, len(items), step)] or ["[]"]


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

"""Team mode's PostgreSQL schema (pirlib/schema/postgres/) against DuckDB's (pirlib/schema/): the same tables, columns,
keys and views, and the same rows out of every view for the same data.

The PostgreSQL side is built here with plain psycopg, the way pirlib.db.migrate applies a folder: each numbered
migration in its own transaction with its schema_migrations row, then views.sql. The rows come from the demo sample
(with a review written on top, and rows the sample lacks: a manual mode, a Jira field alias, summaries in German,
Russian and Japanese, two drafts pushed to one issue), copied table by table with COPY into a database whose
LC_CTYPE is C, where only the views' own Unicode handling can match DuckDB's.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from support import postgres
from support.publish_fixture import stage31_settings
from support.stores import copy_into_postgres

from pirlib import db, pg
from pirlib.config import Settings

MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
VIEW = re.compile(r"CREATE (?:OR REPLACE )?VIEW (\w+)", re.IGNORECASE)
DUCKDB_SCHEMA = resources.files("pirlib.schema")
POSTGRES_SCHEMA = DUCKDB_SCHEMA.joinpath("postgres")

# DuckDB's type of a column -> the PostgreSQL type the baseline gives it (format_type's spelling).
TYPES = {
    "VARCHAR": "text",
    "VARCHAR[]": "text[]",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "JSON": "json",
    "UBIGINT": "ubigint",
}
# Columns computed from the clock (now()): the two stores read it a moment apart.
CLOCK_COLUMNS = {("v_review_deadlines", "hours_past_due")}


def view_names() -> list[str]:
    """Every view DuckDB's schema creates (its migrations and views.sql), read from the SQL at collection."""
    names = []
    for entry in sorted(DUCKDB_SCHEMA.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            names += VIEW.findall(entry.read_text(encoding="utf-8"))
    return names


def migration_files(folder: Any) -> list[tuple[int, str, str]]:
    found = []
    for entry in folder.iterdir():
        match = MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate_postgres(url: str) -> None:
    """What pir builds: ``pirlib.db.migrate`` on a PostgreSQL connection."""
    with pg.session(url, timeout=20) as con:
        db.migrate(con)


@pytest.fixture(scope="module")
def server() -> postgres.PostgresServer:
    return postgres.require()


# --- structure -------------------------------------------------------------------------------------------------


def duckdb_catalogue(con: Any) -> dict[str, Any]:
    columns: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    for table, column, data_type, nullable, default in con.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES', column_default"
        " FROM information_schema.columns WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append((column, TYPES.get(data_type, data_type), nullable, default))
    constraints = {
        (table, kind, tuple(names), tuple(sorted(re.findall(r"'([^']*)'", text))))
        for table, kind, names, text in con.execute(
            "SELECT table_name, constraint_type, constraint_column_names, constraint_text FROM duckdb_constraints()"
            " WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'CHECK')"
        ).fetchall()
    }
    indexes = set(con.execute("SELECT index_name, table_name FROM duckdb_indexes()").fetchall())
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "views": views}


def postgres_catalogue(con: Any) -> dict[str, Any]:
    columns: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    for table, column, data_type, nullable, default in con.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,"
        "       pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = 'public'"
        " JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " LEFT JOIN pg_attrdef AS d ON d.adrelid = c.oid AND d.adnum = a.attnum"
        " WHERE c.relkind IN ('r', 'v') ORDER BY c.relname, a.attnum"
    ).fetchall():
        # 'draft'::text is DuckDB's 'draft'
        default = re.sub(r"::text$", "", default) if default else default
        columns.setdefault(table, []).append((column, data_type, nullable, default))
    kinds = {"p": "PRIMARY KEY", "u": "UNIQUE", "c": "CHECK"}
    constraints = {
        (table, kinds[kind], tuple(names), tuple(sorted(re.findall(r"'([^']*)'", text))))
        for table, kind, names, text in con.execute(
            "SELECT c.relname, k.contype,"
            "       array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u (attnum, i)"
            "             JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = u.attnum ORDER BY u.i),"
            "       pg_get_constraintdef(k.oid)"
            " FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = 'public'"
            " WHERE k.contype IN ('p', 'u', 'c')"
        ).fetchall()
    }
    indexes = set(
        con.execute(
            "SELECT i.indexname, i.tablename FROM pg_indexes AS i WHERE i.schemaname = 'public'"
            " AND NOT EXISTS (SELECT FROM pg_constraint AS k WHERE k.conname = i.indexname)"
        ).fetchall()
    )
    views = {name for (name,) in con.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public'").fetchall()}
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "views": views}


def test_the_baseline_creates_duckdbs_tables_views_keys_and_rows(server, tmp_path):
    import psycopg

    settings = Settings(db=tmp_path / "pir.duckdb")
    db.init(settings)
    url = server.fresh_database()
    migrate_postgres(url)
    with db.connect(settings, read_only=True) as duck, psycopg.connect(url) as pg:
        expected, actual = duckdb_catalogue(duck), postgres_catalogue(pg)
        assert sorted(actual["columns"]) == sorted(expected["columns"]), "the same tables and views"
        for name, columns in expected["columns"].items():
            assert actual["columns"][name] == columns, f"{name}: (column, type, nullable, default) in order"
        assert actual["views"] == expected["views"] and set(view_names()) == expected["views"]
        assert actual["constraints"] == expected["constraints"], "the same primary keys, uniques and checks"
        assert actual["indexes"] == expected["indexes"]
        # what the migrations write besides the schema: the runbook's deadlines, the severities, the window
        for table in sorted(set(expected["columns"]) - expected["views"] - {"schema_migrations"}):
            assert_same_rows(table, duck.execute(f"SELECT * FROM {table}"), pg.execute(f"SELECT * FROM {table}"))
        recorded = pg.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
        assert recorded == [(version, name) for version, name, _ in migration_files(POSTGRES_SCHEMA)]
        assert recorded[0] == (10, "010_baseline.sql")


def test_both_folders_end_at_the_same_migration():
    duckdb_last = migration_files(DUCKDB_SCHEMA)[-1][0]
    postgres_versions = [version for version, _, _ in migration_files(POSTGRES_SCHEMA)]
    assert postgres_versions[0] == 10, "PostgreSQL starts at the baseline, 010_baseline.sql"
    assert postgres_versions[-1] == duckdb_last, (
        f"DuckDB's schema ends at {duckdb_last:03d}, PostgreSQL's at {postgres_versions[-1]:03d}: "
        "a schema change is a migration of the same number in pirlib/schema/ and pirlib/schema/postgres/"
    )
    assert len(set(postgres_versions)) == len(postgres_versions)


def test_the_baseline_refuses_a_database_that_is_not_utf8(server):
    import psycopg

    url = server.fresh_database(encoding="SQL_ASCII", locale="C")
    name = url.rsplit("/", 1)[1]
    with pytest.raises(psycopg.errors.RaiseException, match=f"pir needs a UTF8 database, and {name} is SQL_ASCII"):
        migrate_postgres(url)
    with psycopg.connect(url) as con:  # nothing half-made
        assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


# --- rows ----------------------------------------------------------------------------------------------------------


def add_rows_the_sample_lacks(settings: Settings) -> None:
    """Rows that take the views down paths the demo does not: a manual mode, the Jira field naming a mode and an
    alias, summaries, labels and components in other scripts matched by rules in them, two drafts pushed to one
    issue and one not pushed, curated events, a regulator filing, a review deadline still pending."""
    with db.connect(settings) as con:
        keys = [key for (key,) in con.execute("SELECT issue_id FROM incidents ORDER BY issue_id LIMIT 3").fetchall()]
        con.execute(
            "INSERT INTO failure_mode_overrides (incident_id, mode, note, set_by) VALUES (?, 'Capacity', 'ran out', 'Ana')",
            [keys[0]],
        )
        con.execute("UPDATE incidents SET failure_mode = ' bad RELEASE ' WHERE issue_id = ?", [keys[1]])
        con.execute("UPDATE incidents SET failure_mode = 'Something else' WHERE issue_id = ?", [keys[2]])
        rank = db.one(con, "SELECT max(rule_rank) FROM failure_mode_rules")[0]
        rules = [
            ("Capacity", "summary", "überlast*"),  # a prefix of a word with an umlaut
            ("Dependency failure", "summary", "отказ диска"),  # a phrase in Cyrillic
            ("Data corruption", "summary", "データ破損"),  # a word in Japanese
            ("Config change", "label", "Änderung"),  # a label, matched whatever its case
            ("Network", "summary", "istanbul δισκοσ"),  # İ and final Σ lower-cased as DuckDB does it
            ("Third party", "component", "Zahlungs-Api"),
        ]
        for offset, (mode, kind, pattern) in enumerate(rules, start=1):
            con.execute("INSERT INTO failure_mode_rules VALUES (?, ?, ?, ?)", [rank + offset, mode, kind, pattern])
        summaries = [  # (summary, labels, components)
            ("Überlastung des Zahlungsdienstes", [], []),
            ("ÜBERLASTUNG: Warteschlange", [], []),
            ("Частичный отказ диска в кластере", [], []),
            ("отказ, диска нет", [], []),  # the phrase's words with a comma between them: still the phrase
            ("データ破損 が 発生", [], []),
            ("Schema-Änderung", ["äNDERUNG"], []),  # lower case only where ASCII would not find it
            ("Straße gesperrt", [], []),
            ("İSTANBUL ΔΙΣΚΟΣ", [], []),
            ("", [], ["ZAHLUNGS-api"]),
        ]
        for n, (summary, labels, components) in enumerate(summaries, start=1):
            con.execute(
                "INSERT INTO incidents (issue_id, key, summary, severity, service, labels, components, created_at,"
                " started_at, detected_at, resolved_at) VALUES (?, ?, ?, 'Sev-1', 'payments', ?, ?,"
                " TIMESTAMPTZ '2025-08-01 10:00:00+00' + to_days(?), TIMESTAMPTZ '2025-08-01 09:30:00.5+00' + to_days(?),"
                " TIMESTAMPTZ '2025-08-01 09:41:59.9+00' + to_days(?), TIMESTAMPTZ '2025-08-01 12:00:00+00' + to_days(?))",
                [f"9{n:05d}", f"INT-{n}", summary, labels, components, n, n, n, n],
            )
        # closed an hour ago: its review stages are pending, hours_past_due negative and moving with the clock
        con.execute("UPDATE incidents SET resolved_at = now() - INTERVAL 1 HOUR WHERE key = 'INT-9'")
        con.execute(
            "INSERT INTO reviews (incident_id, regulatory_filed_at) SELECT issue_id, TIMESTAMPTZ '2025-09-01 08:00:00+00'"
            " FROM incidents WHERE regulatory ORDER BY issue_id LIMIT 1"
            " ON CONFLICT (incident_id) DO UPDATE SET regulatory_filed_at = EXCLUDED.regulatory_filed_at"
        )
        events = [
            e for (e,) in con.execute("SELECT event_id FROM incident_events ORDER BY event_id LIMIT 3").fetchall()
        ]
        con.execute(
            "INSERT INTO event_curation (event_id, incident_id, hidden, occurred_at, text, original_occurred_at,"
            " original_text, updated_by) SELECT event_id, incident_id, event_id = ?,"
            " CASE WHEN event_id = ? THEN occurred_at + INTERVAL 90 SECOND END, CASE WHEN event_id = ? THEN 'zurückgesetzt' END,"
            " occurred_at, text, 'Ana' FROM incident_events WHERE event_id IN (?, ?, ?)",
            [events[0], events[1], events[2], *events],
        )
        action = db.one(con, "SELECT issue_id FROM actions WHERE NOT deleted ORDER BY issue_id LIMIT 1")[0]
        for n, team in enumerate(["Zeta", "Alpha"], start=1):
            con.execute(
                "INSERT INTO action_drafts (draft_id, incident_id, summary, team, state, pushed_issue_id)"
                " VALUES (?, ?, 'a fix', ?, 'pushed', ?)",
                [f"twice-{n}", keys[0], team, action],
            )
        con.execute("UPDATE actions SET team = NULL WHERE issue_id = ?", [action])
        con.execute(
            "INSERT INTO action_drafts (draft_id, incident_id, summary) VALUES ('not-pushed', ?, 'later')", [keys[1]]
        )


@pytest.fixture(scope="module")
def both_stores(server, demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """(DuckDB, PostgreSQL) connections to the same rows: the demo with a review on top and add_rows_the_sample_lacks."""
    import psycopg

    settings = stage31_settings(demo_db, tmp_path_factory.mktemp("stores"))
    add_rows_the_sample_lacks(settings)
    url = server.fresh_database(locale="C")  # lower() and [:alpha:] ASCII-only, but for the views' own care
    migrate_postgres(url)
    copy_into_postgres(Path(settings.db), url)
    with db.connect(settings, read_only=True) as duck, psycopg.connect(url, autocommit=True) as pg:
        yield duck, pg


def comparable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return tuple(comparable(v) for v in value)
    return value


def assert_same_rows(name: str, duck_cursor: Any, pg_cursor: Any, clock_seconds: float = 0.0) -> int:
    """The two cursors' rows are the same, in any order: floats within a tolerance (``clock_seconds`` for a column
    of CLOCK_COLUMNS, as hours), times as instants. Returns the number of rows."""
    columns = [d[0] for d in duck_cursor.description]
    assert [d[0] for d in pg_cursor.description] == columns, f"{name}: columns"
    duck_rows = [tuple(comparable(v) for v in row) for row in duck_cursor.fetchall()]
    pg_rows = [tuple(comparable(v) for v in row) for row in pg_cursor.fetchall()]

    def order(row: tuple) -> tuple:
        return tuple((v is None, "" if isinstance(v, float) else str(v)) for v in row)

    duck_rows.sort(key=order)
    pg_rows.sort(key=order)
    assert len(pg_rows) == len(duck_rows), f"{name}: {len(pg_rows)} rows in PostgreSQL, {len(duck_rows)} in DuckDB"
    differences = []
    for duck_row, pg_row in zip(duck_rows, pg_rows):
        for column, expected, actual in zip(columns, duck_row, pg_row):
            if isinstance(expected, float) and isinstance(actual, float):
                tolerance = clock_seconds / 3600 if (name, column) in CLOCK_COLUMNS else 1e-9
                same = math.isclose(expected, actual, rel_tol=1e-12, abs_tol=tolerance)
            else:
                same = expected == actual and type(expected) is type(actual)
            if not same:
                differences.append(f"{column}: DuckDB {expected!r}, PostgreSQL {actual!r} (row {duck_row[:2]})")
    assert not differences, f"{name}: {len(differences)} values differ:\n" + "\n".join(differences[:20])
    return len(duck_rows)


@pytest.mark.slow  # the demo, a review and two stores of it: about 9 s for the first view
@pytest.mark.parametrize("view", view_names())
def test_every_view_gives_the_same_rows_in_both_stores(both_stores, view):
    duck, pg = both_stores
    started = time.monotonic()
    duck_cursor = duck.execute(f"SELECT * FROM {view}")
    pg_cursor = pg.execute(f"SELECT * FROM {view}")
    rows = assert_same_rows(view, duck_cursor, pg_cursor, clock_seconds=time.monotonic() - started + 1)
    assert rows > 0, f"{view} is empty on the sample: the comparison proves nothing"


@pytest.mark.slow  # shares test_every_view_gives_the_same_rows_in_both_stores's stores
def test_the_rows_added_take_the_paths_they_were_added_for(both_stores):
    """The comparison above covers these paths only if the sample has them: each is there, in both stores."""
    duck, pg = both_stores
    query = (
        "SELECT i.summary, m.failure_mode, m.mode_source FROM v_incident_failure_modes AS m"
        " JOIN incidents AS i ON i.issue_id = m.incident_id WHERE i.key LIKE 'INT-%' ORDER BY i.key"
    )
    expected = [
        ("Überlastung des Zahlungsdienstes", "Capacity", "summary"),
        ("ÜBERLASTUNG: Warteschlange", "Capacity", "summary"),
        ("Частичный отказ диска в кластере", "Dependency failure", "summary"),
        ("отказ, диска нет", "Dependency failure", "summary"),
        ("データ破損 が 発生", "Data corruption", "summary"),
        ("Schema-Änderung", "Config change", "label"),
        ("Straße gesperrt", "Unknown", "fallback"),
        ("İSTANBUL ΔΙΣΚΟΣ", "Network", "summary"),
        ("", "Third party", "component"),
    ]
    assert duck.execute(query).fetchall() == expected
    assert pg.execute(query).fetchall() == expected
    sources = "SELECT DISTINCT mode_source FROM v_incident_failure_modes ORDER BY 1"
    assert {s for (s,) in pg.execute(sources).fetchall()} >= {
        "manual",
        "field",
        "label",
        "component",
        "summary",
        "fallback",
    }
    paths = [
        "SELECT DISTINCT state FROM v_review_deadlines ORDER BY 1",
        "SELECT DISTINCT state FROM v_regulatory_followups ORDER BY 1",
        "SELECT count(*) FILTER (WHERE retimed), count(*) FILTER (WHERE edited), count(*) FILTER (WHERE hidden)"
        " FROM v_timeline",
        "SELECT DISTINCT jira_key IS NULL FROM v_action_drafts ORDER BY 1",
    ]
    assert (
        [duck.execute(q).fetchall() for q in paths]
        == [pg.execute(q).fetchall() for q in paths]
        == [
            [("late",), ("missed",), ("on_time",), ("pending",)],
            [("filed",), ("open",)],
            [(1, 1, 1)],
            [(False,), (True,)],
        ]
    )
    team = "SELECT team FROM v_action_status WHERE issue_id IN (SELECT pushed_issue_id FROM action_drafts WHERE draft_id = 'twice-1')"
    assert duck.execute(team).fetchall() == pg.execute(team).fetchall() == [("Alpha",)]

"""The PostgreSQL connection behind DuckDB's API: placeholders, results, frames, and errors without the password."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pirlib import db, pg
from pirlib.config import Secret, Settings
from pirlib.errors import PirError

pytestmark = pytest.mark.both_stores  # the tests that use `settings` run on both stores


def test_placeholders_become_psycopgs_outside_quotes_and_comments():
    sql = "SELECT '?', \"a?\", x FROM t WHERE k = ? AND n LIKE '5%' -- what?\n AND m = ?"
    assert pg.translate(sql, ["a", 1]) == (
        "SELECT '?', \"a?\", x FROM t WHERE k = %s AND n LIKE '5%%' -- what?\n AND m = %s"
    )
    assert pg.translate("SELECT $id, 'it''s $x', $id_2 % 2", {"id": 1, "id_2": 3}) == (
        "SELECT %(id)s, 'it''s $x', %(id_2)s %% 2"
    )
    assert pg.translate("SELECT '50%'; SELECT 1", None) == "SELECT '50%'; SELECT 1"  # no params: untouched


def test_a_list_parameter_gets_its_array_type():
    assert pg.translate("SELECT unnest(?), unnest(?), unnest(?)", [["a"], [1, 2], []]) == (
        "SELECT unnest(%s::text[]), unnest(%s::bigint[]), unnest(%s::text[])"
    )
    assert pg.translate("SELECT unnest($ids)", {"ids": [1.5]}) == "SELECT unnest(%(ids)s::double precision[])"


def test_describe_never_shows_the_password():
    assert pg.describe("postgresql://pir:s3cr3t@db.example.com:5433/pir") == "postgresql://pir@db.example.com:5433/pir"


def test_an_unreachable_server_is_one_line_without_the_password():
    with pytest.raises(PirError) as err:
        pg.connect("postgresql://pir:s3cr3t-pw@127.0.0.1:9/pir", timeout=0.2)
    text = str(err.value)
    assert text.startswith("cannot reach PostgreSQL at postgresql://pir@127.0.0.1:9/pir")
    assert "s3cr3t" not in text and "fix PIR_DATABASE_URL" in text and "\n" not in text


def test_results_have_duckdbs_shapes_on_both_stores(settings):
    with db.connect(settings) as con:
        con.execute(
            "CREATE TABLE shapes (k VARCHAR PRIMARY KEY, n INTEGER, d DATE, seen_at TIMESTAMPTZ, tags VARCHAR[], x FLOAT8)"
        )
        frame = pd.DataFrame(
            {
                "k": ["a", "b", "b"],
                "n": [1, 2, 3],
                "d": [dt.date(2026, 1, 1), None, dt.date(2026, 2, 2)],
                "seen_at": pd.to_datetime(["2026-01-01T10:00Z", None, "2026-01-02T10:00Z"], utc=True),
                "tags": [["x"], [], None],
                "x": [1.5, None, 2.0],
            }
        )
        with db.transaction(con):
            assert db.upsert_frame(con, "shapes", frame, "k") == 2
        assert db.one(con, "UPDATE shapes SET n = n + 1 WHERE k IN (SELECT unnest(?))", [["a", "b"]]) == (2,)
        assert con.execute("SELECT k, n, d FROM shapes WHERE k = $k", {"k": "a"}).fetchall() == [
            ("a", 2, dt.date(2026, 1, 1))
        ]
        got = con.execute("SELECT k, n, seen_at, x, count(*) OVER () / 4.0 AS share FROM shapes ORDER BY k").df()
        assert list(got["k"]) == ["a", "b"] and list(got["n"]) == [2, 4]
        assert str(got["seen_at"].dtype) == "datetime64[us, UTC]" and got["seen_at"][1] == pd.Timestamp(
            "2026-01-02T10:00Z"
        )
        assert list(got["share"]) == [0.5, 0.5] and got["x"].dtype == "float64"
        empty = con.execute("SELECT k, seen_at FROM shapes WHERE false").df()
        assert list(empty.columns) == ["k", "seen_at"] and empty.empty
        with pytest.raises(ValueError), db.transaction(con):
            con.execute("DELETE FROM shapes")
            raise ValueError("rolled back")
        assert db.one(con, "SELECT count(*) FROM shapes") == (2,)


@pytest.mark.both_stores
def test_drop_temp_after_a_failed_statement_keeps_the_statements_error(settings: Settings) -> None:
    with db.connect(settings) as con:
        with pytest.raises(Exception, match="no_such_table|does not exist") as caught:
            with db.transaction(con):
                con.execute("CREATE TEMP TABLE _scratch (x INTEGER)")
                try:
                    con.execute("SELECT * FROM no_such_table")
                finally:
                    db.drop_temp(con, "_scratch")  # refused by the aborted transaction, silently
        assert not isinstance(caught.value, db.ABORTED)
        db.drop_temp(con, "_scratch")  # after the rollback: nothing to drop, no error
        con.execute("CREATE TEMP TABLE _scratch (x INTEGER)")
        db.drop_temp(con, "_scratch")
        con.execute("CREATE TEMP TABLE _scratch (x INTEGER)")  # it was dropped


@pytest.mark.both_stores
def test_describe_names_the_store_without_a_password(settings: Settings) -> None:
    if settings.database_url is None:
        assert db.describe(settings) == str(settings.db)
        return
    team = settings.replace(database_url=Secret("postgresql://pir:s3cret-Zq@db.example.com:5433/pir"))
    assert db.describe(team) == "postgresql://pir@db.example.com:5433/pir"


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_postgresql_sessions_do_not_jit_compile(settings: Settings) -> None:
    with db.connect(settings) as con:
        assert con.execute("SHOW jit").fetchone() == ("off",)

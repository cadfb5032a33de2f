"""The store interface's small helpers on both stores (``pirlib/db.py``, ``pirlib/pg.py``)."""

from __future__ import annotations

import pytest

from pirlib import db
from pirlib.config import Secret, Settings


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

"""Helpers for tests that run on both stores (``pytest.mark.both_stores``): SQL both dialects accept, and the
environment a `pir` command needs to reach the test's store."""

from __future__ import annotations

from typing import Any

from pirlib import db
from pirlib.config import Settings


def select_all_but(con: Any, table: str, *left_out: str) -> str:
    """``SELECT`` of every column of ``table`` but ``left_out``, in order (DuckDB's ``SELECT * EXCLUDE`` has no
    PostgreSQL spelling)."""
    return "SELECT " + ", ".join(f'"{c}"' for c in db.columns_of(con, table) if c not in left_out) + f" FROM {table}"


def store_env(settings: Settings) -> dict[str, str]:
    """PIR_DB, and in team mode PIR_DATABASE_URL, for a `pir` command (``cli.main`` or a child) on the test's store."""
    env = {"PIR_DB": str(settings.db)}
    if settings.database_url is not None:
        env["PIR_DATABASE_URL"] = settings.database_url.reveal()
    return env

"""The store a test runs against, outside conftest's per-test ``settings``: settings for data built once per
module and store (the demo), and the environment of a `pir` subprocess on that store."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from pirlib.config import Secret, Settings


def new_settings(store: str, root: Path, **values: Any) -> Settings:
    """Settings on a new store: the DuckDB file ``root/pir.duckdb``, or (``postgres``) a new PostgreSQL database."""
    settings = Settings(db=root / "pir.duckdb", sample_dir=root / "sample", db_lock_timeout=20.0, **values)
    if store == "postgres":
        from support import postgres

        return dataclasses.replace(settings, database_url=Secret(postgres.server().fresh_database()))
    return settings


def pir_env(settings: Settings, **values: str) -> dict[str, str]:
    """A `pir` subprocess's environment on ``settings``' store: no PIR_* of the caller's, PIR_DB and, in team
    mode, PIR_DATABASE_URL; plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env["PIR_DB"] = str(settings.db)
    if settings.database_url is not None:
        env["PIR_DATABASE_URL"] = settings.database_url.reveal()
    return {**env, **values}

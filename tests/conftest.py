"""Shared fixtures: a real DuckDB file per test and settings that point at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pirlib.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "pir.duckdb", sample_dir=tmp_path / "sample", db_lock_timeout=20.0)

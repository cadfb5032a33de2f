"""`make test-fast` runs the store-facing tests on the solo store only (``PIR_TEST_STORES=duckdb``), `make test` on
both: tests/conftest.py deselects the PostgreSQL flavours a run does not test, and refuses a store it does not
know."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def collect(stores: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PIR_"))}
    if stores is not None:
        env["PIR_TEST_STORES"] = stores
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--co", "-q", "test_pg.py"],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # two collections of test_pg.py in fresh interpreters
def test_the_quick_loop_collects_the_solo_flavours_only():
    both, solo = collect(None), collect("duckdb")
    assert both.returncode == 0 and solo.returncode == 0, both.stderr + solo.stderr
    both_ids = [line for line in both.stdout.splitlines() if "::" in line]
    solo_ids = [line for line in solo.stdout.splitlines() if "::" in line]
    assert any("[postgres" in line for line in both_ids) and any("[duckdb" in line for line in both_ids)
    assert solo_ids == [line for line in both_ids if "[postgres" not in line]
    assert "deselected" in solo.stdout


def test_an_unknown_store_is_one_clear_error():
    wrong = collect("duckdb,sqlite")
    assert wrong.returncode != 0
    assert "PIR_TEST_STORES='duckdb,sqlite': name stores from duckdb, postgres, comma-separated" in wrong.stderr

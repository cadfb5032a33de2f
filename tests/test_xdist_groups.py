"""`make test` runs under pytest-xdist with ``--dist loadgroup``: the browser tests all run on one worker, and
the tests that share a module-scoped fixture run on one worker, while the others spread over the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CONFTEST = f"""
import sys
import pytest
sys.path.insert(0, {str(TESTS)!r})
from support import xdist_groups

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    xdist_groups.apply(items, loadgroup=bool(getattr(config.option, "loadgroup", False)))
"""

SUITE = """
import os
import pytest

def record(name):
    with open("workers.txt", "a") as out:
        out.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")

@pytest.fixture(scope="module")
def server():
    return "one per module"

@pytest.mark.browser
@pytest.mark.parametrize("page", range(6))
def test_page(page):
    record("browser")

@pytest.mark.parametrize("n", range(6))
def test_shares_the_module_server(n, server):
    record("module")

@pytest.mark.parametrize("n", range(12))
def test_free(n):
    record("free")
"""


@pytest.mark.slow
def test_browser_tests_and_module_fixture_users_stay_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    browser: a browser test\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PIR_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            "-W",
            "ignore",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "test_suite.py::test_page[0]@browser" in result.stdout
    assert "test_suite.py::test_shares_the_module_server[0]@test_suite.py" in result.stdout
    workers: dict[str, set[str]] = {}
    for line in (tmp_path / "workers.txt").read_text().splitlines():
        kind, worker = line.split()
        workers.setdefault(kind, set()).add(worker)
    assert len(workers["browser"]) == 1 and len(workers["module"]) == 1, workers
    assert workers["free"] == {"gw0", "gw1"}, workers

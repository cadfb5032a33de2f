"""Shared fixtures: a real DuckDB file per test and settings that point at it; a headless browser.

Shared helpers that are not fixtures (servers the tests start, page visits, fixture data) are in support/.

`make test` runs the suite under pytest-xdist (``-n auto --dist loadgroup``): every test has its own temporary
folder and free loopback ports, and ``pytest_collection_modifyitems`` below keeps together the tests that share
an expensive server or browser.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import stores, xdist_groups
from support.browser import CHROMIUM, CHROMIUM_ARGS
from support.publish_fixture import build_demo
from support.receivers import Receiver, SmtpSink

from pirlib.config import Settings

STORES = ("duckdb", "postgres")


def chosen_stores() -> tuple[str, ...]:
    """The stores this run tests: ``PIR_TEST_STORES`` (comma-separated; ``make test-fast`` sets ``duckdb``, the
    solo store, for a quick loop), else both. A PostgreSQL flavour of a test outside them is deselected."""
    value = os.environ.get("PIR_TEST_STORES", "").strip()
    if not value:
        return STORES
    chosen = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in chosen if name not in STORES]
    if unknown or not chosen:
        raise pytest.UsageError(f"PIR_TEST_STORES={value!r}: name stores from {', '.join(STORES)}, comma-separated")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked ``both_stores`` runs each test that uses ``settings`` once per store, so they cannot drift."""
    own = {name for mark in metafunc.definition.iter_markers("parametrize") for name in _names(mark.args[0])}
    if (
        "store" in metafunc.fixturenames
        and "store" not in own
        and metafunc.definition.get_closest_marker("both_stores")
    ):
        metafunc.parametrize("store", STORES, indirect=True)


def _names(argnames: str | list[str] | tuple[str, ...]) -> list[str]:
    return [name.strip() for name in argnames.split(",")] if isinstance(argnames, str) else list(argnames)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """The store the test's ``settings`` use: the DuckDB file, or (in ``both_stores`` modules) also PostgreSQL.

    Where PostgreSQL is not installed its flavour is skipped on a developer's machine but fails in CI.
    """
    kind: str = getattr(request, "param", "duckdb")
    if kind == "postgres":
        from support import postgres

        postgres.require()
    return kind


@pytest.fixture
def settings(tmp_path: Path, store: str) -> Iterator[Settings]:
    """Settings on a fresh store: a DuckDB file in the test's folder, or a new PostgreSQL database (team mode),
    dropped afterwards (about 8 MB each)."""
    settings = stores.new_settings(store, tmp_path)
    yield settings
    if settings.database_url is not None:
        from support import postgres

        postgres.server().drop_database(settings.database_url.reveal())


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium through Playwright, with the closed-network flags.

    Where it is missing the browser tests are skipped on a developer's machine (``make test-fast`` does not
    need it) but fail in CI (``CI=true``), so that a broken install can never pass as a green run.
    """
    missing = None
    try:
        from playwright import sync_api  # optional on a developer's machine: see above
    except ImportError:
        missing = "playwright is not installed: run `make venv`"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is not installed: sudo apt-get install chromium"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the browser tests: {missing}", pytrace=False)
        pytest.skip(missing)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the stores this run does not test (``chosen_stores``); keep the tests that share something
    costly on one worker (support/xdist_groups.py)."""
    tested = (None, *chosen_stores())  # None: a test on no store
    left_out = [item for item in items if _store_of(item) not in tested]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if _store_of(item) in tested]
    xdist_groups.apply(items, loadgroup=bool(getattr(config.option, "loadgroup", False)))


def _store_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("store")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pir demo` loaded once per run into a DuckDB file; copy it before writing (publish_fixture).

    Under xdist the first worker that needs it builds it (about 5 s) behind a file lock in the run's shared
    temporary folder, and each worker gets its own copy: DuckDB locks a file per process, so workers that
    open one file at once would wait for each other."""
    mine = tmp_path_factory.mktemp("demo")
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build_demo(mine)
    shared = tmp_path_factory.getbasetemp().parent / "demo"
    done = shared / "built"
    with (shared.parent / "demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker that failed half-way left
            shared.mkdir()
            build_demo(shared)
            done.touch()
    shutil.copytree(shared, mine, dirs_exist_ok=True, ignore=shutil.ignore_patterns("built"))
    return mine / "pir.duckdb"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A Slack incoming-webhook stand-in on 127.0.0.1."""
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """An SMTP server on 127.0.0.1 that keeps what it receives."""
    sink = SmtpSink()
    yield sink
    sink.close()

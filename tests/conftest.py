"""Shared fixtures: a real DuckDB file per test and settings that point at it; a headless browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pirlib.config import Settings
from support.publish_fixture import build_demo
from support.receivers import Receiver, SmtpSink


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "pir.duckdb", sample_dir=tmp_path / "sample", db_lock_timeout=20.0)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless chromium through Playwright, with the closed-network flags of test_serve."""
    from test_serve import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pir demo` loaded once per session into a DuckDB file; copy it before writing (publish_fixture)."""
    return build_demo(tmp_path_factory.mktemp("demo"))


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

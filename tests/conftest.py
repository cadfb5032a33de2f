"""Shared fixtures: a real DuckDB file per test and settings that point at it; a headless browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from pirlib.config import Settings

# The webhook receiver and SMTP sink fixtures (``receiver``, ``smtp``) for every test file.
pytest_plugins = ("support.receivers",)


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
    from publish_fixture import build_demo

    return build_demo(tmp_path_factory.mktemp("demo"))

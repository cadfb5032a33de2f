"""What a person sees after `pir demo` today: the sample generated for the real date, every board rendered.

The rest of the suite pins the sample's day (``sample.SNAPSHOT_DAY``) and PIR_TODAY; these tests use the
real clock on purpose, so that a board that only works on the pinned day fails here. They render each board
in process, as its notebook does (``load_board`` then the panels), without a browser.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from pirlib import db, demo, metrics
from pirlib.config import Settings
from pirlib.ui.boards import BOARDS, load_board
from pirlib.ui.boards.board import is_figure

MISSING_TEXT = re.compile(r">\s*(nan|NaN|NaT|None|<NA>)\s*<|\bNaN\b")


@pytest.fixture(scope="module")
def today_demo(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("today")
    settings = Settings(db=folder / "pir.duckdb", sample_dir=folder / "sample", db_lock_timeout=20.0)
    demo.load_demo(settings, as_of=settings.current_date())
    return settings


def _figure_json(content: object) -> dict:
    return content if isinstance(content, dict) else content.to_plotly_json()


def _dates(values: object) -> list[dt.date]:
    """The values of a figure axis that are dates (periods of a time chart); none for categories."""
    if values is None:
        return []
    stamps = pd.to_datetime(pd.Series(list(values), dtype=object), errors="coerce", format="mixed", utc=True)
    return [] if stamps.isna().any() else sorted({s.date() for s in stamps})


def _points(trace: dict) -> int:
    return max(len(trace.get(axis) if trace.get(axis) is not None else []) for axis in ("x", "y", "z", "values"))


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_board_today_has_data_in_every_panel_and_no_nan(today_demo: Settings, name: str) -> None:
    board = load_board(name, today_demo)
    assert board.problem is None, board.problem
    assert "(today, sample data from <code>pir demo</code>)" in board.header_html()
    today = today_demo.current_date()
    for content in board.contents(metrics.Filters()):
        if is_figure(content):
            figure = _figure_json(content)
            title = str(figure.get("layout", {}).get("title"))
            assert figure["data"] and all(_points(t) > 0 for t in figure["data"]), f"{name}: empty figure {title}"
            assert "NaN" not in str(figure.get("layout", {})), f"{name}: NaN in the layout of {title}"
            periods = sorted({day for trace in figure["data"] for day in _dates(trace.get("x"))})
            if len(periods) >= 2:  # a time chart: its last period (a week, month or quarter) reaches today
                step = min(b - a for a, b in zip(periods, periods[1:]))
                assert periods[-1] + step + dt.timedelta(days=2) >= today, f"{name}: {title} stops at {periods[-1]}"
                named = re.search(r"\b(week|month|quarter)", title)  # a chart by period says which, rightly
                word = "quarter" if step.days >= 80 else "month" if step.days >= 28 else "week"
                assert named is None or named.group(1) == word, f"{name}: {title} has one point a {word}"
        else:
            text = str(content)
            # A panel with a heading that says there is nothing to show is what the demo must not have.
            assert 'class="pir-message"' not in text, f"{name}: {re.sub(r'<[^>]+>', ' ', text)[:200]}"
            found = MISSING_TEXT.search(text)
            assert found is None, f"{name}: {found and text[max(0, found.start() - 200) : found.end()]}"


def test_the_boards_today_show_reviews_at_risk_and_overdue_actions(today_demo: Settings) -> None:
    reviews = load_board("reviews", today_demo).panels_html(metrics.Filters())
    at_risk = re.search(r"missed in the last 7 days \((\d+)\)", reviews)
    assert at_risk and int(at_risk.group(1)) >= 1
    actions = load_board("actions", today_demo).panels_html(metrics.Filters())
    assert re.search(r"Overdue actions[^<]*\((the 50 most overdue of )?\d+\)", actions)


@pytest.mark.slow
def test_a_later_day_reloads_over_an_earlier_one_as_if_fresh(today_demo: Settings, tmp_path: Path) -> None:
    """`pir demo` run on successive days regenerates the folder and leaves what a fresh load leaves: issues
    of the earlier day's site that the new one lacks are flagged deleted, as a full sync flags them."""
    settings = Settings(db=tmp_path / "pir.duckdb", sample_dir=tmp_path / "sample", db_lock_timeout=20.0)
    demo.load_demo(settings, as_of=today_demo.current_date() - dt.timedelta(days=40))
    demo.load_demo(settings, as_of=today_demo.current_date())
    queries = {
        "incidents": "SELECT * EXCLUDE (synced_at) FROM incidents WHERE NOT deleted ORDER BY issue_id",
        "actions": "SELECT * EXCLUDE (synced_at) FROM actions WHERE NOT deleted ORDER BY issue_id",
        "incident_events": "SELECT e.* FROM incident_events AS e JOIN incidents AS i ON i.issue_id = e.incident_id"
        " WHERE NOT i.deleted ORDER BY event_id",
        "reviews": "SELECT r.* EXCLUDE (updated_at) FROM reviews AS r JOIN incidents AS i ON i.issue_id = r.incident_id"
        " WHERE NOT i.deleted ORDER BY incident_id",
    }
    tables = {}
    for which in (settings, today_demo):
        with db.connect(which, read_only=True) as con:
            tables[which.db] = {name: con.execute(sql).fetchall() for name, sql in queries.items()}
    for name in queries:
        assert tables[settings.db][name] == tables[today_demo.db][name], name

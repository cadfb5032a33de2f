"""Every board on a day when nothing is at risk, nothing is overdue and nothing is pending, and under filters
that select nothing: the empty selections stay empty (pandas 3 turns a Series assigned to an empty frame
into rows of NaN, which showed 265 blank "missed 17996 h ago" rows under "Reviews at risk now")."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from pirlib import db, demo, metrics
from pirlib.config import Settings
from pirlib.review.clock import REVIEW_COLUMNS
from pirlib.ui.boards import BOARDS, load_board

FAR_FUTURE = dt.date(2100, 1, 1)
BLANK_ROW = re.compile(r"<tr>(<td>\s*</td>)+</tr>|<tr><td>\s*</td>")
MISSING_TEXT = re.compile(r">\s*(nan|NaN|NaT|None|<NA>)\s*<")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("nothing_due")
    settings = Settings(db=folder / "pir.duckdb", sample_dir=folder / "sample", db_lock_timeout=20.0)
    demo.load_demo(settings)
    return settings


@pytest.fixture(scope="module")
def all_done(sample: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample with every action done and every review stage of every incident done on time."""
    path = tmp_path_factory.mktemp("all_done") / "pir.duckdb"
    path.write_bytes(Path(sample.db).read_bytes())
    settings = sample.replace(db=path)
    with db.connect(settings) as con:
        con.execute(
            "UPDATE actions SET status_category = 'done', status = 'Done',"
            " resolved_at = coalesce(resolved_at, created_at)"
        )
        con.execute(
            "INSERT INTO reviews (incident_id) SELECT issue_id FROM incidents"
            " WHERE issue_id NOT IN (SELECT incident_id FROM reviews)"
        )
        done = ", ".join(f"{c} = coalesce({c}, i.resolved_at)" for c in REVIEW_COLUMNS)
        con.execute(f"UPDATE reviews SET {done} FROM incidents AS i WHERE i.issue_id = reviews.incident_id")
        counts = con.execute(
            "SELECT (SELECT count(*) FROM v_action_status WHERE NOT is_done),"
            " (SELECT count(*) FROM v_review_deadlines WHERE done_at IS NULL)"
        ).fetchone()
    assert counts == (0, 0)
    return settings


def _panels(settings: Settings, name: str, filters: metrics.Filters = metrics.Filters()) -> str:
    board = load_board(name, settings)
    assert board.problem is None, board.problem
    return board.panels_html(filters)


def _assert_no_phantom_rows(page: str) -> None:
    assert not BLANK_ROW.search(page), BLANK_ROW.search(page).group(0)[:200]
    assert not MISSING_TEXT.search(page), MISSING_TEXT.search(page).group(0)


@pytest.mark.parametrize("name", list(BOARDS))
def test_boards_far_after_every_deadline_show_nothing_at_risk_and_no_blank_rows(sample: Settings, name: str):
    page = _panels(sample.replace(today=FAR_FUTURE), name)
    _assert_no_phantom_rows(page)
    if name == "reviews":
        assert "missed in the last 7 days (0)" in page and "Nothing at risk right now." in page
        assert "h ago" not in page


@pytest.mark.parametrize("name", list(BOARDS))
@pytest.mark.parametrize("today", [None, FAR_FUTURE])
def test_boards_when_everything_is_done_show_nothing_overdue_pending_or_at_risk(all_done: Settings, name, today):
    page = _panels(all_done.replace(today=today or all_done.current_date()), name)
    _assert_no_phantom_rows(page)
    if name == "reviews":
        assert "missed in the last 7 days (0)" in page and "Nothing at risk right now." in page
    if name == "actions":
        assert "No overdue actions match these filters." in page


@pytest.mark.parametrize("name", [n for n, spec in BOARDS.items() if spec.has_filters])
def test_boards_under_filters_that_select_nothing_say_so(sample: Settings, name: str):
    nothing = metrics.Filters(start=dt.date(1990, 1, 1), end=dt.date(1990, 12, 31))
    page = _panels(sample, name, nothing)
    _assert_no_phantom_rows(page)
    assert "<tr><td>" not in page  # no table has a row: every panel says it has nothing to show

"""The dashboards' boards, one module per dashboard notebook (``dashboards/<name>.ipynb``).

A notebook calls ``board = load_board("actions")`` and ``board.show()``. The framework (``BoardSpec``,
loading, filters, showing) is ``pirlib.ui.boards.board``; each ``<name>.py`` holds that board's panels
and its ``SPEC``.
"""

from __future__ import annotations

import pandas as pd

from pirlib.config import Settings, load_settings
from pirlib.ui import figures
from pirlib.ui.boards import actions, board, explore, failure_modes, home, incidents, overview, reviews
from pirlib.ui.boards.board import EMPTY_MESSAGE, Board, BoardSpec, data_as_of

__all__ = ["BOARDS", "EMPTY_MESSAGE", "Board", "BoardSpec", "data_as_of", "load_board", "warm_up"]

BOARDS: dict[str, BoardSpec] = {
    "home": home.SPEC,
    "overview": overview.SPEC,
    "actions": actions.SPEC,
    "reviews": reviews.SPEC,
    "failure_modes": failure_modes.SPEC,
    "incidents": incidents.SPEC,
    "explore": explore.SPEC,
}


def load_board(name: str, settings: Settings | None = None) -> Board:
    """Read what board ``name`` shows in one read-only connection, closed before returning."""
    return board.load(BOARDS[name], settings or load_settings(), page=name)


def warm_up() -> None:
    """Pay the first-use costs that do not depend on the data, before any page asks: plotly's lazily
    imported validators and its "plotly_white" template, which the overview's figures need (about 0.2 s of
    a fresh kernel's first overview). ``pirlib.kernel_pool`` calls this in each pooled kernel after importing
    this package. Reads no database and displays nothing."""
    month = pd.Timestamp("2026-01-01")
    incidents = pd.DataFrame({"month": [month], "severity": ["Sev-1"], "incidents": [1], "examples": [["INC-1 x"]]})
    figures.html_bundle(figures.incidents_by_severity_month(incidents))
    figures.html_bundle(
        figures.action_status_by_month(pd.DataFrame({"month": [month], "state": ["done"], "actions": [1]}))
    )

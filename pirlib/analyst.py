"""What the analyst notebook (notebooks/analyst_examples.ipynb) calls: run one SQL query over the pir file
in a short read-only connection, and chart its result with plotly.

Queries read "today" as ``getvariable('today')``: pir sets it from the settings (``PIR_TODAY``, else the
real date), so a notebook run for a given day gives that day's answers; `pir sql` sets it the same way.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px

from pirlib import sql_shell
from pirlib.config import Settings, load_settings
from pirlib.errors import InputError

CHARTS = {"bar": px.bar, "line": px.line, "scatter": px.scatter}


def run(sql: str, settings: Settings | None = None) -> pd.DataFrame:
    """The result of ``sql`` as a frame, read in one read-only connection that is closed at once."""
    settings = settings or load_settings(require_project=True)
    with sql_shell.connect(settings) as con:
        return con.execute(sql).df()


def chart(frame: pd.DataFrame, kind: str, title: str, **options: Any) -> None:
    """Show ``frame`` as a plotly chart of ``kind`` (bar, line, scatter); ``columns`` are plotly express's
    x, y, color, ... arguments (``options``). An empty result says so instead of drawing empty axes."""
    if kind not in CHARTS:
        raise InputError(f"chart kind {kind!r} is not one of {', '.join(CHARTS)}")
    if frame.empty:
        print(f"{title}: no rows")
        return
    CHARTS[kind](frame, title=title, **options).show()

"""The overview board: incidents by severity and month, action status by month, the latest incidents.

No filters: the counts in its headline and its figures cover the whole database.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pirlib import metrics
from pirlib.ui import figures, html, nav
from pirlib.ui.boards.board import BoardData, BoardSpec

LATEST_COLUMNS = {
    "key": "Key",
    "severity": "Severity",
    "status": "Status",
    "started": "Started (UTC)",
    "summary": "Summary",
}


def load_totals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row: how many incidents and actions the database holds."""
    return pd.DataFrame({"incidents": [metrics.incident_count(con)], "actions": [metrics.action_count(con)]})


def _totals(data: BoardData) -> tuple[int, int]:
    totals = data.frames["totals"].iloc[0]
    return int(totals["incidents"]), int(totals["actions"])


def headline(data: BoardData) -> str:
    incidents, actions = _totals(data)
    return f"{incidents} incidents, {actions} actions. "


def incidents_by_severity(data: BoardData, filters: metrics.Filters) -> object:
    return figures.incidents_by_severity_month(data.frames["incidents_by_month"])


def action_status(data: BoardData, filters: metrics.Filters) -> object:
    if _totals(data)[1] == 0:
        return html.message("No actions yet: actions appear once reviews create them in Jira")
    return figures.action_status_by_month(data.frames["action_states"])


def latest_incidents(data: BoardData, filters: metrics.Filters) -> str:
    latest = data.frames["latest"]
    latest = latest.assign(key=[nav.incident_link(k) for k in latest["key"]]).rename(columns=LATEST_COLUMNS)
    return "<h3>Latest incidents</h3>" + html.table(latest, html_columns={LATEST_COLUMNS["key"]})


SPEC = BoardSpec(
    "Overview",
    {
        "totals": load_totals,
        "incidents_by_month": metrics.incidents_by_severity_month,
        "action_states": metrics.action_status_counts,
        "latest": metrics.latest_incidents,
    },
    {},
    (incidents_by_severity, action_status, latest_incidents),
    headline=headline,
)

"""The drill-down board: every incident and action of a team, a service or a failure mode (linked from the
other boards' tables), each incident linked to its read-only incident page."""

from __future__ import annotations

import duckdb
import pandas as pd

from pirlib import metrics
from pirlib.ui import html, nav
from pirlib.ui.boards.board import BoardData, BoardSpec, none_html

ROWS = 200  # rows each list shows, newest first


def load_actions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``metrics.load_actions`` plus each action's incident's failure mode, so the failure-mode filter narrows
    the actions as it narrows the incidents."""
    actions = metrics.load_actions(con)
    modes = con.execute("SELECT incident_id, failure_mode FROM v_incident_failure_modes").df()
    return actions.merge(modes, on="incident_id", how="left")


def _shown(rows: pd.DataFrame) -> str:
    return f" (the {ROWS} newest of {len(rows)})" if len(rows) > ROWS else f" ({len(rows)})"


def incidents_list(data: BoardData, filters: metrics.Filters) -> str:
    rows = data.frames["incidents"].sort_values("occurred_at", ascending=False)
    title = f"<h3>Incidents{html.text(_shown(rows))}</h3>"
    if rows.empty:
        return title + none_html("incidents")
    shown = rows.head(ROWS)
    table = pd.DataFrame(
        {
            "Incident": [nav.incident_link(k) for k in shown["key"]],
            "Summary": shown["summary"].tolist(),
            "Severity": shown["severity"].tolist(),
            "Service": [nav.drill_link(s, service=s) for s in shown["service"]],
            "Failure mode": [nav.drill_link(m, failure_mode=m) for m in shown["failure_mode"]],
            "Started (UTC)": shown["occurred_at"].tolist(),
            "Jira": [html.link("open", u) for u in shown["url"]],
        }
    )
    return title + html.table(table, html_columns={"Incident", "Service", "Failure mode", "Jira"})


def actions_list(data: BoardData, filters: metrics.Filters) -> str:
    states = data.derive("action_states", lambda: metrics.action_states(data.frames["actions"], data.today))
    rows = states.sort_values("created_at", ascending=False)
    title = f"<h3>Actions{html.text(_shown(rows))}</h3>"
    if rows.empty:
        return title + none_html("actions")
    shown = rows.head(ROWS)
    table = pd.DataFrame(
        {
            "Action": [html.link(k, u) for k, u in zip(shown["key"], shown["url"])],
            "Summary": shown["summary"].tolist(),
            "Owner": shown["owner"].fillna("unassigned").tolist(),
            "Team": [nav.drill_link(t, team=t) for t in shown["team"]],
            "State": shown["state"].tolist(),
            "Due": shown["due_date"].tolist(),
            "Incident": [nav.incident_link(k) for k in shown["incident_key"]],
        }
    )
    return title + html.table(table, html_columns={"Action", "Team", "Incident"})


SPEC = BoardSpec(
    "Incidents and actions",
    {"incidents": metrics.load_incidents, "actions": load_actions},
    {"incidents": "occurred_at", "actions": "created_at"},
    (incidents_list, actions_list),
)

"""The actions board (runbook §5): are the actions from our reviews getting done, and on time?"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pirlib import durations, metrics
from pirlib.ui import figures, html, nav
from pirlib.ui.boards.board import TABLE_ROWS, BoardData, BoardSpec, none_html, percent

RATE_GROUPINGS = (("team", "team"), ("owner", "owner"), ("severity", "incident severity"), ("incident_key", "incident"))
# What a group of actions without that value is called (metrics.completion_rates calls each "(none)").
MISSING = {"team": "no team", "owner": "unassigned", "severity": "no severity", "incident_key": "no incident"}
UNASSIGNED = MISSING["owner"]


def _states(data: BoardData) -> pd.DataFrame:
    return data.derive("action_states", lambda: metrics.action_states(data.frames["actions"], data.today))


def actions_summary(data: BoardData, filters: metrics.Filters) -> str:
    states = _states(data)
    if states.empty:
        return none_html("actions", data, "actions")
    total = metrics.completion_rates(states.assign(all="all"), "all").iloc[0]
    return html.kpis(
        [
            ("actions", f"{int(total['actions']):,}"),
            ("completed", percent(total["completion_rate"])),
            ("done on time", percent(total["on_time_rate"])),
            ("open", f"{int(total['open']):,}"),
            ("overdue", f"{int(total['overdue']):,}"),
        ]
    )


def actions_rates(data: BoardData, filters: metrics.Filters) -> object:
    """Completion and on-time rate by team, owner, severity and incident: one figure, a button for each."""
    states = _states(data)
    if states.empty:
        return none_html("actions", data, "actions")
    return figures.choice(
        [
            (
                f"by {label}",
                figures.completion_rate_bars(
                    _named_missing(metrics.completion_rates(states, by), by),
                    by,
                    f"Completion and on-time rate by {label}",
                ),
            )
            for by, label in RATE_GROUPINGS
        ]
    )


def _named_missing(rates: pd.DataFrame, by: str) -> pd.DataFrame:
    return rates.assign(**{by: rates[by].replace("(none)", MISSING[by])})


def actions_burn_up(data: BoardData, filters: metrics.Filters) -> object:
    states = _states(data)
    if states.empty:
        return none_html("actions", data, "actions")
    freq = "W" if metrics.choose_period(states["created_at"]) == "M" else "M"
    return figures.burn_up(metrics.burn_up(states, freq))


def actions_aging(data: BoardData, filters: metrics.Filters) -> object:
    states = _states(data)
    if states.empty:
        return none_html("actions", data, "actions")
    return figures.aging_bars(metrics.aging(states))


def actions_missing(data: BoardData, filters: metrics.Filters) -> object:
    states = _states(data)
    if states.empty:
        return none_html("actions", data, "actions")
    return figures.missing_field_bars(metrics.missing_fields(states))


def actions_overdue(data: BoardData, filters: metrics.Filters) -> str:
    states = _states(data)
    if states.empty:
        return "<h3>Overdue actions</h3>" + none_html("actions", data, "actions")
    overdue = metrics.overdue_list(states)
    if overdue.empty:
        return "<h3>Overdue actions</h3>" + html.message("No overdue actions match these filters.")
    shown = overdue.head(TABLE_ROWS)
    more = f" (the {TABLE_ROWS} most overdue of {len(overdue)})" if len(overdue) > TABLE_ROWS else f" ({len(overdue)})"
    table = pd.DataFrame(
        {
            "Action": [html.link(k, u) for k, u in zip(shown["key"], shown["url"])],
            "Summary": shown["summary"].tolist(),
            "Owner": shown["owner"].fillna(UNASSIGNED).tolist(),
            "Team": [nav.drill_link(t, team=t) for t in shown["team"]],
            "Due": [pd.Timestamp(v).date() for v in shown["due_date"]],  # overdue: it has a due date
            "Late by": [durations.span(dt.timedelta(days=int(v))) for v in shown["days_overdue"]],
            "Incident": [nav.incident_link(k) for k in shown["incident_key"]],
        }
    )
    return f"<h3>Overdue actions{html.text(more)}</h3>" + html.table(
        table, html_columns={"Action", "Team", "Incident"}, numbers={"Late by"}
    )


SPEC = BoardSpec(
    "Action completion",
    {"actions": metrics.load_actions},
    {"actions": "created_at"},
    (actions_summary, actions_rates, actions_burn_up, actions_aging, actions_missing, actions_overdue),
)

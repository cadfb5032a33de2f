"""Plotly figure builders for the dashboards. Pure functions: a frame from pirlib.metrics in, a figure out.

Plotly draws labels, legend entries and hover text as a small HTML subset (<b>, <br>, <a href>, ...), so
any text that came from Jira passes through ``escape_text`` before it reaches a figure: a summary like
``<img src=x onerror=...>`` then shows as those characters instead of markup.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

SEVERITY_ORDER = ("Sev-0", "Sev-1", "Sev-2", "Sev-3", "Sev-4")
SEVERITY_COLORS = {
    "Sev-0": "#7f0000",
    "Sev-1": "#d7301f",
    "Sev-2": "#fc8d59",
    "Sev-3": "#fdcc8a",
    "Sev-4": "#fef0d9",
}
NO_SEVERITY = "(no severity)"
ACTION_STATES = ("done", "open", "overdue")
ACTION_COLORS = {"done": "#1a9850", "open": "#91bfdb", "overdue": "#d73027"}
HOVER_TEXT_CHARS = 70
PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape_text(value: object) -> str:
    """Text for a plotly label or hover: '&', '<' and '>' as entities, so plotly renders no markup."""
    return str(value).translate(_ESCAPES)


def _shorten(text: str, limit: int = HOVER_TEXT_CHARS) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def severity_order(severities: list[object]) -> list[str]:
    """Known severities in runbook order, then any others alphabetically, then incidents without one."""
    names = {NO_SEVERITY if pd.isna(s) else str(s) for s in severities}
    known = [s for s in SEVERITY_ORDER if s in names]
    others = sorted(names - set(known) - {NO_SEVERITY})
    return known + others + ([NO_SEVERITY] if NO_SEVERITY in names else [])


def _layout(fig: go.Figure, title: str, y_title: str, frame: pd.DataFrame, value: str) -> go.Figure:
    fig.update_layout(
        title=title,
        barmode="stack",
        xaxis_title=None,
        yaxis_title=y_title,
        legend_title_text=None,
        hovermode="closest",
        margin=dict(l=60, r=20, t=60, b=40),
        height=420,
        template="plotly_white",
    )
    months = frame["month"].nunique() if not frame.empty else 0
    # One label per month (or per quarter / half-year on long ranges), centred under its bars.
    dtick = "M1" if months <= 12 else "M3" if months <= 36 else "M6"
    fig.update_xaxes(tickformat="%b %Y", dtick=dtick, ticklabelmode="period")
    tallest = frame.groupby("month")[value].sum().max() if not frame.empty else 0
    fig.update_yaxes(rangemode="tozero", tickformat=",d", dtick=1 if tallest <= 8 else None)
    return fig


def incidents_by_severity_month(frame: pd.DataFrame) -> go.Figure:
    """Stacked monthly bars of incident counts, one colour per severity.

    ``frame`` is ``metrics.incidents_by_severity_month``: month, severity, incidents, examples. The hover
    names the bar's newest incidents (key and summary, escaped).
    """
    frame = frame.assign(severity=frame["severity"].map(lambda s: NO_SEVERITY if pd.isna(s) else str(s)))
    fig = go.Figure()
    for severity in severity_order(list(frame["severity"])):
        rows = frame[frame["severity"] == severity]
        hover = [_examples_hover(examples, count) for examples, count in zip(rows["examples"], rows["incidents"])]
        fig.add_bar(
            x=rows["month"],
            y=rows["incidents"],
            name=escape_text(severity),
            marker_color=SEVERITY_COLORS.get(severity, "#969696"),
            xperiod="M1",
            xperiodalignment="middle",
            customdata=hover,
            hovertemplate="<b>%{fullData.name}</b>, %{x|%b %Y}: %{y} incidents%{customdata}<extra></extra>",
        )
    return _layout(fig, "Incidents by severity and month", "incidents", frame, "incidents")


def _examples_hover(examples: object, count: int) -> str:
    # DuckDB lists arrive as numpy arrays, lists when built by hand, None/NaN when missing.
    if not isinstance(examples, (list, tuple, np.ndarray)):
        return ""
    lines = [escape_text(_shorten(str(text))) for text in list(examples)]
    more = count - len(lines)
    if more > 0:
        lines.append(f"… and {more} more")
    return "".join(f"<br>{line}" for line in lines)


def action_status_by_month(frame: pd.DataFrame) -> go.Figure:
    """Stacked monthly bars of actions by the month they were created: done, open and overdue.

    ``frame`` is ``metrics.action_status_counts``: month, state, actions.
    """
    fig = go.Figure()
    totals = frame.groupby("state")["actions"].sum() if not frame.empty else pd.Series(dtype="int64")
    states = [s for s in ACTION_STATES if s in set(frame["state"])]
    states += sorted(set(frame["state"]) - set(ACTION_STATES))
    for state in states:
        rows = frame[frame["state"] == state]
        fig.add_bar(
            x=rows["month"],
            y=rows["actions"],
            name=f"{escape_text(state)} ({int(totals.get(state, 0))})",
            marker_color=ACTION_COLORS.get(state, "#969696"),
            xperiod="M1",
            xperiodalignment="middle",
            customdata=[escape_text(state)] * len(rows),
            hovertemplate="%{customdata}, created %{x|%b %Y}: %{y} actions<extra></extra>",
        )
    return _layout(
        fig, "Actions by month created: done, open, and overdue (not done, past due date)", "actions", frame, "actions"
    )


def mime_bundle(fig: go.Figure, config: dict | None = None) -> dict:
    """The display bundle plotly's "plotly_mimetype" renderer would emit, built without ``fig.show()``.

    ``fig.show()`` imports plotly's renderer machinery, which imports nbformat and jsonschema: about 1.4 s
    of a dashboard's first render. The bundle is drawn by the jupyterlab-plotly extension that Voila and
    JupyterLab serve themselves, so plotly.js never comes from a CDN nor is inlined into the page.
    """
    figure = json.loads(pio.to_json(fig, validate=False))
    figure["config"] = dict(PLOTLY_CONFIG if config is None else config)
    title = fig.layout.title.text or "figure"
    return {PLOTLY_MIMETYPE: figure, "text/plain": f"<plotly figure: {title}>"}

"""Plotly figure builders for the dashboards. Pure functions: a frame from pirlib.metrics in, a figure out.

Plotly draws labels, legend entries and hover text as a small HTML subset (<b>, <br>, <a href>, ...), so
any text that came from Jira passes through ``html.plotly_text`` before it reaches a figure: a summary like
``<img src=x onerror=...>`` then shows as those characters instead of markup.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from pirlib import durations
from pirlib.review.clock import STAGES
from pirlib.ui import html

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
# The trace types of the plotly.js bundle `pir serve` pages load (tools/plotly/entry.js, see ``html_bundle``):
# a dashboard figure may use these and no others.
PAGE_TRACE_TYPES = frozenset({"bar", "box", "heatmap", "scatter"})
# A sequential scale for counts, light for few to dark for many (ColorBrewer YlOrRd). Written out rather than
# named: plotly's named "YlOrRd" runs from dark to light, which made the rarest cell the darkest.
COUNT_SCALE = [[0.0, "#ffffcc"], [0.25, "#fed976"], [0.5, "#fd8d3c"], [0.75, "#e31a1c"], [1.0, "#800026"]]
# Bar and cell labels: a number shows where it fits at this size or larger, and is left out where it does not.
FITTING_TEXT = {"mode": "hide", "minsize": 9}
# A count inside its bar segment reads across: one that does not fit across is left out (FITTING_TEXT), not
# turned on its side (plotly's default for a thin segment, which wrote the demo's Sev-0 counts sideways).
INSIDE_TEXT = {"textposition": "inside", "textangle": 0}
HEATMAP_TEXT_COLUMNS = 24  # up to this many columns a heatmap's cells are wide enough for their counts
# Where a duration axis puts its ticks (log scale), in minutes: labelled like every other duration.
DURATION_TICKS = (
    1,
    5,
    15,
    60,
    4 * 60,
    12 * 60,
    24 * 60,
    3 * 24 * 60,
    7 * 24 * 60,
    30 * 24 * 60,
    90 * 24 * 60,
    365 * 24 * 60,
)
MINUTES_PER = {"minutes": 1, "hours": 60}


def _shorten(text: str, limit: int = HOVER_TEXT_CHARS) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def severity_order(severities: Iterable[Any]) -> list[str]:
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
        uniformtext=FITTING_TEXT,
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
            name=html.plotly_text(severity),
            marker_color=SEVERITY_COLORS.get(severity, "#969696"),
            xperiod="M1",
            xperiodalignment="middle",
            text=rows["incidents"],
            **INSIDE_TEXT,
            customdata=hover,
            hovertemplate="<b>%{fullData.name}</b>, %{x|%b %Y}: %{y} incidents%{customdata}<extra></extra>",
        )
    return _layout(fig, "Incidents by severity and month", "incidents", frame, "incidents")


def _examples_hover(examples: object, count: int) -> str:
    # DuckDB lists arrive as numpy arrays, lists when built by hand, None/NaN when missing.
    if not isinstance(examples, (list, tuple, np.ndarray)):
        return ""
    lines = [html.plotly_text(_shorten(str(text))) for text in list(examples)]
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
            name=f"{html.plotly_text(state)} ({int(totals.get(state, 0))})",
            marker_color=ACTION_COLORS.get(state, "#969696"),
            xperiod="M1",
            xperiodalignment="middle",
            text=rows["actions"],
            **INSIDE_TEXT,
            customdata=[html.plotly_text(state)] * len(rows),
            hovertemplate="%{customdata}, created %{x|%b %Y}: %{y} actions<extra></extra>",
        )
    return _layout(
        fig, "Actions by month created: done, open, and overdue (not done, past due date)", "actions", frame, "actions"
    )


def mime_bundle(fig: go.Figure | dict, config: dict | None = None) -> dict:
    """The display bundle plotly's "plotly_mimetype" renderer would emit, built without ``fig.show()``.

    ``fig.show()`` imports plotly's renderer machinery, which imports nbformat and jsonschema: about 1.4 s
    of a dashboard's first render. The bundle is drawn by the jupyterlab-plotly extension that Voila and
    JupyterLab serve themselves, so plotly.js never comes from a CDN nor is inlined into the page. A dict
    is taken as plotly JSON already (the dashboard builders below).
    """
    if isinstance(fig, dict):
        figure = {"data": fig.get("data", []), "layout": fig.get("layout", {})}
        title = (figure["layout"].get("title") or {}).get("text") or "figure"
    else:
        figure = json.loads(pio.to_json(fig, validate=False))
        title = fig.layout.title.text or "figure"
    figure["config"] = dict(PLOTLY_CONFIG if config is None else config)
    return {PLOTLY_MIMETYPE: figure, "text/plain": f"<plotly figure: {title}>"}


def html_bundle(fig: go.Figure | dict, config: dict | None = None) -> dict:
    """The figure as an empty ``<div class="pir-plot">`` holding its plotly JSON in ``data-figure``.

    For pages served by `pir serve`: its page template draws every such div with a plotly.js that the page
    starts loading and evaluating while the server still runs the notebook (see
    ``pirlib/jupyter_share/voila/templates/pir/index.html.j2``), instead of after the page's outputs are
    rendered, as the jupyterlab-plotly renderer of ``mime_bundle`` does. The JSON goes into an attribute,
    escaped, so no Jira text ever becomes markup or script on the page; plotly then draws the labels, which
    ``html.plotly_text`` has already made safe for plotly's own HTML subset.
    """
    figure = mime_bundle(fig, config)
    payload = figure[PLOTLY_MIMETYPE]
    missing = {trace.get("type", "scatter") for trace in payload["data"]} - PAGE_TRACE_TYPES
    if missing:
        raise ValueError(f"trace types {sorted(missing)} are not in the page's plotly.js bundle")
    height = payload["layout"].get("height") or 360
    data = html.text(json.dumps(payload, separators=(",", ":"), allow_nan=False))
    return {
        "text/html": f'<div class="pir-plot" style="height:{int(height)}px" data-figure="{data}"></div>',
        "text/plain": figure["text/plain"],
    }


# ---------------------------------------------------------------------------------------------------------
# Dashboard figures, built as plain plotly JSON (dicts). Building go.Figure objects validates every property
# (about 0.1 s a figure), which a dashboard with eight figures pays on every render and every filter
# change; the JSON is what the mimetype bundle carries anyway. Every category label (team, owner, service,
# failure mode, severity, key) comes from Jira and goes through html.plotly_text.
# ---------------------------------------------------------------------------------------------------------

Spec = dict
STAGE_LABELS = {stage: label.lower() for stage, (label, _, _) in STAGES.items()}  # one name per stage
STAGE_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")
MEASURE_COLORS = {"TTD": "#4575b4", "TTM": "#fdae61", "TTR": "#d73027"}
OUTCOME_COLORS = {"fixes done": "#1a9850", "fixes not done": "#d73027", "no actions": "#bdbdbd"}
RATE_BARS = 20


def _spec(data: list[dict], title: str, height: int = 420, **layout: object) -> Spec:
    base: dict[str, Any] = {
        "title": {"text": title},
        "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        "height": height,
        "hovermode": "closest",
        "plot_bgcolor": "white",
        "uniformtext": FITTING_TEXT,
        "xaxis": {"gridcolor": "#eee"},
        "yaxis": {"gridcolor": "#eee"},
    }
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return {"data": data, "layout": base}


def _labels(values: Iterable[Any]) -> list[str]:
    return [html.plotly_text("(none)" if v is None or (not isinstance(v, str) and pd.isna(v)) else v) for v in values]


def _dates(values: Iterable[Any]) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m-%d") for v in values]


def _numbers(values: Iterable[Any], digits: int = 3) -> list[float | None]:
    return [None if v is None or pd.isna(v) else round(float(v), digits) for v in values]


def completion_rate_bars(rates: pd.DataFrame, by: str, title: str, limit: int = RATE_BARS) -> Spec:
    """Horizontal bars: completion rate and on-time rate per group (the ``limit`` groups with most actions),
    hover with the counts behind each rate. ``rates`` is ``metrics.completion_rates``."""
    rows = rates.head(limit).iloc[::-1]
    names = _labels(rows[by])
    custom = [
        [int(a), int(d), int(o), int(v)]
        for a, d, o, v in zip(rows["actions"], rows["done"], rows["open"], rows["overdue"])
    ]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "completed",
            "y": names,
            "x": _numbers(rows["completion_rate"]),
            "marker": {"color": ACTION_COLORS["done"]},
            "customdata": custom,
            "texttemplate": "%{x:.0%}",
            "textposition": "auto",
            "hovertemplate": "%{y}: %{x:.0%} done (%{customdata[1]} of %{customdata[0]}), "
            "%{customdata[3]} overdue<extra></extra>",
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "done on time",
            "y": names,
            "x": _numbers(rows["on_time_rate"]),
            "marker": {"color": "#4575b4"},
            "customdata": custom,
            "texttemplate": "%{x:.0%}",
            "textposition": "auto",
            "hovertemplate": "%{y}: %{x:.0%} of due actions done by their due date<extra></extra>",
        },
    ]
    more = f" (top {limit} of {len(rates)} by actions)" if len(rates) > limit else ""
    # Bars tall enough for their numbers (about 24 px each: inside a long bar, after a short one; at 34 px a pair
    # plotly hid every number), and room after 100% for a number outside.
    return _spec(
        data,
        title + more,
        height=max(300, 110 + 64 * len(rows)),
        barmode="group",
        bargap=0.15,
        xaxis={"tickformat": ".0%", "range": [0, 1.08], "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1]},
        yaxis={"automargin": True},
        legend={"orientation": "h", "y": -0.15},
    )


def choice(views: list[tuple[str, Spec]]) -> Spec:
    """One figure showing one of several figures (label, spec) at a time, with a button per figure.

    The buttons switch in the browser (no kernel round trip), and a page draws one figure where it would
    draw several: plotly skips hidden traces. Used for the completion rates by team, owner, severity and
    incident (``completion_rate_bars``) and for the failure-mode heatmaps by period and by service.
    """
    # Which view each trace belongs to; the first view's traces show.
    owner = [i for i, (_, spec) in enumerate(views) for _ in spec["data"]]
    data = [{**trace, "visible": i == 0} for i, (_, spec) in enumerate(views) for trace in spec["data"]]
    buttons, first = [], views[0][1]["layout"]
    for i, (label, spec) in enumerate(views):
        visible = [view == i for view in owner]
        layout = spec["layout"]
        relayout = {"title.text": layout["title"]["text"], "height": layout["height"]}
        # An axis typed by its view (dates by period, categories by service) keeps that type when switched to.
        relayout.update(
            {f"{axis}.type": layout[axis]["type"] for axis in ("xaxis", "yaxis") if "type" in layout.get(axis, {})}
        )
        buttons.append({"label": html.plotly_text(label), "method": "update", "args": [{"visible": visible}, relayout]})
    # The title at the top of the figure, the buttons under it, just above the plot.
    menu = {
        "type": "buttons",
        "direction": "right",
        "buttons": buttons,
        "showactive": True,
        "active": 0,
        "x": 0,
        "xanchor": "left",
        "y": 1.0,
        "yanchor": "bottom",
        "pad": {"b": 10},
    }
    title = {**first["title"], "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 12}}
    return {
        "data": data,
        "layout": {**first, "title": title, "updatemenus": [menu], "margin": {**first["margin"], "t": 100}},
    }


def burn_up(frame: pd.DataFrame) -> Spec:
    """Cumulative actions created vs done (``metrics.burn_up``); the gap between the lines is open work."""
    x = _dates(frame["period"])
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "created",
            "x": x,
            "y": [int(v) for v in frame["created"]],
            "line": {"color": "#636363"},
            "hovertemplate": "%{x}: %{y} created<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "done",
            "x": x,
            "y": [int(v) for v in frame["done"]],
            "line": {"color": ACTION_COLORS["done"]},
            "fill": "tozeroy",
            "hovertemplate": "%{x}: %{y} done<extra></extra>",
        },
    ]
    return _spec(
        data,
        "Burn-up: actions created vs done (cumulative)",
        yaxis={"rangemode": "tozero", "title": {"text": "actions"}},
    )


def aging_bars(frame: pd.DataFrame) -> Spec:
    """Open actions by age (days since created), split into overdue and not yet due (``metrics.aging``)."""
    data = []
    for overdue, name, color in (
        (False, "open, not overdue", ACTION_COLORS["open"]),
        (True, "overdue", ACTION_COLORS["overdue"]),
    ):
        rows = frame[frame["overdue"] == overdue]
        counts = [int(v) for v in rows["actions"]]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": list(rows["bucket"]),
                "y": counts,
                "text": [v or "" for v in counts],
                **INSIDE_TEXT,
                "marker": {"color": color},
                "hovertemplate": "%{x}: %{y} " + name + "<extra></extra>",
            }
        )
    return _spec(
        data, "Aging of open actions (days since created)", barmode="stack", yaxis={"title": {"text": "open actions"}}
    )


def missing_field_bars(frame: pd.DataFrame) -> Spec:
    """Open actions missing each SMART field (``metrics.missing_fields``)."""
    total = int(frame["open_actions"].max()) if not frame.empty else 0
    data = [
        {
            "type": "bar",
            "x": list(frame["field"]),
            "y": [int(v) for v in frame["missing"]],
            "marker": {"color": "#fc8d59"},
            "text": [int(v) for v in frame["missing"]],
            "textposition": "auto",
            "hovertemplate": "%{y} of " + str(total) + " open actions have no %{x}<extra></extra>",
        }
    ]
    return _spec(data, f"Open actions missing a field (of {total} open)", height=340, yaxis={"rangemode": "tozero"})


def compliance_lines(frame: pd.DataFrame, period: str = "month") -> Spec:
    """Per-stage share of reviews that met the deadline, per ``period`` closed (``metrics.stage_compliance``)."""
    data = []
    for color, (stage, rows) in zip(STAGE_COLORS * 2, _by_stage(frame)):
        label = STAGE_LABELS.get(stage, html.plotly_text(stage))
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": _dates(rows["period"]),
                "y": _numbers(rows["rate"]),
                "line": {"color": color},
                "customdata": [[int(o), int(d)] for o, d in zip(rows["on_time"], rows["decided"])],
                "hovertemplate": label
                + ", %{x|%b %Y}: %{y:.0%} on time (%{customdata[0]} of %{customdata[1]})<extra></extra>",
            }
        )
    return _spec(
        data,
        f"Review stages done within their deadline, by {period} of closure",
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        legend={"orientation": "h", "y": -0.15},
    )


def _by_stage(frame: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    if frame.empty:
        return []
    return [(stage, rows) for (_, stage), rows in frame.groupby(["stage_rank", "stage"], sort=True)]


def distribution_boxes(
    summary: pd.DataFrame, x: str, title: str, unit: str, trace: str | None = None, log: bool = False
) -> Spec:
    """Durations as one box per group from precomputed quantiles (``metrics.summarize``): box q1–median–q3,
    whiskers P10–P90, hover with median, P90 and n. Precomputed, so 50k rows cost the page nothing extra.
    ``unit`` is what the quantiles count ("minutes" or "hours"); the axis and the hover say each duration as
    ``pirlib.durations`` does ('5 h 24 min', '2 d 3 h'). ``trace`` splits the boxes into coloured groups
    (TTD / TTM / TTR)."""
    per = MINUTES_PER[unit]
    groups = [(None, summary)] if trace is None else list(summary.groupby(trace, sort=False))
    data: list[dict[str, Any]] = []
    for name, rows in groups:
        xs = [
            STAGE_LABELS.get(v, html.plotly_text(v)) if x == "stage" else pd.Timestamp(v).strftime("%Y-%m-%d")
            for v in rows[x]
        ]
        label = html.plotly_text(name) if name is not None else "duration"
        data.append(
            {
                "type": "box",
                "name": label,
                "x": xs,
                "q1": _numbers(rows["q1"]),
                "median": _numbers(rows["median"]),
                "q3": _numbers(rows["q3"]),
                "lowerfence": _numbers(rows["p10"]),
                "upperfence": _numbers(rows["p90"]),
                "marker": {"color": MEASURE_COLORS.get(str(name), "#4575b4")},
                "hoverinfo": "skip",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label + " n",
                "x": xs,
                "y": _numbers(rows["median"]),
                "showlegend": False,
                "marker": {"size": 1, "opacity": 0},
                "customdata": [
                    [durations.minutes(m * per), durations.minutes(p * per), int(n)]
                    for m, p, n in zip(rows["median"], rows["p90"], rows["n"])
                ],
                "hovertemplate": label
                + " %{x}: median %{customdata[0]}, P90 %{customdata[1]}, n=%{customdata[2]}<extra></extra>",
            }
        )
    ticks = [minutes / per for minutes in DURATION_TICKS]
    axis = {
        "title": {"text": "log scale" if log else None},
        "tickvals": ticks,
        "ticktext": [durations.span(dt.timedelta(minutes=minutes)) for minutes in DURATION_TICKS],
    }
    if log:
        axis["type"] = "log"
    return _spec(
        data,
        title + " (box: quartiles; whiskers: P10–P90)",
        boxmode="group",
        yaxis=axis,
        legend={"orientation": "h", "y": -0.15},
    )


def heatmap(counts: pd.DataFrame, x: str, y: str, value: str, title: str, dates: bool = False) -> Spec:
    """A count heatmap: ``value`` per (x, y) from a long frame; blank where there is nothing."""
    if counts.empty:
        return _spec([], title)
    table = counts.pivot_table(index=y, columns=x, values=value, aggfunc="sum", fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values().index]
    columns = _dates(table.columns) if dates else _labels(table.columns)
    z = [[int(v) if v else None for v in row] for row in table.to_numpy()]
    # From zero: the most frequent cell is the darkest, and a cell of 1 is light but still coloured.
    trace = {
        "type": "heatmap",
        "x": columns,
        "y": _labels(table.index),
        "z": z,
        "colorscale": COUNT_SCALE,
        "zmin": 0,
        "zmax": int(table.to_numpy().max()),
        "colorbar": {"title": {"text": value}},
        "hoverongaps": False,
        "xgap": 1,
        "ygap": 1,
        "hovertemplate": "%{y}, %{x}: %{z} incidents<extra></extra>",
    }
    if len(columns) <= HEATMAP_TEXT_COLUMNS:
        trace["texttemplate"] = "%{z}"
    data = [trace]
    # Typed, not guessed from the values: the view of a figures.choice shown first would fix the type.
    return _spec(
        data,
        title,
        height=max(320, 90 + 26 * len(table)),
        yaxis={"automargin": True, "type": "category"},
        xaxis={"automargin": True, "type": "date" if dates else "category"},
    )


def stacked_bars(
    counts: pd.DataFrame,
    x: str,
    color: str,
    value: str,
    title: str,
    colors: dict[str, str] | None = None,
    order: list[str] | None = None,
) -> Spec:
    """Stacked bars of ``value`` per ``x``, one colour per ``color`` value (severity, outcome, ...)."""
    keys = order or sorted(counts[color].astype(str).unique()) if not counts.empty else []
    totals = counts.groupby(x)[value].sum().sort_values(ascending=False) if not counts.empty else pd.Series(dtype=int)
    xs = list(totals.index)
    data = []
    for key in keys:
        rows = counts[counts[color].astype(str) == key].set_index(x)[value].reindex(xs)
        label = html.plotly_text(key)
        ys = [None if pd.isna(v) else int(v) for v in rows]
        data.append(
            {
                "type": "bar",
                "name": label,
                "x": _labels(xs),
                "y": ys,
                "text": ys,
                **INSIDE_TEXT,
                "marker": {"color": (colors or {}).get(key, SEVERITY_COLORS.get(key, "#969696"))},
                "hovertemplate": "%{x}, " + label + ": %{y}<extra></extra>",
            }
        )
    return _spec(data, title, barmode="stack", yaxis={"rangemode": "tozero"}, xaxis={"automargin": True})

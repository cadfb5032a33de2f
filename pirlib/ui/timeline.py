"""The incident timeline as a plotly figure: one lane per source, milestones, detection/mitigation spans.

Built for big incidents: one trace per lane (never one per event), WebGL above ``WEBGL_EVENTS`` events,
hover text prepared with vectorised
string operations, milestones and spans as layout shapes. Every piece of event text is escaped (``html.lines``) before it
reaches plotly, whose hover labels would otherwise render tags such as ``<a>`` or ``<b>`` typed in a chat.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from pirlib.ui import html

__all__ = ["KEY_MOMENTS", "LANES", "hover_text", "key_moments", "timeline_figure", "timeline_json"]

# Lane order top to bottom, with readable names; unknown sources follow in alphabetical order.
LANES = {
    "jira_changelog": "Jira changes",
    "jira_comment": "Jira comments",
    "chat": "Chat",
    "alert": "Alerts",
    "deploy": "Deploys",
    "code": "Code",
    "flag": "Feature flags",
    "config": "Config",
    "manual": "Manual",
}
KEY_MOMENTS = "key moments"  # the name of the trace of starred events
# Above this many events the lanes are WebGL traces. Below it SVG draws sooner: a page's first WebGL figure
# creates a WebGL context, which on a machine without a GPU (software GL, a headless browser) costs most of
# a second before the first point shows; SVG with a few hundred points costs a few milliseconds.
WEBGL_EVENTS = 1000
_COLORS = {
    "jira_changelog": "#1f77b4",
    "jira_comment": "#17becf",
    "chat": "#2ca02c",
    "alert": "#d62728",
    "deploy": "#9467bd",
    "code": "#8c564b",
    "flag": "#e377c2",
    "config": "#7f7f7f",
    "manual": "#bcbd22",
}
MILESTONE_ROW_PX = 14  # the height of a row of milestone labels
_MILESTONE_COLORS = {
    "started": "#d62728",
    "detected": "#ff7f0e",
    "acknowledged": "#bcbd22",
    "mitigated": "#1f77b4",
    "resolved": "#2ca02c",
}


def hover_text(events: pd.DataFrame) -> pd.Series:
    """The hover label of each event: time, source/kind, actor, change, full text; all of it escaped."""
    times = pd.to_datetime(events["occurred_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    head = "<b>" + times + "</b> · " + html.lines(events["source"]) + " / " + html.lines(events["kind"])
    actor = events["actor"].fillna("")
    line = head + np.where(actor != "", "<br>" + html.lines(actor), "")
    if "field" in events:
        change = events["field"].notna() & (events["from_value"].notna() | events["to_value"].notna())
        change_text = (
            html.lines(events["field"])
            + ": "
            + html.lines(events["from_value"])
            + " → "
            + html.lines(events["to_value"])
        )
        line = line + np.where(change, "<br>" + change_text, "")
    text = events["text"].fillna("")
    line = line + np.where(text != "", "<br>" + html.lines(text), "")
    flags = []
    for column, label in (
        ("starred", "★ key moment"),
        ("hidden", "hidden"),
        ("retimed", "re-timed"),
        ("edited", "text edited"),
    ):
        if column in events:
            flags.append(np.where(events[column].fillna(False).astype(bool), f"<br><i>{label}</i>", ""))
    for flag in flags:
        line = line + flag
    return pd.Series(line, index=events.index)


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].fillna(False).astype(bool).to_numpy()


def _naive_utc(values: Any) -> pd.Series:
    # plotly serialises naive datetimes as they are; converting once here keeps the axis in UTC.
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def timeline_figure(
    events: pd.DataFrame,
    milestones: pd.DataFrame | None = None,
    *,
    title: str | None = None,
    show_hidden: bool = False,
    template: str | None = "plotly_white",
) -> go.Figure:
    """A plotly figure of ``v_timeline`` rows and (optionally) a milestone table from ``pirlib.timeline``.

    Hidden events are left out unless ``show_hidden`` (then drawn faint). Starred events are stars.
    ``template=None`` leaves plotly's template out (see ``timeline_json``).
    """
    frame = events
    if "hidden" in frame and not show_hidden:
        frame = frame.loc[~frame["hidden"].fillna(False).astype(bool)]
    sources = list(pd.unique(frame["source"])) if len(frame) else []
    order = [s for s in LANES if s in sources] + sorted(s for s in sources if s not in LANES)
    # Everything per event is computed once over the whole frame; lanes then take slices of numpy arrays.
    x = _naive_utc(frame["occurred_at"]).to_numpy()
    hover = hover_text(frame).to_numpy(dtype=object)
    lane_names = frame["source"].map(lambda s: LANES.get(s, s)).to_numpy(dtype=object)
    hidden = _flag(frame, "hidden")
    starred = _flag(frame, "starred")
    ids = frame["event_id"].to_numpy(dtype=object)
    source_values = frame["source"].to_numpy(dtype=object)
    scatter = go.Scattergl if len(frame) > WEBGL_EVENTS else go.Scatter
    traces = []
    for source in order:
        mask = source_values == source
        name = LANES.get(source, source)
        traces.append(
            scatter(
                x=x[mask],
                y=lane_names[mask],
                mode="markers",
                name=name,
                hovertext=hover[mask],
                hovertemplate="%{hovertext}<extra></extra>",
                customdata=ids[mask],
                marker={
                    "color": _COLORS.get(source, "#444444"),
                    "size": 9,
                    "opacity": np.where(hidden[mask], 0.25, 0.85),
                    "line": {"width": 0},
                },
            )
        )
    if starred.any():
        traces.append(_key_moments(x[starred], lane_names[starred], hover[starred], ids[starred], scatter))
    figure = go.Figure(data=traces)
    shapes, annotations = _milestone_shapes(milestones)
    rows = max(len(annotations), 3)  # rows of milestone labels above the plot; the figure grows past three
    figure.update_layout(
        # the title at the top, above the rows of milestone labels (plotly centres it in the top margin)
        title={"text": title, "yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": 14}} if title else None,
        height=160 + 48 * max(1, len(order)) + MILESTONE_ROW_PX * (rows - 3),
        # The bottom margin holds two lines of date labels and the axis title (68 px as plotly measured them):
        # set here, with the template's automargin off, so that plotly.js draws the figure once instead of
        # drawing it, growing the margin and drawing it again (20 of its 40 ms in the guide's browser).
        margin={"l": 120, "r": 20, "t": (48 if title else 28) + MILESTONE_ROW_PX * rows, "b": 70},
        xaxis={"title": "time (UTC)", "type": "date", "automargin": False},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [LANES.get(s, s) for s in order][::-1],
            "automargin": True,
        },
        hovermode="closest",
        hoverlabel={"align": "left"},
        showlegend=False,
        shapes=shapes,
        annotations=annotations,
        **({"template": template} if template else {}),
    )
    return figure


@functools.cache
def _white_template() -> dict[str, Any]:
    return json.loads(pio.to_json(go.Figure(layout={"template": "plotly_white"}), validate=False))["layout"]["template"]


def timeline_json(
    events: pd.DataFrame, milestones: pd.DataFrame | None = None, *, title: str | None = None, show_hidden: bool = False
) -> dict[str, Any]:
    """``timeline_figure`` as plotly JSON (data, layout), its template added as JSON made once per process:
    plotly copies and checks a named template on every figure, which costs more than the whole figure of
    a few hundred events (the guide builds one whenever another incident's timeline is opened)."""
    figure = json.loads(
        pio.to_json(
            timeline_figure(events, milestones, title=title, show_hidden=show_hidden, template=None), validate=False
        )
    )
    figure["layout"]["template"] = _white_template()
    return figure


def _key_moments(x: Any, lanes: Any, hover: Any, ids: Any, scatter: type = go.Scatter) -> go.Scatter | go.Scattergl:
    # Key moments: one overlay trace of stars (per-point symbol arrays are slow to validate).
    return scatter(
        x=x,
        y=lanes,
        mode="markers",
        name=KEY_MOMENTS,
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        customdata=ids,
        marker={"symbol": "star", "size": 17, "color": "#ffbf00", "line": {"width": 1, "color": "#7a5c00"}},
    )


def key_moments(events: pd.DataFrame, *, show_hidden: bool = False) -> dict[str, Any] | None:
    """The stars trace of ``timeline_figure(events, show_hidden=...)`` as plotly JSON, or None without starred
    events: for updating a figure already drawn when an event is starred, without building it again."""
    shown = events if show_hidden else events.loc[~_flag(events, "hidden")]
    frame = shown.loc[_flag(shown, "starred")]
    if frame.empty:
        return None
    lanes = frame["source"].map(lambda s: LANES.get(s, s)).to_numpy(dtype=object)
    scatter = go.Scattergl if len(shown) > WEBGL_EVENTS else go.Scatter
    trace = _key_moments(
        _naive_utc(frame["occurred_at"]).to_numpy(),
        lanes,
        hover_text(frame).to_numpy(dtype=object),
        frame["event_id"].to_numpy(dtype=object),
        scatter,
    )
    return json.loads(pio.to_json(go.Figure(data=[trace]), validate=False))["data"][0]


def _milestone_shapes(milestones: pd.DataFrame | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if milestones is None or milestones.empty:
        return [], []
    times = {
        name: pd.Timestamp(at).tz_convert("UTC").tz_localize(None)
        for name, at in zip(milestones["milestone"], milestones["occurred_at"], strict=True)
        if at is not None and not pd.isna(at)
    }
    shapes: list[dict[str, Any]] = []
    for start, end, color in (
        ("started", "detected", "rgba(255,127,14,0.12)"),
        ("detected", "mitigated", "rgba(31,119,180,0.10)"),
    ):
        if start in times and end in times and times[start] <= times[end]:
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "x0": times[start],
                    "x1": times[end],
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": color,
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
    annotations = []
    flagged = dict(zip(milestones["milestone"], milestones.get("out_of_order", [None] * len(milestones)), strict=True))
    for n, (name, at) in enumerate(times.items()):
        bad = bool(flagged.get(name))
        color = "#d62728" if bad else _MILESTONE_COLORS.get(name, "#444")
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at,
                "x1": at,
                "y0": 0,
                "y1": 1,
                "line": {"color": color, "width": 2, "dash": "solid" if not bad else "dot"},
            }
        )
        annotations.append(
            {
                "x": at,
                "y": 1.0,
                "yshift": MILESTONE_ROW_PX * n,  # a row each, in pixels: close milestones never overlap
                "xref": "x",
                "yref": "paper",
                "showarrow": False,
                "text": html.plotly_text(("⚠ " if bad else "") + name),
                "font": {"color": color, "size": 11},
                "yanchor": "bottom",
            }
        )
    return shapes, annotations

"""One incident, read-only, inside the dashboards (``incident.ipynb?incident=INC-123``): its facts, the timeline
figure, the milestones, the actions with their Jira links and the published postmortem's link.

Like a board, it reads everything in one read-only connection, closed before anything is drawn; the incident
comes from the page's URL (``pirlib.ui.nav``) and is resolved as every command resolves one (key in any case,
or Jira issue id), so an unknown or deleted incident gets the same one line as on the command line.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from pirlib import attention, db, durations, metrics
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.incidents import resolve_incident
from pirlib.timeline.events import load_timeline
from pirlib.timeline.milestones import MilestoneReport, milestones_of
from pirlib.ui import figures, html, nav
from pirlib.ui.boards.board import EMPTY_MESSAGE, has_schema
from pirlib.ui.timeline import timeline_figure

NO_INCIDENT = "No incident named: open one from a board's table, or add ?incident=INC-123 to this page's address."
FACTS = (
    ("severity", "Severity"),
    ("service", "Service"),
    ("failure_mode", "Failure mode"),
    ("status", "Status"),
    ("commander", "Commander"),
    ("started_at", "Started (UTC)"),
    ("resolved_at", "Closed (UTC)"),
)


@dataclass
class IncidentView:
    facts: dict
    events: pd.DataFrame
    milestones: MilestoneReport
    actions: pd.DataFrame
    today: dt.date


def load_view(con: duckdb.DuckDBPyConnection, incident: str, today: dt.date) -> IncidentView:
    """Everything the page shows about ``incident`` (key or id); InputError when it is unknown or deleted."""
    incident_id, _ = resolve_incident(con, incident)
    facts = (
        con.execute(
            "SELECT i.issue_id, i.key, i.summary, i.severity, i.service, f.failure_mode, i.status, i.commander,"
            " i.started_at, i.resolved_at, i.url, i.regulatory, r.published_at, r.doc_url"
            " FROM incidents AS i LEFT JOIN v_incident_failure_modes AS f ON f.incident_id = i.issue_id"
            " LEFT JOIN reviews AS r ON r.incident_id = i.issue_id WHERE i.issue_id = ?",
            [incident_id],
        )
        .df()
        .iloc[0]
        .to_dict()
    )
    actions = con.execute(
        "SELECT key, summary, owner, team, status, is_done, due_date, created_at, resolved_at, url"
        " FROM v_action_status WHERE incident_id = ? ORDER BY due_date NULLS LAST, key",
        [incident_id],
    ).df()
    return IncidentView(
        facts,
        load_timeline(con, incident_id),
        milestones_of(con, incident_id),
        metrics.action_states(actions, today),
        today,
    )


def _svg_traces(figure: go.Figure) -> dict[str, Any]:
    """The timeline figure as JSON with its WebGL scatter traces drawn as SVG scatter: the pages' plotly.js
    bundle has scatter but not scattergl (an incident's few hundred events draw fine either way)."""
    spec = json.loads(figure.to_json())  # plotly's encoder: numpy arrays and timestamps become JSON
    for trace in spec["data"]:
        if trace.get("type") == "scattergl":
            trace["type"] = "scatter"
    return spec


def facts_html(view: IncidentView) -> str:
    f = view.facts
    title = f"<h2>{html.link(f['key'], f['url'])} {html.cell(f['summary'])}</h2>"
    values = {
        name: (
            nav.drill_link(f[name], **{name: f[name]}) if name in ("service", "failure_mode") else html.cell(f[name])
        )
        for name, _ in FACTS
    }
    cells = "".join(
        f'<tr><th style="padding-right:1em;text-align:left">{html.text(label)}</th>'
        f'<td style="text-align:left">{values[name]}</td></tr>'
        for name, label in FACTS
    )
    if isinstance(f["doc_url"], str) and f["doc_url"]:
        published = f"Postmortem: {html.link('the published postmortem', f['doc_url'])}"
        if f["published_at"] is not None and not pd.isna(f["published_at"]):
            published += html.text(f" (published {pd.Timestamp(f['published_at']):%Y-%m-%d %H:%M} UTC)")
    else:
        published = (
            html.text("Postmortem: not published yet (")
            + f"<code>pir publish {html.text(f['key'])}</code>"
            + " publishes it)."
        )
    return title + f'<table class="pir-table" style="{html.TABLE_STYLE}">{cells}</table><p>{published}</p>'


def milestones_html(view: IncidentView) -> str:
    table = view.milestones.table
    if table.empty:
        return "<h3>Milestones</h3>" + html.message("No milestones: this incident has no timeline events yet.")
    rows = pd.DataFrame(
        {
            "Milestone": table["milestone"].tolist(),
            "When (UTC)": table["occurred_at"].tolist(),
            "From": table["rule"].tolist(),
            "Check": [flag or "" for flag in table["out_of_order"]],
        }
    )
    spans = [
        f"{label} {durations.minutes(view.milestones.durations.get(name))}"
        for name, label in (
            ("ttd_minutes", "TTD"),
            ("tta_minutes", "TTA"),
            ("ttm_minutes", "TTM"),
            ("ttr_minutes", "TTR"),
        )
    ]
    summary = f"<p>{html.text(' · '.join(spans))}</p>" if spans else ""
    return "<h3>Milestones</h3>" + summary + html.table(rows)


def actions_html(view: IncidentView) -> str:
    actions = view.actions
    title = f"<h3>Actions ({len(actions)})</h3>"
    if actions.empty:
        return title + html.message("No actions in Jira for this incident yet.")
    table = pd.DataFrame(
        {
            "Action": [html.link(k, u) for k, u in zip(actions["key"], actions["url"])],
            "Summary": actions["summary"].tolist(),
            "Owner": actions["owner"].fillna(attention.UNASSIGNED).tolist(),
            "Team": [nav.drill_link(t, team=t) for t in actions["team"]],
            "Status": actions["status"].tolist(),
            "State": actions["state"].tolist(),
            "Due": actions["due_date"].tolist(),
        }
    )
    return title + html.table(table, html_columns={"Action", "Team"})


def page_html(view: IncidentView) -> str:
    """Everything below the header: facts, timeline figure, milestones, actions."""
    if view.events.empty:
        figure = html.message("No timeline events for this incident yet.")
    else:
        spec = _svg_traces(timeline_figure(view.events, view.milestones.table, title=f"{view.facts['key']} timeline"))
        figure = figures.html_bundle(spec)["text/html"]
    return facts_html(view) + "<h3>Timeline</h3>" + figure + milestones_html(view) + actions_html(view)


def show(settings: Settings | None = None) -> None:
    """The page, for ``dashboards/incident.ipynb``: reads ``?incident=`` from the URL."""
    settings = settings or load_settings()
    wanted = nav.parse_filters(nav.query_string(), supported=("incidents",), dates=False)
    header = nav.header_html(nav.INCIDENT.name)
    keys = wanted.filters.incidents
    if len(keys) != 1:
        display(
            HTML(header + html.message(NO_INCIDENT if not keys else "Several incidents named: open one at a time."))
        )
        return
    try:
        with db.read_model(settings) as con:
            if not has_schema(con):
                raise PirError(EMPTY_MESSAGE)
            view = load_view(con, keys[0], settings.current_date())
    except PirError as exc:
        display(HTML(header + html.message(EMPTY_MESSAGE if not settings.db.exists() else str(exc))))
        return
    display(HTML(header + page_html(view)))

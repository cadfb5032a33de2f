"""What a dashboard notebook calls: load its frames read-only in one short connection, then show them.

A dashboard opens the database read-only, reads every frame it needs, and closes it before anything is
drawn, so an idle dashboard holds no lock and a facilitator can save at any time. When there is no data
(no file yet, or no incidents) every ``show_*`` call shows one line that says how to load some, instead
of a traceback. Jira text reaches the page only through ``html.escape`` (tables) or
``figures.escape_text`` (plotly), never as markup.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from pirlib import db, metrics
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.ui import figures

EMPTY_MESSAGE = "No data yet: run `pir demo` for the sample or `pir sync` against Jira"
LATEST_COLUMNS = {"key": "Key", "severity": "Severity", "status": "Status", "started": "Started (UTC)", "summary": "Summary"}


@dataclass
class Overview:
    """The frames of the overview dashboard, or the reason there are none (``problem``)."""

    today: dt.date
    incidents: int = 0
    actions: int = 0
    incidents_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    action_states: pd.DataFrame = field(default_factory=pd.DataFrame)
    latest: pd.DataFrame = field(default_factory=pd.DataFrame)
    last_sync: dict | None = None
    problem: str | None = None

    @property
    def has_data(self) -> bool:
        return self.problem is None

    def show_header(self) -> None:
        display(HTML(self.header_html()))

    def header_html(self) -> str:
        if self.problem:
            return _message_html(self.problem)
        counts = f"{self.incidents} incidents, {self.actions} actions. "
        return f'<p class="pir-as-of">{html.escape(counts + data_as_of(self.last_sync, self.today))}</p>'

    def show_incidents_by_severity(self) -> None:
        if self.has_data:
            show_figure(figures.incidents_by_severity_month(self.incidents_by_month))

    def show_action_status(self) -> None:
        if self.has_data:
            if self.actions:
                show_figure(figures.action_status_by_month(self.action_states))
            else:
                display(HTML(_message_html("No actions yet: actions appear once reviews create them in Jira")))

    def show_latest_incidents(self) -> None:
        if self.has_data:
            display(HTML("<h3>Latest incidents</h3>" + table_html(self.latest.rename(columns=LATEST_COLUMNS))))


def load_overview(settings: Settings | None = None) -> Overview:
    """Read everything the overview shows in one read-only connection, closed before returning."""
    settings = settings or load_settings()
    overview = Overview(today=settings.current_date())
    try:
        with db.connect(settings, read_only=True) as con:
            if not _has_schema(con):
                overview.problem = EMPTY_MESSAGE
                return overview
            overview.incidents = metrics.incident_count(con)
            if overview.incidents == 0:
                overview.problem = EMPTY_MESSAGE
                return overview
            overview.actions = metrics.action_count(con)
            overview.incidents_by_month = metrics.incidents_by_severity_month(con)
            overview.action_states = metrics.action_status_counts(con)
            overview.latest = metrics.latest_incidents(con)
            overview.last_sync = metrics.last_sync(con)
    except PirError as exc:
        # A missing file is the same situation as an empty one for the reader of a dashboard.
        overview.problem = EMPTY_MESSAGE if not settings.db.exists() else str(exc)
    return overview


def _has_schema(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('incidents', 'v_action_status')"
    ).fetchone()[0]
    return found == 2


def data_as_of(last_sync: dict | None, today: dt.date) -> str:
    """'Data as of 2026-10-31 14:02 UTC (3 days ago, demo).' from the newest good sync_runs row."""
    if not last_sync or last_sync.get("finished_at") is None:
        return "Data as of: no sync recorded (run `pir sync` to load from Jira)."
    finished = pd.Timestamp(last_sync["finished_at"])
    finished = finished.tz_localize("UTC") if finished.tzinfo is None else finished.tz_convert("UTC")
    days = (today - finished.date()).days
    if days <= 0:
        ago = "today"
    elif days == 1:
        ago = "yesterday"
    else:
        ago = f"{days} days ago"
    what = last_sync.get("source") or last_sync.get("mode")
    detail = f"{ago}, {what}" if what else ago
    return f"Data as of {finished:%Y-%m-%d %H:%M} UTC ({detail})."


def show_figure(fig: go.Figure) -> None:
    """Display a figure as plotly's mimetype bundle (see ``figures.mime_bundle``)."""
    display(figures.mime_bundle(fig), raw=True)


def table_html(frame: pd.DataFrame) -> str:
    """A plain HTML table with every cell escaped (Jira text stays text); timestamps to the minute, UTC."""
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td>{html.escape(_cell_text(value))}</td>" for value in record)
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table class="pir-table" style="border-collapse:collapse;text-align:left">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cell_text(value: object) -> str:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"
    return str(value)


def _message_html(text: str) -> str:
    # Backticked words become <code>; everything is escaped first, so the message itself cannot inject.
    parts = html.escape(text).split("`")
    body = "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    return f'<p class="pir-message" style="font-size:1.2em">{body}</p>'

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
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from pirlib import db, metrics
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.failure_modes import recurrence
from pirlib.ui import figures
from pirlib.ui.filters import FilterBar
from pirlib.values import safe_url

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
    # A demo's source is a local folder: say what it is rather than where it was on disk.
    what = "sample data from `pir demo`" if last_sync.get("mode") == "demo" else (last_sync.get("source") or last_sync.get("mode"))
    detail = f"{ago}, {what}" if what else ago
    return f"Data as of {finished:%Y-%m-%d %H:%M} UTC ({detail})."


def warm_up() -> None:
    """Pay the first-use costs that do not depend on the data, before any page asks: plotly's lazily
    imported validators and its "plotly_white" template, which the overview's figures need (about 0.2 s of
    a fresh kernel's first overview). ``pirlib.kernel_pool`` calls this in each pooled kernel after importing
    this module. Reads no database and displays nothing."""
    month = pd.Timestamp("2026-01-01")
    incidents = pd.DataFrame({"month": [month], "severity": ["Sev-1"], "incidents": [1], "examples": [["INC-1 x"]]})
    figures.html_bundle(figures.incidents_by_severity_month(incidents))
    figures.html_bundle(figures.action_status_by_month(pd.DataFrame({"month": [month], "state": ["done"], "actions": [1]})))


def show_figure(fig: go.Figure | dict) -> None:
    """Display a figure for the `pir serve` page template to draw (see ``figures.html_bundle``)."""
    display(figures.html_bundle(fig), raw=True)


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


# ---------------------------------------------------------------------------------------------------------
# Leadership dashboards (issue 7): actions, reviews, failure_modes, incidents. A notebook calls
# ``board = load_board("actions")`` and ``board.show()``. Loading reads every row the board needs in one
# read-only connection and closes it; then each panel is a pure function of (frames, filters) drawn into
# one ipywidgets.Output, so a filter change redraws every panel without touching the database.
# ---------------------------------------------------------------------------------------------------------

OVERDUE_ROWS = 50
AT_RISK_STAGE_NAMES = figures.STAGE_LABELS


@dataclass
class BoardData:
    """What a board's panels read: the loaded frames, "today", and the as-of instant for review clocks."""

    today: dt.date
    as_of: pd.Timestamp
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Frames derived from ``frames`` that several panels read (action states, review stage states), computed
    # once per render instead of once per panel. The metrics functions never modify their input.
    derived: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def derive(self, name: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]


@dataclass(frozen=True)
class BoardSpec:
    title: str
    loaders: tuple[str, ...]  # names of metrics.load_* functions, each giving one frame
    date_column: dict[str, str]  # per frame: the column the date range filters on
    panels: tuple[Callable[[BoardData, metrics.Filters], object], ...]


class Board:
    """One leadership dashboard: the data-as-of line, the filter bar, and its panels in an Output widget."""

    def __init__(self, spec: BoardSpec, data: BoardData | None, last_sync: dict | None, problem: str | None):
        self.spec, self.data, self.last_sync, self.problem = spec, data, last_sync, problem
        self.output = None  # the ipywidgets.Output the panels are redrawn into after a filter change
        self.filter_bar: FilterBar | None = None

    def header_html(self) -> str:
        if self.problem or self.data is None:
            return _message_html(self.problem or EMPTY_MESSAGE)
        return f'<p class="pir-as-of">{html.escape(data_as_of(self.last_sync, self.data.today))}</p>'

    def show(self) -> None:
        """Display the header, the filters and every panel; filters then redraw the panels in place.

        The first render is plain HTML in the page (``panels_html(first=True)``), after the filter bar and
        its still empty Output: the page draws it as soon as its scripts start, while the widgets are
        still being built from the kernel, which is most of a second later on a first visit. The first
        filter change draws into the Output, and the page template removes the first render then.
        """
        import ipywidgets as widgets

        display(HTML(self.header_html()))
        if self.problem or self.data is None:
            return
        self.filter_bar = FilterBar(metrics.filter_options(*self.data.frames.values()))
        # One Output for all panels, not one per panel: a page builds every widget model from the kernel
        # before it shows any, and a filter change redraws every panel anyway (21 models, was 37).
        self.output = widgets.Output()
        display(widgets.VBox([self.filter_bar.widget, self.output]))
        display(HTML(self.panels_html(self.filter_bar.value, first=True)))
        self.filter_bar.on_change(self.render)

    def filtered(self, filters: metrics.Filters) -> BoardData:
        assert self.data is not None
        frames = {
            name: metrics.apply_filters(frame, filters, self.spec.date_column[name])
            for name, frame in self.data.frames.items()
        }
        return BoardData(today=self.data.today, as_of=self.data.as_of, frames=frames)

    def contents(self, filters: metrics.Filters) -> list[object]:
        """What each panel shows for ``filters``: a plotly JSON dict, or an HTML string."""
        data = self.filtered(filters)
        return [panel(data, filters) for panel in self.spec.panels]

    def panels_html(self, filters: metrics.Filters, *, first: bool = False) -> str:
        """Every panel for ``filters`` as one block of HTML, figures as ``figures.html_bundle`` divs;
        ``first`` marks the page's first render (class ``pir-first``), which a later render replaces."""
        parts = (figures.html_bundle(c)["text/html"] if isinstance(c, dict) else str(c) for c in self.contents(filters))
        return f'<div class="pir-panels{" pir-first" if first else ""}">{"".join(parts)}</div>'

    def render(self, filters: metrics.Filters) -> None:
        """Draw every panel for ``filters`` into the Output (after a filter change)."""
        # The Output's state is set in the kernel, not captured from a display: Voila's executor mirrors
        # captured outputs into the widget by messages to the kernel, and CI saw the last one lost
        # (a board with its filters and no panels).
        panels = self.panels_html(filters)
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": panels, "text/plain": "(dashboard panels)"}},)  # fmt: skip


def load_board(name: str, settings: Settings | None = None) -> Board:
    """Read what board ``name`` shows in one read-only connection, closed before returning."""
    spec = BOARDS[name]
    settings = settings or load_settings()
    today = settings.current_date()
    data = BoardData(today=today, as_of=_as_of(settings))
    last, problem = None, None
    try:
        with db.connect(settings, read_only=True) as con:
            if not _has_schema(con) or metrics.incident_count(con) == 0:
                problem = EMPTY_MESSAGE
            else:
                data.frames = {loader: getattr(metrics, "load_" + loader)(con) for loader in spec.loaders}
                last = metrics.last_sync(con)
    except PirError as exc:
        problem = EMPTY_MESSAGE if not settings.db.exists() else str(exc)
    return Board(spec, None if problem else data, last, problem)


def _as_of(settings: Settings) -> pd.Timestamp:
    # The same clock as the facilitator guide: now, moved to settings.today when that is set.
    real = pd.Timestamp.now(tz="UTC")
    if settings.today is None:
        return real
    return real + (pd.Timestamp(settings.today) - pd.Timestamp(real.date()))


# --- panels: (filtered data, filters) -> figure dict or HTML ---------------------------------------------


def _none_html(what: str) -> str:
    return _message_html(f"No {what} match these filters.")


def _states(data: BoardData) -> pd.DataFrame:
    return data.derive("action_states", lambda: metrics.action_states(data.frames["actions"], data.today))


def _pct(value: float) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"


def actions_summary(data: BoardData, filters: metrics.Filters) -> str:
    states = _states(data)
    if states.empty:
        return _none_html("actions")
    total = metrics.completion_rates(states.assign(all="all"), "all").iloc[0]
    return _kpis([
        ("actions", f"{int(total['actions']):,}"), ("completed", _pct(total["completion_rate"])),
        ("done on time", _pct(total["on_time_rate"])), ("open", f"{int(total['open']):,}"),
        ("overdue", f"{int(total['overdue']):,}"),
    ])  # fmt: skip


RATE_GROUPINGS = (("team", "team"), ("owner", "owner"), ("severity", "incident severity"), ("incident_key", "incident"))


def actions_rates(data: BoardData, filters: metrics.Filters) -> object:
    """Completion and on-time rate by team, owner, severity and incident: one figure, a button for each."""
    states = _states(data)
    if states.empty:
        return _none_html("actions")
    return figures.choice([
        (f"by {label}", figures.completion_rate_bars(metrics.completion_rates(states, by), by, f"Completion and on-time rate by {label}"))
        for by, label in RATE_GROUPINGS
    ])  # fmt: skip


def actions_burn_up(data: BoardData, filters: metrics.Filters) -> object:
    states = _states(data)
    if states.empty:
        return _none_html("actions")
    freq = "W" if metrics.choose_period(states["created_at"]) == "M" else "M"
    return figures.burn_up(metrics.burn_up(states, freq))


def actions_aging(data: BoardData, filters: metrics.Filters) -> object:
    return figures.aging_bars(metrics.aging(_states(data)))


def actions_missing(data: BoardData, filters: metrics.Filters) -> object:
    return figures.missing_field_bars(metrics.missing_fields(_states(data)))


def actions_overdue(data: BoardData, filters: metrics.Filters) -> str:
    overdue = metrics.overdue_list(_states(data))
    if overdue.empty:
        return "<h3>Overdue actions</h3>" + _message_html("No overdue actions match these filters.")
    shown = overdue.head(OVERDUE_ROWS)
    more = f" (the {OVERDUE_ROWS} most overdue of {len(overdue)})" if len(overdue) > OVERDUE_ROWS else f" ({len(overdue)})"
    table = pd.DataFrame({
        "Action": [link_html(k, u) for k, u in zip(shown["key"], shown["url"])],
        "Summary": [html.escape(_cell_text(v)) for v in shown["summary"]],
        "Owner": [html.escape(_cell_text(v)) for v in shown["owner"]],
        "Team": [html.escape(_cell_text(v)) for v in shown["team"]],
        "Due": [html.escape(_cell_text(v)) for v in shown["due_date"]],
        "Days overdue": [str(int(v)) for v in shown["days_overdue"]],
        "Incident": [html.escape(_cell_text(v)) for v in shown["incident_key"]],
    })  # fmt: skip
    return f"<h3>Overdue actions{html.escape(more)}</h3>" + markup_table_html(table)


def _review_states(data: BoardData) -> pd.DataFrame:
    return data.derive("review_states", lambda: metrics.review_stage_states(data.frames["review_stages"], data.as_of))


def reviews_summary(data: BoardData, filters: metrics.Filters) -> str:
    states = _review_states(data)
    if states.empty:
        return _none_html("reviewed incidents (Sev-0/Sev-1, closed)")
    decided = states[states["state"] != "pending"]
    rate = (decided["state"] == "on_time").mean() if len(decided) else None
    return _kpis([
        ("reviewed incidents", f"{states['incident_id'].nunique():,}"), ("stages on time", _pct(rate)),
        ("late", f"{int((states['state'] == 'late').sum()):,}"), ("missed", f"{int((states['state'] == 'missed').sum()):,}"),
        ("pending", f"{int((states['state'] == 'pending').sum()):,}"),
    ])  # fmt: skip


def reviews_compliance(data: BoardData, filters: metrics.Filters) -> object:
    states = _review_states(data)
    if states.empty:
        return _none_html("reviews")
    return figures.compliance_lines(metrics.stage_compliance(states, metrics.choose_period(states["closed_at"])))


def reviews_lateness(data: BoardData, filters: metrics.Filters) -> object:
    late = metrics.lateness(_review_states(data))
    if late.empty:
        return _message_html("No stage was late or missed under these filters.")
    return figures.distribution_boxes(late, "stage", "Hours past the deadline, late or missed stages", "hours", log=True)


def reviews_at_risk(data: BoardData, filters: metrics.Filters) -> str:
    # "Right now" ignores the date range: a range that ends last year would otherwise hide today's risks.
    assert data.frames is not None
    rows = metrics.at_risk(_review_states(data), data.as_of)
    title = f"<h3>Reviews at risk now: due within {metrics.AT_RISK_HOURS:g} h, or missed in the last 7 days ({len(rows)})</h3>"
    if rows.empty:
        return title + _message_html("Nothing at risk right now.")
    table = pd.DataFrame({
        "Incident": [html.escape(_cell_text(v)) for v in rows["key"]],
        "Summary": [html.escape(_cell_text(v)) for v in rows["summary"]],
        "Severity": [html.escape(_cell_text(v)) for v in rows["severity"]],
        "Stage": [html.escape(AT_RISK_STAGE_NAMES.get(v, str(v))) for v in rows["stage"]],
        "Due (UTC)": [html.escape(_cell_text(v)) for v in rows["due_at"]],
        "Hours left": [f"{v:.1f}" if v >= 0 else f"missed {-v:.1f} h ago" for v in rows["hours_left"]],
    })  # fmt: skip
    return title + markup_table_html(table)


def reviews_regulatory(data: BoardData, filters: metrics.Filters) -> str:
    """Runbook §4.4: each regulatory incident's compliance item, open until the regulator filing is recorded."""
    items = data.frames["regulatory_followups"]
    still_open = items[items["state"] == "open"]
    title = (f"<h3>Regulator filings open ({len(still_open)} of {len(items)} regulatory incidents; "
             "record one with <code>pir regulator-filed INCIDENT</code>)</h3>")  # fmt: skip
    if still_open.empty:
        return title + _message_html("Every regulatory incident's filing is recorded.")
    table = pd.DataFrame({
        "Incident": [html.escape(_cell_text(v)) for v in still_open["key"]],
        "Summary": [html.escape(_cell_text(v)) for v in still_open["summary"]],
        "Severity": [html.escape(_cell_text(v)) for v in still_open["severity"]],
        "Closed (UTC)": [html.escape(_cell_text(v)) for v in still_open["closed_at"]],
        "Postmortem published (UTC)": [html.escape(_cell_text(v)) for v in still_open["published_at"]],
    })  # fmt: skip
    return title + markup_table_html(table)


def incidents_summary(data: BoardData, filters: metrics.Filters) -> str:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return _none_html("incidents")
    summary = metrics.summarize(
        pd.concat([pd.DataFrame({"measure": label, "minutes": incidents[column]})
                   for column, label in metrics.DURATION_MEASURES.items()]).query("minutes >= 0"),
        "minutes", ["measure"],
    )  # fmt: skip
    items = [("incidents", f"{len(incidents):,}")]
    for label in metrics.DURATION_MEASURES.values():
        row = summary[summary["measure"] == label]
        if not row.empty:
            r = row.iloc[0]
            items.append((f"{label}: median · P90 · n", f"{_minutes(r['median'])} · {_minutes(r['p90'])} · {int(r['n']):,}"))
    return _kpis(items)


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def incidents_by_service(data: BoardData, filters: metrics.Filters) -> object:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return _none_html("incidents")
    counts = metrics.counts_by(incidents, "service", "severity")
    order = figures.severity_order([None if s == "(none)" else s for s in counts["severity"].unique()])
    counts = counts.assign(severity=counts["severity"].replace("(none)", figures.NO_SEVERITY))
    return figures.stacked_bars(counts, "service", "severity", "incidents", "Incidents by service and severity", order=order)


def incidents_durations(data: BoardData, filters: metrics.Filters) -> object:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return _none_html("incidents")
    freq = metrics.choose_period(incidents["occurred_at"])
    summary = metrics.durations(incidents, freq)
    word = "month" if freq == "M" else "quarter"
    return figures.distribution_boxes(summary, "period", f"Time to detect, mitigate and resolve, by {word}",
                                      "minutes", trace="measure", log=True)  # fmt: skip


def modes_heatmaps(data: BoardData, filters: metrics.Filters) -> object:
    """Incidents by failure mode and period, and by failure mode and service: one figure, a button for each."""
    incidents = data.frames["incidents"]
    if incidents.empty:
        return _none_html("incidents")
    freq = metrics.choose_period(incidents["occurred_at"])
    frame = incidents.assign(period=metrics.period_start(incidents["occurred_at"], freq))
    by_period = metrics.counts_by(frame, "failure_mode", "period")
    word = "month" if freq == "M" else "quarter"
    by_service = metrics.counts_by(incidents, "failure_mode", "service")
    return figures.choice([
        (f"by {word}", figures.heatmap(by_period, "period", "failure_mode", "incidents", f"Incidents by failure mode and {word}", dates=True)),
        ("by service", figures.heatmap(by_service, "service", "failure_mode", "incidents", "Incidents by failure mode and service")),
    ])  # fmt: skip


def _recurrences(data: BoardData) -> pd.DataFrame:
    return data.derive("recurrences", lambda: metrics.recurrences_within(data.frames["recurrences"]))


def _window_words(data: BoardData) -> str:
    return recurrence.effectiveness(_recurrences(data)).window_words


def repeats_after_actions(data: BoardData, filters: metrics.Filters) -> str:
    """The board's headline: repeats after completed prevent/detect actions, with n and the gap's spread."""
    summary = recurrence.effectiveness(_recurrences(data))
    n = summary.recurrences
    share = f" ({summary.after_completed_actions / n:.0%})" if n else ""
    gap = (f"median {summary.days_median:.0f}, P90 {summary.days_p90:.0f} (n = {n})"
           if summary.days_median is not None else f"— (n = {n})")  # fmt: skip
    return _kpis([
        (f"repeats after completed prevent/detect actions, {summary.window_words} (n = {n} recurrences)",
         f"{summary.after_completed_actions} of {n}{share}"),
        ("repeats whose earlier incident had no prevent/detect action", str(summary.without_prevent_detect)),
        ("days between an incident and its repeat", gap),
    ])  # fmt: skip


def recurrence_outcomes(data: BoardData, filters: metrics.Filters) -> object:
    recurrences = _recurrences(data)
    if recurrences.empty:
        return _message_html(f"No failure mode came back {_window_words(data)} on the same service.")
    long = recurrences.assign(failure_mode=recurrences["failure_mode"].fillna("(none)")).groupby(
        ["failure_mode", "outcome"]).size().rename("recurrences").reset_index()
    return figures.stacked_bars(
        long, "failure_mode", "outcome", "recurrences",
        f"Came back {_window_words(data)} on the same service: were the earlier incident's actions done?",
        colors=figures.OUTCOME_COLORS, order=list(figures.OUTCOME_COLORS),
    )  # fmt: skip


def recurrence_table(data: BoardData, filters: metrics.Filters) -> str:
    rows = _recurrences(data).sort_values("occurred_at", ascending=False)
    title = f"<h3>Recurrences {_window_words(data)} ({len(rows)})</h3>"
    if rows.empty:
        return title + _none_html("recurrences")
    shown = rows.head(OVERDUE_ROWS)
    table = pd.DataFrame({
        "Incident": [link_html(k, u) for k, u in zip(shown["key"], shown["url"])],
        "Summary": [html.escape(_cell_text(v)) for v in shown["summary"]],
        "Failure mode": [html.escape(_cell_text(v)) for v in shown["failure_mode"]],
        "Service": [html.escape(_cell_text(v)) for v in shown["service"]],
        "Earlier incident": [html.escape(_cell_text(v)) for v in shown["previous_key"]],
        "Days between": [f"{v:.0f}" for v in shown["days_since_previous"]],
        "Earlier actions done before": [f"{int(d or 0)} of {int(n or 0)}" for d, n in
                                        zip(shown["previous_actions_done_before"].fillna(0), shown["previous_actions"].fillna(0))],
        "Prevent/detect done before": [f"{int(d or 0)} of {int(n or 0)}" for d, n in
                                   zip(shown["previous_prevent_detect_done_before"].fillna(0),
                                       shown["previous_prevent_detect"].fillna(0))],
        "Outcome": [html.escape(v) for v in shown["outcome"]],
    })  # fmt: skip
    return title + markup_table_html(table)


SIMILAR_SHOWN = 5  # latest incidents (after filters) whose similar past incidents the incidents board lists


def similar_table_html(similar: pd.DataFrame) -> str:
    """Similar past incidents as a table: incident (linked), score, when, service, mode, summary, reason."""
    table = pd.DataFrame({
        "Earlier incident": [link_html(k, u) for k, u in zip(similar["key"], similar["url"])],
        "Score": [f"{v:.2f}" for v in similar["score"]],
        "Started": [html.escape(f"{pd.Timestamp(v):%Y-%m-%d}") for v in similar["occurred_at"]],
        "Service": [html.escape(_cell_text(v)) for v in similar["service"]],
        "Failure mode": [html.escape(_cell_text(v)) for v in similar["failure_mode"]],
        "Summary": [html.escape(_cell_text(v)) for v in similar["summary"]],
        "Why": [html.escape(_cell_text(v)) for v in similar["reason"]],
    })  # fmt: skip
    return markup_table_html(table)


def _earlier(similar: pd.DataFrame) -> pd.DataFrame:
    # load_similar gives the filter columns the later incident's values; the table shows the earlier one's.
    return similar.assign(service=similar["similar_service"], occurred_at=similar["similar_occurred_at"])


def incidents_similar(data: BoardData, filters: metrics.Filters) -> str:
    """For the latest incidents in the filters: the earlier incidents most like each (``pir similar``)."""
    similar = data.frames["similar"]
    title = (f"<h3>Has this happened before? Similar earlier incidents of the {metrics.SIMILAR_LATEST} latest "
             "incidents that require a review</h3>")
    if similar.empty:
        return title + _none_html("incidents with similar earlier ones")
    latest = similar.drop_duplicates("query_id").sort_values("query_occurred_at", ascending=False).head(SIMILAR_SHOWN)
    blocks = [
        f"<h4>{link_html(row['query_key'], row['query_url'])} {html.escape(_cell_text(row['query_summary']))}</h4>"
        + similar_table_html(_earlier(similar[similar["query_id"] == row["query_id"]]))
        for row in latest.to_dict("records")
    ]
    return title + "".join(blocks)


BOARDS: dict[str, BoardSpec] = {
    "actions": BoardSpec(
        "Action completion", ("actions",), {"actions": "created_at"},
        (actions_summary, actions_rates, actions_burn_up, actions_aging, actions_missing, actions_overdue),
    ),  # fmt: skip
    "reviews": BoardSpec(
        "Review deadlines", ("review_stages", "regulatory_followups"),
        {"review_stages": "closed_at", "regulatory_followups": "closed_at"},
        (reviews_summary, reviews_compliance, reviews_lateness, reviews_at_risk, reviews_regulatory),
    ),
    "failure_modes": BoardSpec(
        "Recurring failure modes", ("incidents", "recurrences"), {"incidents": "occurred_at", "recurrences": "occurred_at"},
        (repeats_after_actions, modes_heatmaps, recurrence_outcomes, recurrence_table),
    ),
    "incidents": BoardSpec(
        "Incidents", ("incidents", "similar"), {"incidents": "occurred_at", "similar": "occurred_at"},
        (incidents_summary, incidents_by_service, incidents_durations, incidents_similar),
    ),
}


# --- HTML helpers -------------------------------------------------------------------------------------


def link_html(text: object, url: object) -> str:
    """An <a> with escaped text and an escaped http(s) href, or just the escaped text when the URL is unsafe."""
    label = html.escape(_cell_text(text))
    href = safe_url(url)
    if href is None:
        return label
    return f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def markup_table_html(frame: pd.DataFrame) -> str:
    """Like ``table_html``, for cells that are already safe HTML (escaped text, ``link_html``)."""
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in record) + "</tr>"
                   for record in frame.itertuples(index=False))  # fmt: skip
    return (
        '<table class="pir-table" style="border-collapse:collapse;text-align:left">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _kpis(items: list[tuple[str, str]]) -> str:
    cells = "".join(
        f'<div style="margin-right:2.5em"><div style="font-size:1.6em;font-weight:600">{html.escape(value)}</div>'
        f'<div style="color:#555">{html.escape(label)}</div></div>'
        for label, value in items
    )
    return f'<div class="pir-kpis" style="display:flex;flex-wrap:wrap;margin:8px 0 12px 0">{cells}</div>'

"""The board framework: load a board's frames read-only in one short connection, then show its panels.

A board opens the database read-only, reads every frame its spec names, and closes it before anything is
drawn, so an idle dashboard holds no lock and a facilitator can save at any time. Then each panel is a pure
function of (frames, filters) giving a figure or HTML built with ``pirlib.ui.html``; a board with filters
draws every panel into one ipywidgets.Output, so a filter change redraws them without touching the database.
When there is no data (no file yet, or no incidents) a board shows one line that says how to load some,
instead of a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from pirlib import attention, db, metrics
from pirlib.config import Settings
from pirlib.errors import PirError
from pirlib.ui import figures, html, nav
from pirlib.ui.filters import FIELDS, FilterBar, date_range_problem, emptied_by

EMPTY_MESSAGE = "No data yet: run `pir demo` for the sample or `pir sync` against Jira"
TABLE_ROWS = 50  # rows a board's list shows (the most overdue actions, the latest recurrences)


@dataclass
class BoardData:
    """What a board's panels read: the loaded frames, "today", and the as-of instant for review clocks."""

    today: dt.date
    as_of: pd.Timestamp
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    # What several panels compute from ``frames`` (action states, review stage states, the home page's attention
    # list), once per render instead of once per panel. The metrics functions never modify their input.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)
    # The frames before the filters and the filters (Board.filtered), so that a panel the filters leave
    # empty can say which filter did (``none_html``).
    unfiltered: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    filters: metrics.Filters | None = None
    date_column: Mapping[str, str] = field(default_factory=dict, repr=False)

    def derive(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]


Panel = Callable[[BoardData, metrics.Filters], object]  # -> a figure (plotly JSON dict or go.Figure) or HTML


@dataclass(frozen=True)
class BoardSpec:
    title: str
    loaders: Mapping[str, Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]]  # frame name -> its reader
    # Per frame: the column the date range filters on. A board without any has no filter bar.
    date_column: Mapping[str, str]
    panels: tuple[Panel, ...]
    # Text the data-as-of line starts with ("6 incidents, 5 actions. "), from the loaded frames.
    headline: Callable[[BoardData], str] | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.date_column)


class Board:
    """One dashboard: the data-as-of line, the filter bar (if the board has filters), and its panels."""

    def __init__(
        self, spec: BoardSpec, data: BoardData | None, last_sync: dict | None, problem: str | None, page: str = ""
    ):
        self.spec, self.data, self.last_sync, self.problem = spec, data, last_sync, problem
        self.page = page  # its name among pirlib.ui.nav.PAGES, for the header and its links
        self.output: widgets.Output | None = None  # the Output the panels are redrawn into after a filter change
        self.filter_bar: FilterBar | None = None

    def header_html(self) -> str:
        if self.problem or self.data is None:
            return html.message(self.problem or EMPTY_MESSAGE)
        headline = self.spec.headline(self.data) if self.spec.headline else ""
        return f'<p class="pir-as-of">{html.with_code(headline + data_as_of(self.last_sync, self.data.today))}</p>'

    def show(self) -> None:
        """Display the header, the filters and every panel; filters then redraw the panels in place.

        The first render is plain HTML in the page (``panels_html(first=True)``), after the filter bar and
        its still empty Output: the page draws it as soon as its scripts start, while the widgets are
        still being built from the kernel, which is most of a second later on a first visit. The first
        filter change draws into the Output, and the page template removes the first render then. A board
        without filters shows its panels once, as plain HTML.
        """
        if self.problem or self.data is None:
            display(HTML(nav.header_html(self.page) + self.header_html()))
            return
        frames = self.data.frames.values()
        options = metrics.filter_options(*frames) if self.spec.has_filters else {}  # the choices of the filter bar
        wanted = nav.parse_filters(
            nav.query_string(),
            metrics.filterable(*frames) if self.spec.has_filters else (),
            dates=self.spec.has_filters,
        )
        applied = nav.applied_html(self.page, wanted, unknown_values(wanted.filters, options))
        display(HTML(nav.header_html(self.page) + self.header_html() + applied))
        if not self.spec.has_filters:
            display(HTML(self.panels_html(metrics.Filters())))
            return
        self.filter_bar = FilterBar(options, initial=wanted.filters)
        # One Output for all panels, not one per panel: a page builds every widget model from the kernel
        # before it shows any, and a filter change redraws every panel anyway (21 models, was 37).
        self.output = widgets.Output()
        display(widgets.VBox([self.filter_bar.widget, self.output]))
        display(HTML(self.panels_html(self.filter_bar.value, first=True)))
        self.filter_bar.on_change(self.render)

    def filtered(self, filters: metrics.Filters) -> BoardData:
        assert self.data is not None
        if not self.spec.has_filters:  # the same data, so what the header derived is not computed again
            return self.data
        frames = {
            name: metrics.apply_filters(frame, filters, self.spec.date_column[name])
            for name, frame in self.data.frames.items()
        }
        return BoardData(
            today=self.data.today,
            as_of=self.data.as_of,
            frames=frames,
            unfiltered=self.data.frames,
            filters=filters,
            date_column=self.spec.date_column,
        )

    def contents(self, filters: metrics.Filters) -> list[object]:
        """What each panel shows for ``filters``: a figure (plotly JSON dict or go.Figure), or an HTML string."""
        data = self.filtered(filters)
        return [panel(data, filters) for panel in self.spec.panels]

    def panels_html(self, filters: metrics.Filters, *, first: bool = False) -> str:
        """Every panel for ``filters`` as one block of HTML, figures as ``figures.html_bundle`` divs;
        ``first`` marks the page's first render (class ``pir-first``), which a later render replaces."""
        problem = date_range_problem(filters)
        if problem:  # refused, not swapped: the reader may have mistyped either date
            parts: Iterable[str] = [html.message(problem)]
        else:
            parts = (figures.html_bundle(c)["text/html"] if is_figure(c) else str(c) for c in self.contents(filters))
        return f'<div class="pir-panels{" pir-first" if first else ""}">{"".join(parts)}</div>'

    def render(self, filters: metrics.Filters) -> None:
        """Draw every panel for ``filters`` into the Output (after a filter change)."""
        # The Output's state is set in the kernel, not captured from a display: Voila's executor mirrors
        # captured outputs into the widget by messages to the kernel, and CI saw the last one lost
        # (a board with its filters and no panels).
        panels = self.panels_html(filters)
        assert self.output is not None  # show() makes it before the filter bar can change
        self.output.outputs = (
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"text/html": panels, "text/plain": "(dashboard panels)"},
            },
        )


def is_figure(content: object) -> bool:
    """Whether a panel's content is a figure (drawn by the page's plotly.js) rather than HTML."""
    return isinstance(content, (dict, go.Figure))


def unknown_values(filters: metrics.Filters, options: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The team, service and severity values ``filters`` asks for that the data has not (a link's typo, a team
    whose actions were all deleted): the page says so rather than showing empty panels without a reason."""
    out = {}
    for field_name in FIELDS.values():
        missing = [v for v in getattr(filters, field_name) if v not in options.get(field_name, [])]
        if missing:
            out[field_name] = missing
    return out


def load(spec: BoardSpec, settings: Settings, page: str = "") -> Board:
    """Read what ``spec`` shows in one read-only connection, closed before returning; ``page`` is the board's
    name in the dashboards' header (``pirlib.ui.nav``)."""
    data = BoardData(today=settings.current_date(), as_of=attention.now(settings))
    last, problem = None, None
    try:
        with db.read_model(settings) as con:
            if not has_schema(con) or metrics.incident_count(con) == 0:
                problem = EMPTY_MESSAGE
            else:
                data.frames = {name: read(con) for name, read in spec.loaders.items()}
                last = metrics.last_sync(con)
    except PirError as exc:
        # A missing file is the same situation as an empty one for the reader of a dashboard.
        problem = EMPTY_MESSAGE if not settings.db.exists() else str(exc)
    return Board(spec, None if problem else data, last, problem, page)


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    (found,) = db.one(
        con, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('incidents', 'v_action_status')"
    )
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
    what = (
        "sample data from `pir demo`"
        if last_sync.get("mode") == "demo"
        else (last_sync.get("source") or last_sync.get("mode"))
    )
    detail = f"{ago}, {what}" if what else ago
    return f"Data as of {finished:%Y-%m-%d %H:%M} UTC ({detail})."


def none_html(what: str, data: BoardData | None = None, frame: str | None = None) -> str:
    """The notice a panel shows when the filters leave it nothing. Given the board's data and the frame the
    panel reads, it names the filter that emptied it: 'No incidents: the team filter (Payments) leaves none.'"""
    why = None
    if data is not None and frame in data.unfiltered and data.filters is not None:
        why = emptied_by(data.unfiltered[frame], data.filters, data.date_column[frame])
    return html.message(f"No {what}: {why}." if why else f"No {what} match these filters.")


def percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"

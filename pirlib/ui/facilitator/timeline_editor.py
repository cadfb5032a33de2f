"""The facilitator's timeline editor (ipywidgets): filter, star, hide, re-time, edit, add, milestone overrides.

Every button saves at once through ``pirlib.timeline`` and rereads the timeline in the same connection, then
closes it, so no state lives only in a widget and no connection stays open while the facilitator thinks.
Embed it with ``TimelineEditor(settings, "INC-123").widget`` (``con``: read through a connection the caller
holds, as a wizard step does).

The figure is built once (plotly JSON, drawn by the page's plotly renderer) and updated: starring an event
replaces only its trace of key moments; a change that moves or hides events, or a new filter, builds it again.
``show_incident`` switches the same widgets to another incident; one shown before comes back as it was left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

from pirlib import db, durations
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.errors import PirError
from pirlib.review.clock import now
from pirlib.timeline import events, milestones
from pirlib.ui import html
from pirlib.ui.figures import PAGE_TRACE_TYPES, html_bundle, mime_bundle
from pirlib.ui.timeline import KEY_MOMENTS, LANES, key_moments, timeline_json

__all__ = ["TimelineEditor"]

_MAX_OPTIONS = 2000  # a Select with tens of thousands of rows makes the browser crawl; filter to narrow


def _label(row: Any, now: pd.Timestamp) -> str:
    marks = ("★" if row.starred else " ") + ("⊘" if row.hidden else " ") + ("⏱" if row.retimed else " ")
    if pd.Timestamp(row.occurred_at) > now:  # a source clock or time zone gone wrong: say so, do not trust it
        marks += "⚠ in the future "
    text = " ".join(str(row.text or row.to_value or row.kind).split())
    text = text if len(text) <= 90 else text[:87] + "..."
    actor = f"{row.actor}: " if row.actor else ""
    return (
        f"{pd.Timestamp(row.occurred_at):%Y-%m-%d %H:%M:%S} {marks} [{LANES.get(row.source, row.source)}] {actor}{text}"
    )


class TimelineEditor:
    """An editor for one incident's timeline; ``widget`` is the box to display."""

    def __init__(
        self,
        settings: Settings,
        incident: str,
        *,
        render_figure: bool = True,
        user: str | None = None,
        con: Connection | None = None,
        on_change: Callable[[Connection], None] | None = None,
        page_plotly: bool = False,
    ) -> None:
        """``on_change(con)`` runs after each saved change, in its connection (a wizard's progress);
        ``page_plotly``: the page draws ``figures.html_bundle`` divs itself (pir's Voila template)."""
        self.settings, self.incident, self.user = settings, incident, user
        self.on_change = on_change
        self.render_figure = render_figure
        self.events = pd.DataFrame()
        self.report: milestones.MilestoneReport | None = None
        self.figure: dict[str, Any] | None = None  # plotly JSON: data, layout
        # Incidents shown before: events, milestones, and the figure when it was built without filters.
        self._kept: dict[str, tuple[pd.DataFrame, milestones.MilestoneReport | None, dict[str, Any] | None]] = {}
        self._quiet = False

        self.sources = widgets.SelectMultiple(description="sources", rows=6)
        self.show_hidden = widgets.Checkbox(description="show hidden", value=True, indent=False)
        self.search = widgets.Text(placeholder="filter by text or person", description="find")
        self.event_list = widgets.Select(rows=14, layout=widgets.Layout(width="100%"))
        self.event_list.add_class("pir-timeline-events")
        self.count = widgets.Label()
        self.detail = widgets.HTML()
        self.star_button = widgets.Button(
            description="star / unstar",
            icon="star",
            tooltip="mark the selected event as a key moment (a star in the figure)",
        )
        self.star_button.add_class("pir-star")
        self.hide_button = widgets.Button(description="hide / show", icon="eye-slash")
        self.time_input = widgets.Text(description="time (UTC)", placeholder="2025-09-05 14:03:00")
        self.retime_button = widgets.Button(description="re-time")
        self.reset_time_button = widgets.Button(description="original time")
        self.text_input = widgets.Textarea(description="text", layout=widgets.Layout(width="100%"))
        self.save_text_button = widgets.Button(description="save text")
        self.reset_text_button = widgets.Button(description="original text")
        self.new_time = widgets.Text(description="time (UTC)", placeholder="2025-09-05 14:03:00")
        self.new_text = widgets.Textarea(description="what", placeholder="what happened")
        self.add_button = widgets.Button(description="add event", icon="plus")
        self.status = widgets.HTML()
        self.status.add_class("pir-timeline-status")
        self.figure_output = widgets.Output()
        # On a page that loads pir's plotly.js (`pir guide`), the figure is a div that page draws: plotly's
        # own notebook renderer also makes a PNG of every figure it draws, which costs more than the drawing.
        self.page_plotly = page_plotly
        self.figure_page = widgets.HTML()
        self.milestone_inputs: dict[str, widgets.Text] = {}
        self.milestone_set: dict[str, widgets.Button] = {}
        self.milestone_clear: dict[str, widgets.Button] = {}
        self.milestone_rules: dict[str, widgets.HTML] = {}
        rows = []
        for name in milestones.MILESTONES:
            self.milestone_inputs[name] = widgets.Text(description=name, placeholder="YYYY-MM-DD HH:MM (UTC)")
            self.milestone_set[name] = widgets.Button(description="override")
            self.milestone_clear[name] = widgets.Button(description="use inferred")
            self.milestone_rules[name] = widgets.HTML()
            self.milestone_set[name].on_click(lambda _, n=name: self.set_milestone(n))
            self.milestone_clear[name].on_click(lambda _, n=name: self.clear_milestone(n))
            rows.append(
                widgets.HBox(
                    [
                        self.milestone_inputs[name],
                        self.milestone_set[name],
                        self.milestone_clear[name],
                        self.milestone_rules[name],
                    ]
                )
            )
        self.durations = widgets.HTML()

        self.sources.observe(lambda _: None if self._quiet else self._fill_list(), names="value")
        # hidden events show in the figure too
        self.show_hidden.observe(lambda _: None if self._quiet else self._refresh_view(), names="value")
        self.search.observe(lambda _: None if self._quiet else self._fill_list(), names="value")
        self.event_list.observe(lambda _: self._show_selected(), names="value")
        self.star_button.on_click(lambda _: self.toggle_star())
        self.hide_button.on_click(lambda _: self.toggle_hidden())
        self.retime_button.on_click(lambda _: self.retime())
        self.reset_time_button.on_click(lambda _: self.reset_time())
        self.save_text_button.on_click(lambda _: self.save_text())
        self.reset_text_button.on_click(lambda _: self.reset_text())
        self.add_button.on_click(lambda _: self.add_event())

        self.widget = widgets.VBox(
            [
                self.figure_output,
                self.figure_page,
                widgets.HBox([self.sources, widgets.VBox([self.search, self.show_hidden, self.count])]),
                self.event_list,
                self.detail,
                widgets.HBox([self.star_button, self.hide_button]),
                widgets.HBox([self.time_input, self.retime_button, self.reset_time_button]),
                widgets.HBox([self.text_input, widgets.VBox([self.save_text_button, self.reset_text_button])]),
                widgets.HTML("<b>Add an event</b>"),
                widgets.HBox([self.new_time, self.new_text, self.add_button]),
                widgets.HTML("<b>Milestones</b>"),
                *rows,
                self.durations,
                self.status,
            ]
        )
        self.refresh(con)

    # ------------------------------------------------------------------------------------------ loading

    def refresh(self, con: Connection | None = None) -> None:
        """Reload the events and milestones from the database (through ``con``, else a read-only connection
        of its own) and redraw everything."""
        if con is None:
            with db.connect(self.settings, read_only=True) as own:
                self._read(own)
        else:
            self._read(con)
        self._redraw()

    def show_incident(self, incident: str, con: Connection) -> None:
        """Edit another incident's timeline with the same widgets, filters cleared. An incident this editor
        showed before comes back as it was left (its events, milestones and figure are kept per incident and
        every change made here updates them), else it is read through ``con``."""
        self._kept[self.incident] = (self.events, self.report, self.figure if self._unfiltered() else None)
        self.incident = incident
        self._quiet = True  # the old incident's list is not filtered again on the way
        try:
            self.search.value = ""
            self.sources.value = ()
            self.show_hidden.value = True
            self.event_list.value = None
        finally:
            self._quiet = False
        self.status.value = ""
        kept = self._kept.pop(incident, None)
        if kept is None:
            self.refresh(con)
        else:
            self.events, self.report, self.figure = kept
            self._redraw(keep_figure=self.figure is not None)

    def _unfiltered(self) -> bool:
        return not self.sources.value and not self.search.value.strip() and self.show_hidden.value

    def _read(self, con: Connection) -> None:
        self.events = events.load_timeline(con, self.incident)
        self.report = milestones.milestone_report(con, self.incident)

    def _redraw(self, *, keep_figure: bool = False) -> None:
        present = [s for s in LANES if s in set(self.events["source"])] + sorted(
            set(self.events["source"]) - set(LANES)
        )
        chosen = [s for s in self.sources.value if s in present]
        self._quiet = True
        try:
            self.sources.options = [(LANES.get(s, s), s) for s in present]
            self.sources.value = tuple(chosen)
        finally:
            self._quiet = False
        if keep_figure:
            self._fill_list()
            self._draw()
        else:
            self._refresh_view()
        self._show_milestones()

    def _visible(self) -> pd.DataFrame:
        frame = self.events
        if self.sources.value:
            frame = frame.loc[frame["source"].isin(self.sources.value)]
        if not self.show_hidden.value:
            frame = frame.loc[~frame["hidden"].astype(bool)]
        needle = self.search.value.strip().casefold()
        if needle:
            haystack = frame["text"].fillna("") + " " + frame["actor"].fillna("")
            frame = frame.loc[haystack.str.casefold().str.contains(needle, regex=False)]
        return frame

    def _refresh_view(self) -> None:
        self._fill_list()
        self.figure = timeline_json(
            self._visible(),
            self.report.table if self.report else None,
            title=f"{self.report.key if self.report else self.incident} timeline",
            show_hidden=self.show_hidden.value,
        )
        self._draw()

    def _update_stars(self) -> None:
        """Starring changed: replace the figure's trace of key moments, keep the rest of it."""
        if self.figure is None:
            return self._refresh_view()
        self._fill_list()
        stars = key_moments(self._visible(), show_hidden=self.show_hidden.value)
        data = [trace for trace in self.figure["data"] if trace.get("name") != KEY_MOMENTS]
        self.figure["data"] = data + ([stars] if stars else [])
        self._draw()

    def _draw(self) -> None:
        if not self.render_figure or self.figure is None:
            return
        if self.page_plotly and {t.get("type", "scatter") for t in self.figure["data"]} <= PAGE_TRACE_TYPES:
            self.figure_page.value = html_bundle(self.figure)["text/html"]
            return
        self.figure_page.value = ""
        with self.figure_output:
            self.figure_output.clear_output(wait=True)
            display(mime_bundle(self.figure), raw=True)

    def _fill_list(self) -> None:
        selected = self.event_list.value
        frame = self._visible()
        shown = frame.head(_MAX_OPTIONS)
        at = pd.Timestamp(now(self.settings))
        self.event_list.options = [(_label(row, at), row.event_id) for row in shown.itertuples()]
        self.count.value = f"{len(shown)} of {len(frame)} events" + (
            " (filter to see more)" if len(frame) > len(shown) else ""
        )
        if selected in set(shown["event_id"]):
            self.event_list.value = selected
        self._show_selected()

    def _selected(self) -> pd.Series | None:
        if not self.event_list.value:
            return None
        match = self.events.loc[self.events["event_id"] == self.event_list.value]
        return None if match.empty else match.iloc[0]

    def _show_selected(self) -> None:
        row = self._selected()
        if row is None:
            self.detail.value = ""
            return
        lines = [
            f"<b>{html.text(row['occurred_at'])}</b> · {html.text(row['source'])} / {html.text(row['kind'])}",
            html.text(row["actor"] or ""),
            html.text(row["text"] or "").replace("\n", "<br>"),
            f"<small>from {html.text(row['origin'] or row['source'])}</small>",
        ]
        if row["retimed"]:
            lines.append(f"<small>re-timed; source time {html.text(row['source_occurred_at'])}</small>")
        if row["edited"]:
            lines.append(f"<small>text edited; source text: {html.text(row['source_text'] or '')}</small>")
        self.detail.value = "<br>".join(x for x in lines if x)
        self.time_input.value = pd.Timestamp(row["occurred_at"]).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")
        self.text_input.value = str(row["text"] or "")

    def _show_milestones(self) -> None:
        if self.report is None:
            return
        row: Any  # pandas-stubs types each field of an itertuples row as any scalar; these are the table's columns
        for row in self.report.table.itertuples():
            has_time = row.occurred_at is not None and not pd.isna(row.occurred_at)
            self.milestone_inputs[row.milestone].value = (
                pd.Timestamp(row.occurred_at).strftime("%Y-%m-%d %H:%M:%S") if has_time else ""
            )
            rule = html.text(row.rule or "no rule applies")
            if row.overridden:
                inferred = "" if pd.isna(row.inferred_at) else f"{pd.Timestamp(row.inferred_at):%Y-%m-%d %H:%M}"
                rule += f" <small>(inferred: {html.text(inferred or 'nothing')})</small>"
            if row.out_of_order:
                rule = f"<span style='color:#c00'>⚠ {html.text(row.out_of_order)}</span><br>" + rule
            self.milestone_rules[row.milestone].value = rule
        parts = []
        for key, minutes in self.report.durations.items():
            problem = milestones.duration_problem(key, minutes)  # a negative duration is flagged, not shown
            parts.append(f"{key.split('_')[0].upper()}: " + (f"⚠ {problem}" if problem else durations.minutes(minutes)))
        self.durations.value = " · ".join(parts)

    # ----------------------------------------------------------------------------------------- changes

    def _save(self, change: Callable[[Connection], Any], done: str, *, stars_only: bool = False) -> bool:
        """Write one change and reread the timeline in one connection, closed before the editor redraws:
        only the figure's stars when ``stars_only``, else everything."""
        try:
            with db.connect(self.settings) as con:
                change(con)
                if stars_only:
                    self.events = events.load_timeline(con, self.incident)
                else:
                    self._read(con)
                if self.on_change is not None:
                    self.on_change(con)
        except PirError as exc:
            self.status.value = html.notice(exc, "error")
            return False
        self.status.value = html.text(done)
        if stars_only:
            self._update_stars()
        else:
            self._redraw()
        return True

    def _require_selection(self) -> pd.Series | None:
        row = self._selected()
        if row is None:
            self.status.value = "select an event first"
        return row

    def toggle_star(self) -> None:
        if (row := self._require_selection()) is not None:
            new = None if row["starred"] else True
            self._save(
                lambda con: events.curate(con, row["event_id"], starred=new, by=self.user),
                "starred" if new else "unstarred",
                stars_only=True,
            )

    def toggle_hidden(self) -> None:
        if (row := self._require_selection()) is not None:
            new = None if row["hidden"] else True
            self._save(
                lambda con: events.curate(con, row["event_id"], hidden=new, by=self.user),
                "hidden" if new else "shown again",
            )

    def retime(self) -> None:
        if (row := self._require_selection()) is not None:
            value = self.time_input.value
            self._save(
                lambda con: events.curate(con, row["event_id"], occurred_at=value, by=self.user),
                f"re-timed to {value} UTC",
            )

    def reset_time(self) -> None:
        if (row := self._require_selection()) is not None:
            self._save(
                lambda con: events.curate(con, row["event_id"], occurred_at=None, by=self.user),
                "original time restored",
            )

    def save_text(self) -> None:
        if (row := self._require_selection()) is not None:
            value = self.text_input.value
            self._save(lambda con: events.curate(con, row["event_id"], text=value, by=self.user), "text saved")

    def reset_text(self) -> None:
        if (row := self._require_selection()) is not None:
            self._save(
                lambda con: events.curate(con, row["event_id"], text=None, by=self.user), "original text restored"
            )

    def add_event(self) -> None:
        when, what = self.new_time.value, self.new_text.value
        if self._save(
            lambda con: events.add_manual_event(con, self.incident, when, what, actor=self.user), "event added"
        ):
            self.new_text.value = ""

    def set_milestone(self, name: str) -> None:
        value = self.milestone_inputs[name].value
        self._save(
            lambda con: milestones.set_milestone_override(con, self.incident, name, value, by=self.user),
            f"{name} set to {value} UTC",
        )

    def clear_milestone(self, name: str) -> None:
        self._save(
            lambda con: milestones.set_milestone_override(con, self.incident, name, None, by=self.user),
            f"{name} is inferred again",
        )

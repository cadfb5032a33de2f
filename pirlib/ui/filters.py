"""The filter bar every leadership dashboard shows: date range, team, service and severity.

The widgets only produce a ``metrics.Filters``; what a filter means for each frame lives in
``metrics.apply_filters``. Option labels are Jira text, and ipywidgets draws them as text (an <option>'s
text, never markup), so they need no escaping here. A From date after the To date is refused with a message
(``date_range_problem``) rather than swapped, and a panel the filters leave empty names the filter that
emptied it (``emptied_by``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import pandas as pd

from pirlib.metrics import Filters, apply_filters

ALL = ""
# (widget name, options key from metrics.filter_options, label, the "everything" entry)
CHOICES = (
    ("team", "teams", "Team", "All teams"),
    ("service", "services", "Service", "All services"),
    ("severity", "severities", "Severity", "All severities"),
)
FIELDS = {"team": "teams", "service": "services", "severity": "severities"}  # widget name -> Filters field


class FilterBar:
    """Date pickers and three drop-downs; ``value`` is the Filters they describe."""

    def __init__(
        self,
        options: Mapping[str, Sequence[str]],
        start: dt.date | None = None,
        end: dt.date | None = None,
        initial: Filters = Filters(),
    ):
        """``initial``: the filters a link asked for (``pirlib.ui.nav``). A drop-down shows its one value when
        the data has it; several values, a value the data has not, a failure mode and an incident have no
        control and stay applied (``fixed``) until the reader picks that drop-down."""
        style = {"description_width": "initial"}
        self.start = widgets.DatePicker(description="From", value=initial.start or start, style=style)
        self.end = widgets.DatePicker(description="To", value=initial.end or end, style=style)
        self.choices: dict[str, widgets.Dropdown] = {}
        self.fixed: dict[str, tuple[str, ...]] = {
            name: getattr(initial, name) for name in ("failure_modes", "incidents") if getattr(initial, name)
        }
        for name, key, label, everything in CHOICES:
            values = list(options.get(key, []))
            wanted = getattr(initial, FIELDS[name])
            shown = wanted[0] if len(wanted) == 1 and wanted[0] in values else ALL
            if wanted and shown == ALL:
                self.fixed[FIELDS[name]] = wanted
            self.choices[name] = widgets.Dropdown(
                options=[(everything, ALL)] + [(value, value) for value in values],
                value=shown,
                description=label,
                style=style,
                layout=widgets.Layout(width="auto"),
            )
            # Picking a value replaces what the link asked for.
            self.choices[name].observe(lambda _change, field=FIELDS[name]: self.fixed.pop(field, None), names="value")
        self.widget = widgets.HBox(
            [self.start, self.end, *self.choices.values()],
            layout=widgets.Layout(flex_flow="row wrap", margin="0 0 8px 0"),  # its gap: the page template's CSS
        )
        self.widget.add_class("pir-filters")

    @property
    def value(self) -> Filters:
        """The filters as picked; an inverted date range stays inverted (``date_range_problem`` refuses it)."""
        start, end = self.start.value, self.end.value
        picked = {FIELDS[name]: (box.value,) for name, box in self.choices.items() if box.value != ALL}
        return Filters(start=start, end=end, **{**self.fixed, **picked})

    def on_change(self, callback: Callable[[Filters], None]) -> None:
        """Call ``callback(filters)`` whenever any filter changes."""
        for box in (self.start, self.end, *self.choices.values()):
            box.observe(lambda _change: callback(self.value), names="value")


def date_range_problem(filters: Filters) -> str | None:
    """The message for a From date after the To date (the range is refused, not swapped); None when fine."""
    if filters.start and filters.end and filters.start > filters.end:
        return (
            f"The date range is inverted: From {filters.start:%Y-%m-%d} is after To {filters.end:%Y-%m-%d}. "
            "Pick a From date on or before the To date."
        )
    return None


def _each_filter(filters: Filters) -> list[tuple[str, Filters]]:
    """Each filter in force, described ('the team filter (Payments)'), with a Filters of that one alone."""
    described = []
    if filters.start or filters.end:
        if filters.start and filters.end:
            dates = f"{filters.start:%Y-%m-%d} to {filters.end:%Y-%m-%d}"
        else:
            dates = f"from {filters.start:%Y-%m-%d}" if filters.start else f"up to {filters.end:%Y-%m-%d}"
        described.append((f"the date filter ({dates})", Filters(start=filters.start, end=filters.end)))
    for name, label in (
        ("teams", "team"),
        ("services", "service"),
        ("severities", "severity"),
        ("failure_modes", "failure mode"),
        ("incidents", "incident"),
    ):
        if getattr(filters, name):
            chosen = ", ".join(getattr(filters, name))
            described.append(
                (f"the {label} filter ({chosen})", dataclasses.replace(Filters(), **{name: getattr(filters, name)}))
            )
    return described


def emptied_by(frame: pd.DataFrame, filters: Filters, date_column: str) -> str | None:
    """Why ``frame`` (unfiltered) has no rows under ``filters``, naming the filter that empties it: 'the team
    filter (Payments) leaves none', or, when only their combination does, 'the team filter (Payments) and the
    service filter (search) together leave none'. None when the frame is empty to begin with or no filter is
    in force."""
    described = _each_filter(filters)
    if frame.empty or not described:
        return None
    alone = [words for words, one in described if apply_filters(frame, one, date_column).empty]
    if len(alone) == 1:
        return f"{alone[0]} leaves none"
    if alone:
        return f"{_and(alone)} each leave none"
    return f"{_and([words for words, _ in described])} together leave none"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]

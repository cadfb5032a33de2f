"""The filter bar every leadership dashboard shows: date range, team, service and severity.

The widgets only produce a ``metrics.Filters``; what a filter means for each frame lives in
``metrics.apply_filters``. Option labels are Jira text, and ipywidgets draws them as text (an <option>'s
text, never markup), so they need no escaping here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets

from pirlib.metrics import Filters

ALL = ""
# (widget name, options key from metrics.filter_options, label, the "everything" entry)
CHOICES = (
    ("team", "teams", "Team", "All teams"),
    ("service", "services", "Service", "All services"),
    ("severity", "severities", "Severity", "All severities"),
)


class FilterBar:
    """Date pickers and three drop-downs; ``value`` is the Filters they describe."""

    def __init__(self, options: Mapping[str, Sequence[str]], start: dt.date | None = None, end: dt.date | None = None):
        style = {"description_width": "initial"}
        self.start = widgets.DatePicker(description="From", value=start, style=style)
        self.end = widgets.DatePicker(description="To", value=end, style=style)
        self.choices: dict[str, widgets.Dropdown] = {}
        for name, key, label, everything in CHOICES:
            values = list(options.get(key, []))
            self.choices[name] = widgets.Dropdown(
                options=[(everything, ALL)] + [(value, value) for value in values],
                value=ALL, description=label, style=style, layout=widgets.Layout(width="auto"),
            )  # fmt: skip
        self.widget = widgets.HBox(
            [self.start, self.end, *self.choices.values()],
            layout=widgets.Layout(flex_flow="row wrap", gap="4px 16px", margin="0 0 8px 0"),
        )
        self.widget.add_class("pir-filters")

    @property
    def value(self) -> Filters:
        start, end = self.start.value, self.end.value
        if start and end and start > end:
            start, end = end, start
        picked = {name: (box.value,) if box.value != ALL else () for name, box in self.choices.items()}
        return Filters(start=start, end=end, teams=picked["team"], services=picked["service"],
                       severities=picked["severity"])  # fmt: skip

    def on_change(self, callback: Callable[[Filters], None]) -> None:
        """Call ``callback(filters)`` whenever any filter changes."""
        for box in (self.start, self.end, *self.choices.values()):
            box.observe(lambda _change: callback(self.value), names="value")

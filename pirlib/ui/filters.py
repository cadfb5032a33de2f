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
FIELDS = {"team": "teams", "service": "services", "severity": "severities"}  # widget name -> Filters field


class FilterBar:
    """Date pickers and three drop-downs; ``value`` is the Filters they describe."""

    def __init__(self, options: Mapping[str, Sequence[str]], start: dt.date | None = None, end: dt.date | None = None,
                 initial: Filters = Filters()):  # fmt: skip
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
                value=shown, description=label, style=style, layout=widgets.Layout(width="auto"),
            )  # fmt: skip
            # Picking a value replaces what the link asked for.
            self.choices[name].observe(lambda _change, field=FIELDS[name]: self.fixed.pop(field, None), names="value")
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
        picked = {FIELDS[name]: (box.value,) for name, box in self.choices.items() if box.value != ALL}
        return Filters(start=start, end=end, **{**self.fixed, **picked})

    def on_change(self, callback: Callable[[Filters], None]) -> None:
        """Call ``callback(filters)`` whenever any filter changes."""
        for box in (self.start, self.end, *self.choices.values()):
            box.observe(lambda _change: callback(self.value), names="value")

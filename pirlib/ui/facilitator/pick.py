"""Step 1, Pick: closed Sev-0/Sev-1 incidents not yet published, newest first, with the runbook clock of each,
or the published ones, to reopen a review (the logic is ``pirlib.review.clock``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from pirlib import db, durations
from pirlib.db import Connection
from pirlib.review.clock import STAGES, candidates
from pirlib.review.session import ReviewSession
from pirlib.ui import html
from pirlib.ui.facilitator.widgets import WIDE, Host, Message, Step, badge, heading, when

OPEN, PUBLISHED = "open", "published"


class PickStep(Step):
    """Closed Sev-0/Sev-1 incidents waiting for their review, newest first, with the runbook clock of each;
    or the published reviews, most recent first, to publish again or record the regulator filing."""

    name = "pick"
    depends_on = frozenset({"prepare", "wrap_up"})  # the clocks, and publishing moves a review between lists

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.which = widgets.ToggleButtons(options=[("Waiting for review", OPEN), ("Published", PUBLISHED)], value=OPEN)
        self.which.add_class("pir-pick-which")
        self.on_edit(self.which, lambda _: self.refresh())
        self.select = widgets.Select(description="Incident", rows=8, layout=WIDE)
        self.select.add_class("pir-pick")
        self.on_edit(self.select, self._picked)
        self.intro = widgets.HTML()
        self.table = widgets.HTML()
        self.message = Message("pir-pick-message")
        self.widget.children = [
            heading("1. Pick the incident"),
            self.which,
            self.intro,
            self.select,
            self.message.widget,
            self.table,
        ]

    def refresh(self) -> None:
        with db.connect(self.settings) as con:
            self._fill(con)

    def load(self, session: ReviewSession) -> None:
        self._fill(session.con)

    def _fill(self, con: Connection) -> None:
        published = self.which.value == PUBLISHED
        found = candidates(con, self.settings, published=published)
        with self.loading():
            self.select.options = [(c.label(), c.issue_id) for c in found]
            current = self.host.incident_id
            self.select.value = current if current in {c.issue_id for c in found} else None
        rows = "".join(
            f"<tr><td>{html.text(c.key)}</td><td>{html.text(c.severity)}</td><td>{html.text(c.summary)}</td>"
            f"<td>{when(c.closed_at)}</td><td>{'<br>'.join(badge(k) for k in c.clocks)}</td></tr>"
            for c in found
        )
        empty = (
            "No review has been published yet."
            if published
            else "No closed Sev-0/Sev-1 incident is waiting for its review."
        )
        self.table.value = (
            '<table class="pir-candidates"><tr><th>Key</th><th>Severity</th><th>Summary</th><th>Closed</th>'
            f"<th>Runbook clock</th></tr>{rows}</table>"
            if found
            else f"<p>{html.text(empty)}</p>"
        )
        self.intro.value = (
            "<p>Published reviews, most recently published first: pick one to publish it again (the page is "
            "updated) or to record the regulator filing in step 6 (Wrap-up).</p>"
            if published
            else "<p>Sev-0/Sev-1 incidents that are closed and not yet published, newest first. Deadlines count "
            f"from closure: {html.text(self._deadlines())}.</p>"
        )

    def _deadlines(self) -> str:
        """The runbook's deadlines as configured, in the stages' own names: 'facilitator assigned 12 h; …'."""
        return "; ".join(
            f"{label.lower()} {durations.span(dt.timedelta(hours=getattr(self.settings, hours)))}"
            for label, _, hours in STAGES.values()
        )

    def _picked(self, incident: Any) -> None:
        if incident:
            self.message.run(lambda: self.host.open_incident(incident, "pick"))

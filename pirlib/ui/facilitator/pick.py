"""Step 1, Pick: closed Sev-0/Sev-1 incidents not yet published, newest first, with the runbook clock of each
(the logic is ``pirlib.review.clock``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from pirlib import db
from pirlib.review.clock import candidates
from pirlib.ui.facilitator.widgets import WIDE, Message, Step, badge, heading, when
from pirlib.ui import html

if TYPE_CHECKING:  # the wizard imports every step
    from pirlib.ui.facilitator.wizard import FacilitatorWizard


class PickStep(Step):
    """Closed Sev-0/Sev-1 incidents not yet published, newest first, with the runbook clock of each."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.select = widgets.Select(description="Incident", rows=8, layout=WIDE)
        self.select.add_class("pir-pick")
        self.select.observe(self._picked, "value")
        self.table = widgets.HTML()
        self.message = Message("pir-pick-message")
        self._loading = False

    def refresh(self) -> None:
        with db.connect(self.settings) as con:
            found = candidates(con, self.settings)
        self._loading = True
        try:
            self.select.options = [(c.label(), c.issue_id) for c in found]
            current = self.wizard.incident_id
            self.select.value = current if current in {c.issue_id for c in found} else None
        finally:
            self._loading = False
        rows = "".join(
            f"<tr><td>{html.text(c.key)}</td><td>{html.text(c.severity)}</td><td>{html.text(c.summary)}</td>"
            f"<td>{when(c.closed_at)}</td><td>{'<br>'.join(badge(k) for k in c.clocks)}</td></tr>"
            for c in found
        )
        self.table.value = (
            '<table class="pir-candidates"><tr><th>Key</th><th>Severity</th><th>Summary</th><th>Closed</th>'
            f"<th>Runbook clock</th></tr>{rows}</table>"
            if found else "<p>No closed Sev-0/Sev-1 incident is waiting for its review.</p>"
        )  # fmt: skip
        intro = widgets.HTML(
            "<p>Sev-0/Sev-1 incidents that are closed and not yet published, newest first. Deadlines count "
            "from closure: facilitator 12 h; artifacts, invite list, agenda 24 h; publish 48 h.</p>"
        )
        self.widget.children = [heading("1. Pick the incident"), intro, self.select, self.message.widget, self.table]

    def _picked(self, change: dict[str, Any]) -> None:
        if self._loading or not change["new"]:
            return
        self.message.run(lambda: self.wizard.open_incident(change["new"], "pick"))

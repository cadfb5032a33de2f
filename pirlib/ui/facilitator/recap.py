"""The guide's recap panel (runbook §2, Recap): the incident's failure mode and the rule that set it, a
picker to set or correct it (saved at once to ``failure_mode_overrides``, which no sync touches), and the
earlier incidents most like this one (``pir similar``), filled in just after the panel is drawn."""

from __future__ import annotations

import asyncio

import ipywidgets as widgets

from pirlib import db
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.errors import PirError
from pirlib.failure_modes import manual, similar, taxonomy
from pirlib.ui import html
from pirlib.ui.boards.incidents import similar_table_html
from pirlib.values import is_missing

AS_CLASSIFIED = "(as classified: field or rules)"
SIMILAR_TITLE = "Has this happened before? The most similar earlier incidents"
SIMILAR_K = 5


class RecapPanel:
    def __init__(
        self,
        settings: Settings,
        incident_id: str,
        user: str | None = None,
        con: Connection | None = None,
    ) -> None:
        self.settings, self.incident_id, self.user = settings, incident_id, user
        self.mode = widgets.HTML()
        self.mode.add_class("pir-failure-mode")
        self.picker = widgets.Dropdown(description="Failure mode", style={"description_width": "initial"})
        self.picker.add_class("pir-failure-mode-picker")
        self.note = widgets.Text(placeholder="why (optional)", layout=widgets.Layout(width="40%"))
        self.save = widgets.Button(description="Save mode")
        self.save.add_class("pir-failure-mode-save")
        self.save.on_click(lambda _: self.save_mode())
        self.message = widgets.HTML()
        self.similar = widgets.HTML()
        self.similar.add_class("pir-similar")
        self.widget = widgets.VBox(
            [self.mode, widgets.HBox([self.picker, self.note, self.save]), self.message, self.similar]
        )
        self.refresh(con)

    def show_incident(self, incident_id: str, con: Connection) -> None:
        """The panel of another incident, with the same widgets, read through ``con``."""
        self.incident_id = incident_id
        self.message.value = ""
        self.refresh(con)

    def refresh(self, con: Connection | None = None, *, with_similar: bool = True) -> None:
        """Redraw from the database (through ``con``, else a read-only connection of its own);
        ``with_similar=False`` keeps the similar list (BM25 over the whole index unless the incident is one
        the sync answered ahead) and redraws only the mode, for a redraw while the meeting goes on."""
        if con is None:
            with db.connect(self.settings, read_only=True) as own:
                return self.refresh(own, with_similar=with_similar)
        row = manual.current(con, self.incident_id)
        modes = taxonomy.modes(con)
        says = "" if is_missing(row["jira_says"]) else f"; {row['jira_says']}"
        self.mode.value = (
            f"<p>Failure mode: <b>{html.text(row['failure_mode'] or '—')}</b> "
            f"{html.colored(html.text('(' + (row['mode_rule'] or '') + says + ')'), 'muted')}</p>"
        )
        options = ((AS_CLASSIFIED, ""), *((mode, mode) for mode in modes))
        if tuple(self.picker.options) != options:  # the same taxonomy for every incident: sent once
            self.picker.options = options
        self.picker.value = row["manual_mode"] if isinstance(row["manual_mode"], str) else ""
        self.note.value = row["manual_note"] if isinstance(row["manual_note"], str) else ""
        if not with_similar:
            return
        try:  # in a kernel: after this click's view has gone out (BM25 over every incident takes a while)
            asyncio.get_running_loop().call_soon(self._show_similar, self.incident_id)
            self.similar.value = f"<h4>{SIMILAR_TITLE}</h4><p>Looking for similar earlier incidents…</p>"
        except RuntimeError:  # no event loop (a script, a test): now, through the same connection
            self._show_similar(self.incident_id, con)

    def _show_similar(self, incident_id: str, con: Connection | None = None) -> None:
        """The similar earlier incidents of ``incident_id`` (unless another incident was shown since)."""
        if incident_id != self.incident_id:
            return
        if con is None:
            try:
                with db.connect(self.settings, read_only=True) as own:
                    return self._show_similar(incident_id, own)
            except PirError as exc:
                self.similar.value = html.notice(exc, "error")
                return
        found = similar.similar(con, incident_id, SIMILAR_K)
        self.similar.value = f"<h4>{SIMILAR_TITLE}</h4>" + (
            similar_table_html(found)
            if not found.empty
            else "<p>No earlier incident shares its service, mode or words.</p>"
        )

    def save_mode(self) -> None:
        try:
            with db.connect(self.settings) as con:
                if self.picker.value:
                    manual.set_mode(con, self.incident_id, self.picker.value, set_by=self.user, note=self.note.value)
                else:
                    manual.clear_mode(con, self.incident_id)
                self.refresh(con, with_similar=False)
        except PirError as exc:
            self.message.value = html.notice(exc, "error")
            return
        saved = f"saved: {self.picker.value}" if self.picker.value else "manual mode cleared: field or rules decide"
        self.message.value = html.notice(saved, "ok")

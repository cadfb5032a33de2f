"""Step 3, Timeline: the timeline editor (``timeline_editor``) plus imports of chat, alerts and changes
files (the logic is ``pirlib.timeline``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import ipywidgets as widgets

from pirlib.db import Connection
from pirlib.errors import PirError
from pirlib.files import project_input
from pirlib.review.session import ReviewSession
from pirlib.timeline import events
from pirlib.ui.facilitator.timeline_editor import TimelineEditor
from pirlib.ui.facilitator.widgets import Host, Message, Step, heading


class TimelineStep(Step):
    """The timeline editor plus imports of chat, alerts and changes files. The editor is built once and keeps
    its figure: opening the step again shows it as it was; another incident reuses its widgets."""

    name = "timeline"

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.kind = widgets.Dropdown(
            options=[
                ("Chat (Slack export JSON or .txt)", "chat"),
                ("Alerts (CSV, CloudWatch, Grafana)", "alerts"),
                ("Changes (deploys, flags, config)", "changes"),
            ],
            description="Import",
        )
        self.upload = widgets.FileUpload(multiple=False, description="Choose file")
        self.path = widgets.Text(placeholder="or a file or folder on this machine", layout=widgets.Layout(width="40%"))
        self.import_button = widgets.Button(description="Import")
        self.import_button.on_click(lambda _: self.import_file())
        self.message = Message("pir-import-message")
        self.editor: TimelineEditor | None = None

    def load(self, session: ReviewSession) -> None:
        if self.editor is None:
            self.editor = TimelineEditor(
                self.settings,
                session.incident_id,
                render_figure=self.host.render_figures,
                user=self.host.user,
                con=session.con,
                on_change=self._edited,
                page_plotly=self.host.page_plotly,
            )
            self.widget.children = [
                heading("3. Timeline"),
                widgets.HTML(
                    "<p class='pir-star-hint'>Star (★) an event to put it in the postmortem: its timeline "
                    "shows the milestones plus the starred events.</p>"
                ),
                widgets.HBox([self.kind, self.upload, self.path, self.import_button]),
                self.message.widget,
                self.editor.widget,
            ]
        elif self.editor.incident != session.incident_id:  # the same widgets for the next incident
            self.message.clear()
            self.editor.show_incident(session.incident_id, session.con)
        else:
            self.editor.refresh(session.con)

    def _edited(self, con: Connection) -> None:
        """An edit in the editor (a star, a milestone, an event added): the progress and the steps that show it."""
        self.host.changed(self.name, ReviewSession.resolve(con, self.settings, self.incident))

    def import_file(self) -> None:
        said: list[str] = []

        def run() -> None:
            if self.upload.value:
                item = self.upload.value[0]
                folder = Path(tempfile.mkdtemp(prefix="pir-import-"))
                path = folder / Path(item["name"]).name
                path.write_bytes(bytes(item["content"]))
            elif self.path.value.strip():
                path = project_input(self.settings.home, self.path.value, folder_ok=True)
            else:
                raise PirError("import: no file chosen; choose a file or type a path, then import")
            with self.session() as session:
                counts = events.import_file(session.con, self.kind.value, self.incident, path)
                assert self.editor is not None  # the step is on screen, so it was loaded
                self.editor.refresh(session.con)
                self.host.changed(self.name, session)
            said.append(f"imported {path.name}: {events.describe_import(counts)}")

        if self.message.run(run):
            self.message.ok(said[0])
            self.upload.value = ()

"""Step 3, Timeline: the timeline editor (``pirlib.ui.timeline_editor``) plus imports of chat, alerts and changes
files (the logic is ``pirlib.timeline``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets

from pirlib import db, timeline
from pirlib.errors import PirError
from pirlib.files import project_input
from pirlib.ui.facilitator.widgets import Message, Step, heading
from pirlib.ui.timeline_editor import TimelineEditor

if TYPE_CHECKING:  # the wizard imports every step
    from pirlib.ui.facilitator.wizard import FacilitatorWizard


class TimelineStep(Step):
    """The timeline editor plus imports of chat, alerts and changes files."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.kind = widgets.Dropdown(options=[("Chat (Slack export JSON or .txt)", "chat"),
                                              ("Alerts (CSV, CloudWatch, Grafana)", "alerts"),
                                              ("Changes (deploys, flags, config)", "changes")],
                                     description="Import")  # fmt: skip
        self.upload = widgets.FileUpload(multiple=False, description="Choose file")
        self.path = widgets.Text(placeholder="or a file or folder on this machine", layout=widgets.Layout(width="40%"))
        self.import_button = widgets.Button(description="Import")
        self.import_button.on_click(lambda _: self.import_file())
        self.message = Message("pir-import-message")
        self.editor: TimelineEditor | None = None

    def refresh(self) -> None:
        self.editor = TimelineEditor(self.settings, self.incident, render_figure=self.wizard.render_figures,
                                     user=self.wizard.user)  # fmt: skip
        self.widget.children = [
            heading("3. Timeline"),
            widgets.HTML("<p class='pir-star-hint'>Star (★) an event to put it in the postmortem: its timeline shows "
                         "the milestones plus the starred events.</p>"),
            widgets.HBox([self.kind, self.upload, self.path, self.import_button]), self.message.widget,
            self.editor.widget,
        ]

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
            with db.connect(self.settings) as con:
                counts = timeline.import_file(con, self.kind.value, self.incident, path)
            said.append(f"imported {path.name}: {timeline.describe_import(counts)}")

        if self.message.run(run):
            self.upload.value = ()
            self.refresh()
            self.message.ok(said[0])

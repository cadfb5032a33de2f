"""Step 2, Prepare (runbook §1): facilitator, artifacts checklist, invite list and agenda; each stamps its time
(the logic is ``pirlib.review.prepare``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from pirlib.review import prepare
from pirlib.review.clock import STAGES, now, stage_clocks
from pirlib.review.session import incident_facts
from pirlib.ui.facilitator.widgets import WIDE, Message, Step, badge, heading, when
from pirlib.ui import html

if TYPE_CHECKING:  # the wizard imports every step
    from pirlib.ui.facilitator.wizard import FacilitatorWizard


class PrepareStep(Step):
    """Runbook §1: facilitator, artifacts checklist, invite list and agenda; each stamps its time."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.facilitator = widgets.Combobox(placeholder="facilitator's name", ensure_option=False,
                                            description="Facilitator")  # fmt: skip
        self.facilitator.add_class("pir-facilitator-name")
        self.assign = widgets.Button(description="Assign facilitator", button_style="primary")
        self.assign.add_class("pir-assign")
        self.assign.on_click(lambda _: self.assign_facilitator())
        self.facilitator_message = Message("pir-facilitator-message")
        self.artifact_boxes: dict[str, widgets.Checkbox] = {}
        self.artifact_locations: dict[str, widgets.Text] = {}
        self.artifact_message = Message("pir-artifact-message")
        self.invite_boxes: dict[str, widgets.Checkbox] = {}
        self.new_name = widgets.Text(placeholder="name", description="Add person")
        self.new_role = widgets.Combobox(placeholder="role", options=list(prepare.RUNBOOK_ROLES) + ["responder"],
                                         ensure_option=False)  # fmt: skip
        self.add_person = widgets.Button(description="Add to invite list")
        self.add_person.on_click(lambda _: self.add_attendee())
        self.send_invites = widgets.Button(description=f"Mark: {STAGES['invites_sent'][0].lower()}")
        self.send_invites.on_click(lambda _: self._stamp(prepare.mark_invites_sent, self.invite_message,
                                                         STAGES["invites_sent"][0].lower()))  # fmt: skip
        self.invite_message = Message("pir-invite-message")
        self.agenda = widgets.Textarea(rows=18, continuous_update=False, layout=WIDE)
        self.agenda.add_class("pir-agenda")
        self.agenda.observe(self._agenda_edited, "value")
        self.reset_agenda = widgets.Button(description="Reset to draft")
        self.reset_agenda.on_click(lambda _: self._reset_agenda())
        self.export_agenda = widgets.Button(description="Save agenda as file")
        self.export_agenda.on_click(lambda _: self._export_agenda())
        self.circulate = widgets.Button(description=f"Mark: {STAGES['agenda_circulated'][0].lower()}")
        self.circulate.on_click(lambda _: self._stamp(prepare.mark_agenda_circulated, self.agenda_message,
                                                      STAGES["agenda_circulated"][0].lower()))  # fmt: skip
        self.download = widgets.HTML()
        self.agenda_message = Message("pir-agenda-message")
        self.clocks = widgets.HTML()
        self._loading = False

    # builders
    def refresh(self) -> None:
        with self.session() as s:
            facts = incident_facts(s)
            invitees = prepare.invite_list(s)
            agenda = prepare.agenda(s)
            artifacts = prepare.artifact_checklist(s)
        self._loading = True
        try:
            self.facilitator.options = [n for n in invitees["name"] if n not in prepare.RUNBOOK_ROLES]
            self.facilitator.value = facts.get("facilitator") or ""
            self.agenda.value = agenda
        finally:
            self._loading = False
        self._show_clocks(facts)
        self._update_download()
        self.widget.children = [
            heading("2. Prepare (runbook §1)"), self.clocks,
            heading("Facilitator", 4),
            widgets.HTML(f"<p>Not the incident commander ({html.text(facts.get('commander') or 'not recorded')}). "
                         f"Currently: <b class='pir-current-facilitator'>{html.text(facts.get('facilitator') or 'nobody')}"
                         "</b></p>"),
            widgets.HBox([self.facilitator, self.assign]), self.facilitator_message.widget,
            heading("Artifacts checklist", 4), self._artifacts_box(artifacts), self.artifact_message.widget,
            heading("Invite list", 4), self._invites_box(invitees),
            widgets.HBox([self.new_name, self.new_role, self.add_person]),
            widgets.HBox([self.send_invites]), self.invite_message.widget,
            heading("Agenda", 4), self.agenda,
            widgets.HBox([self.reset_agenda, self.export_agenda, self.circulate]), self.download,
            self.agenda_message.widget,
        ]  # fmt: skip

    def _show_clocks(self, facts: dict[str, Any] | None = None) -> None:
        facts = facts or self.call(incident_facts)
        clocks = stage_clocks(facts["resolved_at"], facts, self.settings, now(self.settings))
        self.clocks.value = "<div class='pir-stage-clocks'>" + " · ".join(badge(c) for c in clocks) + "</div>"

    def _artifacts_box(self, artifacts: list[dict[str, Any]]) -> widgets.VBox:
        rows = []
        self.artifact_boxes, self.artifact_locations = {}, {}
        for item in artifacts:
            kind = item["kind"]
            box = widgets.Checkbox(value=item["collected_at"] is not None, description=item["label"],
                                   indent=False, layout=widgets.Layout(width="45%"))  # fmt: skip
            box.add_class(f"pir-artifact-{kind}")
            box.observe(lambda change, kind=kind: self._artifact_ticked(kind, change["new"]), "value")
            where = widgets.Text(value=item["location"] or "", placeholder="link or file",
                                 continuous_update=False, layout=widgets.Layout(width="35%"))  # fmt: skip
            where.add_class(f"pir-artifact-location-{kind}")
            where.observe(lambda change, kind=kind: self._artifact_located(kind, change["new"]), "value")
            stamp = widgets.HTML(f"collected {when(item['collected_at'])}" if item["collected_at"] else "")
            self.artifact_boxes[kind], self.artifact_locations[kind] = box, where
            rows.append(widgets.HBox([box, where, stamp]))
        return widgets.VBox(rows)

    def _invites_box(self, invitees: pd.DataFrame) -> widgets.VBox:
        self.invite_boxes = {}
        rows = []
        for person in invitees.to_dict("records"):
            name = person["name"]
            label = f"{name} — {person['role']} ({person['origin']})"
            box = widgets.Checkbox(value=bool(person["invited"]), description=label, indent=False, layout=WIDE)
            box.observe(lambda change, name=name: self._invite_ticked(name, change["new"]), "value")
            self.invite_boxes[name] = box
            rows.append(box)
        return widgets.VBox(rows)

    # actions
    def assign_facilitator(self) -> None:
        name = self.facilitator.value
        if self.facilitator_message.run(lambda: self.call(prepare.assign_facilitator, name),
                                        f"{name.strip()} is the facilitator"):  # fmt: skip
            message = self.facilitator_message.widget.value
            self.refresh()
            self.facilitator_message.widget.value = message
            self.wizard.refresh_progress()

    def _artifact_ticked(self, kind: str, collected: bool) -> None:
        if self._loading:
            return
        if self.artifact_message.run(lambda: self.call(prepare.set_artifact, kind, collected=collected,
                                                       by=self.wizard.user)):  # fmt: skip
            self.refresh()
            self.wizard.refresh_progress()

    def _artifact_located(self, kind: str, location: str) -> None:
        if not self._loading:
            self.artifact_message.run(lambda: self.call(prepare.set_artifact, kind, location=location),
                                      "location saved")  # fmt: skip

    def _invite_ticked(self, name: str, invited: bool) -> None:
        if not self._loading:
            self.invite_message.run(lambda: self.call(prepare.set_invited, name, invited))

    def add_attendee(self) -> None:
        name, role = self.new_name.value, self.new_role.value
        if self.invite_message.run(lambda: self.call(prepare.add_attendee, name, role), f"{name.strip()} added"):
            message = self.invite_message.widget.value
            self.new_name.value = self.new_role.value = ""
            self.refresh()
            self.invite_message.widget.value = message

    def _stamp(self, stamp: Callable[..., None], message: Message, what: str) -> None:
        if message.run(lambda: self.call(stamp), what):
            self._show_clocks()
            self.wizard.refresh_progress()

    def _agenda_edited(self, change: dict[str, Any]) -> None:
        if not self._loading:
            if self.agenda_message.run(lambda: self.call(prepare.save_agenda, change["new"]), "agenda saved"):
                self._update_download()

    def _reset_agenda(self) -> None:
        text = self.call(prepare.reset_agenda)
        self._loading = True
        try:
            self.agenda.value = text
        finally:
            self._loading = False
        self._update_download()

    def _export_agenda(self) -> None:
        holder: list[Path] = []
        if self.agenda_message.run(lambda: holder.append(self.call(prepare.export_agenda))):
            self.agenda_message.ok(f"agenda written to {holder[0]}")

    def _update_download(self) -> None:
        data = base64.b64encode(self.agenda.value.encode("utf-8")).decode("ascii")
        key = self.wizard.incident_key or "incident"
        self.download.value = (f'<a class="pir-agenda-download" download="{html.text(key)}-agenda.md" '
                               f'href="data:text/markdown;charset=utf-8;base64,{data}">Download agenda (Markdown)</a>')

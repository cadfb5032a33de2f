"""Step 2, Prepare (runbook §1): facilitator, artifacts checklist, invite list and agenda; each stamps its time
(the logic is ``pirlib.review.prepare``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from pirlib.review import prepare
from pirlib.review.clock import STAGES, now, stage_clocks
from pirlib.review.session import ReviewSession, incident_facts
from pirlib.ui import html
from pirlib.ui.facilitator.widgets import WIDE, Host, Message, Step, badge, heading, when


class PrepareStep(Step):
    """Runbook §1: facilitator, artifacts checklist, invite list and agenda; each stamps its time."""

    name = "prepare"

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.facilitator = widgets.Combobox(
            placeholder="facilitator's name", ensure_option=False, description="Facilitator"
        )
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
        self.new_role = widgets.Combobox(
            placeholder="role", options=list(prepare.RUNBOOK_ROLES) + ["responder"], ensure_option=False
        )
        self.add_person = widgets.Button(description="Add to invite list")
        self.add_person.on_click(lambda _: self.add_attendee())
        self.invite_message = Message("pir-invite-message")
        self.send_invites = widgets.Button(description=f"Mark: {STAGES['invites_sent'][0].lower()}")
        self.send_invites.on_click(
            lambda _: self._stamp(prepare.mark_invites_sent, self.invite_message, STAGES["invites_sent"][0].lower())
        )
        self.invites = widgets.VBox()
        self._invite_kept: dict[tuple[str, str], widgets.Checkbox] = {}  # by (incident, label)
        self.agenda = widgets.Textarea(rows=18, continuous_update=False, layout=WIDE)
        self.agenda.add_class("pir-agenda")
        self.on_edit(self.agenda, self._agenda_edited)
        self.reset_agenda = widgets.Button(description="Reset to draft")
        self.reset_agenda.on_click(lambda _: self._reset_agenda())
        self.export_agenda = widgets.Button(description="Save agenda as file")
        self.export_agenda.on_click(lambda _: self._export_agenda())
        self.agenda_message = Message("pir-agenda-message")
        self.circulate = widgets.Button(description=f"Mark: {STAGES['agenda_circulated'][0].lower()}")
        self.circulate.on_click(
            lambda _: self._stamp(
                prepare.mark_agenda_circulated, self.agenda_message, STAGES["agenda_circulated"][0].lower()
            )
        )
        self.download = widgets.HTML()
        self.clocks = widgets.HTML()
        self.current = widgets.HTML()
        self.artifact_stamps: dict[str, widgets.HTML] = {}
        self.artifacts = widgets.VBox()
        self.widget.children = [
            heading("2. Prepare (runbook §1)"),
            self.clocks,
            heading("Facilitator", 4),
            self.current,
            widgets.HBox([self.facilitator, self.assign]),
            self.facilitator_message.widget,
            heading("Artifacts checklist", 4),
            self.artifacts,
            self.artifact_message.widget,
            heading("Invite list", 4),
            self.invites,
            widgets.HBox([self.new_name, self.new_role, self.add_person]),
            widgets.HBox([self.send_invites]),
            self.invite_message.widget,
            heading("Agenda", 4),
            self.agenda,
            widgets.HBox([self.reset_agenda, self.export_agenda, self.circulate]),
            self.download,
            self.agenda_message.widget,
        ]

    # builders
    def load(self, session: ReviewSession) -> None:
        facts = incident_facts(session)
        invitees = prepare.invite_list(session)
        with self.loading():
            self.agenda.value = prepare.agenda(session)
        self._show_facilitator(facts, invitees)
        self._show_artifacts(prepare.artifact_checklist(session))
        self._show_invites(invitees)
        self._show_clocks(facts)
        self._update_download()

    def _show_facilitator(self, facts: dict[str, Any], invitees: pd.DataFrame) -> None:
        with self.loading():
            self.facilitator.options = [n for n in invitees["name"] if n not in prepare.RUNBOOK_ROLES]
            self.facilitator.value = facts.get("facilitator") or ""
        self.current.value = (
            f"<p>Not the incident commander ({html.text(facts.get('commander') or 'not recorded')}). "
            f"Currently: <b class='pir-current-facilitator'>{html.text(facts.get('facilitator') or 'nobody')}</b></p>"
        )

    def _show_clocks(self, facts: dict[str, Any]) -> None:
        clocks = stage_clocks(facts["resolved_at"], facts, self.settings, now(self.settings))
        self.clocks.value = "<div class='pir-stage-clocks'>" + " · ".join(badge(c) for c in clocks) + "</div>"

    def _show_artifacts(self, artifacts: list[dict[str, Any]]) -> None:
        """The checklist's rows, built once; later loads only set their values and stamps."""
        if set(self.artifact_boxes) != {item["kind"] for item in artifacts}:
            rows = []
            self.artifact_boxes, self.artifact_locations, self.artifact_stamps = {}, {}, {}
            for item in artifacts:
                kind = item["kind"]
                box = widgets.Checkbox(description=item["label"], indent=False, layout=widgets.Layout(width="45%"))
                box.add_class(f"pir-artifact-{kind}")
                self.on_edit(box, partial(self._artifact_ticked, kind))
                where = widgets.Text(
                    placeholder="link or file", continuous_update=False, layout=widgets.Layout(width="35%")
                )
                where.add_class(f"pir-artifact-location-{kind}")
                self.on_edit(where, partial(self._artifact_located, kind))
                self.artifact_boxes[kind], self.artifact_locations[kind] = box, where
                self.artifact_stamps[kind] = widgets.HTML()
                rows.append(widgets.HBox([box, where, self.artifact_stamps[kind]]))
            self.artifacts.children = rows
        with self.loading():
            for item in artifacts:
                kind = item["kind"]
                self.artifact_boxes[kind].value = item["collected_at"] is not None
                self.artifact_locations[kind].value = item["location"] or ""
                self.artifact_stamps[kind].value = (
                    f"collected {when(item['collected_at'])}" if item["collected_at"] else ""
                )

    def _show_invites(self, invitees: pd.DataFrame) -> None:
        """The invite list's checkboxes; one made for a person of an incident is kept for when it is shown again."""
        self.invite_boxes = {}
        with self.loading():
            for person in invitees.to_dict("records"):
                name = person["name"]
                label = f"{name} — {person['role']} ({person['origin']})"
                box = self._invite_kept.get((self.incident, label))
                if box is None:
                    box = widgets.Checkbox(description=label, indent=False, layout=WIDE)
                    self.on_edit(box, partial(self._invite_ticked, name))
                    self._invite_kept[(self.incident, label)] = box
                box.value = bool(person["invited"])
                self.invite_boxes[name] = box
        self.invites.children = list(self.invite_boxes.values())

    # actions
    def assign_facilitator(self) -> None:
        name = self.facilitator.value

        def assign(session: ReviewSession) -> None:
            prepare.assign_facilitator(session, name)
            facts = incident_facts(session)
            self._show_facilitator(facts, prepare.invite_list(session))
            self._show_clocks(facts)

        self.save(self.facilitator_message, assign, f"{name.strip()} is the facilitator")

    def _artifact_ticked(self, kind: str, collected: bool) -> None:
        def tick(session: ReviewSession) -> None:
            prepare.set_artifact(session, kind, collected=collected, by=self.host.user)
            self._show_artifacts(prepare.artifact_checklist(session))
            self._show_clocks(incident_facts(session))

        if not self.save(self.artifact_message, tick):
            with self.loading():
                self.artifact_boxes[kind].value = not collected

    def _artifact_located(self, kind: str, location: str) -> None:
        self.save(self.artifact_message, lambda s: prepare.set_artifact(s, kind, location=location), "location saved")

    def _invite_ticked(self, name: str, invited: bool) -> None:
        self.save(
            self.invite_message,
            lambda s: prepare.set_invited(s, name, invited),
            f"{name} {'invited' if invited else 'taken off the invite list (tick again to invite)'}",
        )

    def add_attendee(self) -> None:
        name, role = self.new_name.value, self.new_role.value

        def add(session: ReviewSession) -> None:
            prepare.add_attendee(session, name, role)
            self._show_invites(prepare.invite_list(session))

        if self.save(self.invite_message, add, f"{name.strip()} added"):
            self.new_name.value = self.new_role.value = ""

    def _stamp(self, stamp: Callable[..., None], message: Message, what: str) -> None:
        def run(session: ReviewSession) -> None:
            stamp(session)
            self._show_clocks(incident_facts(session))

        self.save(message, run, what)

    def _agenda_edited(self, text: str) -> None:
        if self.save(self.agenda_message, lambda s: prepare.save_agenda(s, text), "agenda saved"):
            self._update_download()

    def _reset_agenda(self) -> None:
        text = self.call(prepare.reset_agenda)
        with self.loading():
            self.agenda.value = text
        self._update_download()

    def _export_agenda(self) -> None:
        holder: list[Path] = []
        if self.agenda_message.run(lambda: holder.append(self.call(prepare.export_agenda))):
            self.agenda_message.ok(f"agenda written to {holder[0]}")

    def _update_download(self) -> None:
        data = base64.b64encode(self.agenda.value.encode("utf-8")).decode("ascii")
        key = self.host.incident_key or "incident"
        self.download.value = (
            f'<a class="pir-agenda-download" download="{html.text(key)}-agenda.md" '
            f'href="data:text/markdown;charset=utf-8;base64,{data}">Download agenda (Markdown)</a>'
        )

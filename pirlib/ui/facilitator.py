"""The facilitator's guided review: a six-step wizard over one incident (runbook §1-§3).

``FacilitatorWizard(settings).widget`` is the whole app. Steps: Pick, Prepare, Timeline, Meeting, Actions,
Wrap-up; the buttons at the top show where the facilitator is and what is done, and any step can be
revisited. Every change is written at once through ``pirlib.review`` / ``pirlib.actions`` (each opens a
connection, writes, closes), and every panel is rebuilt from the database when it is shown, so closing the
tab and reopening resumes where the facilitator was (the step is stored too).

The meeting clocks need no thread: starting a segment stores its start time, and an ipywidgets ``Play``
ticking once a second in the browser asks the kernel to redraw the clocks from those stored times.

Text from Jira and from people is shown as text: HTML widgets get ``html.escape``d values only, and widget
descriptions and dropdown labels are plain text.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from pirlib import actions, db, review
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.publish import pipeline
from pirlib.ui.failure_mode_panel import RecapPanel
from pirlib.values import as_utc, safe_url

__all__ = ["FacilitatorWizard"]

_STATE_STYLE = {
    "done": ("#1b7f3b", "done"), "on_time": ("#555", "on time"), "due_soon": ("#b36b00", "due soon"),
    "late": ("#b00020", "late"),
}  # fmt: skip
_WIDE = widgets.Layout(width="95%")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _when(value: Any) -> str:
    stamp = as_utc(value)
    return f"{stamp:%Y-%m-%d %H:%M} UTC" if stamp else "—"


def _badge(clock: review.StageClock) -> str:
    color, word = _STATE_STYLE[clock.state]
    if clock.state == "done" and clock.done_late:
        color, word = _STATE_STYLE["late"][0], "done late"
    return (f'<span class="pir-clock pir-clock-{clock.state}" style="color:{color}" '
            f'title="{_e(clock.label)}: due {_when(clock.due_at)}">{_e(clock.label)}: <b>{_e(word)}</b> '
            f"({_e(clock.describe())})</span>")  # fmt: skip


def _clock_text(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _heading(text: str, level: int = 3) -> widgets.HTML:
    return widgets.HTML(f"<h{level}>{_e(text)}</h{level}>")


class _Message:
    """One line under a control: what went wrong and how to fix it, or what was saved."""

    def __init__(self, css: str) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class(css)

    def error(self, text: str) -> None:
        self.widget.value = f'<span class="pir-error" style="color:#b00020">{_e(text)}</span>'

    def ok(self, text: str) -> None:
        self.widget.value = f'<span class="pir-ok" style="color:#1b7f3b">{_e(text)}</span>'

    def clear(self) -> None:
        self.widget.value = ""

    def run(self, action: Callable[[], Any], done: str | None = None) -> bool:
        """Run ``action``; show a PirError's one line instead of a traceback. True when it succeeded."""
        try:
            action()
        except PirError as exc:
            self.error(str(exc))
            return False
        if done:
            self.ok(done)
        else:
            self.clear()
        return True


# ------------------------------------------------------------------------------------------------ steps


class _Step:
    def __init__(self, wizard: FacilitatorWizard) -> None:
        self.wizard = wizard
        self.settings = wizard.settings
        self.widget = widgets.VBox()

    @property
    def incident(self) -> str:
        assert self.wizard.incident_id is not None
        return self.wizard.incident_id

    def refresh(self) -> None:  # rebuild from the database
        raise NotImplementedError


class PickStep(_Step):
    """Closed Sev-0/Sev-1 incidents not yet published, newest first, with the runbook clock of each."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.select = widgets.Select(description="Incident", rows=8, layout=_WIDE)
        self.select.add_class("pir-pick")
        self.select.observe(self._picked, "value")
        self.table = widgets.HTML()
        self.message = _Message("pir-pick-message")
        self._loading = False

    def refresh(self) -> None:
        found = review.candidates(self.settings)
        self._loading = True
        try:
            self.select.options = [(c.label(), c.issue_id) for c in found]
            current = self.wizard.incident_id
            self.select.value = current if current in {c.issue_id for c in found} else None
        finally:
            self._loading = False
        rows = "".join(
            f"<tr><td>{_e(c.key)}</td><td>{_e(c.severity)}</td><td>{_e(c.summary)}</td>"
            f"<td>{_when(c.closed_at)}</td><td>{'<br>'.join(_badge(k) for k in c.clocks)}</td></tr>"
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
        self.widget.children = [_heading("1. Pick the incident"), intro, self.select, self.message.widget, self.table]

    def _picked(self, change: dict[str, Any]) -> None:
        if self._loading or not change["new"]:
            return
        self.message.run(lambda: self.wizard.open_incident(change["new"], "pick"))


class PrepareStep(_Step):
    """Runbook §1: facilitator, artifacts checklist, invite list and agenda; each stamps its time."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.facilitator = widgets.Combobox(placeholder="facilitator's name", ensure_option=False,
                                            description="Facilitator")  # fmt: skip
        self.facilitator.add_class("pir-facilitator-name")
        self.assign = widgets.Button(description="Assign facilitator", button_style="primary")
        self.assign.add_class("pir-assign")
        self.assign.on_click(lambda _: self.assign_facilitator())
        self.facilitator_message = _Message("pir-facilitator-message")
        self.artifact_boxes: dict[str, widgets.Checkbox] = {}
        self.artifact_locations: dict[str, widgets.Text] = {}
        self.artifact_message = _Message("pir-artifact-message")
        self.invite_boxes: dict[str, widgets.Checkbox] = {}
        self.new_name = widgets.Text(placeholder="name", description="Add person")
        self.new_role = widgets.Combobox(placeholder="role", options=list(review.RUNBOOK_ROLES) + ["responder"],
                                         ensure_option=False)  # fmt: skip
        self.add_person = widgets.Button(description="Add to invite list")
        self.add_person.on_click(lambda _: self.add_attendee())
        self.send_invites = widgets.Button(description="Mark invite list sent")
        self.send_invites.on_click(lambda _: self._stamp(review.mark_invites_sent, self.invite_message, "invite list sent"))
        self.invite_message = _Message("pir-invite-message")
        self.agenda = widgets.Textarea(rows=18, continuous_update=False, layout=_WIDE)
        self.agenda.add_class("pir-agenda")
        self.agenda.observe(self._agenda_edited, "value")
        self.reset_agenda = widgets.Button(description="Reset to draft")
        self.reset_agenda.on_click(lambda _: self._reset_agenda())
        self.export_agenda = widgets.Button(description="Save agenda as file")
        self.export_agenda.on_click(lambda _: self._export_agenda())
        self.circulate = widgets.Button(description="Mark agenda circulated")
        self.circulate.on_click(lambda _: self._stamp(review.mark_agenda_circulated, self.agenda_message,
                                                      "agenda circulated"))  # fmt: skip
        self.download = widgets.HTML()
        self.agenda_message = _Message("pir-agenda-message")
        self.clocks = widgets.HTML()
        self._loading = False

    # builders
    def refresh(self) -> None:
        facts = review.incident_facts(self.settings, self.incident)
        self._loading = True
        try:
            invitees = review.invite_list(self.settings, self.incident)
            self.facilitator.options = [n for n in invitees["name"] if n not in review.RUNBOOK_ROLES]
            self.facilitator.value = facts.get("facilitator") or ""
            self.agenda.value = review.agenda(self.settings, self.incident)
        finally:
            self._loading = False
        self._show_clocks(facts)
        self._update_download()
        self.widget.children = [
            _heading("2. Prepare (runbook §1)"), self.clocks,
            _heading("Facilitator", 4),
            widgets.HTML(f"<p>Not the incident commander ({_e(facts.get('commander') or 'not recorded')}). "
                         f"Currently: <b class='pir-current-facilitator'>{_e(facts.get('facilitator') or 'nobody')}"
                         "</b></p>"),
            widgets.HBox([self.facilitator, self.assign]), self.facilitator_message.widget,
            _heading("Artifacts checklist", 4), self._artifacts_box(), self.artifact_message.widget,
            _heading("Invite list", 4), self._invites_box(invitees),
            widgets.HBox([self.new_name, self.new_role, self.add_person]),
            widgets.HBox([self.send_invites]), self.invite_message.widget,
            _heading("Agenda", 4), self.agenda,
            widgets.HBox([self.reset_agenda, self.export_agenda, self.circulate]), self.download,
            self.agenda_message.widget,
        ]  # fmt: skip

    def _show_clocks(self, facts: dict[str, Any] | None = None) -> None:
        facts = facts or review.incident_facts(self.settings, self.incident)
        clocks = review.stage_clocks(facts["resolved_at"], facts, self.settings, review.now(self.settings))
        self.clocks.value = "<div class='pir-stage-clocks'>" + " · ".join(_badge(c) for c in clocks) + "</div>"

    def _artifacts_box(self) -> widgets.VBox:
        rows = []
        self.artifact_boxes, self.artifact_locations = {}, {}
        for item in review.artifact_checklist(self.settings, self.incident):
            kind = item["kind"]
            box = widgets.Checkbox(value=item["collected_at"] is not None, description=item["label"],
                                   indent=False, layout=widgets.Layout(width="45%"))  # fmt: skip
            box.add_class(f"pir-artifact-{kind}")
            box.observe(lambda change, kind=kind: self._artifact_ticked(kind, change["new"]), "value")
            where = widgets.Text(value=item["location"] or "", placeholder="link or file",
                                 continuous_update=False, layout=widgets.Layout(width="35%"))  # fmt: skip
            where.add_class(f"pir-artifact-location-{kind}")
            where.observe(lambda change, kind=kind: self._artifact_located(kind, change["new"]), "value")
            stamp = widgets.HTML(f"collected {_when(item['collected_at'])}" if item["collected_at"] else "")
            self.artifact_boxes[kind], self.artifact_locations[kind] = box, where
            rows.append(widgets.HBox([box, where, stamp]))
        return widgets.VBox(rows)

    def _invites_box(self, invitees: pd.DataFrame) -> widgets.VBox:
        self.invite_boxes = {}
        rows = []
        for person in invitees.to_dict("records"):
            name = person["name"]
            label = f"{name} — {person['role']} ({person['origin']})"
            box = widgets.Checkbox(value=bool(person["invited"]), description=label, indent=False, layout=_WIDE)
            box.observe(lambda change, name=name: self._invite_ticked(name, change["new"]), "value")
            self.invite_boxes[name] = box
            rows.append(box)
        return widgets.VBox(rows)

    # actions
    def assign_facilitator(self) -> None:
        name = self.facilitator.value
        if self.facilitator_message.run(lambda: review.assign_facilitator(self.settings, self.incident, name),
                                        f"{name.strip()} is the facilitator"):  # fmt: skip
            message = self.facilitator_message.widget.value
            self.refresh()
            self.facilitator_message.widget.value = message
            self.wizard.refresh_progress()

    def _artifact_ticked(self, kind: str, collected: bool) -> None:
        if self._loading:
            return
        if self.artifact_message.run(lambda: review.set_artifact(
                self.settings, self.incident, kind, collected=collected, by=self.wizard.user)):  # fmt: skip
            self.refresh()
            self.wizard.refresh_progress()

    def _artifact_located(self, kind: str, location: str) -> None:
        if not self._loading:
            self.artifact_message.run(lambda: review.set_artifact(self.settings, self.incident, kind, location=location),
                                      "location saved")  # fmt: skip

    def _invite_ticked(self, name: str, invited: bool) -> None:
        if not self._loading:
            self.invite_message.run(lambda: review.set_invited(self.settings, self.incident, name, invited))

    def add_attendee(self) -> None:
        name, role = self.new_name.value, self.new_role.value
        if self.invite_message.run(lambda: review.add_attendee(self.settings, self.incident, name, role),
                                   f"{name.strip()} added"):  # fmt: skip
            message = self.invite_message.widget.value
            self.new_name.value = self.new_role.value = ""
            self.refresh()
            self.invite_message.widget.value = message

    def _stamp(self, stamp: Callable[..., None], message: _Message, what: str) -> None:
        if message.run(lambda: stamp(self.settings, self.incident), what):
            self._show_clocks()
            self.wizard.refresh_progress()

    def _agenda_edited(self, change: dict[str, Any]) -> None:
        if not self._loading:
            if self.agenda_message.run(lambda: review.save_agenda(self.settings, self.incident, change["new"]),
                                       "agenda saved"):  # fmt: skip
                self._update_download()

    def _reset_agenda(self) -> None:
        text = review.reset_agenda(self.settings, self.incident)
        self._loading = True
        try:
            self.agenda.value = text
        finally:
            self._loading = False
        self._update_download()

    def _export_agenda(self) -> None:
        holder: list[Path] = []
        if self.agenda_message.run(lambda: holder.append(review.export_agenda(self.settings, self.incident))):
            self.agenda_message.ok(f"agenda written to {holder[0]}")

    def _update_download(self) -> None:
        data = base64.b64encode(self.agenda.value.encode("utf-8")).decode("ascii")
        key = self.wizard.incident_key or "incident"
        self.download.value = (f'<a class="pir-agenda-download" download="{_e(key)}-agenda.md" '
                               f'href="data:text/markdown;charset=utf-8;base64,{data}">Download agenda (Markdown)</a>')


class TimelineStep(_Step):
    """The timeline editor (pirlib.ui.timeline_editor) plus imports of chat, alerts and changes files."""

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
        self.message = _Message("pir-import-message")
        self.editor: Any = None

    def refresh(self) -> None:
        self.editor = self._editor()
        body = self.editor.widget if self.editor is not None else self._read_only()
        self.widget.children = [
            _heading("3. Timeline"),
            widgets.HBox([self.kind, self.upload, self.path, self.import_button]), self.message.widget, body,
        ]

    def _editor(self) -> Any:
        try:
            from pirlib.ui.timeline_editor import TimelineEditor
        except ImportError:
            return None
        return TimelineEditor(self.settings, self.incident, render_figure=self.wizard.render_figures,
                              user=self.wizard.user)  # fmt: skip

    def _read_only(self) -> widgets.HTML:
        from pirlib import db

        with db.connect(self.settings) as con:
            events = con.execute(
                "SELECT occurred_at, source, actor, coalesce(text, to_value, kind) AS what FROM incident_events "
                "WHERE incident_id = ? AND NOT hidden ORDER BY occurred_at", [self.incident]).df()  # fmt: skip
        rows = "".join(f"<tr><td>{_when(r.occurred_at)}</td><td>{_e(r.source)}</td><td>{_e(r.actor)}</td>"
                       f"<td>{_e(r.what)}</td></tr>" for r in events.itertuples())  # fmt: skip
        return widgets.HTML(f"<p>Timeline (read-only)</p><table>{rows}</table>")

    def import_file(self) -> None:
        from pirlib import timeline

        def run() -> None:
            if self.upload.value:
                item = self.upload.value[0]
                folder = Path(tempfile.mkdtemp(prefix="pir-import-"))
                path = folder / Path(item["name"]).name
                path.write_bytes(bytes(item["content"]))
            elif self.path.value.strip():
                path = Path(self.path.value.strip()).expanduser()
            else:
                raise PirError("import: no file chosen; choose a file or type a path, then import")
            counts = timeline.import_file(self.settings, self.kind.value, self.incident, path)
            self.message.ok(f"imported {path.name}: {counts.get('added', 0)} added, "
                            f"{counts.get('updated', 0)} updated, {counts.get('unchanged', 0)} unchanged")  # fmt: skip

        if self.message.run(run, None):
            text = self.message.widget.value
            self.upload.value = ()
            self.refresh()
            self.message.widget.value = text


class MeetingStep(_Step):
    """Runbook §2: six timed segments, ground rules, and notes per segment saved as review_notes rows."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.ticker = widgets.Play(interval=1000, min=0, max=10**7, step=1, show_repeat=False,
                                   description="clock")  # fmt: skip
        self.ticker.observe(lambda _: self.update_clocks(), "value")
        self.refresh_clocks = widgets.Button(description="Refresh clocks")
        self.refresh_clocks.on_click(lambda _: self.update_clocks())
        self.overall = widgets.HTML()
        self.overall.add_class("pir-meeting-clock")
        self.clocks: dict[str, widgets.HTML] = {}
        self.inputs: dict[str, widgets.Textarea] = {}
        self.tags: dict[str, widgets.Dropdown] = {}
        self.add_buttons: dict[str, widgets.Button] = {}
        self.messages: dict[str, _Message] = {}
        self.times: dict[str, tuple[dt.datetime, dt.datetime | None]] = {}
        self.recap: RecapPanel | None = None

    def refresh(self) -> None:
        self.times = review.segment_times(self.settings, self.incident)
        all_notes = review.notes(self.settings, self.incident)
        rules = "".join(f"<li>{_e(rule)}</li>" for rule in review.GROUND_RULES)
        sections = [self._segment_box(n, s, all_notes) for n, s in enumerate(review.SEGMENTS, 1)]
        self.widget.children = [
            _heading("4. Meeting (runbook §2, 60 minutes)"),
            widgets.HTML(f"<div class='pir-ground-rules'><b>Ground rules</b><ul>{rules}</ul></div>"),
            widgets.HBox([self.overall, self.ticker, self.refresh_clocks]), *sections,
        ]
        self.ticker.playing = any(ended is None for _, ended in self.times.values())
        self.update_clocks()

    def _segment_box(self, number: int, segment: review.Segment, all_notes: pd.DataFrame) -> widgets.VBox:
        name = segment.name
        start = widgets.Button(description="Start segment")
        start.add_class(f"pir-start-{name}")
        start.on_click(lambda _, name=name: self.start(name))
        end = widgets.Button(description="End segment")
        end.on_click(lambda _, name=name: self.end(name))
        self.clocks[name] = widgets.HTML()
        text = widgets.Textarea(placeholder=self._prompt(segment), rows=2, layout=widgets.Layout(width="60%"))
        text.add_class(f"pir-note-{name}")
        self.inputs[name] = text
        extra: list[widgets.Widget] = []
        if name == "went_wrong":
            self.tags[name] = widgets.Dropdown(options=[("— tag —", "")] + [(v, k) for k, v in review.NOTE_TAGS.items()])
        elif name == "risk_review":
            self.tags[name] = widgets.Dropdown(options=[("no flag", "")] + [(v, k) for k, v in review.NOTE_FLAGS.items()])
        if name in self.tags:
            self.tags[name].add_class(f"pir-note-tag-{name}")
            extra.append(self.tags[name])
        add = widgets.Button(description="Add note")
        add.add_class(f"pir-add-note-{name}")
        add.on_click(lambda _, name=name: self.add_note(name))
        self.add_buttons[name] = add
        self.messages[name] = _Message(f"pir-note-message-{name}")
        rows = []
        for note in all_notes.loc[all_notes["segment"] == name].to_dict("records"):
            marks = " ".join(f"[{review.NOTE_TAGS.get(v) or review.NOTE_FLAGS.get(v)}]"
                             for v in (note["tag"], note["flag"]) if isinstance(v, str) and v)  # fmt: skip
            delete = widgets.Button(description="Delete", layout=widgets.Layout(width="80px"))
            delete.on_click(lambda _, note_id=note["note_id"]: self.delete_note(note_id))
            rows.append(widgets.HBox([widgets.HTML(f"<span class='pir-note'>{_e(marks)} {_e(note['text'])}</span>"),
                                      delete]))  # fmt: skip
        extra_panels = []
        if name == "recap":  # the incident's failure mode (settable) and similar earlier incidents
            if self.recap is None or self.recap.incident_id != self.incident:
                self.recap = RecapPanel(self.settings, self.incident, self.wizard.user)
            else:  # a note was added or the step reopened: the similar list stands, the mode is reread
                self.recap.refresh(with_similar=False)
            extra_panels.append(self.recap.widget)
        return widgets.VBox([
            widgets.HTML(f"<h4>{number}. {_e(segment.title)} ({segment.minutes} min)</h4><p>{_e(segment.purpose)}</p>"),
            *extra_panels, widgets.HBox([start, end, self.clocks[name]]), *rows,
            widgets.HBox([text, *extra, add]), self.messages[name].widget,
        ])  # fmt: skip

    @staticmethod
    def _prompt(segment: review.Segment) -> str:
        return {"went_well": "a resilience strength", "went_wrong": "a detection gap, process breakdown or tooling limit",
                "risk_review": "a compliance or security follow-up"}.get(segment.name, "a note")  # fmt: skip

    def update_clocks(self) -> None:
        at = review.now(self.settings)
        for segment in review.SEGMENTS:
            times = self.times.get(segment.name)
            elapsed = review.segment_elapsed(times, at)
            over = elapsed > dt.timedelta(minutes=segment.minutes)
            state = "not started" if not times else ("running" if times[1] is None else "ended")
            color = "#b00020" if over else "#333"
            if segment.name in self.clocks:
                self.clocks[segment.name].value = (
                    f"<span class='pir-segment-clock' style='color:{color}'>{_clock_text(elapsed)} / "
                    f"{segment.minutes:02d}:00 ({state})</span>")  # fmt: skip
        total = review.meeting_elapsed(self.times, at)
        planned = sum(s.minutes for s in review.SEGMENTS)
        self.overall.value = f"<b>Meeting: {_clock_text(total)} of {planned:02d}:00</b>"

    def start(self, segment: str) -> None:
        if self.messages[segment].run(lambda: review.start_segment(self.settings, self.incident, segment)):
            self.times = review.segment_times(self.settings, self.incident)
            self.ticker.playing = True
            self.update_clocks()

    def end(self, segment: str) -> None:
        if self.messages[segment].run(lambda: review.end_segment(self.settings, self.incident, segment)):
            self.times = review.segment_times(self.settings, self.incident)
            self.ticker.playing = any(ended is None for _, ended in self.times.values())
            self.update_clocks()

    def add_note(self, segment: str) -> None:
        tag = self.tags[segment].value if segment in self.tags else None
        text = self.inputs[segment].value
        kwargs = {"flag": tag} if segment == "risk_review" else {"tag": tag}
        if self.messages[segment].run(lambda: review.add_note(self.settings, self.incident, segment, text,
                                                             author=self.wizard.user, **kwargs)):  # fmt: skip
            self.refresh()
            self.messages[segment].ok("note saved")
            self.wizard.refresh_progress()

    def delete_note(self, note_id: str) -> None:
        review.delete_note(self.settings, note_id)
        self.refresh()


class ActionsStep(_Step):
    """Runbook §3: SMART action drafts, saved as they are typed, with the problems that remain."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        text = {"continuous_update": False, "layout": _WIDE}
        self.fields: dict[str, widgets.Widget] = {
            "summary": widgets.Text(description="Summary", placeholder="what will be done", **text),
            "owner": widgets.Combobox(description="Owner", placeholder="one accountable person", ensure_option=False,
                                      continuous_update=False),
            "due_date": widgets.DatePicker(description="Due date"),
            "priority": widgets.Dropdown(description="Priority", options=[("—", "")] + [(p, p) for p in actions.PRIORITIES]),
            "action_type": widgets.Dropdown(description="Type", options=[("— choose —", "")] + [(t, t) for t in actions.ACTION_TYPES]),
            "success_metric": widgets.Textarea(description="Success metric", placeholder="the number that shows it worked",
                                               rows=2, **text),
            "verification_method": widgets.Textarea(description="Verification", placeholder="how the metric is checked",
                                                    rows=2, **text),
        }  # fmt: skip
        for name, field in self.fields.items():
            field.add_class(f"pir-action-{name}")
            field.style = {"description_width": "110px"}
            field.observe(lambda change, name=name: self._edited(name, change["new"]), "value")
        self.new = widgets.Button(description="New draft", button_style="primary")
        self.new.add_class("pir-new-draft")
        self.new.on_click(lambda _: self.new_draft())
        self.problems = widgets.HTML()
        self.problems.add_class("pir-action-problems")
        self.message = _Message("pir-action-message")
        self.listing = widgets.VBox()
        self.push_button = widgets.Button(description="Push to Jira", button_style="warning",
                                          tooltip="create a Jira issue for each SMART draft (safe to press again)")
        self.push_button.add_class("pir-push")
        self.push_button.on_click(lambda _: self.push())
        self.push_result = widgets.HTML()
        self.push_result.add_class("pir-push-result")
        self.draft_id: str | None = None
        self._loading = False

    def refresh(self) -> None:
        invitees = review.invite_list(self.settings, self.incident)
        self.fields["owner"].options = [n for n in invitees["name"] if n not in review.RUNBOOK_ROLES]
        if self.draft_id and actions.get_draft(self.settings, self.draft_id) is None:
            self.draft_id = None
        self._load(actions.get_draft(self.settings, self.draft_id) if self.draft_id else None)
        self._show()
        self.widget.children = [
            _heading("5. Actions (runbook §3)"),
            widgets.HTML("<p>Each action needs an owner, a due date after today, a success metric and a "
                         "verification method. Drafts are saved as you type (leave a field to save it) and stay "
                         "drafts until you push them to Jira (the button below, or <code>pir push</code>); a draft "
                         "that fails keeps what you typed and is pushed again next time.</p>"),
            self.new, *self.fields.values(), self.problems, self.message.widget,
            _heading("Drafts", 4), self.listing, self.push_button, self.push_result,
        ]  # fmt: skip

    def push(self) -> None:
        """Push this incident's drafts; show each draft's state, key or Jira's error as text."""
        from pirlib.jira_sync import push as push_mod

        outcome: list[push_mod.PushResult] = []
        self.push_button.disabled = True
        try:
            ok = self.message.run(lambda: outcome.append(push_mod.push(self.settings, self.incident)))
        finally:
            self.push_button.disabled = False
        if ok and outcome:
            result = outcome[0]
            items = "".join(f"<li class='pir-push-{_e(o.state)}'>{_e(o.line())}</li>" for o in result.outcomes)
            self.push_result.value = f"<div><b>{_e(result.summary())}</b><ul>{items}</ul></div>"
        self._show()
        self.wizard.refresh_progress()

    def _load(self, draft: dict[str, Any] | None) -> None:
        self._loading = True
        try:
            for name, field in self.fields.items():
                value = (draft or {}).get(name)
                if isinstance(field, widgets.DatePicker):
                    field.value = value
                else:
                    field.value = value or ""
        finally:
            self._loading = False

    def new_draft(self) -> None:
        self.draft_id = None
        self._load(None)
        self.message.clear()
        self._show()

    def edit(self, draft_id: str) -> None:
        self.draft_id = draft_id
        self._load(actions.get_draft(self.settings, draft_id))
        self._show()

    def delete(self, draft_id: str) -> None:
        if self.message.run(lambda: actions.delete_draft(self.settings, draft_id), "draft deleted"):
            if draft_id == self.draft_id:
                self.new_draft()
            self._show()
            self.wizard.refresh_progress()

    def _edited(self, name: str, value: Any) -> None:
        if self._loading:
            return

        def save() -> None:
            if self.draft_id is None:
                values = {n: f.value for n, f in self.fields.items()}
                self.draft_id = actions.create_draft(self.settings, self.incident, **values)
            else:
                actions.update_draft(self.settings, self.draft_id, **{name: value})

        if self.message.run(save, "draft saved"):
            self._show()
            self.wizard.refresh_progress()

    def _show(self) -> None:
        drafts = actions.list_drafts(self.settings, self.incident)
        current = drafts.loc[drafts["draft_id"] == self.draft_id]
        if self.draft_id is None or current.empty:
            self.problems.value = "<p>New draft: start typing; it is saved when you leave a field.</p>"
        else:
            problems = current.iloc[0]["problems"]
            self.problems.value = (
                "<div class='pir-problems' style='color:#b00020'><b>Not SMART yet:</b><ul>"
                + "".join(f"<li>{_e(p)}</li>" for p in problems) + "</ul></div>"
                if problems else "<div class='pir-smart-ok' style='color:#1b7f3b'>✓ SMART: this draft is complete.</div>"
            )  # fmt: skip
        rows = []
        for draft in drafts.to_dict("records"):
            status = "✓ SMART" if not draft["problems"] else f"✗ {len(draft['problems'])} problem(s)"
            due = draft["due_date"].date().isoformat() if not pd.isna(draft["due_date"]) else "no due date"
            owner = draft["owner"] if isinstance(draft["owner"], str) else "no owner"
            marker = "▶ " if draft["draft_id"] == self.draft_id else ""
            pushed = f" {draft['pushed_key']}" if isinstance(draft.get("pushed_key"), str) else ""
            error = f" — {draft['error']}" if isinstance(draft.get("error"), str) else ""
            label = widgets.HTML(f"<span class='pir-draft'>{marker}{_e(draft['summary'] or '(no summary)')} — "
                                 f"{_e(owner)}, {_e(due)}, {_e(draft['state'])}{_e(pushed)}: {_e(status)}"
                                 f"{_e(error)}</span>",
                                 layout=widgets.Layout(width="70%"))  # fmt: skip
            edit = widgets.Button(description="Edit", layout=widgets.Layout(width="70px"))
            edit.on_click(lambda _, d=draft["draft_id"]: self.edit(d))
            delete = widgets.Button(description="Delete", layout=widgets.Layout(width="70px"))
            delete.on_click(lambda _, d=draft["draft_id"]: self.delete(d))
            rows.append(widgets.HBox([label, edit, delete]))
        self.listing.children = rows or [widgets.HTML("<p>No drafts yet.</p>")]


class WrapUpStep(_Step):
    """The review-quality check of this incident, the Publish button (runbook §4) and the regulator filing."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        super().__init__(wizard)
        self.report = widgets.HTML()
        self.report.add_class("pir-quality")
        self.check = widgets.Button(description="Check again")
        self.check.on_click(lambda _: self.refresh())
        self.publishing = PublishPanel(self)

    def refresh(self) -> None:
        issues = review.quality_check(self.settings, self.incident)
        facts = review.incident_facts(self.settings, self.incident)
        self.report.value = (
            "<div style='color:#b36b00'><b>Still missing:</b><ul>" + "".join(f"<li>{_e(i)}</li>" for i in issues)
            + "</ul></div>" if issues else "<div style='color:#1b7f3b'>✓ Nothing missing: the review is complete.</div>"
        )  # fmt: skip
        self.widget.children = [_heading("6. Wrap-up"), self.report, self.check, *self.publishing.children(facts)]


class PublishPanel:
    """Publish (Confluence when configured, else a page published elsewhere), what was written, the filing."""

    def __init__(self, step: WrapUpStep) -> None:
        self.step = step
        self.settings = step.settings
        self.confluence = bool(self.settings.confluence_url and self.settings.confluence_space)
        self.status = widgets.HTML()
        self.status.add_class("pir-publish-status")
        self.doc_url = widgets.Text(description="Page URL", placeholder="https://… of the postmortem page",
                                    layout=_WIDE)  # fmt: skip
        self.button = widgets.Button(description="Publish", button_style="primary", icon="upload")
        self.button.add_class("pir-publish")
        self.button.on_click(lambda _: self.publish())
        self.result = widgets.HTML()
        self.result.add_class("pir-publish-result")
        self.message = _Message("pir-publish-message")
        self.filed = widgets.Button(description="Record regulator filing")
        self.filed.add_class("pir-regulator-filed")
        self.filed.on_click(lambda _: self.record_filing())
        self.filing = widgets.HTML()

    def children(self, facts: dict[str, Any]) -> list[widgets.Widget]:
        clocks = review.stage_clocks(facts["resolved_at"], facts, self.settings, review.now(self.settings))
        publish = next(c for c in clocks if c.stage == "published")
        where = (f"Confluence space {_e(self.settings.confluence_space)} under {_e(self.settings.confluence_parent)}"
                 if self.confluence else "Confluence is not configured (PIR_CONFLUENCE_URL, PIR_CONFLUENCE_SPACE): "
                 "publish the files by hand and give the page's URL")  # fmt: skip
        again = " Publishing again updates the page." if facts.get("published_at") else ""
        self.status.value = (f"<p>Publish the postmortem (runbook §4) — {_badge(publish)} — to {where}, with "
                             f"<code>pir publish {_e(facts['key'])}</code> or this button.{again}</p>")  # fmt: skip
        self.button.description = "Publish again (update)" if facts.get("published_at") else "Publish"
        rows = [self.status] + ([] if self.confluence else [self.doc_url]) + [self.button, self.message.widget, self.result]
        if facts.get("regulatory"):
            filed = facts.get("regulatory_filed_at")
            self.filing.value = (f"<p>Regulator filing (runbook §4.4): <b>filed {_when(filed)}</b></p>" if filed else
                                 "<p>Regulator filing (runbook §4.4): <b style='color:#b00020'>open</b> — Compliance "
                                 "files the update in the regulator portal, then record it here.</p>")  # fmt: skip
            self.filed.disabled = filed is not None
            rows += [self.filing, self.filed]
        return rows

    def publish(self) -> None:
        done: list[pipeline.PublishResult] = []
        url = self.doc_url.value.strip() or None
        if self.message.run(lambda: done.append(pipeline.publish(
                self.settings, self.step.incident, to_confluence=self.confluence, doc_url=url))):  # fmt: skip
            result = done[0]
            link = safe_url(result.doc_url)
            page = f'<p>Page: <a href="{_e(link)}" target="_blank">{_e(link)}</a></p>' if link else ""
            lines = "".join(f"<li>{_e(line)}</li>" for line in result.lines())
            problems = "".join(f"<li style='color:#b00020'>{_e(f)}</li>" for f in result.failures)
            self.result.value = f"{page}<ul>{lines}{problems}</ul>"
            self.step.refresh()

    def record_filing(self) -> None:
        def record() -> None:
            with db.connect(self.settings) as con:
                pipeline.record_regulator_filing(con, self.step.incident, review.now(self.settings))

        if self.message.run(record, "Regulator filing recorded: the compliance item is closed."):
            self.step.refresh()


# ------------------------------------------------------------------------------------------------ wizard


class FacilitatorWizard:
    """The guided review; display ``widget``. Resumes the incident and step worked on last."""

    def __init__(self, settings: Settings | None = None, *, incident: str | None = None, user: str | None = None,
                 render_figures: bool = True) -> None:  # fmt: skip
        self.settings = settings or load_settings()
        self.user = user
        self.render_figures = render_figures
        self.incident_id: str | None = None
        self.incident_key: str | None = None
        self.step = "pick"
        self.steps: dict[str, _Step] = {
            "pick": PickStep(self), "prepare": PrepareStep(self), "timeline": TimelineStep(self),
            "meeting": MeetingStep(self), "actions": ActionsStep(self), "wrap_up": WrapUpStep(self),
        }  # fmt: skip
        self.step_buttons: dict[str, widgets.Button] = {}
        for n, (key, label) in enumerate(review.STEPS.items(), 1):
            button = widgets.Button(description=f"{n} {label}", layout=widgets.Layout(width="130px"))
            button.add_class(f"pir-step-{key}")
            button.on_click(lambda _, key=key: self.go(key))
            self.step_buttons[key] = button
        self.position = widgets.HTML()
        self.header = widgets.HTML()
        self.header.add_class("pir-header")
        self.message = _Message("pir-wizard-message")
        self.back = widgets.Button(description="◀ Back")
        self.back.on_click(lambda _: self._move(-1))
        self.next = widgets.Button(description="Next ▶", button_style="primary")
        self.next.add_class("pir-next")
        self.next.on_click(lambda _: self._move(1))
        self.body = widgets.Box()
        self.widget = widgets.VBox([
            widgets.HBox(list(self.step_buttons.values())), self.position, self.header, self.message.widget,
            self.body, widgets.HBox([self.back, self.next]),
        ])  # fmt: skip
        self.widget.add_class("pir-facilitator")
        if incident is not None:
            self.open_incident(incident, "prepare")
        else:
            resume = review.last_progress(self.settings)
            if resume:
                self.open_incident(resume[0], resume[1], show=False)
        self.go(self.step)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def open_incident(self, incident: str, step: str = "pick", *, show: bool = True) -> None:
        facts = review.incident_facts(self.settings, incident)
        self.incident_id, self.incident_key = str(facts["issue_id"]), str(facts["key"])
        self.header.value = (f"<h2 class='pir-incident'>{_e(facts['key'])} · {_e(facts.get('severity'))} · "
                             f"{_e(facts.get('summary'))}</h2>")  # fmt: skip
        self.step = step
        review.save_progress(self.settings, self.incident_id, step)
        if show:
            self.refresh_progress()

    def go(self, step: str) -> None:
        """Show a step (rebuilt from the database) and remember it."""
        blocked = step != "pick" and self.incident_id is None
        step = "pick" if blocked else step
        self.step = step
        if self.incident_id is not None:
            review.save_progress(self.settings, self.incident_id, step)
        if not self.message.run(self.steps[step].refresh):
            return
        if blocked:
            self.message.error("No incident picked yet; choose one in step 1 (Pick) first")
        self.body.children = [self.steps[step].widget]
        self.refresh_progress()

    def _move(self, offset: int) -> None:
        keys = list(review.STEPS)
        index = min(max(keys.index(self.step) + offset, 0), len(keys) - 1)
        self.go(keys[index])

    def done_steps(self) -> set[str]:
        """The steps whose work is complete, for the progress indicator."""
        if self.incident_id is None:
            return set()
        done = {"pick"}
        facts = review.incident_facts(self.settings, self.incident_id)
        if all(facts.get(c) is not None for c in ("facilitator_assigned_at", "artifacts_collected_at",
                                                   "invites_sent_at", "agenda_circulated_at")):  # fmt: skip
            done.add("prepare")
        if facts.get("event_count"):
            done.add("timeline")
        written = set(review.notes(self.settings, self.incident_id)["segment"])
        if all(s.name in written for s in review.SEGMENTS):
            done.add("meeting")
        drafts = actions.list_drafts(self.settings, self.incident_id)
        if not drafts.empty and not any(drafts["problems"].map(bool)):
            done.add("actions")
        if len(done) == 5 and not review.quality_check(self.settings, self.incident_id):
            done.add("wrap_up")
        return done

    def refresh_progress(self) -> None:
        done = self.done_steps()
        keys = list(review.STEPS)
        for n, (key, button) in enumerate(self.step_buttons.items(), 1):
            button.description = f"{n} {review.STEPS[key]}" + (" ✓" if key in done else "")
            button.button_style = "primary" if key == self.step else ("success" if key in done else "")
        self.position.value = (f"<p class='pir-position'>Step {keys.index(self.step) + 1} of {len(keys)}: "
                               f"{_e(review.STEPS[self.step])} · {len(done)} of {len(keys)} done</p>")  # fmt: skip

"""Step 4, Meeting (runbook §2): six timed segments, the ground rules, and notes per segment saved as
review_notes rows (the logic is ``pirlib.review.meeting``).

The clocks need no thread: starting a segment stores its start time, and an ipywidgets ``Play`` ticking once
a second in the browser asks the kernel to redraw the clocks from those stored times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any

import ipywidgets as widgets

from pirlib.review import actions, meeting, prepare
from pirlib.review.clock import now
from pirlib.review.session import ReviewSession
from pirlib.ui import html
from pirlib.ui.facilitator.recap import RecapPanel
from pirlib.ui.facilitator.widgets import ConfirmButton, Host, Message, Step, clock_text, heading
from pirlib.values import is_missing


class MeetingStep(Step):
    """Runbook §2: six timed segments, ground rules, and notes per segment saved as review_notes rows.

    The segments' widgets are built once per incident: a note added or deleted redraws its own segment's list
    only, so text typed in another segment and not added yet stays where it is."""

    name = "meeting"
    depends_on = frozenset({"prepare"})  # who attended is ticked on the invite list

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.ticker = widgets.Play(interval=1000, min=0, max=10**7, step=1, show_repeat=False, description="clock")
        self.ticker.observe(lambda _: self.update_clocks(), "value")
        self.refresh_clocks = widgets.Button(description="Refresh clocks")
        self.refresh_clocks.on_click(lambda _: self.update_clocks())
        self.overall = widgets.HTML()
        self.overall.add_class("pir-meeting-clock")
        self.clocks: dict[str, widgets.HTML] = {}
        self.inputs: dict[str, widgets.Textarea] = {}
        self.tags: dict[str, widgets.Dropdown] = {}
        self.add_buttons: dict[str, widgets.Button] = {}
        self.messages: dict[str, Message] = {}
        self.note_lists: dict[str, widgets.VBox] = {}
        self.note_rows: dict[str, NoteRow] = {}  # by note id
        self.built_for: str | None = None
        self.times: dict[str, tuple[dt.datetime, dt.datetime | None]] = {}
        self.recap: RecapPanel | None = None
        self.record = MeetingRecord(self)
        self.drafted: set[str] = set()  # the notes a draft was made from

    def load(self, session: ReviewSession) -> None:
        self.times = meeting.segment_times(session)
        all_notes = meeting.notes(session).to_dict("records")
        self.drafted = set(actions.drafts_by_note(session))
        self.record.load(session)
        if self.built_for is None:
            rules = "".join(f"<li>{html.text(rule)}</li>" for rule in meeting.GROUND_RULES)
            sections = [self._segment_box(n, segment, session) for n, segment in enumerate(meeting.SEGMENTS, 1)]
            self.widget.children = [
                heading("4. Meeting (runbook §2, 60 minutes)"),
                widgets.HTML(f"<div class='pir-ground-rules'><b>Ground rules</b><ul>{rules}</ul></div>"),
                self.record.people,
                widgets.HBox([self.overall, self.ticker, self.refresh_clocks]),
                *sections,
            ]
        elif self.built_for != session.incident_id:  # the same widgets for the next incident, emptied
            for segment in meeting.SEGMENTS:
                self.inputs[segment.name].value = ""
                self.messages[segment.name].clear()
            for tag in self.tags.values():
                tag.value = ""
            if self.recap is not None:
                self.recap.show_incident(session.incident_id, session.con)
        elif self.recap is not None:  # the step shown again: the similar list stands, the mode is reread
            self.recap.refresh(session.con, with_similar=False)
        self.built_for = session.incident_id
        for segment in meeting.SEGMENTS:
            self._show_notes(segment.name, all_notes)
        self.ticker.playing = any(ended is None for _, ended in self.times.values())
        self.update_clocks()

    def _segment_box(self, number: int, segment: meeting.Segment, session: ReviewSession) -> widgets.VBox:
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
            self.tags[name] = widgets.Dropdown(
                options=[("— tag —", "")] + [(v, k) for k, v in meeting.NOTE_TAGS.items()]
            )
        elif name == "risk_review":
            self.tags[name] = widgets.Dropdown(
                options=[("no flag", "")] + [(v, k) for k, v in meeting.NOTE_FLAGS.items()]
            )
        if name in self.tags:
            self.tags[name].add_class(f"pir-note-tag-{name}")
            extra.append(self.tags[name])
        add = widgets.Button(description="Add note")
        add.add_class(f"pir-add-note-{name}")
        add.on_click(lambda _, name=name: self.add_note(name))
        self.add_buttons[name] = add
        self.messages[name] = Message(f"pir-note-message-{name}")
        self.note_lists[name] = widgets.VBox()
        extra_panels = []
        if name == "recap":  # the incident's failure mode (settable) and similar earlier incidents
            self.recap = RecapPanel(self.settings, session.incident_id, self.host.user, session.con)
            extra_panels.append(self.recap.widget)
        if name == "went_wrong":  # what the discussion concludes: the root cause and what contributed
            extra_panels.append(self.record.cause)
        return widgets.VBox(
            [
                widgets.HTML(
                    f"<h4>{number}. {html.text(segment.title)} ({segment.minutes} min)</h4><p>{html.text(segment.purpose)}</p>"
                ),
                *extra_panels,
                widgets.HBox([start, end, self.clocks[name]]),
                self.note_lists[name],
                widgets.HBox([text, *extra, add]),
                self.messages[name].widget,
            ]
        )

    def _show_notes(self, name: str, all_notes: list[dict]) -> None:
        """Redraw one segment's notes, out of ``all_notes`` (``meeting.notes`` as records; a frame's filter per
        segment cost 3 ms, six times on opening the step). Each note has an edit and a delete that asks first; a
        note's row is made once per version of the note and kept, so showing an incident again makes no new
        widgets."""
        rows = []
        for note in all_notes:
            if note["segment"] != name:
                continue
            row = self.note_rows.get(note["note_id"])
            if row is None or row.version != int(note["version"]):
                row = NoteRow(self, name, note)
                self.note_rows[row.note_id] = row
            rows.append(row.widget)
        self.note_lists[name].children = rows

    def _reread_notes(self, name: str, session: ReviewSession) -> None:
        """Redraw one segment's notes as stored now (after a note was added, edited or deleted)."""
        self._show_notes(name, meeting.notes(session).to_dict("records"))

    @staticmethod
    def _prompt(segment: meeting.Segment) -> str:
        return {
            "went_well": "a resilience strength",
            "went_wrong": "a detection gap, process breakdown or tooling limit",
            "risk_review": "a compliance or security follow-up",
        }.get(segment.name, "a note")

    def update_clocks(self) -> None:
        at = now(self.settings)
        for segment in meeting.SEGMENTS:
            times = self.times.get(segment.name)
            elapsed = meeting.segment_elapsed(times, at)
            over = elapsed > dt.timedelta(minutes=segment.minutes)
            state = "not started" if not times else ("running" if times[1] is None else "ended")
            color = html.COLORS["error" if over else "plain"]
            if segment.name in self.clocks:
                self.clocks[segment.name].value = (
                    f"<span class='pir-segment-clock' style='color:{color}'>{clock_text(elapsed)} / "
                    f"{segment.minutes:02d}:00 ({state})</span>"
                )
        total = meeting.meeting_elapsed(self.times, at)
        planned = sum(s.minutes for s in meeting.SEGMENTS)
        self.overall.value = f"<b>Meeting: {clock_text(total)} of {planned:02d}:00</b>"

    def _change_segment(self, change: Callable[..., None], segment: str) -> bool:
        """Start or end a segment and reread the stored times, in one connection."""

        def run() -> None:
            with self.session() as s:
                change(s, segment)
                self.times = meeting.segment_times(s)

        return self.messages[segment].run(run)

    def start(self, segment: str) -> None:
        if self._change_segment(meeting.start_segment, segment):
            self.ticker.playing = True
            self.update_clocks()

    def end(self, segment: str) -> None:
        if self._change_segment(meeting.end_segment, segment):
            self.ticker.playing = any(ended is None for _, ended in self.times.values())
            self.update_clocks()

    def add_note(self, segment: str) -> None:
        tag = self.tags[segment].value if segment in self.tags else None
        text = self.inputs[segment].value
        kwargs = {"flag": tag} if segment == "risk_review" else {"tag": tag}

        def add(s: ReviewSession) -> None:
            meeting.add_note(s, segment, text, author=self.host.user, **kwargs)
            self.inputs[segment].value = ""  # only this segment's: text typed elsewhere stays
            if segment in self.tags:
                self.tags[segment].value = ""
            self._reread_notes(segment, s)

        self.save(self.messages[segment], add, "note saved")

    def edit_note(self, note_id: str, version: int, segment: str, text: str) -> None:
        """Save a note's new text over the version its row showed. When someone else saved it first, the message
        says who and when, and the row shows their text with what was typed here still in its editor."""

        def edit(s: ReviewSession) -> None:
            meeting.edit_note(s, note_id, text, version=version, by=self.host.user)
            self._reread_notes(segment, s)

        if self.save(self.messages[segment], edit, "note saved"):
            return
        with self.session() as s:
            self._reread_notes(segment, s)
        row = self.note_rows.get(note_id)
        if row is not None and row.version != version:
            row.open_editor(text)

    def delete_note(self, note_id: str, version: int, segment: str) -> None:
        def delete(s: ReviewSession) -> None:
            meeting.delete_note(s.con, note_id, version=version, at=s.now())
            self.note_rows.pop(note_id, None)
            self._reread_notes(segment, s)

        self.save(self.messages[segment], delete, "note deleted")

    def draft_button(self, note_id: str) -> widgets.Button:
        """One click turns an action-item note into an action draft (never two drafts of one note)."""
        button = widgets.Button(layout=widgets.Layout(width="130px"))
        button.add_class("pir-note-to-draft")
        self._show_drafted(button, note_id in self.drafted)
        button.on_click(lambda _: self.draft_from_note(note_id, button))
        return button

    @staticmethod
    def _show_drafted(button: widgets.Button, drafted: bool) -> None:
        button.description = "Draft made ✓" if drafted else "Make a draft"
        button.tooltip = (
            "this note is an action draft: finish it in step 5, Actions"
            if drafted
            else "make an action draft of this note (finish it in step 5, Actions)"
        )
        button.disabled = drafted

    def draft_from_note(self, note_id: str, button: widgets.Button) -> None:
        def make(s: ReviewSession) -> None:
            actions.draft_from_note(s, note_id, by=self.host.user)
            self.host.changed(
                "actions", s
            )  # the Actions step's progress; the Actions view reloads (depends on meeting)

        if self.save(
            self.messages["actions"],
            make,
            "draft made: finish its owner, due date, metric and verification in step 5, Actions",
        ):
            self.drafted.add(note_id)
            self._show_drafted(button, True)


class NoteRow:
    """One note as its segment lists it: the text (tag or flag first) with Edit and Delete (and, for an action
    item, Make a draft); Edit opens the text in place, kept beside the note as stored, with Save and Cancel.
    The editor's widgets are made on the first Edit: most notes are never edited, and a segment lists many."""

    def __init__(self, step: MeetingStep, segment: str, note: Mapping[Hashable, Any]) -> None:
        self.step, self.segment = step, segment
        self.note_id, self.version = str(note["note_id"]), int(note["version"])
        marks = " ".join(
            f"[{meeting.NOTE_TAGS.get(v) or meeting.NOTE_FLAGS.get(v)}]"
            for v in (note["tag"], note["flag"])
            if isinstance(v, str) and v
        )
        self.text = str(note["text"])
        self.shown = widgets.HTML(f"<span class='pir-note'>{html.text(marks)} {html.text(self.text)}</span>")
        edit = widgets.Button(description="Edit", layout=widgets.Layout(width="70px"))
        edit.add_class("pir-edit-note")
        edit.on_click(lambda _: self.open_editor(self.text))
        delete = ConfirmButton(partial(step.delete_note, self.note_id, self.version, segment), css="pir-delete-note")
        buttons = [edit, delete.widget]
        if segment == "actions":
            buttons.insert(0, step.draft_button(self.note_id))
        self.viewing = [self.shown, *buttons]
        self.editor: widgets.Textarea | None = None
        self.editing: list[widgets.Widget] = []
        self.widget = widgets.HBox(self.viewing)

    def open_editor(self, text: str) -> None:
        if self.editor is None:
            self.editor = widgets.Textarea(rows=2, layout=widgets.Layout(width="60%"))
            self.editor.add_class("pir-note-editor")
            save = widgets.Button(description="Save note", button_style="primary")
            save.add_class("pir-save-note")
            save.on_click(lambda _: self.save())
            cancel = widgets.Button(description="Cancel")
            cancel.on_click(lambda _: self.close_editor())
            self.editing = [self.shown, self.editor, save, cancel]
        self.editor.value = text
        self.widget.children = self.editing

    def save(self) -> None:
        assert self.editor is not None  # Save is shown only with the editor
        self.step.edit_note(self.note_id, self.version, self.segment, self.editor.value)

    def close_editor(self) -> None:
        self.widget.children = self.viewing


class MeetingRecord:
    """Who attended and held the meeting's roles (``people``), and the root cause with its contributing
    factors (``cause``); every field saves when it changes (``pirlib.review.meeting``)."""

    def __init__(self, step: MeetingStep) -> None:
        self.step = step
        self.facilitator = widgets.HTML()
        self.facilitator.add_class("pir-meeting-facilitator")
        self.roles = {
            role: widgets.Combobox(
                description=meeting.MEETING_ROLES[role],
                ensure_option=False,
                continuous_update=False,
                placeholder=placeholder,
                style={"description_width": "130px"},
            )
            for role, placeholder in (("incident_commander", "walks through the recap"), ("scribe", "takes the notes"))
        }
        for role, field in self.roles.items():
            field.add_class(f"pir-role-{role}")
            step.on_edit(field, partial(self._role_changed, role))
        self.attended = widgets.VBox()
        self.attended.add_class("pir-attendance")
        self.boxes: dict[str, widgets.Checkbox] = {}
        self.newcomer = widgets.Text(placeholder="someone who came without an invitation")
        self.newcomer.add_class("pir-attendee-name")
        self.add = widgets.Button(description="Add attendee")
        self.add.add_class("pir-add-attendee")
        self.add.on_click(lambda _: self.add_attendee())
        self.people_message = Message("pir-attendance-message")
        self.people = widgets.VBox()
        self.people.add_class("pir-meeting-record")
        self.root_cause = widgets.Textarea(
            placeholder="the root cause the discussion agreed on",
            rows=2,
            continuous_update=False,
            layout=widgets.Layout(width="80%"),
        )
        self.root_cause.add_class("pir-root-cause")
        self.factors = widgets.Textarea(
            placeholder="contributing factors, one per line",
            rows=3,
            continuous_update=False,
            layout=widgets.Layout(width="80%"),
        )
        self.factors.add_class("pir-contributing-factors")
        for field in (self.root_cause, self.factors):
            step.on_edit(field, lambda _: self._cause_changed())
        self.cause_message = Message("pir-root-cause-message")
        self.cause = widgets.VBox(
            [
                widgets.HTML("<b>Root cause and contributing factors</b> (shown in the postmortem)"),
                self.root_cause,
                self.factors,
                self.cause_message.widget,
            ]
        )

    def load(self, session: ReviewSession) -> None:
        """Fill every field from the database (in the step's connection)."""
        record = meeting.record(session)
        people = prepare.invite_list(session)
        people = people[people["origin"] != "runbook role"]
        with self.step.loading():
            names = list(people["name"])
            for role, field in self.roles.items():
                field.options = names
                field.value = record[role] or ""
            self.root_cause.value = record["root_cause"] or ""
            self.factors.value = record["contributing_factors"] or ""
        self.facilitator.value = (
            f"<p>Facilitator: <b>{html.text(record['facilitator'] or 'not assigned')}</b> "
            "(assigned in step 2, Prepare)</p>"
        )
        self.boxes = {}
        for person in people.to_dict("records"):
            attended = not is_missing(person["attended"]) and bool(person["attended"])
            if not person["invited"] and not attended:
                continue
            label = f"{person['name']} — {person['role']}" + ("" if person["invited"] else " (not invited)")
            box = widgets.Checkbox(value=attended, description=label, indent=False, layout=widgets.Layout(width="45%"))
            self.step.on_edit(box, partial(self._attended, person["name"]))
            self.boxes[person["name"]] = box
        self.attended.children = list(self.boxes.values()) or [widgets.HTML("<p>Nobody is on the invite list yet.</p>")]
        self.people.children = [
            widgets.HTML("<b>Roles</b>"),
            self.facilitator,
            *self.roles.values(),
            widgets.HTML("<b>Who attended</b> (tick as people join; the postmortem lists them)"),
            self.attended,
            widgets.HBox([self.newcomer, self.add]),
            self.people_message.widget,
        ]

    def _role_changed(self, role: str, name: str) -> None:
        label = meeting.MEETING_ROLES[role].lower()
        self.step.save(
            self.people_message,
            lambda s: meeting.set_role(s, role, name),
            f"{label}: {name.strip()}" if name.strip() else f"{label} cleared",
        )

    def _attended(self, name: str, attended: bool) -> None:
        self.step.save(
            self.people_message,
            lambda s: meeting.set_attended(s, name, attended),
            f"{name} {'attended' if attended else 'did not attend'}",
        )

    def add_attendee(self) -> None:
        name = self.newcomer.value

        def add(s: ReviewSession) -> None:
            meeting.set_attended(s, name)
            self.load(s)

        if self.step.save(self.people_message, add, f"{' '.join(name.split())} attended"):
            self.newcomer.value = ""

    def _cause_changed(self) -> None:
        self.step.save(
            self.cause_message,
            lambda s: meeting.save_root_cause(s, self.root_cause.value, self.factors.value),
            "root cause saved",
        )

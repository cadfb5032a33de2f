"""The facilitator's guided review: a six-step wizard over one incident (runbook §1-§3).

``FacilitatorWizard(settings).widget`` is the whole app. Steps: Pick, Prepare, Timeline, Meeting, Actions,
Wrap-up (one module each beside this one, named like their logic in ``pirlib.review``); the buttons at the
top show where the facilitator is and what is done, and any step can be revisited. Every step opens a
connection for one refresh or one button press and closes it, and every panel is rebuilt from the database
when it is shown, so closing the tab and reopening resumes where the facilitator was (the step is stored too).
"""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display

from pirlib import db
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.review import actions, meeting
from pirlib.review.progress import STEPS, last_progress, save_progress
from pirlib.review.session import incident_facts, open_review
from pirlib.review.wrap_up import quality_check
from pirlib.ui.facilitator.actions import ActionsStep
from pirlib.ui.facilitator.meeting import MeetingStep
from pirlib.ui.facilitator.pick import PickStep
from pirlib.ui.facilitator.prepare import PrepareStep
from pirlib.ui.facilitator.timeline import TimelineStep
from pirlib.ui.facilitator.widgets import Message, Step
from pirlib.ui.facilitator.wrap_up import WrapUpStep
from pirlib.ui import html

__all__ = ["FacilitatorWizard", "guide"]


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
        self.steps: dict[str, Step] = {
            "pick": PickStep(self), "prepare": PrepareStep(self), "timeline": TimelineStep(self),
            "meeting": MeetingStep(self), "actions": ActionsStep(self), "wrap_up": WrapUpStep(self),
        }  # fmt: skip
        self.step_buttons: dict[str, widgets.Button] = {}
        for n, (key, label) in enumerate(STEPS.items(), 1):
            button = widgets.Button(description=f"{n} {label}", layout=widgets.Layout(width="130px"))
            button.add_class(f"pir-step-{key}")
            button.on_click(lambda _, key=key: self.go(key))
            self.step_buttons[key] = button
        self.position = widgets.HTML()
        self.header = widgets.HTML()
        self.header.add_class("pir-header")
        self.message = Message("pir-wizard-message")
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
            with db.connect(self.settings) as con:
                resume = last_progress(con)
            if resume:
                self.open_incident(resume[0], resume[1], show=False)
        self.go(self.step)

    def _ipython_display_(self) -> None:
        display(self.widget)

    def open_incident(self, incident: str, step: str = "pick", *, show: bool = True) -> None:
        with open_review(self.settings, incident) as s:
            facts = incident_facts(s)
            save_progress(s, step)
        self.incident_id, self.incident_key = s.incident_id, s.key
        self.header.value = (f"<h2 class='pir-incident'>{html.text(facts['key'])} · {html.text(facts.get('severity'))} · "
                             f"{html.text(facts.get('summary'))}</h2>")  # fmt: skip
        self.step = step
        if show:
            self.refresh_progress()

    def go(self, step: str) -> None:
        """Show a step (rebuilt from the database) and remember it."""
        blocked = step != "pick" and self.incident_id is None
        step = "pick" if blocked else step
        self.step = step
        if self.incident_id is not None:
            with open_review(self.settings, self.incident_id) as s:
                save_progress(s, step)
        if not self.message.run(self.steps[step].refresh):
            return
        if blocked:
            self.message.error("No incident picked yet; choose one in step 1 (Pick) first")
        self.body.children = [self.steps[step].widget]
        self.refresh_progress()

    def _move(self, offset: int) -> None:
        keys = list(STEPS)
        index = min(max(keys.index(self.step) + offset, 0), len(keys) - 1)
        self.go(keys[index])

    def done_steps(self) -> set[str]:
        """The steps whose work is complete, for the progress indicator."""
        if self.incident_id is None:
            return set()
        done = {"pick"}
        with open_review(self.settings, self.incident_id) as s:
            facts = incident_facts(s)
            written = set(meeting.notes(s)["segment"])
            drafts = actions.list_drafts(s)
            complete = not quality_check(s)
        if all(facts.get(c) is not None for c in ("facilitator_assigned_at", "artifacts_collected_at",
                                                   "invites_sent_at", "agenda_circulated_at")):  # fmt: skip
            done.add("prepare")
        if facts.get("event_count"):
            done.add("timeline")
        if all(segment.name in written for segment in meeting.SEGMENTS):
            done.add("meeting")
        if not drafts.empty and not any(drafts["problems"].map(bool)):
            done.add("actions")
        if len(done) == 5 and complete:
            done.add("wrap_up")
        return done

    def refresh_progress(self) -> None:
        done = self.done_steps()
        keys = list(STEPS)
        for n, (key, button) in enumerate(self.step_buttons.items(), 1):
            button.description = f"{n} {STEPS[key]}" + (" ✓" if key in done else "")
            button.button_style = "primary" if key == self.step else ("success" if key in done else "")
        self.position.value = (f"<p class='pir-position'>Step {keys.index(self.step) + 1} of {len(keys)}: "
                               f"{html.text(STEPS[self.step])} · {len(done)} of {len(keys)} done</p>")  # fmt: skip


def guide(settings: Settings | None = None, **options: object) -> widgets.Widget:
    """What the guide notebook shows: the wizard of the project the notebook belongs to, or one error line.

    Without ``settings`` the project must be found (``PIR_HOME``, or a pir.toml or data/pir.duckdb at or
    above the kernel's folder): a guide opened from an unrelated folder says so instead of creating an empty
    database there."""
    try:
        return FacilitatorWizard(settings or load_settings(require_project=True), **options).widget  # type: ignore[arg-type]
    except PirError as exc:
        message = widgets.HTML(f'<p class="pir-error" style="color:#b00020">pir: error: {html.text(str(exc))}</p>')
        message.add_class("pir-guide-error")
        return message

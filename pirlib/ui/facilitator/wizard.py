"""The facilitator's guided review: a six-step wizard over one incident (runbook §1-§3).

``FacilitatorWizard(settings).widget`` is the whole app (``pir guide`` serves it). Steps: Pick, Prepare,
Timeline, Meeting, Actions, Wrap-up (one module each beside this one, named like their logic in
``pirlib.review``); the buttons at the top show where the facilitator is and what is done
(``pirlib.review.progress`` decides), and any step can be revisited. The wizard is the steps' ``Host``.

Fast enough for a live meeting: a step's view is loaded from the database when it is first opened for an
incident and kept; opening it again shows the kept view, unless a step it depends on saved something since
(``Step.depends_on``). A step's change decides the progress of that step only (``progress.update_done``),
in the connection the change used. Every unit of work opens one connection and closes it, so nobody holds
the database while a person thinks, and reopening the page resumes at the stored step.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from pirlib import configure, db
from pirlib.config import Settings, load_settings
from pirlib.errors import PirError
from pirlib.review import progress
from pirlib.review.progress import STEPS
from pirlib.review.session import ReviewSession, incident_facts, open_review
from pirlib.serve import GUIDE_PAGE
from pirlib.ui import html
from pirlib.ui.facilitator.actions import ActionsStep
from pirlib.ui.facilitator.meeting import MeetingStep
from pirlib.ui.facilitator.pick import PickStep
from pirlib.ui.facilitator.prepare import PrepareStep
from pirlib.ui.facilitator.timeline import TimelineStep
from pirlib.ui.facilitator.widgets import Message, Step, when
from pirlib.ui.facilitator.wrap_up import WrapUpStep

__all__ = ["FacilitatorWizard", "guide"]


class FacilitatorWizard:
    """The guided review; display ``widget``. Resumes the incident and step worked on last."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        incident: str | None = None,
        user: str | None = None,
        render_figures: bool = True,
        page_plotly: bool | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        configure.prepare(self.settings)  # the deadlines, severities and taxonomy as configured now
        self.user = user
        self.render_figures = render_figures
        # `pir guide` tells its kernels that the page draws figures with pir's plotly.js (serve.GUIDE_PAGE)
        self.page_plotly = os.environ.get(GUIDE_PAGE) == "1" if page_plotly is None else page_plotly
        self.incident_id: str | None = None
        self.incident_key: str | None = None
        self.step = "pick"
        self.done: set[str] = set()
        steps: list[Step] = [
            PickStep(self),
            PrepareStep(self),
            TimelineStep(self),
            MeetingStep(self),
            ActionsStep(self),
            WrapUpStep(self),
        ]
        self.steps: dict[str, Step] = {step.name: step for step in steps}
        assert list(self.steps) == list(STEPS), "every step of progress.STEPS has its view"
        self.step_buttons: dict[str, widgets.Button] = {}
        for n, (key, label) in enumerate(STEPS.items(), 1):
            button = widgets.Button(description=f"{n} {label}", layout=widgets.Layout(width="130px"))
            button.add_class(f"pir-step-{key}")
            button.on_click(lambda _, key=key: self.go(key))
            self.step_buttons[key] = button
        self.position = widgets.HTML()
        self.position.add_class("pir-position")
        self.header = widgets.HTML()
        self.header.add_class("pir-header")
        self.message = Message("pir-wizard-message")
        self.back = widgets.Button(description="◀ Back")
        self.back.on_click(lambda _: self._move(-1))
        self.next = widgets.Button(description="Next ▶", button_style="primary")
        self.next.add_class("pir-next")
        self.next.on_click(lambda _: self._move(1))
        # Every step's view is on the page from the start and only the current one is shown: opening a step
        # changes two layouts instead of making the browser build the step's widgets (and figure) again.
        for view in self.steps.values():
            view.widget.layout.display = "none"
        self.body = widgets.VBox([view.widget for view in self.steps.values()])
        self.widget = widgets.VBox(
            [
                widgets.HBox(list(self.step_buttons.values())),
                self.position,
                self.header,
                self.message.widget,
                self.body,
                widgets.HBox([self.back, self.next]),
            ]
        )
        self.widget.add_class("pir-facilitator")
        if incident is not None:
            self.open_incident(incident, "prepare", show=False)
        else:
            with db.connect(self.settings) as con:
                resume = progress.last_progress(con)
            if resume:
                self.open_incident(resume[0], resume[1], show=False)
        self.go(self.step)

    def _ipython_display_(self) -> None:
        display(self.widget)

    def open_incident(self, incident: str, step: str = "pick", *, show: bool = True) -> None:
        """Work on ``incident`` from now on (its header, its progress; every step's view is loaded afresh)."""
        with open_review(self.settings, incident) as s:
            facts = incident_facts(s)
            progress.save_progress(s, step)
            self.done = progress.done_steps(s)
        self.incident_id, self.incident_key = s.incident_id, s.key
        self._show_header(facts)
        for view in self.steps.values():
            view.stale = view.name != "pick"  # Pick lists every incident: it stands
        self.step = step
        if show:
            self._show_progress()

    def go(self, step: str) -> None:
        """Show a step and remember it: its kept view, or loaded from the database when stale, in one connection."""
        blocked = step != "pick" and self.incident_id is None
        step = "pick" if blocked else step
        self.steps[self.step].widget.layout.display = "none"
        self.step = step
        view = self.steps[step]
        view.widget.layout.display = None  # shown before it loads: a figure is drawn at the page's width

        def show() -> None:
            if self.incident_id is None:  # only Pick, which needs no incident
                if view.stale:
                    view.refresh()
                return
            with open_review(self.settings, self.incident_id) as s:
                progress.save_progress(s, step)
                if view.stale:
                    view.load(s)

        if not self.message.run(show):
            return
        view.stale = False
        if blocked:
            self.message.error("No incident picked yet; choose one in step 1 (Pick) first")
        elif self.message.widget.value:
            self.message.clear()
        self._show_progress()

    def changed(self, step: str, session: ReviewSession) -> None:
        """A step saved something: decide its progress again, mark the views that show it stale, redraw the
        progress buttons."""
        self.done = progress.update_done(session, self.done, step)
        if step == "wrap_up":  # publishing shows in the header
            self._show_header(incident_facts(session))
        for view in self.steps.values():
            if step in view.depends_on:
                view.stale = True
        self._show_progress()

    def _show_header(self, facts: dict[str, Any]) -> None:
        published = f" · published {when(facts['published_at'])}" if facts.get("published_at") is not None else ""
        self.header.value = (
            f"<h2 class='pir-incident'>{html.text(facts['key'])} · {html.text(facts.get('severity'))} · "
            f"{html.text(facts.get('summary'))}{html.text(published)}</h2>"
        )

    def _move(self, offset: int) -> None:
        keys = list(STEPS)
        index = min(max(keys.index(self.step) + offset, 0), len(keys) - 1)
        self.go(keys[index])

    def _show_progress(self) -> None:
        keys = list(STEPS)
        for n, (key, button) in enumerate(self.step_buttons.items(), 1):
            button.description = f"{n} {STEPS[key]}" + (" ✓" if key in self.done else "")
            button.button_style = "primary" if key == self.step else ("success" if key in self.done else "")
        self.position.value = (
            f"<p class='pir-position'>Step {keys.index(self.step) + 1} of {len(keys)}: "
            f"{html.text(STEPS[self.step])} · {len(self.done)} of {len(keys)} done</p>"
        )


def guide(settings: Settings | None = None, **options: object) -> widgets.Widget:
    """What the guide notebook shows: the wizard of the project the notebook belongs to, or one error line.

    Without ``settings`` the project must be found (``PIR_HOME``, or a pir.toml or data/pir.duckdb at or
    above the kernel's folder): a guide opened from an unrelated folder says so instead of creating an empty
    database there."""
    try:
        return FacilitatorWizard(settings or load_settings(require_project=True), **options).widget  # type: ignore[arg-type]
    except PirError as exc:
        message = widgets.HTML(html.notice(f"pir: error: {exc}", "error"))
        message.add_class("pir-guide-error")
        return message

"""What the guide's steps share: clock badges, headings, the message line, the step base.

Text from Jira and from people is shown as text: HTML widgets get values escaped by ``pirlib.ui.html``
only, and widget descriptions and dropdown labels are plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from pirlib.errors import PirError
from pirlib.review.clock import StageClock
from pirlib.review.session import ReviewSession, open_review
from pirlib.values import utc_minute
from pirlib.ui import html

if TYPE_CHECKING:  # the wizard imports every step, and every step takes the wizard
    from pirlib.ui.facilitator.wizard import FacilitatorWizard

_STATE_STYLE = {
    "done": ("#1b7f3b", "done"), "on_time": ("#555", "on time"), "due_soon": ("#b36b00", "due soon"),
    "late": ("#b00020", "late"),
}  # fmt: skip
WIDE = widgets.Layout(width="95%")


when = utc_minute  # the steps' name for it


def badge(clock: StageClock) -> str:
    color, word = _STATE_STYLE[clock.state]
    if clock.state == "done" and clock.done_late:
        color, word = _STATE_STYLE["late"][0], "done late"
    return (f'<span class="pir-clock pir-clock-{clock.state}" style="color:{color}" '
            f'title="{html.text(clock.label)}: due {when(clock.due_at)}">{html.text(clock.label)}: <b>{html.text(word)}</b> '
            f"({html.text(clock.describe())})</span>")  # fmt: skip


def clock_text(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def heading(text: str, level: int = 3) -> widgets.HTML:
    return widgets.HTML(f"<h{level}>{html.text(text)}</h{level}>")


class Message:
    """One line under a control: what went wrong and how to fix it, or what was saved."""

    def __init__(self, css: str) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class(css)

    def error(self, text: str) -> None:
        self.widget.value = f'<span class="pir-error" style="color:#b00020">{html.text(text)}</span>'

    def ok(self, text: str) -> None:
        self.widget.value = f'<span class="pir-ok" style="color:#1b7f3b">{html.text(text)}</span>'

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


class Step:
    """One step of the wizard: ``refresh`` rebuilds ``widget`` from the database."""

    def __init__(self, wizard: FacilitatorWizard) -> None:
        self.wizard = wizard
        self.settings = wizard.settings
        self.widget = widgets.VBox()

    @property
    def incident(self) -> str:
        assert self.wizard.incident_id is not None
        return self.wizard.incident_id

    @contextmanager
    def session(self) -> Iterator[ReviewSession]:
        """The database for one unit of work on the wizard's incident (a refresh or one button press)."""
        with open_review(self.settings, self.incident) as session:
            yield session

    def call(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``action(session, *args, **kwargs)`` in one connection, closed again before the step redraws."""
        with self.session() as session:
            return action(session, *args, **kwargs)

    def refresh(self) -> None:  # rebuild from the database
        raise NotImplementedError

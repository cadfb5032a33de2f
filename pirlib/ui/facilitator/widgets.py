"""What the guide's steps share: the host interface, clock badges, headings, the message line, the step base.

A step talks to the guide around it (the wizard) only through ``Host``: the settings, the person, the
incident, opening an incident and saying that its own work changed. No step imports the wizard, so the steps
and the wizard form no import cycle.

Text from Jira and from people is shown as text: HTML widgets get values escaped by ``pirlib.ui.html``
only, and widget descriptions and dropdown labels are plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import ipywidgets as widgets

from pirlib.config import Settings
from pirlib.errors import PirError
from pirlib.review.clock import StageClock
from pirlib.review.session import ReviewSession, open_review
from pirlib.ui import html
from pirlib.values import utc_minute

T = TypeVar("T")

_STATE_STYLE = {
    "done": ("ok", "done"),
    "on_time": ("muted", "on time"),
    "due_soon": ("warning", "due soon"),
    "late": ("error", "late"),
}
WIDE = widgets.Layout(width="95%")


class Host(Protocol):
    """What a step may ask of the guide it is part of (``FacilitatorWizard`` is one)."""

    settings: Settings
    user: str | None
    render_figures: bool
    page_plotly: bool  # the page draws figures.html_bundle divs (`pir guide`), else plotly's renderer does
    incident_id: str | None
    incident_key: str | None

    def open_incident(self, incident: str, step: str = "pick", *, show: bool = True) -> None:
        """Make ``incident`` the one the guide works on."""

    def changed(self, step: str, session: ReviewSession) -> None:
        """Step ``step`` saved something: decide its progress again in ``session``, mark views that show it stale."""


when = utc_minute  # the steps' name for it


def badge(clock: StageClock) -> str:
    tone, word = _STATE_STYLE[clock.state]
    if clock.state == "done" and clock.done_late:
        tone, word = "error", "done late"
    return (
        f'<span class="pir-clock pir-clock-{clock.state}" style="color:{html.COLORS[tone]}" '
        f'title="{html.text(clock.label)}: due {when(clock.due_at)}">{html.text(clock.label)}: <b>{html.text(word)}</b> '
        f"({html.text(clock.describe())})</span>"
    )


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
        self.widget.value = html.notice(text, "error")

    def ok(self, text: str) -> None:
        self.widget.value = html.notice(text, "ok")

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


class ConfirmButton:
    """A delete that asks first: the first click turns the button into "Really delete?" (red), the second
    does it. One widget, as a list may hold many of them; the question goes when the list is redrawn."""

    def __init__(self, action: Callable[[], None], description: str = "Delete", css: str | None = None) -> None:
        self.action, self.description = action, description
        self.widget = widgets.Button(description=description, layout=widgets.Layout(width="120px"))
        if css:
            self.widget.add_class(css)
        self.widget.on_click(lambda _: self._clicked())

    def _clicked(self) -> None:
        if self.widget.button_style != "danger":
            self.widget.description, self.widget.button_style = f"Really {self.description.lower()}?", "danger"
            return
        self.widget.description, self.widget.button_style = self.description, ""
        self.action()


class Step:
    """One step of the guide. ``widget`` is its view; ``load(session)`` fills it from the database. The view
    is loaded when the step is first shown for an incident and kept: the guide loads it again only when it is
    ``stale`` (the incident changed, or a step named in ``depends_on`` saved something it shows)."""

    name = ""
    depends_on: frozenset[str] = frozenset()

    def __init__(self, host: Host) -> None:
        self.host = host
        self.settings = host.settings
        self.widget = widgets.VBox()
        self.stale = True
        self._loading = False

    @property
    def incident(self) -> str:
        assert self.host.incident_id is not None
        return self.host.incident_id

    @contextmanager
    def session(self) -> Iterator[ReviewSession]:
        """The database for one unit of work on the guide's incident (a load or one button press)."""
        with open_review(self.settings, self.incident) as session:
            yield session

    def call(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``action(session, *args, **kwargs)`` in one connection, closed again before the step redraws."""
        with self.session() as session:
            return action(session, *args, **kwargs)

    def refresh(self) -> None:
        """Load the view from the database in a connection of its own."""
        with self.session() as session:
            self.load(session)

    def load(self, session: ReviewSession) -> None:  # fill the view from the database
        raise NotImplementedError

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Values set inside are the database's, not a person's edits: ``on_edit`` handlers do not run."""
        self._loading, before = True, self._loading
        try:
            yield
        finally:
            self._loading = before

    def on_edit(self, widget: widgets.Widget, handler: Callable[[Any], None], name: str = "value") -> None:
        """``handler(new value)`` when a person changes ``widget`` (not while the step is ``loading``)."""
        widget.observe(lambda change: None if self._loading else handler(change["new"]), name)

    def save(self, message: Message, work: Callable[[ReviewSession], Any], done: str | None = None) -> bool:
        """One unit of work: ``work(session)`` and this step's progress, in one connection; ``message`` shows
        the PirError's one line, or ``done``. True when it succeeded."""

        def run() -> None:
            with self.session() as session:
                work(session)
                self.host.changed(self.name, session)

        return message.run(run, done)

"""Step 5, Actions (runbook §3): SMART action drafts, saved as they are typed, with the problems that remain,
and the push to Jira (the logic is ``pirlib.review.actions`` and ``pirlib.jira_sync.push``)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import ipywidgets as widgets

from pirlib.jira_sync import push
from pirlib.review import actions, prepare
from pirlib.review.actions import CheckedDraft, Draft
from pirlib.review.session import ReviewSession
from pirlib.ui import html
from pirlib.ui.facilitator.widgets import WIDE, ConfirmButton, Host, Message, Step, heading


def smart_help(horizon_days: int, today: dt.date) -> str:
    """What SMART asks of a draft here, in the words of ``pirlib.review.actions`` (the rule push uses too)."""
    return (
        "<div class='pir-smart-help'><p>An action is pushed to Jira only when it is SMART:</p><ul>"
        "<li><b>Owner</b>: one person on the invite list, or a Jira user as Jira shows the name.</li>"
        f"<li><b>Due date</b>: after today and within {horizon_days} days.</li>"
        "<li><b>Success metric</b>: a measurable target, a number with a unit or a threshold with a comparison, "
        f"e.g. <i>{html.text(actions.GOOD_METRIC)}</i>.</li>"
        "<li><b>Verification</b>: how and when the metric is checked, "
        f"e.g. <i>{html.text(actions.good_verification(today))}</i>.</li>"
        "<li><b>Type</b>: prevent, detect, mitigate or process.</li></ul>"
        "<p>Drafts are saved as you type (leave a field to save it) and stay drafts until you push them with the "
        "button below; a draft that fails keeps what you typed and is pushed again next time. Action-item notes "
        "from the meeting become drafts with their <i>Make a draft</i> button.</p></div>"
    )


class ActionsStep(Step):
    """Runbook §3: SMART action drafts, saved as they are typed, with the problems that remain."""

    name = "actions"
    depends_on = frozenset({"prepare", "meeting"})  # owners offered are invitees; drafts come from meeting notes

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        text = {"continuous_update": False, "layout": WIDE}
        self.fields: dict[str, widgets.Widget] = {
            "summary": widgets.Text(description="Summary", placeholder="what will be done", **text),
            "owner": widgets.Combobox(
                description="Owner", placeholder="one accountable person", ensure_option=False, continuous_update=False
            ),
            "team": widgets.Combobox(
                description="Team",
                placeholder="the team that owns it (the boards group by team)",
                ensure_option=False,
                continuous_update=False,
            ),
            "due_date": widgets.DatePicker(description="Due date"),
            "priority": widgets.Dropdown(
                description="Priority", options=[("—", "")] + [(p, p) for p in actions.PRIORITIES]
            ),
            "action_type": widgets.Dropdown(
                description="Type", options=[("— choose —", "")] + [(t, t) for t in actions.ACTION_TYPES]
            ),
            "success_metric": widgets.Textarea(
                description="Success metric", placeholder=f"e.g. {actions.GOOD_METRIC}", rows=2, **text
            ),
            "verification_method": widgets.Textarea(
                description="Verification",
                placeholder="how and when, e.g. game day on <date>, checked by the SRE on call",
                rows=2,
                **text,
            ),
        }
        for name, field in self.fields.items():
            field.add_class(f"pir-action-{name}")
            field.style = {"description_width": "110px"}
            self.on_edit(field, partial(self._edited, name))
        self.new = widgets.Button(description="New draft", button_style="primary")
        self.new.add_class("pir-new-draft")
        self.new.on_click(lambda _: self.new_draft())
        self.problems = widgets.HTML()
        self.problems.add_class("pir-action-problems")
        self.message = Message("pir-action-message")
        self.listing = widgets.VBox()
        self.push_button = widgets.Button(
            description="Push to Jira",
            button_style="warning",
            tooltip="create a Jira issue for each SMART draft (safe to press again)",
        )
        self.push_button.add_class("pir-push")
        self.push_button.on_click(lambda _: self.push())
        self.push_result = widgets.HTML()
        self.push_result.add_class("pir-push-result")
        self.draft_id: str | None = None
        self.draft_version = 0  # the version of the draft the form shows: an edit lands only on that version

    def load(self, s: ReviewSession) -> None:
        invitees = prepare.invite_list(s)
        draft = actions.get_draft(s.con, self.draft_id) if self.draft_id else None
        if draft is not None and draft.incident_id != s.incident_id:  # another incident was picked since
            draft = None
        drafts = actions.list_drafts(s)
        teams = actions.known_teams(s.con)
        self.fields["owner"].options = [n for n in invitees["name"] if n not in prepare.RUNBOOK_ROLES]
        self.fields["team"].options = teams
        if draft is None:
            self.draft_id = None
        self._load(draft)
        self._show(drafts)
        self.widget.children = [
            heading("5. Actions (runbook §3)"),
            widgets.HTML(smart_help(self.settings.action_horizon_days, self.settings.current_date())),
            self.new,
            *self.fields.values(),
            self.problems,
            self.message.widget,
            heading("Drafts", 4),
            self.listing,
            self.push_button,
            self.push_result,
        ]

    def push(self) -> None:
        """Push this incident's drafts; show each draft's state, key or Jira's error as text."""
        outcome: list[push.PushResult] = []
        self.push_button.disabled = True
        try:  # push.push is an edge of its own: it holds no connection while it waits on Jira
            ok = self.message.run(lambda: outcome.append(push.push(self.settings, self.incident)))
        finally:
            self.push_button.disabled = False
        if ok and outcome:
            result = outcome[0]
            items = "".join(
                f"<li class='pir-push-{html.text(o.state)}'>{html.text(o.line())}</li>" for o in result.outcomes
            )
            self.push_result.value = f"<div><b>{html.text(result.summary())}</b><ul>{items}</ul></div>"
        with self.session() as s:
            self._show(actions.list_drafts(s))
            self.host.changed(self.name, s)

    def _load(self, draft: Draft | None) -> None:
        self.draft_version = draft.version if draft else 0
        with self.loading():
            for name, field in self.fields.items():
                value = getattr(draft, name) if draft else None
                if isinstance(field, widgets.DatePicker):
                    field.value = value
                else:
                    field.value = value or ""

    def new_draft(self) -> None:
        self.draft_id = None
        self._load(None)
        self.message.clear()
        self._show()

    def edit(self, draft_id: str) -> None:
        self.draft_id = draft_id
        with self.session() as s:
            self._load(actions.get_draft(s.con, draft_id))
            self._show(actions.list_drafts(s))

    def delete(self, draft_id: str, version: int) -> None:
        """Delete the draft as the list showed it (a draft changed since is not deleted: the message says by whom)."""

        def delete(s: ReviewSession) -> None:
            actions.delete_draft(s.con, draft_id, version=version)
            if draft_id == self.draft_id:
                self.draft_id = None
                self._load(None)
            self._show(actions.list_drafts(s))

        self.save(self.message, delete, "draft deleted")

    def _edited(self, name: str, value: Any) -> None:
        def save(s: ReviewSession) -> None:
            if self.draft_id is None:
                values = {n: f.value for n, f in self.fields.items()}
                self.draft_id = actions.create_draft(s, by=self.host.user, **values)
                self.draft_version = 1
            else:  # someone else's newer save makes this a message; what was typed stays in the form
                self.draft_version = actions.update_draft(
                    s.con, self.draft_id, version=self.draft_version, by=self.host.user, **{name: value}
                )
            self._show(actions.list_drafts(s))

        self.save(self.message, save, "draft saved")

    def _show(self, drafts: list[CheckedDraft] | None = None) -> None:
        if drafts is None:
            drafts = self.call(actions.list_drafts)
        current = next((checked for checked in drafts if checked.draft.draft_id == self.draft_id), None)
        if current is None:
            self.problems.value = "<p>New draft: start typing; it is saved when you leave a field.</p>"
        else:
            problems = current.problems
            self.problems.value = (
                html.bullets("Not SMART yet:", problems, "error", "pir-problems")
                if problems
                else html.colored("✓ SMART: this draft is complete.", "ok", "div", "pir-smart-ok")
            )
        rows = []
        for checked in drafts:
            draft = checked.draft
            status = "✓ SMART" if checked.smart else f"✗ {len(checked.problems)} problem(s)"
            due = draft.due_date.isoformat() if draft.due_date else "no due date"
            owner = (draft.owner or "no owner") + (f" ({draft.team})" if draft.team else "")
            marker = "▶ " if draft.draft_id == self.draft_id else ""
            pushed = f" {draft.pushed_key}" if draft.pushed_key else ""
            error = f" — {draft.error}" if draft.error else ""
            label = widgets.HTML(
                f"<span class='pir-draft'>{marker}{html.text(draft.summary or '(no summary)')} — "
                f"{html.text(owner)}, {html.text(due)}, {html.text(draft.state)}{html.text(pushed)}: {html.text(status)}"
                f"{html.text(error)}</span>",
                layout=widgets.Layout(width="70%"),
            )
            edit = widgets.Button(description="Edit", layout=widgets.Layout(width="70px"))
            edit.on_click(lambda _, d=draft.draft_id: self.edit(d))
            delete = ConfirmButton(partial(self.delete, draft.draft_id, draft.version), css="pir-delete-draft")
            rows.append(widgets.HBox([label, edit, delete.widget]))
        self.listing.children = rows or [widgets.HTML("<p>No drafts yet.</p>")]

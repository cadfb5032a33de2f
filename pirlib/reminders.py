"""``pir remind``: nudge action owners before a due date and while an action is overdue (runbook §3).

Every open action (not done in Jira, not deleted) with a due date gets

- ``due_soon`` when it is due in exactly ``reminder_lead_days`` days (default 2), once per due date;
- ``overdue`` once a day while it is past due, at most ``overdue_reminder_cap`` times per due date.

The incident being closed does not stop them: an action outlives its incident. Idempotency lives in the
``reminders`` table, keyed (action_id, due_date, kind, sent_on): a ``sent`` row means done, so running twice
sends nothing new, and a due date moved in Jira is a new key and earns a new reminder. Rows are claimed
(``sending``) before anything is sent, so an overlapping run (cron plus a manual one) skips them; a claim
older than ``_STALE`` (a run that died mid-send) is retried, preferring a rare duplicate to a lost
reminder. A send that fails after bounded retries with backoff is recorded ``failed`` with the reason and
retried by the next run (a ``due_soon`` one until the due date). After ``FAILURES_BEFORE_STOP``
failures in a row the channel is taken to be down and the run stops sending: the rest are recorded
``failed`` ("not tried"), stay due and go out on the next run, so a Slack or SMTP outage costs a few
backoffs, not one per reminder (80 reminders against a dead webhook: about 7 minutes before).

``--dry-run`` needs no channel: it lists what would go out (it is how to try reminders before setting one up).

Channels: the Slack incoming webhook (``PIR_SLACK_WEBHOOK``) when set, else e-mail over SMTP
(``PIR_SMTP_HOST``), both sent through ``pirlib.delivery``. The webhook URL and the SMTP password are
credentials: they never appear in a log line, an error, the database or a message (a failure's text passes
``redact`` before it is recorded).

Owner mention: the owner's Jira display name as ``@Name`` text; pir has no Jira -> Slack user mapping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pandas as pd

from pirlib import db, delivery
from pirlib.config import Settings
from pirlib.errors import ConfigError
from pirlib.redact import redact
from pirlib.values import as_utc, clean_text

__all__ = ["Reminder", "RemindResult", "due_reminders", "email_message", "remind", "slack_payload"]

_STALE = dt.timedelta(minutes=10)
# Consecutive failed reminders after which a run stops using the channel (each failure already spent its
# bounded retries, about 5-10 s): enough to tell an outage from one refused message.
FAILURES_BEFORE_STOP = 3
NO_CHANNEL = "no channel set"


@dataclass(frozen=True)
class Reminder:
    action_id: str
    key: str
    summary: str
    incident_key: str | None
    incident_summary: str | None
    owner: str | None
    owner_email: str | None
    due_date: dt.date
    kind: str  # due_soon, overdue
    url: str | None
    days: int  # days until due (due_soon) or past due (overdue)

    def describe(self) -> str:
        when = f"due in {self.days} day(s)" if self.kind == "due_soon" else f"{self.days} day(s) overdue"
        return f"{self.key} {self.summary!r} ({self.owner or 'no owner'}): {when}, due {self.due_date.isoformat()}"


@dataclass
class RemindResult:
    sent: list[Reminder] = field(default_factory=list)
    failed: list[tuple[Reminder, str]] = field(default_factory=list)
    planned: list[Reminder] = field(default_factory=list)  # dry run
    channel: str = ""
    stopped: str | None = None  # why the run stopped sending before the end

    def lines(self) -> list[str]:
        out = [f"would send ({self.channel}): {r.describe()}" for r in self.planned]
        if self.planned and self.channel == NO_CHANNEL:
            out.append("to send them, set PIR_SLACK_WEBHOOK (Slack incoming webhook) or PIR_SMTP_HOST")
        out += [f"sent ({self.channel}): {r.describe()}" for r in self.sent]
        out += [f"failed ({self.channel}): {r.describe()}: {error}" for r, error in self.failed]
        if self.stopped:
            out.append(self.stopped)
        out.append(
            f"{len(self.planned) or len(self.sent)} reminder(s) {'to send' if self.planned else 'sent'}, "
            f"{len(self.failed)} failed"
        )
        return out


# ------------------------------------------------------------------------------------------ pure parts


def due_reminders(
    open_actions: pd.DataFrame,
    history: pd.DataFrame,
    today: dt.date,
    lead_days: int,
    cap: int,
    now: dt.datetime | None = None,
) -> list[Reminder]:
    """The reminders to send today, given open actions and the ``reminders`` rows of their due dates."""
    now = now or dt.datetime.now(dt.UTC)
    sent: set[tuple[str, dt.date, str]] = set()
    sent_today: set[tuple[str, dt.date, str]] = set()
    overdue_count: dict[tuple[str, dt.date], int] = {}
    unsent_due_soon: set[tuple[str, dt.date]] = set()
    busy: set[tuple[str, dt.date, str]] = set()
    for row in history.to_dict("records"):
        key = (str(row["action_id"]), _date(row["due_date"]), str(row["kind"]))
        if row["status"] == "sent":
            sent.add(key)
            if _date(row["sent_on"]) == today:
                sent_today.add(key)
            if key[2] == "overdue":
                overdue_count[key[:2]] = overdue_count.get(key[:2], 0) + 1
        elif (
            row["status"] == "sending"
            and _date(row["sent_on"]) == today
            and now - (as_utc(row["sent_at"]) or now) < _STALE
        ):  # sent_at is NOT NULL; `or now` only types it
            busy.add(key)
        elif key[2] == "due_soon":
            unsent_due_soon.add(key[:2])
    out = []
    for row in open_actions.to_dict("records"):
        ident, due = str(row["issue_id"]), _date(row["due_date"])
        days = (due - today).days
        kind = None
        if days == lead_days or (0 <= days < lead_days and (ident, due) in unsent_due_soon):
            kind = "due_soon" if (ident, due, "due_soon") not in sent else None
        elif days < 0 and (ident, due, "overdue") not in sent_today and overdue_count.get((ident, due), 0) < cap:
            kind = "overdue"
        if kind is None or (ident, due, kind) in busy:
            continue
        text = {
            name: _optional(row.get(name))
            for name in ("summary", "incident_key", "incident_summary", "owner", "owner_email", "url")
        }
        out.append(
            Reminder(
                ident,
                str(row["key"]),
                text["summary"] or "",
                text["incident_key"],
                text["incident_summary"],
                text["owner"],
                text["owner_email"],
                due,
                kind,
                text["url"],
                abs(days),
            )
        )
    return sorted(out, key=lambda r: (r.due_date, r.key))


def slack_payload(reminder: Reminder) -> dict[str, Any]:
    """Incoming-webhook JSON: ``text`` (notifications, fallback) and ``blocks`` (the message)."""
    r, e = reminder, delivery.slack_escape
    when = (
        f"is due in {r.days} day(s), on {r.due_date.isoformat()}"
        if r.kind == "due_soon"
        else f"is {r.days} day(s) overdue (was due {r.due_date.isoformat()})"
    )
    owner = f"@{e(r.owner)}" if r.owner else "no owner"
    link = f"<{r.url}|{e(r.key)}>" if r.url else e(r.key)
    incident = f"{e(r.incident_key)}: {e(r.incident_summary)}" if r.incident_key else "unknown incident"
    title = "Action due soon" if r.kind == "due_soon" else "Action overdue"
    return {
        "text": f"{title}: {e(r.key)} {e(r.summary)} {when} ({owner})",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{link}* {e(r.summary)}\n{owner} — this action {when}."},
                "fields": [
                    {"type": "mrkdwn", "text": f"*Incident*\n{incident}"},
                    {"type": "mrkdwn", "text": f"*Due date*\n{r.due_date.isoformat()}"},
                    {"type": "mrkdwn", "text": f"*Owner*\n{owner}"},
                ],
            },
        ],
    }


def email_message(reminder: Reminder, sender: str, to: Sequence[str]) -> EmailMessage:
    r = reminder
    message = EmailMessage()
    title = "due soon" if r.kind == "due_soon" else "overdue"
    message["Subject"] = f"[pir] Action {title}: {r.key} {r.summary}"[:200]
    message["From"] = sender
    message["To"] = ", ".join(to)
    message.set_content(
        f"{r.describe()}\n\nIncident: {r.incident_key or '?'} {r.incident_summary or ''}\n"
        f"Owner: {r.owner or 'no owner'}\nDue date: {r.due_date.isoformat()}\nJira: {r.url or r.key}\n"
    )
    return message


def _date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _optional(value: Any) -> str | None:
    return clean_text(value) or None


# ----------------------------------------------------------------------------------------------- I/O


_OPEN_ACTIONS = """
    SELECT a.issue_id, a.key, a.summary, a.owner, a.owner_email, a.due_date, a.url, i.key AS incident_key,
           i.summary AS incident_summary
    FROM actions AS a LEFT JOIN incidents AS i ON i.issue_id = a.incident_id
    WHERE NOT a.deleted AND a.due_date IS NOT NULL AND coalesce(a.status_category, '') <> 'done'
"""


def remind(
    settings: Settings,
    *,
    dry_run: bool = False,
    to: Sequence[str] | None = None,
    backoff: delivery.Backoff | None = None,
) -> RemindResult:
    """Send today's reminders (or, with ``dry_run``, list them and write nothing)."""
    backoff = backoff or delivery.DEFAULT_BACKOFF
    if settings.slack_webhook:
        channel = "slack"
    elif settings.smtp_host:
        channel = "email"
    elif dry_run:
        channel = NO_CHANNEL
    else:
        raise ConfigError(
            "no reminder channel: set PIR_SLACK_WEBHOOK (Slack incoming webhook) or PIR_SMTP_HOST "
            "(`pir remind --dry-run` lists what would go out without one)"
        )
    fallback = list(to or [settings.smtp_from])
    today = settings.current_date()
    result = RemindResult(channel=channel)
    with db.connect(settings, read_only=dry_run) as con, db.transaction(con):
        if not dry_run:  # an overlapping run reads the claims this one makes, not what was there before them
            db.one_at_a_time(con, "pir remind")
        open_actions = con.execute(_OPEN_ACTIONS).df()
        history = con.execute(
            "SELECT r.* FROM reminders AS r JOIN actions AS a ON a.issue_id = r.action_id AND a.due_date = r.due_date"
        ).df()
        todo = due_reminders(open_actions, history, today, settings.reminder_lead_days, settings.overdue_reminder_cap)
        if dry_run:
            result.planned = todo
            return result
        _record(con, todo, today, channel, "sending", {})
    errors: dict[str, str] = {}
    in_a_row = 0
    for n, reminder in enumerate(todo):
        if in_a_row >= FAILURES_BEFORE_STOP:
            rest = todo[n:]
            why = f"not tried: {channel} failed {in_a_row} times in a row; retried on the next run"
            for skipped in rest:
                errors[skipped.action_id + skipped.kind] = why
                result.failed.append((skipped, why))
            result.stopped = (
                f"stopped after {in_a_row} failed reminders in a row ({channel} looks down): "
                f"{len(rest)} not tried, they stay due and go out on the next run"
            )
            break
        try:
            if channel == "slack":
                assert settings.slack_webhook is not None
                delivery.post_webhook(settings.slack_webhook.reveal(), slack_payload(reminder), backoff)
            else:
                # The owner hears it; with no address in Jira (unowned, or hidden on Cloud) the fallback does.
                recipients = [reminder.owner_email] if reminder.owner_email else fallback
                delivery.send_email(settings, email_message(reminder, settings.smtp_from, recipients), backoff)
            result.sent.append(reminder)
            in_a_row = 0
        except delivery.SendError as exc:
            error = redact(exc, settings)
            errors[reminder.action_id + reminder.kind] = error
            result.failed.append((reminder, error))
            in_a_row += 1
    with db.connect(settings) as con:
        _record(con, result.sent, today, channel, "sent", {})
        _record(con, [r for r, _ in result.failed], today, channel, "failed", errors)
    return result


def _record(
    con: Any, reminders: list[Reminder], today: dt.date, channel: str, status: str, errors: dict[str, str]
) -> None:
    if not reminders:
        return
    now = pd.Timestamp.now(tz="UTC")
    frame = pd.DataFrame(
        {
            "action_id": [r.action_id for r in reminders],
            "due_date": [r.due_date for r in reminders],
            "kind": [r.kind for r in reminders],
            "sent_on": [today] * len(reminders),
            "channel": [channel] * len(reminders),
            "status": [status] * len(reminders),
            "error": [errors.get(r.action_id + r.kind) for r in reminders],
            "sent_at": [now] * len(reminders),
        }
    )
    db.upsert_frame(con, "reminders", frame, ["action_id", "due_date", "kind", "sent_on"])

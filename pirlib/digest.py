"""``pir digest``: the weekly leadership digest, to a Slack webhook and/or by e-mail, for cron like ``pir remind``.

It carries the home page's attention list (``pirlib.attention``: the same lines, linking to the same boards
and filters under ``PIR_DASHBOARD_URL``) and last week's numbers: postmortems published on time, actions
added, done and overdue, failure modes that came back. "Last week" is the ISO week before the one the run
falls in (Monday to Sunday, UTC), so the numbers are those of a finished week whichever day cron runs it.

Once per ISO week per channel: the ``digests`` table holds a row per (week of the run, channel). A channel
is claimed (``sending``) before anything is sent, so an overlapping run skips it; a claim older than
``STALE`` (a run that died mid-send) is taken over. A send that fails after ``delivery``'s bounded retries is
recorded ``failed`` with the reason, and the next run that week sends it. ``--dry-run`` prints the digest and
writes nothing; it needs no channel.

Channels: ``PIR_DIGEST_WEBHOOK`` (a Slack incoming webhook; a credential, never logged or stored) and
``PIR_DIGEST_TO`` (addresses, sent through ``PIR_SMTP_HOST`` like reminders). The e-mail is multipart: plain
text, and HTML with inline styles only and no external assets (mail clients drop stylesheets and block
remote images), every text escaped by ``pirlib.ui.html``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pandas as pd

from pirlib import attention, db, metrics
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.delivery import DEFAULT_BACKOFF, Backoff, SendError, post_webhook, send_email, slack_escape
from pirlib.errors import ConfigError
from pirlib.failure_modes import recurrence
from pirlib.redact import redact
from pirlib.ui import html, nav
from pirlib.ui.attention_list import attention_html

__all__ = ["Digest", "DigestResult", "WeekNumbers", "build", "send_digest", "iso_week"]

STALE = dt.timedelta(minutes=10)
SLACK_LINES = 8  # attention lines per section in Slack (a section's text is limited to 3,000 characters)
FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the ISO week before ``today``'s."""
    start = today - dt.timedelta(days=today.weekday() + 7)
    return start, start + dt.timedelta(days=6)


@dataclass(frozen=True)
class WeekNumbers:
    start: dt.date  # Monday
    end: dt.date  # Sunday
    publish_due: int  # reviews whose publish deadline fell in the week
    published_on_time: int  # of those, published by the deadline
    actions_added: int
    actions_done: int
    actions_overdue: int  # open and past due now
    recurrences: int  # a failure mode back on the same service within the window, started in the week
    recurrences_after_done: int  # of those, after the earlier incident's prevent/detect actions were done

    def rows(self) -> list[tuple[str, str]]:
        on_time = f"{self.published_on_time} of {self.publish_due}" if self.publish_due else "none due"
        return [
            ("Postmortems published on time", on_time),
            ("Actions added", str(self.actions_added)),
            ("Actions done", str(self.actions_done)),
            ("Actions overdue now", str(self.actions_overdue)),
            (
                "Failure modes that came back",
                f"{self.recurrences} ({self.recurrences_after_done} after completed prevent/detect actions)",
            ),
        ]


def _in_week(values: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    days = pd.to_datetime(values, utc=True).dt.date
    return days.notna() & (days >= start) & (days <= end)


# The week's numbers count done actions and every recurrence, so the digest reads those whole (the home page's
# readers narrow them to what can need attention); the attention list is the same from either.
LOADERS = {**attention.LOADERS, "actions": metrics.load_actions, "recurrences": recurrence.load_recurrences}


def week_numbers(frames: dict[str, pd.DataFrame], today: dt.date, as_of: pd.Timestamp) -> WeekNumbers:
    """Last week's numbers from the frames of ``LOADERS``, by the boards' own rules."""
    start, end = last_week(today)
    stages = metrics.review_stage_states(frames["review_stages"], as_of)
    published = stages[(stages["stage"] == "published") & _in_week(stages["due_at"], start, end)]
    actions = metrics.action_states(frames["actions"], today)
    done = actions["is_done"].fillna(False).astype(bool)
    recurrences = recurrence.recurrences_within(frames["recurrences"])
    recurred = recurrences[_in_week(recurrences["occurred_at"], start, end)]
    return WeekNumbers(
        start,
        end,
        len(published),
        int((published["state"] == "on_time").sum()),
        int(_in_week(actions["created_at"], start, end).sum()),
        int((done & _in_week(actions["resolved_at"], start, end)).sum()),
        int(actions["overdue"].sum()),
        len(recurred),
        int(recurred["prevent_detect_done_before"].fillna(False).astype(bool).sum()),
    )


@dataclass(frozen=True)
class Digest:
    week: str  # the ISO week of the run: the digest's key in ``digests``
    numbers: WeekNumbers
    found: attention.Attention
    dashboard_url: str

    @property
    def title(self) -> str:
        n = self.numbers
        return f"pir weekly digest, {self.week}: {self.needs} (last week {n.start:%d %b} – {n.end:%d %b})"

    @property
    def needs(self) -> str:
        n = self.found.count
        return (
            "nothing needs attention"
            if n == 0
            else f"{n} thing{'s' if n != 1 else ''} need{'' if n != 1 else 's'} attention"
        )

    @property
    def home_url(self) -> str:
        return nav.absolute_url(self.dashboard_url, nav.page_path(nav.HOME.name))

    def url(self, line: attention.Line) -> str:
        return nav.absolute_url(self.dashboard_url, line.path)

    def text(self) -> str:
        """Plain text: the e-mail's text part and what ``--dry-run`` prints."""
        out = [self.title, "", "Last week:"]
        out += [f"  {label}: {value}" for label, value in self.numbers.rows()]
        for section in self.found.sections:
            out += ["", section.title + ":"]
            out += [f"  - {line.text}\n    {self.url(line)}" for line in section.lines] or [f"  {section.empty}"]
        out += ["", f"Dashboards: {self.home_url}"]
        return "\n".join(out) + "\n"

    def slack_payload(self) -> dict[str, Any]:
        e = slack_escape
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": f"pir weekly digest, {self.week}"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Last week* ({self.numbers.start:%d %b} – {self.numbers.end:%d %b})",
                },
                "fields": [
                    {"type": "mrkdwn", "text": f"*{e(label)}*\n{e(value)}"} for label, value in self.numbers.rows()
                ],
            },
        ]
        for section in self.found.sections:
            # A "|" would end a Slack link's text early.
            lines = [f"• <{self.url(line)}|{e(line.text).replace('|', '¦')}>" for line in section.lines[:SLACK_LINES]]
            if len(section.lines) > SLACK_LINES:
                lines.append(f"… and {len(section.lines) - SLACK_LINES} more on <{self.home_url}|the home page>")
            body = "\n".join(lines) if lines else e(section.empty)
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{e(section.title)}*\n{body}"[:3000]}}
            )
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{self.home_url}|Open the dashboards>"}]}
        )
        return {"text": e(self.title), "blocks": blocks}

    def html(self) -> str:
        """The e-mail's HTML part: one table-less column, inline styles, no external asset."""
        numbers = "".join(
            f'<tr><td style="padding:4px 16px 4px 0;color:#52606d">{html.text(label)}</td>'
            f'<td style="padding:4px 0;font-weight:600">{html.text(value)}</td></tr>'
            for label, value in self.numbers.rows()
        )
        n = self.numbers
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.text(self.title)}</title></head>"
            f'<body style="margin:0;padding:0;background:#f5f7fa;{FONT};color:#1f2933">'
            '<div style="box-sizing:border-box;max-width:680px;margin:0 auto;padding:24px;background:#ffffff">'
            f'<h1 style="font-size:1.4em;margin:0 0 4px 0">pir weekly digest, {html.text(self.week)}</h1>'
            f'<p style="margin:0 0 16px 0;color:#52606d">{html.text(self.needs[0].upper() + self.needs[1:])}</p>'
            f'<h2 style="font-size:1.15em;margin:0 0 6px 0">Last week ({html.text(f"{n.start:%d %b} – {n.end:%d %b %Y}")})</h2>'
            f'<table role="presentation" style="border-collapse:collapse;margin:0 0 18px 0">{numbers}</table>'
            f"{attention_html(self.found, self.dashboard_url)}"
            f'<p style="margin:18px 0 0 0"><a href="{html.text(self.home_url)}" style="color:#0b5cad">Open the dashboards</a></p>'
            "</div></body></html>"
        )

    def email(self, sender: str, to: tuple[str, ...]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.title[:200]
        message["From"] = sender
        message["To"] = ", ".join(to)
        message.set_content(self.text())
        message.add_alternative(self.html(), subtype="html")
        return message


def build(con: Connection, settings: Settings) -> Digest:
    """The digest as of now (``settings.today`` in tests and demos), read through ``con``."""
    today, as_of = settings.current_date(), attention.now(settings)
    frames = {name: read(con) for name, read in LOADERS.items()}
    return Digest(
        iso_week(today),
        week_numbers(frames, today, as_of),
        attention.from_frames(frames, today, as_of),
        settings.dashboard_url,
    )


@dataclass
class DigestResult:
    digest: Digest
    sent: dict[str, int] = field(default_factory=dict)  # channel -> bytes sent
    failed: dict[str, str] = field(default_factory=dict)  # channel -> why
    skipped: dict[str, str] = field(default_factory=dict)  # channel -> why not sent now
    planned: list[str] = field(default_factory=list)  # dry run: the channels it would go to

    def lines(self, dry_run: bool = False) -> list[str]:
        out = [self.digest.text().rstrip("\n")] if dry_run else []
        if dry_run:
            out.append(
                f"would send to: {', '.join(self.planned)}"
                if self.planned
                else "no channel set: PIR_DIGEST_WEBHOOK (Slack incoming webhook) and/or PIR_DIGEST_TO with PIR_SMTP_HOST"
            )
        week = self.digest.week
        out += [
            f"sent ({channel}): digest {week}, {self.digest.found.count} items, {size:,} bytes"
            for channel, size in self.sent.items()
        ]
        out += [f"not sent ({channel}): {why}" for channel, why in self.skipped.items()]
        out += [f"failed ({channel}): {why}" for channel, why in self.failed.items()]
        return out


def channels(settings: Settings) -> list[str]:
    """The channels configured, in send order; ``PIR_DIGEST_TO`` without an SMTP server is an error."""
    found = ["slack"] if settings.digest_webhook else []
    if settings.digest_to:
        if not settings.smtp_host:
            raise ConfigError(
                "PIR_DIGEST_TO is set but PIR_SMTP_HOST is not; set the SMTP server the digest is sent through"
            )
        found.append("email")
    return found


def _due(history: pd.DataFrame, wanted: list[str], now: pd.Timestamp) -> tuple[list[str], dict[str, str]]:
    """The channels still to send this week, and why each other one is not."""
    todo, skipped = [], {}
    rows = {row["channel"]: row for row in history.to_dict("records")}
    for channel in wanted:
        row = rows.get(channel)
        if row is None or row["status"] == "failed":
            todo.append(channel)
        elif row["status"] == "sent":
            skipped[channel] = f"already sent this week ({pd.Timestamp(row['sent_at']):%Y-%m-%d %H:%M} UTC)"
        elif now - pd.Timestamp(row["sent_at"]) >= STALE:  # a run that died mid-send
            todo.append(channel)
        else:
            skipped[channel] = "another run is sending it right now"
    return todo, skipped


def send_digest(settings: Settings, *, dry_run: bool = False, backoff: Backoff | None = None) -> DigestResult:
    """Send this week's digest to every configured channel that has not had it (``dry_run``: build it only)."""
    backoff = backoff or DEFAULT_BACKOFF
    wanted = channels(settings)
    if not wanted and not dry_run:
        raise ConfigError(
            "no digest channel: set PIR_DIGEST_WEBHOOK (Slack incoming webhook) and/or PIR_DIGEST_TO "
            "with PIR_SMTP_HOST (`pir digest --dry-run` prints the digest without one)"
        )
    now = pd.Timestamp.now(tz="UTC")
    with db.connect(settings, read_only=dry_run) as con, db.transaction(con):
        if not dry_run:  # an overlapping run reads the claims this one makes, not what was there before them
            db.one_at_a_time(con, "pir digest")
        digest = build(con, settings)
        result = DigestResult(digest)
        history = con.execute("SELECT channel, status, sent_at FROM digests WHERE week = ?", [digest.week]).df()
        todo, result.skipped = _due(history, wanted, now)
        if dry_run:
            result.planned = todo
            return result
        _record(con, digest, {channel: ("sending", None, None) for channel in todo}, now, settings)
    outcome: dict[str, tuple[str, str | None, int | None]] = {}
    for channel in todo:
        try:
            if channel == "slack":
                assert settings.digest_webhook is not None
                payload = digest.slack_payload()
                post_webhook(settings.digest_webhook.reveal(), payload, backoff, setting="PIR_DIGEST_WEBHOOK")
                size = len(json.dumps(payload).encode())
            else:
                assert settings.digest_to is not None
                message = digest.email(settings.smtp_from, settings.digest_to)
                send_email(settings, message, backoff)
                size = len(message.as_bytes())
            result.sent[channel] = size
            outcome[channel] = ("sent", None, size)
        except SendError as exc:
            result.failed[channel] = redact(exc, settings)
            outcome[channel] = ("failed", result.failed[channel], None)
    with db.connect(settings) as con:
        _record(con, digest, outcome, pd.Timestamp.now(tz="UTC"), settings)
    return result


def _record(
    con: Connection,
    digest: Digest,
    outcome: dict[str, tuple[str, str | None, int | None]],
    at: pd.Timestamp,
    settings: Settings,
) -> None:
    if not outcome:
        return
    targets = {"slack": "webhook", "email": ", ".join(settings.digest_to or ())}
    frame = pd.DataFrame(
        {
            "week": [digest.week] * len(outcome),
            "channel": list(outcome),
            "status": [status for status, _, _ in outcome.values()],
            "target": [targets.get(channel) for channel in outcome],
            "items": [digest.found.count] * len(outcome),
            "bytes": [size for _, _, size in outcome.values()],
            "error": [error for _, error, _ in outcome.values()],
            "sent_at": [at] * len(outcome),
        }
    )
    db.upsert_frame(con, "digests", frame, ["week", "channel"])

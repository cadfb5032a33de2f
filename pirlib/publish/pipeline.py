"""`pir publish`: render the postmortem, publish it, send its messages, record it (runbook §4).

Steps, in an order that never records a publish that did not happen:

1. read the review data in one short connection (``render.postmortem_data``) and render every format;
2. with ``confluence``: create or update the page (``confluence.publish_page``); a refusal raises here,
   before anything is written or recorded;
3. write the requested files into the output folder, each atomically (temp file + rename);
4. once published (a Confluence page, or ``doc_url`` given for a page published elsewhere): post the
   #fixit-status summary and, for customer-impacting incidents, the customer e-mail, each at most once per
   incident (table ``publications``); a channel that is not configured gets its message written as a file
   instead (``KEY-status-summary.json``, ``KEY-customer-email.eml``) and is not marked sent;
5. record in one transaction: ``reviews.published_at`` (the first publish: the 48 h stage, late when after
   the deadline), ``reviews.doc_url`` and what was sent.

Without ``confluence`` or ``doc_url`` the files are a preview: nothing is recorded as published.
A message that fails to send does not undo the publish: it is reported, and the next publish retries it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from pirlib import db, delivery, durations
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.files import output_folder, write_all, write_atomic
from pirlib.incidents import resolve_incident
from pirlib.publish import confluence, messages
from pirlib.publish.render import FORMATS, postmortem_data, render
from pirlib.redact import redact
from pirlib.review.clock import now, stage_clocks
from pirlib.values import as_utc, safe_url

__all__ = ["PublishResult", "publish", "record_regulator_filing"]

TITLE_LIMIT = 255  # Confluence's page title limit


@dataclass
class PublishResult:
    key: str
    files: list[Path] = field(default_factory=list)
    page: confluence.PageResult | None = None
    doc_url: str | None = None
    published_at: dt.datetime | None = None
    late_by: dt.timedelta | None = None  # past the publish deadline at the first publish
    deadline_hours: float = 48.0
    sent: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"wrote {path}" for path in self.files]
        if self.page:
            verb = "created" if self.page.created else f"updated (version {self.page.version})"
            out.append(f"Confluence page {verb}: {self.page.url} ({self.page.requests} requests)")
        out += self.sent
        if self.published_at is None:
            out.append(
                f"{self.key}: preview only, not recorded as published (publish to Confluence, or give the "
                "address of the page published elsewhere)"
            )
        else:
            when = f"{self.published_at:%Y-%m-%d %H:%M} UTC"
            late = (
                f", late by {durations.span(self.late_by)} (due {self.deadline_hours:g} h after closure)"
                if self.late_by
                else ", on time"
            )
            out.append(f"{self.key}: published {when}{late}; doc {self.doc_url}")
        return out


def page_title(data: dict[str, Any]) -> str:
    title = f"Postmortem {data['incident']['key']}: {' '.join(data['incident']['summary'].split())}"
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _publications(con: Connection, incident_id: str) -> dict[str, dict[str, Any]]:
    rows = con.execute("SELECT * FROM publications WHERE incident_id = ?", [incident_id]).df()
    return {row["channel"]: row for row in cast("list[dict[str, Any]]", rows.to_dict("records"))}


def publish(
    settings: Settings,
    incident: str,
    *,
    formats: Sequence[str] = tuple(FORMATS),
    out_dir: Path | str | None = None,
    to_confluence: bool = False,
    doc_url: str | None = None,
    at: dt.datetime | None = None,
    backoff: delivery.Backoff | None = None,
) -> PublishResult:
    """Render, publish and record the postmortem of ``incident`` (see the module notes)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; use one of {', '.join(FORMATS)}")
    if to_confluence and doc_url is not None:
        raise InputError("publish either to Confluence or as a page published elsewhere (its address), not both")
    if doc_url is not None and safe_url(doc_url) is None:
        raise InputError(f"page address {doc_url!r} is not an http(s) URL; give the published page's address")
    at = as_utc(at) or now(settings)
    folder = Path(out_dir or settings.published_dir)
    with db.connect(settings, read_only=True) as con:
        incident_id, key = resolve_incident(con, incident)
        resolved_at, published_before = db.one(
            con,
            "SELECT i.resolved_at, r.published_at FROM incidents AS i "
            "LEFT JOIN reviews AS r ON r.incident_id = i.issue_id WHERE i.issue_id = ?",
            [incident_id],
        )
        if resolved_at is None:
            raise InputError(f"{key} is not resolved yet; publish its postmortem once the incident is closed")
        sent_before = _publications(con, incident_id)
        data = postmortem_data(con, incident_id, at)
    result = PublishResult(key, deadline_hours=settings.publish_hours)
    documents = {fmt: render(data, fmt, settings.publish_templates) for fmt in formats}
    output_folder(folder, create=False)  # a folder pir cannot write fails here, before a page is published

    if to_confluence:
        body = documents.get("confluence") or render(data, "confluence", settings.publish_templates)
        known = sent_before.get("confluence", {}).get("page_id")
        result.page = confluence.publish_page(
            settings, page_title(data), body, known or None, backoff or delivery.DEFAULT_BACKOFF
        )
        doc_url = result.page.url
    result.files += write_all({folder / f"{key}-postmortem{FORMATS[fmt][1]}": text for fmt, text in documents.items()})
    if doc_url is None:
        return result

    published_at = as_utc(published_before) or at
    result.doc_url, result.published_at = doc_url, published_at
    publish_clock = next(
        c for c in stage_clocks(resolved_at, {"published_at": published_at}, settings, at) if c.stage == "published"
    )
    result.late_by = -publish_clock.remaining if publish_clock.done_late else None
    data = {**data, "review": {**data["review"], "doc_url": doc_url, "published_at": published_at}}
    sent = _send_messages(settings, data, folder, sent_before, result, backoff or delivery.DEFAULT_BACKOFF)
    with db.connect(settings) as con:
        with db.transaction(con):
            con.execute(
                "INSERT INTO reviews (incident_id, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [incident_id, at]
            )
            con.execute(
                "UPDATE reviews SET published_at = coalesce(published_at, ?), doc_url = ?, updated_at = ? "
                "WHERE incident_id = ?",
                [published_at, doc_url, at, incident_id],
            )
            rows: list[tuple[str, str, str | None, int | None]] = (
                [("confluence", result.page.url, result.page.page_id, result.page.version)] if result.page else []
            )
            rows += [(channel, target, None, None) for channel, target in sent.items()]
            if rows:
                frame = pd.DataFrame(rows, columns=["channel", "target", "page_id", "version"]).assign(
                    incident_id=incident_id, first_at=at, last_at=at
                )
                con.register("_publications", frame)
                con.execute(
                    "INSERT INTO publications (incident_id, channel, target, page_id, version, first_at, last_at) "
                    "SELECT incident_id, channel, target, page_id, CAST(version AS INTEGER), first_at, last_at "
                    "FROM _publications ON CONFLICT (incident_id, channel) DO UPDATE SET target = EXCLUDED.target, "
                    "page_id = EXCLUDED.page_id, version = EXCLUDED.version, last_at = EXCLUDED.last_at"
                )
                con.unregister("_publications")
    return result


def _send_messages(
    settings: Settings,
    data: dict[str, Any],
    folder: Path,
    sent_before: dict[str, Any],
    result: PublishResult,
    backoff: delivery.Backoff,
) -> dict[str, str]:
    """Post the status summary and send the customer e-mail unless sent before; {channel: target} sent now."""
    key = data["incident"]["key"]
    sent: dict[str, str] = {}
    if "status_summary" not in sent_before:
        payload = messages.status_summary(data, settings)
        if settings.status_webhook:
            try:
                delivery.post_webhook(settings.status_webhook.reveal(), payload, backoff, setting="PIR_STATUS_WEBHOOK")
                sent["status_summary"] = "webhook"
                result.sent.append("posted the summary to the status channel (PIR_STATUS_WEBHOOK)")
            except delivery.SendError as exc:
                result.failures.append(f"status summary not posted: {redact(exc, settings)}")
        else:
            path = write_atomic(
                folder / f"{key}-status-summary.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
            )
            result.files.append(path)
            result.sent.append(f"status summary not posted (set PIR_STATUS_WEBHOOK): payload in {path}")
    if data["incident"]["customer_impact"] and "customer_email" not in sent_before:
        recipients = list(settings.customer_email_to or ())
        message = messages.customer_email(data, settings, recipients)
        path = write_atomic(folder / f"{key}-customer-email.eml", message.as_bytes())
        result.files.append(path)
        if settings.smtp_host and recipients:
            try:
                delivery.send_email(settings, message, backoff)
                sent["customer_email"] = ", ".join(recipients)
                result.sent.append(f"sent the customer e-mail to {', '.join(recipients)}")
            except delivery.SendError as exc:
                result.failures.append(f"customer e-mail not sent: {redact(exc, settings)}")
        else:
            result.sent.append(
                f"customer e-mail not sent (set PIR_SMTP_HOST and PIR_CUSTOMER_EMAIL_TO): saved as {path}"
            )
    return sent


def record_regulator_filing(con: Connection, incident_id: str, at: dt.datetime | None) -> None:
    """Record (``at``) or clear (None) that Compliance filed the regulator report (runbook §4.4)."""
    key, regulatory = db.one(con, "SELECT key, regulatory FROM incidents WHERE issue_id = ?", [incident_id])
    if not regulatory:
        raise InputError(f"{key} is not flagged for regulatory reporting; nothing to file")
    con.execute(
        "INSERT INTO reviews (incident_id, regulatory_filed_at, updated_at) VALUES ($id, $at, now()) "
        "ON CONFLICT (incident_id) DO UPDATE SET regulatory_filed_at = $at, updated_at = now()",
        {"id": incident_id, "at": at},
    )

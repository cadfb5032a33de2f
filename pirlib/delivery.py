"""Delivery of pir's messages: Slack-style incoming webhooks and e-mail over SMTP, with bounded retries.

Reminders (``pir remind``), the postmortem's messages (``pir publish``), the digest (``pir digest``) and
Confluence's retries use it; what to send, to whom and how to record it stays with each of them.

A send retries what may pass on a second try (HTTP 429 and 5xx, a temporary SMTP error, a timeout, a network
error) with exponential backoff and jitter (``Backoff``), then gives up with ``SendError``; a refusal (another
HTTP 4xx, a permanent 5xx SMTP reply, a rejected login) is not retried.
The webhook URL and the SMTP password are credentials: they never appear in a log line or in an error text
(a webhook's error page may echo its URL, so its body passes ``redact``). Posting uses ``urllib`` rather than
``requests``, whose ``urllib3`` debug log prints request paths (the secret part of a webhook URL).
"""

from __future__ import annotations

import json
import logging
import random
import smtplib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from pirlib.config import Settings
from pirlib.redact import redact

__all__ = ["DEFAULT_BACKOFF", "Backoff", "SendError", "post_webhook", "send_email", "slack_escape"]

LOG = logging.getLogger(__name__)


def slack_escape(text: str | None) -> str:
    """Slack's three control characters; anything else in Jira text is shown as typed."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


# About 10 s of retries per message at most: long enough for a blip, short enough for a cron slot.
DEFAULT_BACKOFF = Backoff()


class SendError(Exception):
    """A message could not be delivered; the error text never contains the webhook URL or a password."""


def post_webhook(
    url: str,
    payload: dict[str, Any],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    setting: str = "PIR_SLACK_WEBHOOK",
) -> None:
    """POST to a Slack incoming webhook; retry 429, 5xx and network failures with bounded backoff.

    ``setting`` names the variable that holds the URL, for the error line."""
    data = json.dumps(payload).encode()
    problem = ""
    for attempt in range(1, backoff.attempts + 1):
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=backoff.timeout) as response:  # noqa: S310 (http(s) only: config)
                response.read()
                return
        except urllib.error.HTTPError as exc:
            # Error pages echo the request (URL, path): the webhook URL is the credential. Redact the whole
            # body before shortening it, so that no cut-off piece of the URL escapes the match.
            body = redact(exc.read(65536).decode("utf-8", "replace").strip(), extra=[url])[:200]
            problem = f"HTTP {exc.code}" + (f": {body}" if body else "")
            if exc.code != 429 and exc.code < 500:
                raise SendError(f"the webhook refused the message ({problem}); check {setting}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = (
                "timed out"
                if isinstance(reason, (socket.timeout, TimeoutError))
                else f"network error ({type(reason).__name__})"
            )
        if attempt < backoff.attempts:
            delay = backoff.delay(attempt)
            LOG.warning("Slack webhook: %s; retry %d of %d in %.2f s", problem, attempt, backoff.attempts - 1, delay)
            sleep(delay)
    raise SendError(f"the webhook failed {backoff.attempts} times (last: {problem}); retried on the next run")


def send_email(settings: Settings, message: EmailMessage, backoff: Backoff) -> None:
    problem = ""
    for attempt in range(1, backoff.attempts + 1):
        try:
            with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=backoff.timeout) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user and settings.smtp_password:
                    smtp.login(settings.smtp_user, settings.smtp_password.reveal())
                smtp.send_message(message)
                return
        except smtplib.SMTPAuthenticationError:
            raise SendError("the SMTP server rejected the login; check PIR_SMTP_USER and PIR_SMTP_PASSWORD") from None
        except (smtplib.SMTPException, OSError) as exc:
            code = getattr(exc, "smtp_code", None)
            problem = f"{type(exc).__name__}" + (f" {code}" if code else "")
            if isinstance(code, int) and 500 <= code < 600:
                raise SendError(f"the SMTP server refused the message ({problem})") from None
        if attempt < backoff.attempts:
            time.sleep(backoff.delay(attempt))
    raise SendError(f"SMTP failed {backoff.attempts} times (last: {problem}); retried on the next run")

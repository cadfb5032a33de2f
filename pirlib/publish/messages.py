"""Runbook §4.2-4.3: the #fixit-status summary and the customer follow-up e-mail, from the postmortem's data.

Both are rendered from the same dict as the postmortem (``render.postmortem_data``), so they state the
same facts. The status summary is a Slack incoming-webhook payload (mrkdwn, every value escaped for
Slack); the e-mail is plain text from the template ``customer_email_template`` (default
``docs/support/templates/post_incident_email.md``; a copy ships in the package for installs without the
repository's docs), whose first line is ``Subject: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import jinja2

from pirlib.config import Settings
from pirlib.errors import ConfigError, PirError
from pirlib.publish.render import TEMPLATES, render_template, template_environment

__all__ = ["customer_email", "customer_email_template", "status_summary"]

PACKAGED_EMAIL_TEMPLATE = TEMPLATES / "post_incident_email.md"
DEFAULT_EMAIL_TEMPLATE = Path("docs/support/templates/post_incident_email.md")


def status_summary(data: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The incoming-webhook JSON for #fixit-status: ``text`` is the whole summary in mrkdwn."""
    text = render_template(
        "slack", "status_summary.slack.j2", {**data, "cc": list(settings.status_cc or ())}, settings.publish_templates
    )
    return {"text": text.strip(), "unfurl_links": False}


def customer_email_template(settings: Settings) -> Path:
    """The e-mail template in force: the configured file; the packaged copy when the default is absent."""
    path = Path(settings.customer_email_template)
    if path.is_file():
        return path
    if path in (DEFAULT_EMAIL_TEMPLATE, (settings.home or Path()) / DEFAULT_EMAIL_TEMPLATE):
        return PACKAGED_EMAIL_TEMPLATE
    raise ConfigError(f"customer_email_template: {path} does not exist; create it or point the setting at the template")


def customer_email(data: Mapping[str, Any], settings: Settings, to: Sequence[str]) -> EmailMessage:
    """The follow-up e-mail for a customer-impacting incident, ready to send or to save as ``.eml``."""
    path = customer_email_template(settings)
    env = template_environment("text", settings.publish_templates)
    try:
        text = env.from_string(path.read_text(encoding="utf-8")).render(**data)
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)  # only a TemplateSyntaxError has one
        line = f", line {lineno}" if lineno else ""
        raise PirError(f"customer e-mail template {path}{line}: {exc}; fix the template") from None
    first, _, body = text.lstrip("\n").partition("\n")
    if not first.lower().startswith("subject:"):
        raise PirError(f"customer e-mail template {path}: the first line must be 'Subject: ...'; add one")
    message = EmailMessage(policy=SMTP)
    message["Subject"] = " ".join(first[len("subject:") :].split())[:200]
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to) if to else "undisclosed-recipients:;"
    message["Date"] = format_datetime(data["generated_at"])
    message["Message-ID"] = f"<pir-{data['incident']['key']}-{data['generated_at']:%Y%m%dT%H%M%S}@pir.local>"
    message.set_content(body.lstrip("\n"))
    return message

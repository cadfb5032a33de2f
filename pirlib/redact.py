"""One redaction for every message pir makes from a response or an exception: no configured secret gets out.

Secrets (``config.SECRET_KEYS``: every setting its ``Settings`` field declares secret) reach error text in
more shapes than their own: a webhook's error page echoes the URL or only its path, a proxy quotes the URL
percent-encoded, a gateway echoes the ``Authorization`` header (Basic is base64 of ``email:token``). ``secret_forms`` lists every shape, ``redact`` replaces each
with ``***``. Apply it where text from outside becomes a message, a log line or a column.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote, urlparse, urlsplit

from pirlib.config import SECRET_KEYS, Settings

__all__ = ["MASK", "redact", "secret_forms"]

MASK = "***"
# Shorter values would mask ordinary words; no real token, password or webhook path is this short.
_MIN_LENGTH = 4


def _shapes(value: str) -> list[str]:
    shapes = [value, quote(value, safe=""), quote(value, safe="/:")]
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # A webhook's secret is its path (Slack: /services/T../B../<token>), which error pages echo alone.
        shapes += [path, quote(path, safe="")]
    return shapes


def secret_forms(settings: Settings | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Every configured secret in every shape it may take in text, longest first."""
    values = [str.__str__(v) for v in extra if v]
    if settings is not None:
        values += [str.__str__(v) for name in sorted(SECRET_KEYS) if (v := getattr(settings, name, None))]
        for user, token in (
            (settings.jira_email, settings.jira_token),
            (settings.confluence_email, settings.confluence_token),
        ):
            if user and token:
                values.append(base64.b64encode(f"{user}:{str.__str__(token)}".encode()).decode())
        if settings.database_url is not None and (password := urlparse(settings.database_url.reveal()).password):
            values.append(password)  # libpq may name the password alone
    forms = {shape for value in values for shape in _shapes(value.strip()) if len(shape) >= _MIN_LENGTH}
    return sorted(forms, key=len, reverse=True)


def redact(text: object, settings: Settings | None = None, extra: Iterable[str] = ()) -> str:
    """``text`` with every configured secret (and each of ``extra``) replaced by ``***``."""
    out = str(text)
    for form in secret_forms(settings, extra):
        out = out.replace(form, MASK)
    return out

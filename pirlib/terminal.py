"""Text for a terminal: what pir prints comes partly from Jira and from files, and must not drive it.

An escape sequence in a Jira summary (``\\x1b]0;...``, ``\\x1b[2J``) printed as it is would retitle, clear or
recolour the reader's terminal, or hide the text around it; a bidi override would reorder what they see.
Every line a command prints goes through ``terminal_text``.
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_text(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1), line separators and bidi controls shown as '?'."""
    return "".join(
        "?" if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text
    )

"""Text for a terminal: what pir prints comes partly from Jira and from files, and must not drive it.

An escape sequence in a Jira summary (``\\x1b]0;...``, ``\\x1b[2J``) printed as it is would retitle, clear or
recolour the reader's terminal, or hide the text around it; a bidi override would reorder what they see.
Every line a command prints goes through ``terminal_text``.
"""

from __future__ import annotations

import re

# Exactly the characters of Unicode categories Cc (C0 controls, DEL, C1 controls), Zl and Zp, and the bidi
# embedding, override and isolate controls: one regular expression, not a category look-up per character,
# which was most of `pir check` at 50k incidents (8.9M characters, 3+ CPU-s).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1), line separators and bidi controls shown as '?'."""
    return _UNSAFE.sub("?", text)

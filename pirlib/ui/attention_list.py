"""The attention list (``pirlib.attention``) as HTML: the home page shows it, the digest e-mails it.

Inline styles only, no classes a stylesheet must supply and no external assets, so that a mail client shows
it as the page does. Every text passes ``pirlib.ui.html``; links are the dashboard pages' relative URLs on
the home page (from the server's root, see ``pirlib.ui.nav``) and absolute ones (under the dashboards'
base URL) in an e-mail.
"""

from __future__ import annotations

import os

from pirlib.attention import Attention, Line, Section
from pirlib.ui import html, nav

SECTION_STYLE = "margin:0 0 18px 0"
TITLE_STYLE = "font-size:1.15em;margin:0 0 6px 0;color:#1f2933"
LIST_STYLE = "margin:0;padding:0 0 0 1.2em;line-height:1.5"
EMPTY_STYLE = "margin:0;color:#52606d"
LINK_STYLE = "color:#0b5cad"


def _href(line: Line, base_url: str | None) -> str:
    return nav.absolute_url(base_url or os.environ.get("VOILA_BASE_URL") or "/", line.path)


def section_html(section: Section, base_url: str | None = None) -> str:
    title = f'<h3 style="{TITLE_STYLE}">{html.text(section.title)}</h3>'
    if not section.lines:
        return (
            f'<div class="pir-attention" data-section="{section.key}" style="{SECTION_STYLE}">{title}'
            f'<p style="{EMPTY_STYLE}">{html.text(section.empty)}</p></div>'
        )
    # A relative link is a dashboard page's (html.internal_link's class); an absolute one leaves the dashboards.
    kind = "" if base_url else ' class="pir-internal"'
    items = "".join(
        f'<li><a{kind} href="{html.text(_href(line, base_url))}" style="{LINK_STYLE}">{html.text(line.text)}</a></li>'
        for line in section.lines
    )
    return (
        f'<div class="pir-attention" data-section="{section.key}" style="{SECTION_STYLE}">{title}'
        f'<ul style="{LIST_STYLE}">{items}</ul></div>'
    )


def attention_html(found: Attention, base_url: str | None = None) -> str:
    """Every section; ``base_url`` (the dashboards' address) makes the links absolute, for an e-mail."""
    return "".join(section_html(section, base_url) for section in found.sections)

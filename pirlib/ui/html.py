"""The one place that turns text into HTML: escaping, links, tables and messages, for every board, figure
and the timeline.

Jira and chat text is data, never markup. Two escapings exist, on purpose:

- ``text``/``cell``/``lines`` are for HTML that a browser parses (a page, a table cell, an attribute):
  ``& < > " '`` become entities (``lines`` leaves quotes alone: it feeds plotly hover labels).
- ``plotly_text`` is for plotly labels, legends and hover text, which plotly draws as its own small HTML
  subset: only ``& < >`` become entities, because plotly shows ``&quot;`` and ``&#x27;`` literally.

Everything here returns a ``str`` that is safe to concatenate into HTML; a function named ``*_html`` in a
board builds only from these.
"""

from __future__ import annotations

import datetime as dt
import html as _stdlib_html
import re
from collections.abc import Collection, Iterable

import pandas as pd

from pirlib.values import is_missing, safe_url

__all__ = [
    "COLORS",
    "bullets",
    "cell",
    "colored",
    "internal_link",
    "kpis",
    "lines",
    "link",
    "message",
    "notice",
    "plotly_text",
    "table",
    "text",
]

TABLE_STYLE = "border-collapse:collapse;text-align:left"
# What a colour says, everywhere pir writes HTML for people: a problem, something done, a warning, a detail.
COLORS = {"error": "#b00020", "ok": "#1b7f3b", "warning": "#b36b00", "muted": "#555", "plain": "#333"}
WRAP = 100  # hover lines longer than this wrap at the next space
_LONG_LINE = re.compile(rf"([^\n]{{{WRAP}}}\S*) ")
_PLOTLY_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def text(value: object) -> str:
    """``value`` as HTML text, safe in element content and in a quoted attribute; None is empty."""
    return "" if value is None else _stdlib_html.escape(str(value), quote=True)


def _cell_text(value: object) -> str:
    # Unescaped; only ``cell`` hands it out.
    if is_missing(value):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def cell(value: object) -> str:
    """``value`` as a table shows it, escaped: None/NaN/NaT empty, timestamps to the minute (as stored, UTC)."""
    return text(_cell_text(value))


def link(label: object, url: object) -> str:
    """An ``<a>`` opening ``url`` in a new tab with the escaped ``label``; just the escaped label when ``url`` is
    not a plain http(s) URL (``values.safe_url``: no ``javascript:``, ``data:`` or protocol-relative links)."""
    shown = cell(label)
    href = safe_url(url)
    if href is None:
        return shown
    return f'<a href="{text(href)}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def internal_link(label: object, href: str) -> str:
    """An ``<a>`` to another dashboard page (a URL pir built, ``pirlib.ui.nav.page_url``), opened in
    the same tab; the label escaped like a table cell."""
    return f'<a class="pir-internal" href="{text(href)}">{cell(label)}</a>'


def table(frame: pd.DataFrame, html_columns: Collection[str] = (), numbers: Collection[str] = ()) -> str:
    """``frame`` as a ``pir-table``: headers and cells escaped (``cell``), except the cells of ``html_columns``,
    which the caller built from this module (``link``) and which go in as they are.

    Text aligns left and the columns named in ``numbers`` right, so that digits line up; each cell says so
    itself, because the notebook page's own style sets every table cell right-aligned. A date or time never
    wraps onto a second line."""
    aligns = ["right" if column in numbers else "left" for column in frame.columns]
    head = "".join(
        f'<th style="text-align:{align}">{text(column)}</th>' for column, align in zip(frame.columns, aligns)
    )
    trusted = [column in html_columns for column in frame.columns]
    rows = "".join(
        "<tr>" + "".join(_td(value, markup, align) for value, markup, align in zip(record, trusted, aligns)) + "</tr>"
        for record in frame.itertuples(index=False)
    )
    return f'<table class="pir-table" style="{TABLE_STYLE}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _td(value: object, markup: bool, align: str) -> str:
    nowrap = ";white-space:nowrap" if isinstance(value, dt.date) and not is_missing(value) else ""
    return f'<td style="text-align:{align}{nowrap}">{value if markup else cell(value)}</td>'


def _line(value: str) -> str:
    value = _stdlib_html.escape(value, quote=False)
    if len(value) > WRAP:
        # Long lines wrap at spaces (an entity has no space, so it is never cut).
        value = _LONG_LINE.sub("\\1\n", value)
    return value.replace("\r\n", "\n").replace("\n", "<br>")


def lines(values: pd.Series) -> pd.Series:
    """Each value with ``& < >`` escaped, newlines as ``<br>`` and lines over ``WRAP`` characters wrapped at a
    space; None/NaN empty. For plotly hover text built over a whole frame at once: one pass in plain Python,
    faster than chained pandas string methods for this mix (bench/bench_timeline.py)."""
    escaped = [
        _line(v) if isinstance(v, str) else "" if v is None or v is pd.NA or v != v else _line(str(v))
        for v in values.tolist()
    ]
    return pd.Series(escaped, index=values.index, dtype=object)


def plotly_text(value: object) -> str:
    """Text for a plotly label, legend entry, button or hover: only ``& < >`` as entities, so plotly draws no
    markup and shows quotes as quotes."""
    return str(value).translate(_PLOTLY_ESCAPES)


def with_code(words: str) -> str:
    """``words`` escaped, with backticked words (a command) as ``<code>``: a page shows no Markdown."""
    parts = text(words).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def message(words: str) -> str:
    """A one-line notice (no data, nothing matches); backticked words become ``<code>``, after escaping."""
    return f'<p class="pir-message" style="font-size:1.2em">{with_code(words)}</p>'


def kpis(items: Iterable[tuple[str, str]]) -> str:
    """A row of headline numbers: each (label, value) as a big value over its label, both escaped."""
    cells = "".join(
        f'<div style="margin-right:2.5em"><div style="font-size:1.6em;font-weight:600">{text(value)}</div>'
        f'<div style="color:#555">{text(label)}</div></div>'
        for label, value in items
    )
    return f'<div class="pir-kpis" style="display:flex;flex-wrap:wrap;margin:8px 0 12px 0">{cells}</div>'


def colored(markup: str, tone: str, tag: str = "span", css: str | None = None) -> str:
    """``markup`` (HTML this module built, or escaped text) in the colour of ``tone`` (a ``COLORS`` key)."""
    klass = f' class="{text(css)}"' if css else ""
    return f'<{tag}{klass} style="color:{COLORS[tone]}">{markup}</{tag}>'


def notice(words: object, tone: str) -> str:
    """One escaped line in the colour of ``tone``, with the class ``pir-<tone>`` (``pir-error``, ``pir-ok``)."""
    return colored(text(words), tone, css=f"pir-{tone}")


def bullets(title: str, items: Iterable[object], tone: str, css: str | None = None) -> str:
    """A bold ``title`` over a list of ``items``, all escaped, in the colour of ``tone``."""
    rows = "".join(f"<li>{text(item)}</li>" for item in items)
    return colored(f"<b>{text(title)}</b><ul>{rows}</ul>", tone, "div", css)

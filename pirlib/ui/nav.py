"""How the dashboards link to each other: the pages, their header, links that carry filters, and the filters a
page reads from its URL.

Every dashboard page is ``<name>.ipynb`` in one folder that Voila serves as ``/voila/render/<name>.ipynb``. A link
from one page to another starts at the server's root (``/voila/render/actions.ipynb?team=SRE``, under Voila's
base URL, which the kernel gets as ``VOILA_BASE_URL``): the page's HTML renderer (JupyterLab's) takes a
relative link for a file to open in Lab and swallows the click, and leaves root-relative links alone. The
digest, read outside the dashboards, makes them absolute with ``absolute_url``.

A page's filters come from its URL's query string, which Voila hands the page's kernel as the ``QUERY_STRING``
environment variable (``pirlib.kernel_pool`` sets it in a pooled kernel too): ``team``, ``service``,
``severity``, ``failure_mode`` and ``incident`` (repeatable), ``from`` and ``to`` (YYYY-MM-DD). A value pir
cannot use is not guessed at: the page says what it ignored and why.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode

from pirlib.metrics import Filters
from pirlib.ui import html


@dataclass(frozen=True)
class Page:
    name: str  # the notebook, dashboards/<name>.ipynb
    title: str
    description: str


HOME = Page("home", "What needs attention", "reviews at risk, overdue actions, repeats, open regulator filings")
PAGES = (
    HOME,
    Page("overview", "Overview", "incidents by severity and how their actions are going"),
    Page("reviews", "Review deadlines", "each runbook stage against its deadline, and what is at risk now"),
    Page("actions", "Action completion", "are review actions done, and on time, by team and owner"),
    Page("failure_modes", "Recurring failure modes", "which failures come back, and whether the fixes were done"),
    Page("incidents", "Incidents", "how many, where, and how long to detect, mitigate and resolve"),
    Page("explore", "Incidents and actions", "every incident and action of a team, service or failure mode"),
)
# Reached by a link from a board, not from the header: one incident's read-only page.
INCIDENT = Page("incident", "Incident", "one incident: timeline, milestones, actions and its postmortem")
_BY_NAME = {page.name: page for page in (*PAGES, INCIDENT)}

# URL parameter -> Filters field; the date range is ``from`` / ``to``.
PARAMETERS = {
    "team": "teams",
    "service": "services",
    "severity": "severities",
    "failure_mode": "failure_modes",
    "incident": "incidents",
}
LABELS = {
    "teams": "team",
    "services": "service",
    "severities": "severity",
    "failure_modes": "failure mode",
    "incidents": "incident",
}


def page_path(name: str, **params: str | Iterable[str] | dt.date | None) -> str:
    """Page ``name`` with ``params`` in its query, relative to the pages' folder (a list repeats the parameter;
    None and empty values are left out): ``page_path("actions", team="SRE")`` -> ``actions.ipynb?team=SRE``."""
    if name not in _BY_NAME:
        raise KeyError(f"no dashboard page {name!r}")
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = [value] if isinstance(value, (str, dt.date)) else list(value or ())
        pairs += [(key, v.isoformat() if isinstance(v, dt.date) else str(v)) for v in values if v not in (None, "")]
    query = urlencode(pairs, quote_via=quote)
    return f"{name}.ipynb" + (f"?{query}" if query else "")


def page_url(name: str, **params: str | Iterable[str] | dt.date | None) -> str:
    """``page_path`` from the server's root, under Voila's base URL: ``/voila/render/actions.ipynb?team=SRE``."""
    return absolute_url(os.environ.get("VOILA_BASE_URL") or "/", page_path(name, **params))


def absolute_url(base: str, path: str) -> str:
    """A ``page_path`` under a base URL: the dashboards' address (``http://host:8866``) or Voila's base path."""
    return f"{base.rstrip('/')}/voila/render/{path}"


def link(label: object, name: str, **params: str | Iterable[str] | dt.date | None) -> str:
    """An ``<a>`` to another dashboard page, in the same tab (``html.internal_link``)."""
    return html.internal_link(label, page_url(name, **params))


def drill_link(label: object, **params: str | None) -> str:
    """``label`` linked to the incidents-and-actions page narrowed by ``params`` (team, service, failure_mode);
    the plain label when the value is missing (an action without team has nowhere to go)."""
    if not any(v for v in params.values() if isinstance(v, str) and v and v != "(none)"):
        return html.cell(label)
    return link(label, "explore", **params)


def incident_link(key: object) -> str:
    """An incident key linked to its read-only incident page."""
    if not isinstance(key, str) or not key:
        return html.cell(key)
    return link(key, "incident", incident=key)


def header_html(current: str) -> str:
    """The bar every page starts with: home and each board by title, its one-line description as the tooltip
    and under the title; the current page marked, not linked."""
    items = []
    for page in PAGES:
        words = f'<span style="display:block;font-size:0.8em;color:#555;font-weight:normal">{html.text(page.description)}</span>'
        if page.name == current:
            items.append(f'<span class="pir-nav-current" style="font-weight:600">{html.text(page.title)}{words}</span>')
        else:
            items.append(
                f'<a class="pir-internal" href="{html.text(page_url(page.name))}" title="{html.text(page.description)}" '
                f'style="text-decoration:none">{html.text(page.title)}{words}</a>'
            )
    cells = "".join(f'<li style="flex:1 1 10em;list-style:none;margin:0;padding:4px 8px">{item}</li>' for item in items)
    return (
        f'<nav class="pir-nav" aria-label="dashboards"><ul style="display:flex;flex-wrap:wrap;gap:4px;margin:0 0 12px 0;'
        f'padding:0;border-bottom:1px solid #ddd">{cells}</ul></nav>'
    )


@dataclass(frozen=True)
class UrlFilters:
    """What a page's URL asked for: the filters it can apply, and a reason for each value it ignored."""

    filters: Filters = Filters()
    ignored: tuple[str, ...] = ()
    given: bool = False  # the URL had any filter at all

    def describe(self) -> list[str]:
        """'team = SRE', 'from 2026-10-01', ... for each filter applied."""
        out = [
            f"{LABELS[name]} = {', '.join(getattr(self.filters, name))}"
            for name in LABELS
            if getattr(self.filters, name)
        ]
        if self.filters.start:
            out.append(f"from {self.filters.start.isoformat()}")
        if self.filters.end:
            out.append(f"to {self.filters.end.isoformat()}")
        return out


def query_string() -> str:
    """The page's query string as Voila hands it to the kernel ("" outside Voila)."""
    return os.environ.get("QUERY_STRING", "")


def parse_filters(query: str, supported: Iterable[str] = tuple(PARAMETERS.values()), dates: bool = True) -> UrlFilters:
    """The filters in ``query`` that a page supports (``supported``: Filters field names; ``dates``: whether it
    has a date range). Unknown parameters, filters the page has not, dates that are not YYYY-MM-DD and a
    range that ends before it starts are ignored, each with its reason."""
    values = parse_qs(query, keep_blank_values=False)
    supported = set(supported)
    chosen: dict[str, tuple[str, ...]] = {}
    ignored: list[str] = []
    for key, given in values.items():
        if key in ("from", "to"):
            continue
        name = PARAMETERS.get(key)
        if name is None:
            ignored.append(f"{key}: not a filter (filters: {', '.join([*PARAMETERS, 'from', 'to'])})")
        elif name not in supported:
            ignored.append(f"{key}: this page has no {LABELS[name]} filter")
        else:
            chosen[name] = tuple(dict.fromkeys(v.strip() for v in given if v.strip()))
    bounds: dict[str, dt.date | None] = {"from": None, "to": None}
    for key in bounds:
        if key not in values:
            continue
        if not dates:
            ignored.append(f"{key}: this page has no date range")
            continue
        try:
            bounds[key] = dt.date.fromisoformat(values[key][-1].strip())
        except ValueError:
            ignored.append(f"{key}={values[key][-1]}: not a date; write it as YYYY-MM-DD")
    if bounds["from"] and bounds["to"] and bounds["from"] > bounds["to"]:
        ignored.append(f"from {bounds['from']} to {bounds['to']}: the range ends before it starts; swap the dates")
        bounds = {"from": None, "to": None}
    filters = Filters(start=bounds["from"], end=bounds["to"], **chosen)
    return UrlFilters(filters, tuple(ignored), given=bool(values))


def applied_html(name: str, url_filters: UrlFilters, unknown: Mapping[str, Iterable[str]] | None = None) -> str:
    """The line under a page's header that says which filters its URL applied (with a link to the page without
    them) and what it ignored; empty when the URL had none."""
    if not url_filters.given:
        return ""
    parts = []
    shown = url_filters.describe()
    if shown:
        parts.append(
            f"Filtered by {html.text('; '.join(shown))}. {html.internal_link('Show everything', page_url(name))}"
        )
    for field_name, values in (unknown or {}).items():
        parts.append(html.text(f"No {LABELS[field_name]} {', '.join(values)} in the data."))
    if url_filters.ignored:
        parts.append(html.text("Ignored: " + "; ".join(url_filters.ignored) + "."))
    return f'<p class="pir-url-filters" style="background:#f3f6fb;padding:6px 10px;border-radius:4px">{" ".join(parts)}</p>'

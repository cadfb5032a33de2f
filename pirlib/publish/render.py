"""One reviewed dataset of an incident, rendered as the postmortem (Markdown, HTML, Confluence storage format).

``postmortem_data(con, incident_id, at)`` reads everything the documents say from the store once; every format
and every message (``pirlib.publish.messages``) is rendered from that one dict, so they cannot disagree on a
fact. Rendering is pure: the same data and ``at`` give the same bytes.

Templates are Jinja2 files in ``pirlib/publish/templates/``; a team overrides any of them by putting a file of
the same name in the folder named by ``PIR_PUBLISH_TEMPLATES``. Escaping is the environment's, not the
template's: HTML and Confluence storage format (XHTML) autoescape every value, and the Markdown environment
escapes every value for Markdown (``markdown_escape``) unless it is a ``Formatted`` built here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import markupsafe
import pandas as pd

from pirlib import durations
from pirlib.db import Connection
from pirlib.delivery import slack_escape
from pirlib.errors import PirError
from pirlib.review.actions import Draft, open_drafts
from pirlib.review.meeting import NOTE_FLAGS, NOTE_TAGS
from pirlib.timeline.milestones import duration_problem, milestones_of
from pirlib.values import as_utc, clean_text, is_missing, safe_url, utc_minute

__all__ = [
    "FORMATS",
    "Formatted",
    "markdown_escape",
    "postmortem_data",
    "render",
    "render_template",
    "template_environment",
]

# format -> (template, file suffix)
FORMATS = {
    "md": ("postmortem.md.j2", ".md"),
    "html": ("postmortem.html.j2", ".html"),
    "confluence": ("postmortem.confluence.j2", ".confluence.xml"),
}
TEMPLATES = Path(__file__).resolve().parent / "templates"

DURATIONS = {
    "ttd_minutes": "Time to detect",
    "tta_minutes": "Time to acknowledge",
    "ttm_minutes": "Time to mitigate",
    "ttr_minutes": "Time to resolve",
}


# ------------------------------------------------------------------------------------------------ the data


def _text(value: Any) -> str | None:
    return clean_text(value) or None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): (None if is_missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _paragraphs(value: Any) -> list[list[str]]:
    """Paragraphs (split at blank lines) of a text, each as its lines: a description's headings and list
    items are lines of their own, which every format must keep apart."""
    paragraphs = (p for p in re.split(r"\n\s*\n", clean_text(value)) if p.strip())
    return [[line.strip() for line in p.splitlines() if line.strip()] for p in paragraphs]


def _names(value: Any) -> list[str]:
    return [] if value is None else [str(v) for v in value]


def postmortem_data(con: Connection, incident_id: str, at: dt.datetime) -> dict[str, Any]:
    """Everything the postmortem and its messages say about one incident, as plain values (``at``: "now")."""
    # The mode as classified (the facilitator's, else the taxonomy's), never Jira's raw field value.
    incident = _records(
        con.execute(
            "SELECT i.key, i.summary, i.description, i.severity, i.service, i.components, i.status, i.commander,"
            " i.customer_impact, i.regulatory, i.url, m.failure_mode, m.jira_says FROM incidents AS i"
            " LEFT JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id WHERE i.issue_id = ?",
            [incident_id],
        ).df()
    )[0]
    reviews = _records(con.execute("SELECT * FROM reviews WHERE incident_id = ?", [incident_id]).df())
    review = reviews[0] if reviews else {}
    report = milestones_of(con, incident_id)
    milestones = [
        {"name": name, "at": as_utc(when), "rule": _text(rule)}
        for name, when, rule in zip(report.table["milestone"], report.table["occurred_at"], report.table["rule"])
    ]
    timeline = _records(
        con.execute(
            "SELECT occurred_at, source, kind, actor, field, from_value, to_value, text, milestone FROM v_timeline "
            "WHERE incident_id = ? AND starred AND NOT hidden ORDER BY occurred_at, event_id",
            [incident_id],
        ).df()
    )
    notes = _records(
        con.execute(
            "SELECT segment, category, tag, flag, text, author FROM review_notes WHERE incident_id = ? "
            "ORDER BY created_at, note_id",
            [incident_id],
        ).df()
    )
    jira_actions = _records(
        con.execute(
            "SELECT key, summary, owner, team, status, status_category, due_date, success_metric, "
            "verification_method, action_type, url FROM actions WHERE incident_id = ? AND NOT deleted",
            [incident_id],
        ).df()
    )
    for action in jira_actions:
        action["url"] = safe_url(action["url"])
        action["due_date"] = (
            pd.Timestamp(action["due_date"]).date().isoformat() if action["due_date"] is not None else None
        )
    actions = sorted(
        jira_actions + [_draft_action(draft) for draft in open_drafts(con, incident_id)], key=_action_order
    )
    people = _records(
        con.execute(
            "SELECT name, role, invited, attended FROM attendees WHERE incident_id = ? "
            "AND origin IS DISTINCT FROM 'runbook role' AND (invited OR attended) "
            "ORDER BY role <> 'commander', name",
            [incident_id],
        ).df()
    )
    attendance_recorded = any(p["attended"] for p in people)
    generated_at = as_utc(at)
    for event in timeline:
        event["at"] = as_utc(event.pop("occurred_at"))
        event["what"] = _event_text(event)
        event["who"] = event["actor"] or event["source"]
    timeline = _with_milestones(timeline, milestones, generated_at)
    by_category: dict[str, list[dict[str, Any]]] = {"well": [], "wrong": [], "risk": [], "note": []}
    for note in notes:
        note["tag_label"] = NOTE_TAGS.get(note["tag"] or "")
        note["flag_label"] = NOTE_FLAGS.get(note["flag"] or "")
        by_category.setdefault(note["category"] or "note", []).append(note)
    factors = [line.strip() for line in clean_text(review.get("contributing_factors")).splitlines() if line.strip()]
    return {
        "generated_at": generated_at,
        "incident": {
            "id": incident_id,
            "key": incident["key"],
            "summary": _text(incident["summary"]) or incident["key"],
            "description": _text(incident.get("description")),
            "description_paragraphs": _paragraphs(incident.get("description")),
            "severity": _text(incident.get("severity")),
            "service": _text(incident.get("service")),
            "components": _names(incident.get("components")),
            "failure_mode": _text(incident.get("failure_mode")),
            "jira_says": _text(incident.get("jira_says")),
            "status": _text(incident.get("status")),
            "commander": _text(incident.get("commander")),
            "customer_impact": bool(incident.get("customer_impact")),
            "regulatory": bool(incident.get("regulatory")),
            "url": safe_url(incident.get("url")),
        },
        "review": {
            "facilitator": _text(review.get("facilitator")),
            "meeting_at": as_utc(review.get("meeting_at")),
            "published_at": as_utc(review.get("published_at")),
            "doc_url": safe_url(review.get("doc_url")),
            "regulatory_filed_at": as_utc(review.get("regulatory_filed_at")),
            "incident_commander": _text(review.get("incident_commander")) or _text(incident.get("commander")),
            "scribe": _text(review.get("scribe")),
            "root_cause": _text(review.get("root_cause")),
            "contributing_factors": factors,
        },
        "milestones": milestones,
        "milestone_at": {m["name"]: m["at"] for m in milestones},
        "milestone_flags": list(report.flags),
        "durations": [_duration(k, v) for k, v in report.durations.items()],
        "timeline": timeline,
        "went_well": by_category["well"],
        "went_wrong": by_category["wrong"],
        "risks": by_category["risk"],
        "actions": actions,
        # Who attended; until attendance is recorded, who was invited (the templates say which).
        "attendance_recorded": attendance_recorded,
        "attendees": [p for p in people if (p["attended"] if attendance_recorded else p["invited"])],
        "absent": [p for p in people if p["invited"] and not p["attended"]] if attendance_recorded else [],
    }


def _draft_action(draft: Draft) -> dict[str, Any]:
    """A draft not in Jira yet, as the postmortem lists actions."""
    return {
        "key": None,
        "summary": draft.summary,
        "owner": draft.owner,
        "team": draft.team,
        "status": "Not in Jira yet",
        "status_category": "new",
        "due_date": draft.due_date.isoformat() if draft.due_date else None,
        "success_metric": draft.success_metric,
        "verification_method": draft.verification_method,
        "action_type": draft.action_type,
        "url": None,
    }


def _action_order(action: Mapping[str, Any]) -> tuple[bool, str, bool, str, bool, str]:
    """Due date (none last), then Jira key (drafts last), then summary (none last)."""
    return (
        action["due_date"] is None,
        action["due_date"] or "",
        action["key"] is None,
        action["key"] or "",
        action["summary"] is None,
        action["summary"] or "",
    )


def _duration(key: str, minutes: float | None) -> dict[str, Any]:
    """A duration row; a negative one is not published as a number but flagged with the fix."""
    problem = duration_problem(key, minutes)
    if problem:
        flag = f"not shown: {problem}; correct the milestones in the Timeline step"
        return {"name": DURATIONS[key], "minutes": None, "flag": flag}
    return {"name": DURATIONS[key], "minutes": minutes, "flag": None}


def _with_milestones(
    events: list[dict[str, Any]], milestones: list[dict[str, Any]], generated_at: dt.datetime | None
) -> list[dict[str, Any]]:
    """The postmortem's timeline: the milestones plus the starred events, in time order (a milestone first at a
    tie). An entry later than the document's own time is flagged, never shown as a plain fact."""
    entries = [
        {
            "at": m["at"],
            "who": "Milestone",
            "what": m["name"] + (f" ({m['rule']})" if m["rule"] else ""),
            "milestone": m["name"],
            "rank": 0,
        }
        for m in milestones
        if m["at"] is not None
    ]
    entries += [{**e, "rank": 1} for e in events if e["at"] is not None]
    entries.sort(key=lambda e: (e["at"], e["rank"]))
    for entry in entries:
        future = generated_at is not None and entry["at"] > generated_at
        entry["flag"] = "flagged: later than this document; check the time in the Timeline step" if future else None
    return entries


def _event_text(event: Mapping[str, Any]) -> str:
    """What a starred event says, in one line of plain text."""
    if event.get("text"):
        return " ".join(str(event["text"]).split())
    if event.get("field"):
        change = f"{event['field']}: {event.get('from_value') or '—'} → {event.get('to_value') or '—'}"
        return change
    return str(event.get("kind") or "event").replace("_", " ")


# ---------------------------------------------------------------------------------------------- escaping


class Formatted(str):
    """Text already in the output's syntax, built here from escaped parts (a Markdown or Slack link): the
    Markdown and Slack environments output it as is."""


_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
_MD_LINE_START = re.compile(r"^(\s*|\s*\d+(?=[.)]))([#>+=-]|[.)])")


def markdown_escape(value: Any) -> str:
    """``value`` as literal text in Markdown (CommonMark and GitHub tables), on one line.

    Backslash-escapes every character that starts inline markup, raw HTML, an entity or a table cell, and
    a block marker at the start; line breaks become spaces, since a line break in a list item or a table
    cell would end it. ``(`` and ``!`` need no escape once ``[`` and ``]`` have one.
    """
    if isinstance(value, Formatted):
        return value
    text = " ".join(_strip_controls(clean_text(value)).split())
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(r"\1\\\2", text, count=1)


# Kept as is in a link target; everything else (spaces, <, >, parentheses, quotes) is percent-encoded.
_URL_SAFE = ":/?#@!$&*+,;=%~"


def _markdown_link(text: Any, url: Any) -> Formatted:
    href = safe_url(url)
    label = markdown_escape(text)
    if href is None:
        return Formatted(label)
    return Formatted(f"[{label}](<{quote(href, safe=_URL_SAFE)}>)")


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _strip_controls(text: str) -> str:
    # Characters XML 1.0 forbids even as entities (a Confluence page with one is rejected); nobody types them.
    return _CONTROLS.sub("", text)


# --------------------------------------------------------------------------------------------- templates


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _html_finalize(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, markupsafe.Markup) else _strip_controls(str(value))


def _escaping_finalize(escape: Callable[[str], str]) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if value is None:
            return ""
        return value if isinstance(value, Formatted) else escape(_strip_controls(str(value)))

    return finalize


def _slack_link(text: Any, url: Any) -> Formatted:
    href = safe_url(url)
    label = slack_escape(_strip_controls(clean_text(text)))
    # Slack's link syntax ends at '|' and '>': an URL carrying one would cut the link short.
    return Formatted(f"<{quote(href, safe=_URL_SAFE.replace('|', ''))}|{label}>" if href else label)


# Block tags take their own line and leave no blank one; a missing variable is an error, not an empty string.
_WHITESPACE: dict[str, Any] = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
    "undefined": jinja2.StrictUndefined,
}

# kind -> (autoescape, finalize, link builder): how each output escapes the values a template prints.
_KINDS: dict[str, tuple[bool, Callable[[Any], Any], Callable[[Any, Any], Any] | None]] = {
    "html": (True, _html_finalize, None),
    "confluence": (True, _html_finalize, None),
    "md": (False, _escaping_finalize(markdown_escape), _markdown_link),
    "slack": (False, _escaping_finalize(slack_escape), _slack_link),
    "text": (False, _escaping_finalize(str), None),
}


def template_environment(kind: str, override_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment of ``kind`` (see ``_KINDS``), the team's override folder searched first.

    ``html``/``confluence`` autoescape (Markup); ``md`` and ``slack`` escape every printed value for
    Markdown or Slack mrkdwn, except what ``link()`` builds; ``text`` (the plain-text e-mail) only drops
    control characters.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown template kind {kind!r}")
    autoescape, finalize, link = _KINDS[kind]
    folders = [str(override_dir)] if override_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, str(TEMPLATES)]),
        autoescape=autoescape,
        finalize=finalize,
        **_WHITESPACE,
    )
    if link is not None:
        env.globals["link"] = link
    env.filters.update({"when": utc_minute, "minutes": durations.minutes, "yes_no": _yes_no})
    return env


def render(data: Mapping[str, Any], fmt: str, override_dir: Path | None = None) -> str:
    """The postmortem of ``data`` in ``fmt`` (md, html or confluence)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return render_template(fmt, FORMATS[fmt][0], data, override_dir)


def render_template(kind: str, name: str, data: Mapping[str, Any], override_dir: Path | None = None) -> str:
    """Template ``name`` of environment ``kind`` rendered with ``data``; a broken override is one clear error."""
    try:
        return template_environment(kind, override_dir).get_template(name).render(**data)
    except jinja2.TemplateSyntaxError as exc:
        raise PirError(f"template {exc.filename or name}, line {exc.lineno}: {exc.message}; fix the template") from None
    except jinja2.TemplateError as exc:
        where = f" (overrides in {override_dir})" if override_dir else ""
        raise PirError(f"template {name}{where}: {exc}; fix the template or remove the override") from None

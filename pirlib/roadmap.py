"""`pir roadmap`: feed what the reviews learned back into the reliability roadmap (runbook §5).

The roadmap (default ``docs/performance/reliability-roadmap.md``, setting ``roadmap_path``) is regenerated
from the database, never edited by hand, and is byte-identical for the same data and day:

- actions, open and done, grouped by failure mode and service, with owner, status and due date (the day
  matters: "overdue" is as of ``Settings.current_date()``, which the roadmap states);
- the runbooks the reviewed incidents' failure modes touch, as "update needed" items: a failure mode maps
  to runbooks by its name or its category (``runbook_map``, default ``DEFAULT_RUNBOOK_MAP``); an unmapped
  mode touches the incident runbook;
- a suggested chaos or game-day exercise for every failure mode that recurred on a service
  (``v_failure_mode_recurrence``), by category.

The template is ``roadmap.md.j2`` (overridable like the postmortem's, ``PIR_PUBLISH_TEMPLATES``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import pandas as pd

from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.files import write_atomic
from pirlib.publish.render import render_template
from pirlib.values import clean_text, is_missing, safe_url

__all__ = ["DEFAULT_RUNBOOK_MAP", "EXERCISES", "roadmap_data", "runbooks_for", "write_roadmap"]

# Keys are modes or categories of pir's default taxonomy (pirlib/failure_modes/taxonomy.yaml), the one
# vocabulary every surface uses; a team with its own taxonomy maps its modes with ``runbook_map``.
DEFAULT_RUNBOOK_MAP: dict[str, tuple[str, ...]] = {
    "change": ("deployment", "incident"),
    "capacity": ("incident",),
    "dependency": ("incident",),
    "infrastructure": ("incident",),
    "data": ("payments", "disputes", "incident"),
}
FALLBACK_RUNBOOKS = ("incident",)
# By failure mode first, then by category (as the runbook map).
EXERCISES = {
    "Expired certificate or secret": "Game day: let a staging certificate of {service} run to expiry; the expiry alert must fire days ahead",
    "Network": "Chaos exercise: point a staging DNS record of {service} at the wrong target; time the detection",
    "Config change": "Chaos exercise: push an invalid configuration or a feature flag for the wrong audience to {service} in staging; validation, an alert or the kill switch must stop it",
    "Third party": "Load test {service} against its providers' rate limits and an outage of one; check backoff, fallbacks and the alerts",
    "Human procedure": "Game day: a dry run of {service}'s manual runbook steps by someone who has not done them",
    "change": "Game day: ship a deliberately faulty canary of {service} and time detection and rollback",
    "capacity": "Load test {service} to saturation; check autoscaling, load shedding and the alerts",
    "dependency": "Chaos exercise: cut {service} off from its failing dependency; check fallbacks and alerts",
    "infrastructure": "Game day: fail over the database behind {service} during working hours",
    "data": "Restore drill: recover {service}'s data from backup and reconcile it",
}
EXERCISE_FALLBACK = "Game day: replay the {mode} failure on {service}"
NO_MODE = "Failure mode not set"
NO_SERVICE = "no service"


def runbooks_for(mode: str | None, category: str | None, mapping: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The runbooks a failure mode touches: by its name, else its category, else the incident runbook."""
    return mapping.get(mode or "") or mapping.get(category or "") or FALLBACK_RUNBOOKS


def roadmap_data(con: Connection, settings: Settings, today: dt.date) -> dict[str, Any]:
    """The roadmap's three parts as plain values, read through an open connection."""
    mapping = dict(settings.runbook_map) if settings.runbook_map else DEFAULT_RUNBOOK_MAP
    # Every mode here is v_incident_failure_modes' (the facilitator's, else the taxonomy's) and every
    # category the taxonomy's, so that the three parts speak one vocabulary.
    actions = con.execute(
        """
        SELECT a.key, a.summary, a.owner, a.status, a.status_category, a.due_date, a.url, a.is_done,
               a.done_late, a.incident_key, coalesce(m.failure_mode, $none) AS failure_mode,
               coalesce(a.service, $noservice) AS service
        FROM v_action_status AS a LEFT JOIN v_incident_failure_modes AS m ON m.incident_id = a.incident_id
        ORDER BY failure_mode = $none, failure_mode, service, a.is_done, a.due_date NULLS LAST, a.key
        """,
        {"none": NO_MODE, "noservice": NO_SERVICE},
    ).df()
    reviewed = con.execute(
        """
        SELECT i.key, m.failure_mode, m.category
        FROM incidents AS i JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
        WHERE NOT i.deleted AND m.mode_source <> 'fallback' AND i.resolved_at IS NOT NULL
          AND i.severity IN (SELECT unnest($severities))
        ORDER BY coalesce(i.started_at, i.created_at) DESC, i.key
        """,
        {"severities": list(settings.review_severities)},
    ).df()
    recurred = con.execute(
        """
        SELECT r.failure_mode, r.service, t.category, count(*) + 1 AS occurrences,
               max(r.occurred_at) AS last_at, arg_max(r.key, r.occurred_at) AS last_key
        FROM v_failure_mode_recurrence AS r LEFT JOIN failure_mode_taxonomy AS t ON t.mode = r.failure_mode
        GROUP BY ALL ORDER BY occurrences DESC, last_at DESC, r.failure_mode, r.service
        """
    ).df()
    return {
        "today": today,
        "groups": _groups(actions, today),
        "runbooks": _runbooks(reviewed, mapping),
        "exercises": [
            {
                "mode": row["failure_mode"],
                "service": row["service"] or NO_SERVICE,
                "occurrences": int(row["occurrences"]),
                "last_at": row["last_at"],
                "last_key": row["last_key"],
                "suggestion": (
                    EXERCISES.get(row["failure_mode"])
                    or EXERCISES.get(clean_text(row["category"]))
                    or EXERCISE_FALLBACK
                ).format(mode=row["failure_mode"], service=row["service"] or NO_SERVICE),
            }
            for row in recurred.to_dict("records")
        ],
        "action_count": len(actions),
    }


def _state(row: dict[str, Any], today: dt.date) -> str:
    if row["is_done"]:
        return "done late" if row["done_late"] else "done"
    due = row["due_date"]
    if not is_missing(due) and pd.Timestamp(due).date() < today:
        return "overdue"
    return "open"


def _groups(actions: pd.DataFrame, today: dt.date) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for row in actions.to_dict("records"):
        if not groups or (groups[-1]["mode"], groups[-1]["service"]) != (row["failure_mode"], row["service"]):
            groups.append({"mode": row["failure_mode"], "service": row["service"], "open": 0, "done": 0, "actions": []})
        group = groups[-1]
        state = _state(cast("dict[str, Any]", row), today)
        group["done" if state.startswith("done") else "open"] += 1
        due = row["due_date"]
        group["actions"].append(
            {
                "key": row["key"],
                "url": safe_url(row["url"]),
                "summary": clean_text(row["summary"]),
                "incident_key": row["incident_key"],
                "owner": clean_text(row["owner"]) or None,
                "status": clean_text(row["status"]) or None,
                "state": state,
                "due_date": None if is_missing(due) else pd.Timestamp(due).date().isoformat(),
            }
        )
    return groups


def _runbooks(reviewed: pd.DataFrame, mapping: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    touched: dict[str, dict[str, list[str]]] = {}
    for row in reviewed.to_dict("records"):
        for book in runbooks_for(row["failure_mode"], clean_text(row["category"]), mapping):
            touched.setdefault(book, {}).setdefault(row["failure_mode"], []).append(row["key"])
    return [
        {
            "name": book,
            "modes": [
                {"mode": mode, "incidents": keys[:5], "more": max(0, len(keys) - 5), "count": len(keys)}
                for mode, keys in sorted(modes.items())
            ],
        }
        for book, modes in sorted(touched.items())
    ]


def write_roadmap(con: Connection, settings: Settings, out: Path | str | None = None) -> tuple[Path, dict[str, int]]:
    """Regenerate the roadmap file; return its path and what it holds (actions, runbooks, exercises)."""
    data = roadmap_data(con, settings, settings.current_date())
    text = render_template("md", "roadmap.md.j2", data, settings.publish_templates)
    path = write_atomic(Path(out or settings.roadmap_path), text)
    return path, {
        "actions": data["action_count"],
        "runbooks": len(data["runbooks"]),
        "exercises": len(data["exercises"]),
    }

"""Custom field discovery: turn the configured field names or ids into this Jira site's field ids.

Custom field ids differ per site (Epic Link is ``customfield_12311120`` on Apache's Jira and
``customfield_10014`` on most Cloud sites), and display names are not unique (Apache has six fields named
"Severity"). So each setting may be an id or a display name; a name must match exactly one field of the
site's ``/rest/api/2/field`` catalogue, and an ambiguous or unknown required name stops the sync with the
candidates listed, instead of silently loading the wrong field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pirlib.config import Settings
from pirlib.errors import ConfigError

__all__ = ["FieldMap", "resolve_fields"]

_FIELD_ID = re.compile(r"^customfield_\d+$")


@dataclass(frozen=True)
class FieldMap:
    """Field ids of this Jira site for the columns pir fills from custom fields (None: not on this site)."""

    severity: str | None
    failure_mode: str | None
    epic_link: str | None = None
    success_metric: str | None = None
    verification: str | None = None
    action_type: str | None = None
    team: str | None = None
    commander: str | None = None
    incident_start: str | None = None
    customer_impact: str | None = None
    regulatory: str | None = None


# Fields pir looks up by a fixed display name (no setting): the name a team gives them in Jira set-up.
FIXED_NAMES = {
    "action_type": "Action Type",
    "team": "Team",
    "commander": "Incident Commander",
    "incident_start": "Incident Start",
    "customer_impact": "Customer Impact",
    "regulatory": "Regulatory Reporting",
}

# Configurable fields: FieldMap attribute -> Settings attribute.
SETTING_FOR = {
    "severity": "severity_field",
    "failure_mode": "failure_mode_field",
    "epic_link": "epic_link_field",
    "success_metric": "success_metric_field",
    "verification": "verification_field",
}
_REQUIRED = ("severity", "failure_mode")


def resolve_fields(catalogue: list[dict[str, Any]], settings: Settings) -> FieldMap:
    """Resolve every field pir reads against the site's field catalogue (the body of GET /field).

    Severity and failure mode are required: a missing or ambiguous one raises ConfigError naming the
    setting and the candidates. Every other field is None when the site lacks it (Cloud has no Epic Link;
    pir uses ``parent`` there).
    """
    by_id = {str(f.get("id")): f for f in catalogue if f.get("id") is not None}
    resolved: dict[str, str | None] = {}
    for attr, setting in SETTING_FOR.items():
        wanted = getattr(settings, setting)
        resolved[attr] = _resolve(catalogue, by_id, wanted, setting, required=attr in _REQUIRED)
    for attr, name in FIXED_NAMES.items():
        resolved[attr] = _resolve(catalogue, by_id, name, None, required=False)
    return FieldMap(**resolved)


def _resolve(
    catalogue: list[dict[str, Any]],
    by_id: dict[str, dict[str, Any]],
    wanted: str | None,
    setting: str | None,
    *,
    required: bool,
) -> str | None:
    if not wanted:
        return None
    wanted = wanted.strip()
    env = f"PIR_{setting.upper()}" if setting else None
    if wanted in by_id:
        return wanted
    if _FIELD_ID.match(wanted) and setting is not None:
        # Defaults are names, so an id always came from the user: one the site lacks is a typo or a
        # field of another site, and saying so beats loading an empty column.
        raise ConfigError(
            f"{env}={wanted}: this Jira site has no field with that id; "
            f"check the id in Jira's field settings{_suggest(catalogue, wanted)}"
        )
    matches = [f for f in catalogue if f.get("name") == wanted]
    if not matches:
        folded = wanted.casefold()
        matches = [f for f in catalogue if str(f.get("name", "")).casefold() == folded]
    if len(matches) == 1:
        return str(matches[0]["id"])
    if len(matches) > 1:
        matches = sorted(matches, key=lambda f: str(f["id"]))
        listed = ", ".join(f"{f['id']} ({_type_of(f)})" for f in matches)
        if setting is None:
            # Nothing to configure for a fixed-name optional field: leaving it empty beats guessing.
            return None
        raise ConfigError(
            f"{env}: {len(matches)} fields are named {wanted!r} on this Jira site: {listed}; "
            f"set {env}=<one of these ids>, for example {env}={matches[0]['id']}"
        )
    if required:
        raise ConfigError(
            f"{env}: no field named {wanted!r} on this Jira site; "
            f"set {env} to the field's id or exact name{_suggest(catalogue, wanted)}"
        )
    return None


def _type_of(field: dict[str, Any]) -> str:
    schema = field.get("schema") or {}
    custom = schema.get("custom")
    if custom:
        return str(custom).rsplit(":", 1)[-1]
    return str(schema.get("type") or "no schema")


def _suggest(catalogue: Iterable[dict[str, Any]], wanted: str) -> str:
    fields = list(catalogue)
    names = sorted({str(f.get("name")) for f in fields if f.get("name")})
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.6)
    if not close:
        folded = wanted.casefold()
        close = [n for n in names if folded in n.casefold() or n.casefold() in folded][:5]
    if not close:
        return ""
    shown = []
    for name in close:
        ids = [str(f["id"]) for f in fields if f.get("name") == name]
        shown.append(f"{name!r} ({', '.join(ids)})")
    return "; close matches: " + ", ".join(shown)

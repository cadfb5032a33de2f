"""Custom field discovery: turn the configured field names or ids into this Jira site's field ids.

Custom field ids differ per site (Epic Link is ``customfield_12311120`` on Apache's Jira and
``customfield_10014`` on most Cloud sites), and display names are not unique (Apache has six fields named
"Severity"). So each setting may be an id or a display name; a name must match exactly one field of the
site's ``/rest/api/2/field`` catalogue, and an ambiguous or unknown required name stops the sync with the
candidates listed, instead of silently loading the wrong field.

Severity is required. The failure-mode field is optional: most sites have none, and the taxonomy's rules
and the facilitator classify without it. Only a failure-mode field someone configured (an id or a name
other than the default "Failure Mode") must exist. Severity may be Jira's system ``priority``; its names
then go through ``severity_map`` (``PIR_SEVERITY_MAP``) to the severity levels the runbook uses.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pirlib.config import Settings
from pirlib.errors import ConfigError

if TYPE_CHECKING:  # the client imports the `jira` package, which a demo load does not need
    from pirlib.jira_sync.client import JiraClient

__all__ = ["DEFAULT_FAILURE_MODE_FIELD", "FieldMap", "check_site", "describe", "resolve_fields"]

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
    # Jira value -> severity level (setting ``severity_map``), compared case-insensitively; values the map
    # does not name are kept as Jira has them.
    severity_values: tuple[tuple[str, str], ...] = ()


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
_REQUIRED = ("severity",)
# The failure-mode field looked up when the setting is not given; a site without it still syncs.
DEFAULT_FAILURE_MODE_FIELD = "Failure Mode"
# Each field's name in the report `pir init` and `pir sync` print (docs/jira-setup.md says what each unlocks).
LABELS = {
    "severity": "severity",
    "failure_mode": "failure mode",
    "epic_link": "epic link",
    "success_metric": "success metric",
    "verification": "verification method",
    "action_type": "action type",
    "team": "team",
    "commander": "incident commander",
    "incident_start": "incident start",
    "customer_impact": "customer impact",
    "regulatory": "regulatory reporting",
}
CLASSIFIED_WITHOUT_FIELD = (
    "failure mode: no Jira field, so each incident's mode comes from the facilitator's choice in the guide, "
    "else the taxonomy's rules (labels, then components, then summary phrases), else its fallback"
)


def resolve_fields(catalogue: list[dict[str, Any]], settings: Settings) -> FieldMap:
    """Resolve every field pir reads against the site's field catalogue (the body of GET /field).

    Severity is required: a missing or ambiguous one raises ConfigError naming the setting and the
    candidates, as does a configured failure-mode field the site lacks. The failure-mode field by its
    default name and every other field are None when the site lacks them (Cloud has no Epic Link; pir
    uses ``parent`` there).
    """
    by_id = {str(f.get("id")): f for f in catalogue if f.get("id") is not None}
    resolved: dict[str, str | None] = {}
    for attr, setting in SETTING_FOR.items():
        wanted = getattr(settings, setting)
        required = attr in _REQUIRED
        if attr == "failure_mode":
            # None: the default name, when the site has it; "": the team said it has none.
            required = wanted is not None and wanted != ""
            wanted = DEFAULT_FAILURE_MODE_FIELD if wanted is None else wanted
        resolved[attr] = _resolve(catalogue, by_id, wanted, setting, required=required)
    for attr, name in FIXED_NAMES.items():
        resolved[attr] = _resolve(catalogue, by_id, name, None, required=False)
    if resolved["severity"] == "priority" and not settings.severity_map:
        raise ConfigError(
            "PIR_SEVERITY_FIELD=priority: Jira's priority names are not severity levels; set PIR_SEVERITY_MAP "
            "to map them, e.g. PIR_SEVERITY_MAP='Highest=Sev-0; High=Sev-1; Medium=Sev-2; Low=Sev-3'"
        )
    return FieldMap(**resolved, severity_values=settings.severity_map or ())


def describe(catalogue: list[dict[str, Any]], fields: FieldMap) -> list[str]:
    """What ``pir init`` and ``pir sync`` print about the site's fields: those found (with their id), those
    not found, and, without a failure-mode field, what classifies instead."""
    names = {str(f.get("id")): str(f.get("name") or f.get("id")) for f in catalogue if f.get("id") is not None}
    found, missing = [], []
    for attr, label in LABELS.items():
        field_id = getattr(fields, attr)
        if field_id:
            shown = f"{label} = {names.get(field_id, field_id)!r} ({field_id})"
            if attr == "severity" and fields.severity_values:
                shown += f", mapped {', '.join(f'{k}={v}' for k, v in fields.severity_values)}"
            found.append(shown)
        elif attr == "epic_link":
            missing.append(f"{label} (Cloud links actions by parent)")
        else:
            missing.append(label)
    lines = [f"Jira fields found: {'; '.join(found)}"]
    if missing:
        lines.append(f"Jira fields not found: {', '.join(missing)} (optional; docs/jira-setup.md says what each adds)")
    if not fields.failure_mode:
        lines.append(CLASSIFIED_WITHOUT_FIELD)
    return lines


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


def check_site(client: JiraClient, settings: Settings) -> list[str]:
    """Read the site's field catalogue through a connected ``JiraClient``, resolve the fields as a sync
    would (the same ConfigError on a bad setting) and return ``describe``'s lines, for ``pir init``."""
    catalogue = client.get("field", api="2")
    return describe(catalogue, resolve_fields(catalogue, settings))

"""Changes as timeline events: deploys, rollbacks, pull requests, feature-flag changes, config updates.

One format, as CSV or JSON. CSV: the header ``at,kind,ref,author,summary,url``. JSON: an array of objects
with those keys, or an object with ``changes`` holding that array. ``at`` is ISO 8601 (a time without an
offset is read in the zone given, default UTC) or epoch seconds; ``kind`` is one of:

======================================  =================  ====================
kind (and accepted aliases)             event source       event kind
======================================  =================  ====================
deploy (deployment, release)            deploy             deploy
rollback (revert_deploy)                deploy             rollback
pr (pull_request, merge, commit)        code               pull_request
flag (feature_flag, flag_change)        flag               flag_change
config (config_change, configuration)   config             config_change
======================================  =================  ====================

``ref`` is what changed (a version, PR number, flag or config key); ``ref`` or ``summary`` is required.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pirlib.errors import InputError
from pirlib.files import input_file, read_text
from pirlib.timeline.importers import csv_records, events_frame, load_json, parse_instant, zone

__all__ = ["COLUMNS", "KINDS", "parse_changes", "parse_change_records"]

COLUMNS = ["at", "kind", "ref", "author", "summary", "url"]
# kind alias -> (source, event kind). Pull requests get a "code" lane of their own: a merged PR is not a
# deploy, and the runbook lists code diffs apart from deploys.
KINDS = {
    "deploy": ("deploy", "deploy"),
    "deployment": ("deploy", "deploy"),
    "release": ("deploy", "deploy"),
    "rollback": ("deploy", "rollback"),
    "revert_deploy": ("deploy", "rollback"),
    "pr": ("code", "pull_request"),
    "pull_request": ("code", "pull_request"),
    "merge": ("code", "pull_request"),
    "commit": ("code", "pull_request"),
    "flag": ("flag", "flag_change"),
    "feature_flag": ("flag", "flag_change"),
    "flag_change": ("flag", "flag_change"),
    "config": ("config", "config_change"),
    "config_change": ("config", "config_change"),
    "configuration": ("config", "config_change"),
}


def parse_change_records(records: list[tuple[str, dict[str, Any]]], *, tz: str | None = None) -> pd.DataFrame:
    """Events of change records given as (where, record) pairs; ``where`` names file and line or record."""
    tzinfo = zone(tz)
    rows = []
    for where, record in records:
        values = {k.strip().lower(): ("" if v is None else str(v).strip()) for k, v in record.items() if k}
        if not any(values.values()):
            continue
        kind_raw = values.get("kind", "")
        if kind_raw.lower().replace("-", "_").replace(" ", "_") not in KINDS:
            raise InputError(f"{where}: unknown kind {kind_raw!r}; use deploy, rollback, pr, flag or config")
        source, kind = KINDS[kind_raw.lower().replace("-", "_").replace(" ", "_")]
        ref, summary, url = values.get("ref", ""), values.get("summary", ""), values.get("url", "")
        if not ref and not summary:
            raise InputError(f"{where}: both 'ref' and 'summary' are empty; say what changed")
        at = parse_instant(values.get("at"), tzinfo, where)
        text = summary or ref
        if url:
            text += f"\n{url}"
        rows.append(
            {
                "occurred_at": at,
                "source": source,
                "kind": kind,
                "actor": values.get("author") or None,
                "field": "ref" if ref else None,
                "from_value": None,
                "to_value": ref or None,
                "text": text,
                "natural_key": f"change|{kind}|{ref}|{at.isoformat()}|{'' if ref else summary}",
                "origin": where,
            }
        )
    return events_frame(rows)


def parse_changes(path: Path | str, *, tz: str | None = None) -> pd.DataFrame:
    """Events of a changes CSV or JSON file (format in the module docstring)."""
    path = input_file(path, "changes file")
    if path.suffix.lower() == ".json":
        data = load_json(path)
        if isinstance(data, dict) and isinstance(data.get("changes"), list):
            data = data["changes"]
        if not isinstance(data, list):
            raise InputError(f"{path}: expected an array of changes (or an object with 'changes')")
        records = []
        for n, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(f"{path.name}: change {n}: expected an object with {', '.join(COLUMNS)}")
            records.append((f"{path.name}: change {n}", item))
        return parse_change_records(records, tz=tz)
    header, records = csv_records(read_text(path, "CSV"), path.name)
    missing = [c for c in ("at", "kind") if c not in header]
    if missing or not ({"ref", "summary"} & set(header)):
        raise InputError(f"{path.name}: line 1: the header must be {','.join(COLUMNS)}; found {','.join(header)}")
    return parse_change_records(records, tz=tz)

"""Naming an incident the way people do: by its Jira key (any case) or by its Jira issue id."""

from __future__ import annotations

import duckdb

from pirlib.errors import InputError


def resolve_incident(con: duckdb.DuckDBPyConnection, incident: str) -> tuple[str, str]:
    """(issue_id, key) of the incident named by its key (INC-123, any case) or its Jira issue id."""
    text = str(incident).strip()
    rows = con.execute(
        "SELECT issue_id, key FROM incidents WHERE issue_id = ? OR upper(key) = upper(?)"
        " ORDER BY issue_id = ? DESC LIMIT 1",
        [text, text, text],
    ).fetchall()
    if not rows:
        raise InputError(
            f"unknown incident {text!r}: no incident has that key or id; check it, or run `pir sync` "
            "(or `pir demo`) to load incidents first"
        )
    return str(rows[0][0]), str(rows[0][1])

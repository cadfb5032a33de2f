"""Naming an incident the way people do: by its Jira key (any case) or by its Jira issue id.

Every command, the facilitator guide and the boards resolve an incident through ``resolve_incident``, so
that ``pir check inc-1007``, ``pir similar inc-1007`` and the guide all find the same incident or all
refuse it with the same line.
"""

from __future__ import annotations

from pirlib.db import Connection
from pirlib.errors import InputError

__all__ = ["resolve_incident"]


def resolve_incident(con: Connection, incident: str) -> tuple[str, str]:
    """(issue_id, key) of the incident named by its key (INC-123, any case) or its Jira issue id.

    An id wins over a key that happens to read the same; a live incident wins over one deleted in Jira.
    Unknown, empty or deleted names raise one InputError line that says what to do."""
    text = str(incident).strip()
    if not text:
        raise InputError("no incident given; name it by its key (INC-123) or its Jira issue id")
    rows = con.execute(
        "SELECT issue_id, key, deleted FROM incidents WHERE issue_id = ? OR upper(key) = upper(?)"
        " ORDER BY issue_id = ? DESC, deleted ASC LIMIT 1",
        [text, text, text],
    ).fetchall()
    if not rows:
        raise InputError(
            f"unknown incident {text!r}: no incident has that key or id; check it, or run `pir sync` "
            "(or `pir demo`) to load incidents first"
        )
    issue_id, key, deleted = rows[0]
    if deleted:
        raise InputError(
            f"incident {key} was deleted in Jira (the last full sync found it gone); name another incident"
        )
    return str(issue_id), str(key)

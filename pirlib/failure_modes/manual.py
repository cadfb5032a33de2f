"""The facilitator's own failure mode for an incident: stored in ``failure_mode_overrides``, which no sync
writes, so it wins over the Jira field and the rules and survives ``pir sync`` and ``pir sync --full``."""

from __future__ import annotations

from typing import Any

from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.failure_modes import taxonomy
from pirlib.values import clean_text


def current(con: Connection, incident_id: str) -> dict[str, Any]:
    """The incident's row of v_incident_failure_modes: failure_mode, mode_source, mode_rule, manual_mode, ..."""
    cursor = con.execute("SELECT * FROM v_incident_failure_modes WHERE incident_id = ?", [incident_id])
    found = cursor.fetchone()
    if found is None:
        raise InputError(f"incident {incident_id!r} is not in the database; run `pir sync` or pick another")
    # a row, not a frame: a frame of one row and its to_dict cost half as much again as the query (the guide's
    # Meeting step reads this whenever it is opened)
    return {column[0]: value for column, value in zip(cursor.description or [], found, strict=True)}


def set_mode(
    con: Connection, incident_id: str, mode: str, *, set_by: str | None = None, note: str | None = None
) -> None:
    """Set the incident's mode by hand; ``mode`` must be one of the taxonomy's modes."""
    known = taxonomy.modes(con)
    chosen = clean_text(mode)
    if chosen not in known:
        raise InputError(f"failure mode {mode!r} is not in the taxonomy; pick one of: {', '.join(known)}")
    current(con, incident_id)  # the incident must exist
    con.execute(
        "INSERT INTO failure_mode_overrides (incident_id, mode, note, set_by, set_at) VALUES (?, ?, ?, ?, now())"
        " ON CONFLICT (incident_id) DO UPDATE SET mode = EXCLUDED.mode, note = EXCLUDED.note,"
        " set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
        [incident_id, chosen, clean_text(note) or None, clean_text(set_by) or None],
    )


def clear_mode(con: Connection, incident_id: str) -> None:
    """Drop the manual mode: the Jira field or the rules decide again."""
    con.execute("DELETE FROM failure_mode_overrides WHERE incident_id = ?", [incident_id])

"""The facilitator's own failure mode for an incident: stored in ``failure_mode_overrides``, which no sync
writes, so it wins over the Jira field and the rules and survives ``pir sync`` and ``pir sync --full``."""

from __future__ import annotations

from typing import Any

from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.failure_modes import taxonomy
from pirlib.values import clean_text, frame_row


def current(con: Connection, incident_id: str) -> dict[str, Any]:
    """The incident's row of v_incident_failure_modes: failure_mode, mode_source, mode_rule, manual_mode, ..."""
    found = frame_row(con.execute("SELECT * FROM v_incident_failure_modes WHERE incident_id = ?", [incident_id]))
    if found is None:
        raise InputError(f"incident {incident_id!r} is not in the database; run `pir sync` or pick another")
    return found


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

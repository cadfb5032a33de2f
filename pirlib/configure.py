"""The configured values the views read, written into the database by the edges that open it for a command.

The views read four things from settings: the runbook's stage deadlines and the severities that require a
review (written by ``review.clock``), the recurrence window (``failure_modes.recurrence``) and the
failure-mode taxonomy (``failure_modes.taxonomy``). ``db.migrate`` only migrates; ``apply`` writes these,
each through the module that owns its table. The edges call it: `pir init` and every command that writes
the database (``cli``), the guide when it starts, a sync and the demo load. So a changed setting takes effect
on the next command, as it did when the migration wrote them. Readers that only read (the boards, `pir sql`,
`pir export`) see what the last of those wrote.

It sits above ``db`` and the tables' owners, so that ``db`` imports none of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from pirlib import db
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.failure_modes import recurrence, similar, taxonomy
from pirlib.review import clock

__all__ = ["apply", "open_configured", "prepare"]


def apply(con: Connection, settings: Settings, modes: taxonomy.Taxonomy | None = None) -> None:
    """Write the configured values into the open, migrated database (values already there stay untouched).

    ``modes`` is the taxonomy already read from ``failure_mode_taxonomy`` (`pir init` reads it before it
    migrates, so that a bad file fails before any write); otherwise it is read here, before any write.
    """
    modes = modes or taxonomy.load(settings.failure_mode_taxonomy)
    with db.transaction(con):
        clock.store_deadlines(con, settings)
        recurrence.store_window(con, settings.recurrence_window_days)
        taxonomy.store(con, modes)
    if similar.index_missing(con):  # a database migrated to 008 with incidents in it: count them once, now
        with db.transaction(con):
            similar.refresh(con)


@contextlib.contextmanager
def open_configured(settings: Settings, *, create: bool = True) -> Iterator[Connection]:
    """``db.connect`` (read-write, so migrated) with the configured values written: a command's unit of work."""
    with db.connect(settings, create=create) as con:
        apply(con, settings)
        yield con


def prepare(settings: Settings) -> None:
    """``apply`` in a connection of its own, for a command whose work opens the database further down.

    A database file that does not exist yet is left alone: a command that needs one refuses the missing file
    itself, and one that creates it has nothing yet that the configured values would change. PostgreSQL (team
    mode) is always there to configure.
    """
    if db.team_mode(settings) or Path(settings.db).is_file():
        with open_configured(settings):
            pass

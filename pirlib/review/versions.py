"""Version checks: two people saving the same action draft or meeting note never silently overwrite each other.

A draft or a note carries ``version`` (011), which every save of what people type bumps, with ``updated_by`` and
``updated_at``. A form remembers the version it showed; its save is one conditional statement (``UPDATE ...
WHERE key = ? AND version = ?``, or the same DELETE), so on both stores and under any concurrency exactly one of
two saves made from the same version lands. The other changes nothing and becomes a ``VersionConflict``: one
line saying who changed the row and when, and to reload ("draft: changed by alice at 14:03 UTC since you
opened it; ...").

Who saved: the name the guide was opened with, else the signed-in JupyterHub user (``JUPYTERHUB_USER``, which
the Hub sets in every single-user server it spawns), else the operating-system user (one person on a laptop).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pirlib.db import Connection
from pirlib.errors import InputError
from pirlib.values import as_utc

__all__ = ["Versioned", "VersionConflict", "delete", "editor", "update"]


class VersionConflict(InputError):
    """Someone else saved the row since the form read it; nothing was written."""


def editor(user: str | None = None) -> str:
    """Who is saving, as the conflict message names them (see the module's docstring)."""
    named = (user or "").strip() or os.environ.get("JUPYTERHUB_USER", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no USER in the environment
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class Versioned:
    """A table whose rows carry a version: its key column, what a person calls a row, where they reload it."""

    table: str
    key: str
    what: str  # "draft", "note": the first word of the message
    reload: str  # how to see the other person's change, e.g. "reload the draft (its Edit button)"


def update(
    con: Connection,
    kind: Versioned,
    key: str,
    version: int,
    values: Mapping[str, Any],
    by: str,
    at: dt.datetime,
    *,
    only_if: str = "",
    only_if_params: Sequence[Any] = (),
) -> int | None:
    """Write ``values`` to the row if it still has ``version``; return its new version.

    None when no row matched for a reason other than the version (the row is gone, or ``only_if``, an extra
    SQL condition, does not hold): the caller says which. A newer version raises ``VersionConflict``."""
    assignments = "".join(f"{column} = ?, " for column in values)
    row = con.execute(
        f"UPDATE {kind.table} SET {assignments}version = version + 1, updated_by = ?, updated_at = ? "
        f"WHERE {kind.key} = ? AND version = ?{only_if} RETURNING version",
        [*values.values(), by, at, key, version, *only_if_params],
    ).fetchone()
    if row is not None:
        return int(row[0])
    _raise_if_changed(con, kind, key, version, at)
    return None


def delete(
    con: Connection,
    kind: Versioned,
    key: str,
    version: int,
    at: dt.datetime,
    *,
    only_if: str = "",
    only_if_params: Sequence[Any] = (),
    returning: str | None = None,
) -> list[tuple[Any, ...]]:
    """Delete the row if it still has ``version`` (and ``only_if`` holds); return its ``returning`` columns (its
    key by default), or nothing when no row was deleted.

    A newer version raises ``VersionConflict``: deleting what someone changed a moment ago would lose it."""
    rows = con.execute(
        f"DELETE FROM {kind.table} WHERE {kind.key} = ? AND version = ?{only_if} RETURNING {returning or kind.key}",
        [key, version, *only_if_params],
    ).fetchall()
    if not rows:
        _raise_if_changed(con, kind, key, version, at)
    return rows


def _raise_if_changed(con: Connection, kind: Versioned, key: str, version: int, at: dt.datetime) -> None:
    row = con.execute(
        f"SELECT version, updated_by, updated_at FROM {kind.table} WHERE {kind.key} = ?", [key]
    ).fetchone()
    if row is None or int(row[0]) == version:
        return
    changed = as_utc(row[2])
    when = "at an unknown time" if changed is None else _when(changed, at)
    raise VersionConflict(
        f"{kind.what}: changed by {row[1] or 'someone else'} {when} since you opened it; nothing was saved: "
        f"{kind.reload} to see their change, then make yours again"
    )


def _when(changed: dt.datetime, now: dt.datetime) -> str:
    changed = changed.astimezone(dt.UTC)
    if changed.date() == now.astimezone(dt.UTC).date():
        return f"at {changed:%H:%M} UTC"
    return f"on {changed:%Y-%m-%d} at {changed:%H:%M} UTC"

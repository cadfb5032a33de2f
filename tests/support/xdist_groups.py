"""Which tests pytest-xdist keeps on one worker under ``--dist loadgroup`` (applied by tests/conftest.py).

All browser tests form one group, so that one worker runs them one after another: at most one Voila server
with its kernels and one Chromium at a time, and a page timeout measures the page, not a crowded machine.
The other tests that use a module-scoped fixture (a server, a built database) are grouped by module, so that
the fixture is built once rather than once per worker. A test's own ``xdist_group`` mark wins.
"""

from __future__ import annotations

import pytest

BROWSER_GROUP = "browser"


def group_of(item: pytest.Item) -> str | None:
    """The xdist group ``item`` belongs in, or None when any worker may run it."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    if item.get_closest_marker("browser"):
        return BROWSER_GROUP
    fixtures = getattr(item, "_fixtureinfo", None)
    definitions = fixtures.name2fixturedefs.values() if fixtures is not None else ()
    if any(defs[-1].scope in ("module", "class") for defs in definitions if defs):
        return item.nodeid.split("::")[0]  # the module's file
    return None


def apply(items: list[pytest.Item], loadgroup: bool) -> None:
    """Mark each item with its group; under ``--dist loadgroup`` also put the group into its id, which is
    where xdist's scheduler reads it.

    xdist 3.8 appends "@group" to ``item._nodeid``, but pytest 9.2 keeps the id as a structured ``item._id``
    and no longer reads that field, so the groups are silently ignored (pytest-xdist issue 1386, open when
    this was written). Where the id is structured and carries no group yet, this writes it there."""
    for item in items:
        group = group_of(item)
        if group is None:
            continue
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
        node_id = getattr(item, "_id", None)
        if loadgroup and node_id is not None and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = type(node_id).parse(f"{item.nodeid}@{group}")

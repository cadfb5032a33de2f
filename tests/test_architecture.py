"""The import graph of pirlib: no cycle between modules, and no import from a lower layer into a higher one.

The layers are written down once, as the table under "## Layers" in docs/architecture.md; this test reads it.
Every import counts: at the top of a module, inside a function, and under ``if TYPE_CHECKING:`` (a cycle that
only the type checker sees is still two modules that cannot be understood apart).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pirlib"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


@dataclass(frozen=True)
class Import:
    """``source`` imports ``target`` (both dotted module names) at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def modules(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path, package: str = PACKAGE) -> list[Import]:
    """Every import of one module of the package by another, wherever it stands in the file."""
    known = modules(root, package)
    found = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package, one level up per extra dot
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                # `from pirlib.ui import html` imports the module pirlib.ui.html; `from pirlib.db import x` pirlib.db
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for target in targets:
                while target not in known and "." in target:  # `import pirlib.ui.html.x` names pirlib.ui.html
                    target = target.rsplit(".", 1)[0]
                if target in known and target != name:
                    found.append(Import(name, target, path, node.lineno))
    return found


def layers(text: str) -> list[tuple[str, list[str]]]:
    """The Layers table of docs/architecture.md, top layer first: (layer, [entry, ...]).

    A cell names files as the layout does: a module (`db.py`) or a package with all it holds (`timeline/`)."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    return [
        (layer.strip(), re.findall(r"`([\w/.]+)`", cell))
        for layer, cell in re.findall(r"^\|\s*\*\*([\w ]+)\*\*\s*\|(.+)\|\s*$", section, flags=re.M)
    ]


def holds(entry: str, module: str) -> bool:
    """Whether a table entry (`db.py`, `timeline/`, `__init__.py`) holds the dotted module."""
    package = entry.endswith("/")
    name = entry.removesuffix("/").removesuffix(".py")
    dotted = PACKAGE if name == "__init__" else f"{PACKAGE}.{name.replace('/', '.')}"
    return module == dotted or (package and module.startswith(dotted + "."))


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> tuple[int, str] | None:
    """(rank, layer) of a module, rank 0 the bottom layer; the most specific entry decides."""
    best: tuple[int, int, str] | None = None
    for rank, (layer, entries) in enumerate(reversed(table)):
        for entry in entries:
            if holds(entry, module) and (best is None or len(entry) > best[0]):
                best = (len(entry), rank, layer)
    return None if best is None else (best[1], best[2])


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, in sorted order."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules (about a hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def cycle_problems(edges: list[Import], root: Path) -> list[str]:
    out = []
    for component in cycles(edges):
        members = set(component)
        links = [e for e in edges if e.source in members and e.target in members]
        out.append(
            "import cycle between "
            + ", ".join(component)
            + ": "
            + "; ".join(f"{e.where(root)} imports {e.target}" for e in links)
            + ". Fix: move what the lower module needs out of the higher one (or into a module both import),"
            " so that the imports run one way"
        )
    return out


def layer_problems(
    edges: list[Import], table: list[tuple[str, list[str]]], root: Path, known: Mapping[str, Path]
) -> list[str]:
    """Upward imports, modules in no layer and table entries that name no module, each as one line."""
    doc = "docs/architecture.md"
    out = [
        f"{path.relative_to(root)} is in no layer: add it (or its package) to the Layers table in {doc}"
        for name, path in known.items()
        if layer_of(name, table) is None
    ]
    out += [
        f"the Layers table in {doc} names `{entry}`, which is no module of {PACKAGE}/: remove it"
        for _, entries in table
        for entry in entries
        if not any(holds(entry, name) for name in known)
    ]
    for edge in edges:
        source, target = layer_of(edge.source, table), layer_of(edge.target, table)
        if source is None or target is None or target[0] <= source[0]:
            continue
        out.append(
            f"{edge.where(root)}: {edge.source} ({source[1]} layer) imports {edge.target}, which is in the "
            f"higher {target[1]} layer. Fix: move what it needs down into the {source[1]} layer or below, "
            f"or pass it in from above; the layers are the table in {doc}"
        )
    return out


# --------------------------------------------------------------------------------------------------- pirlib


@functools.cache
def pirlib_imports() -> list[Import]:
    return imports(ROOT)  # parsed once for both tests


def test_pirlib_has_no_import_cycle() -> None:
    assert cycle_problems(pirlib_imports(), ROOT) == []


def test_pirlib_imports_only_its_own_layer_or_lower_ones() -> None:
    table = layers(ARCHITECTURE.read_text(encoding="utf-8"))
    assert [name for name, _ in table][-1] == "foundations" and len(table) >= 5, "the Layers table was not read"
    assert layer_problems(pirlib_imports(), table, ROOT, modules(ROOT)) == []


# ----------------------------------------------------------------------------- the checker on a made-up package


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


TABLE_DOC = """# x

## Layers

| layer | holds |
|---|---|
| **screens** | `ui/` |
| **domain** | `timeline/`, `metrics.py` |
| **foundations** | `__init__.py`, `errors.py`, `gone.py` |

## Data flow
"""


def test_the_checker_finds_imports_in_functions_under_type_checking_and_relative_ones(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "def f():\n    from pirlib.timeline import events  # in a function\n",
            "metrics.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pirlib.ui.html\n",
            "timeline/__init__.py": "",
            "timeline/events.py": "from . import milestones\nfrom .milestones import MILESTONES\nfrom pirlib import errors\n",
            "timeline/milestones.py": "from ..errors import f\nfrom pirlib.timeline.events import x\nimport os\n",
            "ui/__init__.py": "",
            "ui/html.py": "import pirlib.timeline.events\n",
        },
    )
    edges = {(e.source, e.target, e.line) for e in imports(tmp_path)}
    assert edges == {
        ("pirlib.errors", "pirlib.timeline.events", 2),
        ("pirlib.metrics", "pirlib.ui.html", 3),
        ("pirlib.timeline.events", "pirlib.timeline.milestones", 1),
        ("pirlib.timeline.events", "pirlib.timeline.milestones", 2),
        ("pirlib.timeline.events", "pirlib.errors", 3),
        ("pirlib.timeline.milestones", "pirlib.errors", 1),
        ("pirlib.timeline.milestones", "pirlib.timeline.events", 2),
        ("pirlib.ui.html", "pirlib.timeline.events", 1),
    }


def test_the_checker_names_the_file_the_line_and_the_fix(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "\n\nfrom pirlib import metrics\n",
            "metrics.py": "from pirlib import errors\n",
            "timeline/__init__.py": "",
            "timeline/events.py": "from pirlib.ui import html\n",
            "ui/__init__.py": "",
            "ui/html.py": "from pirlib import metrics\n",
            "stray.py": "",
        },
    )
    edges = imports(tmp_path)
    assert cycle_problems(edges, tmp_path) == [
        "import cycle between pirlib.errors, pirlib.metrics: pirlib/errors.py:3 imports pirlib.metrics; "
        "pirlib/metrics.py:1 imports pirlib.errors. Fix: move what the lower module needs out of the higher one "
        "(or into a module both import), so that the imports run one way"
    ]
    problems = layer_problems(edges, layers(TABLE_DOC), tmp_path, modules(tmp_path))
    assert problems == [
        "pirlib/stray.py is in no layer: add it (or its package) to the Layers table in docs/architecture.md",
        "the Layers table in docs/architecture.md names `gone.py`, which is no module of pirlib/: remove it",
        "pirlib/errors.py:3: pirlib.errors (foundations layer) imports pirlib.metrics, which is in the higher domain "
        "layer. Fix: move what it needs down into the foundations layer or below, or pass it in from above; the "
        "layers are the table in docs/architecture.md",
        "pirlib/timeline/events.py:1: pirlib.timeline.events (domain layer) imports pirlib.ui.html, which is in the "
        "higher screens layer. Fix: move what it needs down into the domain layer or below, or pass it in from "
        "above; the layers are the table in docs/architecture.md",
    ]

"""Packaging: environment.yml (conda) mirrors pyproject.toml (pip), and package-data ships exactly the data files."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> tuple[str, str]:
    name, _, bound = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=\s*([0-9.]+))?", requirement).groups()
    return re.sub(r"[-_.]+", "-", name.lower()), (bound or "").replace(">=", "").strip()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    conda_side = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z][^:\s=]*\s*(>=\s*[0-9.]+)?)\s*$", line)
        if match and not line.strip().startswith("- -e"):
            name, bound = normalise(match.group(1))
            if name not in ("python", "pip"):
                conda_side[name] = bound
    assert conda_side == pip_side
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_package_data_globs_match_exactly_the_data_files():
    """Every package-data glob matches a file, and every file in pirlib/ that is not Python is shipped."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pirlib"]
    package = ROOT / "pirlib"
    shipped: set[Path] = set()
    for pattern in globs:
        matched = {p for p in package.glob(pattern) if p.is_file()}
        assert matched, f"package-data glob {pattern!r} matches no file: remove it"
        shipped |= matched
    data_files = {p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
                  and "__pycache__" not in p.parts}  # fmt: skip
    assert sorted(map(str, data_files - shipped)) == []

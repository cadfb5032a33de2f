"""environment.yml (conda) and pyproject.toml (pip) must name the same packages with the same bounds."""

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

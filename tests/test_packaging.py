"""Packaging: environment.yml (conda) mirrors pyproject.toml (pip), and package-data ships exactly the data files."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> tuple[str, str]:
    name, _, bound = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(>=\s*([0-9.]+))?", requirement).groups()
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
    data_files = {
        p
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }
    assert sorted(map(str, data_files - shipped)) == []


def _script_providers(scripts: set[str]) -> dict[str, set[str]]:
    """For each program name, the installed distributions that put it in the venv's bin/ (console scripts, or a
    binary in the wheel's scripts, as ruff ships)."""
    found: dict[str, set[str]] = {script: set() for script in scripts}
    for distribution in metadata.distributions():
        name = normalise(distribution.metadata["Name"])[0]
        for entry in distribution.entry_points:
            if entry.group == "console_scripts" and entry.name in found:
                found[entry.name].add(name)
        for path in distribution.files or []:
            if len(path.parts) >= 2 and path.parts[-2] == "bin" and path.parts[-1] in found:
                found[path.parts[-1]].add(name)
    return found


def test_every_pre_commit_hook_runs_a_tool_the_dev_dependencies_install():
    """The hooks are local (pre-commit cannot download hook repositories offline): each runs a program from
    .venv/bin, which `make venv` must install, so a fresh clone's `pre-commit run` finds every one."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {normalise(r)[0] for r in project["optional-dependencies"]["dev"]}
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    assert {hook["language"] for hook in hooks} == {"system"}
    programs = {hook["id"]: hook["entry"].split()[0] for hook in hooks}
    assert all(p.startswith(".venv/bin/") for p in programs.values()), programs
    providers = _script_providers({p.removeprefix(".venv/bin/") for p in programs.values()})
    for hook_id, program in programs.items():
        script = program.removeprefix(".venv/bin/")
        assert providers[script] & dev, f"hook {hook_id}: no dev dependency installs {script} ({providers[script]})"

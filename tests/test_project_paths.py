"""Paths never depend on the working directory of a kernel: the project folder (PIR_HOME, else the nearest
folder holding pir.toml or data/pir.duckdb) is what the database, pir.toml and every output folder resolve
against, and a notebook opened outside any project says so in one line instead of creating a database."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from support import review_fixture as fx

from pirlib import analyst, serve
from pirlib.config import load_settings
from pirlib.errors import ConfigError
from pirlib.publish import pipeline
from pirlib.ui.facilitator.wizard import FacilitatorWizard, guide

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder like a checkout after `pir demo`: data/pir.duckdb, notebooks/, no pir.toml."""
    for name in [n for n in os.environ if n.startswith("PIR_")]:
        monkeypatch.delenv(name)
    folder = tmp_path / "project"
    fx.build(folder / "data" / "pir.duckdb")
    shutil.copytree(NOTEBOOKS, folder / "notebooks")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("PIR_TODAY", fx.TODAY.isoformat())
    return folder


def test_relative_settings_resolve_against_the_project_from_any_folder_in_it(project: Path, monkeypatch) -> None:
    (project / "pir.toml").write_text('published_dir = "out/published"\nroadmap_path = "docs/roadmap.md"\n')
    for cwd in (project, project / "notebooks"):
        monkeypatch.chdir(cwd)
        settings = load_settings()
        assert settings.home == project
        assert settings.db == project / "data" / "pir.duckdb"
        assert settings.published_dir == project / "out" / "published"
        assert settings.roadmap_path == project / "docs" / "roadmap.md"
        assert settings.sample_dir == project / "data" / "sample"
    monkeypatch.chdir(project.parent / "elsewhere")
    monkeypatch.setenv("PIR_HOME", str(project))
    assert load_settings().db == project / "data" / "pir.duckdb"  # PIR_HOME wins over the working directory
    monkeypatch.setenv("PIR_HOME", str(project / "missing"))
    with pytest.raises(ConfigError, match=r"^PIR_HOME: .*missing is not a folder; set it to the pir project"):
        load_settings()


def test_the_guide_from_notebooks_publishes_where_it_says(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "notebooks")
    wizard = FacilitatorWizard(load_settings(require_project=True), incident=fx.STAGE31_KEY, render_figures=False)
    result = pipeline.publish(wizard.settings, fx.STAGE31_KEY, formats=["md"])
    assert [f.parent for f in result.files] == [project / "data" / "published"]
    assert any(str(project / "data" / "published") in line for line in result.lines())
    assert not (project / "notebooks" / "data").exists()


def test_the_guide_and_the_analyst_outside_a_project_say_so_and_create_nothing(project: Path, monkeypatch) -> None:
    elsewhere = project.parent / "elsewhere"
    monkeypatch.chdir(elsewhere)
    shown = guide()
    assert "pir-guide-error" in shown._dom_classes
    assert shown.value.count("pir: error: no pir project in ") == 1 and "PIR_HOME" in shown.value
    with pytest.raises(ConfigError, match="^no pir project in "):
        analyst.run("SELECT 1")
    assert list(elsewhere.iterdir()) == []


def test_the_analyst_reads_the_project_database_without_pir_db(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "notebooks")
    assert analyst.run("SELECT count(*) AS n FROM incidents")["n"].iloc[0] == len(fx.incidents_frame())


def test_pir_lab_passes_the_project_to_its_kernels(project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "notebooks")
    env = serve.kernel_environment(load_settings(), base={})
    assert env["PIR_HOME"] == str(project) and env["PIR_DB"] == str(project / "data" / "pir.duckdb")


def _run_notebook(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def _outputs(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


@pytest.mark.slow
def test_real_kernels_in_notebooks_and_in_an_unrelated_folder(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_TODAY=fx.TODAY.isoformat(), PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    guide_run = _outputs(_run_notebook(project / "notebooks" / "facilitator_guide.ipynb", env))
    assert "pir: error" not in guide_run and "Traceback" not in guide_run
    analyst_run = _outputs(_run_notebook(project / "notebooks" / "analyst_examples.ipynb", env))
    assert '"output_type": "error"' not in analyst_run
    assert not (project / "notebooks" / "data").exists()
    elsewhere = project.parent / "elsewhere"
    shutil.copy(project / "notebooks" / "facilitator_guide.ipynb", elsewhere)
    lost = _outputs(_run_notebook(elsewhere / "facilitator_guide.ipynb", env))
    assert "pir: error: no pir project in" in lost and '"output_type": "error"' not in lost
    assert sorted(p.name for p in elsewhere.iterdir()) == ["facilitator_guide.ipynb"]

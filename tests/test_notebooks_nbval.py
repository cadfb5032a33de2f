"""Every notebook runs top to bottom under nbval: the dashboards against a fixture, an empty and the demo
database, the facilitator guide and the analyst examples against the demo database.

The same check by hand (what `make test` runs through this file):

    PIR_DB=path/to/pir.duckdb PIR_TODAY=2026-11-01 .venv/bin/pytest --nbval --nbval-current-env dashboards/ notebooks/

Notebooks are kept stripped (`nbstripout --keep-count`), so nbval has no reference outputs to compare and
fails exactly when a cell raises. "Today" comes in through PIR_TODAY rather than by sanitising output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support import dashboard_fixture

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.ipynb"))
GUIDES = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 10


def run_nbval(
    database: Path, tmp_path: Path, folder: str = "dashboards", today: str = dashboard_fixture.TODAY
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_DB=str(database), PIR_TODAY=today)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(ROOT),
            str(ROOT / folder),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_passed(result: subprocess.CompletedProcess, notebooks: list[Path] = DASHBOARDS) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    cells = sum(1 for nb in notebooks for cell in nbformat.read(nb, 4).cells if cell.cell_type == "code")
    assert f"{cells} passed" in output, output


def test_there_are_dashboards_and_the_guide():
    assert "overview.ipynb" in [p.name for p in DASHBOARDS]
    assert {"facilitator_guide.ipynb", "analyst_examples.ipynb"} <= {p.name for p in GUIDES}


@pytest.mark.parametrize("path", DASHBOARDS + GUIDES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_thin_and_stripped(path):
    notebook = nbformat.read(path, 4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        assert len(lines) <= MAX_CELL_LINES, f"{path.name}: a cell of {len(lines)} lines; move logic to pirlib"
        assert not any(line.lstrip().startswith(("def ", "class ", "async def ")) for line in lines), path.name
        assert cell.outputs == [], f"{path.name}: outputs committed; run nbstripout --keep-count"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.slow
def test_dashboards_run_on_the_fixture_database(tmp_path):
    database = tmp_path / "pir.duckdb"
    dashboard_fixture.build(database)
    assert_passed(run_nbval(database, tmp_path))


@pytest.mark.slow
def test_dashboards_run_without_a_database(tmp_path):
    assert_passed(run_nbval(tmp_path / "missing.duckdb", tmp_path))
    assert not (tmp_path / "missing.duckdb").exists()


@pytest.mark.slow
def test_dashboards_run_on_the_demo_database(tmp_path):
    from pirlib import demo
    from pirlib.config import Settings

    database = tmp_path / "pir.duckdb"
    demo.load_demo(Settings(db=database, sample_dir=tmp_path / "sample"))
    assert_passed(run_nbval(database, tmp_path))


@pytest.mark.slow
def test_facilitator_guide_runs_on_the_demo_database(tmp_path):
    from pirlib import demo
    from pirlib.config import Settings

    database = tmp_path / "pir.duckdb"
    demo.load_demo(Settings(db=database, sample_dir=tmp_path / "sample"))
    # The day after Stage-31 closed: its review clock is running, as for a facilitator starting on it.
    guide = ROOT / "notebooks" / "facilitator_guide.ipynb"
    assert_passed(run_nbval(database, tmp_path, "notebooks/facilitator_guide.ipynb", today="2025-09-06"), [guide])


@pytest.mark.slow
def test_analyst_examples_run_on_the_demo_database(tmp_path):
    from pirlib import demo
    from pirlib.config import Settings

    database = tmp_path / "pir.duckdb"
    demo.load_demo(Settings(db=database, sample_dir=tmp_path / "sample"))
    analyst = ROOT / "notebooks" / "analyst_examples.ipynb"
    assert_passed(run_nbval(database, tmp_path, "notebooks/analyst_examples.ipynb", today="2026-11-01"), [analyst])


@pytest.mark.slow
def test_nbval_fails_when_a_cell_raises(tmp_path):
    """The check can fail: a dashboard cell that raises makes the same nbval run exit non-zero."""
    broken = tmp_path / "dashboards"
    broken.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from pirlib.ui import boards\n1 / 0")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, broken / "broken.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q", str(broken)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 1, result.stdout
    assert "ZeroDivisionError" in result.stdout

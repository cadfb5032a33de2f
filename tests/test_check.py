"""`pir check`: the review-quality report over the sample database, through the real command."""

import os
import subprocess
import sys

import pytest

from pirlib import cli, db, demo
from pirlib.review.clock import candidates
from pirlib.config import Settings


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    settings = Settings(db=root / "pir.duckdb", sample_dir=root / "sample")
    demo.load_demo(settings)
    return settings


def pir(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_DB=str(settings.db), PIR_TODAY="2026-11-01")
    return subprocess.run([sys.executable, "-m", "pirlib", "check", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def open_reviews(settings: Settings) -> list:
    with db.connect(settings, read_only=True) as con:
        return candidates(con, settings)


def stage31_key(settings: Settings) -> str:
    return next(c.key for c in open_reviews(settings) if c.summary.startswith("Stage-31"))


def test_check_one_incident_lists_its_gaps(sample_db):
    key = stage31_key(sample_db)
    result = pir(sample_db, key.lower())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{key}: ") and lines[0].endswith("gaps")
    assert any("has no owner" in line for line in lines)
    assert any("no notes for 'What went wrong'" in line for line in lines)
    assert lines[-1] == "1 review checked, 1 with gaps"


def test_check_every_open_review_and_strict_exit(sample_db):
    result = pir(sample_db)
    assert result.returncode == 0
    count = len(open_reviews(sample_db))
    assert count > 1
    assert result.stdout.splitlines()[-1] == f"{count} reviews checked, {count} with gaps"
    assert pir(sample_db, "--strict").returncode == 3


def test_check_unknown_incident_is_one_line(sample_db):
    result = pir(sample_db, "INC-99999")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "pir: error: unknown incident 'INC-99999': no incident has that key or id; check it, or run `pir sync` "
        "(or `pir demo`) to load incidents first"
    ]


def test_check_never_creates_the_database(tmp_path):
    missing = Settings(db=tmp_path / "nothing" / "pir.duckdb")
    result = pir(missing, "INC-1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"pir: error: {missing.db} does not exist yet; run `pir init` (or `pir demo` for sample data)"
    ]
    assert not missing.db.exists() and not missing.db.parent.exists()


@pytest.mark.parametrize("one_incident", [False, True], ids=["every-open-review", "one-incident"])
def test_check_opens_one_connection_per_run(sample_db, monkeypatch, capsys, one_incident):
    for name in [n for n in os.environ if n.startswith("PIR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIR_DB", str(sample_db.db))
    monkeypatch.setenv("PIR_TODAY", "2026-11-01")
    opened = []
    real_open = db._open

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(db, "_open", counting_open)
    args = [stage31_key(sample_db)] if one_incident else []
    expected = "1 review checked" if one_incident else f"{len(open_reviews(sample_db))} reviews checked"
    opened.clear()  # the lookups above do not count
    assert cli.main(["check", *args]) == 0
    assert len(opened) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith(expected)

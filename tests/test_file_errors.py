"""Every file error is one line: `pir: error:` naming the path and the fix, exit 1, and nothing half-written.

Each case runs the real command in a subprocess, as a user would, against a copy of the demo database:
outputs that are folders where a file is wanted (and the other way round), places nobody may write
(/proc, /sys, a read-only mount), a full disk (a file size limit), input files that are folders, FIFOs,
devices, binary or UTF-16, settings files likewise, and database files that are empty, garbage or cut short.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.publish_fixture import stage31_key
from support.sandbox import (
    assert_one_error_line,
    namespaces_available,
    read_only,
    run_pir,
    run_pir_mounted,
)

from pirlib.config import Settings
from pirlib.ui.boards import load_board

# The whole module is left out of `make test-fast`: each case is a `pir` process of its own (about 1 CPU-second of
# imports before the command starts), 37 of them under 5 s each, 36 CPU-seconds in all, about a fifth of the quick
# loop's time on 2 cores. `make test` runs them all.
pytestmark = pytest.mark.slow

ALERTS_CSV = (
    "at,source,name,state,severity,value,url\n2025-09-05T14:03:00Z,grafana,High latency,alerting,critical,2.4,\n"
)


@pytest.fixture
def project(tmp_path: Path, demo_db: Path) -> dict[str, str]:
    """The environment of a project with the demo database, an existing file and an existing folder."""
    shutil.copyfile(demo_db, tmp_path / "pir.duckdb")
    (tmp_path / "file").write_text("a file\n")
    (tmp_path / "folder").mkdir()
    return {
        "PIR_DB": str(tmp_path / "pir.duckdb"),
        "PIR_SAMPLE_DIR": str(tmp_path / "sample"),
        "PIR_PUBLISHED_DIR": str(tmp_path / "published"),
        "PIR_TODAY": "2025-09-07",
    }


@pytest.fixture
def key(project: dict[str, str]) -> str:
    return stage31_key(Settings(db=Path(project["PIR_DB"])))


def leftovers(folder: Path) -> list[Path]:
    """Temporary or partial files a failed write could leave behind."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".partial")]


# (case, arguments, environment changes, what the line names); T stands for the test's folder.
OUTPUT_CASES = [
    ("roadmap --out a folder", ["roadmap", "--out", "T/folder"], {}, "T/folder: it is a folder"),
    ("roadmap --out under a file", ["roadmap", "--out", "T/file/roadmap.md"], {}, "T/file: it is a file, not a folder"),
    ("roadmap --out under /proc", ["roadmap", "--out", "/proc/pir-roadmap.md"], {}, "cannot write into /proc:"),
    ("roadmap --out under /sys", ["roadmap", "--out", "/sys/pir-roadmap.md"], {}, "cannot write into /sys:"),
    ("export --parquet a file", ["export", "--parquet", "T/file"], {}, "T/file: it is a file, not a folder"),
    ("export --parquet under /proc", ["export", "--parquet", "/proc/pir-export"], {}, "/proc/pir-export"),
    ("export --parquet under /sys", ["export", "--parquet", "/sys/pir-export"], {}, "/sys/pir-export"),
    ("publish --out a file", ["publish", "KEY", "--out", "T/file"], {}, "T/file: it is a file, not a folder"),
    ("publish --out under /sys", ["publish", "KEY", "--out", "/sys/pir-published"], {}, "/sys/pir-published"),
    (
        "demo into a sample dir that is a file",
        ["demo", "--regenerate"],
        {"PIR_SAMPLE_DIR": "T/file", "PIR_DB": "T/new.duckdb"},
        "T/file: it is a file",
    ),
    (
        "demo into a sample dir under /proc",
        ["demo"],
        {"PIR_SAMPLE_DIR": "/proc/pir-sample", "PIR_DB": "T/new.duckdb"},
        "/proc/pir-sample",
    ),
    ("init with PIR_DB a folder", ["init"], {"PIR_DB": "T/folder"}, "T/folder is a folder; set PIR_DB"),
    ("export with PIR_DB a folder", ["export", "--parquet", "T/out"], {"PIR_DB": "T/folder"}, "set PIR_DB"),
    ("sql with PIR_DB a folder", ["sql", "SELECT 1"], {"PIR_DB": "T/folder"}, "set PIR_DB"),
    ("init with PIR_DB under /proc", ["init"], {"PIR_DB": "/proc/pir.duckdb"}, "/proc/pir.duckdb"),
    ("init with PIR_DB under /sys", ["init"], {"PIR_DB": "/sys/pir/pir.duckdb"}, "/sys/pir"),
    ("init with PIR_DB under a file", ["init"], {"PIR_DB": "T/file/pir.duckdb"}, "T/file"),
]


@pytest.mark.parametrize("case, args, env, names", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_an_output_pir_cannot_write_is_one_line(tmp_path, project, key, case, args, env, names):
    def fill(text: str) -> str:
        return text.replace("T/", f"{tmp_path}/").replace("KEY", key)

    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_pir(*map(fill, args), env={**project, **{k: fill(v) for k, v in env.items()}}, cwd=tmp_path)
    line = assert_one_error_line(result, fill(names))
    assert "Traceback" not in result.stderr and "Errno" not in line
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if not p.name.endswith((".gate", ".turn")))
    assert after == [p for p in before if not p.name.endswith((".gate", ".turn"))], "something was written"
    assert (tmp_path / "file").read_text() == "a file\n"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


IMPORT_CASES: list[tuple[str, str, Callable[[Path], Path], str]] = [
    ("alerts from a folder", "alerts", lambda t: t / "folder", "is a folder; give the alerts file itself"),
    ("changes from a folder", "changes", lambda t: t / "folder", "is a folder; give the changes file itself"),
    ("alerts from a FIFO", "alerts", lambda t: _fifo(t / "alerts.csv"), "not a regular file"),
    ("chat from a FIFO", "chat", lambda t: _fifo(t / "chat.txt"), "not a regular file"),
    ("chat from /dev/zero", "chat", lambda t: Path("/dev/zero"), "/dev/zero is not a regular file"),
    ("changes from /dev/zero", "changes", lambda t: Path("/dev/zero"), "/dev/zero is not a regular file"),
    ("alerts from a binary file", "alerts", lambda t: _write(t / "alerts.csv", bytes(range(256)) * 8), "not UTF-8"),
    (
        "changes from a file of NUL bytes",
        "changes",
        lambda t: _write(t / "changes.csv", b"at,kind,ref\n\0\0\0\n"),
        "binary file",
    ),
    ("alerts from UTF-16", "alerts", lambda t: _write(t / "alerts.csv", ALERTS_CSV.encode("utf-16")), "UTF-16"),
    (
        "chat transcript from UTF-16",
        "chat",
        lambda t: _write(t / "chat.txt", "[2025-09-05 14:03] ana: hi\n".encode("utf-16")),
        "UTF-16",
    ),
    ("alerts from a missing file", "alerts", lambda t: t / "missing.csv", "no such alerts file"),
    ("chat from a missing folder", "chat", lambda t: t / "missing", "no such chat export"),
]


@pytest.mark.parametrize("case, kind, make, says", IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES])
def test_an_import_file_pir_cannot_read_is_one_line(tmp_path, project, key, case, kind, make, says):
    path = make(tmp_path)
    result = run_pir("import", kind, key, str(path), env=project, cwd=tmp_path)
    assert_one_error_line(result, str(path), says)


@pytest.mark.parametrize(
    "case, content",
    [
        ("binary", bytes(range(256))),
        ("UTF-16", 'incident_jql = "project = OPS"\n'.encode("utf-16")),
        ("FIFO", None),
        ("folder", "folder"),
    ],
)
def test_a_settings_file_pir_cannot_read_is_one_line(tmp_path, case, content):
    path = tmp_path / "pir.toml"
    if content is None:
        os.mkfifo(path)
    elif content == "folder":
        path.mkdir()
    else:
        path.write_bytes(content)
    result = run_pir("init", env={"PIR_DB": str(tmp_path / "pir.duckdb")}, cwd=tmp_path)
    assert_one_error_line(result, "pir.toml")
    assert not (tmp_path / "pir.duckdb").exists()


# (case, arguments, environment changes, file size limit, the path the line names: the first file pir writes).
FULL_DISK_CASES = [
    ("export", ["export", "--parquet", "T/export"], {}, 20_000, "T/export"),
    ("roadmap", ["roadmap", "--out", "T/export/roadmap.md"], {}, 2_000, "T/export"),
    # publish first writes the configured deadlines into the database (its postmortem reads them), so a full
    # disk stops it there, before any output is touched
    ("publish", ["publish", "KEY", "--out", "T/export"], {}, 2_000, "T/pir.duckdb"),
    ("init of a new database", ["init"], {"PIR_DB": "T/export/new.duckdb"}, 30_000, "T/export"),
    (
        "demo's sample",
        ["demo", "--regenerate"],
        {"PIR_SAMPLE_DIR": "T/export/sample", "PIR_DB": "T/export/new.duckdb"},
        500_000,
        "T/export",
    ),
]


@pytest.mark.parametrize("case, args, env, limit, names", FULL_DISK_CASES, ids=[c[0] for c in FULL_DISK_CASES])
def test_a_full_disk_is_one_line_and_leaves_the_previous_output(tmp_path, project, key, case, args, env, limit, names):
    def fill(text: str) -> str:
        return text.replace("T/", f"{tmp_path}/").replace("KEY", key)

    out = tmp_path / "export"
    assert run_pir("export", "--parquet", str(out), env=project).returncode == 0  # the previous output
    (out / "roadmap.md").write_text("the previous roadmap\n")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    result = run_pir(*map(fill, args), env={**project, **{k: fill(v) for k, v in env.items()}}, file_size_limit=limit)
    assert_one_error_line(result, "past the size limit", fill(names))
    locks = (".gate", ".turn")  # pir's empty lock files beside a database stay, as after every run
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.endswith(locks)} == before
    assert leftovers(out) == [] and not (out / "new.duckdb").exists()
    assert (out / "roadmap.md").read_text() == "the previous roadmap\n"


@pytest.mark.skipif(not namespaces_available(), reason="needs unshare -rm (user and mount namespaces)")
@pytest.mark.parametrize(
    "lock_files", [(), ("pir.duckdb.gate", "pir.duckdb.turn")], ids=["no lock files", "lock files"]
)
def test_a_database_in_a_read_only_folder_is_read_and_not_written(tmp_path, project, key, lock_files):
    folder = tmp_path / "readonly"
    folder.mkdir()
    shutil.copyfile(project["PIR_DB"], folder / "pir.duckdb")
    for name in lock_files:  # left by the owner's pir: opened read-only, as for a database of another user
        (folder / name).touch()
    env = {**project, "PIR_DB": str(folder / "pir.duckdb")}
    query = run_pir_mounted(read_only(folder), "sql", "SELECT count(*) AS n FROM incidents", env=env)
    assert query.returncode == 0 and "264" in query.stdout, query.stderr
    exported = run_pir_mounted(read_only(folder), "export", "--parquet", str(tmp_path / "out"), env=env)
    assert exported.returncode == 0, exported.stderr
    similar = run_pir_mounted(read_only(folder), "similar", key, env=env)
    assert similar.returncode == 0, similar.stderr
    (tmp_path / "alerts.csv").write_text(ALERTS_CSV)
    written = run_pir_mounted(read_only(folder), "import", "alerts", key, str(tmp_path / "alerts.csv"), env=env)
    assert_one_error_line(written, str(folder / "pir.duckdb"), "read-only file system")
    assert sorted(p.name for p in folder.iterdir()) == ["pir.duckdb", *lock_files]


@pytest.mark.skipif(not namespaces_available(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_really_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, project):
    disk = tmp_path / "disk"
    disk.mkdir()
    result = run_pir_mounted(
        [f"-t tmpfs -o size=256k tmpfs {disk}"], "export", "--parquet", str(disk / "out"), env=project, list_after=disk
    )
    assert_one_error_line(result, str(disk / "out"), "the disk is full")
    assert result.stdout.split("-- files:")[1].split() == []  # not even the folder the export made


def test_an_import_into_a_missing_database_creates_none(tmp_path):
    (tmp_path / "alerts.csv").write_text(ALERTS_CSV)
    result = run_pir(
        "import",
        "alerts",
        "INC-1",
        str(tmp_path / "alerts.csv"),
        env={"PIR_DB": str(tmp_path / "none.duckdb")},
        cwd=tmp_path,
    )
    assert_one_error_line(result, str(tmp_path / "none.duckdb"), "run `pir init`")
    assert not (tmp_path / "none.duckdb").exists()


def _damaged(kind: str, good: Path, target: Path) -> Path:
    if kind == "empty":
        target.write_bytes(b"")
    elif kind == "garbage":
        target.write_bytes(bytes(range(256)) * 40)
    else:  # cut short: the header is there, the blocks it points at are not
        target.write_bytes(good.read_bytes()[:300_000])
    return target


DAMAGED_COMMANDS = [
    ["init"],
    ["check"],
    ["export", "--parquet", "T/out"],
    ["sql", "SELECT count(DISTINCT summary), max(raw) FROM incidents"],
]
MORE_COMMANDS = [
    ["roadmap", "--out", "T/roadmap.md"],
    ["similar", "KEY"],
    ["import", "alerts", "KEY", "T/alerts.csv"],
    ["regulator-filed", "KEY"],
    ["publish", "KEY"],
    ["demo"],
]


@pytest.mark.parametrize(
    "kind, args",
    [(k, a) for k in ("empty", "garbage", "truncated") for a in DAMAGED_COMMANDS]
    + [("truncated", a) for a in MORE_COMMANDS],
    ids=lambda v: v if isinstance(v, str) else v[0],
)
def test_a_damaged_database_is_one_line_naming_it(tmp_path, project, key, kind, args):
    database = _damaged(kind, Path(project["PIR_DB"]), tmp_path / "damaged.duckdb")
    original = database.read_bytes()
    (tmp_path / "alerts.csv").write_text(ALERTS_CSV)
    filled = [a.replace("T/", f"{tmp_path}/").replace("KEY", key) for a in args]
    result = run_pir(*filled, env={**project, "PIR_DB": str(database)}, cwd=tmp_path)
    assert_one_error_line(result, str(database), "restore it from a backup")
    assert database.read_bytes() == original and not (tmp_path / "out").exists()


def test_a_board_over_a_damaged_database_shows_one_line(tmp_path, demo_db):
    database = _damaged("garbage", demo_db, tmp_path / "pir.duckdb")
    board = load_board("overview", Settings(db=database))
    header = board.header_html()
    assert str(database) in header and "restore it from a backup" in header
    assert board.data is None

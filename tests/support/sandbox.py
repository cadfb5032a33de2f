"""Running `pir` the way a user does, in places that refuse it: a file size limit that stands in for a full
disk, and (through an unprivileged user and mount namespace, so that it works as root and as a user) a
read-only folder or a small tmpfs that really fills up."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_pir(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    file_size_limit: int | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    """`python -m pirlib ARGS`; with ``file_size_limit`` no file it writes may grow past that many bytes
    (RLIMIT_FSIZE, SIGXFSZ ignored: the write fails with EFBIG, as on a full disk it fails with ENOSPC)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, "-m", "pirlib", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=180,
        preexec_fn=limit if file_size_limit is not None else None,
    )


def namespaces_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


def run_pir_mounted(
    mounts: Sequence[str],
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    list_after: Path | None = None,
) -> subprocess.CompletedProcess:
    """`pir ARGS` after ``mounts`` (``mount`` argument strings) in a private mount namespace that ends with it.

    ``list_after``: a folder whose files (``find``, relative, one a line) are printed to stdout after the
    command, while the mounts still exist; the command's exit status is kept."""
    listing = (
        f'; status=$?; echo "-- files:"; cd {list_after} && find . -mindepth 1; exit $status' if list_after else ""
    )
    script = " && ".join([*(f"mount {m}" for m in mounts), f'"$@"{listing}' if listing else 'exec "$@"'])
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", sys.executable, "-m", "pirlib", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=180,
    )


def read_only(folder: Path) -> list[str]:
    """The mounts that make ``folder`` read-only for the command (for root too)."""
    return [f"--bind {folder} {folder}", f"-o remount,bind,ro {folder} {folder}"]


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The command failed with exit 1 and one `pir: error:` line holding ``fragments``; return the line."""
    assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pir: error: "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]

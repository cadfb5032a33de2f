"""`make demo` end to end: venv, init, sample load and a Voila server that answers HTTP 200; then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from support.serving import free_port

ROOT = Path(__file__).resolve().parent.parent


def not_listening(port: int, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_make_demo_serves_the_dashboards(tmp_path):
    port = free_port()
    database = tmp_path / "pir.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIR_", "MAKE"))}
    env.update(PIR_DB=str(database), PIR_SAMPLE_DIR=str(tmp_path / "sample"), PIR_TODAY="2026-11-01")
    log = (tmp_path / "make-demo.log").open("w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "demo", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/voila/render/overview.ipynb", timeout=60
                ) as response:
                    status = response.status
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, (tmp_path / "make-demo.log").read_text()
        assert "Traceback" not in page
        assert "Incidents by severity" in page or "incidents" in page.lower()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert not_listening(port), "the Voila server outlived `make demo`"
    con = duckdb.connect(str(database), read_only=True)
    try:
        incidents, actions = con.execute(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM actions)"
        ).fetchone()
    finally:
        con.close()
    assert incidents >= 240 and actions >= 700

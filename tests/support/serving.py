"""`pir serve` from a scratch working directory on a free loopback port, for the browser tests and benches.

A working directory holds a copy of dashboards/ (plus an empty one-cell notebook to time against); PIR_DB
points at a fixture database.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import nbformat
import psutil

from pirlib import serve
from pirlib.config import Settings
from pirlib.demo import load_demo
from support import dashboard_fixture

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PIR = Path(sys.executable).parent / "pir"


def kernel_processes(server: subprocess.Popen) -> list:
    """The kernels a `pir serve` process runs: its ipykernel descendants that are still alive."""
    found = []
    for child in psutil.Process(server.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel_launcher" in " ".join(child.cmdline()):
                found.append(child)
    return found


def connection_file(process: psutil.Process) -> Path:
    """A kernel process's connection file (``-f …/kernel-<id>.json`` on its command line)."""
    args = process.cmdline()
    return Path(args[args.index("-f") + 1])


def kernels_by_id(server: subprocess.Popen) -> dict[str, psutil.Process]:
    """``kernel_processes`` by kernel id, read from each one's ``connection_file``."""
    found = {}
    for process in kernel_processes(server):
        with contextlib.suppress(psutil.NoSuchProcess, ValueError, IndexError):
            found[connection_file(process).stem.removeprefix("kernel-")] = process
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def demo_workdir(tmp_path_factory, name: str) -> tuple[Path, Path]:
    """A `pir serve` working directory with the demo database loaded: (workdir, database)."""
    workdir = tmp_path_factory.mktemp(name)
    write_workdir(workdir)
    database = workdir / "pir.duckdb"
    load_demo(Settings(db=database, sample_dir=workdir / "sample"))
    return workdir, database


def write_workdir(workdir: Path) -> None:
    """dashboards/ as shipped, plus empty.ipynb: one code cell, the baseline for render time."""
    shutil.copytree(ROOT / "dashboards", workdir / "dashboards")
    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    empty.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(empty, workdir / "dashboards" / "empty.ipynb")


# `pir serve` with Voila options added (``--Class.trait=value``): what serve.serve() does for the CLI.
SERVE_WITH_ARGS = (
    "import sys; from pirlib import serve; from pirlib.config import load_settings; "
    "sys.exit(serve.serve(load_settings(), int(sys.argv[1]), extra_args=sys.argv[2:]))"
)
# url -> the running `pir serve` process, for tests that look at its kernels, and its log.
SERVERS: dict[str, subprocess.Popen] = {}
LOGS: dict[str, Path] = {}
# A free port can be taken by another process (another xdist worker's server or kernel) before the server
# binds it; then the server exits at once saying so, and it is started again on another port.
PORT_ATTEMPTS = 3


def server_log(url: str) -> str:
    """What the `pir serve` at ``url`` has logged so far."""
    return LOGS[url].read_text()


def wait_for_full_pool(url: str, pool_size: int | None = None, timeout: float = 90) -> None:
    """Wait until the kernel pool of the `pir serve` at ``url`` holds ``pool_size`` kernels (default: voila.json's)
    with pirlib imported, by its log (kernels made ready minus kernels handed out): so that the next page does
    not share the CPU with a pooled kernel's imports, or a test finds a pooled kernel for its page."""
    if pool_size is None:
        pool_size = json.loads((serve.SHARE_DIR / "voila.json").read_text())["PooledKernelManager"]["pool_size"]
    deadline = time.monotonic() + timeout
    while True:
        log = server_log(url)
        if log.count("Pooled kernel ready:") - log.count("Using pooled kernel:") >= pool_size:
            return
        assert time.monotonic() < deadline, f"the kernel pool was not full within {timeout} s:\n{log[-3000:]}"
        time.sleep(0.1)


def _answers(process: subprocess.Popen, url: str, log: Path, last_attempt: bool) -> bool:
    """Wait up to 60 s for the server at ``url`` to answer HTTP 200: True when it does, False when it exited
    because its port was taken (unless ``last_attempt``); any other exit or a timeout fails the test."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output = log.read_text()
            assert "already in use" in output and not last_attempt, output
            return False
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() >= deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"pir serve did not answer within 60 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def pir_serve(
    workdir: Path, database: Path, voila_args: Sequence[str] = (), today: str | None = dashboard_fixture.TODAY
) -> Iterator[str]:
    """Start `pir serve` on a free port, wait for HTTP 200, yield its URL; stop it and check it ended.
    ``today`` pins PIR_TODAY (None: the real clock, as a user's `pir serve`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_DB=str(database), **({"PIR_TODAY": today} if today else {}))
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        log = (workdir / f"serve-{port}.log").open("w")
        command = [str(PIR), "serve", "--port", str(port)]
        if voila_args:
            command = [sys.executable, "-c", SERVE_WITH_ARGS, str(port), *voila_args]
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            if _answers(process, url, workdir / f"serve-{port}.log", last_attempt=attempt == PORT_ATTEMPTS - 1):
                break
        except BaseException:
            log.close()
            raise
        log.close()
    SERVERS[url], LOGS[url] = process, workdir / f"serve-{port}.log"
    try:
        yield url
    finally:
        SERVERS.pop(url, None)
        LOGS.pop(url, None)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            log.close()
        output = (workdir / f"serve-{port}.log").read_text()
        assert code == 0, output
        if "Kernel started" in output:
            assert "Kernel shutdown" in output, output
            culling = json.loads((serve.SHARE_DIR / "voila.json").read_text())["MappingKernelManager"]
            timeout = next(
                (a.split("=", 1)[1] for a in voila_args if a.startswith("--MappingKernelManager.cull_idle_timeout=")),
                culling["cull_idle_timeout"],
            )
            assert f"Culling kernels with idle durations > {timeout} seconds" in output
        assert not port_open(port), f"port {port} still answers after pir serve ended"

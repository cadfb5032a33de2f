"""`pir serve` (Voila on dashboards/), `pir guide` (Voila on the facilitator's guide) and `pir lab` (JupyterLab
on notebooks/), each as a child process.

Decisions, and why:

- Both bind to 127.0.0.1 only. Voila runs without a token: the dashboards are read-only views of the
  local database, reachable only from this machine, and a token in every bookmarked URL buys nothing on
  loopback. JupyterLab keeps Jupyter's default token, because Lab runs arbitrary code. Sharing the
  dashboards with a team is JupyterHub's job: ``pirlib.hub`` runs this same Voila as a Hub service behind
  the Hub's sign-in (``deploy/jupyterhub_config.py``, docs/team.md).
- The Voila settings live in ``pirlib/jupyter_share/voila.json`` (and nowhere else: a stray voila.json in
  the working directory or the user's Jupyter config is not read): sources stripped, no tracebacks for
  readers, an executor timeout a little above the slowest dashboard cell (Voila 0.5 can stall at
  "Executing N of M"; voila#1395, #1428) and idle-kernel culling (a closed tab leaves its kernel running;
  voila#1458).
- Pages load nothing but from the pir server: the ``pir`` template (``pirlib/jupyter_share/voila/
  templates/pir``, found through ``JUPYTER_PATH``) is Voila's lab template without its Font Awesome CDN
  links. Dashboard figures are drawn by that template with pir's own plotly.js bundle, which it serves
  from its own ``static/`` folder: plotly.js's core with the bar, box and heatmap traces, the same
  plotly.js version as the plotly package's (MIT), built by ``make plotly-bundle`` from ``tools/plotly``.
  A dashboard page starts loading it while the server still runs the notebook. On this machine the page's
  main thread spends about 110 ms on it, against about 550 ms for plotly.js's "cartesian" bundle and most
  of a second for the full plotly.js that jupyterlab-plotly's renderer evaluates once the page's outputs
  are rendered (see ``pirlib.ui.figures.html_bundle``).
- Pages get kernels from a small pool of started kernels that have imported pirlib's dashboard code
  (``pirlib.kernel_pool``; voila.json sets its size): the notebook still runs when the page is requested,
  so the data is read then, not when the pool filled, and an idle pooled kernel holds no DuckDB connection.
  Voila's own ``--preheat_kernel`` runs the notebook ahead of the request and is not used (see there).
  The executor's kernel client waits for replies in short slices (``PromptKernelClient``): the
  "Executing N of M" stall measured here is a reply the executor does not notice until its timeout.
- A closed tab's kernel (voila#1458) is shut down 15 s after the page's connection closed
  (``PooledKernelManager.closed_page_timeout``), so a burst of views does not leave a kernel per view
  running; idle kernels that never connected are culled after 120 s; a kernel with an open page is never
  culled (``cull_connected: false``), so a dashboard left open keeps its filters working.
- Kernels get the project through the environment: ``PIR_HOME`` (the project folder, absolute), ``PIR_DB``
  (absolute), plus ``PIR_CONFIG`` and ``PIR_TODAY`` when set, because a kernel runs in dashboards/ or
  notebooks/ and must resolve pir.toml, the database and every output folder against the project, not there
  (docs/jupyter.md).
- `pir guide` is the same Voila as `pir serve` (one ``voila_command``: the same voila.json, template,
  stripped sources, executor timeout and culling), on ``notebooks/facilitator_guide.ipynb`` alone, with its
  pooled kernels preloading the guide's code instead of the boards'. A facilitator's page stays open for the
  whole meeting: its kernel is never culled while the page is connected (``cull_connected: false``).
- The server runs in its own session, so Ctrl-C (or SIGTERM) reaches only `pir`, which stops the server
  with SIGTERM; Voila and Jupyter then shut their kernels down and exit 0, and so does `pir`.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from pirlib.config import Settings
from pirlib.errors import PirError

HOST = "127.0.0.1"
SHARE_DIR = Path(__file__).resolve().parent / "jupyter_share"
VOILA_TEMPLATE = "pir"
GUIDE_NOTEBOOK = "facilitator_guide.ipynb"
GUIDE_PRELOAD = (
    "pirlib.ui.facilitator.wizard"  # one module: Voila hands an unknown class's list setting over as one item
)
GUIDE_PAGE = "PIR_GUIDE_PAGE"  # set to 1 for the guide's kernels: their page draws figures with pir's plotly.js
STOP_GRACE_SECONDS = 30.0


class _StopRequested(Exception):
    pass


def project_dir(name: str) -> Path:
    """``./name`` when it exists, else ``name`` next to the pirlib package (an editable checkout)."""
    for candidate in (Path.cwd() / name, Path(__file__).resolve().parent.parent / name):
        if candidate.is_dir():
            return candidate.resolve()
    raise PirError(f"no {name}/ folder in {Path.cwd()}; run pir from the project folder")


def kernel_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the server and its kernels: pir settings made absolute, pir's Jupyter data."""
    env = dict(os.environ if base is None else base)
    if settings.home is not None:
        env["PIR_HOME"] = str(settings.home)
    env["PIR_DB"] = str(Path(settings.db).resolve())
    if settings.today is not None:
        env["PIR_TODAY"] = settings.today.isoformat()
    if env.get("PIR_CONFIG"):
        env["PIR_CONFIG"] = str(Path(env["PIR_CONFIG"]).resolve())
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(SHARE_DIR), env.get("JUPYTER_PATH", "")) if p)
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


def guide_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``kernel_environment`` plus ``GUIDE_PAGE``: the guide's page (pir's template, the notebook asks for
    pir's plotly.js) draws ``figures.html_bundle`` divs, so the guide draws its timeline figure as one."""
    return {**kernel_environment(settings, base), GUIDE_PAGE: "1"}


def voila_command(
    port: int, open_browser: bool = False, dashboards: Path | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    """The Voila command line; ``extra_args`` (``--Class.trait=value``) override voila.json, e.g. in tests.
    ``dashboards`` is a folder (every notebook in it) or one notebook (served at ``/``)."""
    dashboards = dashboards or project_dir("dashboards")
    return [
        sys.executable,
        "-m",
        "voila",
        str(dashboards),
        f"--Voila.ip={HOST}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.open_browser={open_browser}",
        f"--Voila.config_file_paths={SHARE_DIR}",
        f"--template={VOILA_TEMPLATE}",
        "--strip_sources=True",
        *extra_args,
    ]


def guide_command(
    port: int, target: Path | None = None, open_browser: bool = False, extra_args: Sequence[str] = ()
) -> list[str]:
    """``voila_command`` on the facilitator's guide (``target``: the notebook, or a folder holding it), its
    pooled kernels preloading the guide instead of the boards."""
    target = target or project_dir("notebooks") / GUIDE_NOTEBOOK
    preload = [f"--PooledKernelManager.preload={GUIDE_PRELOAD}"]
    return voila_command(port, open_browser, target, [*preload, *extra_args])


def lab_command(port: int, notebooks: Path | None = None) -> list[str]:
    notebooks = notebooks or project_dir("notebooks")
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebooks}",
        # pir works offline: the extension manager would otherwise query PyPI when its panel opens.
        "--LabApp.extension_manager=readonly",
    ] + (["--ServerApp.allow_root=True"] if _running_as_root() else [])


def _running_as_root() -> bool:
    # Containers and CI often run as root, where Jupyter refuses to start unless told; Lab still binds to
    # loopback and keeps its token.
    return hasattr(os, "geteuid") and os.geteuid() == 0


def serve(settings: Settings, port: int = 8866, open_browser: bool = False, extra_args: Sequence[str] = ()) -> int:
    """Serve dashboards/ with Voila on 127.0.0.1:port until Ctrl-C; return the exit code."""
    _check_port(port)
    if not Path(settings.db).exists():
        print(f"pir: {settings.db} does not exist yet; the dashboards will say so (run `pir demo`)", file=sys.stderr)
    url = f"http://{HOST}:{port}/"
    print(f"pir: serving the dashboards at {url} (Ctrl-C stops)", file=sys.stderr)
    return _run(voila_command(port, open_browser, extra_args=extra_args), kernel_environment(settings))


def guide(settings: Settings, port: int = 8867, open_browser: bool = False, extra_args: Sequence[str] = ()) -> int:
    """Serve the facilitator's guide as an app with Voila on 127.0.0.1:port until Ctrl-C; return the exit code."""
    _check_port(port)
    command = guide_command(port, open_browser=open_browser, extra_args=extra_args)
    env = guide_environment(settings)
    if settings.database_url is None and not Path(settings.db).exists():  # team mode: PostgreSQL is the store
        print(
            f"pir: {settings.db} does not exist yet; run `pir sync` (or `pir demo`) first, then `pir guide`",
            file=sys.stderr,
        )
    print(f"pir: serving the facilitator's guide at http://{HOST}:{port}/ (Ctrl-C stops)", file=sys.stderr)
    return _run(command, env)


def lab(settings: Settings, port: int = 8888) -> int:
    """Run JupyterLab on notebooks/ on 127.0.0.1:port (with Jupyter's token) until Ctrl-C."""
    _check_port(port)
    return _run(lab_command(port), kernel_environment(settings))


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise PirError(f"port {port} is out of range; pass --port with a number from 1 to 65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PirError(f"{HOST}:{port} is already in use; stop that server or pass another --port") from None
            raise PirError(f"cannot listen on {HOST}:{port} ({exc.strerror}); pass another --port") from None


def _run(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the server; on Ctrl-C or SIGTERM stop it with SIGTERM and wait. Returns its exit code."""
    process = subprocess.Popen(list(command), env=dict(env), start_new_session=True)
    previous = _install_stop_handler()
    try:
        try:
            return process.wait()
        except (KeyboardInterrupt, _StopRequested):
            print("pir: stopping the server", file=sys.stderr)
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            return 0 if code in (0, -signal.SIGTERM) else code
    finally:
        if process.poll() is None:  # an unexpected error in pir itself: never leave the server behind
            process.kill()
            process.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _install_stop_handler() -> Callable[[int, FrameType | None], Any] | int | None:
    """SIGTERM raises _StopRequested; the handler it replaced, to put back (None off the main thread)."""

    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        raise _StopRequested()

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: the caller handles stopping
        return None

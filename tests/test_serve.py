"""`pir serve` end to end: a real Voila server on a free loopback port, pages rendered in headless Chromium.

Each server runs `pir serve` from a scratch working directory holding a copy of dashboards/ (plus an
empty one-cell notebook to time against), with PIR_DB pointing at a fixture database. Screenshots and the
measured render times go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

import dashboard_fixture
from pirlib import db, serve
from pirlib.ui import figures
from pirlib.config import Settings
from pirlib.demo import load_demo

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PIR = Path(sys.executable).parent / "pir"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
OVERVIEW = "/voila/render/overview.ipynb"
EMPTY = "/voila/render/empty.ipynb"
# Text that must never appear on a rendered dashboard.
ERROR_MARKERS = ("Traceback", "There was an error when executing", "Error:", "Exception")


def kernel_processes(server: subprocess.Popen) -> list:
    """The kernels a `pir serve` process runs: its ipykernel descendants that are still alive."""
    import psutil

    found = []
    for child in psutil.Process(server.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel_launcher" in " ".join(child.cmdline()):
                found.append(child)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# Plotly figures each dashboard draws on the demo data (browser tests and bench/bench_dashboards.py wait for them).
FIGURES = {"overview": 2, "actions": 4, "reviews": 2, "failure_modes": 2, "incidents": 2}
# A leadership board draws its figures before its filter bar's widgets arrive from the kernel; this is there
# once they have (the overview has no filters).
FILTERS = ".pir-filters select"


def controls(name: str) -> str | None:
    """What shows that dashboard ``name`` is fully loaded besides its figures: its filters, if it has any."""
    return None if name in ("overview", "empty") else FILTERS


def demo_workdir(tmp_path_factory, name: str) -> tuple[Path, Path]:
    """A `pir serve` working directory with the demo database loaded: (workdir, database)."""
    workdir = tmp_path_factory.mktemp(name)
    write_workdir(workdir)
    database = workdir / "pir.duckdb"
    load_demo(Settings(db=database, sample_dir=workdir / "sample"))
    return workdir, database


def assert_filter_redraws(visit: "Visit") -> None:
    """Choosing a team in the first filter changes the board's summary numbers (a kernel round trip), and
    the redrawn panels replace the old ones: one set on screen."""
    shown = "Array.from(document.querySelectorAll('.pir-kpis')).filter(k => k.offsetParent !== null)"
    visit.page.wait_for_selector(FILTERS, timeout=30_000)
    kpis = visit.page.evaluate(f"() => {shown}.map(k => k.innerText)")
    assert len(kpis) == 1, kpis
    visit.page.locator(FILTERS).nth(0).select_option(label="SRE")
    visit.page.wait_for_function(
        f"old => {{ const k = {shown}; return k.length === 1 && k[0].innerText !== old; }}", arg=kpis[0],
        timeout=20_000,
    )  # fmt: skip
    # The first render (plain HTML in the page) is gone, not just hidden: its figures are purged.
    assert visit.page.evaluate("() => Array.from(document.querySelectorAll('.pir-panels')).map(p => p.className)") == ["pir-panels"]


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
# url -> the running `pir serve` process, for tests that look at its kernels.
SERVERS: dict[str, subprocess.Popen] = {}


@contextlib.contextmanager
def pir_serve(workdir: Path, database: Path, voila_args: Sequence[str] = ()) -> Iterator[str]:
    """Start `pir serve` on a free port, wait for HTTP 200, yield its URL; stop it and check it ended."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_DB=str(database), PIR_TODAY=dashboard_fixture.TODAY)
    log = (workdir / f"serve-{port}.log").open("w")
    command = [str(PIR), "serve", "--port", str(port)]
    if voila_args:
        command = [sys.executable, "-c", SERVE_WITH_ARGS, str(port), *voila_args]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVERS[url] = process
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / f"serve-{port}.log").read_text()
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "pir serve did not answer within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        SERVERS.pop(url, None)
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
            timeout = next((a.split("=", 1)[1] for a in voila_args if a.startswith("--MappingKernelManager.cull_idle_timeout=")),
                           culling["cull_idle_timeout"])  # fmt: skip
            assert f"Culling kernels with idle durations > {timeout} seconds" in output
        assert not port_open(port), f"port {port} still answers after pir serve ended"


@pytest.fixture(scope="module")
def fixture_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("serve")
    write_workdir(workdir)
    database = workdir / "pir.duckdb"
    dashboard_fixture.build(database)
    with pir_serve(workdir, database) as url:
        yield url, database


class Visit:
    """One page load in a fresh browser context, with everything the page asked for and complained about."""

    def __init__(self, browser, url: str, wait_for_plots: int = 0, prepare: Callable[[object], None] | None = None,
                 wait_for: str | None = None):  # fmt: skip
        """Load ``url`` until ``wait_for_plots`` figures are drawn (``seconds``), then until ``wait_for`` is on the
        page (``ready_seconds``); ``prepare(page)`` runs first (routes, init scripts). A page that does not
        finish raises an AssertionError saying how far it got (figures, widgets, console errors, its text)."""
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        if prepare is not None:
            prepare(self.page)
        started = time.perf_counter()
        try:
            self.page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            self.page.wait_for_selector("#rendered_cells", state="visible", timeout=60_000)
            if wait_for_plots:  # that many figures drawn (each figure has two or three .main-svg layers)
                self.page.wait_for_function(
                    "n => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                    ".filter(p => p.querySelector('.main-svg')).length >= n",
                    arg=wait_for_plots, timeout=30_000,
                )  # fmt: skip
            self.seconds = time.perf_counter() - started
            if wait_for:
                self.page.wait_for_selector(wait_for, timeout=30_000)
        except Exception as exc:
            raise AssertionError(f"{url} did not finish in {time.perf_counter() - started:.0f} s: {str(exc)[:200]}\n"
                                 f"{self.state()}") from None  # fmt: skip
        self.ready_seconds = time.perf_counter() - started

    def state(self) -> str:
        """How far the page got: figures and widgets on it, its console errors, the start of its text."""
        try:
            counts = self.page.evaluate(
                "() => ({figures: document.querySelectorAll('div.pir-plot').length,"
                " drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,"
                " widgets: document.querySelectorAll('.jupyter-widgets').length,"
                " tables: document.querySelectorAll('.pir-table').length, plotly: !!window.Plotly})"
            )  # fmt: skip
            text = self.text[:800]
        except Exception as exc:  # the page itself is gone
            counts, text = f"(page unreadable: {exc})", ""
        errors = "\n".join(self.console_errors)[:1500]
        return f"page: {counts}\nconsole errors:\n{errors}\ntext:\n{text}"

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def text(self) -> str:
        return self.page.inner_text("body")

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname != "127.0.0.1"]

    def close(self) -> None:
        self.context.close()


def assert_clean(visit: Visit) -> None:
    text = visit.text
    for marker in ERROR_MARKERS:
        assert marker not in text, f"{marker!r} on the page:\n{text[:2000]}"
    assert visit.console_errors == []
    assert visit.foreign_requests() == []
    assert visit.dialogs == []


@pytest.mark.browser
def test_overview_renders_offline_with_figures_and_escaped_text(browser, fixture_server):
    url, database = fixture_server
    visit = Visit(browser, url + OVERVIEW, wait_for_plots=2)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        visit.page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
        assert_clean(visit)
        assert any(urlparse(u).path == OVERVIEW for u in visit.requests)
        text = visit.text
        assert "Data as of 2026-10-30 06:02 UTC" in text
        assert "Incidents by severity and month" in text
        assert visit.page.locator(".js-plotly-plot").count() == 2
        assert any(urlparse(u).path == "/voila/static/plotly-pir.min.js" for u in visit.requests)
        # Hostile Jira text is on the page as the characters themselves, and none of it ran or parsed.
        assert "<img src=x onerror=alert(1)>" in text
        assert "<script>alert('pir')</script>" in text
        assert "Äpfel & Birnen" in text
        assert visit.page.locator("#rendered_cells img:not(.plot-img)").count() == 0  # plot-img: plotly's own
        assert visit.page.locator("#rendered_cells [onerror]").count() == 0
        assert visit.page.locator("#rendered_cells script:text('alert')").count() == 0
        assert visit.dialogs == []
        # The source code is stripped: readers see output, not Python.
        assert "load_overview" not in text
        # No lock held while the page stays open: a writer gets in (a read-only holder would block it).
        with db.connect(Settings(db=database, db_lock_timeout=2.0)) as con:
            con.execute("UPDATE incidents SET status = status WHERE issue_id = '1001'")
    finally:
        visit.close()


@pytest.mark.browser
def test_tree_page_lists_dashboards_offline(browser, fixture_server):
    url, _ = fixture_server
    context = browser.new_context()
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    try:
        page.goto(url + "/", wait_until="networkidle", timeout=60_000)
        page.wait_for_selector("text=overview.ipynb", timeout=30_000)
        assert [u for u in requests if urlparse(u).hostname != "127.0.0.1" and urlparse(u).scheme != "data"] == []
        # Voila 0.5's tree page loads the widget manager without a kernel and polls /api/kernels, which
        # standalone Voila does not serve: upstream noise, the same with Voila's stock template.
        upstream = ("status of 404 (Not Found)", "failed to activate. Error: The model for kernel id  does not exist")
        assert [e for e in errors if not any(known in e for known in upstream)] == []
    finally:
        context.close()


@pytest.mark.browser
def test_plotly_hover_shows_jira_markup_as_text(browser, fixture_server):
    url, _ = fixture_server
    visit = Visit(browser, url + OVERVIEW, wait_for_plots=2)
    try:
        figure = visit.page.locator(".js-plotly-plot").first
        bars = figure.locator("g.trace.bars").nth(1).locator("path")  # Sev-1: INC-2 in August
        bars.first.hover(force=True)
        visit.page.wait_for_selector(".js-plotly-plot .hoverlayer .hovertext", timeout=5_000)
        hover = figure.locator(".hoverlayer").text_content()
        assert "INC-2 Checkout down <img src=x onerror=alert(1)>" in hover
        assert figure.locator(".hoverlayer img").count() == 0
        assert visit.dialogs == []
    finally:
        visit.close()


@pytest.mark.browser
def test_first_render_time_against_an_empty_notebook(browser, fixture_server):
    url, _ = fixture_server
    timings = {"overview": [], "empty": []}
    for _ in range(3):
        for name, path, plots in (("empty", EMPTY, 0), ("overview", OVERVIEW, 2)):
            visit = Visit(browser, url + path, wait_for_plots=plots)
            assert_clean(visit)
            timings[name].append(round(visit.seconds, 3))
            visit.close()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "render-times.json").write_text(json.dumps({"runs": timings, "median": medians}, indent=2))
    print(f"first render, median of 3: overview {medians['overview']:.2f} s, empty {medians['empty']:.2f} s")
    # Issue 7 asks for 1.5x; this guard only catches a gross regression (a stall, a CDN timeout).
    assert medians["overview"] < 3 * medians["empty"] + 1.0, timings


@pytest.mark.browser
def test_overview_on_the_demo_database(browser, tmp_path):
    write_workdir(tmp_path)
    database = tmp_path / "pir.duckdb"
    load_demo(Settings(db=database, sample_dir=tmp_path / "sample"))
    with pir_serve(tmp_path, database) as url:
        timings = {}
        for name, path, plots in (("empty", EMPTY, 0), ("overview", OVERVIEW, 2)):
            visit = Visit(browser, url + path, wait_for_plots=plots)
            try:
                assert_clean(visit)
                timings[name] = round(visit.seconds, 3)
                if name == "overview":
                    ARTIFACTS.mkdir(exist_ok=True)
                    visit.page.screenshot(path=str(ARTIFACTS / "overview-demo.png"), full_page=True)
                    assert "Data as of" in visit.text
            finally:
                visit.close()
    (ARTIFACTS / "render-times-demo.json").write_text(json.dumps(timings, indent=2))
    print(f"demo database, first render: overview {timings['overview']:.2f} s, empty {timings['empty']:.2f} s")


@pytest.mark.browser
def test_empty_database_says_how_to_load_data(browser, tmp_path):
    write_workdir(tmp_path)
    with pir_serve(tmp_path, tmp_path / "missing.duckdb") as url:
        visit = Visit(browser, url + OVERVIEW)
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            visit.page.screenshot(path=str(ARTIFACTS / "overview-empty.png"), full_page=True)
            assert_clean(visit)
            assert "No data yet: run pir demo for the sample or pir sync against Jira" in visit.text
            assert visit.page.locator(".js-plotly-plot").count() == 0
        finally:
            visit.close()
    assert not (tmp_path / "missing.duckdb").exists(), "a dashboard must not create the database"


def test_port_in_use_is_one_clear_error(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(PIR), "serve", "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PIR_DB": str(tmp_path / "x.duckdb")},
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"pir: error: 127.0.0.1:{port} is already in use; stop that server or pass another --port"
    )


def test_kernel_environment_passes_absolute_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pir.toml").write_text('db = "x.duckdb"\n')
    env = serve.kernel_environment(Settings(db=Path("data/pir.duckdb"), today=dt.date(2026, 11, 1)), base={})
    assert env["PIR_DB"] == str(tmp_path / "data" / "pir.duckdb")
    assert env["PIR_TODAY"] == "2026-11-01"
    assert env["PIR_CONFIG"] == str(tmp_path / "pir.toml")
    assert env["JUPYTER_PATH"].split(os.pathsep)[0] == str(serve.SHARE_DIR)
    command = serve.voila_command(8866, dashboards=tmp_path)
    assert "--Voila.ip=127.0.0.1" in command and "--strip_sources=True" in command
    assert f"--Voila.config_file_paths={serve.SHARE_DIR}" in command


def test_voila_config_sets_timeout_and_culling():
    config = json.loads((serve.SHARE_DIR / "voila.json").read_text())
    assert 0 < config["VoilaExecutor"]["timeout"] <= 60
    assert config["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert config["MappingKernelManager"]["cull_interval"] > 0
    assert config["VoilaConfiguration"]["template"] == serve.VOILA_TEMPLATE
    assert (serve.SHARE_DIR / "voila" / "templates" / serve.VOILA_TEMPLATE / "index.html.j2").exists()
    # Closed tabs' kernels go within minutes; an open tab's kernel stays however long it is open.
    assert 60 <= config["MappingKernelManager"]["cull_idle_timeout"] <= 300
    assert config["MappingKernelManager"]["cull_connected"] is False
    # ... and a closed tab's kernel goes sooner still: seconds after its page's connection closed.
    assert 0 < config["PooledKernelManager"]["closed_page_timeout"] <= 30
    # Pages get pooled kernels that have imported pirlib, and every cell still runs at request time.
    assert config["VoilaConfiguration"]["multi_kernel_manager_class"] == "pirlib.kernel_pool.PooledKernelManager"
    assert config["VoilaConfiguration"].get("preheat_kernel", False) is False
    assert config["KernelManager"]["client_factory"] == "pirlib.kernel_pool.PromptKernelClient"


def test_dashboards_draw_with_the_plotly_bundle_the_template_serves():
    import plotly.offline

    static = serve.SHARE_DIR / "voila" / "templates" / serve.VOILA_TEMPLATE / "static"
    bundle = (static / "plotly-pir.min.js").read_text()
    # The same plotly.js as the plotly package's, so the figures it builds are what this bundle draws, and
    # with the trace types figures.html_bundle allows (tools/plotly/entry.js registers them).
    assert f"plotly.js (pir: bar, box, heatmap, scatter - minified) v{plotly.offline.get_plotlyjs_version()}" in bundle[:300]
    assert figures.PAGE_TRACE_TYPES == {"bar", "box", "heatmap", "scatter"}
    # Chromium compiles it off the page's main thread while streaming it in (the hint must open the file).
    assert bundle.startswith("//# allFunctionsCalledOnLoad\n")
    assert (static / "plotly-pir.LICENSE").exists()
    template = (static.parent / "index.html.j2").read_text()
    assert "voila/static/plotly-pir.min.js" in template
    # Every dashboard asks the template for it (the empty baseline notebook of the render-time test does not).
    for path in sorted((ROOT / "dashboards").glob("*.ipynb")):
        assert nbformat.read(path, 4).metadata.get("pir", {}).get("plotly") is True, path.name


def test_pir_lab_serves_jupyterlab_on_loopback_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
    env.update(PIR_DB=str(tmp_path / "pir.duckdb"), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"), BROWSER="true")
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(PIR), "lab", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                        assert response.status == 200
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.3)
            # Lab runs code, so it keeps Jupyter's token: the API refuses a request without it.
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
            assert refused.value.code == 403
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    assert code == 0, log.read_text()
    assert not port_open(port)

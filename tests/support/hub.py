"""A real JupyterHub with deploy/jupyterhub_config.py, its real configurable-http-proxy, on free loopback ports.

The test's own settings come in through ``PIR_HUB_SITE_CONFIG`` (the deploy config loads that file last): a
shared-password authenticator instead of SSO, the users and their groups, and SimpleLocalProcessSpawner
(every server runs as the test's own user, with its home in the test's folder).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from support.browser import Visit
from support.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
PROXY = ROOT / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"
JUPYTERHUB = Path(sys.executable).with_name("jupyterhub")
PASSWORD = "a-test-password-for-all"  # SharedPasswordAuthenticator wants 8 characters or more
DASHBOARDS = "/services/pir-dashboards/"
START_SECONDS = 150  # the Hub, its proxy and the dashboards' Voila with its kernel pool, on a loaded machine
STOP_SECONDS = 60

# The tests' users: a viewer, a facilitator and someone in neither group.
USERS = {"viewer", "outsider", "facilitator"}
GROUPS = {"pir-viewers": ["viewer"], "pir-facilitators": ["facilitator"]}

SITE_CONFIG = """\
c = get_config()  # noqa: F821
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {users!r}
c.JupyterHub.load_groups = {groups!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r}
c.Spawner.args.extend({server_args!r})  # added to the deploy config's arguments
"""


def missing(proxy: bool = True) -> str | None:
    """Why the Hub tests cannot run here, with the command that fixes it; None when they can (``proxy``: the
    proxy is needed too)."""
    if not all(importlib.util.find_spec(name) for name in ("jupyterhub", "jupyterhub_idle_culler", "oauthenticator")):
        return "JupyterHub is not installed: .venv/bin/pip install -e '.[team]'"
    if proxy and not PROXY.exists():
        return f"{PROXY.relative_to(ROOT)} is missing: npm ci --prefix deploy"
    return None


def require(proxy: bool = True) -> None:
    """Skip the calling test (or module, at import) where JupyterHub or its proxy is missing, saying how to
    install it; in CI (``CI=true``) fail instead, so a broken install never passes as a green run."""
    reason = missing(proxy)
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the JupyterHub tests: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@dataclass
class Hub:
    url: str
    process: subprocess.Popen
    log: Path
    folder: Path
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    # Every process seen under the Hub: a Hub that exits during its start leaves its proxy and services
    # running, reparented away from it, and the test still stops them.
    seen: dict[int, psutil.Process] = field(default_factory=dict)

    def note_processes(self) -> None:
        self.seen.update((p.pid, p) for p in _descendants(self.process.pid))

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def signed_in(self, user: str) -> requests.Session:
        """A requests session signed in to the Hub as ``user`` (the login form, as a browser sends it)."""
        if user not in self.sessions:
            session = requests.Session()
            session.get(f"{self.url}/hub/login", timeout=30).raise_for_status()
            answer = session.post(
                f"{self.url}/hub/login",
                data={"username": user, "password": PASSWORD, "_xsrf": session.cookies.get("_xsrf", "")},
                allow_redirects=False,
                timeout=30,
            )
            assert answer.status_code == 302, f"{user} could not sign in: {answer.status_code}\n{self.log_tail()}"
            self.sessions[user] = session
        return self.sessions[user]


def sign_in_page(page, hub_url: str, user: str, lands_on: str = DASHBOARDS) -> None:
    """Sign ``user`` in through the Hub's login form in a Playwright page, and wait until the Hub has taken
    them where they land (``lands_on``: a path prefix; a facilitator's server is started on the way)."""
    page.goto(f"{hub_url}/hub/login", wait_until="domcontentloaded", timeout=60_000)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(re.compile(re.escape(hub_url + lands_on) + ".*"), timeout=120_000)


@contextlib.contextmanager
def running_hub(folder: Path, env: dict[str, str], groups: dict[str, list[str]], users: set[str]) -> Iterator[Hub]:
    """JupyterHub from the deploy config with ``env`` (PIR_* settings) on free ports; stopped, with everything
    it started, when the block ends."""
    site = folder / "site_config.py"
    server_args = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
    site.write_text(
        SITE_CONFIG.format(
            password=PASSWORD,
            users=users,
            groups={name: {"users": members} for name, members in groups.items()},
            homes=str(folder / "home" / "{username}"),
            server_args=server_args,
        )
    )
    port = free_port()
    hub_env = {k: v for k, v in os.environ.items() if not k.startswith(("PIR_", "JUPYTERHUB_"))}
    hub_env.update(
        env,
        PIR_HUB_URL=f"http://127.0.0.1:{port}",
        PIR_HUB_API_PORT=str(free_port()),
        PIR_HUB_PROXY_API_PORT=str(free_port()),
        PIR_HUB_DASHBOARDS_PORT=str(free_port()),
        PIR_HUB_STATE_DIR=str(folder / "state"),
        PIR_HUB_SITE_CONFIG=str(site),
        PIR_HUB_AUTHENTICATOR="shared-password",
    )
    log = folder / "hub.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(JUPYTERHUB), "-f", str(CONFIG)], cwd=folder, env=hub_env, stdout=out, stderr=subprocess.STDOUT
        )
    hub = Hub(f"http://127.0.0.1:{port}", process, log, folder)
    try:
        _wait_until_up(hub)
        yield hub
    except BaseException:
        _stop(hub, check=False)  # the failure that brought us here is the one to report
        raise
    _stop(hub)


def _wait_until_up(hub: Hub) -> None:
    """Until the proxy routes the dashboards service (the Hub adds its route once the service answers)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        hub.note_processes()
        if hub.process.poll() is not None:
            raise AssertionError(f"JupyterHub exited with {hub.process.returncode}:\n{hub.log_tail()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(hub.url + DASHBOARDS, allow_redirects=False, timeout=5).status_code == 302:
                return
        time.sleep(0.5)
    raise AssertionError(f"JupyterHub's dashboards did not answer within {START_SECONDS} s:\n{hub.log_tail()}")


def _stop(hub: Hub, check: bool = True) -> None:
    """SIGTERM to the Hub, which stops its services, servers and proxy; whatever is left after STOP_SECONDS
    is killed, and (``check``) the test fails saying so."""
    hub.note_processes()
    started = list(hub.seen.values())
    for process in list(started):  # and what those started (kernels), while they still tell
        started.extend(_descendants(process.pid))
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
    try:
        hub.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        hub.process.kill()
        hub.process.wait()
    _, alive = psutil.wait_procs(started, timeout=10)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    assert not (check and alive), f"still running after JupyterHub stopped: {[p.pid for p in alive]}\n{hub.log_tail()}"


def _descendants(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).children(recursive=True)
    return []


def board_url(base: str, name: str) -> str:
    return f"{base}{DASHBOARDS}voila/render/{name}.ipynb"


def pick_any_incident(visit: Visit) -> str:
    """Choose the first incident in the guide's Pick list; its key."""
    select = visit.page.locator(".pir-pick select")
    select.select_option(index=1)
    label = visit.page.evaluate("() => document.querySelector('.pir-pick select').selectedOptions[0].text")
    return label.replace("\u00a0", " ").split(" ", 1)[0]


def set_a_failure_mode_in_the_guide(visit: Visit) -> tuple[str, str]:
    """In the guide (already loading in ``visit``): pick an incident, and in the Meeting step's recap set its
    failure mode to one it does not have; (incident key, mode) once the guide says it saved. A step that does
    not come fails with what the page shows."""
    page = visit.page
    try:
        page.wait_for_selector(".pir-facilitator", timeout=60_000)
        key = pick_any_incident(visit)
        page.locator("button.pir-step-meeting").click()
        picker = page.locator(".pir-failure-mode-picker select")
        picker.wait_for(timeout=30_000)
        before = page.locator(".pir-failure-mode").inner_text()
        modes = picker.evaluate("s => Array.from(s.options).map(o => o.value).filter(v => v)")
        chosen = next(mode for mode in reversed(modes) if mode not in before)  # a change the board must show
        picker.select_option(value=chosen)
        page.locator("button.pir-failure-mode-save").click()
        page.wait_for_function("t => document.body.innerText.includes(t)", arg=f"saved: {chosen}", timeout=30_000)
    except Exception as exc:
        raise AssertionError(f"the guide at {page.url}: {str(exc)[:300]}\n{visit.state()}") from None
    return key, chosen


def open_the_guide(browser, hub_url: str) -> Visit:
    """The facilitator signs in, lands on their own server (JupyterLab: it is started on the way), and opens
    the guide as an app in it."""
    return Visit(
        browser,
        f"{hub_url}/user/facilitator/voila/render/facilitator_guide.ipynb",
        prepare=lambda page: sign_in_page(page, hub_url, "facilitator", lands_on="/user/facilitator/lab"),
    )


def assert_the_incident_page_shows(visit: Visit, hub_url: str, key: str, mode: str) -> None:
    visit.page.goto(f"{board_url(hub_url, 'incident')}?incident={key}", wait_until="domcontentloaded")
    visit.page.wait_for_function(
        "t => document.body.innerText.includes(t)", arg=f"Failure mode\t{mode}", timeout=60_000
    )

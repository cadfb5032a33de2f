"""A real PostgreSQL for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder, on 127.0.0.1, once per process.

``server()`` starts it the first time a test asks (each pytest-xdist worker is a process of its own and gets its
own server) and stops it when the process exits. ``fresh_database()`` hands each test an empty UTF8 database
owned by the role ``pir``, which 127.0.0.1 trusts; the role ``pir_password`` must give its password, so that a
test can check what a wrong one does. ``missing()`` says why PostgreSQL cannot run here, naming the fix.

PostgreSQL refuses to run as root: as root the server runs as ``nobody`` (``runuser -u nobody``) on a folder
chowned to it. It is tuned for throwaway data (no fsync, no synchronous commit, no full-page writes); nothing
here is a way to run PostgreSQL for real data.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from support.serving import free_port

PACKAGE = "postgresql-15"
ADMIN = "postgres"  # the superuser initdb creates
USER = "pir"  # trusted on 127.0.0.1: owns every fresh database
PASSWORD_USER = "pir_password"  # must give its password on 127.0.0.1
UNPRIVILEGED = "nobody"  # who runs the server when the tests run as root
START_TIMEOUT = 60.0  # seconds for initdb plus the server's start, on a loaded 2-core machine
LOG_LINES = 15  # of the server's log, in the error when it does not start
SERVER_TIME_ZONE = "Asia/Kathmandu"  # UTC+05:45: a time or date that depends on the server's zone shows

_lock = threading.Lock()
_server: PostgresServer | None = None


def bin_dir() -> Path | None:
    """The folder of the newest PostgreSQL's initdb and pg_ctl: Debian's /usr/lib/postgresql/<major>/bin, else
    the PATH's (a distribution that puts them there)."""
    found = []
    for folder in Path("/usr/lib/postgresql").glob("*/bin"):
        if folder.parent.name.isdigit() and (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            found.append((int(folder.parent.name), folder))
    if found:
        return max(found)[1]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).resolve().parent == Path(pg_ctl).resolve().parent:
        return Path(initdb).resolve().parent
    return None


def missing() -> str | None:
    """Why the PostgreSQL tests cannot run on this machine (with the fix), or None when they can."""
    sudo = "" if os.geteuid() == 0 else "sudo "
    if importlib.util.find_spec("psycopg") is None:  # a venv made before psycopg became a dependency
        return "psycopg is not installed: run `make venv`"
    if bin_dir() is None:
        return f"PostgreSQL is not installed (no initdb and pg_ctl in /usr/lib/postgresql/*/bin): {sudo}apt-get install {PACKAGE}"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "PostgreSQL refuses to run as root and runuser is missing: apt-get install util-linux"
        try:
            pwd.getpwnam(UNPRIVILEGED)
        except KeyError:
            return f"PostgreSQL refuses to run as root and there is no user {UNPRIVILEGED!r} to run it as: useradd {UNPRIVILEGED}"
    return None


def server() -> PostgresServer:
    """This process's PostgreSQL, started on first use and stopped when the process exits."""
    global _server
    with _lock:
        if _server is None:
            reason = missing()
            if reason is not None:
                raise RuntimeError(reason)
            _server = PostgresServer.start()
            atexit.register(_server.stop)
        return _server


def require() -> PostgresServer:
    """The server for a test that needs it: where PostgreSQL cannot run, the test is skipped on a developer's
    machine and fails in CI (``CI=true``), so that a missing install never passes as green."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the PostgreSQL tests: {reason}", pytrace=False)
        pytest.skip(reason)
    return server()


def database_url(port: int, database: str, user: str = USER, password: str | None = None) -> str:
    secret = f":{quote(password, safe='')}" if password is not None else ""
    return f"postgresql://{user}{secret}@127.0.0.1:{port}/{database}"


@dataclass
class PostgresServer:
    folder: Path  # data/, the server's log and its unix socket
    bin_dir: Path
    port: int
    password: str  # PASSWORD_USER's
    _watchdog: subprocess.Popen | None = None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))
    _admin_lock: threading.Lock = field(default_factory=threading.Lock)
    _admin: Any = None  # the open psycopg connection that creates and drops databases

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def url(self) -> str:
        """The admin database (``postgres``) as the superuser."""
        return database_url(self.port, "postgres", ADMIN)

    @classmethod
    def start(cls, timeout: float = START_TIMEOUT) -> PostgresServer:
        """initdb in a new temporary folder, then start the server on a free port (another, when a process
        took the port between choosing it and binding it). Raises RuntimeError with the log's last lines."""
        folder = Path(tempfile.mkdtemp(prefix="pir-postgres-"))
        folder.chmod(0o700)
        if os.geteuid() == 0:
            user = pwd.getpwnam(UNPRIVILEGED)
            os.chown(folder, user.pw_uid, user.pw_gid)
        server = cls(folder=folder, bin_dir=bin_dir() or Path("/nonexistent"), port=0, password=secrets.token_hex(12))
        deadline = time.monotonic() + timeout
        try:
            server._initdb(deadline)
            for _attempt in range(3):
                server.port = free_port()
                started = server._pg_ctl_start(deadline)
                if started.returncode == 0:
                    break
                if not server._port_taken():
                    said = (started.stderr or started.stdout).strip().splitlines() or [f"exit {started.returncode}"]
                    raise RuntimeError(server._failed(f"did not start (pg_ctl: {said[-1]})"))
            else:
                raise RuntimeError(server._failed("found no free port in 3 tries"))
            server._watchdog = server._start_watchdog()
            server._create_roles()
        except BaseException:
            server.stop()
            raise
        return server

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", UNPRIVILEGED, "--", *command] if os.geteuid() == 0 else command

    def _run(self, command: list[str], deadline: float) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as the folder's owner; past ``deadline`` end it, and whatever it started, with an error."""
        with subprocess.Popen(
            self._as_owner(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.folder,
            start_new_session=True,  # its own process group, to end it whole on a timeout
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise RuntimeError(self._failed(f"{Path(command[0]).name} timed out")) from None
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def _initdb(self, deadline: float) -> None:
        result = self._run(
            [
                str(self.bin_dir / "initdb"),
                f"--pgdata={self.data}",
                f"--username={ADMIN}",
                "--encoding=UTF8",
                "--locale=C.UTF-8",  # byte order like DuckDB's, and Unicode classes for what is not ICU
                "--auth=trust",
                "--no-sync",
                "--no-instructions",
            ],
            deadline,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.folder}: {(result.stderr or result.stdout).strip()[-2000:]}")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.folder}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Not UTC on purpose, as many a real server: pir must say UTC itself (as db.connect does for
            # DuckDB), and a test of times through a connection that forgets fails here, not at a site.
            "timezone": f"'{SERVER_TIME_ZONE}'",
            "log_timezone": "'UTC'",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# tests/support/postgres.py: throwaway data on loopback\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n",
            encoding="utf-8",
        )

    def _pg_ctl_start(self, deadline: float) -> subprocess.CompletedProcess[str]:
        seconds = max(1, int(deadline - time.monotonic()))
        command = [str(self.bin_dir / "pg_ctl"), "start", "--pgdata", str(self.data), "--log", str(self.log)]
        return self._run([*command, "--wait", f"--timeout={seconds}", f"--options=-p {self.port}"], deadline)

    def _port_taken(self) -> bool:
        tail = self._log_tail()
        return "could not bind" in tail or "Address already in use" in tail

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_LINES:])
        except OSError:
            return "(no server log)"

    def _failed(self, what: str) -> str:
        return f"PostgreSQL ({self.bin_dir}) {what}; the last lines of {self.log}:\n{self._log_tail()}"

    def _start_watchdog(self) -> subprocess.Popen:
        """A shell that stops the server and removes its folder once this process is gone, even killed: atexit
        does it on a normal exit, but a worker that is killed would otherwise leave the server running."""
        stop = " ".join(
            self._as_owner([str(self.bin_dir / "pg_ctl"), "stop", "--pgdata", str(self.data), "-m", "immediate"])
        )
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{self.folder}'"
        )
        return subprocess.Popen(
            ["sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _create_roles(self) -> None:
        with self._admin_connection() as admin:
            admin.execute(f"CREATE ROLE {USER} LOGIN CREATEDB")
            admin.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{self.password}'")

    @contextlib.contextmanager
    def _admin_connection(self) -> Iterator[Any]:
        import psycopg  # lazily: missing() reports a machine without it

        with self._admin_lock:
            if self._admin is None or self._admin.closed:
                self._admin = psycopg.connect(self.url, autocommit=True)
            yield self._admin

    def url_for(self, database: str, *, password: bool = False) -> str:
        """``database`` as ``pir`` (trusted), or as ``pir_password`` with its password."""
        if password:
            return database_url(self.port, database, PASSWORD_USER, self.password)
        return database_url(self.port, database)

    def fresh_database(
        self,
        *,
        password: bool = False,
        template: str = "template1",
        encoding: str | None = None,
        locale: str | None = None,
    ) -> str:
        """A new empty database's URL (UTF8, C.UTF-8): owned by ``pir``, or with ``password`` by ``pir_password``
        and the URL with its password. ``template`` copies another database instead (one already migrated, say);
        ``encoding`` and ``locale`` make one as another site may have it (from template0)."""
        name = f"pir_{next(self._names)}_{secrets.token_hex(3)}"
        owner = PASSWORD_USER if password else USER
        if encoding or locale:
            template = "template0"
        options = "".join(
            f" {option} '{value}'" for option, value in (("ENCODING", encoding), ("LOCALE", locale)) if value
        )
        with self._admin_connection() as admin:
            admin.execute(f'CREATE DATABASE "{name}" OWNER {owner} TEMPLATE "{template}"{options}')
        return self.url_for(name, password=password)

    def drop_database(self, database_url: str) -> None:
        """Drop a database ``fresh_database`` made, ending its sessions that are still open."""
        name = urlsplit(database_url).path.lstrip("/")
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"not a database fresh_database made: {name!r}")
        with self._admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove its folder (atexit; safe to call twice)."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
        if (self.data / "postmaster.pid").exists():
            pg_ctl = [str(self.bin_dir / "pg_ctl"), "stop", "--pgdata", str(self.data), "-m", "fast", "--wait"]
            with contextlib.suppress(RuntimeError):
                self._run(pg_ctl, time.monotonic() + 30)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

"""The PostgreSQL the team-mode tests run against (support/postgres.py): started once per process on 127.0.0.1,
an empty UTF8 database per test, a role that must give its password, and clear lines when it cannot run."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest
from support import postgres


@pytest.fixture(scope="module")
def server() -> postgres.PostgresServer:
    return postgres.require()


def test_a_fresh_database_is_empty_utf8_and_owned_by_pir(server):
    import psycopg

    first, second = server.fresh_database(), server.fresh_database()
    assert first != second
    assert first.startswith(f"postgresql://pir@127.0.0.1:{server.port}/")
    with psycopg.connect(first) as con:
        owner, encoding = con.execute(
            "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone()
        assert (owner, encoding) == ("pir", "UTF8")
        assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        con.execute("CREATE TABLE t (x text)")  # the owner may build its schema
        assert con.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert con.execute("SHOW fsync").fetchone() == ("off",)
    server.drop_database(first)
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(first).close()


def test_a_database_made_from_another_or_as_another_site_has_it(server):
    import psycopg

    source = server.fresh_database()
    with psycopg.connect(source) as con:
        con.execute("CREATE TABLE migrated (x text)")
    copy = server.fresh_database(template=source.rsplit("/", 1)[1])
    with psycopg.connect(copy) as con:
        assert con.execute("SELECT count(*) FROM migrated").fetchone() == (0,)
    with psycopg.connect(server.fresh_database(encoding="SQL_ASCII", locale="C")) as con:
        # psycopg gives bytes where the database has no encoding to decode with
        assert con.execute("SHOW server_encoding").fetchone() == (b"SQL_ASCII",)
        assert con.execute("SHOW lc_ctype").fetchone() == (b"C",)


def test_the_password_role_needs_its_password(server):
    import psycopg

    url = server.fresh_database(password=True)
    assert f":{server.password}@" in url
    with psycopg.connect(url) as con:
        assert con.execute("SELECT current_user").fetchone() == (postgres.PASSWORD_USER,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url.replace(server.password, "wrong")).close()


def test_missing_names_the_package_to_install(monkeypatch):
    monkeypatch.setattr(postgres, "bin_dir", lambda: None)
    reason = postgres.missing()
    assert reason is not None and "apt-get install postgresql-15" in reason


def _fake_postgres(pg_ctl: str) -> Path:
    """A bin folder whose initdb makes a data folder and whose pg_ctl runs ``pg_ctl`` (a shell script body),
    readable by the user the server runs as."""
    folder = Path(tempfile.mkdtemp(prefix="pir-fake-postgres-"))
    folder.chmod(0o755)
    initdb = '#!/bin/sh\nfor a; do case "$a" in --pgdata=*) mkdir -p "${a#--pgdata=}";; esac; done\n'
    for name, body in (("initdb", initdb), ("pg_ctl", "#!/bin/sh\n" + pg_ctl)):
        (folder / name).write_text(body)
        (folder / name).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return folder


@pytest.mark.parametrize(
    ("pg_ctl", "expected"),
    [
        (
            'echo "FATAL:  invalid value for parameter" >> "$5"; echo "pg_ctl: could not start server" >&2; exit 1',
            "did not start (pg_ctl: pg_ctl: could not start server)",
        ),
        ('echo "LOG:  waiting for the disk" >> "$5"; sleep 30', "pg_ctl timed out"),
    ],
    ids=["fails", "hangs"],
)
def test_a_server_that_does_not_start_says_so_with_its_log(monkeypatch, pg_ctl, expected):
    fake = _fake_postgres(pg_ctl)
    monkeypatch.setattr(postgres, "bin_dir", lambda: fake)
    before = set(Path(tempfile.gettempdir()).glob("pir-postgres-*"))
    try:
        timeout = 30 if "exit 1" in pg_ctl else 2
        with pytest.raises(RuntimeError) as raised:
            postgres.PostgresServer.start(timeout=timeout)
    finally:
        for leftover in fake.iterdir():
            leftover.unlink()
        fake.rmdir()
    message = str(raised.value)
    assert expected in message and "server.log" in message
    assert ("FATAL:  invalid value" if "exit 1" in pg_ctl else "waiting for the disk") in message
    assert set(Path(tempfile.gettempdir()).glob("pir-postgres-*")) <= before, "the failed server's folder stays"

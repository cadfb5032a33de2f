"""`pir sql`: the analysts' read-only SQL command (a query, SQL on stdin, or a prompt at a terminal)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.publish_fixture import stage31_key
from support.sandbox import assert_one_error_line, run_pir

from pirlib import db
from pirlib.config import Settings
from pirlib.sql_shell import Result, inputs, render, statement_complete


@pytest.fixture
def env(tmp_path: Path, demo_db: Path) -> dict[str, str]:
    shutil.copyfile(demo_db, tmp_path / "pir.duckdb")
    return {"PIR_DB": str(tmp_path / "pir.duckdb"), "PIR_TODAY": "2025-09-07", "HOME": str(tmp_path)}


@pytest.mark.slow
def test_a_query_prints_a_table_and_csv_and_json(env):
    sql = "SELECT severity, count(*) AS n FROM incidents GROUP BY ALL ORDER BY severity"
    table = run_pir("sql", sql, env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["severity", "n"] and set(lines[1]) <= {"-", " "} and lines[-1].endswith("rows)")
    with db.connect(Settings(db=Path(env["PIR_DB"])), read_only=True) as con:
        expected = con.execute(sql).fetchall()
    assert [tuple(line.split()) for line in lines[2:-1]] == [(s, str(n)) for s, n in expected]
    as_csv = run_pir("sql", "--csv", sql, env=env)
    assert as_csv.stdout.splitlines() == ["severity,n", *(f"{s},{n}" for s, n in expected)]
    as_json = run_pir("sql", "--json", sql, env=env)
    assert json.loads(as_json.stdout) == [{"severity": s, "n": n} for s, n in expected]
    today = run_pir("sql", "--csv", "SELECT getvariable('today') AS today", env=env)
    assert today.stdout.splitlines() == ["today", "2025-09-07"]  # as in the analyst notebook


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM incidents",
        "UPDATE reviews SET facilitator = 'x'",
        "CREATE TABLE mine AS SELECT 1",
        "DROP VIEW v_action_status",
    ],
)
def test_a_write_is_one_error_line_and_changes_nothing(env, statement):
    before = Path(env["PIR_DB"]).read_bytes()
    result = run_pir("sql", statement, env=env)
    assert_one_error_line(result, "pir sql only reads", "read-only")
    assert Path(env["PIR_DB"]).read_bytes() == before


def test_a_sql_error_is_one_line(env):
    result = run_pir("sql", "SELECT nope FROM incidents\nWHERE", env=env)
    assert_one_error_line(result, "fix the SQL")


def test_piped_sql_runs_statement_by_statement_and_stops_at_an_error(env):
    script = (
        "-- two statements over three lines\nSELECT count(*) AS incidents\n  FROM incidents;\n"
        ".tables\nSELECT 'a;b' AS text; SELECT broken FROM;\nSELECT 'never' AS reached;\n"
    )
    result = run_pir("sql", "--csv", env=env, stdin=script)
    assert result.returncode == 1
    assert result.stdout.startswith("incidents\n264\nname,kind\n") and "v_action_status,view" in result.stdout
    assert "never" not in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("pir: error: ")


def test_statements_end_at_a_semicolon_outside_quotes_and_comments():
    assert statement_complete("SELECT 1;") and statement_complete("SELECT 1; -- done")
    assert statement_complete("SELECT ';' AS x;\n")
    assert not statement_complete("SELECT ';'") and not statement_complete("SELECT 1 -- ;")
    assert not statement_complete("SELECT 'it''s;") and not statement_complete("SELECT 1 /* ; */")
    assert not statement_complete('SELECT ";" ')
    assert list(inputs(iter(["SELECT 1", "  ;", "", ".tables", "SELECT 2"]))) == [
        "SELECT 1\n  ;",
        ".tables",
        "SELECT 2",
    ]


def test_text_for_a_terminal_loses_its_escape_sequences_but_files_keep_the_value():
    hostile = "boom\x1b]0;pwned\x07\x1b[2J\u202eevil\nnext"
    result = Result(["summary"], [(hostile,)])
    shown = render(result, "table", terminal=True)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "boom?]0;pwned??[2J?evil?next" in shown
    assert "\x1b" in render(result, "csv", terminal=False)  # a file gets the value as it is
    assert json.loads(render(result, "json"))[0]["summary"] == hostile  # JSON escapes it itself


class _Terminal:
    """Reads a pty up to a marker and keeps what came after it: the output of one statement and the next prompt
    often arrive in one read, and a reader that dropped the rest waited 60 s for a prompt it had already seen."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = b""

    def read_until(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        marker = text.encode()
        while marker not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no {text!r} in {self.pending.decode(errors='replace')[-2000:]!r}")
            self.pending += os.read(self.fd, 65536)
        end = self.pending.index(marker) + len(marker)
        seen, self.pending = self.pending[:end], self.pending[end:]
        return seen.decode(errors="replace")


def test_the_reader_keeps_what_came_after_the_marker():
    main, secondary = os.openpty()
    try:
        os.write(secondary, b"(1 row)\npir> ")
        terminal = _Terminal(main)
        assert terminal.read_until("(1 row)").endswith("(1 row)")
        assert terminal.read_until("pir> ", timeout=1).strip() == "pir>"
    finally:
        os.close(main)
        os.close(secondary)


def test_the_prompt_takes_multi_line_statements_keeps_history_and_holds_no_lock(env, tmp_path):
    main, secondary = os.openpty()
    shell = subprocess.Popen(
        [sys.executable, "-m", "pirlib", "sql"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, **env, "TERM": "xterm"},
        close_fds=True,
        # its own session, as a terminal's shell starts it: in the test's process group a
        # terminal call on the pty could stop it (SIGTTOU) and the prompt never came
        start_new_session=True,
    )
    os.close(secondary)
    terminal = _Terminal(main)
    try:
        terminal.read_until("pir> ")
        os.write(main, b"SELECT count(*) AS first_count\n")
        terminal.read_until("...> ")
        os.write(main, b"FROM incidents;\n")
        assert "264" in terminal.read_until("(1 row)")
        terminal.read_until("pir> ")
        os.write(main, b"DELETE FROM incidents;\n")
        assert "pir sql only reads" in terminal.read_until("pir> ")  # an error does not end the session
        # The prompt waits for the analyst: a writer gets the database at once.
        (tmp_path / "alerts.csv").write_text(
            "at,source,name,state,severity,value,url\n2025-09-05T14:03:00Z,grafana,Latency,alerting,critical,2.4,\n"
        )
        key = stage31_key(Settings(db=Path(env["PIR_DB"])))
        started = time.monotonic()
        writer = run_pir("import", "alerts", key, str(tmp_path / "alerts.csv"), env={**env, "PIR_DB_LOCK_TIMEOUT": "3"})
        assert writer.returncode == 0, writer.stderr
        assert time.monotonic() - started < 30
        os.write(main, b".quit\n")
        assert shell.wait(timeout=30) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
        os.close(main)
    assert "SELECT count(*) AS first_count" in (tmp_path / ".pir_sql_history").read_text()

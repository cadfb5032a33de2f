import os
import subprocess
import sys
import unicodedata

import pytest

from pirlib.cli import build_parser


def run(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pirlib", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_top_level_help_lists_commands_and_settings():
    result = run("--help")
    assert result.returncode == 0
    for name in subcommands():
        assert name in result.stdout
    assert "PIR_JIRA_URL" in result.stdout and "PIR_PUBLISH_HOURS" in result.stdout


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: pir " + command in result.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["init", "--bogus"], [], ["export"]])
def test_usage_errors_are_one_line_and_nonzero(args):
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("pir: error: "), result.stderr  # the README's prefix, for subcommands too


def test_bad_setting_is_one_line_error(tmp_path):
    result = run("init", env={"PIR_DB": str(tmp_path / "x.duckdb"), "PIR_PUBLISH_HOURS": "-1"}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("pir: error: PIR_PUBLISH_HOURS: '-1' is out of range; set it to a number >= 0")


def test_init_then_export(tmp_path):
    env = {"PIR_DB": str(tmp_path / "pir.duckdb")}
    first = run("init", env=env, cwd=tmp_path)
    assert first.returncode == 0 and "001_initial.sql" in first.stdout
    again = run("init", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "already up to date" in again.stdout
    out = tmp_path / "parquet"
    exported = run("export", "--parquet", str(out), env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    files = {p.name for p in out.iterdir()}
    assert {"incidents", "incident_events", "actions.parquet", "v_action_status.parquet"} <= files
    assert not any(name.endswith(".partial") for name in files)


def test_export_without_a_database_says_how_to_make_one(tmp_path):
    result = run(
        "export", "--parquet", str(tmp_path / "o"), env={"PIR_DB": str(tmp_path / "none.duckdb")}, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "run `pir init`" in result.stderr


@pytest.mark.parametrize(
    "args, env",
    [
        (["check"], {}),
        (["remind", "--dry-run"], {"PIR_SLACK_WEBHOOK": "http://127.0.0.1:9/hook"}),
    ],
)
def test_escape_sequences_from_jira_never_reach_the_terminal(tmp_path, demo_db, args, env):
    import shutil

    import duckdb

    shutil.copyfile(demo_db, tmp_path / "pir.duckdb")
    hostile = "chr(27) || ']0;pwned' || chr(7) || chr(27) || '[2J' || chr(155) || '31m'"
    with duckdb.connect(str(tmp_path / "pir.duckdb")) as con:
        con.execute(f"UPDATE actions SET summary = 'boom' || {hostile}, owner = 'Ana' || {hostile}, owner_id = NULL")
    result = run(*args, env={"PIR_DB": str(tmp_path / "pir.duckdb"), "PIR_TODAY": "2025-09-07", **env}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "boom" in result.stdout  # the line is printed, without its control characters
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in result.stdout + result.stderr


def test_terminal_text_replaces_exactly_the_control_separator_and_bidi_characters():
    # terminal_text is one regular expression (a per-character category look-up was most of `pir check` at 50k):
    # it must stand for the Unicode categories Cc, Zl and Zp and the bidi controls, over every code point.
    from pirlib.terminal import terminal_text

    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    unsafe = [chr(c) for c in range(0x110000) if chr(c) in bidi or unicodedata.category(chr(c)) in ("Cc", "Zl", "Zp")]
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    shown = terminal_text(text)
    assert len(shown) == len(text) and [ch for ch, was in zip(shown, text) if ch != was] == ["?"] * len(unsafe)
    assert [was for ch, was in zip(shown, text) if ch != was] == unsafe

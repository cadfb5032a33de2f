"""`pir sql`: the analysts' read-only SQL over the pir database, as a query, a script on stdin or a prompt.

Every input (one statement, or several typed or piped together up to a closing ``;``) runs in its own
read-only connection that is closed before the next prompt. DuckDB's read-only holder blocks every writer,
so a prompt that kept a connection open would stall `pir sync`, imports and the guide for as long as an
analyst reads a result; opening per input costs a few milliseconds. What a connection keeps (``SET``,
temporary tables) therefore lasts one input: write one statement with CTEs instead.

Like the analyst notebook, ``getvariable('today')`` is the settings' today (``PIR_TODAY``, else the date).
Text goes to a terminal with control characters shown as ``?`` (an escape sequence in a Jira summary must
not drive the terminal); CSV and JSON sent to a file or a pipe keep the values as they are.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pirlib import db
from pirlib.config import Settings
from pirlib.errors import InputError, PirError
from pirlib.terminal import terminal_text

FORMATS = ("table", "csv", "json")
CELL_WIDTH = 60  # a table cell longer than this is cut with "…"; --csv and --json give whole values
HISTORY_FILE = Path("~/.pir_sql_history")
DOT_COMMANDS = {
    ".tables": "list the tables and views",
    ".help": "this list",
    ".quit": "leave (or Ctrl-D)",
}
CANCEL = "\x00cancel"  # a line meaning "drop the statement being typed" (Ctrl-C at the prompt)
_TABLES_SQL = (
    "SELECT table_name AS name, lower(table_type) AS kind FROM information_schema.tables"
    " WHERE table_schema = 'main' ORDER BY table_name"
)


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The database read-only for one unit of analyst work, with ``getvariable('today')`` set."""
    with db.read_model(settings) as con:
        con.execute("SET VARIABLE today = ?", [settings.current_date()])
        yield con


def run(settings: Settings, sql: str) -> Result:
    """The result of ``sql`` (the last statement's, when there are several) in one read-only connection.

    A statement that would write, or any SQL error, is an InputError with DuckDB's first line.
    """
    try:
        with connect(settings) as con:
            cursor = con.execute(sql)
            if cursor.description is None:
                return Result([], [])
            return Result([d[0] for d in cursor.description], cursor.fetchall())
    except duckdb.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "read-only mode" in detail:
            raise InputError(f"pir sql only reads ({detail}); change data through pir's commands") from None
        raise InputError(
            f"{detail}; fix the SQL (the schema is in docs/schema.md, `.tables` lists the tables)"
        ) from None


def statement_complete(text: str) -> bool:
    """Whether ``text`` ends with a ``;`` that is outside quotes and comments (the input can run)."""
    quote: str | None = None
    complete = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == "--":
            if ch == "\n":
                quote = None
        elif quote == "/*":
            if text.startswith("*/", i):
                quote, i = None, i + 1
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote, complete = ch, False
        elif text.startswith("--", i) or text.startswith("/*", i):
            quote, i = text[i : i + 2], i + 1
        elif ch == ";":
            complete = True
        elif not ch.isspace():
            complete = False
        i += 1
    return complete and quote in (None, "--")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def render(result: Result, fmt: str = "table", *, terminal: bool = True) -> str:
    """``result`` as an aligned table, CSV or a JSON array; ``terminal`` makes text safe to print."""
    if fmt == "json":
        # json escapes control characters itself, so the output is safe for a terminal as it is.
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return json.dumps(records, default=str, ensure_ascii=False) + "\n"
    clean = terminal_text if terminal else str
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([clean(c) for c in result.columns])
        writer.writerows([[clean(_cell(v)) if v is not None else "" for v in row] for row in result.rows])
        return buffer.getvalue()
    if not result.columns:
        return ""
    cells = [[clean(c) for c in result.columns]]
    for row in result.rows:
        texts = [terminal_text(_cell(v)) for v in row]
        cells.append([t if len(t) <= CELL_WIDTH else t[: CELL_WIDTH - 1] + "…" for t in texts])
    widths = [max(len(line[i]) for line in cells) for i in range(len(result.columns))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    count = len(result.rows)
    lines.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(lines) + "\n"


def inputs(lines: Iterator[str]) -> Iterator[str]:
    """Group ``lines`` into runnable inputs: up to a closing ``;``, or a dot command on its own line."""
    buffer: list[str] = []
    for line in lines:
        if line == CANCEL:
            buffer = []
            continue
        if not buffer and line.strip().startswith("."):
            yield line.strip()
            continue
        if not buffer and not line.strip():
            continue
        buffer.append(line)
        if statement_complete("\n".join(buffer)):
            yield "\n".join(buffer)
            buffer = []
    if "\n".join(buffer).strip():
        yield "\n".join(buffer)  # the last statement of a script may lack its ';'


def shell(
    settings: Settings,
    lines: Iterator[str],
    out: TextIO,
    err: TextIO,
    *,
    fmt: str = "table",
    terminal: bool = True,
    stop_on_error: bool = True,
) -> int:
    """Run every input of ``lines``; return the exit status (1 after an error, at once if ``stop_on_error``)."""
    status = 0
    for text in inputs(lines):
        try:
            if text.startswith("."):
                command = text.split()[0].lower()
                if command in (".quit", ".exit"):
                    break
                if command == ".help":
                    out.write("".join(f"{name:<8} {what}\n" for name, what in DOT_COMMANDS.items()))
                    continue
                if command != ".tables":
                    raise InputError(f"unknown command {command}; use one of {', '.join(DOT_COMMANDS)}")
                text = _TABLES_SQL
            out.write(render(run(settings, text), fmt, terminal=terminal))
        except PirError as exc:  # a bad statement, or the file locked or damaged: said, and the prompt goes on
            err.write(f"pir: error: {terminal_text(str(exc))}\n")
            status = 1
            if stop_on_error:
                break
        out.flush()
    return status


def prompt_lines(history: Path = HISTORY_FILE) -> Iterator[str]:
    """Lines typed at an interactive prompt, with readline editing and history kept in ``history``."""
    import readline  # only at a terminal: importing it elsewhere can write escape sequences to stdout

    path = history.expanduser()
    try:
        readline.read_history_file(path)
    except OSError:
        pass  # no history yet, or a home folder pir cannot read: the prompt works without
    typed: list[str] = []
    try:
        while True:
            try:
                line = input("...> " if typed else "pir> ")
            except EOFError:
                print()
                return
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, as in psql
                print()
                typed = []
                yield CANCEL
                continue
            if typed or (line.strip() and not line.strip().startswith(".")):
                typed.append(line)
            if statement_complete("\n".join(typed)):
                typed = []
            yield line
    finally:
        try:
            readline.set_history_length(1000)
            readline.write_history_file(path)
        except OSError:
            pass  # a read-only home folder loses the history, not the session


def stdin_lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


def interactive(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"

"""Every table, view and column of a database after `pir init` (all migrations and views) is documented in
docs/schema.md: under a `### ` heading that names the table in backticks, where each column is named."""

from __future__ import annotations

import re
from pathlib import Path

from pirlib import db

SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"


def sections(text: str) -> dict[str, str]:
    """Table name -> the text of the `###` section(s) whose heading names it in backticks."""
    found: dict[str, str] = {}
    for block in re.split(r"^(?=#{2,3} )", text, flags=re.MULTILINE):
        heading, _, body = block.partition("\n")
        if heading.startswith("### "):
            for name in re.findall(r"`([a-z_][a-z0-9_]*)`", heading):
                found[name] = found.get(name, "") + heading + "\n" + body
    return found


def undocumented(columns: list[tuple[str, str]], text: str) -> list[str]:
    documented = sections(text)
    missing = []
    for table, column in columns:
        if table not in documented:
            missing.append(f"{table} (no `### ` section names it)")
        elif not re.search(rf"(?<![\w]){re.escape(column)}(?![\w])", documented[table]):
            missing.append(f"{table}.{column}")
    return sorted(set(missing))


def test_every_table_view_and_column_is_documented(settings):
    db.init(settings)
    with db.connect(settings, read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
            " ORDER BY table_name, ordinal_position"
        ).fetchall()
    assert len({table for table, _ in columns}) > 20
    missing = undocumented(columns, SCHEMA_DOC.read_text(encoding="utf-8"))
    assert missing == [], "document these in docs/schema.md: " + ", ".join(missing)


def test_the_check_fails_on_an_undocumented_table_or_column():
    text = "## Tables\n### `t` — a table\n| column | meaning |\n|---|---|\n| a | the a |\n### `u`, `v`\n`b`.\n"
    assert undocumented([("t", "a"), ("u", "b"), ("v", "b")], text) == []
    assert undocumented([("t", "ab"), ("w", "a"), ("v", "c")], text) == [
        "t.ab",
        "v.c",
        "w (no `### ` section names it)",
    ]

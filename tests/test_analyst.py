"""The analyst notebook's ten queries: each is also in docs/schema.md, runs on the demo database with rows,
and reads "today" from the settings."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from pirlib import analyst, demo
from pirlib.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "analyst_examples.ipynb"


def queries() -> list[str]:
    cells = nbformat.read(NOTEBOOK, 4).cells
    return [
        m.group(1).strip()
        for c in cells
        if c.cell_type == "code"
        for m in re.finditer(r'analyst\.run\("""(.*?)"""\)', c.source, re.DOTALL)
    ]


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_ten_queries_each_also_in_the_schema_doc():
    found = queries()
    assert len(found) == 10
    doc = squeeze((ROOT / "docs" / "schema.md").read_text(encoding="utf-8"))
    for sql in found:
        assert squeeze(sql) in doc, f"docs/schema.md lacks the notebook's query: {sql[:60]}"


def test_queries_answer_on_the_demo_database(settings):
    demo.load_demo(settings)
    for sql in queries():
        assert not analyst.run(sql, settings).empty, sql[:60]


def test_today_comes_from_the_settings(settings):
    demo.load_demo(settings)
    before = analyst.run("SELECT getvariable('today') AS today", settings.replace(today=dt.date(2025, 9, 6)))
    assert str(before["today"].iloc[0])[:10] == "2025-09-06"
    overdue = "SELECT count(*) AS n FROM v_action_status WHERE NOT is_done AND due_date < getvariable('today')"
    early, late = (
        analyst.run(overdue, settings.replace(today=day))["n"].iloc[0]
        for day in (dt.date(2025, 1, 1), dt.date(2026, 11, 1))
    )
    assert early < late


def test_a_bad_chart_kind_is_one_line():
    with pytest.raises(InputError, match="'pie' is not one of bar, line, scatter"):
        analyst.chart(pd.DataFrame({"a": [1]}), "pie", "t", x="a")

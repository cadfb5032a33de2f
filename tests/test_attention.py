"""What needs attention (pirlib.attention), the links and URL filters between dashboard pages (pirlib.ui.nav,
the filter bar, the boards), and the read-only incident page, on small frames and on the demo database."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pirlib import attention, db, digest, metrics
from pirlib.config import Settings
from pirlib.ui import incident_page, nav
from pirlib.ui.boards import board as board_module
from pirlib.ui.boards import load_board
from pirlib.ui.filters import FilterBar

TODAY = dt.date(2026, 11, 1)


@pytest.fixture
def demo(tmp_path: Path, demo_db: Path) -> Settings:
    shutil.copy(demo_db, tmp_path / "pir.duckdb")
    return Settings(db=tmp_path / "pir.duckdb", today=TODAY, db_lock_timeout=20.0)


# --- the attention list ---------------------------------------------------------------------------------


def test_the_attention_list_counts_what_the_boards_count(demo):
    as_of = attention.now(demo)
    with db.connect(demo, read_only=True) as con:
        found = attention.collect(con, TODAY, as_of)
        stages = metrics.review_stage_states(metrics.load_review_stages(con), as_of)
        states = metrics.action_states(metrics.load_actions(con), TODAY)
        filings = metrics.load_regulatory_followups(con)
    reviews, actions, repeats, regulatory = found.sections
    at_risk = metrics.at_risk(stages, as_of)
    assert reviews.total == len(at_risk) > 0
    assert [line.path for line in reviews.lines] == [f"reviews.ipynb?incident={k}" for k in at_risk["key"].unique()]
    overdue = metrics.overdue_list(states)
    assert actions.total == len(overdue) > 0
    by_team = overdue["team"].fillna(attention.NO_TEAM).value_counts()
    assert sum(int(line.text.split(": ", 1)[1].split(" ", 1)[0]) for line in actions.lines) == len(overdue)
    first = actions.lines[0]
    assert first.text.startswith(f"{by_team.index[0]}: {by_team.iloc[0]} overdue actions")
    assert first.path == nav.page_path("actions", team=by_team.index[0])
    assert regulatory.total == int((filings["state"] == "open").sum()) == len(regulatory.lines)
    assert all(line.path.startswith("reviews.ipynb?incident=") for line in regulatory.lines)
    assert repeats.key == "recurrences" and found.count == sum(len(s.lines) for s in found.sections)


@pytest.mark.parametrize("today", [TODAY, dt.date(2025, 9, 7), dt.date(2026, 1, 15)])
def test_the_home_pages_narrow_readers_find_what_the_whole_frames_do(demo, today):
    """The home page reads only open actions and the recurrences that came back despite done fixes (a few of
    thousands at 10k incidents); the digest reads them whole for its week's numbers: the list is the same."""
    as_of = attention.now(Settings(db=demo.db, today=today))
    with db.connect(demo, read_only=True) as con:
        narrow = {name: read(con) for name, read in attention.LOADERS.items()}
        whole = {name: read(con) for name, read in digest.LOADERS.items()}
    assert len(narrow["actions"]) < len(whole["actions"]) and len(narrow["recurrences"]) < len(whole["recurrences"])
    found = attention.from_frames(narrow, today, as_of)
    assert found == attention.from_frames(whole, today, as_of)
    assert found.count > 0


def _recurrences(**columns) -> pd.DataFrame:
    base = {
        "key": ["INC-9", "INC-8", "INC-7", "INC-6"],
        "previous_key": ["INC-1", "INC-2", "INC-3", "INC-4"],
        "failure_mode": ["Bad deploy", "Bad deploy", "Capacity", "Bad deploy"],
        "service": ["api", "web", "api", "api"],
        "occurred_at": pd.to_datetime(["2026-10-20", "2026-10-02", "2026-10-05", "2026-09-20"], utc=True),
        "prevent_detect_done_before": [True, True, False, True],
    }
    return pd.DataFrame({**base, **columns})


def test_repeats_are_this_quarters_after_completed_prevent_detect_actions():
    section = attention.repeats_this_quarter(_recurrences(), TODAY)
    # INC-7's earlier actions were not done; INC-6 came back last quarter.
    assert section.total == 2 and len(section.lines) == 1
    (line,) = section.lines
    assert line.text == (
        "Bad deploy came back 2 times on api, web although the earlier incident's prevent/detect "
        "actions were done (INC-8 after INC-2, INC-9 after INC-1)"
    )
    assert line.path == "failure_modes.ipynb?failure_mode=Bad%20deploy&from=2026-10-01"
    assert attention.quarter_start(dt.date(2026, 3, 31)) == dt.date(2026, 1, 1)


def test_overdue_lines_name_owners_most_overdue_first_and_say_unassigned():
    states = pd.DataFrame(
        {
            "key": [f"A-{n}" for n in range(9)],
            "url": [None] * 9,
            "summary": ["x"] * 9,
            "severity": ["Sev-1"] * 9,
            "owner": ["Ann", "Ann", None, "Bo", "Cy", "Di", "Ed", "Fay", "Gus"],
            "team": ["SRE"] * 8 + [None],
            "due_date": [dt.date(2026, 10, 1)] * 9,
            "days_overdue": [31, 5, 9, 1, 2, 3, 4, 6, 7],
            "incident_key": ["INC-1"] * 9,
            "overdue": [True] * 9,
        }
    )
    section = attention.overdue_by_team(states)
    sre, none = section.lines
    # By actions, then by how overdue their most overdue action is.
    assert (
        sre.text
        == "SRE: 8 overdue actions, the oldest 31 days past due; owners: Ann (2), unassigned, Fay, Ed, Di, 2 more"
    )
    assert sre.path == "actions.ipynb?team=SRE"
    assert none.text.startswith("no team: 1 overdue action, the oldest 7 days") and none.path == "actions.ipynb"
    empty = attention.overdue_by_team(states.iloc[0:0])
    assert empty.lines == () and empty.empty == "No action is overdue."


# --- links and URL filters ------------------------------------------------------------------------------


def test_page_paths_encode_their_filters_and_urls_start_at_the_server_root(monkeypatch):
    assert nav.page_path("actions", team="A & B <c>") == "actions.ipynb?team=A%20%26%20B%20%3Cc%3E"
    assert nav.page_path("explore", team=["x", "y"], service=None, start="") == "explore.ipynb?team=x&team=y"
    assert nav.page_path("failure_modes", **{"from": dt.date(2026, 10, 1)}) == "failure_modes.ipynb?from=2026-10-01"
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    assert nav.page_url("reviews", incident="INC-1") == "/voila/render/reviews.ipynb?incident=INC-1"
    monkeypatch.setenv("VOILA_BASE_URL", "/pir/")
    assert nav.page_url("home") == "/pir/voila/render/home.ipynb"
    assert (
        nav.absolute_url("https://x.example/boards/", "home.ipynb")
        == "https://x.example/boards/voila/render/home.ipynb"
    )
    with pytest.raises(KeyError):
        nav.page_path("nosuchboard")


def test_url_filters_are_parsed_and_what_cannot_be_used_is_named():
    parsed = nav.parse_filters("team=SRE&team=Data&failure_mode=Bad%20deploy&from=2026-10-01&to=2026-10-31")
    assert parsed.filters == metrics.Filters(
        start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), teams=("SRE", "Data"), failure_modes=("Bad deploy",)
    )
    assert parsed.ignored == () and parsed.given
    assert parsed.describe() == ["team = SRE, Data", "failure mode = Bad deploy", "from 2026-10-01", "to 2026-10-31"]
    odd = nav.parse_filters("colour=red&failure_mode=x&from=yesterday", supported={"teams"})
    assert odd.filters == metrics.Filters()
    assert odd.ignored == (
        "colour: not a filter (filters: team, service, severity, failure_mode, incident, from, to)",
        "failure_mode: this page has no failure mode filter",
        "from=yesterday: not a date; write it as YYYY-MM-DD",
    )
    inverted = nav.parse_filters("from=2026-10-31&to=2026-10-01")
    assert inverted.filters.start is None and inverted.filters.end is None
    assert inverted.ignored == ("from 2026-10-31 to 2026-10-01: the range ends before it starts; swap the dates",)
    assert nav.parse_filters("from=2026-10-01", dates=False).ignored == ("from: this page has no date range",)
    assert not nav.parse_filters("").given and nav.applied_html("actions", nav.parse_filters("")) == ""


def test_the_applied_filters_line_escapes_what_the_url_says():
    parsed = nav.parse_filters("team=%3Cscript%3Ealert(1)%3C/script%3E&colour=%3Cb%3E")
    line = nav.applied_html("actions", parsed, {"teams": ["<script>alert(1)</script>"]})
    assert "<script>" not in line and "<b>" not in line
    assert "Filtered by team = &lt;script&gt;alert(1)&lt;/script&gt;." in line
    assert "No team &lt;script&gt;alert(1)&lt;/script&gt; in the data." in line
    assert 'href="/voila/render/actions.ipynb">Show everything</a>' in line


def test_the_header_links_every_page_by_title_and_marks_the_current_one():
    header = nav.header_html("actions")
    for page in nav.PAGES:
        assert page.title in header and page.description in header
        assert (f'href="/voila/render/{page.name}.ipynb"' in header) == (page.name != "actions")
    assert header.count("pir-nav-current") == 1


def test_the_filter_bar_starts_from_the_url_filters():
    options = {"teams": ["Data", "SRE"], "services": ["api"], "severities": ["Sev-1"]}
    wanted = metrics.Filters(
        start=dt.date(2026, 10, 1), teams=("SRE",), services=("gone",), failure_modes=("Bad deploy",)
    )
    bar = FilterBar(options, initial=wanted)
    assert (
        bar.choices["team"].value == "SRE"
        and bar.choices["service"].value == ""
        and bar.start.value == dt.date(2026, 10, 1)
    )
    # A value the data has not and a filter without a control stay applied, and are listed on the page.
    assert bar.value == metrics.Filters(
        start=dt.date(2026, 10, 1), teams=("SRE",), services=("gone",), failure_modes=("Bad deploy",)
    )
    seen = []
    bar.on_change(seen.append)
    bar.choices["service"].value = "api"  # picking a service replaces the link's
    assert seen[-1].services == ("api",) and seen[-1].failure_modes == ("Bad deploy",)
    bar.choices["service"].value = ""
    assert seen[-1].services == ()
    assert board_module.unknown_values(wanted, options) == {"services": ["gone"]}


def test_a_board_applies_its_url_filters_and_says_so(demo, monkeypatch):
    shown = []
    monkeypatch.setattr(board_module, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setenv("QUERY_STRING", "team=SRE&colour=red")
    actions = load_board("actions", demo)
    actions.show()
    header = shown[0].data
    assert header.startswith('<nav class="pir-nav"') and "Filtered by team = SRE." in header
    assert "Ignored: colour: not a filter" in header
    panels = shown[-1].data
    assert panels == actions.panels_html(metrics.Filters(teams=("SRE",)), first=True)
    assert panels != actions.panels_html(metrics.Filters(), first=True)


def test_failure_mode_and_incident_filters_narrow_the_frames_that_have_them():
    frame = pd.DataFrame({"key": ["A-1", "A-2"], "incident_key": ["INC-1", "INC-2"], "failure_mode": ["x", "y"]})
    assert metrics.apply_filters(frame, metrics.Filters(incidents=("INC-2",)), "key")["key"].tolist() == ["A-2"]
    assert metrics.apply_filters(frame, metrics.Filters(failure_modes=("x",)), "key")["key"].tolist() == ["A-1"]
    assert metrics.filterable(frame) == {"failure_modes", "incidents"}
    assert metrics.filterable(pd.DataFrame({"team": [], "service": []})) == {"teams", "services"}


# --- the incident page ------------------------------------------------------------------------------------


def test_the_incident_page_shows_timeline_milestones_actions_and_postmortem(demo):
    with db.connect(demo, read_only=True) as con:
        key = con.execute(
            "SELECT incident_key FROM v_action_status GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
        view = incident_page.load_view(con, key.lower(), TODAY)
    page = incident_page.page_html(view)
    assert view.facts["key"] == key and len(view.actions) > 0
    figure = json.loads(html.unescape(re.search(r'<div class="pir-plot"[^>]* data-figure="([^"]*)"', page).group(1)))
    assert figure["layout"]["title"]["text"] == f"{key} timeline"
    assert {trace["type"] for trace in figure["data"]} == {"scatter"}  # the pages' plotly.js has no scattergl
    assert "<h3>Milestones</h3>" in page and f"<h3>Actions ({len(view.actions)})</h3>" in page
    assert "Postmortem:" in page
    for url in view.actions["url"].dropna():
        assert f'href="{url}"' in page


def test_the_incident_page_says_what_is_missing(demo, monkeypatch):
    shown = []
    monkeypatch.setattr(incident_page, "display", lambda obj, raw=False: shown.append(obj.data))
    for query, words in (
        ("", "No incident named"),
        ("incident=INC-999999", "unknown incident &#x27;INC-999999&#x27;"),
        ("incident=INC-1&incident=INC-2", "Several incidents named"),
    ):
        monkeypatch.setenv("QUERY_STRING", query)
        incident_page.show(demo)
        assert words in shown[-1], shown[-1]

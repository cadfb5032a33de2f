"""Figure builders, the overview's queries and the boards, on small frames and a fixture file."""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from support import dashboard_fixture

from pirlib import db, metrics
from pirlib.config import Settings
from pirlib.ui import boards, figures, html
from pirlib.ui.boards import board as board_module
from pirlib.ui.filters import FilterBar, emptied_by

HOSTILE = "<img src=x onerror=alert(1)> & <script>alert(2)</script>"


def months(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


def incident_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month": months("2026-08-01", "2026-08-01", "2026-09-01", "2026-09-01"),
            "severity": ["Sev-1", "Sev-0", None, HOSTILE],
            "incidents": [2, 1, 1, 7],
            "examples": [["INC-2 " + HOSTILE, "INC-1 ok"], ["INC-3 x"], ["INC-4 y"], ["INC-5 z"]],
        }
    )


def all_text(fig) -> str:
    """Every string plotly will draw: trace names, hover templates and custom data, titles."""
    return json.dumps(fig.to_plotly_json(), default=str)


def test_incidents_figure_stacks_severities_in_runbook_order():
    fig = figures.incidents_by_severity_month(incident_frame())
    names = [trace.name for trace in fig.data]
    assert names == ["Sev-0", "Sev-1", html.plotly_text(HOSTILE), figures.NO_SEVERITY]
    assert fig.layout.barmode == "stack"
    sev1 = fig.data[1]
    assert list(sev1.y) == [2]
    assert sev1.marker.color == figures.SEVERITY_COLORS["Sev-1"]


def test_incidents_figure_escapes_jira_text_in_names_and_hover():
    fig = figures.incidents_by_severity_month(incident_frame())
    text = all_text(fig)
    assert "<img" not in text and "<script" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;" in text
    hover = fig.data[1].customdata[0]
    assert (
        hover == "<br>INC-2 &lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;alert(2)&lt;/script&gt;<br>INC-1 ok"
    )


def test_incident_hover_says_how_many_more_and_shortens_long_summaries():
    frame = pd.DataFrame(
        {"month": months("2026-08-01"), "severity": ["Sev-2"], "incidents": [9], "examples": [["INC-9 " + "x" * 200]]}
    )
    hover = figures.incidents_by_severity_month(frame).data[0].customdata[0]
    assert hover.endswith("<br>… and 8 more")
    assert len(hover.split("<br>")[1]) == figures.HOVER_TEXT_CHARS


def test_incident_hover_takes_duckdb_lists_as_numpy_arrays_and_missing_examples():
    frame = pd.DataFrame(
        {
            "month": months("2026-08-01", "2026-09-01"),
            "severity": ["Sev-2", "Sev-2"],
            "incidents": [2, 1],
            "examples": [np.array(["INC-1 a <b>", "INC-2 b"], dtype=object), None],
        }
    )
    hover = figures.incidents_by_severity_month(frame).data[0].customdata
    assert list(hover) == ["<br>INC-1 a &lt;b&gt;<br>INC-2 b", ""]


def test_action_figure_orders_states_and_counts_in_legend():
    frame = pd.DataFrame(
        {
            "month": months("2026-08-01", "2026-08-01", "2026-09-01", "2026-09-01"),
            "state": ["overdue", "done", "done", "open"],
            "actions": [1, 2, 3, 4],
        }
    )
    fig = figures.action_status_by_month(frame)
    assert [trace.name for trace in fig.data] == ["done (5)", "open (4)", "overdue (1)"]
    assert fig.data[0].marker.color == figures.ACTION_COLORS["done"]


def test_figures_accept_empty_frames():
    empty_incidents = incident_frame().iloc[0:0]
    assert figures.incidents_by_severity_month(empty_incidents).data == ()
    empty_actions = pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), "state": [], "actions": []})
    assert figures.action_status_by_month(empty_actions).data == ()


def test_mime_bundle_is_plotly_json_with_config_and_no_html():
    bundle = figures.mime_bundle(figures.incidents_by_severity_month(incident_frame()))
    assert set(bundle) == {figures.PLOTLY_MIMETYPE, "text/plain"}
    payload = bundle[figures.PLOTLY_MIMETYPE]
    assert payload["config"]["displaylogo"] is False
    assert len(payload["data"]) == 4
    json.dumps(bundle)  # serialisable as it is sent to the page


def test_html_bundle_keeps_jira_text_inside_one_escaped_attribute():
    spec = figures.completion_rate_bars(
        pd.DataFrame(
            {
                "team": ['x" onmouseover="alert(1)', HOSTILE],
                "actions": [2, 1],
                "done": [1, 1],
                "open": [1, 0],
                "overdue": [0, 0],
                "completion_rate": [0.5, 1.0],
                "on_time_rate": [1.0, 1.0],
            }
        ),
        "team",
        "by team <b>",
    )
    bundle = figures.html_bundle(spec)
    assert set(bundle) == {"text/html", "text/plain"}
    markup = bundle["text/html"]

    class Elements(HTMLParser):
        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    parser = Elements()
    parser.found = []
    parser.feed(markup)
    assert [tag for tag, _ in parser.found] == ["div"]  # one empty div: no element came out of the JSON
    attrs = parser.found[0][1]
    assert set(attrs) == {"class", "style", "data-figure"} and attrs["class"] == "pir-plot"
    figure = json.loads(attrs["data-figure"])
    assert figure == figures.mime_bundle(spec)[figures.PLOTLY_MIMETYPE]
    assert figure["data"][0]["y"][0] == "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;alert(2)&lt;/script&gt;"
    assert "<img" not in markup and "<script" not in markup and 'onmouseover="' not in markup


def test_html_bundle_refuses_a_trace_type_the_page_cannot_draw():
    with pytest.raises(ValueError, match="scattergeo"):
        figures.html_bundle({"data": [{"type": "scattergeo", "lat": [1], "lon": [2]}], "layout": {}})


def test_overview_figures_fit_the_page_bundle_and_have_a_height():
    for fig in (
        figures.incidents_by_severity_month(incident_frame()),
        figures.action_status_by_month(
            pd.DataFrame({"month": months("2026-08-01"), "state": ["done"], "actions": [1]})
        ),
    ):
        assert 'style="height:420px"' in figures.html_bundle(fig)["text/html"]


@pytest.fixture
def fixture_db(tmp_path) -> Settings:
    return dashboard_fixture.build(tmp_path / "pir.duckdb")


def test_incidents_by_severity_month_counts_and_leaves_out_deleted(fixture_db):
    with db.connect(fixture_db, read_only=True) as con:
        frame = metrics.incidents_by_severity_month(con)
    assert frame["incidents"].sum() == 6  # seven rows, one deleted in Jira
    august = frame[frame["month"] == pd.Timestamp("2026-08-01")].set_index("severity")["incidents"].to_dict()
    assert august == {"Sev-0": 1, "Sev-1": 1}
    october = frame[frame["month"] == pd.Timestamp("2026-10-01")]
    assert october["severity"].isna().sum() == 1
    xss = frame[frame["severity"] == "Sev-1"]["examples"].iloc[0]
    assert xss[0] == "INC-2 " + dashboard_fixture.XSS_SUMMARY


def test_action_status_counts_by_state(fixture_db):
    with db.connect(fixture_db, read_only=True) as con:
        frame = metrics.action_status_counts(con)
    totals = frame.groupby("state")["actions"].sum().to_dict()
    assert totals == {"done": 2, "overdue": 1, "open": 2}


def test_last_sync_skips_failed_runs(fixture_db):
    failed = pd.DataFrame(
        {
            "run_id": ["run-2"],
            "started_at": [pd.Timestamp("2026-10-31 06:00", tz="UTC")],
            "finished_at": [pd.Timestamp("2026-10-31 06:01", tz="UTC")],
            "status": ["failed"],
            "mode": ["incremental"],
        }
    )
    with db.connect(fixture_db) as con:
        db.upsert_frame(con, "sync_runs", failed, "run_id")
        last = metrics.last_sync(con)
    assert last["run_id"] == "run-1"


def test_data_as_of_line():
    finished = pd.Timestamp("2026-10-30 06:02", tz="UTC")
    run = {"finished_at": finished, "source": "jira", "mode": "incremental"}
    today = dt.date(2026, 11, 1)
    assert boards.data_as_of(run, today) == "Data as of 2026-10-30 06:02 UTC (2 days ago, jira)."
    assert "(today, jira)" in boards.data_as_of(run, dt.date(2026, 10, 30))
    assert "(yesterday" in boards.data_as_of(run, dt.date(2026, 10, 31))
    assert "no sync recorded" in boards.data_as_of(None, today)
    demo = {"finished_at": finished, "source": "/home/me/pir/data/sample", "mode": "demo"}
    assert boards.data_as_of(demo, today).endswith("(2 days ago, sample data from `pir demo`).")


def test_load_overview_reads_everything_and_releases_the_file(fixture_db):
    overview = boards.load_board("overview", fixture_db)
    assert overview.problem is None and not overview.spec.has_filters
    assert overview.data.frames["totals"].to_dict("records") == [{"incidents": 6, "actions": 5}]
    assert "6 incidents, 5 actions. Data as of 2026-10-30 06:02 UTC (2 days ago, fixture)." in overview.header_html()
    # The read-only connection is closed: a writer gets in at once.
    with db.connect(fixture_db.replace(db_lock_timeout=0.5)) as con:
        con.execute("DELETE FROM sync_runs")


def test_load_overview_on_missing_and_empty_databases(tmp_path):
    missing = boards.load_board("overview", Settings(db=tmp_path / "missing.duckdb"))
    assert missing.problem == boards.EMPTY_MESSAGE
    assert not (tmp_path / "missing.duckdb").exists()
    empty = boards.load_board("overview", dashboard_fixture.build_empty(tmp_path / "empty.duckdb"))
    assert empty.problem == boards.EMPTY_MESSAGE
    assert "No data yet: run <code>pir demo</code> for the sample or <code>pir sync</code>" in empty.header_html()


def test_table_escapes_every_cell():
    frame = pd.DataFrame(
        {"Summary": [HOSTILE, None], "Started": [pd.Timestamp("2026-08-03 10:00:59", tz="UTC"), pd.NaT]}
    )
    table = html.table(frame)
    assert "<img" not in table and "<script" not in table
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;" in table
    assert '<td style="text-align:left;white-space:nowrap">2026-08-03 10:00</td>' in table
    assert '<td style="text-align:left"></td>' in table  # a missing time is empty, and nothing to keep on a line


def test_overview_shows_its_header_and_panels_without_raw_jira_markup(fixture_db, monkeypatch):
    shown = []
    monkeypatch.setattr(board_module, "display", lambda obj, raw=False: shown.append(obj))
    overview = boards.load_board("overview", fixture_db)
    overview.show()
    assert (
        len(shown) == 2
    )  # the pages' header and the as-of line, then every panel in one block (no filter bar, no widgets)
    header, panels = (item.data for item in shown)
    assert header.startswith('<nav class="pir-nav"')
    assert '</nav><p class="pir-as-of">6 incidents, 5 actions. Data as of' in header
    assert panels.startswith('<div class="pir-panels">') and panels.count('<div class="pir-plot"') == 2
    assert "<h3>Latest incidents</h3>" in panels and '<th style="text-align:left">Started (UTC)</th>' in panels
    rendered = json.dumps([header, panels])
    assert "<img" not in rendered and "<script" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered


def test_overview_without_actions_says_so(fixture_db):
    with db.connect(fixture_db) as con:
        con.execute("DELETE FROM actions")
    contents = boards.load_board("overview", fixture_db).contents(metrics.Filters())
    assert "No actions yet: actions appear once reviews create them in Jira" in contents[1]
    assert sum(board_module.is_figure(content) for content in contents) == 1


# --- leadership dashboards (issue 7) -------------------------------------------------------------------


def test_dashboard_figures_escape_every_jira_label():
    rates = pd.DataFrame(
        {
            "team": [HOSTILE, "SRE"],
            "actions": [3, 1],
            "done": [1, 1],
            "open": [2, 0],
            "overdue": [1, 0],
            "completion_rate": [1 / 3, 1.0],
            "on_time_rate": [np.nan, 1.0],
        }
    )
    counts = pd.DataFrame({"failure_mode": [HOSTILE, "DNS"], "service": ["svc", HOSTILE], "incidents": [2, 1]})
    specs = [
        figures.completion_rate_bars(rates, "team", "by team"),
        figures.heatmap(counts, "service", "failure_mode", "incidents", "modes"),
        figures.stacked_bars(counts, "service", "failure_mode", "incidents", "bars"),
    ]
    for spec in specs:
        text = json.dumps(spec)
        assert "<img" not in text and "<script" not in text, text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert specs[0]["data"][1]["x"] == [1.0, None]  # no on-time rate is a gap, not 0 %


def test_distribution_boxes_are_precomputed_with_median_p90_and_n():
    summary = pd.DataFrame(
        {
            "measure": ["TTD", "TTR"],
            "period": [pd.Timestamp("2026-07-01")] * 2,
            "n": [4, 4],
            "median": [5.0, 60.0],
            "p90": [9.0, 200.0],
            "p10": [1.0, 20.0],
            "q1": [2.0, 30.0],
            "q3": [7.0, 90.0],
            "min": [1.0, 10.0],
            "max": [10.0, 300.0],
        }
    )
    spec = figures.distribution_boxes(summary, "period", "Durations", "minutes", trace="measure", log=True)
    boxes = [t for t in spec["data"] if t["type"] == "box"]
    assert [b["name"] for b in boxes] == ["TTD", "TTR"]
    assert boxes[1]["median"] == [60.0] and boxes[1]["upperfence"] == [200.0]
    hover = [t for t in spec["data"] if t["type"] == "scatter"][1]
    assert hover["customdata"] == [["1 h", "3 h 20 min", 4]] and "n=" in hover["hovertemplate"]
    axis = spec["layout"]["yaxis"]
    assert axis["type"] == "log"
    # The axis speaks durations too: 60 minutes is labelled "1 h", a day "1 d".
    assert dict(zip(axis["tickvals"], axis["ticktext"]))[60] == "1 h"
    assert dict(zip(axis["tickvals"], axis["ticktext"]))[24 * 60] == "1 d"
    in_hours = figures.distribution_boxes(summary.drop(columns="measure"), "period", "Late", "hours", log=True)
    assert [t for t in in_hours["data"] if t["type"] == "scatter"][0]["customdata"][0][:2] == ["5 h", "9 h"]
    assert dict(zip(in_hours["layout"]["yaxis"]["tickvals"], in_hours["layout"]["yaxis"]["ticktext"]))[24] == "1 d"
    bundle = figures.mime_bundle(spec)
    assert bundle[figures.PLOTLY_MIMETYPE]["config"]["displaylogo"] is False


@pytest.mark.parametrize("name", sorted(boards.BOARDS))
def test_every_board_renders_its_panels_and_keeps_jira_markup_out(fixture_db, name):
    board = boards.load_board(name, fixture_db)
    assert board.problem is None
    everything = metrics.Filters()
    contents = board.contents(everything)
    assert len(contents) == len(boards.BOARDS[name].panels)
    text = json.dumps([c if isinstance(c, (dict, str)) else c.to_plotly_json() for c in contents], default=str)
    assert "<img" not in text and "<script" not in text and "<b>for</b>" not in text
    # What the page gets: one block, a plotly div per figure (checked against the page's bundle), no markup
    # from Jira.
    page = board.panels_html(everything)
    drawn = sum(board_module.is_figure(content) for content in contents)
    assert page.count('<div class="pir-plot"') == drawn
    assert drawn > 0 or name in ("home", "explore")  # lists only: what needs attention, incidents and actions
    assert "<img" not in page and "<script" not in page and "<b>for</b>" not in page
    narrowed = board.contents(metrics.Filters(severities=("Sev-0",), start=dt.date(2026, 8, 1)))
    assert len(narrowed) == len(contents)
    # The file is free again: a writer gets in at once.
    with db.connect(fixture_db.replace(db_lock_timeout=1.0)) as con:
        con.execute("SELECT 1")


def test_action_board_filter_changes_the_numbers(fixture_db):
    board = boards.load_board("actions", fixture_db)
    every, sev0 = board.contents(metrics.Filters()), board.contents(metrics.Filters(severities=("Sev-0",)))
    assert every[0] != sev0[0]
    assert "INC-102" in every[-1]  # the overdue list


@pytest.mark.parametrize("name", sorted(boards.BOARDS))
def test_boards_on_missing_and_empty_databases_say_how_to_load(tmp_path, name):
    for settings in (Settings(db=tmp_path / "missing.duckdb"), dashboard_fixture.build_empty(tmp_path / "e.duckdb")):
        board = boards.load_board(name, settings)
        assert "No data yet" in board.header_html()
    assert not (tmp_path / "missing.duckdb").exists()


def test_choice_is_one_figure_with_a_button_per_view():
    teams = pd.DataFrame(
        {
            "team": [HOSTILE, "SRE"],
            "actions": [3, 1],
            "done": [1, 1],
            "open": [2, 0],
            "overdue": [1, 0],
            "completion_rate": [1 / 3, 1.0],
            "on_time_rate": [0.5, 1.0],
        }
    )
    owners = teams.rename(columns={"team": "owner"}).head(1)
    spec = figures.choice(
        [
            ("by team", figures.completion_rate_bars(teams, "team", "Rates by team")),
            ("by <owner>", figures.completion_rate_bars(owners, "owner", "Rates by owner")),
        ]
    )
    assert [trace["visible"] for trace in spec["data"]] == [True, True, False, False]  # the first grouping shows
    assert spec["layout"]["title"]["text"] == "Rates by team"
    (menu,) = spec["layout"]["updatemenus"]
    assert [b["label"] for b in menu["buttons"]] == ["by team", "by &lt;owner&gt;"]
    owner_button = menu["buttons"][1]
    assert owner_button["args"][0] == {"visible": [False, False, True, True]}
    assert owner_button["args"][1]["title.text"] == "Rates by owner"
    assert owner_button["args"][1]["height"] == figures.completion_rate_bars(owners, "owner", "x")["layout"]["height"]
    assert spec["data"][2]["y"] == spec["data"][0]["y"][1:]  # the owner bars are the owner frame's (one row)
    text = json.dumps(spec)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_choice_of_heatmaps_switches_the_axis_type_with_the_view():
    by_period = pd.DataFrame(
        {"period": ["2026-01-01", "2026-04-01"], "failure_mode": ["DNS", HOSTILE], "incidents": [1, 2]}
    )
    by_service = pd.DataFrame(
        {"service": ["2026-01-01-api", "svc"], "failure_mode": ["DNS", HOSTILE], "incidents": [1, 2]}
    )
    spec = figures.choice(
        [
            ("by quarter", figures.heatmap(by_period, "period", "failure_mode", "incidents", "by quarter", dates=True)),
            ("by service", figures.heatmap(by_service, "service", "failure_mode", "incidents", "by service")),
        ]
    )
    assert spec["layout"]["xaxis"]["type"] == "date"
    quarter, service = (button["args"][1] for button in spec["layout"]["updatemenus"][0]["buttons"])
    assert quarter["xaxis.type"] == "date" and service["xaxis.type"] == "category"  # not guessed from the values
    assert quarter["yaxis.type"] == service["yaxis.type"] == "category"


# --- charts that read right (issue 19.4) -----------------------------------------------------------------


def _luminance(colour: str) -> float:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_count_heatmap_is_darkest_where_the_count_is_highest_and_shows_counts_that_fit():
    counts = pd.DataFrame(
        {"service": ["api", "api", "web"], "failure_mode": ["Capacity", "Network", "Network"], "incidents": [1, 9, 3]}
    )
    trace = figures.heatmap(counts, "service", "failure_mode", "incidents", "modes")["data"][0]
    shades = [_luminance(colour) for _, colour in trace["colorscale"]]
    assert shades == sorted(shades, reverse=True) and shades[0] > shades[-1]  # light for few, dark for many
    assert [stop for stop, _ in trace["colorscale"]][:: len(shades) - 1] == [0.0, 1.0]
    # From zero to the largest count: the most frequent cell (9) is the darkest, a cell of 1 still coloured.
    assert trace["zmin"] == 0 and trace["zmax"] == 9
    assert dict(zip(trace["y"], trace["z"]))["Network"] == [9, 3]
    assert trace["texttemplate"] == "%{z}"  # two columns: each cell shows its count
    many = pd.DataFrame({"service": [f"svc-{i}" for i in range(40)], "failure_mode": "Network", "incidents": 1})
    assert "texttemplate" not in figures.heatmap(many, "service", "failure_mode", "incidents", "modes")["data"][0]


def test_bars_show_their_numbers_where_they_fit():
    counts = pd.DataFrame(
        {"service": ["api", "api", "web"], "severity": ["Sev-1", "Sev-2", "Sev-1"], "incidents": [4, 1, 2]}
    )
    stacked = figures.stacked_bars(counts, "service", "severity", "incidents", "by service")
    assert [(t["text"], t["textposition"], t["textangle"]) for t in stacked["data"]] == [
        ([4, 2], "inside", 0),
        ([1, None], "inside", 0),
    ]
    # plotly hides a number that does not fit its bar at 9 px rather than shrinking it unreadably
    assert stacked["layout"]["uniformtext"] == {"mode": "hide", "minsize": 9}
    aging = figures.aging_bars(pd.DataFrame({"bucket": ["0–30 days"] * 2, "overdue": [False, True], "actions": [3, 0]}))
    assert [t["text"] for t in aging["data"]] == [[3], [""]]  # no "0" drawn on an empty bar
    rates = pd.DataFrame(
        {
            "team": ["SRE"],
            "actions": [4],
            "done": [2],
            "open": [2],
            "overdue": [1],
            "completion_rate": [0.5],
            "on_time_rate": [0.25],
        }
    )
    assert {t["texttemplate"] for t in figures.completion_rate_bars(rates, "team", "rates")["data"]} == {"%{x:.0%}"}
    monthly = figures.incidents_by_severity_month(incident_frame())
    assert monthly.layout.uniformtext.mode == "hide" and list(monthly.data[0].text) == [1]
    assert monthly.data[0].textangle == 0  # across the bar or not at all, never sideways in a thin segment
    assert list(
        figures.action_status_by_month(pd.DataFrame({"month": months("2026-08-01"), "state": ["done"], "actions": [5]}))
        .data[0]
        .text
    ) == [5]


def test_an_unowned_action_says_unassigned_and_lateness_reads_as_a_duration(fixture_db):
    board = boards.load_board("actions", fixture_db)
    contents = board.contents(metrics.Filters())
    overdue = contents[-1]  # INC-102: no owner, due 2026-09-01, today 2026-11-01
    assert '<td style="text-align:left">unassigned</td>' in overdue
    assert '<td style="text-align:left;white-space:nowrap">2026-09-01</td>' in overdue
    assert (
        '<th style="text-align:right">Late by</th>' in overdue and '<td style="text-align:right">61 d</td>' in overdue
    )
    by_owner = [t["y"] for t in contents[1]["data"] if t["name"] == "completed"][1]  # the second view: by owner
    assert by_owner == ["unassigned"]


def test_an_inverted_date_range_is_refused_with_a_message(fixture_db):
    bar = FilterBar({}, start=dt.date(2026, 10, 1), end=dt.date(2026, 9, 1))
    assert (bar.value.start, bar.value.end) == (dt.date(2026, 10, 1), dt.date(2026, 9, 1))  # not swapped
    page = boards.load_board("incidents", fixture_db).panels_html(bar.value)
    assert "The date range is inverted: From 2026-10-01 is after To 2026-09-01." in page
    assert "pir-plot" not in page and "pir-kpis" not in page  # no panel drawn for a range that is not one


@pytest.mark.parametrize(
    "name, first_panel_says",
    [
        ("incidents", "No incidents"),
        ("actions", "No actions"),
        ("failure_modes", "No incidents"),
        ("reviews", "No reviewed incidents (Sev-0/Sev-1, closed)"),
    ],
)
def test_a_panel_that_the_filters_empty_says_which_filter(fixture_db, name, first_panel_says):
    board = boards.load_board(name, fixture_db)
    panel = 1 if name == "failure_modes" else 0  # the failure-modes board's first panel is its recurrence KPIs

    def says(filters: metrics.Filters) -> str:
        return board.contents(filters)[panel]

    assert f"{first_panel_says}: the severity filter (Sev-4) leaves none." in says(
        metrics.Filters(severities=("Sev-4",))
    )
    late = metrics.Filters(severities=("Sev-0",), end=dt.date(2026, 1, 1))
    assert f"{first_panel_says}: the date filter (up to 2026-01-01) leaves none." in says(late)
    # Each alone leaves something; together nothing (INC-1, the one Sev-0, is from August).
    both = metrics.Filters(severities=("Sev-0",), start=dt.date(2026, 9, 1), end=dt.date(2026, 12, 31))
    assert (
        f"{first_panel_says}: the date filter (2026-09-01 to 2026-12-31) and the severity filter (Sev-0) "
        "together leave none."
    ) in says(both)


def test_emptied_by_names_every_filter_that_alone_leaves_nothing():
    frame = pd.DataFrame(
        {
            "occurred_at": [pd.Timestamp("2026-08-03", tz="UTC")],
            "service": ["api"],
            "severity": ["Sev-1"],
            "teams": [["SRE"]],
        }
    )
    both = metrics.Filters(services=("web",), teams=("Payments", "Data"))
    assert emptied_by(frame, both, "occurred_at") == (
        "the team filter (Payments, Data) and the service filter (web) each leave none"
    )
    assert emptied_by(frame, metrics.Filters(), "occurred_at") is None  # no filter: nothing to name
    assert emptied_by(frame.iloc[:0], both, "occurred_at") is None  # empty before any filter

"""The four leadership dashboards in headless Chromium against `pir serve` on the demo database.

The demo database gets one hostile incident and action on top (HTML-looking Jira text, a javascript: URL).
Every page must render its figures with no traceback, no console error and no request beyond the server;
a filter change must redraw a figure; a writer saving notes while five dashboards refresh must lose nothing.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pirlib import db
from pirlib.config import Settings
from pirlib.failure_modes import similar
from support.browser import FIGURES, FILTERS, Visit, assert_clean, assert_filter_redraws
from support.serving import ARTIFACTS, demo_workdir, pir_serve

WORKER = Path(__file__).resolve().parent / "support" / "db_worker.py"
XSS = "Boom <img src=x onerror=alert(1)> <script>alert('pir')</script> & more"
# dashboard: how many plotly figures it draws on the demo database


def hostile_rows(database: Path) -> None:
    with db.connect(Settings(db=database)) as con:
        incident = con.execute("SELECT * FROM incidents WHERE severity = 'Sev-1' ORDER BY key LIMIT 1").df()
        incident = incident.assign(issue_id="9999001", key="INC-XSS", summary=XSS, failure_mode="Mode <b>bold</b>",
                                   service="Service <b>bold</b>", url="javascript:alert(1)").drop(columns=["raw"])  # fmt: skip
        db.upsert_frame(con, "incidents", incident, "issue_id")
        action = con.execute("SELECT * FROM actions WHERE status_category <> 'done' ORDER BY key LIMIT 1").df()
        action = action.assign(issue_id="9999002", key="INC-XSS-A", summary=XSS, incident_id="9999001",
                               owner="Eve <img src=x onerror=alert(2)>", due_date=pd.Timestamp("2024-01-01").date(),
                               url="javascript:alert(3)")  # fmt: skip
        db.upsert_frame(con, "actions", action, "issue_id")
        similar.refresh(con, ["9999001"])  # as a sync that wrote it: the incidents board's lists see it


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    workdir, database = demo_workdir(tmp_path_factory, "boards")
    hostile_rows(database)
    with pir_serve(workdir, database) as url:
        yield url, database


def render(url: str) -> str:
    return f"{url}/voila/render/{{}}.ipynb"


@contextlib.contextmanager
def board(browser, url: str, name: str) -> Iterator[Visit]:
    """Dashboard ``name`` loaded with all its figures drawn and its filters there, in its own browser context,
    closed after."""
    visit = Visit(browser, render(url).format(name), wait_for_plots=FIGURES[name], wait_for=FILTERS)
    try:
        yield visit
    finally:
        visit.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(set(FIGURES) - {"overview"}))  # the leadership boards
def test_dashboard_renders_offline_with_figures_and_as_of(browser, demo_server, name):
    url, _ = demo_server
    with board(browser, url, name) as visit:
        ARTIFACTS.mkdir(exist_ok=True)
        visit.page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        assert_clean(visit)
        assert "Data as of" in visit.text
        assert visit.page.locator(FILTERS).count() == 3
        assert "load_board" not in visit.text  # sources stripped


@pytest.mark.browser
def test_figures_with_buttons_switch_views(browser, demo_server):
    """Completion and on-time rates by team, owner, severity and incident are one figure with a button per
    grouping: a click shows that grouping's bars and title, and the figure's box grows with its rows. The
    failure-mode heatmaps by period and by service are one figure the same way."""
    url, _ = demo_server

    def choose(visit: Visit, plot, label: str, shown: str) -> None:
        """Click the figure's button ``label``, then wait until the JavaScript condition ``shown`` holds."""
        plot.locator(".updatemenu-button", has_text=label).click()
        visit.page.wait_for_function(f"() => {shown}", timeout=10_000)

    title = "document.querySelector('.js-plotly-plot .gtitle').textContent"
    with board(browser, url, "actions") as visit:
        rates = visit.page.locator(".js-plotly-plot").first
        assert "rate by team" in rates.locator(".gtitle").text_content()
        height = rates.bounding_box()["height"]
        choose(visit, rates, "by owner", f"{title}.includes('rate by owner')")
        # 20 owners (the top 20 of the demo's 40) against 9 teams: taller, and the box below moved down with it.
        visit.page.wait_for_function(f"() => document.querySelector('.pir-plot').getBoundingClientRect().height > {height} + 200", timeout=10_000)
        assert rates.locator("g.trace.bars path").count() == 2 * 20
        choose(visit, rates, "by incident severity", f"{title}.includes('rate by incident severity')")
        assert_clean(visit)
    # The failure-mode heatmap: by period (a date axis), then by service (names on a category axis).
    with board(browser, url, "failure_modes") as visit:
        heatmap = visit.page.locator(".js-plotly-plot").first
        assert "Oct 2025" in heatmap.locator(".xtick").all_text_contents()
        choose(visit, heatmap, "by service",
               "Array.from(document.querySelectorAll('.js-plotly-plot .xtick')).some(t => t.textContent === 'checkout-web')")
        assert_clean(visit)


# Per column of the overdue-actions table (the actions board's last table): how its first row's cell aligns,
# whether it may wrap, and on how many lines its text lies, as the page's style and ours leave them.
CELL_LAYOUT = """() => {
    const table = [...document.querySelectorAll('table.pir-table')].pop();
    const names = [...table.querySelectorAll('thead th')].map(th => th.textContent);
    const cells = [...table.querySelectorAll('tbody tr:first-child td')];
    return Object.fromEntries(names.map((name, i) => {
        const style = getComputedStyle(cells[i]), range = document.createRange();
        range.selectNodeContents(cells[i]);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        return [name, [style.textAlign, style.whiteSpace, lines]];
    }));
}"""


@pytest.mark.browser
def test_filter_change_redraws_the_figures(browser, demo_server):
    url, _ = demo_server
    with board(browser, url, "actions") as visit:
        # Only a browser shows what the page's own style (which right-aligns table cells) leaves of ours:
        # text left, numbers right, a date on one line.
        layout = visit.page.evaluate(CELL_LAYOUT)
        assert layout["Summary"][0] == "left" and layout["Owner"][0] == "left", layout
        assert layout["Late by"][0] == "right", layout
        assert layout["Due"][1] == "nowrap" and layout["Due"][2] == 1, layout
        bars = visit.page.locator(".js-plotly-plot").first.locator("g.trace.bars path").count()
        assert_filter_redraws(visit)  # chooses the team SRE
        # One team left: the team figure is redrawn with two bars (its two rates) instead of two per team.
        visit.page.wait_for_function(
            "old => { const p = document.querySelector('.js-plotly-plot');"
            " return p && p.querySelectorAll('g.trace.bars path').length === 2 && old > 2; }", arg=bars,
            timeout=20_000,
        )  # fmt: skip
        visit.page.screenshot(path=str(ARTIFACTS / "dashboard-actions-filtered.png"), full_page=True)
        assert_clean(visit)


@pytest.mark.browser
def test_jira_markup_is_text_and_javascript_links_are_not_links(browser, demo_server):
    url, _ = demo_server
    for name in ("actions", "failure_modes"):
        with board(browser, url, name) as visit:
            cells = visit.page.locator("#rendered_cells")
            text = visit.text  # the overdue list arrives with the figures (one output)
            if name == "actions":  # the overdue list
                assert "<img src=x onerror=alert(1)>" in text and "<script>alert('pir')</script>" in text
            else:  # a heatmap's axis label, drawn by plotly as the characters themselves: the service, as Jira
                # has it, in the heatmap by service (the mode on the other axis is always the taxonomy's)
                visit.page.locator(".js-plotly-plot").first.locator(".updatemenu-button", has_text="by service").click()
                visit.page.wait_for_function(
                    "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                    ".some(p => p.textContent.includes('Service <b>bold</b>'))", timeout=30_000,
                )  # fmt: skip
            assert cells.locator("img:not(.plot-img)").count() == 0
            assert cells.locator("[onerror]").count() == 0
            assert cells.locator("script:text('alert')").count() == 0
            assert cells.locator("a[href^='javascript']").count() == 0
            hrefs = cells.locator(".pir-table a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
            assert all(re.match(r"https?://", h) for h in hrefs), hrefs
            if name == "actions":
                assert "INC-XSS-A" in text and len(hrefs) > 0
            assert visit.dialogs == []
            assert_clean(visit)


@pytest.mark.browser
def test_five_dashboards_refreshing_while_a_writer_saves_notes(browser, demo_server):
    url, database = demo_server
    seconds = 60
    writer = subprocess.Popen([sys.executable, str(WORKER), "writer", str(database), str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    names = ["actions", "reviews", "failure_modes", "incidents", "actions"]
    loads, problems = 0, []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            visits = []
            for name in names:  # five sessions open at once, each then refreshed
                visits.append(Visit(browser, render(url).format(name), wait_for_plots=FIGURES[name], wait_for=FILTERS))
            for visit in visits:
                try:
                    assert_clean(visit)
                    loads += 1
                except AssertionError as exc:
                    problems.append(str(exc)[:500])
                finally:
                    visit.close()
    finally:
        out, err = writer.communicate(timeout=seconds + 60)
    assert writer.returncode == 0, err
    written = int(out.split()[-1])
    assert problems == []
    assert loads >= len(names)
    with db.connect(Settings(db=database), read_only=True) as con:
        present = con.execute("SELECT count(*) FROM review_notes WHERE note_id LIKE 'n%'").fetchone()[0]
    assert present == written > 100
    print(f"{loads} dashboard loads while the writer saved {written} notes")

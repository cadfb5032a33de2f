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
from support.browser import FIGURES, FILTERS, Visit, assert_clean, assert_filter_redraws
from support.serving import ARTIFACTS, demo_workdir, pir_serve, write_workdir

from pirlib import db
from pirlib.config import Settings
from pirlib.demo import load_demo
from pirlib.failure_modes import similar

WORKER = Path(__file__).resolve().parent / "support" / "db_worker.py"
XSS = "Boom <img src=x onerror=alert(1)> <script>alert('pir')</script> & more"
# dashboard: how many plotly figures it draws on the demo database


def hostile_rows(database: Path) -> None:
    with db.connect(Settings(db=database)) as con:
        incident = con.execute("SELECT * FROM incidents WHERE severity = 'Sev-1' ORDER BY key LIMIT 1").df()
        incident = incident.assign(
            issue_id="9999001",
            key="INC-XSS",
            summary=XSS,
            failure_mode="Mode <b>bold</b>",
            service="Service <b>bold</b>",
            url="javascript:alert(1)",
        ).drop(columns=["raw"])
        db.upsert_frame(con, "incidents", incident, "issue_id")
        action = con.execute("SELECT * FROM actions WHERE status_category <> 'done' ORDER BY key LIMIT 1").df()
        action = action.assign(
            issue_id="9999002",
            key="INC-XSS-A",
            summary=XSS,
            incident_id="9999001",
            owner="Eve <img src=x onerror=alert(2)>",
            due_date=pd.Timestamp("2024-01-01").date(),
            url="javascript:alert(3)",
        )
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
        if name == "actions":  # the completion bars are tall enough for their numbers (plotly hides what does not fit)
            shown = visit.page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')[0]
                .querySelectorAll('text.bartext')).map(t => t.style.display !== 'none')""")
            assert shown and all(shown), f"{shown.count(False)} of {len(shown)} completion-rate numbers hidden"


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
        visit.page.wait_for_function(
            f"() => document.querySelector('.pir-plot').getBoundingClientRect().height > {height} + 200", timeout=10_000
        )
        assert rates.locator("g.trace.bars path").count() == 2 * 20
        choose(visit, rates, "by incident severity", f"{title}.includes('rate by incident severity')")
        assert_clean(visit)
    # The failure-mode heatmap: by period (a date axis), then by service (names on a category axis).
    with board(browser, url, "failure_modes") as visit:
        heatmap = visit.page.locator(".js-plotly-plot").first
        assert "Oct 2025" in heatmap.locator(".xtick").all_text_contents()
        choose(
            visit,
            heatmap,
            "by service",
            "Array.from(document.querySelectorAll('.js-plotly-plot .xtick')).some(t => t.textContent === 'checkout-web')",
        )
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
            " return p && p.querySelectorAll('g.trace.bars path').length === 2 && old > 2; }",
            arg=bars,
            timeout=20_000,
        )
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
                    ".some(p => p.textContent.includes('Service <b>bold</b>'))",
                    timeout=30_000,
                )
            assert cells.locator("img:not(.plot-img)").count() == 0
            assert cells.locator("[onerror]").count() == 0
            assert cells.locator("script:text('alert')").count() == 0
            assert cells.locator("a[href^='javascript']").count() == 0
            # Jira's links (pir's own drill-down links, a.pir-internal, go to /voila/render/ pages).
            hrefs = cells.locator(".pir-table a[href]:not(.pir-internal)").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            )
            assert all(re.match(r"https?://", h) for h in hrefs), hrefs
            if name == "actions":
                assert "INC-XSS-A" in text and len(hrefs) > 0
            assert visit.dialogs == []
            assert_clean(visit)


@pytest.mark.browser
def test_five_dashboards_refreshing_while_a_writer_saves_notes(browser, demo_server):
    url, database = demo_server
    seconds = 60
    writer = subprocess.Popen(
        [sys.executable, str(WORKER), "writer", str(database), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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


def follow(visit: Visit, link) -> None:
    """Click a link between dashboard pages and wait for the next page's cells (same tab)."""
    with visit.page.expect_navigation(timeout=60_000):
        link.click()
    visit.page.wait_for_selector("#rendered_cells", state="visible", timeout=60_000)


@pytest.mark.browser
def test_home_page_links_reach_each_board_with_its_filter_applied(browser, demo_server):
    """/ is the home page (not Voila's file list); its header names every board by title, without a file name;
    the first line of each section that has any opens its board with that line's filter applied, said so on
    the page and set in the filter bar."""
    url, _ = demo_server
    visit = Visit(browser, url + "/", wait_for="div.pir-attention")
    try:
        assert visit.page.url == url + "/voila/render/home.ipynb"
        assert_clean(visit)
        header = visit.page.locator("nav.pir-nav a")
        assert header.all_inner_texts()[0].startswith("Overview")
        assert visit.page.locator("nav.pir-nav").inner_text().count("\n") >= 6 and ".ipynb" not in visit.text
        visit.page.screenshot(path=str(ARTIFACTS / "dashboard-home.png"), full_page=True)
        firsts = {}
        for section in visit.page.locator("div.pir-attention").all():
            links = section.locator("a")
            if links.count():
                firsts[section.get_attribute("data-section")] = (
                    links.first.get_attribute("href"),
                    links.first.inner_text(),
                )
        assert {"reviews", "actions", "regulatory"} <= set(firsts), firsts  # the demo at 2026-11-01 has these
        for section, (href, text) in firsts.items():
            visit.page.goto(url + "/voila/render/home.ipynb", wait_until="domcontentloaded")
            visit.page.wait_for_selector("div.pir-attention", timeout=60_000)
            follow(visit, visit.page.locator(f"div.pir-attention[data-section={section}] a").first)
            visit.page.wait_for_selector(FILTERS, timeout=60_000)
            assert visit.page.url == url + href
            applied = visit.page.locator("p.pir-url-filters").inner_text()
            if section == "actions":  # "Payments: 39 overdue actions, ..." -> the actions board, team Payments
                team = text.split(":", 1)[0]
                assert f"Filtered by team = {team}." in applied
                assert visit.page.locator(FILTERS).nth(0).input_value() == team
                overdue = text.split(": ", 1)[1].split(" ", 1)[0]  # "39 overdue actions, ..."
                assert visit.page.locator(".pir-kpis").first.inner_text().endswith(f"{overdue}\noverdue")
            else:  # a review at risk, a filing still open -> the reviews board, that incident
                key = text.split(" ", 1)[0]
                assert f"Filtered by incident = {key}." in applied
                table = "Reviews at risk now" if section == "reviews" else "Regulator filings open"
                rows = visit.page.locator("h3", has_text=table).locator("xpath=following-sibling::table[1]//tbody/tr")
                assert rows.count() >= 1 and all(r.startswith(key) for r in rows.all_inner_texts())
            assert_clean(visit)
    finally:
        visit.close()


@pytest.mark.browser
def test_drill_down_from_a_team_to_its_incidents_and_actions_and_to_an_incident_page(browser, demo_server):
    url, _ = demo_server
    with board(browser, url, "actions") as visit:
        team = visit.page.locator(".pir-table a.pir-internal[href*='explore.ipynb?team=']").first
        name = team.inner_text()
        follow(visit, team)
        visit.page.wait_for_selector(FILTERS, timeout=60_000)
        assert f"Filtered by team = {name}." in visit.page.locator("p.pir-url-filters").inner_text()
        assert visit.page.locator("h3", has_text="Actions (").count() == 1
        teams = visit.page.locator("h3", has_text="Actions (").locator(
            "xpath=following-sibling::table[1]//tbody/tr/td[4]"
        )
        assert set(teams.all_inner_texts()) == {name}
        incident = visit.page.locator(".pir-table a.pir-internal[href*='incident.ipynb?incident=']").first
        key = incident.inner_text()
        follow(visit, incident)
        visit.page.wait_for_function("() => document.querySelector('.js-plotly-plot .main-svg')", timeout=30_000)
        text = visit.text
        assert f"{key} timeline" in text and "Milestones" in text and "Actions (" in text and "Postmortem:" in text
        jira = visit.page.locator("h3", has_text="Actions (").locator(
            "xpath=following-sibling::table[1]//a[not(contains(@class, 'pir-internal'))]"
        )
        assert jira.count() >= 1 and all(
            h.startswith("https://") for h in jira.evaluate_all("as => as.map(a => a.href)")
        )
        visit.page.screenshot(path=str(ARTIFACTS / "dashboard-incident.png"), full_page=True)
        assert_clean(visit)


@pytest.fixture(scope="module")
def today_server(tmp_path_factory):
    """`pir serve` on the sample generated for the real date, with the real clock: what `make demo` shows today."""
    workdir = tmp_path_factory.mktemp("today")
    write_workdir(workdir)
    database = workdir / "pir.duckdb"
    settings = Settings(db=database, sample_dir=workdir / "sample")
    load_demo(settings, as_of=settings.current_date())
    with pir_serve(workdir, database, today=None) as url:
        yield url


@pytest.mark.browser
def test_every_board_on_todays_demo_shows_data_and_no_nan(browser, today_server):
    for name in sorted(FIGURES):
        visit = Visit(
            browser,
            render(today_server).format(name),
            wait_for_plots=FIGURES[name],
            wait_for=None if name == "overview" else FILTERS,
        )  # the overview has no filters
        with contextlib.closing(visit):
            assert_clean(visit)
            text = visit.text
            assert "sample data" in text, text[:500]
            assert re.search(r"\bNaN\b|\bNaT\b|<NA>", text) is None, f"{name}: {text[:2000]}"
            assert visit.page.locator(".pir-message").count() == 0, f"{name}: a panel with nothing to show"

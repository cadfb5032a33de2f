"""The facilitator's guide in headless Chromium: click to updated view, against a floor in the same Voila.

The guide is served as `pir guide` serves it (``serve.guide_command``: Voila, pir's template and voila.json)
from a folder that also holds ``floor.ipynb``: a button whose handler opens the database, runs one small
query, closes it and updates one Label. Each interaction is timed from the click (or the key press that
leaves a field) until the page shows its result, and paired with a floor click timed right before it on the
floor's page (same server, same moment of the machine's load); the verdict is the median of the pair ratios.

Interactions (demo sample, the newest open review): pick an incident (alternating between the two newest;
done when the header names it), open each step (done when its heading and the position line show it; for
Timeline, when its figure is drawn too), tick an artifact (done when its "collected" stamp shows or goes),
add a meeting note (done when the note is listed), edit a draft field (done when the drafts list shows the
new summary), star a timeline event (done when its ★ shows or goes in the list). Goal: each within GOAL x the
floor. ``PIR_BENCH_QUICK=1``: 2 rounds instead of RUNS. Exits 1 when an interaction misses its goal.

``PIR_BENCH_STORE=postgres``: team mode. The demo is loaded into a new database of a PostgreSQL the bench
starts (tests/support/postgres.py: a local PostgreSQL 15, as the tests use) and the guide and the floor both
run with ``PIR_DATABASE_URL`` set, so each click is judged against one query on the same store. That floor (a
new PostgreSQL connection and one query: 0.09-0.19 s on the loaded test machine) is cheaper than the file's
(opening DuckDB: 0.18-0.63 s), so the same clicks show higher ratios there at equal or lower seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from support import browser as browsing  # noqa: E402
from support.serving import free_port  # noqa: E402

from bench import helpers  # noqa: E402
from pirlib import serve  # noqa: E402
from pirlib.config import Secret, Settings  # noqa: E402
from pirlib.demo import load_demo  # noqa: E402

RUNS = helpers.runs(5, 2)
GOAL = 3.0
TODAY = "2026-11-01"
TIMEOUT_MS = 60_000
STEPS = {
    "prepare": ("2. Prepare", 2),
    "timeline": ("3. Timeline", 3),
    "meeting": ("4. Meeting", 4),
    "actions": ("5. Actions", 5),
    "wrap_up": ("6. Wrap-up", 6),
}

FLOOR_CELL = """\
import ipywidgets as widgets
from pirlib import db
from pirlib.config import load_settings

settings = load_settings()
label = widgets.Label("0")
label.add_class("pir-floor-label")
button = widgets.Button(description="floor")
button.add_class("pir-floor")


def clicked(_):
    with db.connect(settings) as con:
        count = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    label.value = f"{int(label.value.split()[0]) + 1} {count}"


button.on_click(clicked)
widgets.VBox([button, label])
"""


def write_folder(folder: Path) -> None:
    """The guide notebook as shipped, and floor.ipynb beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    guide = nbformat.read(ROOT / "notebooks" / "facilitator_guide.ipynb", as_version=4)
    nbformat.write(guide, folder / "facilitator_guide.ipynb")
    floor = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_CELL)])
    floor.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(floor, folder / "floor.ipynb")


def start_server(folder: Path, settings: Settings) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = serve.guide_environment(settings)
    if settings.database_url is not None:
        env["PIR_DATABASE_URL"] = settings.database_url.reveal()
    log = (folder / "voila.log").open("w")
    process = subprocess.Popen(
        serve.guide_command(port, folder),
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError((folder / "voila.log").read_text())
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return process, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError("voila did not answer within 60 s") from None
            time.sleep(0.2)


def timed(page, act: Callable[[], None], done: str, arg: object = None) -> float:
    """Seconds from ``act`` until the JavaScript predicate ``done(arg)`` holds on ``page``."""
    started = time.perf_counter()
    act()
    try:
        page.wait_for_function(done, arg=arg, timeout=TIMEOUT_MS, polling=10)
    except Exception as exc:  # say what the page showed instead
        raise RuntimeError(f"{str(exc)[:200]}\npage text:\n{page.inner_text('body')[-3000:]}") from None
    return time.perf_counter() - started


class Floor:
    def __init__(self, page) -> None:
        self.page = page
        page.wait_for_selector(".pir-floor-label", timeout=TIMEOUT_MS)

    def click(self) -> float:
        old = self.page.locator(".pir-floor-label").inner_text()
        return timed(
            self.page,
            lambda: self.page.locator("button.pir-floor").click(),
            "old => document.querySelector('.pir-floor-label').innerText !== old",
            old,
        )


SHOWN = "el => el && el.offsetParent !== null"
STEP_SHOWN = """([heading, n, figure]) => {
  const position = document.querySelector('.pir-position');
  if (!position || !position.innerText.includes(`Step ${n} of 6`)) return false;
  const body = document.querySelector('.pir-facilitator').innerText;
  if (!body.includes(heading)) return false;
  return !figure || Array.from(document.querySelectorAll('.js-plotly-plot .main-svg')).some(e => e.getBoundingClientRect().height > 0);
}"""


class Guide:
    def __init__(self, page) -> None:
        self.page = page
        self.round = 0
        page.wait_for_selector(".pir-facilitator", timeout=TIMEOUT_MS)

    def open(self, step: str) -> float:
        heading, n = STEPS[step] if step in STEPS else ("1. Pick", 1)
        return timed(
            self.page,
            lambda: self.page.locator(f"button.pir-step-{step}").click(),
            STEP_SHOWN,
            [heading, n, step == "timeline"],
        )

    def pick(self, index: int) -> float:
        select = self.page.locator(".pir-pick select").first
        key = select.locator("option").nth(index).inner_text().replace("\xa0", " ").split()[0]
        return timed(
            self.page,
            lambda: select.select_option(index=index),
            "key => (document.querySelector('.pir-incident') || {innerText: ''}).innerText.startsWith(key)",
            key,
        )

    def tick(self) -> float:
        box = self.page.locator(".pir-artifact-monitoring_snapshots input[type=checkbox]").first
        want = not box.is_checked()
        return timed(
            self.page,
            lambda: box.click(),
            """want => {
          const box = document.querySelector('.pir-artifact-monitoring_snapshots input[type=checkbox]');
          const row = box && box.closest('.widget-hbox');
          return !!row && row.innerText.includes('collected') === want && box.checked === want;
        }""",
            want,
        )

    def note(self) -> float:
        self.round += 1
        text = f"bench note {self.round} {time.time_ns()}"
        self.page.locator(".pir-note-went_well textarea").first.fill(text)
        return timed(
            self.page,
            lambda: self.page.locator("button.pir-add-note-went_well").first.click(),
            "t => Array.from(document.querySelectorAll('.pir-note')).some(n => n.innerText.includes(t))",
            text,
        )

    def edit_draft(self) -> float:
        self.round += 1
        text = f"Add a canary alert, bench {self.round} {time.time_ns()}"
        field = self.page.locator(".pir-action-summary input").first
        field.fill(text)
        return timed(
            self.page,
            lambda: field.press("Tab"),
            "t => Array.from(document.querySelectorAll('.pir-draft')).some(n => n.innerText.includes(t))",
            text,
        )

    def star(self) -> float:
        events = self.page.locator("select[size='14']").first
        events.select_option(index=0)
        self.page.wait_for_function(
            "() => { const s = document.querySelector(\"select[size='14']\"); return s && s.selectedIndex === 0; }",
            timeout=TIMEOUT_MS,
        )
        starred = "★" in events.locator("option").first.inner_text()
        button = self.page.locator("button", has_text="star / unstar").first
        return timed(
            self.page,
            lambda: button.click(),
            """want => {
          const s = document.querySelector("select[size='14']");
          return !!s && s.options.length > 0 && s.options[0].text.includes('★') === want;
        }""",
            not starred,
        )


def on_store(settings: Settings) -> Settings:
    """``settings`` on the store ``PIR_BENCH_STORE`` names: the DuckDB file (default), or a new PostgreSQL database."""
    store = os.environ.get("PIR_BENCH_STORE", "duckdb")
    if store == "duckdb":
        return settings
    if store != "postgres":
        raise SystemExit(f"PIR_BENCH_STORE={store!r}: use duckdb or postgres")
    from support import postgres

    missing = postgres.missing()
    if missing is not None:
        raise SystemExit(f"PIR_BENCH_STORE=postgres: {missing}")
    return dataclasses.replace(settings, database_url=Secret(postgres.server().fresh_database()))


def main() -> int:
    report = helpers.Report()
    names = [
        "pick",
        *(f"open {s}" for s in STEPS),
        "tick an artifact",
        "add a meeting note",
        "edit a draft field",
        "star a timeline event",
    ]
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    failures: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = Path(tmp) / "guide"
        write_folder(folder)
        settings = on_store(
            Settings(db=Path(tmp) / "pir.duckdb", sample_dir=Path(tmp) / "sample", today=dt.date.fromisoformat(TODAY))
        )
        report.note(f"store: {'PostgreSQL' if settings.database_url else 'DuckDB file'}")
        load_demo(settings)
        process, url = start_server(folder, settings)
        browser = playwright.chromium.launch(executable_path=browsing.CHROMIUM, args=browsing.CHROMIUM_ARGS)
        try:
            floor = Floor(browsing.Visit(browser, f"{url}/voila/render/floor.ipynb").page)
            guide = Guide(browsing.Visit(browser, f"{url}/voila/render/facilitator_guide.ipynb").page)
            guide.page.wait_for_selector(".pir-pick select", timeout=TIMEOUT_MS)
            guide.pick(0)  # the first pick and the first visit of each step pay one-off costs: not counted
            for step in [*STEPS, "pick"]:
                guide.open(step)
            floor.click()
            for round_ in range(RUNS + 1):
                measured: dict[str, Callable[[], float]] = {"pick": lambda round_=round_: guide.pick((round_ + 1) % 2)}
                for step in STEPS:
                    measured[f"open {step}"] = lambda step=step: guide.open(step)
                    if step == "prepare":
                        measured["tick an artifact"] = guide.tick
                    elif step == "timeline":
                        measured["star a timeline event"] = guide.star
                    elif step == "meeting":
                        measured["add a meeting note"] = guide.note
                    elif step == "actions":
                        measured["edit a draft field"] = guide.edit_draft
                guide.open("pick")
                for name, work in measured.items():
                    if failures.get(name, 0) >= 2:
                        continue
                    base = floor.click()
                    try:
                        seconds = work()
                    except RuntimeError as exc:  # the view did not update: reported, and the others go on
                        failures[name] = failures.get(name, 0) + 1
                        report.problem(f"{name}: {str(exc)[:1500]}")
                        continue
                    if round_:  # round 0 warms each interaction up
                        pairs[name].append((base, seconds))
                if round_:
                    print(
                        f"   round {round_}: "
                        + ", ".join(f"{n} {pairs[n][-1][1]:.2f}/{pairs[n][-1][0]:.2f}" for n in names if pairs[n])
                        + " (s, interaction/floor)",
                        flush=True,
                    )
        finally:
            browser.close()
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for name in names:
        if pairs[name]:
            report.add(helpers.Goal(name, GOAL, "floor click (db query + Label)").judge_pairs(pairs[name]))
        else:
            report.problem(f"{name}: no run finished")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())

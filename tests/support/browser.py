"""Headless Chromium page visits against Voila: what a page loaded, drew and complained about."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium tries hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Text that must never appear on a rendered dashboard.
ERROR_MARKERS = ("Traceback", "There was an error when executing", "Error:", "Exception")

# Plotly figures each dashboard draws on the demo data (browser tests and bench/bench_dashboards.py wait for them).
FIGURES = {"overview": 2, "actions": 4, "reviews": 2, "failure_modes": 2, "incidents": 2}
# A leadership board draws its figures before its filter bar's widgets arrive from the kernel; this is there
# once they have (the overview has no filters).
FILTERS = ".pir-filters select"


def controls(name: str) -> str | None:
    """What shows that dashboard ``name`` is fully loaded besides its figures: its filters, if it has any."""
    return None if name in ("overview", "empty") else FILTERS


def assert_filter_redraws(visit: Visit) -> None:
    """Choosing a team in the first filter changes the board's summary numbers (a kernel round trip), and
    the redrawn panels replace the old ones: one set on screen."""
    shown = "Array.from(document.querySelectorAll('.pir-kpis')).filter(k => k.offsetParent !== null)"
    visit.page.wait_for_selector(FILTERS, timeout=30_000)
    kpis = visit.page.evaluate(f"() => {shown}.map(k => k.innerText)")
    assert len(kpis) == 1, kpis
    visit.page.locator(FILTERS).nth(0).select_option(label="SRE")
    visit.page.wait_for_function(
        f"old => {{ const k = {shown}; return k.length === 1 && k[0].innerText !== old; }}",
        arg=kpis[0],
        timeout=20_000,
    )
    # The first render (plain HTML in the page) is gone, not just hidden: its figures are purged.
    assert visit.page.evaluate("() => Array.from(document.querySelectorAll('.pir-panels')).map(p => p.className)") == [
        "pir-panels"
    ]


class Visit:
    """One page load in a fresh browser context, with everything the page asked for and complained about."""

    def __init__(
        self,
        browser,
        url: str,
        wait_for_plots: int = 0,
        prepare: Callable[[object], None] | None = None,
        wait_for: str | None = None,
    ):
        """Load ``url`` until ``wait_for_plots`` figures are drawn (``seconds``), then until ``wait_for`` is on the
        page (``ready_seconds``); ``prepare(page)`` runs first (routes, init scripts). A page that does not
        finish raises an AssertionError saying how far it got (figures, widgets, console errors, its text)."""
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        if prepare is not None:
            prepare(self.page)
        started = time.perf_counter()
        try:
            self.page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            self.page.wait_for_selector("#rendered_cells", state="visible", timeout=60_000)
            if wait_for_plots:  # that many figures drawn (each figure has two or three .main-svg layers)
                self.page.wait_for_function(
                    "n => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                    ".filter(p => p.querySelector('.main-svg')).length >= n",
                    arg=wait_for_plots,
                    timeout=30_000,
                )
            self.seconds = time.perf_counter() - started
            if wait_for:
                self.page.wait_for_selector(wait_for, timeout=30_000)
        except Exception as exc:
            raise AssertionError(
                f"{url} did not finish in {time.perf_counter() - started:.0f} s: {str(exc)[:200]}\n{self.state()}"
            ) from None
        self.ready_seconds = time.perf_counter() - started

    def state(self) -> str:
        """How far the page got: figures and widgets on it, its console errors, the start of its text."""
        try:
            counts = self.page.evaluate(
                "() => ({figures: document.querySelectorAll('div.pir-plot').length,"
                " drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,"
                " widgets: document.querySelectorAll('.jupyter-widgets').length,"
                " tables: document.querySelectorAll('.pir-table').length, plotly: !!window.Plotly})"
            )
            text = self.text[:800]
        except Exception as exc:  # the page itself is gone
            counts, text = f"(page unreadable: {exc})", ""
        errors = "\n".join(self.console_errors)[:1500]
        return f"page: {counts}\nconsole errors:\n{errors}\ntext:\n{text}"

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def text(self) -> str:
        return self.page.inner_text("body")

    def foreign_requests(self) -> list[str]:
        return [
            u
            for u in self.requests
            if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname != "127.0.0.1"
        ]

    def close(self) -> None:
        self.context.close()


def assert_clean(visit: Visit) -> None:
    text = visit.text
    for marker in ERROR_MARKERS:
        assert marker not in text, f"{marker!r} on the page:\n{text[:2000]}"
    assert visit.console_errors == [], visit.console_errors
    assert visit.foreign_requests() == []
    assert visit.dialogs == []

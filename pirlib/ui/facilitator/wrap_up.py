"""Step 6, Wrap-up: the review-quality check of this incident (``pirlib.review.wrap_up``), the Publish button
(runbook §4, ``pirlib.publish.pipeline``) and the regulator filing."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from pirlib.publish import pipeline
from pirlib.review.clock import now, stage_clocks
from pirlib.review.session import ReviewSession, incident_facts
from pirlib.review.wrap_up import quality_check
from pirlib.ui import html
from pirlib.ui.facilitator.widgets import WIDE, Host, Message, Step, badge, heading, when
from pirlib.values import safe_url


class WrapUpStep(Step):
    """The review-quality check of this incident, the Publish button (runbook §4) and the regulator filing."""

    name = "wrap_up"
    depends_on = frozenset({"prepare", "timeline", "meeting", "actions"})  # the check reads them all

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.report = widgets.HTML()
        self.report.add_class("pir-quality")
        self.check = widgets.Button(description="Check again")
        self.check.on_click(lambda _: self.refresh())
        self.publishing = PublishPanel(self)

    def load(self, session: ReviewSession) -> None:
        issues = quality_check(session)
        facts = incident_facts(session)
        self.report.value = (
            html.bullets("Still missing:", issues, "warning")
            if issues
            else html.colored("✓ Nothing missing: the review is complete.", "ok", "div")
        )
        self.widget.children = [heading("6. Wrap-up"), self.report, self.check, *self.publishing.children(facts)]


class PublishPanel:
    """Publish (Confluence when configured, else a page published elsewhere), what was written, the filing."""

    def __init__(self, step: WrapUpStep) -> None:
        self.step = step
        self.settings = step.settings
        self.confluence = bool(self.settings.confluence_url and self.settings.confluence_space)
        self.status = widgets.HTML()
        self.status.add_class("pir-publish-status")
        self.doc_url = widgets.Text(description="Page URL", placeholder="https://… of the postmortem page", layout=WIDE)
        self.doc_url.add_class("pir-doc-url")
        self.button = widgets.Button(description="Publish", button_style="primary", icon="upload")
        self.button.add_class("pir-publish")
        self.button.on_click(lambda _: self.publish())
        self.result = widgets.HTML()
        self.result.add_class("pir-publish-result")
        self.message = Message("pir-publish-message")
        self.filed = widgets.Button(description="Record regulator filing")
        self.filed.add_class("pir-regulator-filed")
        self.filed.on_click(lambda _: self.record_filing())
        self.filing = widgets.HTML()
        self.filing.add_class("pir-filing")

    def children(self, facts: dict[str, Any]) -> list[widgets.Widget]:
        clocks = stage_clocks(facts["resolved_at"], facts, self.settings, now(self.settings))
        publish = next(c for c in clocks if c.stage == "published")
        where = (
            f"Confluence space {html.text(self.settings.confluence_space)} under {html.text(self.settings.confluence_parent)}"
            if self.confluence
            else "Confluence is not configured (PIR_CONFLUENCE_URL, PIR_CONFLUENCE_SPACE): "
            "publish the files by hand and give the page's URL"
        )
        again = " Publishing again updates the page." if facts.get("published_at") else ""
        self.status.value = (
            f"<p>Publish the postmortem (runbook §4) — {badge(publish)} — to {where}, with "
            f"<code>pir publish {html.text(facts['key'])}</code> or this button.{again}</p>"
        )
        self.button.description = "Publish again (update)" if facts.get("published_at") else "Publish"
        rows = (
            [self.status]
            + ([] if self.confluence else [self.doc_url])
            + [self.button, self.message.widget, self.result]
        )
        if facts.get("regulatory"):
            filed = facts.get("regulatory_filed_at")
            self.filing.value = (
                f"<p>Regulator filing (runbook §4.4): <b>filed {when(filed)}</b></p>"
                if filed
                else f"<p>Regulator filing (runbook §4.4): {html.colored('open', 'error', 'b')} — Compliance "
                "files the update in the regulator portal, then record it here.</p>"
            )
            self.filed.disabled = filed is not None
            rows += [self.filing, self.filed]
        return rows

    def publish(self) -> None:
        done: list[pipeline.PublishResult] = []
        url = self.doc_url.value.strip() or None
        if self.message.run(
            lambda: done.append(
                pipeline.publish(self.settings, self.step.incident, to_confluence=self.confluence, doc_url=url)
            )
        ):
            result = done[0]
            page = f"<p>Page: {html.link(result.doc_url, result.doc_url)}</p>" if safe_url(result.doc_url) else ""
            lines = "".join(f"<li>{html.text(line)}</li>" for line in result.lines())
            problems = "".join(html.colored(html.text(f), "error", "li") for f in result.failures)
            self.result.value = f"{page}<ul>{lines}{problems}</ul>"
            with self.step.session() as s:  # pipeline.publish is an edge of its own; then one unit to redraw
                self.step.load(s)
                self.step.host.changed(self.step.name, s)

    def record_filing(self) -> None:
        def record(s: ReviewSession) -> None:
            pipeline.record_regulator_filing(s.con, s.incident_id, now(self.settings))
            self.step.load(s)

        self.step.save(self.message, record, "Regulator filing recorded: the compliance item is closed.")

"""The reviews board (runbook §2, §4.4): are review stages done by their deadlines, and what is at risk now?"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pirlib import durations, metrics
from pirlib.ui import figures, html, nav
from pirlib.ui.boards.board import BoardData, BoardSpec, none_html, percent


def _review_states(data: BoardData) -> pd.DataFrame:
    return data.derive("review_states", lambda: metrics.review_stage_states(data.frames["review_stages"], data.as_of))


def reviews_summary(data: BoardData, filters: metrics.Filters) -> str:
    states = _review_states(data)
    if states.empty:
        return none_html("reviewed incidents (Sev-0/Sev-1, closed)", data, "review_stages")
    decided = states[states["state"] != "pending"]
    rate = (decided["state"] == "on_time").mean() if len(decided) else None
    return html.kpis(
        [
            ("reviewed incidents", f"{states['incident_id'].nunique():,}"),
            ("stages on time", percent(rate)),
            ("late", f"{int((states['state'] == 'late').sum()):,}"),
            ("missed", f"{int((states['state'] == 'missed').sum()):,}"),
            ("pending", f"{int((states['state'] == 'pending').sum()):,}"),
        ]
    )


def reviews_compliance(data: BoardData, filters: metrics.Filters) -> object:
    states = _review_states(data)
    if states.empty:
        return none_html("reviews", data, "review_stages")
    freq = metrics.choose_period(states["closed_at"])
    return figures.compliance_lines(metrics.stage_compliance(states, freq), metrics.period_word(freq))


def reviews_lateness(data: BoardData, filters: metrics.Filters) -> object:
    late = metrics.lateness(_review_states(data))
    if late.empty:
        return html.message("No stage was late or missed under these filters.")
    return figures.distribution_boxes(late, "stage", "Time past the deadline, late or missed stages", "hours", log=True)


def _incident_columns(rows: pd.DataFrame) -> dict[str, list]:
    return {
        "Incident": [nav.incident_link(k) for k in rows["key"]],
        "Summary": rows["summary"].tolist(),
        "Severity": rows["severity"].tolist(),
    }


def reviews_at_risk(data: BoardData, filters: metrics.Filters) -> str:
    # "Right now" ignores the date range: a range that ends last year would otherwise hide today's risks.
    rows = metrics.at_risk(_review_states(data), data.as_of)
    title = f"<h3>Reviews at risk now: due within {metrics.AT_RISK_HOURS:g} h, or missed in the last 7 days ({len(rows)})</h3>"
    if rows.empty:
        return title + html.message("Nothing at risk right now.")
    table = pd.DataFrame(
        {
            **_incident_columns(rows),
            "Stage": [figures.STAGE_LABELS.get(v, str(v)) for v in rows["stage"]],
            "Due (UTC)": rows["due_at"].tolist(),
            "Deadline": [durations.deadline(dt.timedelta(hours=float(v))) for v in rows["hours_left"]],
        }
    )
    return title + html.table(table, html_columns={"Incident"})


def reviews_regulatory(data: BoardData, filters: metrics.Filters) -> str:
    """Runbook §4.4: each regulatory incident's compliance item, open until the regulator filing is recorded."""
    items = data.frames["regulatory_followups"]
    still_open = items[items["state"] == "open"]
    title = (
        f"<h3>Regulator filings open ({len(still_open)} of {len(items)} regulatory incidents; "
        "record one with <code>pir regulator-filed INCIDENT</code>)</h3>"
    )
    if still_open.empty:
        return title + html.message("Every regulatory incident's filing is recorded.")
    table = pd.DataFrame(
        {
            **_incident_columns(still_open),
            "Closed (UTC)": still_open["closed_at"].tolist(),
            "Postmortem published (UTC)": still_open["published_at"].tolist(),
        }
    )
    return title + html.table(table, html_columns={"Incident"})


SPEC = BoardSpec(
    "Review deadlines",
    {"review_stages": metrics.load_review_stages, "regulatory_followups": metrics.load_regulatory_followups},
    {"review_stages": "closed_at", "regulatory_followups": "closed_at"},
    (reviews_summary, reviews_compliance, reviews_lateness, reviews_at_risk, reviews_regulatory),
)

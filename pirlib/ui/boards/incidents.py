"""The incidents board: how many, where, how long to detect, mitigate and resolve, and has this happened before?"""

from __future__ import annotations

import pandas as pd

from pirlib import durations, metrics
from pirlib.ui import figures, html
from pirlib.ui.boards.board import BoardData, BoardSpec, none_html

SIMILAR_SHOWN = 5  # latest incidents (after filters) whose similar past incidents the incidents board lists


def incidents_summary(data: BoardData, filters: metrics.Filters) -> str:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return none_html("incidents", data, "incidents")
    items = [("incidents", f"{len(incidents):,}")]
    for column, label in metrics.DURATION_MEASURES.items():
        minutes = incidents[column][incidents[column] >= 0]  # no value, or a milestone before the start: left out
        if len(minutes):
            median, p90 = float(minutes.median()), float(minutes.quantile(0.9))
            items.append(
                (
                    f"{label}: median · P90 · n",
                    f"{durations.minutes(median)} · {durations.minutes(p90)} · {len(minutes):,}",
                )
            )
    return html.kpis(items)


def incidents_by_service(data: BoardData, filters: metrics.Filters) -> object:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return none_html("incidents", data, "incidents")
    counts = metrics.counts_by(incidents, "service", "severity")
    order = figures.severity_order([None if s == "(none)" else s for s in counts["severity"].unique()])
    counts = counts.assign(severity=counts["severity"].replace("(none)", figures.NO_SEVERITY))
    return figures.stacked_bars(
        counts, "service", "severity", "incidents", "Incidents by service and severity", order=order
    )


def incidents_durations(data: BoardData, filters: metrics.Filters) -> object:
    incidents = data.frames["incidents"]
    if incidents.empty:
        return none_html("incidents", data, "incidents")
    freq = metrics.choose_period(incidents["occurred_at"])
    summary = metrics.durations(incidents, freq)
    word = metrics.period_word(freq)
    return figures.distribution_boxes(
        summary, "period", f"Time to detect, mitigate and resolve, by {word}", "minutes", trace="measure", log=True
    )


def similar_table_html(similar: pd.DataFrame) -> str:
    """Similar past incidents as a table: incident (linked), score, when, service, mode, summary, reason.
    Also the guide's failure-mode panel's list (``pirlib.ui.facilitator.recap``)."""
    table = pd.DataFrame(
        {
            "Earlier incident": [html.link(k, u) for k, u in zip(similar["key"], similar["url"])],
            "Score": [f"{v:.2f}" for v in similar["score"]],
            "Started": [pd.Timestamp(v).date() for v in similar["occurred_at"]],
            "Service": similar["service"].tolist(),
            "Failure mode": similar["failure_mode"].tolist(),
            "Summary": similar["summary"].tolist(),
            "Why": similar["reason"].tolist(),
        }
    )
    return html.table(table, html_columns={"Earlier incident"}, numbers={"Score"})


def _earlier(similar: pd.DataFrame) -> pd.DataFrame:
    # load_similar gives the filter columns the later incident's values; the table shows the earlier one's.
    # Only the columns the tables show: each table selects its rows, and every column taken costs (25 of them
    # were 0.1 s of the board).
    return pd.DataFrame(
        {
            "query_id": similar["query_id"],
            "key": similar["key"],
            "url": similar["url"],
            "score": similar["score"],
            "occurred_at": similar["similar_occurred_at"],
            "service": similar["similar_service"],
            "failure_mode": similar["failure_mode"],
            "summary": similar["summary"],
            "reason": similar["reason"],
        }
    )


def incidents_similar(data: BoardData, filters: metrics.Filters) -> str:
    """For the latest incidents in the filters: the earlier incidents most like each (``pir similar``)."""
    similar = data.frames["similar"]
    title = (
        f"<h3>Has this happened before? Similar earlier incidents of the {metrics.SIMILAR_LATEST} latest "
        "incidents that require a review</h3>"
    )
    if similar.empty:
        return title + none_html("incidents with similar earlier ones", data, "similar")
    latest = similar.drop_duplicates("query_id").sort_values("query_occurred_at", ascending=False).head(SIMILAR_SHOWN)
    earlier = dict(tuple(_earlier(similar).groupby("query_id", sort=False)))
    blocks = [
        f"<h4>{html.link(row['query_key'], row['query_url'])} {html.cell(row['query_summary'])}</h4>"
        + similar_table_html(earlier[row["query_id"]])
        for row in latest[["query_id", "query_key", "query_url", "query_summary"]].to_dict("records")
    ]
    return title + "".join(blocks)


SPEC = BoardSpec(
    "Incidents",
    {"incidents": metrics.load_incident_measures, "similar": metrics.load_similar},
    {"incidents": "occurred_at", "similar": "occurred_at"},
    (incidents_summary, incidents_by_service, incidents_durations, incidents_similar),
)

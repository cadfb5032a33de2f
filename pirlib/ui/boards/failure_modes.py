"""The failure-modes board (runbook §6): which failure modes come back, and did the earlier fixes get done?"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pirlib import durations, metrics
from pirlib.failure_modes import recurrence
from pirlib.ui import figures, html, nav
from pirlib.ui.boards.board import TABLE_ROWS, BoardData, BoardSpec, none_html


def modes_heatmaps(data: BoardData, filters: metrics.Filters) -> object:
    """Incidents by failure mode and period, and by failure mode and service: one figure, a button for each."""
    incidents = data.frames["incidents"]
    if incidents.empty:
        return none_html("incidents", data, "incidents")
    freq = metrics.choose_period(incidents["occurred_at"])
    frame = incidents.assign(period=metrics.period_start(incidents["occurred_at"], freq))
    by_period = metrics.counts_by(frame, "failure_mode", "period")
    word = metrics.period_word(freq)
    by_service = metrics.counts_by(incidents, "failure_mode", "service")
    return figures.choice(
        [
            (
                f"by {word}",
                figures.heatmap(
                    by_period,
                    "period",
                    "failure_mode",
                    "incidents",
                    f"Incidents by failure mode and {word}",
                    dates=True,
                ),
            ),
            (
                "by service",
                figures.heatmap(
                    by_service, "service", "failure_mode", "incidents", "Incidents by failure mode and service"
                ),
            ),
        ]
    )


def _recurrences(data: BoardData) -> pd.DataFrame:
    return data.derive("recurrences", lambda: recurrence.recurrences_within(data.frames["recurrences"]))


def _window_words(data: BoardData) -> str:
    return recurrence.effectiveness(_recurrences(data)).window_words


def repeats_after_actions(data: BoardData, filters: metrics.Filters) -> str:
    """The board's headline: repeats after completed prevent/detect actions, with n and the gap's spread."""
    summary = recurrence.effectiveness(_recurrences(data))
    n = summary.recurrences
    share = f" ({summary.after_completed_actions / n:.0%})" if n else ""
    gap = (
        f"median {_days(summary.days_median)}, P90 {_days(summary.days_p90)} (n = {n})"
        if summary.days_median is not None
        else f"— (n = {n})"
    )
    return html.kpis(
        [
            (
                f"repeats after completed prevent/detect actions, {summary.window_words} (n = {n} recurrences)",
                f"{summary.after_completed_actions} of {n}{share}",
            ),
            ("repeats whose earlier incident had no prevent/detect action", str(summary.without_prevent_detect)),
            ("time between an incident and its repeat", gap),
        ]
    )


def recurrence_outcomes(data: BoardData, filters: metrics.Filters) -> object:
    recurrences = _recurrences(data)
    if recurrences.empty:
        return html.message(f"No failure mode came back {_window_words(data)} on the same service.")
    long = (
        recurrences.assign(failure_mode=recurrences["failure_mode"].fillna("(none)"))
        .groupby(["failure_mode", "outcome"])
        .size()
        .rename("recurrences")
        .reset_index()
    )
    return figures.stacked_bars(
        long,
        "failure_mode",
        "outcome",
        "recurrences",
        f"Came back {_window_words(data)} on the same service: were the earlier incident's actions done?",
        colors=figures.OUTCOME_COLORS,
        order=list(figures.OUTCOME_COLORS),
    )


def _done_of(done: pd.Series, total: pd.Series) -> list[str]:
    return [f"{int(d or 0)} of {int(n or 0)}" for d, n in zip(done.fillna(0), total.fillna(0))]


def recurrence_table(data: BoardData, filters: metrics.Filters) -> str:
    rows = _recurrences(data).sort_values("occurred_at", ascending=False)
    title = f"<h3>Recurrences {_window_words(data)} ({len(rows)})</h3>"
    if rows.empty:
        return title + none_html("recurrences", data, "recurrences")
    shown = rows.head(TABLE_ROWS)
    table = pd.DataFrame(
        {
            "Incident": [html.link(k, u) for k, u in zip(shown["key"], shown["url"])],
            "Summary": shown["summary"].tolist(),
            "Failure mode": [nav.drill_link(m, failure_mode=m) for m in shown["failure_mode"]],
            "Service": [nav.drill_link(s, service=s) for s in shown["service"]],
            "Earlier incident": [nav.incident_link(k) for k in shown["previous_key"]],
            "Time between": [_days(v) for v in shown["days_since_previous"]],
            "Earlier actions done before": _done_of(shown["previous_actions_done_before"], shown["previous_actions"]),
            "Prevent/detect done before": _done_of(
                shown["previous_prevent_detect_done_before"], shown["previous_prevent_detect"]
            ),
            "Outcome": shown["outcome"].tolist(),
        }
    )
    return title + html.table(
        table, html_columns={"Incident", "Failure mode", "Service", "Earlier incident"}, numbers={"Time between"}
    )


def _days(days: float | None) -> str:
    return durations.MISSING if days is None else durations.span(dt.timedelta(days=float(days)))


SPEC = BoardSpec(
    "Recurring failure modes",
    {"incidents": metrics.load_incidents, "recurrences": recurrence.load_recurrences},
    {"incidents": "occurred_at", "recurrences": "occurred_at"},
    (repeats_after_actions, modes_heatmaps, recurrence_outcomes, recurrence_table),
)

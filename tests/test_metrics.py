"""The dashboard numbers (pirlib.metrics) on small hand-made frames, plus the loaders on the fixture file."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from support import dashboard_fixture

from pirlib import db, metrics
from pirlib.config import Settings
from pirlib.failure_modes import recurrence

TODAY = dt.date(2026, 11, 1)


def ts(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC") if text else pd.NaT


def actions(*rows: tuple) -> pd.DataFrame:
    """rows: (team, done, created, due, resolved)."""
    frame = pd.DataFrame(rows, columns=["team", "is_done", "created", "due", "resolved"])
    return pd.DataFrame(
        {
            "key": [f"A-{i}" for i in range(len(frame))],
            "url": "https://jira.example.com/browse/A",
            "summary": "s",
            "owner": "o",
            "team": frame["team"],
            "severity": "Sev-1",
            "service": "svc",
            "incident_key": "INC-1",
            "is_done": frame["is_done"],
            "created_at": frame["created"].map(ts),
            "due_date": pd.to_datetime(frame["due"]).dt.date,
            "resolved_at": frame["resolved"].map(ts),
            "missing_owner": False,
            "missing_due_date": frame["due"].isna(),
            "missing_success_metric": [True, False, False, False][: len(frame)] + [False] * max(0, len(frame) - 4),
            "missing_verification_method": False,
        }
    )


def sample_actions() -> pd.DataFrame:
    return actions(
        ("SRE", True, "2026-08-01", "2026-08-20", "2026-08-10"),  # done on time
        ("SRE", True, "2026-08-01", "2026-08-20", "2026-09-10"),  # done late
        ("SRE", False, "2026-09-01", "2026-10-01", None),  # overdue by 31 days
        ("Data", False, "2026-10-20", "2026-12-01", None),  # open, not yet due
        (None, False, "2026-10-25", None, None),  # open, no due date, no team
    )


def test_completion_and_on_time_rates_by_team():
    states = metrics.action_states(sample_actions(), TODAY)
    assert list(states["state"]) == ["done", "done", "overdue", "open", "open"]
    assert list(states["days_overdue"])[2] == 31
    rates = metrics.completion_rates(states, "team").set_index("team")
    assert rates.loc["SRE", "actions"] == 3 and rates.loc["SRE", "done"] == 2 and rates.loc["SRE", "overdue"] == 1
    assert rates.loc["SRE", "completion_rate"] == pytest.approx(2 / 3)
    assert rates.loc["SRE", "on_time_rate"] == pytest.approx(1 / 3)  # 1 on time of 3 that are due
    assert np.isnan(rates.loc["Data", "on_time_rate"])  # nothing due yet: no rate, not 0 %
    assert rates.loc["(none)", "open"] == 1
    assert list(rates.index[:1]) == ["SRE"]  # most actions first


def test_open_actions_only_no_resolution_date_at_all():
    """The home page and the digest pass only open actions: resolved_at has no value, and its column arrives
    as datetime64 rather than dates (pandas 3 deprecated comparing the two; pytest makes that an error)."""
    states = metrics.action_states(sample_actions().iloc[2:].reset_index(drop=True), TODAY)
    assert states["resolved_at"].isna().all()
    assert list(states["state"]) == ["overdue", "open", "open"]
    assert states["days_overdue"].iloc[0] == 31 and states["days_overdue"].iloc[1:].isna().all()
    assert list(states["age_days"]) == [61, 12, 7]
    assert list(states["done_on_time"]) == [False, False, False]
    assert list(states["due"]) == [True, False, False]


def test_completion_rates_of_nothing_is_an_empty_frame():
    states = metrics.action_states(sample_actions().iloc[0:0], TODAY)
    assert metrics.completion_rates(states, "team").empty


def test_burn_up_is_cumulative_created_and_done_per_month():
    frame = metrics.burn_up(metrics.action_states(sample_actions(), TODAY), "M")
    assert list(frame["period"].dt.strftime("%Y-%m")) == ["2026-08", "2026-09", "2026-10"]
    assert list(frame["created"]) == [2, 3, 5]
    assert list(frame["done"]) == [1, 2, 2]


def test_aging_buckets_open_actions_and_splits_overdue():
    aging = metrics.aging(metrics.action_states(sample_actions(), TODAY)).set_index(["bucket", "overdue"])["actions"]
    assert aging[("0–30 days", False)] == 2  # created 12 and 7 days ago
    assert aging[("61–90 days", True)] == 1  # created 61 days ago, overdue
    assert aging.sum() == 3


def test_missing_fields_count_open_actions_only():
    missing = metrics.missing_fields(metrics.action_states(sample_actions(), TODAY)).set_index("field")
    assert missing.loc["due date", "missing"] == 1
    assert missing.loc["success metric", "missing"] == 0  # only the done first action lacks one
    assert missing.loc["owner", "open_actions"] == 3


def test_overdue_list_most_overdue_first():
    frame = sample_actions()
    frame.loc[3, "due_date"] = dt.date(2026, 10, 25)
    overdue = metrics.overdue_list(metrics.action_states(frame, TODAY))
    assert list(overdue["key"]) == ["A-2", "A-3"]
    assert list(overdue["days_overdue"]) == [31, 7]


def test_filters_by_date_team_service_severity_and_team_lists():
    frame = sample_actions()
    assert len(metrics.apply_filters(frame, metrics.Filters(teams=("SRE",)), "created_at")) == 3
    assert len(metrics.apply_filters(frame, metrics.Filters(start=dt.date(2026, 9, 1)), "created_at")) == 3
    assert len(metrics.apply_filters(frame, metrics.Filters(end=dt.date(2026, 8, 1)), "created_at")) == 2
    assert len(metrics.apply_filters(frame, metrics.Filters(services=("other",)), "created_at")) == 0
    incidents = pd.DataFrame({"occurred_at": [ts("2026-01-01")] * 3, "teams": [["SRE", "Data"], None, ["Data"]]})
    kept = metrics.apply_filters(incidents, metrics.Filters(teams=("SRE",)), "occurred_at")
    assert list(kept.index) == [0]
    options = metrics.filter_options(frame, incidents)
    assert options["teams"] == ["Data", "SRE"] and options["services"] == ["svc"]


def test_summarize_gives_median_p90_and_n_never_a_mean():
    frame = pd.DataFrame({"g": ["a"] * 10 + ["b"], "v": list(range(1, 11)) + [np.nan]})
    out = metrics.summarize(frame, "v", ["g"]).set_index("g")
    assert "mean" not in out.columns
    assert out.loc["a", "n"] == 10 and out.loc["a", "median"] == 5.5
    assert out.loc["a", "p90"] == pytest.approx(9.1)
    assert "b" not in out.index  # no values, no box


def stages() -> pd.DataFrame:
    closed = ts("2026-10-01 00:00")
    rows = [
        ("1", "INC-1", "facilitator_assigned", 1, 12, "2026-10-01 06:00"),  # on time
        ("1", "INC-1", "published", 5, 48, "2026-10-04 00:00"),  # 24 h late
        ("2", "INC-2", "facilitator_assigned", 1, 12, None),  # missed
        ("3", "INC-3", "published", 5, 48, None),  # pending, closed yesterday
    ]
    frame = pd.DataFrame(rows, columns=["incident_id", "key", "stage", "stage_rank", "deadline_hours", "done"])
    closed_at = pd.Series([closed, closed, closed, ts("2026-10-31 12:00")])
    return frame.assign(
        summary="s",
        severity="Sev-1",
        service="svc",
        closed_at=closed_at,
        due_at=closed_at + pd.to_timedelta(frame["deadline_hours"], unit="h"),
        done_at=frame.pop("done").map(ts),
    )


def test_review_stage_states_use_the_given_clock_not_duckdbs():
    states = metrics.review_stage_states(stages(), ts("2026-11-01 12:00"))
    assert list(states["state"]) == ["on_time", "late", "missed", "pending"]
    assert states["hours_past_due"].iloc[1] == pytest.approx(24)


def test_stage_compliance_leaves_pending_out():
    compliance = metrics.stage_compliance(metrics.review_stage_states(stages(), ts("2026-11-01 12:00")))
    rows = compliance.set_index("stage")
    assert rows.loc["facilitator_assigned", "decided"] == 2 and rows.loc["facilitator_assigned", "rate"] == 0.5
    assert rows.loc["published", "decided"] == 1 and rows.loc["published", "rate"] == 0.0


def test_at_risk_lists_open_stages_due_soon_or_just_missed():
    as_of = ts("2026-11-01 12:00")
    risky = metrics.at_risk(metrics.review_stage_states(stages(), as_of), as_of)
    assert list(risky["key"]) == ["INC-3"]  # due 2026-11-02 12:00, within 24 h; INC-2 was missed a month ago
    assert risky["hours_left"].iloc[0] == pytest.approx(24)


def test_durations_per_period_drop_negative_values():
    incidents = pd.DataFrame(
        {
            "occurred_at": [ts("2026-01-05"), ts("2026-02-05"), ts("2026-04-01")],
            "ttd_minutes": [10.0, -5.0, 30.0],
            "ttm_minutes": [20.0, 40.0, np.nan],
            "ttr_minutes": [60.0, 90.0, 120.0],
        }
    )
    out = metrics.durations(incidents, "Q")
    ttd = out[out["measure"] == "TTD"].set_index("period")
    assert ttd.loc[pd.Timestamp("2026-01-01"), "n"] == 1  # the negative TTD is bad data, left out
    ttm = out[out["measure"] == "TTM"]
    assert list(ttm["n"]) == [2]


def test_loaders_read_the_fixture_file(tmp_path):
    settings = dashboard_fixture.build(tmp_path / "pir.duckdb")
    with db.connect(settings, read_only=True) as con:
        loaded = {name: getattr(metrics, "load_" + name)(con) for name in ("actions", "incidents", "review_stages")}
        loaded["recurrences"] = recurrence.load_recurrences(con)
    assert len(loaded["incidents"]) == 6  # the deleted one is left out
    assert len(loaded["actions"]) == 5
    assert set(loaded["review_stages"]["stage"]) <= {
        "facilitator_assigned",
        "artifacts_collected",
        "invites_sent",
        "agenda_circulated",
        "published",
    }
    states = metrics.action_states(loaded["actions"], TODAY)
    assert sorted(states.loc[states["overdue"], "key"]) == ["INC-102"]


def test_incident_measures_match_the_durations_view_and_filter_by_team(demo_db):
    # load_incident_measures reads incidents itself (not v_incident_durations) for speed: the same rows,
    # durations and teams as through the view, and its Arrow list of teams filters and lists teams as lists do.
    with db.connect(Settings(db=demo_db), read_only=True) as con:
        measures = metrics.load_incident_measures(con)
        viewed = con.execute(
            "SELECT d.severity, d.service, coalesce(d.started_at, i.created_at) AS occurred_at, d.ttd_minutes,"
            " d.ttm_minutes, d.ttr_minutes FROM v_incident_durations AS d"
            " JOIN incidents AS i ON i.issue_id = d.incident_id"
        ).df()
        listed = metrics.load_incidents(con)
    order = ["occurred_at", "severity", "service", "ttd_minutes", "ttm_minutes", "ttr_minutes"]

    def rows(frame: pd.DataFrame) -> list[tuple]:  # missing values alike (NaN, None, NaT: an all-empty column)
        return sorted(
            (tuple(None if pd.isna(v) else v for v in row) for row in frame[order].itertuples(index=False)), key=repr
        )

    assert rows(measures) == rows(viewed) and len(measures) > 200
    assert measures["ttr_minutes"].notna().any()

    def teams(frame: pd.DataFrame) -> list[list[str]]:
        return sorted(sorted(v) for v in frame["teams"].tolist() if isinstance(v, (list, np.ndarray)) and len(v))

    assert teams(measures) == teams(listed) and teams(measures)
    options = metrics.filter_options(measures)
    assert options["teams"] == metrics.filter_options(listed)["teams"]
    for team in options["teams"]:
        wanted = metrics.Filters(teams=(team,))
        kept = metrics.apply_filters(measures, wanted, "occurred_at")
        assert len(kept) == len(metrics.apply_filters(listed, wanted, "occurred_at")) > 0

"""Alert histories -> alert events: pir's CSV, Grafana state history and annotations, CloudWatch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pirlib.errors import InputError
from pirlib.timeline.importers import SOURCE_COLUMNS
from pirlib.timeline.importers.alerts import parse_alerts

FIXTURES = Path(__file__).parent / "fixtures" / "timeline"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_csv_offsets_and_naive_times_become_utc() -> None:
    frame = parse_alerts(FIXTURES / "alerts.csv", tz="Europe/Berlin")
    assert list(frame.columns) == SOURCE_COLUMNS
    assert list(frame["occurred_at"]) == [
        ts("2025-10-25 23:58"),
        ts("2025-10-26 00:02:10"),
        ts("2025-10-26 01:30"),
        ts("2025-10-26 02:20"),  # 03:20 naive, read in Berlin after the change back to CET
    ]
    assert list(frame["kind"]) == ["alert_firing", "alert_firing", "alert_firing", "alert_resolved"]
    assert list(frame["actor"]) == ["grafana", "newrelic", "cloudwatch", "grafana"]
    assert frame.iloc[1]["field"] == "payments Apdex < 0.7"
    assert frame.iloc[0]["text"] == (
        "grafana: payments HighErrorRate firing (critical, value 12.50, https://grafana.example.com/alerting/payments)"
    )
    assert frame.iloc[0]["origin"] == "alerts.csv: line 2"


def test_csv_bad_state_names_the_line() -> None:
    with pytest.raises(InputError, match=r"alerts_bad_state.csv: line 3: unknown state 'exploded'; use one of firing"):
        parse_alerts(FIXTURES / "alerts_bad_state.csv")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,source,name,state\n", r"line 1: the header lacks at"),
        ("at,source,name,state\nyesterday,g,n,firing\n", r"line 2: 'yesterday' is not a time"),
        ("at,source,name,state\n2025-10-26T01:00Z,g,,firing\n", r"line 2: 'name' is empty"),
        ("at,source,name,state\n2025-10-26T01:00Z,g,n,firing,extra\n", r"line 2: more fields than the header"),
    ],
)
def test_malformed_csv(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "alerts.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        parse_alerts(path)


def test_grafana_state_history_frame() -> None:
    frame = parse_alerts(FIXTURES / "grafana_state_history.json")
    assert list(frame["kind"]) == ["alert_pending", "alert_firing", "alert_resolved"]
    assert list(frame["from_value"]) == ["resolved", "pending", "firing"]
    assert frame.iloc[1]["occurred_at"] == ts("2025-10-26 01:00")
    assert frame.iloc[1]["field"] == "payments HighErrorRate"
    assert "service=payments" in frame.iloc[1]["text"] and "B=12.5" in frame.iloc[1]["text"]
    assert frame.iloc[2]["origin"] == "grafana_state_history.json: frame 0 row 2"


def test_grafana_state_history_wrapped_in_results(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "grafana_state_history.json").read_text())
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"results": data}))
    assert len(parse_alerts(path)) == 3


def test_grafana_annotations() -> None:
    frame = parse_alerts(FIXTURES / "grafana_annotations.json")
    assert list(frame["kind"]) == ["alert_firing", "alert_resolved"]
    assert frame.iloc[0]["occurred_at"] == ts("2025-10-26 01:00")
    assert frame["natural_key"].is_unique


def test_cloudwatch_alarm_history() -> None:
    frame = parse_alerts(FIXTURES / "cloudwatch_alarm_history.json")
    assert list(frame["kind"]) == ["alert_action", "alert_firing", "alert_resolved", "alert_config"]
    firing = frame.iloc[1]
    assert firing["occurred_at"] == ts("2025-10-26 01:35:00.080")
    assert (firing["from_value"], firing["to_value"]) == ("resolved", "firing")
    assert firing["field"] == "payments-p99-latency" and firing["actor"] == "cloudwatch"
    assert "Threshold Crossed" in firing["text"]
    assert frame.iloc[2]["occurred_at"] == ts("2025-10-26 03:10:00.5")
    assert frame.iloc[0]["text"].startswith("cloudwatch: payments-p99-latency: Successfully executed")


def test_cloudwatch_bad_history_data_names_the_record() -> None:
    with pytest.raises(
        InputError, match=r"cloudwatch_bad_history.json: AlarmHistoryItems\[1\]: HistoryData is not a JSON"
    ):
        parse_alerts(FIXTURES / "cloudwatch_bad_history.json")


def test_unknown_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "what.json"
    path.write_text('{"alerts": []}')
    with pytest.raises(InputError, match="what.json: not a known alerts format"):
        parse_alerts(path)


def test_sample_alert_csvs_parse(tmp_path: Path) -> None:
    from pirlib import sample

    sample.write_sample(tmp_path)
    files = sorted((tmp_path / "alerts").glob("*.csv"))
    assert files
    for path in files:
        frame = parse_alerts(path)
        assert set(frame["kind"]) == {"alert_firing", "alert_resolved"}
        assert frame["occurred_at"].is_monotonic_increasing  # the sample writes rows in time order

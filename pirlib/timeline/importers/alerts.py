"""Alert state changes as timeline events: pir's CSV, Grafana state history, CloudWatch alarm history.

Formats (``parse_alerts`` recognises each by its shape):

- **CSV** with the header ``at,source,name,state,severity,value,url`` (``severity``, ``value``, ``url`` may be
  empty or absent). ``at`` is ISO 8601; a time without an offset is read in the zone given (default UTC).
  ``state`` is one of firing, resolved, acknowledged, pending, nodata, error (aliases: alerting/alarm/
  triggered -> firing, ok/normal/recovered/closed -> resolved, ack -> acknowledged).
- **Grafana alert state history**, as ``GET /api/v1/rules/history`` returns it: a data frame whose fields
  are ``time`` (epoch ms), ``line`` (the transition: ``previous``, ``current``, ``ruleTitle``, ``ruleUID``,
  ``fingerprint``, ``labels``, ``values``) and ``labels`` (the stream labels); the frame may be wrapped as
  ``{"results": frame}`` or ``{"frames": [...]}``.
- **Grafana annotations** (``GET /api/annotations?type=alert``): an array of objects with ``time`` (epoch ms),
  ``newState``, ``prevState``, ``alertName`` or ``text``.
- **CloudWatch** ``aws cloudwatch describe-alarm-history`` output: ``AlarmHistoryItems`` with ``AlarmName``,
  ``Timestamp``, ``HistoryItemType``, ``HistorySummary`` and ``HistoryData`` (a JSON string with
  ``oldState``/``newState.stateValue``).

Each state change is one event: ``source='alert'``, ``kind='alert_<state>'`` (alert_firing, alert_resolved,
...; CloudWatch configuration changes and actions are ``alert_config`` / ``alert_action``), ``actor`` the
monitoring system, ``field`` the alert name, ``from_value``/``to_value`` the states and a readable ``text``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib.errors import InputError
from pirlib.files import input_file, read_text
from pirlib.timeline.importers import csv_records, events_frame, load_json, parse_instant, zone

__all__ = [
    "CSV_COLUMNS",
    "STATES",
    "parse_alerts",
    "parse_alerts_csv",
    "parse_cloudwatch",
    "parse_grafana",
]

CSV_COLUMNS = ["at", "source", "name", "state", "severity", "value", "url"]
_REQUIRED = ["at", "source", "name", "state"]
STATES = ("firing", "resolved", "acknowledged", "pending", "nodata", "error")
_STATE_ALIASES = {
    "firing": "firing",
    "alerting": "firing",
    "alarm": "firing",
    "triggered": "firing",
    "open": "firing",
    "resolved": "resolved",
    "ok": "resolved",
    "normal": "resolved",
    "recovered": "resolved",
    "closed": "resolved",
    "acknowledged": "acknowledged",
    "ack": "acknowledged",
    "acked": "acknowledged",
    "pending": "pending",
    "nodata": "nodata",
    "no_data": "nodata",
    "insufficient_data": "nodata",
    "error": "error",
}


def _state(raw: Any) -> str | None:
    """Normalised state, or None when unknown. Grafana writes reasons after the state: "Normal (MissingSeries)"."""
    text = str(raw or "").strip().lower()
    text = text.split("(", 1)[0].strip().replace(" ", "_")
    return _STATE_ALIASES.get(text)


def _event(
    at: dt.datetime,
    system: str,
    name: str,
    previous: str | None,
    state: str,
    detail: str,
    key: str,
    origin: str,
    kind: str | None = None,
) -> dict[str, Any]:
    text = f"{system}: {name} {state}" + (f" ({detail})" if detail else "")
    return {
        "occurred_at": at,
        "source": "alert",
        "kind": kind or f"alert_{state}",
        "actor": system,
        "field": name,
        "from_value": previous,
        "to_value": state,
        "text": text,
        "natural_key": key,
        "origin": origin,
    }


def parse_alerts(path: Path | str, *, tz: str | None = None) -> pd.DataFrame:
    """Events of an alerts file in any of the formats in the module docstring."""
    path = input_file(path, "alerts file")
    if path.suffix.lower() == ".csv":
        return parse_alerts_csv(read_text(path, "CSV"), file_label=path.name, tz=tz)
    data = load_json(path)
    if isinstance(data, dict) and "AlarmHistoryItems" in data:
        return parse_cloudwatch(data, file_label=path.name)
    if _looks_like_grafana(data):
        return parse_grafana(data, file_label=path.name)
    raise InputError(
        f"{path}: not a known alerts format; expected a CSV with header {','.join(CSV_COLUMNS)}, Grafana state "
        "history (/api/v1/rules/history), Grafana annotations or CloudWatch describe-alarm-history JSON"
    )


def parse_alerts_csv(text: str, *, file_label: str, tz: str | None = None) -> pd.DataFrame:
    """Events of pir's alerts CSV (``at,source,name,state,severity,value,url``)."""
    tzinfo = zone(tz)
    header, records = csv_records(text, file_label)
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{file_label}: line 1: the header lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    rows = []
    for where, record in records:
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        for column in _REQUIRED[1:]:
            if not values[column]:
                raise InputError(f"{where}: '{column}' is empty")
        state = _state(values["state"])
        if state is None:
            raise InputError(f"{where}: unknown state {values['state']!r}; use one of {', '.join(STATES)}")
        at = parse_instant(values["at"], tzinfo, where)
        detail = ", ".join(
            x
            for x in (
                values.get("severity"),
                f"value {values['value']}" if values.get("value") else "",
                values.get("url"),
            )
            if x
        )
        key = f"csv|{values['source']}|{values['name']}|{state}|{at.isoformat()}"
        rows.append(_event(at, values["source"], values["name"], None, state, detail, key, where))
    return events_frame(rows)


def parse_cloudwatch(data: dict[str, Any], *, file_label: str) -> pd.DataFrame:
    """Events of ``aws cloudwatch describe-alarm-history`` JSON."""
    items = data.get("AlarmHistoryItems")
    if not isinstance(items, list):
        raise InputError(f"{file_label}: 'AlarmHistoryItems' is not an array")
    utc = zone("UTC")
    rows = []
    for n, item in enumerate(items, start=1):
        where = f"{file_label}: AlarmHistoryItems[{n - 1}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object")
        for name in ("AlarmName", "Timestamp", "HistoryItemType"):
            if not item.get(name):
                raise InputError(f"{where}: no '{name}'")
        at = parse_instant(item["Timestamp"], utc, where)
        alarm, item_type, summary = (
            str(item["AlarmName"]),
            str(item["HistoryItemType"]),
            item.get("HistorySummary") or "",
        )
        key = f"cloudwatch|{alarm}|{item_type}|{at.isoformat()}|{summary}"
        if item_type == "StateUpdate":
            history = _history_data(item.get("HistoryData"), where)
            old = _state((history.get("oldState") or {}).get("stateValue"))
            new_raw = (history.get("newState") or {}).get("stateValue")
            new = _state(new_raw)
            if new is None:
                raise InputError(
                    f"{where}: HistoryData.newState.stateValue {new_raw!r} is not ALARM, OK or INSUFFICIENT_DATA"
                )
            reason = (history.get("newState") or {}).get("stateReason") or summary
            rows.append(_event(at, "cloudwatch", alarm, old, new, reason, key, where))
        else:
            kind = {"ConfigurationUpdate": "alert_config", "Action": "alert_action"}.get(item_type, "alert_other")
            row = _event(at, "cloudwatch", alarm, None, item_type, "", key, where, kind=kind)
            row["to_value"], row["text"] = (
                None,
                f"cloudwatch: {alarm}: {summary}" if summary else f"cloudwatch: {alarm}",
            )
            rows.append(row)
    return events_frame(rows)


def _history_data(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "")
    except (TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: HistoryData is not a JSON string ({exc})") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{where}: HistoryData is not a JSON object")
    return parsed


def _frames(data: Any) -> list[dict[str, Any]] | None:
    if isinstance(data, dict) and "results" in data and isinstance(data["results"], dict):
        data = data["results"]
    if isinstance(data, dict) and isinstance(data.get("frames"), list):
        return data["frames"]
    if isinstance(data, dict) and "schema" in data and "data" in data:
        return [data]
    return None


def _looks_like_grafana(data: Any) -> bool:
    if _frames(data) is not None:
        return True
    return isinstance(data, list) and all(isinstance(a, dict) and "newState" in a for a in data) and bool(data)


def parse_grafana(data: Any, *, file_label: str) -> pd.DataFrame:
    """Events of Grafana alert state history (data frame) or of Grafana alert annotations (array)."""
    frames = _frames(data)
    if frames is None:
        return _grafana_annotations(data, file_label)
    rows = []
    for f, frame in enumerate(frames):
        try:
            fields = [field["name"] for field in frame["schema"]["fields"]]
            values = frame["data"]["values"]
        except (KeyError, TypeError):
            raise InputError(f"{file_label}: frame {f}: expected schema.fields and data.values") from None
        if "time" not in fields or "line" not in fields or len(values) != len(fields):
            raise InputError(f"{file_label}: frame {f}: expected fields time, line and labels, found {fields}")
        columns = dict(zip(fields, values, strict=True))
        times, lines = columns["time"], columns["line"]
        if len(times) != len(lines):
            raise InputError(f"{file_label}: frame {f}: time and line have different lengths")
        for n, (ms, line) in enumerate(zip(times, lines, strict=True)):
            where = f"{file_label}: frame {f} row {n}"
            if isinstance(line, str):
                try:
                    line = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(f"{where}: 'line' is not JSON") from None
            if not isinstance(line, dict) or "current" not in line:
                raise InputError(f"{where}: 'line' has no 'current' state")
            if not isinstance(ms, (int, float)) or isinstance(ms, bool):
                raise InputError(f"{where}: time {ms!r} is not epoch milliseconds")
            at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
            state = _state(line["current"])
            if state is None:
                raise InputError(f"{where}: unknown state {line['current']!r}")
            name = str(line.get("ruleTitle") or line.get("ruleUID") or "grafana alert")
            labels = line.get("labels") or {}
            label_text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname",))
            value_text = ", ".join(f"{k}={v}" for k, v in sorted((line.get("values") or {}).items()))
            detail = "; ".join(x for x in (line["current"], label_text, value_text, line.get("error") or "") if x)
            key = f"grafana|{line.get('ruleUID', name)}|{line.get('fingerprint', '')}|{int(ms)}|{line['current']}"
            rows.append(_event(at, "grafana", name, _state(line.get("previous")), state, detail, key, where))
    return events_frame(rows)


def _grafana_annotations(data: Any, file_label: str) -> pd.DataFrame:
    if not isinstance(data, list):
        raise InputError(f"{file_label}: expected Grafana state history or an array of alert annotations")
    rows = []
    for n, item in enumerate(data):
        where = f"{file_label}: annotation {n}"
        ms = item.get("time")
        if not isinstance(ms, (int, float)) or isinstance(ms, bool):
            raise InputError(f"{where}: time {ms!r} is not epoch milliseconds")
        state = _state(item.get("newState"))
        if state is None:
            raise InputError(f"{where}: unknown newState {item.get('newState')!r}")
        at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        name = str(item.get("alertName") or item.get("text") or f"alert {item.get('alertId', '')}".strip())
        detail = str(item.get("text") or "") if item.get("alertName") else ""
        key = f"grafana-annotation|{item.get('id', '')}|{name}|{int(ms)}|{item.get('newState')}"
        rows.append(_event(at, "grafana", name, _state(item.get("prevState")), state, detail, key, where))
    return events_frame(rows)

"""Timeline sources: each module turns one kind of file into a DataFrame of events, and nothing else.

A parser is a pure function of a file (no database, no settings). It returns a frame with
``SOURCE_COLUMNS``: ``occurred_at`` is a UTC timestamp, ``natural_key`` is what identifies the event inside
its source (a Slack message's channel and ``ts``, an alarm's name, time and state) and ``origin`` names the
file and the line or record it came from. ``pirlib.timeline.events`` turns the natural key into a stable event id
and writes the frame; a parser that meets anything malformed raises ``InputError`` before anything is
written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from pirlib.errors import InputError
from pirlib.files import read_text

__all__ = [
    "SOURCE_COLUMNS",
    "events_frame",
    "load_json",
    "parse_instant",
    "parse_local",
    "zone",
]

SOURCE_COLUMNS = [
    "occurred_at",
    "source",
    "kind",
    "actor",
    "field",
    "from_value",
    "to_value",
    "text",
    "natural_key",
    "origin",
]


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (default UTC); an unknown name is an InputError that says what to use."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r}; use an IANA name like Europe/Berlin or UTC") from None


def events_frame(rows: Sequence[dict[str, Any]], skipped: int = 0) -> pd.DataFrame:
    """A frame with exactly ``SOURCE_COLUMNS`` from row dicts; ``attrs['skipped']`` counts ignored records."""
    frame = pd.DataFrame(list(rows), columns=SOURCE_COLUMNS)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).astype("datetime64[us, UTC]")
    for column in SOURCE_COLUMNS[1:]:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    frame.attrs["skipped"] = skipped
    return frame


def csv_records(text: str, file_label: str) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """The lower-cased header of a CSV text and its rows as (``file: line N``, record) pairs.

    A row with more fields than the header is an InputError: usually a value with an unquoted comma.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    records = []
    for record in reader:
        where = f"{file_label}: line {reader.line_num}"
        if None in record:
            raise InputError(f"{where}: more fields than the header has; quote values that contain commas")
        records.append((where, record))
    return header, records


def load_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the file, the line and the column."""
    text = read_text(path, "JSON file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None


def parse_instant(value: Any, default_zone: ZoneInfo, where: str) -> dt.datetime:
    """An ISO 8601 time (``Z``/offset honoured, a naive time read in ``default_zone``) or epoch seconds, in UTC.

    ``where`` names the file and line for the error message.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    text = str(value).strip() if value is not None else ""
    if not text:
        raise InputError(f"{where}: the time is empty; give an ISO 8601 time like 2025-09-05T14:03:00Z")
    if re.fullmatch(r"\d{9,11}(?:\.\d+)?", text):  # epoch seconds, as text from a CSV or JSON string
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a time; give an ISO 8601 time like 2025-09-05T14:03:00Z") from None
    if parsed.tzinfo is None:
        return parse_local(parsed, default_zone, where)
    return parsed.astimezone(dt.UTC)


def parse_local(local: dt.datetime, tz: ZoneInfo, where: str, not_before: dt.datetime | None = None) -> dt.datetime:
    """A naive wall-clock time in ``tz`` as UTC, with the two DST cases made explicit.

    A time in the spring-forward gap never happened on that clock, so the file or the zone is wrong: error.
    A time in the autumn overlap happened twice; the earlier reading is taken unless it would fall before
    ``not_before`` (the previous line of a chronological transcript), which picks the second pass.
    """
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        as_first, as_second = first.astimezone(dt.UTC), second.astimezone(dt.UTC)
        gap = as_second < as_first  # in a gap, fold=1 reads the time with the earlier (pre-change) offset
        if gap:
            raise InputError(
                f"{where}: {local:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks jumped forward); "
                "check the time zone given for this file"
            )
        if not_before is not None and as_first < not_before:
            return as_second
        return as_first
    return first.astimezone(dt.UTC)

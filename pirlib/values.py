"""Reading values that come out of DuckDB frames and widget forms, where None, NaN and NaT all mean "empty"."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

# The characters str.strip() removes (str.isspace): text of nothing but these is blank, as clean_text says.
BLANK_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The same as an RE2 pattern for DuckDB's regexp_full_match, so that a query and clean_text call the same text blank.
BLANK_TEXT = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in BLANK_CHARS) + "]*"


def clean_text(value: Any) -> str:
    """A form or DataFrame value as stripped text; None and NaN/NA are the empty string."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def is_missing(value: Any) -> bool:
    """None, NaN, NA or NaT; a list or array (a DuckDB list column) is a value, even when empty."""
    if isinstance(value, (list, tuple, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an array: pd.isna answers element-wise
        return False


def frame_value(value: Any) -> Any:
    """A value from a database row as a data frame gives it: times as UTC ``pd.Timestamp``, lists as arrays,
    missing values as None."""
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).tz_convert("UTC") if value.tzinfo else pd.Timestamp(value)
    if isinstance(value, list):
        return np.array(value, dtype=object)
    return None if is_missing(value) else value


def frame_row(cursor: Any) -> dict[str, Any] | None:
    """The next row of an executed query as {column: ``frame_value``}, or None when there is none. A frame of one
    wide row, and its to_dict, cost several times the query itself (the guide reads rows on most clicks)."""
    row = cursor.fetchone()
    if row is None:
        return None
    return {name: frame_value(value) for (name, *_), value in zip(cursor.description or [], row, strict=True)}


def as_date(value: Any) -> dt.date:
    """A date given as a date, a datetime (its day) or ISO text (``YYYY-MM-DD``); ValueError for anything else.
    The one parser of dates typed by people: settings and the guide's due dates say the fix in their own words."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def as_utc(value: Any) -> dt.datetime | None:
    """A timestamp of any kind (naive ones read as UTC) as an aware UTC datetime; None for an empty value."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if type(value) is dt.datetime:  # DuckDB's fetchall gives these: no pandas round trip (a check reads 100k)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def same_person(a: str | None, b: str | None) -> bool:
    """Two names of one person as people type them: case and runs of spaces do not matter."""
    if not a or not b:
        return False
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def safe_url(url: object) -> str | None:
    """``url`` when it is an absolute http(s) URL, else None: a javascript: or data: link never reaches a page."""
    if not isinstance(url, str):
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        return None
    return url.strip()


def utc_minute(value: Any, missing: str = "—") -> str:
    """An instant as people read it in pir's pages and documents, ``2025-09-05 13:38 UTC``; ``missing`` if none."""
    stamp = as_utc(value)
    return f"{stamp:%Y-%m-%d %H:%M} UTC" if stamp else missing

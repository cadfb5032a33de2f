"""PostgreSQL, the team store: a connection that speaks the part of DuckDB's Python API pir uses.

In team mode (``PIR_DATABASE_URL``) PostgreSQL is the system of record. Module code is written once against
the small API both stores offer (``execute`` with ``?`` or ``$name`` placeholders, ``fetchone``,
``fetchall``, ``df``, ``executemany``, ``register`` of a frame), so that a module knows which store it
writes only where the two SQL dialects differ (``db.dialect``). This wrapper is not an ORM: it passes SQL
through, translating only the placeholders, and gives results the shapes DuckDB gives them (JSON as text,
NUMERIC as float, frames with DuckDB's dtypes).

Only ``pirlib.db`` opens these connections; everything else receives them.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg.types.numeric import FloatLoader
from psycopg.types.string import TextLoader

from pirlib.errors import PirError

__all__ = ["PgConnection", "connect", "describe", "translate"]

Params = Sequence[Any] | Mapping[str, Any] | None


def describe(url: str) -> str:
    """The URL without its password, for messages: user@host:port/database."""
    parsed = urlparse(url)
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"postgresql://{user}{parsed.hostname or 'localhost'}{port}{parsed.path or ''}"


def _array_cast(value: Any) -> str:
    """A cast for a list parameter: psycopg sends a list of str with no type, which ``unnest`` cannot choose for."""
    if not isinstance(value, list | tuple):
        return ""
    if all(isinstance(v, bool) for v in value if v is not None) and any(v is not None for v in value):
        return "::boolean[]"
    if all(isinstance(v, int) for v in value if v is not None) and any(v is not None for v in value):
        return "::bigint[]"
    if all(isinstance(v, float | int) for v in value if v is not None) and any(v is not None for v in value):
        return "::double precision[]"
    if all(isinstance(v, str) for v in value if v is not None):
        return "::text[]"
    return ""


def translate(sql: str, params: Params) -> str:
    """DuckDB's placeholders (``?``, ``$name``) as psycopg's (``%s``, ``%(name)s``), outside quotes and comments.

    Without parameters the SQL goes through untouched (psycopg then reads no placeholders and runs several
    statements, as a migration has). With them a literal ``%`` is doubled.
    """
    if params is None:
        return sql
    out: list[str] = []
    i, n = 0, len(sql)
    position = 0
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # a doubled quote inside the literal
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            value = params[position] if isinstance(params, Sequence) and position < len(params) else None
            out.append("%s" + _array_cast(value))
            position += 1
            i += 1
        elif ch == "$" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", sql[i:])
            assert match is not None
            value = params.get(match.group(1)) if isinstance(params, Mapping) else None
            out.append(f"%({match.group(1)})s" + _array_cast(value))
            i += match.end()
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# PostgreSQL type names by OID, for the Arrow type a result column becomes (and so DuckDB's dtype in a frame).
_ARROW_BY_OID: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1000: pa.list_(pa.bool_()),
    1007: pa.list_(pa.int32()),
    1016: pa.list_(pa.int64()),
    1022: pa.list_(pa.float64()),
    1009: pa.list_(pa.string()),
    1015: pa.list_(pa.string()),
    1182: pa.list_(pa.date32()),
    1185: pa.list_(pa.timestamp("us", tz="UTC")),
}

# Converting through an in-memory DuckDB gives a frame DuckDB's dtypes (what every reader of ``df()`` expects).
_frames = threading.local()


def _frame_of(table: pa.Table) -> pd.DataFrame:
    con = getattr(_frames, "con", None)
    if con is None:
        con = _frames.con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
    return con.from_arrow(table).df()


def _arrow_column(values: list[Any], oid: int) -> pa.Array:
    kind = _ARROW_BY_OID.get(oid)
    if kind is not None:
        return pa.array(values, type=kind)
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _pg_type(kind: pa.DataType) -> str:
    """The PostgreSQL column type a registered frame's Arrow column becomes."""
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "double precision"
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _pg_type(kind.value_type) + "[]"
    return "text"


def _as_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A column of mixed Python values: as text, which is what DuckDB would compare it as.
        mixed = data.copy()
        for column in mixed.columns:
            if mixed[column].dtype == object:
                mixed[column] = [None if v is None or v is pd.NA else str(v) for v in mixed[column]]
        return pa.Table.from_pandas(mixed, preserve_index=False)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PgConnection:
    """A psycopg connection in autocommit mode (``db.transaction`` issues BEGIN and COMMIT) with DuckDB's API."""

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self._cursor: psycopg.Cursor[Any] | None = None
        self._registered: set[str] = set()

    # -- statements ---------------------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> PgConnection:
        cursor = self.raw.cursor()
        if params is not None and not isinstance(params, Mapping):
            params = list(params)
        cursor.execute(translate(sql, params), params, prepare=False)
        self._cursor = cursor
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgConnection:
        rows = [list(row) for row in rows]
        if rows:
            cursor = self.raw.cursor()
            cursor.executemany(translate(sql, rows[0]), rows)
            self._cursor = cursor
        return self

    # -- results ------------------------------------------------------------------------------------------
    def _current(self) -> psycopg.Cursor[Any]:
        if self._cursor is None:
            raise PirError("no query was run on this connection before reading its result")
        return self._cursor

    # DuckDB answers an INSERT, UPDATE or DELETE with one row: the count of rows it changed.
    def fetchone(self) -> tuple[Any, ...] | None:
        cursor = self._current()
        if cursor.description:
            return cursor.fetchone()
        return (cursor.rowcount,) if cursor.rowcount >= 0 else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        cursor = self._current()
        if cursor.description:
            return cursor.fetchall()
        return [(cursor.rowcount,)] if cursor.rowcount >= 0 else []

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        cursor = self._current()
        if not cursor.description:
            return None
        return [(column.name, column.type_code, None, None, None, None, None) for column in cursor.description]

    @property
    def rowcount(self) -> int:
        return self._current().rowcount

    def arrow(self) -> pa.Table:
        cursor = self._current()
        if not cursor.description:
            return pa.table({})
        columns = cursor.description
        rows = cursor.fetchall()
        arrays = [_arrow_column([row[i] for row in rows], c.type_code) for i, c in enumerate(columns)]
        return pa.Table.from_arrays(arrays, names=[c.name for c in columns])

    def df(self) -> pd.DataFrame:
        return _frame_of(self.arrow())

    # -- frames -------------------------------------------------------------------------------------------
    def register(self, name: str, data: pd.DataFrame | pa.Table) -> PgConnection:
        """A frame under ``name`` for the statements that follow: a TEMP table filled by COPY.

        DuckDB reads a registered frame in place; PostgreSQL needs the rows on the server. The types come
        from the frame's Arrow schema, so an INSERT ... SELECT from it needs no casts but the ones the two
        dialects already share.
        """
        table = _as_arrow(data)
        self.unregister(name)
        columns = ", ".join(f"{_quote(f.name)} {_pg_type(f.type)}" for f in table.schema)
        with self.raw.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE {_quote(name)} ({columns})")
            self._registered.add(name)
            if table.num_rows:
                names = ", ".join(_quote(f) for f in table.column_names)
                with cursor.copy(f"COPY {_quote(name)} ({names}) FROM STDIN") as copy:
                    for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                        copy.write_row(row)
        return self

    def unregister(self, name: str) -> PgConnection:
        if name in self._registered:
            self._registered.discard(name)
            self.raw.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
        return self

    def column_types(self, table: str) -> dict[str, str]:
        """Column name → PostgreSQL type of a table in the current schema, for casts from a registered frame."""
        rows = self.raw.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [table],
        ).fetchall()
        return {name: kind for name, kind in rows}

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_transient(exc: psycopg.OperationalError) -> bool:
    text = str(exc)
    return any(
        marker in text
        for marker in ("Connection refused", "the database system is starting up", "too many clients", "timeout")
    )


def _unreachable(url: str, exc: Exception, waited: float) -> PirError:
    detail = " ".join(str(exc).split()) or type(exc).__name__
    # libpq repeats the connection string in some messages; the password must never show.
    password = urlparse(url).password
    if password:
        detail = detail.replace(password, "***")
    where = describe(url)
    if "password authentication failed" in detail or "no password supplied" in detail:
        return PirError(
            f"PostgreSQL at {where} refused the sign-in ({detail}); check the user and password in "
            "PIR_DATABASE_URL (or PGPASSWORD / ~/.pgpass)"
        )
    if "does not exist" in detail:
        return PirError(f"PostgreSQL at {where}: {detail}; create it (createdb) or fix PIR_DATABASE_URL")
    waited_text = f" (tried for {waited:.0f} s)" if waited >= 1 else ""
    return PirError(
        f"cannot reach PostgreSQL at {where}{waited_text}: {detail}; start the server or fix PIR_DATABASE_URL"
    )


def connect(url: str, *, timeout: float, read_only: bool = False) -> PgConnection:
    """Open the team store; wait up to ``timeout`` seconds for a server that is starting or full."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    delay = 0.1
    while True:
        try:
            raw = psycopg.connect(
                url, autocommit=True, connect_timeout=max(2, int(min(timeout, 10))), application_name="pir"
            )
            break
        except psycopg.OperationalError as exc:
            if not _is_transient(exc) or time.monotonic() >= deadline:
                raise _unreachable(url, exc, time.monotonic() - started) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)
    try:
        for name in ("json", "jsonb"):
            raw.adapters.register_loader(name, TextLoader)
        raw.adapters.register_loader("numeric", FloatLoader)
        raw.execute("SET TimeZone = 'UTC'")
        raw.execute("SET client_min_messages = warning")
        # pir's queries are small; a few (the similar-incidents answers) have estimates high enough to be
        # JIT-compiled, which cost 13 of their 19 s at 1,500 incidents (1.3 s without).
        raw.execute("SET jit = off")
        if read_only:
            raw.execute("SET default_transaction_read_only = on")
    except BaseException:
        raw.close()
        raise
    return PgConnection(raw)


@contextlib.contextmanager
def session(url: str, *, timeout: float, read_only: bool = False) -> Iterator[PgConnection]:
    con = connect(url, timeout=timeout, read_only=read_only)
    try:
        yield con
    finally:
        con.close()

"""What a sync read, parked on disk between reading Jira and writing the database.

A first sync of a big site reads for many minutes (hours with ``Retry-After`` waits). Holding what it read in
memory grew with the site (2.6 GB at 10,000 incidents); writing while reading would hold the database file,
which DuckDB locks per process, for all that time, and every board, guide step and ``pir sql`` would wait
on it. So what is read goes to unlinked temporary files next to the database as it arrives, and the load
reads it back a part at a time: memory stays that of a part, and the database is held only while it is
written, as before. The files have no name on Linux (``O_TMPFILE``), so a killed run leaves nothing behind.

- ``Spool``: the chunks of incident JSON (about the size of the incidents' JSON: 11 KB an incident on the
  sample site).
- ``TableSpool``: the action candidates' row values, Arrow tables appended page by page while the search
  pages arrive and read back in slices (about 0.5 KB an action, three to four actions an incident).
- ``Ledger``: what the run must remember of every issue it saw until the end (the incidents' ids, keys,
  links and epics that find each action's incident; the ids a ``--full`` run keeps from being flagged
  deleted): sets and maps in a private SQLite database, which SQLite keeps in a temporary file once it
  outgrows a few MB of cache (about 0.6 KB an incident as Python sets and dicts: 60 MB at 100,000).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import pyarrow as pa

from pirlib.files import os_error

__all__ = ["Ledger", "LedgerMap", "LedgerSet", "Spool", "TableSpool"]

_DOING = "cannot keep the issues read from Jira in"


def _temporary(folder: Path) -> IO[bytes]:
    try:
        return tempfile.TemporaryFile(dir=folder, prefix=".pir-sync-")
    except OSError as exc:
        raise os_error(exc, folder, _DOING) from None


class Spool:
    """Every chunk of ``chunks``, written to a temporary file in ``folder`` now, read back by ``chunks()``."""

    def __init__(self, folder: Path, chunks: Iterable[bytes]) -> None:
        self._file = _temporary(folder)
        self._sizes: list[int] = []
        try:
            for chunk in chunks:
                self._file.write(chunk)
                self._sizes.append(len(chunk))
            self._file.flush()
        except OSError as exc:
            self.close()
            raise os_error(exc, folder, _DOING) from None
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[bytes]:
        """The chunks in the order they were read, one in memory at a time."""
        self._file.seek(0)
        for size in self._sizes:
            yield self._file.read(size)

    @property
    def count(self) -> int:
        """How many chunks it holds."""
        return len(self._sizes)

    def close(self) -> None:
        self._file.close()


class TableSpool:
    """Arrow tables of one ``schema``, appended one by one (``append``), read back in slices (``slices``).

    Kept in memory unless ``folder`` is given; then in a temporary file there (an Arrow IPC stream)."""

    def __init__(self, schema: pa.Schema, folder: Path | None = None) -> None:
        self.schema = schema
        self.folder = folder
        self.rows = 0
        self._tables: list[pa.Table] = []
        self._file: IO[bytes] | None = _temporary(folder) if folder is not None else None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def append(self, table: pa.Table) -> None:
        self.rows += len(table)
        if self._file is None:
            self._tables.append(table)
            return
        try:
            if self._writer is None:
                self._writer = pa.ipc.new_stream(self._file, self.schema)
            self._writer.write_table(table)
        except OSError as exc:
            self.close()
            raise os_error(exc, self.folder, _DOING) from None

    def slices(self, rows: int | None) -> Iterator[pa.Table]:
        """Everything appended, in order, as tables of ``rows`` rows (None: one table); at least one table."""
        if self._file is None:
            batches: Iterable[pa.RecordBatch] = (b for t in self._tables for b in t.to_batches())
        else:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._file.flush()
            self._file.seek(0)
            batches = pa.ipc.open_stream(self._file) if self.rows else iter(())
        held: list[pa.RecordBatch] = []
        count = 0
        yielded = False
        for batch in batches:
            held.append(batch)
            count += len(batch)
            while rows and count >= rows:
                table = pa.Table.from_batches(held, self.schema)
                yield table.slice(0, rows).combine_chunks()
                yielded = True
                rest = table.slice(rows)
                held, count = rest.to_batches(), len(rest)
        if held or not yielded:
            yield pa.Table.from_batches(held, self.schema).combine_chunks()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Ledger:
    """A private SQLite database for a run's ``LedgerSet``s and ``LedgerMap``s; closed by ``close``.

    SQLite, not a DuckDB temporary table: lookups are one key at a time, on the transform's thread, while the
    load holds the DuckDB connection."""

    def __init__(self) -> None:
        # "": a temporary database of its own, in memory until it outgrows its cache, then in a temporary file
        # that SQLite removes when it is closed.
        self.db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")

    def set(self, name: str) -> LedgerSet:
        return LedgerSet(self.db, name)

    def map(self, name: str) -> LedgerMap:
        return LedgerMap(self.db, name)

    def close(self) -> None:
        self.db.close()


class _LedgerTable:
    """A table of a ``Ledger`` keyed by a string ``k``."""

    columns = "k TEXT PRIMARY KEY"

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self.db, self.name = db, name
        db.execute(f"CREATE TABLE {name} ({self.columns}) WITHOUT ROWID")

    def __contains__(self, key: object) -> bool:
        return self.db.execute(f"SELECT 1 FROM {self.name} WHERE k = ?", (key,)).fetchone() is not None

    def __bool__(self) -> bool:
        return self.db.execute(f"SELECT 1 FROM {self.name} LIMIT 1").fetchone() is not None


class LedgerSet(_LedgerTable):
    """A set of strings in a ``Ledger``: ``in``, ``add``, ``update``, iteration, ``len``, ``clear``, truth."""

    def add(self, key: str | None) -> None:
        if key is not None:
            self.db.execute(f"INSERT OR IGNORE INTO {self.name} VALUES (?)", (key,))

    def update(self, keys: Iterable[str]) -> None:
        self.db.executemany(f"INSERT OR IGNORE INTO {self.name} VALUES (?)", ((k,) for k in keys if k is not None))

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self.db.execute(f"SELECT k FROM {self.name}"))

    def __len__(self) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {self.name}").fetchone()[0])

    def clear(self) -> None:
        self.db.execute(f"DELETE FROM {self.name}")


class LedgerMap(_LedgerTable):
    """A str -> str map in a ``Ledger``: ``in``, ``get``, ``[]``, ``[] =``, ``setdefault``, ``update``, truth."""

    columns = "k TEXT PRIMARY KEY, v TEXT"

    def get(self, key: object, default: str | None = None) -> str | None:
        row = self.db.execute(f"SELECT v FROM {self.name} WHERE k = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None and key not in self:
            raise KeyError(key)
        return found  # type: ignore[return-value]

    def __setitem__(self, key: str, value: str) -> None:
        self.db.execute(f"INSERT OR REPLACE INTO {self.name} VALUES (?, ?)", (key, value))

    def setdefault(self, key: str, value: str) -> str:
        self.db.execute(f"INSERT OR IGNORE INTO {self.name} VALUES (?, ?)", (key, value))
        return self[key]

    def update(self, pairs: Iterable[tuple[str | None, str]]) -> None:
        self.db.executemany(
            f"INSERT OR REPLACE INTO {self.name} VALUES (?, ?)", ((k, v) for k, v in pairs if k is not None)
        )

"""The incidents a sync read, parked on disk between reading Jira and writing the database.

A first sync of a big site reads for many minutes (hours with ``Retry-After`` waits). Holding what it read in
memory grew with the site (2.6 GB at 10,000 incidents); writing while reading would hold the database file,
which DuckDB locks per process, for all that time, and every board, guide step and ``pir sql`` would wait
on it. So the chunks of incident JSON go to an unlinked temporary file next to the database, as they
arrive, and the load reads them back one chunk at a time: memory stays that of a chunk, and the database is
held only while it is written, as before. The file has no name on Linux (``O_TMPFILE``), so a killed run
leaves nothing behind; it takes about the size of the incidents' JSON (11 KB an incident on the sample site).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pirlib.files import os_error

__all__ = ["Spool"]


class Spool:
    """Every chunk of ``chunks``, written to a temporary file in ``folder`` now, read back by ``chunks()``."""

    def __init__(self, folder: Path, chunks: Iterable[bytes]) -> None:
        doing = "cannot keep the issues read from Jira in"
        try:
            self._file = tempfile.TemporaryFile(dir=folder, prefix=".pir-sync-")
        except OSError as exc:
            raise os_error(exc, folder, doing) from None
        self._sizes: list[int] = []
        try:
            for chunk in chunks:
                self._file.write(chunk)
                self._sizes.append(len(chunk))
            self._file.flush()
        except OSError as exc:
            self.close()
            raise os_error(exc, folder, doing) from None
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

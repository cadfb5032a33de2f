"""A separate process for the concurrency tests: `python db_worker.py writer|reader|holder DB SECONDS`.

writer: inserts one review note after another (a save every 20 ms, faster than anyone types) for
        SECONDS, printing how many it wrote.
reader: reads the notes count read-only in a loop for SECONDS, printing how many reads succeeded.
holder: opens the file read-write and keeps it for SECONDS (a process that forgot to close).
Any exception ends the process with a traceback and a non-zero exit, which the test reports.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from pirlib import db
from pirlib.config import Settings


def main(role: str, path: str, seconds: float) -> None:
    settings = Settings(db=path, db_lock_timeout=30.0)
    deadline = time.monotonic() + seconds
    count = 0
    if role == "holder":
        with db.connect(settings):
            print("holding", flush=True)
            time.sleep(seconds)
        return
    while time.monotonic() < deadline:
        if role == "writer":
            frame = pd.DataFrame(
                {
                    "note_id": [f"n{count}"],
                    "incident_id": ["i1"],
                    "segment": ["what_went_wrong"],
                    "text": [f"note {count}"],
                }
            )
            with db.connect(settings) as con:
                db.upsert_frame(con, "review_notes", frame, "note_id")
            time.sleep(0.02)
        else:
            with db.connect(settings, read_only=True) as con:
                con.execute("SELECT count(*) FROM review_notes").fetchone()
        count += 1
    print(count, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))

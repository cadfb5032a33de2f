"""A board's reader of the read model, as a process: it queries the read model in a loop (each query its own
unit of work, as a board's refresh) until the file STOP exists, then prints what it saw as JSON: queries,
errors, reads whose incidents and reviews counts disagree, and how many different snapshots it read.

Usage: python read_model_reader.py PIR_DB STOP (tests/test_snapshot.py, tests/test_concurrency.py)
"""

import json
import sys
import time
from pathlib import Path

from pirlib import db
from pirlib.config import Settings

path, stop = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(db=path, db_lock_timeout=5.0)
queries, errors, inconsistent, seen = 0, [], 0, set()
while not stop.exists():
    try:
        with db.read_model(settings) as con:
            incidents, reviews, joined = con.execute(
                "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM reviews),"
                " (SELECT count(*) FROM incidents JOIN reviews ON reviews.incident_id = incidents.issue_id)"
            ).fetchone()
            time.sleep(0.01)  # still inside the unit of work while a snapshot may be swapped in
            seen.add(
                con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'schema_migrations'").fetchone()[0]
            )
        queries += 1
        inconsistent += not (incidents == reviews == joined)
        time.sleep(0.05)  # a board's refresh, not a busy loop: the machine has two cores
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(
    json.dumps(
        {
            "queries": queries,
            "errors": errors[:5],
            "error_count": len(errors),
            "inconsistent": inconsistent,
            "snapshots_seen": len(seen),
        }
    )
)

"""A facilitator in a process of its own, for the concurrency test: `python facilitator_worker.py NAME INCIDENT
DRAFT_ID SECONDS [shared]`, with the store in the environment (PIR_DB, PIR_DATABASE_URL) as `pir` reads it.

For SECONDS it saves, as the guide does (one unit of work per save: open the store, save, close): it reads the
draft (the form showing it), then appends ``NAME:N;`` to the draft's description with the version it read, and
every fifth time also adds a meeting note. Between the read and the save it waits a few milliseconds, as a person
types. A worker told the draft is ``shared`` also, every tenth round, keeps the form open until someone else
has saved the draft (up to 5 s) before it saves: so the two on one draft overlap on any machine, however the
scheduler orders them. A ``VersionConflict`` is counted (the guide would show its message); anything else ends
the process with a traceback and a non-zero exit.

Prints one JSON line: {"saves": drafts saved, "conflicts": version messages, "notes": notes added,
"latency_ms": [each save's unit of work, connect to close]}.
"""

from __future__ import annotations

import json
import random
import sys
import time

from pirlib.config import Settings, load_settings
from pirlib.review import actions, meeting, versions
from pirlib.review.session import open_review


def main(name: str, incident: str, draft_id: str, seconds: float, shared: bool) -> None:
    settings = load_settings()
    deadline = time.monotonic() + seconds
    saves = conflicts = notes = 0
    latencies: list[float] = []
    jitter = random.Random(name)
    while time.monotonic() < deadline:
        draft = _shown(settings, incident, draft_id)  # the form loads the draft
        assert draft is not None, draft_id
        time.sleep(jitter.uniform(0.0, 0.02))  # the person types
        if shared and (saves + conflicts) % 10 == 9:  # every tenth round ends in a save or a conflict
            _until_someone_else_saved(settings, incident, draft_id, draft.version)
        started = time.perf_counter()
        try:
            with open_review(settings, incident) as session:
                actions.update_draft(
                    session.con,
                    draft_id,
                    version=draft.version,
                    by=name,
                    description=f"{draft.description or ''}{name}:{saves};",
                )
                if saves % 5 == 0:
                    meeting.add_note(session, "went_well", f"{name} note {notes}", author=name)
                    notes += 1
        except versions.VersionConflict:
            conflicts += 1
            continue
        finally:
            latencies.append((time.perf_counter() - started) * 1000)
        saves += 1
    print(json.dumps({"saves": saves, "conflicts": conflicts, "notes": notes, "latency_ms": latencies}), flush=True)


def _shown(settings: Settings, incident: str, draft_id: str, read_only: bool = False) -> actions.Draft | None:
    with open_review(settings, incident, read_only=read_only) as session:
        return actions.get_draft(session.con, draft_id)


def _until_someone_else_saved(settings: Settings, incident: str, draft_id: str, version: int) -> None:
    give_up = time.monotonic() + 5.0
    while time.monotonic() < give_up:
        draft = _shown(settings, incident, draft_id, read_only=True)
        if draft is None or draft.version != version:
            return
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5:] == ["shared"])

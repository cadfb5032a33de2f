"""`pir demo`: load the generated sample Jira site into the store (DuckDB, or PostgreSQL in team mode), offline.

The sample files are exactly what Jira's REST API returns, and they go through the same field
resolution, transform and load as a live sync: the demo exercises the sync's code, not a shortcut.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib import configure, db, sample
from pirlib.config import Settings
from pirlib.errors import InputError
from pirlib.failure_modes import similar
from pirlib.files import output_folder
from pirlib.jira_sync.fields import resolve_fields
from pirlib.jira_sync.load import load_batch, mark_deleted
from pirlib.jira_sync.transform import transform

__all__ = ["load_demo"]

_SITE_FILES = ("serverInfo.json", "field.json", "issues.json")
_REVIEW_COLUMNS = [
    "facilitator",
    "facilitator_assigned_at",
    "artifacts_collected_at",
    "invites_sent_at",
    "agenda_circulated_at",
    "meeting_at",
    "published_at",
    "doc_url",
    "regulatory_filed_at",
]


def load_demo(
    settings: Settings, regenerate: bool = False, force: bool = False, as_of: dt.date = sample.SNAPSHOT_DAY
) -> dict[str, int]:
    """Write the sample site for the day ``as_of`` if the folder holds none or another day's (or when
    asked), load it, and return the rows loaded per table.

    `pir demo` passes today (PIR_TODAY when set), so the boards show a present; the default is the day the
    tests and golden files pin (``sample.SNAPSHOT_DAY``).

    Loading twice gives the same database: rows are keyed by Jira id, reviews by incident and failure modes
    by name, and the demo keeps a single ``sync_runs`` row per sample folder. A database that holds what a
    `pir sync` wrote is refused unless ``force``: the sample's issue ids are Jira ids, and loading it would
    overwrite the synced incidents that share them.

    A sample of another day is another site (its issues are numbered anew, every time moved), so a load
    for a day other than the one the database holds starts the incident data over (``_start_over``)
    instead of merging two days' sites, where Jira's newer-copy-wins rule would keep parts of the old one.
    """
    sample.check_day(as_of)
    sample_dir = Path(settings.sample_dir)
    stale = sample.written_day(sample_dir) != as_of
    if regenerate or stale or not all((sample_dir / name).is_file() for name in _SITE_FILES):
        sample.write_sample(output_folder(sample_dir), as_of=as_of)

    started = pd.Timestamp.now(tz="UTC")
    server = _read(sample_dir / "serverInfo.json")
    catalogue = _read(sample_dir / "field.json")
    issues = _read(sample_dir / "issues.json").get("issues", [])
    reviews = _read_optional(sample_dir / "reviews.json")
    failure_modes = _read_optional(sample_dir / "failure_modes.json")
    notes = _read_optional(sample_dir / "review_notes.json")

    fields = resolve_fields(catalogue, settings)
    incidents = [i for i in issues if (i.get("fields") or {}).get("issuetype", {}).get("name") == "Incident"]
    others = [i for i in issues if (i.get("fields") or {}).get("issuetype", {}).get("name") != "Incident"]
    batch = transform(
        incidents,
        others,
        fields,
        base_url=server.get("baseUrl") or "https://jira.example.com",
        postmortem_label=settings.postmortem_label,
    )

    with configure.open_configured(settings) as con:
        if not force:
            _refuse_synced_data(con, settings)
        if _loaded_day(con) not in (None, as_of) and not _synced(con):
            _start_over(con)
        written = load_batch(con, batch, synced_at=started)
        # The demo reads the whole site, like `pir sync --full`: issues gone from a regenerated sample are
        # flagged, as a full sync flags issues deleted in Jira.
        deleted = mark_deleted(con, "incidents", set(batch.incidents["issue_id"]))
        deleted += mark_deleted(con, "actions", set(batch.actions["issue_id"]))
        n_reviews = _load_reviews(con, reviews)
        n_notes = _load_review_notes(con, notes)
        n_modes = _load_failure_modes(con, failure_modes)
        with db.transaction(con):
            similar.refresh(con)
        _record_run(con, sample_dir, as_of, started, written, deleted)
    return {
        "incidents": written["incidents"],
        "actions": written["actions"],
        "events": written["events"],
        "reviews": n_reviews,
        "review_notes": n_notes,
        "failure_modes": n_modes,
    }


def _synced(con: Any) -> int:
    """How many live syncs wrote into the database."""
    return con.execute("SELECT count(*) FROM sync_runs WHERE mode <> 'demo'").fetchone()[0]


def _refuse_synced_data(con: Any, settings: Settings) -> None:
    synced = _synced(con)
    if synced:
        incidents = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        if db.team_mode(settings):
            elsewhere = "its own database (a PIR_DATABASE_URL of its own)"
        else:
            elsewhere = f"its own file (PIR_DB={Path(settings.db).with_name('demo.duckdb')} pir demo)"
        raise InputError(
            f"{db.describe(settings)} holds {incidents} incidents synced from Jira ({synced} sync "
            f"run{'s' if synced != 1 else ''}) and the sample would overwrite them; load it into {elsewhere} "
            "or run `pir demo --force`"
        )


_SOURCE_DAY = re.compile(r"\(sample of (\d{4}-\d\d-\d\d)\)$")


def _loaded_day(con: Any) -> dt.date | None:
    """The day of the sample the last demo load wrote (``_record_run`` names it in the source); None when
    no demo was loaded, and the earliest possible day for a load that did not name its day."""
    row = con.execute("SELECT source FROM sync_runs WHERE mode = 'demo' ORDER BY finished_at DESC LIMIT 1").fetchone()
    if row is None:
        return None
    found = _SOURCE_DAY.search(row[0] or "")
    return dt.date.fromisoformat(found.group(1)) if found else dt.date.min


def _start_over(con: Any) -> None:
    """Empty every table of incident data (what the sample wrote and what was typed about its incidents:
    a table keyed by an incident, issue or action id) and the demo's run records, in one transaction.
    Settings tables (taxonomy, deadlines, severities) stay."""
    tables = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT c.table_name FROM information_schema.columns AS c"
            " JOIN information_schema.tables AS t USING (table_schema, table_name)"
            " WHERE t.table_type = 'BASE TABLE' AND t.table_schema = current_schema()"
            " AND c.column_name IN ('incident_id', 'issue_id', 'action_id', 'query_id') ORDER BY 1"
        ).fetchall()
    ]
    with db.transaction(con):
        for table in tables:
            con.execute(f'DELETE FROM "{table}"')
        con.execute("DELETE FROM similar_answers_state")
        con.execute("DELETE FROM sync_runs WHERE mode = 'demo'")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} is missing; run `pir demo --regenerate` to write the sample site") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); run `pir demo --regenerate`"
        ) from None


def _read_optional(path: Path) -> list[dict[str, Any]]:
    return _read(path) if path.exists() else []


def _load_reviews(con: Any, reviews: list[dict[str, Any]]) -> int:
    """Reviews are keyed by incident key in the sample; the table is keyed by the incident's Jira id."""
    if not reviews:
        return 0
    frame = pd.DataFrame(reviews)
    for column in _REVIEW_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame[["incident_key", *_REVIEW_COLUMNS]].astype(object).where(frame.notna(), None)
    con.register("_demo_reviews", frame)
    try:
        missing = con.execute(
            "SELECT count(*) FROM _demo_reviews r LEFT JOIN incidents i ON i.key = r.incident_key"
            " WHERE i.issue_id IS NULL"
        ).fetchone()[0]
        if missing:
            raise InputError(f"reviews.json names {missing} incidents not in issues.json; run `pir demo --regenerate`")
        columns = ", ".join(_REVIEW_COLUMNS)
        casts = ", ".join(
            f"CAST(r.{c} AS TIMESTAMPTZ)" if c.endswith("_at") else f"CAST(r.{c} AS VARCHAR)" for c in _REVIEW_COLUMNS
        )
        with db.transaction(con):
            con.execute(
                "DELETE FROM reviews WHERE incident_id IN (SELECT i.issue_id FROM _demo_reviews r"
                " JOIN incidents i ON i.key = r.incident_key)"
            )
            con.execute(
                f"INSERT INTO reviews (incident_id, {columns}, updated_at)"
                f" SELECT i.issue_id, {casts}, now() FROM _demo_reviews r JOIN incidents i ON i.key = r.incident_key"
            )
    finally:
        con.unregister("_demo_reviews")
    return len(frame)


def _load_review_notes(con: Any, notes: list[dict[str, Any]]) -> int:
    """The sample's review notes (ids ``sample-…``) replace the ones an earlier load wrote; notes typed in
    the guide keep theirs."""
    columns = ["note_id", "incident_key", "segment", "category", "text", "author", "created_at"]
    frame = pd.DataFrame(notes, columns=columns)
    con.register("_demo_notes", frame)
    try:
        missing = con.execute(
            "SELECT count(*) FROM _demo_notes n LEFT JOIN incidents i ON i.key = n.incident_key"
            " WHERE i.issue_id IS NULL"
        ).fetchone()[0]
        if missing:
            raise InputError(
                f"review_notes.json names {missing} incidents not in issues.json; run `pir demo --regenerate`"
            )
        with db.transaction(con):
            con.execute("DELETE FROM review_notes WHERE note_id LIKE 'sample-%'")
            con.execute(
                "INSERT INTO review_notes (note_id, incident_id, segment, category, text, author, created_at, updated_at)"
                " SELECT n.note_id, i.issue_id, n.segment, n.category, n.text, n.author, CAST(n.created_at AS TIMESTAMPTZ),"
                " CAST(n.created_at AS TIMESTAMPTZ) FROM _demo_notes n JOIN incidents i ON i.key = n.incident_key"
            )
    finally:
        con.unregister("_demo_notes")
    return len(frame)


def _load_failure_modes(con: Any, modes: list[dict[str, Any]]) -> int:
    if not modes:
        return 0
    frame = pd.DataFrame(modes)
    for column in ("category", "description"):
        if column not in frame:
            frame[column] = None
    db.upsert_frame(con, "failure_modes", frame[["mode", "category", "description"]], "mode")
    return len(frame)


def _record_run(
    con: Any, sample_dir: Path, as_of: dt.date, started: pd.Timestamp, written: dict[str, int], deleted: int
) -> None:
    # One row per sample folder, so that a second demo load leaves the database as the first one did. The
    # cursor stays empty: a later live sync must not take the sample's timestamps for its own progress.
    run_id = f"demo:{sample_dir}"
    con.execute("DELETE FROM sync_runs WHERE run_id = ?", [run_id])
    con.execute(
        "INSERT INTO sync_runs (run_id, started_at, finished_at, status, mode, source, cursor, requests,"
        " issues_written, actions_written, events_written, deleted_marked, error)"
        " VALUES (?, ?, ?, 'success', 'demo', ?, NULL, '{}', ?, ?, ?, ?, NULL)",
        [
            run_id,
            started.to_pydatetime(),
            dt.datetime.now(dt.UTC),
            f"{sample_dir} (sample of {as_of})",
            written["incidents"],
            written["actions"],
            written["events"],
            deleted,
        ],
    )

"""The numbers the dashboards show, as DataFrames read over the analyst views and tables.

Each function takes an open DuckDB connection and returns a frame; it never opens or keeps a connection
itself, so that a dashboard can read everything it needs in one short-lived read-only connection.
Deleted Jira issues are left out everywhere (the views already exclude them).
"""

from __future__ import annotations

import duckdb
import pandas as pd

# How many incidents a bar's hover names: enough to recognise the month, few enough to stay readable.
HOVER_EXAMPLES = 5


def incident_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM incidents WHERE NOT deleted").fetchone()[0]


def action_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM v_action_status").fetchone()[0]


def incidents_by_severity_month(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (month, severity): the month the incident started (else was created), UTC.

    Columns: month (Timestamp, first day), severity (None when the incident has none), incidents,
    examples (up to HOVER_EXAMPLES "KEY summary" strings, newest first; raw Jira text, not escaped).
    """
    return con.execute(
        f"""
        SELECT
            CAST(date_trunc('month', coalesce(started_at, created_at)) AS DATE) AS month,
            severity,
            count(*) AS incidents,
            list(key || ' ' || coalesce(summary, '')
                 ORDER BY coalesce(started_at, created_at) DESC, key)[1:{HOVER_EXAMPLES}] AS examples
        FROM incidents
        WHERE NOT deleted AND coalesce(started_at, created_at) IS NOT NULL
        GROUP BY ALL
        ORDER BY month, severity NULLS LAST
        """
    ).df().astype({"month": "datetime64[ns]", "incidents": "int64"})


def action_status_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (month the action was created, state): state is done, overdue or open (not overdue).

    Columns: month (Timestamp, first day), state, actions. "Overdue" follows v_action_status: not done
    and past its due date (the view compares with DuckDB's current_date).
    """
    return con.execute(
        """
        SELECT
            CAST(date_trunc('month', created_at) AS DATE) AS month,
            CASE WHEN is_done THEN 'done' WHEN coalesce(is_overdue, false) THEN 'overdue' ELSE 'open' END
                AS state,
            count(*) AS actions
        FROM v_action_status
        WHERE created_at IS NOT NULL
        GROUP BY ALL
        ORDER BY month, state
        """
    ).df().astype({"month": "datetime64[ns]", "actions": "int64"})


def latest_incidents(con: duckdb.DuckDBPyConnection, limit: int = 10) -> pd.DataFrame:
    """The most recent incidents: key, severity, status, started (UTC), summary (raw Jira text)."""
    return con.execute(
        """
        SELECT key, severity, status, coalesce(started_at, created_at) AS started, summary
        FROM incidents
        WHERE NOT deleted
        ORDER BY coalesce(started_at, created_at) DESC NULLS LAST, key
        LIMIT ?
        """,
        [limit],
    ).df()


def last_sync(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The newest finished sync or demo load that did not fail, as a dict of its sync_runs row, or None."""
    row = con.execute(
        """
        SELECT run_id, started_at, finished_at, status, mode, source
        FROM sync_runs
        WHERE finished_at IS NOT NULL AND lower(status) NOT IN ('failed', 'error', 'running')
        ORDER BY finished_at DESC
        LIMIT 1
        """
    ).fetchone()
    if row is None:
        return None
    return dict(zip(["run_id", "started_at", "finished_at", "status", "mode", "source"], row))

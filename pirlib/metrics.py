"""The numbers the dashboards show, as DataFrames read over the analyst views and tables.

Each function takes an open DuckDB connection and returns a frame; it never opens or keeps a connection
itself, so that a dashboard can read everything it needs in one short-lived read-only connection.
Deleted Jira issues are left out everywhere (the views already exclude them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pirlib.db import Connection
from pirlib.failure_modes import similar

# How many incidents a bar's hover names: enough to recognise the month, few enough to stay readable.
HOVER_EXAMPLES = 5


def incident_count(con: Connection) -> int:
    return con.execute("SELECT count(*) FROM incidents WHERE NOT deleted").fetchall()[0][0]


def action_count(con: Connection) -> int:
    return con.execute("SELECT count(*) FROM v_action_status").fetchall()[0][0]


def incidents_by_severity_month(con: Connection) -> pd.DataFrame:
    """One row per (month, severity): the month the incident started (else was created), UTC.

    Columns: month (Timestamp, first day), severity (None when the incident has none), incidents,
    examples (up to HOVER_EXAMPLES "KEY summary" strings, newest first; raw Jira text, not escaped).
    """
    return (
        con.execute(
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
        )
        .df()
        .astype({"month": "datetime64[ns]", "incidents": "int64"})
    )


def action_status_counts(con: Connection) -> pd.DataFrame:
    """One row per (month the action was created, state): state is done, overdue or open (not overdue).

    Columns: month (Timestamp, first day), state, actions. "Overdue" follows v_action_status: not done
    and past its due date (the view compares with DuckDB's current_date).
    """
    return (
        con.execute(
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
        )
        .df()
        .astype({"month": "datetime64[ns]", "actions": "int64"})
    )


def latest_incidents(con: Connection, limit: int = 10) -> pd.DataFrame:
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


def last_sync(con: Connection) -> dict | None:
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


# ---------------------------------------------------------------------------------------------------------
# The four leadership dashboards. Each loads its rows once, in one short read-only connection (load_*),
# and every number is then a pure function over those frames, so a filter change re-reads nothing and an
# open dashboard holds no lock. "Today" comes from the settings (PIR_TODAY in tests), never from DuckDB's
# current_date, so the views' own overdue / pending columns are recomputed here with it.
# ---------------------------------------------------------------------------------------------------------

DURATION_MEASURES = {"ttd_minutes": "TTD", "ttm_minutes": "TTM", "ttr_minutes": "TTR"}
AGE_BUCKETS = ((0, 30, "0–30 days"), (31, 60, "31–60 days"), (61, 90, "61–90 days"), (91, None, "over 90 days"))
MISSING_FIELDS = {
    "missing_owner": "owner",
    "missing_due_date": "due date",
    "missing_success_metric": "success metric",
    "missing_verification_method": "verification method",
}
AT_RISK_HOURS = 24.0


@dataclass(frozen=True)
class Filters:
    """What a reader narrowed a dashboard to; an empty tuple means every value."""

    start: dt.date | None = None
    end: dt.date | None = None
    teams: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    # Only from a link (the home page, a drill-down): the filter bar has no control for these.
    failure_modes: tuple[str, ...] = ()
    incidents: tuple[str, ...] = ()  # incident keys


# The frame column the incident filter reads: an action's incident, a similar list's later incident, else the key.
INCIDENT_KEY_COLUMNS = ("incident_key", "query_key", "key")


def apply_filters(frame: pd.DataFrame, filters: Filters, date_column: str) -> pd.DataFrame:
    """Rows of ``frame`` inside the filters: ``date_column`` (UTC) within start..end inclusive, and team,
    service, severity, failure mode and incident among the chosen ones. A frame with a ``teams`` list column
    (incidents, reviews) matches a team when any of its actions belongs to that team. A frame without a
    filter's column is not narrowed by it (``filterable`` says which filters a set of frames can apply). With no
    filter in force, ``frame`` itself (a board's first render: no copy of 50k rows per frame)."""
    if filters == Filters():
        return frame
    keep = pd.Series(True, index=frame.index)
    if filters.start or filters.end:
        days = _utc(frame[date_column]).dt.date
        if filters.start:
            keep &= days.notna() & (days >= filters.start)
        if filters.end:
            keep &= days.notna() & (days <= filters.end)
    if filters.services and "service" in frame:
        keep &= frame["service"].isin(filters.services)
    if filters.severities and "severity" in frame:
        keep &= frame["severity"].isin(filters.severities)
    if filters.teams:
        if "team" in frame:
            keep &= frame["team"].isin(filters.teams)
        elif "teams" in frame:
            wanted = set(filters.teams)
            keep &= frame["teams"].map(lambda teams: _is_list(teams) and bool(wanted & set(teams)))
    if filters.failure_modes and "failure_mode" in frame:
        keep &= frame["failure_mode"].isin(filters.failure_modes)
    if filters.incidents:
        column = next((c for c in INCIDENT_KEY_COLUMNS if c in frame), None)
        if column is not None:
            keep &= frame[column].isin(filters.incidents)
    return frame[keep]


def filterable(*frames: pd.DataFrame) -> set[str]:
    """The ``Filters`` fields (besides the date range) that narrow at least one of ``frames``."""
    columns = set().union(*(frame.columns for frame in frames)) if frames else set()
    found = {"teams"} if columns & {"team", "teams"} else set()
    found |= {
        field
        for field, column in (("services", "service"), ("severities", "severity"), ("failure_modes", "failure_mode"))
        if column in columns
    }
    if columns & set(INCIDENT_KEY_COLUMNS):
        found.add("incidents")
    return found


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _utc(series: pd.Series) -> pd.Series:
    series = pd.to_datetime(series, utc=True)
    return series


def filter_options(*frames: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter offers, from the loaded frames: teams, services, severities (sorted)."""
    found: dict[str, set[str]] = {"teams": set(), "services": set(), "severities": set()}
    # Distinct values first (unique, explode): a board at 50k incidents has 50k rows and a dozen values.
    for frame in frames:
        if "team" in frame:
            found["teams"].update(frame["team"].dropna().unique())
        if "teams" in frame:  # lists, or None/NA where an incident has no actions
            found["teams"].update(frame["teams"].dropna().explode().dropna().unique())
        if "service" in frame:
            found["services"].update(frame["service"].dropna().unique())
        if "severity" in frame:
            found["severities"].update(frame["severity"].dropna().unique())
    return {name: sorted(map(str, values)) for name, values in found.items()}


def period_start(series: pd.Series, freq: str) -> pd.Series:
    """The first day of the month ("M") or quarter ("Q") of each UTC timestamp, as naive Timestamps."""
    naive = _utc(series).dt.tz_localize(None)
    return naive.dt.to_period(freq).dt.start_time


def choose_period(series: pd.Series) -> str:
    """Months for up to 18 months of data, else quarters: enough periods to see a trend, few enough to read."""
    times = _utc(series).dropna()
    if times.empty:
        return "M"
    return "M" if (times.max() - times.min()).days <= 548 else "Q"


PERIOD_WORDS = {"W": "week", "M": "month", "Q": "quarter"}


def period_word(freq: str) -> str:
    """What a chart's title calls one period of ``freq``: "month" for "M"."""
    return PERIOD_WORDS[freq]


def summarize(frame: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    """Distribution of ``value`` per group: n, median, p90 (and p10, q1, q3 for box plots). Never a mean.

    Rows with no value are left out of n. Groups come back sorted; an empty frame gives no rows.
    """
    columns = [*by, "n", "median", "p90", "p10", "q1", "q3", "min", "max"]
    data = frame.dropna(subset=[value])
    if data.empty:
        return pd.DataFrame(columns=columns)
    grouped = data.groupby(by, sort=True, dropna=False)[value]
    out = pd.DataFrame(
        {
            "n": grouped.size(),
            "median": grouped.median(),
            "p90": grouped.quantile(0.9),
            "p10": grouped.quantile(0.1),
            "q1": grouped.quantile(0.25),
            "q3": grouped.quantile(0.75),
            "min": grouped.min(),
            "max": grouped.max(),
        }
    ).reset_index()
    return out[columns]


# --- actions -------------------------------------------------------------------------------------------


ACTION_COLUMNS = """key, summary, owner, team, status, status_category, is_done, due_date, created_at, resolved_at,
    url, incident_id, incident_key, incident_summary, severity, service,
    missing_owner, missing_due_date, missing_success_metric, missing_verification_method"""


def load_actions(con: Connection) -> pd.DataFrame:
    """Every action (deleted ones excluded), one row each, with its incident's key, severity and service."""
    return con.execute(f"SELECT {ACTION_COLUMNS} FROM v_action_status").df()


def load_open_actions(con: Connection) -> pd.DataFrame:
    """``load_actions`` without the done ones: what can be overdue (the home page and the digest read only these;
    most actions of a mature site are done)."""
    return con.execute(f"SELECT {ACTION_COLUMNS} FROM v_action_status WHERE NOT coalesce(is_done, false)").df()


def action_states(actions: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """``actions`` plus: done_on_time, due (done, or its due date has passed), overdue, days_overdue,
    age_days (open actions: days since created) and state (done / overdue / open), all as of ``today``."""
    frame = actions.copy()
    done = frame["is_done"].fillna(False).astype(bool)
    # Days as naive datetime64 (NaT where missing, and NaT compares False): ``.dt.date`` of a column with no
    # value at all stays datetime64, and comparing that with date objects is deprecated in pandas 3.
    today_day = pd.Timestamp(today)
    due = pd.to_datetime(frame["due_date"]).dt.normalize()
    resolved = _utc(frame["resolved_at"]).dt.tz_localize(None).dt.normalize()
    created = _utc(frame["created_at"]).dt.tz_localize(None).dt.normalize()
    has_due = due.notna()
    frame["done_on_time"] = done & has_due & (resolved <= due)
    past_due = due < today_day
    frame["overdue"] = ~done & past_due
    frame["due"] = has_due & (done | past_due)
    frame["days_overdue"] = [int(d) if o else None for d, o in zip((today_day - due).dt.days, frame["overdue"])]
    frame["age_days"] = [
        int(a) if (not d and not pd.isna(a)) else None for a, d in zip((today_day - created).dt.days, done)
    ]
    frame["state"] = np.where(done, "done", np.where(frame["overdue"], "overdue", "open"))
    return frame


# The columns of ``v_action_status`` rows that ``completion_rates`` sums.
RATE_COLUMNS = ("is_done", "overdue", "done_on_time", "due")


def completion_rates(states: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of ``by``: actions, done, open, overdue, completion_rate (done / actions) and on_time_rate
    (done by the due date / actions that are done or past their due date; NaN when none is due yet).

    ``states`` is ``action_states``. A missing ``by`` value is its own group, "(none)". Sorted by actions.
    """
    columns = [by, "actions", "done", "open", "overdue", "completion_rate", "on_time_rate"]
    if states.empty:
        return pd.DataFrame(columns=columns)
    # Only the columns summed below: assigning to all of ``states`` would copy every column (a frame per call).
    frame = states[list(RATE_COLUMNS)].assign(**{by: states[by].fillna("(none)").astype(str)})
    grouped = frame.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "actions": grouped.size(),
            "done": grouped["is_done"].sum(),
            "overdue": grouped["overdue"].sum(),
            "done_on_time": grouped["done_on_time"].sum(),
            "due": grouped["due"].sum(),
        }
    )
    out["open"] = out["actions"] - out["done"]
    out["completion_rate"] = out["done"] / out["actions"]
    out["on_time_rate"] = (out["done_on_time"] / out["due"]).where(out["due"] > 0)
    out = out.reset_index().sort_values(["actions", by], ascending=[False, True])
    return out[columns].astype({"actions": "int64", "done": "int64", "open": "int64", "overdue": "int64"})


def burn_up(actions: pd.DataFrame, freq: str = "W") -> pd.DataFrame:
    """Cumulative actions created and done at the end of each period ("W" weeks, "M" months).

    Columns: period (Timestamp, start of the period), created, done. Empty in, empty out.
    """
    created = _utc(actions["created_at"]).dropna()
    if created.empty:
        return pd.DataFrame(columns=["period", "created", "done"])
    done_at = _utc(actions.loc[actions["is_done"].fillna(False).astype(bool), "resolved_at"]).dropna()
    last = max(created.max(), done_at.max()) if len(done_at) else created.max()
    periods = pd.period_range(created.min().tz_localize(None), last.tz_localize(None), freq=freq)

    def cumulative(times: pd.Series) -> np.ndarray:
        counts = times.dt.tz_localize(None).dt.to_period(freq).value_counts()
        return counts.reindex(periods, fill_value=0).cumsum().to_numpy()

    return pd.DataFrame({"period": periods.start_time, "created": cumulative(created), "done": cumulative(done_at)})


def aging(states: pd.DataFrame) -> pd.DataFrame:
    """Open actions by age bucket and whether they are overdue: bucket, overdue (bool), actions."""
    open_actions = states[states["state"] != "done"].dropna(subset=["age_days"])
    rows = []
    for low, high, label in AGE_BUCKETS:
        ages = open_actions["age_days"]
        inside = open_actions[(ages >= low) & ((ages <= high) if high is not None else True)]
        for overdue in (False, True):
            rows.append((label, overdue, int((inside["overdue"] == overdue).sum())))
    return pd.DataFrame(rows, columns=["bucket", "overdue", "actions"])


def missing_fields(states: pd.DataFrame) -> pd.DataFrame:
    """How many open actions lack each SMART field: field, open_actions_missing, open_actions."""
    open_actions = states[states["state"] != "done"]
    return pd.DataFrame(
        [
            (label, int(open_actions[column].fillna(False).astype(bool).sum()), len(open_actions))
            for column, label in MISSING_FIELDS.items()
        ],
        columns=["field", "missing", "open_actions"],
    )


def overdue_list(states: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """Overdue actions, most overdue first: key, url, summary, owner, team, due_date, days_overdue,
    incident_key, severity."""
    columns = ["key", "url", "summary", "owner", "team", "due_date", "days_overdue", "incident_key", "severity"]
    rows = states[states["overdue"]].sort_values(["days_overdue", "key"], ascending=[False, True])
    return rows[columns].head(limit) if limit else rows[columns]


# --- reviews -------------------------------------------------------------------------------------------


def load_review_stages(con: Connection) -> pd.DataFrame:
    """One row per (reviewed incident, runbook stage) from v_review_deadlines, plus the incident's teams.

    SQL both stores speak (``array_agg`` is DuckDB's ``list`` by the name PostgreSQL knows): in team mode the
    digest reads this from PostgreSQL, the boards from the read model."""
    return con.execute(
        """
        SELECT d.incident_id, d.key, d.summary, d.severity, d.service, d.closed_at, d.stage, d.stage_rank,
               d.deadline_hours, d.due_at, d.done_at, t.teams
        FROM v_review_deadlines AS d
        LEFT JOIN (SELECT incident_id, array_agg(DISTINCT team) FILTER (WHERE team IS NOT NULL) AS teams
                   FROM v_action_status GROUP BY incident_id) AS t USING (incident_id)
        ORDER BY d.closed_at, d.incident_id, d.stage_rank
        """
    ).df()


def load_regulatory_followups(con: Connection) -> pd.DataFrame:
    """Regulatory incidents and their regulator filing (runbook §4.4): open until ``regulatory_filed_at``."""
    return con.execute(
        "SELECT incident_id, key, summary, severity, service, closed_at, published_at, regulatory_filed_at, state "
        "FROM v_regulatory_followups ORDER BY state = 'filed', closed_at DESC NULLS FIRST, key"
    ).df()


def review_stage_states(stages: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``stages`` plus state (on_time / late / missed / pending) and hours_past_due, as of ``as_of`` (UTC):
    the view's own columns use DuckDB's clock, which a demo or test with PIR_TODAY must not."""
    frame = stages.copy()
    as_of = _as_utc(as_of)
    due = _utc(frame["due_at"])
    done = _utc(frame["done_at"])
    frame["state"] = np.select(
        [done.notna() & (done <= due), done.notna(), due < as_of], ["on_time", "late", "missed"], "pending"
    )
    frame["hours_past_due"] = (done.fillna(as_of) - due).dt.total_seconds() / 3600.0
    return frame


def _as_utc(value: pd.Timestamp | dt.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def stage_compliance(states: pd.DataFrame, freq: str = "M") -> pd.DataFrame:
    """Per (period the incident closed, stage): decided (on time + late + missed), on_time and rate.

    Pending stages are not decided yet and count nowhere. Columns: period, stage, stage_rank, decided,
    on_time, rate.
    """
    columns = ["period", "stage", "stage_rank", "decided", "on_time", "rate"]
    decided = states[states["state"] != "pending"]
    if decided.empty:
        return pd.DataFrame(columns=columns)
    frame = decided.assign(period=period_start(decided["closed_at"], freq), on_time=decided["state"] == "on_time")
    out = frame.groupby(["period", "stage", "stage_rank"]).agg(decided=("state", "size"), on_time=("on_time", "sum"))
    out = out.reset_index().sort_values(["stage_rank", "period"])
    out["rate"] = out["on_time"] / out["decided"]
    return out[columns].astype({"decided": "int64", "on_time": "int64"})


def lateness(states: pd.DataFrame) -> pd.DataFrame:
    """Hours past the deadline of every late or missed stage, summarised per stage (n, median, p90, ...)."""
    late = states[states["state"].isin(["late", "missed"])]
    out = summarize(late, "hours_past_due", ["stage_rank", "stage"])
    return out


def at_risk(
    states: pd.DataFrame, as_of: pd.Timestamp, hours: float = AT_RISK_HOURS, missed_within_days: int = 7
) -> pd.DataFrame:
    """Reviews at risk right now: stages not done that are due within ``hours`` or were missed in the
    last ``missed_within_days`` days. Columns: key, summary, severity, service, stage, due_at,
    hours_left (negative when missed). Soonest first."""
    as_of = _as_utc(as_of)
    due = _utc(states["due_at"])
    open_stage = _utc(states["done_at"]).isna()
    window = (due <= as_of + pd.Timedelta(hours=hours)) & (due >= as_of - pd.Timedelta(days=missed_within_days))
    rows = states[open_stage & window]
    # From the selected rows' own due_at: a Series of all states assigned to an empty selection would bring
    # every row of states back as a row of NaN (pandas 3 adopts the Series' index).
    rows = rows.assign(hours_left=(_utc(rows["due_at"]) - as_of).dt.total_seconds() / 3600.0)
    columns = ["key", "summary", "severity", "service", "stage", "due_at", "hours_left"]
    return rows.sort_values(["due_at", "key", "stage_rank"])[columns]


# --- incidents and failure modes ----------------------------------------------------------------------


def load_incidents(con: Connection) -> pd.DataFrame:
    """Every incident (deleted excluded) with its durations in minutes (v_incident_durations), when it
    happened (started, else created), its failure mode as classified (v_incident_durations takes it from
    v_incident_failure_modes), its URL and the teams owning its actions."""
    return con.execute(
        f"""
        SELECT d.incident_id, d.key, d.summary, d.severity, d.service, d.failure_mode,
               coalesce(d.started_at, i.created_at) AS occurred_at,
               d.ttd_minutes, d.ttm_minutes, d.ttr_minutes, i.url, t.teams
        FROM v_incident_durations AS d
        JOIN incidents AS i ON i.issue_id = d.incident_id
        LEFT JOIN {_TEAMS.format(where="")} AS t USING (incident_id)
        ORDER BY occurred_at, d.key
        """
    ).df()


def load_incident_measures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What the incidents board counts and measures of every incident (deleted excluded): severity, service,
    when it happened, TTD/TTM/TTR in minutes (as v_incident_durations counts them) and the teams owning its
    actions. Only these: keys, summaries, URLs and modes (``load_incidents``) doubled the read at 50k incidents.

    Read from ``incidents`` itself rather than v_incident_durations, whose join with the failure modes DuckDB
    works out even when no mode is read (0.05 of 0.13 CPU-s at 50k incidents; tests/test_metrics.py checks
    the rows against the view). ``teams`` stays an Arrow list column: turning 50k lists into Python objects
    cost more than reading them, and only the team filter reads them one by one."""
    # A cursor of its own: a relation's Arrow read on ``con`` refuses while an earlier execute's result is open.
    cursor = con.cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")  # a cursor starts with the machine's zone, not the connection's
        table = cursor.sql(
            f"""
        SELECT i.severity, i.service, coalesce(i.started_at, i.created_at) AS occurred_at,
               (epoch_us(i.detected_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttd_minutes,
               (epoch_us(i.mitigated_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttm_minutes,
               (epoch_us(i.resolved_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttr_minutes,
               t.teams
        FROM incidents AS i
        LEFT JOIN {_TEAMS.format(where="")} AS t ON t.incident_id = i.issue_id
        WHERE NOT i.deleted
        """
        ).to_arrow_table()
    finally:
        cursor.close()
    return table.to_pandas(types_mapper=lambda kind: pd.ArrowDtype(kind) if pa.types.is_list(kind) else None)


def counts_by(incidents: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """Incident counts per (rows, columns) value, missing values as "(none)": rows, columns, incidents."""
    frame = incidents.assign(**{c: incidents[c].fillna("(none)").astype(str) for c in (rows, columns)})
    out = frame.groupby([rows, columns]).size().rename("incidents").reset_index()
    return out.astype({"incidents": "int64"})


def durations(incidents: pd.DataFrame, freq: str = "Q") -> pd.DataFrame:
    """TTD, TTM and TTR per period as distributions: measure, period, n, median, p90, p10, q1, q3, ...

    Negative durations (a milestone before the start: bad data) are left out rather than shown as zero.
    """
    if incidents.empty:
        return summarize(pd.DataFrame({"measure": [], "period": [], "minutes": []}), "minutes", ["measure", "period"])
    period = period_start(incidents["occurred_at"], freq)
    long = pd.concat(
        [
            pd.DataFrame({"measure": label, "period": period, "minutes": incidents[column]})
            for column, label in DURATION_MEASURES.items()
        ],
        ignore_index=True,
    )
    long = long[long["minutes"] >= 0]
    return summarize(long, "minutes", ["measure", "period"])


# Each query costs a BM25 pass (measured on 10k incidents: 0.7 s for 1, 2.9 s for 30), so the board asks
# for the latest few incidents that need a review, not for every incident in its filters.
SIMILAR_LATEST, SIMILAR_K = similar.LATEST, 3
# The teams owning each incident's actions ({where} narrows the incidents).
_TEAMS = (
    "(SELECT incident_id, list(DISTINCT team) FILTER (WHERE team IS NOT NULL) AS teams"
    " FROM v_action_status {where} GROUP BY incident_id)"
)


def load_similar(con: Connection) -> pd.DataFrame:
    """The SIMILAR_K earlier incidents most like each of the SIMILAR_LATEST latest incidents whose severity
    requires a review (``pir similar``), with the later incident's key, summary, url, severity, service,
    teams and time (``occurred_at``, which the filters read)."""
    latest = similar.latest_queries(con)
    found = similar.similar_to_many(con, latest, SIMILAR_K)
    # Only the latest incidents' own columns: load_incidents reads every incident's mode and durations.
    queries = con.execute(
        "SELECT i.issue_id AS query_id, i.summary AS query_summary, i.url AS query_url, i.severity AS query_severity,"
        " i.service AS query_service, t.teams AS query_teams, coalesce(i.started_at, i.created_at) AS query_occurred_at"
        f" FROM incidents AS i LEFT JOIN {_TEAMS.format(where='WHERE incident_id IN (SELECT unnest($ids))')} AS t"
        " ON t.incident_id = i.issue_id WHERE i.issue_id IN (SELECT unnest($ids))",
        {"ids": latest},
    ).df()
    out = found.merge(queries, on="query_id", how="inner")
    # The board's filters read the later incident's service, severity, teams and time.
    return out.assign(
        similar_service=out["service"],
        service=out["query_service"],
        severity=out["query_severity"],
        teams=out["query_teams"],
        occurred_at=out["query_occurred_at"],
        similar_occurred_at=out["occurred_at"],
    )

"""What needs leadership's attention now: the home page's list and the weekly digest's (``pir digest``).

Four sections, each line a sentence and the dashboard page (with its filters) that explains it:

- reviews at risk of missing a runbook deadline (a stage due within ``metrics.AT_RISK_HOURS`` or missed in the
  last 7 days, as the reviews board's "at risk now" table), one line per incident;
- overdue actions by team, with their owners (the actions board's overdue list), one line per team;
- failure modes that came back this quarter even though the earlier incident's prevent/detect actions were
  done (the failure-modes board's headline), one line per failure mode;
- regulator filings still open (runbook §4.4, the reviews board's compliance table), one line per incident.

Pure queries on a connection passed in, through the same ``metrics`` readers and rules the boards use, so
the home page, the boards and the digest count the same things.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from pirlib import durations, metrics
from pirlib.config import Settings
from pirlib.db import Connection
from pirlib.failure_modes import recurrence
from pirlib.ui import nav
from pirlib.ui.figures import STAGE_LABELS
from pirlib.values import clean_text

NO_TEAM = "no team"
UNASSIGNED = "unassigned"
OWNERS_NAMED = 5  # owners a team's line names; the rest are counted


@dataclass(frozen=True)
class Line:
    """One thing that needs attention: what (``text``, plain text, may hold Jira text) and where it is explained
    (``page`` with ``params``, the filters of the link)."""

    text: str
    page: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """The page and its filters (``nav.page_path``): ``actions.ipynb?team=SRE``."""
        grouped: dict[str, list[str]] = {}
        for key, value in self.params:
            grouped.setdefault(key, []).append(value)
        return nav.page_path(self.page, **grouped)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    empty: str  # what the section says when nothing needs attention
    lines: tuple[Line, ...] = ()
    total: int = 0  # things counted (a team's line counts several actions)


@dataclass(frozen=True)
class Attention:
    today: dt.date
    as_of: pd.Timestamp
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def count(self) -> int:
        return sum(len(s.lines) for s in self.sections)


def now(settings: Settings) -> pd.Timestamp:
    """The instant review clocks are read at: now, moved to ``settings.today`` when that is set (demo, tests)."""
    real = pd.Timestamp.now(tz="UTC")
    if settings.today is None:
        return real
    return real + (pd.Timestamp(settings.today) - pd.Timestamp(real.date()))


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


# The frames the attention list reads (the boards' own readers), by name.
LOADERS = {
    "review_stages": metrics.load_review_stages,
    "actions": metrics.load_open_actions,  # only open actions can be overdue
    "recurrences": recurrence.load_repeats_despite_fixes,
    "regulatory_followups": metrics.load_regulatory_followups,
}


def collect(con: Connection, today: dt.date, as_of: pd.Timestamp) -> Attention:
    """Every section, read through ``con`` (read-only is enough)."""
    return from_frames({name: read(con) for name, read in LOADERS.items()}, today, as_of)


def from_frames(frames: Mapping[str, pd.DataFrame], today: dt.date, as_of: pd.Timestamp) -> Attention:
    """Every section from the frames of ``LOADERS`` (the home page reads them in its board's one connection)."""
    stages = metrics.review_stage_states(frames["review_stages"], as_of)
    actions = metrics.action_states(frames["actions"], today)
    recurrences = recurrence.recurrences_within(frames["recurrences"])
    return Attention(
        today,
        as_of,
        (
            reviews_at_risk(stages, as_of),
            overdue_by_team(actions),
            repeats_this_quarter(recurrences, today),
            open_filings(frames["regulatory_followups"], today),
        ),
    )


def reviews_at_risk(stages: pd.DataFrame, as_of: pd.Timestamp) -> Section:
    rows = metrics.at_risk(stages, as_of)
    lines = []
    for key, stages_of in rows.groupby("key", sort=False):
        first = stages_of.iloc[0]
        clocks = "; ".join(
            f"{STAGE_LABELS.get(s, s)} {durations.deadline(dt.timedelta(hours=float(h)))}"
            for s, h in zip(stages_of["stage"], stages_of["hours_left"])
        )
        severity = f" ({first['severity']})" if clean_text(first["severity"]) else ""
        lines.append(
            Line(f"{key} {clean_text(first['summary'])}{severity}: {clocks}", "reviews", (("incident", str(key)),))
        )
    return Section(
        "reviews",
        f"Reviews at risk of missing a runbook deadline ({len(lines)})",
        "No review stage is due within a day or was missed this week.",
        tuple(lines),
        len(rows),
    )


def overdue_by_team(states: pd.DataFrame) -> Section:
    overdue = metrics.overdue_list(states)
    # Only the three columns the lines read: slicing every column of the overdue list per team costs more
    # than the rest of the home page's arithmetic.
    teams = pd.DataFrame(
        {
            "team": overdue["team"].fillna(NO_TEAM).astype(str),
            "owner": overdue["owner"].fillna(UNASSIGNED).astype(str),
            "days": overdue["days_overdue"],
        }
    )
    lines = []
    grouped = sorted(teams.groupby("team", sort=True), key=lambda item: -len(item[1]))
    for team, rows in grouped:
        n = len(rows)
        owners = Counter(rows["owner"])
        named = [f"{owner} ({k})" if k > 1 else owner for owner, k in owners.most_common(OWNERS_NAMED)]
        if len(owners) > OWNERS_NAMED:
            named.append(f"{len(owners) - OWNERS_NAMED} more")
        params = (("team", str(team)),) if team != NO_TEAM else ()
        lines.append(
            Line(
                f"{team}: {n} overdue action{'s' if n != 1 else ''}, the oldest {int(rows['days'].max())} days "
                f"past due; owners: {', '.join(named)}",
                "actions",
                params,
            )
        )
    return Section(
        "actions", f"Overdue actions by team ({len(overdue)})", "No action is overdue.", tuple(lines), len(overdue)
    )


def repeats_this_quarter(recurrences: pd.DataFrame, today: dt.date) -> Section:
    start = quarter_start(today)
    when = pd.to_datetime(recurrences["occurred_at"], utc=True).dt.date
    done = recurrences["prevent_detect_done_before"].fillna(False).astype(bool)
    rows = recurrences[done & when.notna() & (when >= start)]
    lines = []
    modes = rows.assign(failure_mode=rows["failure_mode"].fillna("(none)"))
    for mode, of_mode in modes.groupby("failure_mode", sort=True):
        of_mode = of_mode.sort_values("occurred_at")
        services = ", ".join(sorted({clean_text(s) or "(no service)" for s in of_mode["service"]}))
        keys = ", ".join(f"{k} after {p}" for k, p in zip(of_mode["key"], of_mode["previous_key"]))
        n = len(of_mode)
        params = (("failure_mode", mode),) if mode != "(none)" else ()
        lines.append(
            Line(
                f"{mode} came back {n} time{'s' if n != 1 else ''} on {services} although the earlier "
                f"incident's prevent/detect actions were done ({keys})",
                "failure_modes",
                (*params, ("from", start.isoformat())),
            )
        )
    return Section(
        "recurrences",
        f"Failure modes that came back this quarter despite completed actions ({len(rows)})",
        f"No failure mode came back since {start.isoformat()} after its prevent/detect actions were done.",
        tuple(lines),
        len(rows),
    )


def open_filings(filings: pd.DataFrame, today: dt.date) -> Section:
    rows = filings[filings["state"] == "open"]
    lines = []
    for row in rows.to_dict("records"):
        closed = pd.Timestamp(row["closed_at"]) if clean_text(row["closed_at"]) else None
        since = (
            f"closed {closed:%Y-%m-%d}, {(today - closed.date()).days} days without a filing"
            if closed is not None
            else "not closed yet"
        )
        severity = f" ({row['severity']})" if clean_text(row["severity"]) else ""
        lines.append(
            Line(
                f"{row['key']} {clean_text(row['summary'])}{severity}: regulator filing open, {since}",
                "reviews",
                (("incident", row["key"]),),
            )
        )
    return Section(
        "regulatory",
        f"Regulator filings still open ({len(rows)})",
        "Every regulatory incident's filing is recorded.",
        tuple(lines),
        len(rows),
    )

"""Recurrence: a failure mode that comes back on the same service, and whether the earlier incident's actions
were done before it did. ``load_recurrences`` reads the recurrences (``v_failure_mode_recurrence``),
``recurrences_within`` keeps those within the recurrence window with their outcome, and ``effectiveness`` says
how often a mode came back even after the earlier prevent/detect actions were done. The boards, the home page
and the digest all read recurrence here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pirlib.db import Connection

__all__ = [
    "Effectiveness",
    "effectiveness",
    "fix_outcome",
    "load_recurrences",
    "load_repeats_despite_fixes",
    "recurrences_within",
    "store_window",
]


def load_recurrences(con: Connection) -> pd.DataFrame:
    """Each incident whose failure mode had happened on the same service before (v_failure_mode_recurrence),
    with whether the earlier incident's actions were all done before this one started."""
    return _recurrences(con, "")


def load_repeats_despite_fixes(con: Connection) -> pd.DataFrame:
    """``load_recurrences`` narrowed to those within the window that came back although the earlier incident's
    prevent/detect actions were done (the home page's section; a few of thousands)."""
    return _recurrences(con, "WHERE r.within_window AND r.prevent_detect_done_before")


def _recurrences(con: Connection, where: str) -> pd.DataFrame:
    # SQL both stores speak (array_agg: DuckDB's list): the digest reads this from PostgreSQL in team mode.
    return con.execute(
        f"""
        SELECT r.incident_id, r.key, i.summary, r.service, r.failure_mode, r.severity, r.occurred_at,
               r.previous_key, r.previous_occurred_at, r.days_since_previous, r.within_window, r.window_days,
               r.previous_actions, r.previous_actions_done_before, r.previous_fixes_done,
               r.previous_prevent_detect, r.previous_prevent_detect_done_before, r.prevent_detect_done_before,
               i.url, t.teams
        FROM v_failure_mode_recurrence AS r
        JOIN incidents AS i ON i.issue_id = r.incident_id
        LEFT JOIN (SELECT incident_id, array_agg(DISTINCT team) FILTER (WHERE team IS NOT NULL) AS teams
                   FROM v_action_status GROUP BY incident_id) AS t USING (incident_id)
        {where}
        ORDER BY r.occurred_at, r.key
        """
    ).df()


def fix_outcome(recurrences: pd.DataFrame) -> pd.Series:
    """Per recurrence: "fixes done" (every earlier action done before it came back), "fixes not done",
    or "no actions" (the earlier incident had none)."""
    previous = recurrences["previous_actions"].fillna(0)
    fixed = recurrences["previous_fixes_done"].fillna(False).astype(bool)
    return pd.Series(
        np.where(previous == 0, "no actions", np.where(fixed, "fixes done", "fixes not done")),
        index=recurrences.index,
    )


def recurrences_within(recurrences: pd.DataFrame) -> pd.DataFrame:
    """Recurrences within the configured window (``within_window``, setting ``recurrence_window_days``) of
    the previous incident of the same mode on the same service, with ``outcome``."""
    rows = recurrences[recurrences["within_window"].fillna(False).astype(bool)]
    return rows.assign(outcome=fix_outcome(rows))


def store_window(con: Connection, days: int) -> None:
    """Write the configured recurrence window (``recurrence_window_days``) into ``recurrence_window``, which
    the recurrence views read (inside the caller's transaction; an unchanged window stays)."""
    con.execute("UPDATE recurrence_window SET days = ? WHERE days <> ?", [days, days])


@dataclass(frozen=True)
class Effectiveness:
    """Recurrences within the window: how many, how many after completed prevent/detect actions, how many
    where the earlier incident had no such action, and the days between as median / P90 / n."""

    window_days: int | None
    recurrences: int
    after_completed_actions: int
    without_prevent_detect: int
    days_median: float | None
    days_p90: float | None

    @property
    def window_words(self) -> str:
        return f"within {self.window_days} days" if self.window_days else "within the recurrence window"


def effectiveness(recurrences: pd.DataFrame) -> Effectiveness:
    """Summarise ``recurrences_within(...)`` rows (already limited to the window)."""
    window = int(recurrences["window_days"].iloc[0]) if not recurrences.empty else None
    done = recurrences["prevent_detect_done_before"].fillna(False).astype(bool)
    without = recurrences["previous_prevent_detect"].fillna(0) == 0
    gaps = recurrences["days_since_previous"].dropna()
    has_gaps = not gaps.empty
    return Effectiveness(
        window_days=window,
        recurrences=len(recurrences),
        after_completed_actions=int(done.sum()),
        without_prevent_detect=int(without.sum()),
        days_median=float(gaps.median()) if has_gaps else None,
        days_p90=float(gaps.quantile(0.9)) if has_gaps else None,
    )

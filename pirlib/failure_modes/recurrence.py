"""Action effectiveness over recurrences: did a failure mode come back even after the earlier incident's
prevent/detect actions were done? Pure functions over the frame of ``metrics.load_recurrences``."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from pirlib import metrics


def store_window(con: duckdb.DuckDBPyConnection, days: int) -> None:
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
    """Summarise ``metrics.recurrences_within(...)`` rows (already limited to the window)."""
    window = int(recurrences["window_days"].iloc[0]) if not recurrences.empty else None
    done = recurrences["prevent_detect_done_before"].fillna(False).astype(bool)
    without = recurrences["previous_prevent_detect"].fillna(0) == 0
    gaps = metrics.summarize(recurrences.assign(all="all"), "days_since_previous", ["all"])
    has_gaps = not gaps.empty
    return Effectiveness(
        window_days=window, recurrences=len(recurrences), after_completed_actions=int(done.sum()),
        without_prevent_detect=int(without.sum()),
        days_median=float(gaps["median"].iloc[0]) if has_gaps else None,
        days_p90=float(gaps["p90"].iloc[0]) if has_gaps else None,
    )  # fmt: skip

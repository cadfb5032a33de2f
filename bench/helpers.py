"""What every bench shares: timing a piece of work over several runs, judging it as a ratio to a floor timed
in the same run, and the large generated databases (10k incidents generated, 50k made by copying inside DuckDB).

A goal in seconds flips with the load of the machine it runs on; a goal as a ratio to a floor of the same
kind of work, timed in the same run and interleaved with it, does not: a burst of other work lands on both.
So every goal is a ``Goal`` (a limit on measured / floor), judged on the medians of ``Timing``s.

Environment: ``PIR_BENCH_RUNS`` (runs per timing; each bench has its default), ``PIR_BENCH_QUICK=1`` (smaller
sizes and fewer runs, for development: its verdicts judge small sizes against limits set at the full ones).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick() -> bool:
    """``PIR_BENCH_QUICK=1``: smaller sizes and fewer runs, for development."""
    return os.environ.get("PIR_BENCH_QUICK", "") not in ("", "0")


def runs(default: int, quick_runs: int = 1) -> int:
    """How many runs a timing takes: ``PIR_BENCH_RUNS`` when set, else ``quick_runs`` in quick mode, else ``default``."""
    if os.environ.get("PIR_BENCH_RUNS"):
        return max(1, int(os.environ["PIR_BENCH_RUNS"]))
    return quick_runs if quick() else default


def size(full: int, small: int) -> int:
    """A bench's problem size: ``small`` under ``PIR_BENCH_QUICK=1``, else ``full``."""
    return small if quick() else full


@dataclass
class Timing:
    """Seconds of several runs of one piece of work."""

    name: str
    seconds: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.seconds.append(seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)

    def __str__(self) -> str:
        if len(self.seconds) == 1:
            return f"{self.name}: {self.median:.3f} s (1 run)"
        return (
            f"{self.name}: median {self.median:.3f} s (min {self.min:.3f}, max {self.max:.3f}, "
            f"{len(self.seconds)} runs)"
        )


def clock(work: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of one call of ``work``, and what it returned."""
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def time_runs(name: str, work: Callable[[], object], n: int, *, warmup: int = 0) -> Timing:
    """``work`` run ``warmup`` times uncounted, then ``n`` times timed."""
    for _ in range(warmup):
        work()
    timing = Timing(name)
    for _ in range(n):
        timing.add(clock(work)[0])
    return timing


def interleaved(works: dict[str, Callable[[], object]], n: int, *, warmup: int = 0) -> dict[str, Timing]:
    """Each of ``works`` once per round, in order, for ``n`` rounds: the floor and what is judged against it
    see the same moments of the machine's load, which timing one after the other's n runs does not."""
    for _ in range(warmup):
        for work in works.values():
            work()
    timings = {name: Timing(name) for name in works}
    for _ in range(n):
        for name, work in works.items():
            timings[name].add(clock(work)[0])
    return timings


def run_process(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``command`` to completion (raising when it fails) and return its stdout."""
    return subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def import_floor() -> list[str]:
    """The least any pir command costs: this interpreter starting and importing DuckDB and pandas."""
    return [sys.executable, "-c", "import duckdb, pandas"]


@dataclass
class Verdict:
    goal: Goal
    measured: float
    floor: float
    ratio: float

    @property
    def passed(self) -> bool:
        return self.ratio <= self.goal.limit

    def line(self) -> str:
        def amount(value: float) -> str:
            return f"{value:.3f} s" if self.goal.unit == "s" else f"{value:,.4g} {self.goal.unit}"

        return (
            f"{'PASS' if self.passed else 'FAIL'} {self.goal.name}: {amount(self.measured)} = {self.ratio:.2f}x "
            f"{self.goal.floor} ({amount(self.floor)}); limit {self.goal.limit:g}x = "
            f"{amount(self.goal.limit * self.floor)} here"
        )


@dataclass(frozen=True)
class Goal:
    """``name`` passes when measured / floor <= ``limit``; ``floor`` names what the floor is."""

    name: str
    limit: float
    floor: str
    unit: str = "s"

    def judge(self, measured: float | Timing, floor: float | Timing) -> Verdict:
        """The verdict on two numbers, or on the medians of two timings."""
        value = measured.median if isinstance(measured, Timing) else float(measured)
        base = floor.median if isinstance(floor, Timing) else float(floor)
        if base <= 0:
            raise ValueError(f"{self.name}: the floor {self.floor!r} measured {base}, not a positive number")
        return Verdict(self, value, base, value / base)

    def judge_pairs(self, pairs: Iterable[tuple[float, float]]) -> Verdict:
        """The verdict on (floor, measured) pairs each timed one right after the other: the median of their
        ratios, which follows a load that changes between pairs better than the ratio of the two medians."""
        pairs = list(pairs)
        if not pairs or min(floor for floor, _ in pairs) <= 0:
            raise ValueError(f"{self.name}: no pairs, or a floor {self.floor!r} that is not a positive number")
        return Verdict(
            self,
            statistics.median(m for _, m in pairs),
            statistics.median(f for f, _ in pairs),
            statistics.median(m / f for f, m in pairs),
        )


class Report:
    """The verdicts of one bench: printed as they come, and its exit status (1 iff any goal failed)."""

    def __init__(self, indent: str = "   ") -> None:
        self.verdicts: list[Verdict] = []
        self.problems: list[str] = []
        self.indent = indent

    def note(self, text: str) -> None:
        print(f"{self.indent}{text}", flush=True)

    def timing(self, timing: Timing) -> None:
        self.note(str(timing))

    def check(self, goal: Goal, measured: float | Timing, floor: float | Timing) -> Verdict:
        return self.add(goal.judge(measured, floor))

    def add(self, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        self.note(verdict.line())
        return verdict

    def problem(self, text: str) -> None:
        """Something that kept a goal from being measured: the bench fails."""
        self.problems.append(text)
        self.note(f"FAIL {text}")

    @property
    def passed(self) -> bool:
        return not self.problems and all(v.passed for v in self.verdicts)

    def exit_code(self) -> int:
        failed = [v.goal.name for v in self.verdicts if not v.passed] + self.problems
        self.note(
            f"{'PASS' if self.passed else 'FAIL'}: {len(self.verdicts)} goals"
            + (f", failed: {'; '.join(failed)}" if failed else "")
        )
        return 0 if self.passed else 1


# --- large databases --------------------------------------------------------------------------------------

COPY_KEY_STRIDE = 1_000_000  # copy c of INC-123 is INC-<c * stride + 123>: above every generated number
# Columns holding an incident's or issue's id, and its Jira key, in the tables copied per incident.
ID_COLUMNS = ("issue_id", "incident_id", "event_id", "draft_id", "note_id", "artifact_id", "pushed_issue_id")
KEY_COLUMNS = ("key", "epic_key", "pushed_key")


def child_peak_mb(command: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``command`` to completion (raising when it fails) and return its peak RSS in MB."""
    process = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return usage.ru_maxrss / 1024


def generate_database(target: Path, n_incidents: int) -> float:
    """Generate a site of ``n_incidents`` (pirlib.sample) and load it into ``target`` as `pir demo` does, in a
    child process so that its memory is given back; return the child's peak RSS in MB."""
    code = (
        "import sys; from pathlib import Path; from pirlib import sample; from pirlib.config import Settings; "
        "from pirlib.demo import load_demo; out, n = Path(sys.argv[1]), int(sys.argv[2]); "
        "sample.write_sample(out.parent / (out.stem + '-site'), n_incidents=n); "
        "load_demo(Settings(db=out, sample_dir=out.parent / (out.stem + '-site')))"
    )
    peak = child_peak_mb([sys.executable, "-c", code, str(target), str(n_incidents)])
    shutil.rmtree(target.parent / (target.stem + "-site"))
    return peak


def replicate(path: Path, copies: int) -> None:
    """Add ``copies - 1`` copies of every incident, with everything that hangs off it, under new ids and keys,
    by INSERT ... SELECT inside DuckDB: memory does not grow with ``copies``."""
    from pirlib import db
    from pirlib.config import Settings

    with db.connect(Settings(db=path)) as con:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT DISTINCT table_name FROM duckdb_columns() WHERE column_name = 'incident_id' AND NOT internal "
                "AND table_name IN (SELECT table_name FROM duckdb_tables()) UNION SELECT 'incidents'"
            ).fetchall()
        ]
        for table in tables:
            columns = {
                name
                for (name,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
                ).fetchall()
            }
            for copy in range(1, copies):
                replaced = [f"'c{copy}-' || {c} AS {c}" for c in ID_COLUMNS if c in columns] + [
                    f"split_part({c}, '-', 1) || '-' || CAST(CAST(split_part({c}, '-', 2) AS BIGINT) "
                    f"+ {copy * COPY_KEY_STRIDE} AS VARCHAR) AS {c}"
                    for c in KEY_COLUMNS
                    if c in columns
                ]
                original = "incident_id" if "incident_id" in columns else "issue_id"
                con.execute(
                    f"INSERT INTO {table} SELECT * REPLACE ({', '.join(replaced)}) FROM {table} "
                    f"WHERE NOT starts_with({original}, 'c')"
                )


@dataclass
class BigDatabase:
    path: Path
    incidents: int
    seconds: float
    peak_mb: float  # the highest peak RSS of the generation and of the copying, each in its own process
    made: str  # "generated" or where the base database was copied from


def big_database(target: Path, n_incidents: int, *, base: int = 10_000, copy_of: Path | None = None) -> BigDatabase:
    """A database of ``n_incidents`` (a multiple of ``base``): ``base`` generated, the rest copies of those made
    inside DuckDB, so its peak memory is that of generating ``base`` whatever ``n_incidents`` is.
    ``copy_of`` (a database of ``base`` incidents this run made) or else ``PIR_BENCH_BIG=/path/to/base.duckdb``
    (a generated one kept from an earlier run) is copied instead of generating (never changed)."""
    if n_incidents % base:
        raise ValueError(f"{n_incidents} incidents is not a multiple of the generated {base}")
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    given = copy_of or os.environ.get("PIR_BENCH_BIG")
    if given and given != "skip":
        shutil.copyfile(given, target)
        peak, made = 0.0, f"copied from {given}"
    else:
        peak, made = generate_database(target, base), "generated"
    if n_incidents > base:
        code = (
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[3]); "
            "from bench.helpers import replicate; replicate(Path(sys.argv[1]), int(sys.argv[2]))"
        )
        copying = child_peak_mb([sys.executable, "-c", code, str(target), str(n_incidents // base), str(ROOT)])
        peak = max(peak, copying)
    from pirlib import db
    from pirlib.config import Settings

    with db.connect(Settings(db=target), read_only=True) as con:
        count = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
    return BigDatabase(target, count, time.perf_counter() - started, peak, made)

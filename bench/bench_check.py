"""`pir check` over every open review (issue 22): the whole command at 10k and 50k incidents against a floor.

Floor: `python -c 'import duckdb, pandas'`, the least any pir command costs, timed in the same run with the
same interpreter. Each round times the floor, then `pir check` on 10k, then on 50k, as whole processes;
the figures are medians over RUNS rounds (default 5), so a burst of other work on this shared machine
lands on both sides. Goal: `pir check` at 50k within 2 s, that is within GOAL_RATIO times the floor
(the floor was 0.44 s in the run that set the goal: 2 s / 0.44 s = 4.5); the bench exits 1 when it is missed.

The databases are a backlog: a generated site (pirlib.sample) loaded as `pir demo` loads it, then every
review unpublished, so that each closed Sev-0/Sev-1 incident (about a fifth of them) is an open review to
check: about 2,000 at 10k and 10,000 at 50k (as generated, only about one in seventeen is open). The 10k
site is generated in a child process (about 45 s and 3.5 GB at its peak); the 50k one is that database
plus four copies of each of its incidents with their events, actions and review rows under new ids and
keys, made by INSERT ... SELECT inside DuckDB, so memory stays that of the 10k generation whatever the size.
Set PIR_BENCH_BIG=/path/to/10k.duckdb to start from a generated 10k database instead (it is copied, never
changed).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pirlib import db  # noqa: E402
from pirlib.config import Settings  # noqa: E402

RUNS = int(os.environ.get("PIR_BENCH_RUNS", "5"))
GOAL_SECONDS = 2.0
GOAL_RATIO = 4.5
COPIES = 5  # 50k = the 10k site and four copies of it
KEY_STRIDE = 1_000_000  # copy c of INC-123 is INC-<c * KEY_STRIDE + 123>: above every generated number
FLOOR = [sys.executable, "-c", "import duckdb, pandas"]
# Columns holding an incident's or issue's id, and its Jira key, in the tables copied per incident.
ID_COLUMNS = ("issue_id", "incident_id", "event_id", "draft_id", "note_id", "artifact_id", "pushed_issue_id")
KEY_COLUMNS = ("key", "epic_key", "pushed_key")


def generate_10k(target: Path) -> None:
    """Generate and load the 10k site into ``target`` in a child process, so its memory is given back."""
    code = ("import sys; from pathlib import Path; from pirlib import sample; from pirlib.config import Settings; "
            "from pirlib.demo import load_demo; out = Path(sys.argv[1]); "
            "sample.write_sample(out.parent / 'sample10k', n_incidents=10_000); "
            "load_demo(Settings(db=out, sample_dir=out.parent / 'sample10k'))")  # fmt: skip
    subprocess.run([sys.executable, "-c", code, str(target)], check=True)
    shutil.rmtree(target.parent / "sample10k")


def replicate(path: Path, copies: int) -> None:
    """Add ``copies - 1`` copies of every incident, with what hangs off it, under new ids and keys."""
    with db.connect(Settings(db=path)) as con:
        tables = [name for (name,) in con.execute(
            "SELECT DISTINCT table_name FROM duckdb_columns() WHERE column_name = 'incident_id' AND NOT internal "
            "AND table_name IN (SELECT table_name FROM duckdb_tables()) UNION SELECT 'incidents'").fetchall()]  # fmt: skip
        for table in tables:
            columns = {name for (name,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]).fetchall()}  # fmt: skip
            for copy in range(1, copies):
                replaced = [f"'c{copy}-' || {c} AS {c}" for c in ID_COLUMNS if c in columns] + [
                    f"split_part({c}, '-', 1) || '-' || CAST(CAST(split_part({c}, '-', 2) AS BIGINT) "
                    f"+ {copy * KEY_STRIDE} AS VARCHAR) AS {c}" for c in KEY_COLUMNS if c in columns]  # fmt: skip
                original = "incident_id" if "incident_id" in columns else "issue_id"
                con.execute(f"INSERT INTO {table} SELECT * REPLACE ({', '.join(replaced)}) FROM {table} "
                            f"WHERE NOT starts_with({original}, 'c')")  # fmt: skip


def backlog(path: Path) -> int:
    """Unpublish every review; return the incidents and the reviews `pir check` will find open."""
    with db.connect(Settings(db=path)) as con:
        con.execute("UPDATE reviews SET published_at = NULL")
        return con.execute("SELECT count(*) FROM incidents").fetchone()[0]


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        small, big = workdir / "10k" / "pir.duckdb", workdir / "50k" / "pir.duckdb"
        small.parent.mkdir()
        big.parent.mkdir()
        started = time.perf_counter()
        if os.environ.get("PIR_BENCH_BIG"):
            shutil.copyfile(os.environ["PIR_BENCH_BIG"], small)
        else:
            generate_10k(small)
        shutil.copyfile(small, big)
        replicate(big, COPIES)
        sizes = {"10k": backlog(small), "50k": backlog(big)}
        print(f"   databases ready in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{label} = {n:,} incidents" for label, n in sizes.items()), flush=True)  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIR_")}
        commands = {label: ([sys.executable, "-m", "pirlib", "check"], {**env, "PIR_DB": str(path)})
                    for label, path in (("10k", small), ("50k", big))}  # fmt: skip
        for command, command_env in commands.values():  # warm the page cache; not counted
            timed(command, command_env)
        floors: list[float] = []
        times: dict[str, list[float]] = {label: [] for label in commands}
        checked: dict[str, str] = {}
        for _ in range(RUNS):
            floors.append(timed(FLOOR)[0])
            for label, (command, command_env) in commands.items():
                seconds, out = timed(command, command_env)
                times[label].append(seconds)
                checked[label] = out.splitlines()[-1]
    floor = statistics.median(floors)
    print(f"   floor `python -c 'import duckdb, pandas'`: {floor:.2f} s (median of {RUNS})")
    ratios = {}
    for label, runs in times.items():
        seconds = statistics.median(runs)
        ratios[label] = seconds / floor
        print(f"   pir check {label}: {seconds:.2f} s = {ratios[label]:.1f}x floor "
              f"(median of {RUNS}, min {min(runs):.2f} s); {checked[label]}")
    ok = ratios["50k"] <= GOAL_RATIO
    print(f"   goal 50k <= {GOAL_RATIO}x floor ({GOAL_SECONDS:g} s at the floor where it was set; "
          f"{GOAL_RATIO * floor:.2f} s here): {'PASS' if ok else 'FAIL'} at {ratios['50k']:.1f}x, "
          f"{statistics.median(times['50k']):.2f} s")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

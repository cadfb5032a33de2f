"""The bench harness itself (bench/helpers.py): medians, the ratio goals' verdicts, the exit status."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest
from support.fake_jira import FakeJira, FakeJiraProcess

from pirlib import sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ sits beside pirlib/, outside the package

from bench import bench_load, helpers  # noqa: E402


def test_timing_reports_median_min_and_max() -> None:
    timing = helpers.Timing("work", [3.0, 1.0, 10.0, 2.0])
    assert (timing.median, timing.min, timing.max) == (2.5, 1.0, 10.0)
    assert "median 2.500 s (min 1.000, max 10.000, 4 runs)" in str(timing)


def test_time_runs_counts_only_the_timed_runs() -> None:
    calls = []
    timing = helpers.time_runs("work", lambda: calls.append(1), 3, warmup=2)
    assert len(calls) == 5 and len(timing.seconds) == 3


def test_interleaved_runs_each_work_once_per_round() -> None:
    order: list[str] = []
    timings = helpers.interleaved({"floor": lambda: order.append("f"), "ours": lambda: order.append("o")}, 3)
    assert order == ["f", "o"] * 3
    assert [len(t.seconds) for t in timings.values()] == [3, 3]


def test_goal_judges_the_ratio_of_medians_not_the_seconds() -> None:
    goal = helpers.Goal("load", 6.0, "plain INSERT")
    # 12 s would miss a 10 s goal; against a floor of 2.5 s (median) it is 4.8x: a pass.
    verdict = goal.judge(helpers.Timing("load", [12.0, 11.0, 30.0]), helpers.Timing("plain", [2.5, 9.0, 1.0]))
    assert verdict.ratio == pytest.approx(12.0 / 2.5) and verdict.passed
    line = verdict.line()
    assert line.startswith("PASS load: 12.000 s = 4.80x plain INSERT (2.500 s); limit 6x = 15.000 s here")


def test_goal_fails_above_its_limit_and_passes_at_it() -> None:
    goal = helpers.Goal("check", 4.5, "import floor")
    assert not goal.judge(4.6, 1.0).passed
    assert goal.judge(4.5, 1.0).passed
    assert goal.judge(0.2, 1.0).line().startswith("PASS check: 0.200 s = 0.20x import floor (1.000 s)")


def test_goal_on_pairs_takes_the_median_of_the_ratios() -> None:
    # A load burst doubles both sides of the last pair: the pairs' ratios stay 2, 2, 2.
    verdict = helpers.Goal("board", 1.5, "empty notebook").judge_pairs([(1.0, 2.0), (1.5, 3.0), (4.0, 8.0)])
    assert verdict.ratio == 2.0 and (verdict.floor, verdict.measured) == (1.5, 3.0) and not verdict.passed
    with pytest.raises(ValueError):
        helpers.Goal("board", 1.5, "empty notebook").judge_pairs([])


def test_goal_in_other_units() -> None:
    line = helpers.Goal("requests", 1.1, "the minimum", unit="requests").judge(1_250, 1_000).line()
    assert line.startswith("FAIL requests: 1,250 requests = 1.25x the minimum (1,000 requests)")


def test_goal_refuses_a_floor_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="not a positive number"):
        helpers.Goal("x", 2.0, "empty").judge(1.0, 0.0)


def test_report_exit_status_is_one_iff_a_goal_fails(capsys: pytest.CaptureFixture[str]) -> None:
    report = helpers.Report()
    report.check(helpers.Goal("a", 2.0, "floor"), 1.0, 1.0)
    assert report.exit_code() == 0
    report.check(helpers.Goal("b", 2.0, "floor"), 3.0, 1.0)
    assert report.exit_code() == 1
    assert "FAIL: 2 goals, failed: b" in capsys.readouterr().out


def test_report_fails_on_a_problem_without_verdicts() -> None:
    report = helpers.Report()
    report.problem("the board did not load")
    assert report.exit_code() == 1


def test_quick_mode_and_runs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIR_BENCH_QUICK", raising=False)
    monkeypatch.delenv("PIR_BENCH_RUNS", raising=False)
    assert (helpers.size(50_000, 1_000), helpers.runs(5)) == (50_000, 5)
    monkeypatch.setenv("PIR_BENCH_QUICK", "1")
    assert (helpers.size(50_000, 1_000), helpers.runs(5)) == (1_000, 1)
    monkeypatch.setenv("PIR_BENCH_RUNS", "7")
    assert helpers.runs(5) == 7


def small_site(incidents: int) -> tuple[FakeJira, dict]:
    """A ``FakeJiraProcess`` factory: the generated site, and the child's pid as the fact it reports."""
    return FakeJira(sample.generate(5, incidents), flavour="cloud"), {"pid": os.getpid()}


def test_fake_jira_serves_from_its_own_process() -> None:
    from jira import JIRA

    with FakeJiraProcess("test_bench_helpers:small_site", incidents=20) as server:
        assert server.info["pid"] != os.getpid() and server.url.startswith("http://127.0.0.1:")
        creds = server.credentials()
        jira = JIRA(server.url, basic_auth=(creds["jira_email"], creds["jira_token"]))
        assert jira.search_issues("project = INC AND issuetype = Incident", maxResults=False)
        process = server.process
    assert process.poll() is not None  # the site stops with the context


@pytest.mark.slow
def test_big_database_copies_a_generated_site_inside_duckdb(tmp_path: Path) -> None:
    made = helpers.big_database(tmp_path / "big.duckdb", 600, base=200)
    assert made.incidents == 600 and made.peak_mb > 0 and made.made == "generated"
    with duckdb.connect(str(made.path), read_only=True) as con:
        keys, distinct = con.execute("SELECT count(key), count(DISTINCT key) FROM incidents").fetchone()
        events = con.execute("SELECT count(*), count(DISTINCT event_id) FROM incident_events").fetchone()
        orphans = con.execute(
            "SELECT count(*) FROM incident_events WHERE incident_id NOT IN (SELECT incident_id FROM incidents)"
        ).fetchone()[0]
    assert keys == distinct == 600
    assert events[0] == events[1] and events[0] % 3 == 0 and orphans == 0


def test_make_bench_exits_1_iff_a_bench_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    (tmp_path / "bench_good.py").write_text("raise SystemExit(0)\n")
    (tmp_path / "bench_missed.py").write_text("raise SystemExit(1)\n")
    assert main(["bench_good"], tmp_path) == 0
    assert main([], tmp_path) == 1
    assert "FAIL bench_missed" in capsys.readouterr().out


def test_plan_chunks_splits_the_last_chunks_worth_in_halves() -> None:
    def sizes_of(count: int) -> tuple[list[int], int | None]:
        spans, commit_every = bench_load.plan_chunks(count, 10)
        return [size for _, size in spans], commit_every

    assert sizes_of(0) == ([], None)
    assert sizes_of(10) == ([10], None)  # one chunk: one transaction with the actions
    assert sizes_of(11) == ([6, 5], 5)
    assert sizes_of(40) == ([10, 10, 10, 5, 5], 5)
    assert sizes_of(44) == ([10, 10, 10, 7, 7], 7)
    assert sizes_of(46) == ([10, 10, 10, 10, 3, 3], 3)
    for count in range(1, 200):
        spans, commit_every = bench_load.plan_chunks(count, 10)
        sizes = [size for _, size in spans]
        assert sum(sizes) == count and max(sizes) <= 10
        # the chunks follow each other without gaps or overlaps
        assert [start for start, _ in spans] == [sum(sizes[:n]) for n in range(len(sizes))]
        # every chunk holds at least commit_every incidents, so each is committed as soon as it is written
        assert commit_every is None or min(sizes) == commit_every

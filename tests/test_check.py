"""`pir check`: the review-quality report over the sample database, through the real command, on both stores."""

import datetime as dt
import os
import subprocess
import sys

import pytest
from support.stores import new_settings, pir_env

from pirlib import cli, db, demo, pg
from pirlib.config import Settings
from pirlib.review import actions, meeting, wrap_up
from pirlib.review.clock import candidates
from pirlib.review.session import ReviewSession
from pirlib.review.wrap_up import quality_report
from pirlib.timeline.milestones import set_milestone_override

pytestmark = pytest.mark.both_stores


@pytest.fixture(scope="module")
def built() -> dict[tuple[str, str], Settings]:
    """The demo databases of this module, by (kind, store): each is loaded once (about 5 s) per store."""
    return {}


@pytest.fixture
def sample_db(store, built, tmp_path_factory):
    if ("sample", store) not in built:
        built["sample", store] = new_settings(store, tmp_path_factory.mktemp("check"))
        demo.load_demo(built["sample", store])
    return built["sample", store]


def pir(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = pir_env(settings, PIR_TODAY="2026-11-01")
    return subprocess.run(
        [sys.executable, "-m", "pirlib", "check", *args], env=env, capture_output=True, text=True, timeout=120
    )


def open_reviews(settings: Settings) -> list:
    with db.connect(settings, read_only=True) as con:
        return candidates(con, settings)


def stage31_key(settings: Settings) -> str:
    return next(c.key for c in open_reviews(settings) if c.summary.startswith("Stage-31"))


def test_check_one_incident_lists_its_gaps(sample_db):
    key = stage31_key(sample_db)
    result = pir(sample_db, key.lower())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{key}: ") and lines[0].endswith("gaps")
    assert any("has no owner" in line for line in lines)
    assert any("no notes for 'What went wrong'" in line for line in lines)
    assert lines[-1] == "1 review checked, 1 with gaps"


def test_check_every_open_review_and_strict_exit(sample_db):
    result = pir(sample_db)
    assert result.returncode == 0
    count = len(open_reviews(sample_db))
    assert count > 1
    assert result.stdout.splitlines()[-1] == f"{count} reviews checked, {count} with gaps"
    assert pir(sample_db, "--strict").returncode == 3


def test_check_unknown_incident_is_one_line(sample_db):
    result = pir(sample_db, "INC-99999")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "pir: error: unknown incident 'INC-99999': no incident has that key or id; check it, or run `pir sync` "
        "(or `pir demo`) to load incidents first"
    ]


def test_check_never_creates_the_database(tmp_path):
    missing = Settings(db=tmp_path / "nothing" / "pir.duckdb")
    result = pir(missing, "INC-1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"pir: error: {missing.db} does not exist yet; run `pir init` (or `pir demo` for sample data)"
    ]
    assert not missing.db.exists() and not missing.db.parent.exists()


@pytest.mark.parametrize("one_incident", [False, True], ids=["every-open-review", "one-incident"])
def test_check_opens_one_connection_per_run(sample_db, monkeypatch, capsys, one_incident):
    for name in [n for n in os.environ if n.startswith("PIR_")]:
        monkeypatch.delenv(name)
    for name, value in pir_env(sample_db, PIR_TODAY="2026-11-01").items():
        monkeypatch.setenv(name, value)
    opened = []
    module, name = (pg, "connect") if sample_db.database_url else (db, "_open")
    real_open = getattr(module, name)

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(module, name, counting_open)
    args = [stage31_key(sample_db)] if one_incident else []
    expected = "1 review checked" if one_incident else f"{len(open_reviews(sample_db))} reviews checked"
    opened.clear()  # the lookups above do not count
    assert cli.main(["check", *args]) == 0
    assert len(opened) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith(expected)


@pytest.fixture
def backlog_db(store, built, tmp_path_factory):
    """The demo with every review unpublished (53 open, not 5), and drafts, notes, an override, hidden events
    and deleted actions on some of them, so that each kind of gap is both present and absent somewhere."""
    if ("backlog", store) not in built:
        built["backlog", store] = _backlog(
            new_settings(store, tmp_path_factory.mktemp("backlog"), today=dt.date(2026, 11, 1))
        )
    return built["backlog", store]


def _backlog(settings: Settings) -> Settings:
    demo.load_demo(settings)
    with db.connect(settings) as con:
        con.execute("UPDATE reviews SET published_at = NULL")
        reviews = candidates(con, settings)
        for n, review in enumerate(reviews[:12]):
            session = ReviewSession(con, settings, review.issue_id, review.key)
            actions.create_draft(
                session,
                summary=f"Add alert {n}",
                owner="Ann Lee" if n % 2 else None,
                success_metric=None if n % 3 else "page < 2 min",
            )
            for segment in meeting.SEGMENTS[: n % 7]:
                meeting.add_note(
                    session, segment.name, "said", tag="tooling_limit" if segment.name == "went_wrong" else None
                )
        con.execute("UPDATE incident_events SET hidden = true WHERE incident_id = ?", [reviews[1].issue_id])
        con.execute(
            "UPDATE incidents SET started_at = NULL WHERE issue_id IN (?, ?)",
            [reviews[1].issue_id, reviews[2].issue_id],
        )
        set_milestone_override(con, reviews[2].key, "started", "2026-10-30T10:00:00Z")
        con.execute("UPDATE actions SET deleted = true WHERE incident_id = ?", [reviews[-1].issue_id])
    return settings


class CountingConnection:
    """A connection that counts the statements run through it."""

    def __init__(self, con):
        self.con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


class CountingPgConnection(pg.PgConnection):
    """The same on PostgreSQL, where a module asks the connection's class which SQL to speak (db.dialect)."""

    def __init__(self, con):
        super().__init__(con.raw)
        self.statements = []

    def execute(self, sql, params=None):
        self.statements.append(sql)
        return super().execute(sql, params)


def test_checking_every_review_takes_a_fixed_number_of_queries(sample_db, backlog_db):
    counted = {}
    for label, settings in (("5 open", sample_db), ("53 open", backlog_db)):
        with db.connect(settings, read_only=True) as con:
            counting = CountingPgConnection(con) if db.dialect(con) == "postgres" else CountingConnection(con)
            report = quality_report(counting, settings)
            counted[label] = (len(report), len(counting.statements))
    assert counted["5 open"][0] == 5 and counted["53 open"][0] == 53
    assert counted["5 open"][1] == counted["53 open"][1] <= 6, counted


def test_every_review_checks_as_it_does_alone(backlog_db, monkeypatch):
    frozen = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(wrap_up, "now", lambda settings: frozen)
    with db.connect(backlog_db, read_only=True) as con:
        report = quality_report(con, backlog_db)
        alone = [quality_report(con, backlog_db, key)[0] for key, _ in report]
    assert report == alone
    gaps = [str(gap) for _, found in report for gap in found]
    for kind in (
        "milestones: started is missing",
        "' has no owner",
        "actions: no actions drafted",
        "notes: no notes for 'What went wrong'",
        "preparation: ",
    ):
        assert 0 < sum(1 for _, found in report if any(kind in str(g) for g in found)) < len(report), kind
    assert len(gaps) > 53

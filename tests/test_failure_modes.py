"""Failure modes: the YAML taxonomy, the classification rules and their precedence, the manual mode that
survives a sync, and the recurrence / action-effectiveness views on crafted data with known answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from support.stores import store_env
from test_sync import FakeJira, settings_for, sync_run

from pirlib import cli, configure, db, metrics, sample
from pirlib.config import Settings
from pirlib.errors import ConfigError, InputError
from pirlib.failure_modes import manual, recurrence, taxonomy
from pirlib.ui import boards

pytestmark = pytest.mark.both_stores

UTC = dt.UTC
TEAM_TAXONOMY = """\
version: 2024.1
fallback: Unclassified
modes:
  - mode: Bad deploy
    aliases: [Bad release]
    labels: [rollback]
    summary: [deploy]
  - mode: Network
    components: [edge-proxy]
    labels: [dns]
    summary: [DNS, unreachable, "partition*"]
  - mode: Unclassified
"""


def team_settings(settings: Settings, tmp_path: Path, text: str = TEAM_TAXONOMY) -> Settings:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text, encoding="utf-8")
    return settings.replace(failure_mode_taxonomy=path)


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(days=day)


def add_incidents(con, rows: list[dict]) -> None:
    defaults = {
        "labels": [],
        "components": [],
        "failure_mode": None,
        "summary": "",
        "service": "api",
        "severity": "Sev-1",
        "deleted": False,
    }
    frame = pd.DataFrame([{**defaults, **row, "key": f"INC-{row['issue_id']}"} for row in rows])
    frame["created_at"] = frame["started_at"] = [at(row.get("day", 0)) for row in rows]
    db.upsert_frame(con, "incidents", frame.drop(columns=[c for c in ("day",) if c in frame]), "issue_id")


def add_actions(con, rows: list[dict]) -> None:
    frame = pd.DataFrame([{"deleted": False, "key": f"ACT-{row['issue_id']}", **row} for row in rows])
    frame["resolved_at"] = [at(row["done_day"]) if row.get("done_day") is not None else None for row in rows]
    frame["status_category"] = ["done" if row.get("done_day") is not None else "indeterminate" for row in rows]
    db.upsert_frame(con, "actions", frame.drop(columns=["done_day"]), "issue_id")


def modes_of(con) -> dict[str, tuple[str, str, str]]:
    rows = con.execute(
        "SELECT incident_id, failure_mode, mode_source, mode_rule FROM v_incident_failure_modes"
    ).fetchall()
    return {incident: (mode, source, rule) for incident, mode, source, rule in rows}


# --- the taxonomy file -----------------------------------------------------------------------------------


def test_default_taxonomy_is_versioned_and_covers_the_common_modes():
    default = taxonomy.load()
    assert default.version == "1" and default.fallback == "Unknown"
    for mode in (
        "Bad deploy",
        "Config change",
        "Capacity",
        "Dependency failure",
        "Data corruption",
        "Expired certificate or secret",
        "Network",
        "Third party",
        "Human procedure",
        "Unknown",
    ):
        assert mode in default.names()
    ranks = default.rules_frame()
    assert list(ranks["rule_rank"]) == list(range(1, len(ranks) + 1))
    kinds = list(ranks["kind"])
    assert kinds == sorted(kinds, key=taxonomy.RULE_KINDS.index)  # labels, then components, then summaries


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 1\nmodes: [\n", "not valid YAML at line"),
        ("fallback: Unknown\nmodes:\n  - mode: Unknown\n", "`version` is missing"),
        ("version: 1\nfallback: Other\nmodes:\n  - mode: Unknown\n", "`fallback` 'Other' is not one of the modes"),
        ("version: 1\nfallback: A\nmodes:\n  - mode: A\n    summary: ['a*b']\n", "summary phrase 'a*b' must be words"),
        (
            "version: 1\nfallback: A\nmodes:\n  - mode: A\n    aliases: [X]\n  - mode: B\n    aliases: [x]\n",
            "'x' names both 'A' and 'B'",
        ),
        ("version: 1\nfallback: A\nmodes:\n  - mode: A\n    label: [x]\n", "unknown key 'label'"),
    ],
)
def test_a_malformed_team_file_is_one_clear_line(tmp_path, text, message):
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        taxonomy.load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_pir_init_refuses_a_bad_team_file_and_writes_nothing(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "team.yaml"
    bad.write_text("version: 1\nmodes: {}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIR_DB", str(tmp_path / "pir.duckdb"))
    monkeypatch.setenv("PIR_FAILURE_MODE_TAXONOMY", str(bad))
    assert cli.main(["init"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pir: error: ") and "`modes` must be a non-empty list" in err and "\n" not in err
    monkeypatch.setenv("PIR_FAILURE_MODE_TAXONOMY", str(tmp_path / "missing.yaml"))
    assert cli.main(["init"]) == 1
    assert "missing.yaml does not exist" in capsys.readouterr().err


def test_init_writes_the_team_taxonomy_and_the_window(settings, tmp_path, monkeypatch, capsys):
    configured = team_settings(settings, tmp_path).replace(recurrence_window_days=30)
    for name, value in store_env(configured).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PIR_FAILURE_MODE_TAXONOMY", str(configured.failure_mode_taxonomy))
    monkeypatch.setenv("PIR_RECURRENCE_WINDOW_DAYS", "30")
    assert cli.main(["init"]) == 0
    assert (
        f"failure-mode taxonomy version 2024.1, 3 modes, from {tmp_path / 'taxonomy.yaml'}" in capsys.readouterr().out
    )
    with db.connect(configured, read_only=True) as con:
        assert taxonomy.modes(con) == ["Bad deploy", "Network", "Unclassified"]
        assert con.execute("SELECT DISTINCT taxonomy_version, source FROM failure_mode_taxonomy").fetchall() == [
            ("2024.1", str(tmp_path / "taxonomy.yaml"))
        ]
        assert con.execute("SELECT mode FROM failure_mode_taxonomy WHERE is_fallback").fetchall() == [("Unclassified",)]
        assert con.execute("SELECT days FROM recurrence_window").fetchall() == [(30,)]
        row_ids = "SELECT CAST(rowid AS VARCHAR), mode FROM failure_mode_taxonomy ORDER BY position"
        if db.dialect(con) == "postgres":  # a row's place in the table: a rewritten row gets a new one
            row_ids = row_ids.replace("rowid", "ctid")
        stored = con.execute(row_ids).fetchall()
    with db.connect(configured, auto_migrate=False) as con:
        configure.apply(con, configured)  # unchanged: not rewritten
        assert con.execute(row_ids).fetchall() == stored
        configure.apply(con, configured.replace(failure_mode_taxonomy=None))  # another file: replaced
        assert taxonomy.modes(con)[-1] == "Unknown"


# --- classification ----------------------------------------------------------------------------------------


def test_classification_precedence_and_the_rule_that_set_each_mode(settings, tmp_path):
    configured = team_settings(settings, tmp_path)
    with configure.open_configured(configured) as con:
        add_incidents(
            con,
            [
                # the field wins over a label and a summary that point elsewhere
                {"issue_id": "1", "failure_mode": "Network", "labels": ["rollback"], "summary": "deploy broke it"},
                {"issue_id": "2", "failure_mode": " bad RELEASE "},  # an alias, case and spaces ignored
                {"issue_id": "3", "failure_mode": "Cosmic rays"},  # not in the taxonomy: the rules decide
                # no field: label before component before summary, whatever the mode order in the file
                {"issue_id": "4", "labels": ["DNS"], "components": ["edge-proxy"], "summary": "after deploy"},
                {"issue_id": "5", "components": ["Edge-Proxy"], "summary": "after deploy"},
                {"issue_id": "6", "summary": "Redeploy of search"},  # phrases match whole words only
                {"issue_id": "11", "summary": "Network-partitioned cluster"},  # a trailing * takes longer words
                {"issue_id": "7", "summary": "Search UNREACHABLE after deploy"},  # the file's first mode first
                {"issue_id": "8", "summary": "search unreachable"},
                {"issue_id": "9", "failure_mode": "  "},  # blank field: the rules decide
                {"issue_id": "10", "failure_mode": "Network", "deleted": True},
            ],
        )
        got = modes_of(con)
        says = dict(con.execute("SELECT incident_id, jira_says FROM v_incident_failure_modes").fetchall())
    # Jira's value shows only where it differs from the mode, and only as "Jira says ...".
    assert says["1"] is None and says["4"] is None
    assert says["2"] == 'Jira says "bad RELEASE"' and says["3"] == 'Jira says "Cosmic rays"'
    assert got["1"] == ("Network", "field", "Failure Mode field")
    assert got["2"] == ("Bad deploy", "field", 'Failure Mode field "bad RELEASE" (an alias of Bad deploy)')
    assert got["3"] == ("Unclassified", "fallback", "no field, label, component or summary rule matched")
    assert got["4"] == ("Network", "label", 'label "dns"')
    assert got["5"] == ("Network", "component", 'component "edge-proxy"')
    assert got["6"] == ("Unclassified", "fallback", "no field, label, component or summary rule matched")
    assert got["7"] == ("Bad deploy", "summary", 'summary has "deploy"')
    assert got["8"] == ("Network", "summary", 'summary has "unreachable"')
    assert got["11"] == ("Network", "summary", 'summary has "partition*"')
    assert got["9"][1] == "fallback"
    assert "10" not in got  # deleted in Jira


def test_summary_phrases_of_several_words_match_whole_and_in_rule_order(settings):
    # The view looks a phrase up by its first word, then checks the whole phrase (default taxonomy).
    with configure.open_configured(settings) as con:
        add_incidents(
            con,
            [
                {"issue_id": "1", "summary": "Pods ran out of memory"},
                {"issue_id": "2", "summary": "Pods ran out of disk"},  # first word only: no match
                {"issue_id": "3", "summary": "Duplicate records in the ledger"},  # "duplicate record*"
                {"issue_id": "4", "summary": "Duplicate payment record"},  # the words are not in sequence
                {"issue_id": "5", "summary": "Feature-flag flip"},  # "feature flag" is ranked before "flag"
                {"issue_id": "6", "summary": "", "labels": ["OOM", "oom"]},  # a label, in any case, twice
                {"issue_id": "7", "summary": None},
            ],
        )
        got = modes_of(con)
    assert got["1"] == ("Capacity", "summary", 'summary has "out of memory"')
    assert got["2"][1] == got["4"][1] == got["7"][1] == "fallback"
    assert got["3"] == ("Data corruption", "summary", 'summary has "duplicate record*"')
    assert got["5"] == ("Config change", "summary", 'summary has "feature flag"')
    assert got["6"] == ("Capacity", "label", 'label "oom"')


def test_sample_modes_come_from_the_field_with_aliases_mapped(settings):
    from pirlib import demo

    demo.load_demo(settings)
    with db.connect(settings, read_only=True) as con:
        sources = dict(con.execute("SELECT mode_source, count(*) FROM v_incident_failure_modes GROUP BY 1").fetchall())
        mapped = dict(
            con.execute(
                "SELECT DISTINCT field_value, failure_mode FROM v_incident_failure_modes WHERE field_value <> failure_mode"
            ).fetchall()
        )
        modes = taxonomy.modes(con)
    assert sources == {"field": 264}  # every one of the sample's 12 values is a mode or an alias
    assert mapped == {
        "Capacity exhaustion": "Capacity",
        "Dependency outage": "Dependency failure",
        "Certificate expiry": "Expired certificate or secret",
        "DNS misconfiguration": "Network",
        "Rate limiting": "Third party",
        "Database failover": "Dependency failure",
        "Cache stampede": "Capacity",
        "Feature flag misfire": "Config change",
        "Queue backlog": "Capacity",
    }
    assert set(sample.MODES) <= set(mapped) | set(modes)


# --- the manual mode -----------------------------------------------------------------------------------------


def test_manual_mode_is_checked_and_can_be_cleared(settings):
    with configure.open_configured(settings) as con:
        add_incidents(con, [{"issue_id": "1", "failure_mode": "Bad deploy"}])
        with pytest.raises(InputError, match="not in the taxonomy; pick one of: Bad deploy, Config change"):
            manual.set_mode(con, "1", "Gremlins")
        with pytest.raises(InputError, match="not in the database"):
            manual.set_mode(con, "404", "Network")
        manual.set_mode(con, "1", "Network", set_by="Zoë", note="the deploy was a red herring")
        row = manual.current(con, "1")
        assert (row["failure_mode"], row["mode_source"], row["mode_rule"]) == (
            "Network",
            "manual",
            "set by Zoë in the review",
        )
        assert row["field_value"] == "Bad deploy" and row["manual_note"] == "the deploy was a red herring"
        manual.clear_mode(con, "1")
        assert manual.current(con, "1")["mode_source"] == "field"


def test_manual_mode_survives_sync_and_full_sync(settings):
    site = sample.generate(31, 40)
    with FakeJira(site, flavour="datacenter") as server:
        settings = settings_for(server, settings)
        sync_run(settings)
        with db.connect(settings) as con:
            (incident_id,) = con.execute(
                "SELECT issue_id FROM incidents WHERE failure_mode <> 'Queue backlog' ORDER BY key LIMIT 1"
            ).fetchone()
            manual.set_mode(con, incident_id, "Human procedure", set_by="facilitator")
        # Jira changes the field and the summary: the sync rewrites the row, the manual mode stays.
        options = sample.OPTION_IDS["customfield_10011"]
        server.update_issue(
            incident_id,
            fields={
                "customfield_10011": {"value": "Queue backlog", "id": options["Queue backlog"]},
                "summary": "renamed in Jira",
            },
        )
        sync_run(settings)
        with db.connect(settings, read_only=True) as con:
            assert con.execute(
                "SELECT failure_mode, summary FROM incidents WHERE issue_id = ?", [incident_id]
            ).fetchone() == ("Queue backlog", "renamed in Jira")
            assert manual.current(con, incident_id)["failure_mode"] == "Human procedure"
        sync_run(settings, full=True)
        with db.connect(settings, read_only=True) as con:
            row = manual.current(con, incident_id)
    assert (row["failure_mode"], row["mode_source"], row["field_value"]) == (
        "Human procedure",
        "manual",
        "Queue backlog",
    )


# --- recurrence and action effectiveness ----------------------------------------------------------------------


def test_recurrence_outcomes_within_the_window():
    frame = pd.DataFrame(
        {
            "failure_mode": ["DNS", "DNS", "Cache", "Cache"],
            "within_window": [True, True, False, True],
            "previous_actions": [2, 1, 1, 0],
            "previous_fixes_done": [True, False, True, None],
        }
    )
    within = recurrence.recurrences_within(frame)
    assert list(within["outcome"]) == ["fixes done", "fixes not done", "no actions"]


def test_recurrence_and_effectiveness_on_crafted_data(settings, tmp_path):
    configured = team_settings(settings, tmp_path).replace(recurrence_window_days=30)
    with configure.open_configured(configured) as con:
        add_incidents(
            con,
            [
                {"issue_id": "a1", "failure_mode": "Bad deploy", "day": 0},
                {"issue_id": "a2", "failure_mode": "Bad deploy", "day": 20},  # 20 days: within 30
                {"issue_id": "a3", "failure_mode": "Bad deploy", "day": 70},  # 50 days: outside 30
                {"issue_id": "a4", "failure_mode": "Bad deploy", "day": 80},  # 10 days: within
                {"issue_id": "b1", "failure_mode": "Bad deploy", "service": "web", "day": 5},  # another service
                {"issue_id": "n1", "failure_mode": "Network", "day": 1},
                {"issue_id": "u1", "summary": "nothing matches", "day": 2},
                {"issue_id": "u2", "summary": "nothing matches", "day": 3},  # fallback modes do not recur
            ],
        )
        add_actions(
            con,
            [
                # a1's prevent/detect actions were both done before a2 started (day 20); the process one not
                {"issue_id": "x1", "incident_id": "a1", "action_type": "prevent", "done_day": 10},
                {"issue_id": "x2", "incident_id": "a1", "action_type": "detect", "done_day": 19},
                {"issue_id": "x3", "incident_id": "a1", "action_type": "process"},
                # a3's detect action was done only after a4 came back
                {"issue_id": "y1", "incident_id": "a3", "action_type": "detect", "done_day": 85},
            ],
        )
        rows = con.execute(
            "SELECT incident_id, previous_incident_id, round(days_since_previous), within_window, window_days,"
            " previous_actions, previous_actions_done_before, previous_fixes_done, previous_prevent_detect,"
            " previous_prevent_detect_done_before, prevent_detect_done_before"
            " FROM v_failure_mode_recurrence ORDER BY incident_id"
        ).fetchall()
        effectiveness = con.execute(
            "SELECT service, failure_mode, incidents, recurrences, repeats_after_completed_actions,"
            " repeats_without_prevent_detect, median_days_between FROM v_failure_mode_effectiveness"
            " ORDER BY service, failure_mode"
        ).fetchall()
    assert rows == [
        ("a2", "a1", 20, True, 30, 3, 2, False, 2, 2, True),
        ("a3", "a2", 50, False, 30, 0, 0, False, 0, 0, False),
        ("a4", "a3", 10, True, 30, 1, 0, False, 1, 0, False),
    ]
    assert effectiveness == [
        ("api", "Bad deploy", 4, 2, 1, 0, 15.0),
        ("api", "Network", 1, 0, 0, 0, None),
        ("web", "Bad deploy", 1, 0, 0, 0, None),
    ]
    if configured.database_url is not None:
        return  # boards read the read model `pir snapshot` makes from PostgreSQL, not the store itself
    # The failure-modes board's headline reads the same rows.
    board = boards.load_board("failure_modes", configured)
    headline = board.contents(metrics.Filters())[0]
    assert "1 of 2 (50%)" in headline and "within 30 days (n = 2 recurrences)" in headline
    assert "median 15 d, P90 19 d (n = 2)" in headline

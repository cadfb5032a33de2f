"""Sites shaped like real ones: no "Failure Mode" field, two fields named "Severity", severity as the system
``priority``. The sample site is served with a real site's field catalogue (Spring, JFrog or Mojang from
tests/fixtures/jira/public_jira_dataset_msr2022) by the fake Jira, as Data Center and as Cloud, and synced with the real `jira` package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.fake_jira import FakeJira, with_field_catalogue

from pirlib import db, sample
from pirlib.cli import main
from pirlib.config import Secret, Settings, load_settings
from pirlib.errors import ConfigError
from pirlib.jira_sync import client as jc
from pirlib.jira_sync import sync
from pirlib.jira_sync.fields import CLASSIFIED_WITHOUT_FIELD, resolve_fields

FAST = jc.RetryPolicy(base_delay=0.01, max_delay=0.05, connect_timeout=1.0, read_timeout=2.0)
PRIORITY_MAP = "Highest=Sev-0; High=Sev-1; Medium=Sev-2; Low=Sev-3; Lowest=Sev-3"


@pytest.fixture(scope="module")
def site() -> dict:
    return sample.generate(31, 30)


def _settings(server: FakeJira, path: Path, **changes: object) -> Settings:
    creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
    return Settings(db=path, jira_url=server.url, **{**creds, **changes})


def _env(server: FakeJira, path: Path) -> dict[str, str]:
    return {
        "PIR_DB": str(path),
        "PIR_JIRA_URL": server.url,
        **{f"PIR_{k.upper()}": v for k, v in server.credentials().items()},
    }


def _run(settings: Settings) -> sync.SyncResult:
    return sync.run(settings, progress=False, retry=FAST)


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], *args: str) -> int:
    for var in [v for v in os.environ if v.startswith("PIR_")]:
        monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(tmp_path)
    return main(list(args))


@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_a_site_without_failure_mode_syncs_and_says_what_classifies(
    site: dict, flavour: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with FakeJira(with_field_catalogue(site, "no_failure_mode"), flavour=flavour) as server:
        env = _env(server, tmp_path / "pir.duckdb")
        assert _cli(monkeypatch, tmp_path, env, "init") == 0
        init_out = capsys.readouterr().out
        assert _cli(monkeypatch, tmp_path, env, "sync") == 0
        sync_out = capsys.readouterr()
    print(f"--- {flavour} pir init\n{init_out}--- {flavour} pir sync\n{sync_out.out}")
    assert sync_out.err == ""
    for out in (init_out, sync_out.out):
        assert "Jira fields found: severity = 'Severity' (customfield_10010);" in out
        found, missing = (
            next(line for line in out.splitlines() if line.startswith(p))
            for p in ("Jira fields found:", "Jira fields not found:")
        )
        assert "failure mode" not in found
        assert missing.startswith("Jira fields not found: failure mode")
        assert out.count(CLASSIFIED_WITHOUT_FIELD) == 1
    assert "synced 30 incidents" in sync_out.out
    with db.connect(Settings(db=tmp_path / "pir.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM incidents WHERE failure_mode IS NOT NULL").fetchone()[0] == 0
        sources = dict(
            con.execute("SELECT mode_source, count(*) FROM v_incident_failure_modes GROUP BY ALL").fetchall()
        )
    assert "field" not in sources and sum(sources.values()) == 30
    assert sources.get("summary", 0) > 15  # the sample's summaries name what happened


def test_a_configured_failure_mode_field_the_site_lacks_stays_an_error(site: dict, tmp_path: Path) -> None:
    with FakeJira(with_field_catalogue(site, "no_failure_mode")) as server:
        for wanted in ("Failure Mode", "customfield_10011"):
            with pytest.raises(ConfigError, match=rf"^PIR_FAILURE_MODE_FIELD(={wanted})?: "):
                _run(_settings(server, tmp_path / "pir.duckdb", failure_mode_field=wanted))
        with db.connect(Settings(db=tmp_path / "pir.duckdb"), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0


def test_empty_failure_mode_field_means_none_even_where_the_site_has_one(site: dict, tmp_path: Path) -> None:
    with FakeJira(site) as server:
        result = _run(_settings(server, tmp_path / "pir.duckdb", failure_mode_field=""))
    assert CLASSIFIED_WITHOUT_FIELD in result.field_report
    with db.connect(Settings(db=tmp_path / "pir.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FILTER (failure_mode IS NOT NULL), count(*) FROM incidents").fetchone() == (
            0,
            30,
        )


@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_two_fields_named_severity_stop_the_sync_until_one_is_chosen(site: dict, flavour: str, tmp_path: Path) -> None:
    with FakeJira(with_field_catalogue(site, "two_severities"), flavour=flavour) as server:
        with pytest.raises(ConfigError) as caught:
            _run(_settings(server, tmp_path / "pir.duckdb"))
        assert str(caught.value) == (
            "PIR_SEVERITY_FIELD: 2 fields are named 'Severity' on this Jira site: customfield_10010 (select), "
            "customfield_10061 (select); set PIR_SEVERITY_FIELD=<one of these ids>, for example "
            "PIR_SEVERITY_FIELD=customfield_10010"
        )
        result = _run(_settings(server, tmp_path / "pir.duckdb", severity_field="customfield_10010"))
    assert result.incidents == 30
    assert "failure mode = 'Failure Mode' (customfield_10011)" in result.field_report[0]
    with db.connect(Settings(db=tmp_path / "pir.duckdb"), read_only=True) as con:
        severities = {r[0] for r in con.execute("SELECT DISTINCT severity FROM incidents").fetchall()}
    assert severities <= {"Sev-0", "Sev-1", "Sev-2", "Sev-3"} and len(severities) > 2


@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_severity_from_priority_is_mapped_to_levels(site: dict, flavour: str, tmp_path: Path) -> None:
    with FakeJira(with_field_catalogue(site, "priority_severity"), flavour=flavour) as server:
        with pytest.raises(ConfigError, match=r"^PIR_SEVERITY_FIELD=priority: .* set PIR_SEVERITY_MAP"):
            _run(_settings(server, tmp_path / "pir.duckdb", severity_field="priority"))
        with pytest.raises(ConfigError, match=r"^PIR_SEVERITY_FIELD: no field named 'Severity'"):
            _run(_settings(server, tmp_path / "pir.duckdb"))
        mapping = load_settings({"PIR_SEVERITY_MAP": PRIORITY_MAP}).severity_map
        result = _run(_settings(server, tmp_path / "pir.duckdb", severity_field="priority", severity_map=mapping))
    assert result.field_report[0].startswith(
        "Jira fields found: severity = 'Priority' (priority), mapped Highest=Sev-0, High=Sev-1,"
    )
    levels = {"Highest": "Sev-0", "High": "Sev-1", "Medium": "Sev-2", "Low": "Sev-3", "Lowest": "Sev-3"}
    with db.connect(Settings(db=tmp_path / "pir.duckdb"), read_only=True) as con:
        pairs = con.execute("SELECT priority, severity FROM incidents").fetchall()
        changes = con.execute(
            "SELECT from_value, to_value FROM incident_events WHERE kind = 'severity_change'"
        ).fetchall()
    assert len(pairs) == 30 and all(levels[p] == s for p, s in pairs)
    assert changes and all(v in levels.values() for pair in changes for v in pair)


def test_empty_failure_mode_setting_means_none_in_env_and_toml(tmp_path: Path) -> None:
    assert Settings().failure_mode_field is None
    assert load_settings({"PIR_FAILURE_MODE_FIELD": ""}).failure_mode_field == ""
    assert load_settings({"PIR_FAILURE_MODE_FIELD": "customfield_1"}).failure_mode_field == "customfield_1"
    assert load_settings({"PIR_SEVERITY_FIELD": ""}).severity_field == "Severity"  # other settings: unset
    toml = tmp_path / "pir.toml"
    toml.write_text('failure_mode_field = ""\nseverity_map = { Highest = "Sev-0", High = "Sev-1" }\n')
    settings = load_settings({}, toml)
    assert settings.failure_mode_field == "" and settings.severity_map == (("Highest", "Sev-0"), ("High", "Sev-1"))
    catalogue = [{"id": "customfield_10010", "name": "Severity"}, {"id": "customfield_10011", "name": "Failure Mode"}]
    assert resolve_fields(catalogue, settings).failure_mode is None
    assert resolve_fields(catalogue, Settings()).failure_mode == "customfield_10011"


def test_a_bad_severity_map_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^PIR_SEVERITY_MAP: expected 'Jira value=level; Jira value=level'"):
        load_settings({"PIR_SEVERITY_MAP": "Highest Sev-0"})


def test_init_without_jira_stays_offline_and_reports_no_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert _cli(monkeypatch, tmp_path, {"PIR_DB": str(tmp_path / "pir.duckdb")}, "init") == 0
    out = capsys.readouterr().out
    assert "initialised" in out and "Jira fields" not in out and "failure mode:" not in out


def test_init_with_jira_stops_on_a_field_problem_before_writing(
    site: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with FakeJira(with_field_catalogue(site, "two_severities")) as server:
        assert _cli(monkeypatch, tmp_path, _env(server, tmp_path / "pir.duckdb"), "init") == 1
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("pir: error: PIR_SEVERITY_FIELD: 2 fields are named 'Severity'")
    assert len(out.err.splitlines()) == 1
    assert not (tmp_path / "pir.duckdb").exists()

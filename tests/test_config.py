import dataclasses
import datetime as dt
import re
import types
import typing
from pathlib import Path

import pytest

from pirlib.config import LOCATIONS, SECRET_KEYS, SETTINGS, Settings, describe, load_settings, settings_markdown
from pirlib.errors import ConfigError
from pirlib.redact import MASK, redact

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_runbook_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={}, config_path=write(tmp_path / "pir.toml", ""))
    assert settings.facilitator_hours == 12
    assert (settings.artifacts_hours, settings.invites_hours, settings.agenda_hours) == (24, 24, 24)
    assert settings.publish_hours == 48
    assert settings.reminder_lead_days == 2
    assert settings.action_labels("stage31") == ["postmortem", "stage31"]
    assert settings.incident_jql == "project = INC AND issuetype = Incident"
    assert settings.db == tmp_path / "data" / "pir.duckdb"  # relative to the project folder
    assert settings.review_severities == ("Sev-0", "Sev-1")


def test_environment_overrides_toml_which_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = write(tmp_path / "pir.toml", 'publish_hours = 36\nfacilitator_hours = 6\ndb = "x.duckdb"\n')
    settings = load_settings(env={"PIR_PUBLISH_HOURS": "40"}, config_path=toml)
    assert settings.publish_hours == 40  # env wins
    assert settings.facilitator_hours == 6  # toml wins over default
    assert settings.artifacts_hours == 24  # default
    assert settings.db == tmp_path / "x.duckdb"


def test_pir_config_variable_names_the_file(tmp_path):
    toml = write(tmp_path / "elsewhere.toml", 'incident_jql = "project = OPS"\n')
    assert load_settings(env={"PIR_CONFIG": str(toml)}).incident_jql == "project = OPS"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PIR_PUBLISH_HOURS": "-4"}, "PIR_PUBLISH_HOURS: '-4' is out of range"),
        ({"PIR_FACILITATOR_HOURS": "soon"}, "PIR_FACILITATOR_HOURS: 'soon' is not a number"),
        ({"PIR_JIRA_URL": "jira.example.com"}, "PIR_JIRA_URL: 'jira.example.com' is not an http(s) URL"),
        ({"PIR_REMINDER_LEAD_DAYS": "1.5"}, "PIR_REMINDER_LEAD_DAYS: '1.5' is not a whole number"),
        ({"PIR_TODAY": "26/11/2026"}, "PIR_TODAY: '26/11/2026' is not a date; use YYYY-MM-DD"),
        ({"PIR_JIRA_TIMEZONE": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_environment_values_name_the_key_and_the_fix(tmp_path, env, message):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env, config_path=write(tmp_path / "pir.toml", ""))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_toml_key_is_named_with_the_valid_ones(tmp_path):
    toml = write(tmp_path / "pir.toml", "publish_hour = 48\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, config_path=toml)
    assert "unknown key 'publish_hour'" in str(err.value)
    assert "publish_hours" in str(err.value)


def test_negative_hours_in_toml(tmp_path):
    toml = write(tmp_path / "pir.toml", "agenda_hours = -1\n")
    with pytest.raises(ConfigError, match="agenda_hours: -1 is out of range"):
        load_settings(env={}, config_path=toml)


def test_broken_toml_names_the_file(tmp_path):
    toml = write(tmp_path / "pir.toml", "publish_hours = \n")
    with pytest.raises(ConfigError, match="pir.toml: not valid TOML"):
        load_settings(env={}, config_path=toml)


def test_secrets_are_refused_in_pir_toml(tmp_path):
    toml = write(tmp_path / "pir.toml", 'jira_token = "abcdefabcdef1234"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, config_path=toml)
    assert "jira_token is a secret and must not be in pir.toml" in str(err.value)
    assert "abcdefabcdef1234" not in str(err.value)


def test_secrets_file_and_secret_never_shown(tmp_path):
    secrets = write(tmp_path / "secrets.toml", 'jira_token = "tok-SECRET-123"\n')
    settings = load_settings(
        env={"PIR_SECRETS_FILE": str(secrets), "PIR_JIRA_EMAIL": "a@example.com"},
        config_path=write(tmp_path / "pir.toml", ""),
    )
    assert settings.jira_token.reveal() == "tok-SECRET-123"
    assert "tok-SECRET-123" not in repr(settings)
    assert "tok-SECRET-123" not in repr(settings.jira_token)


def test_secrets_file_takes_only_secrets(tmp_path):
    secrets = write(tmp_path / "secrets.toml", 'db = "x"\n')
    with pytest.raises(ConfigError, match="'db' is not a secret"):
        load_settings(env={"PIR_SECRETS_FILE": str(secrets)}, config_path=write(tmp_path / "pir.toml", ""))


def test_bad_webhook_url_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(
            env={"PIR_SLACK_WEBHOOK": "hooks.slack/T0/B0/xyzSECRET"}, config_path=write(tmp_path / "p.toml", "")
        )
    assert "xyzSECRET" not in str(err.value)


def test_token_needs_email(tmp_path):
    with pytest.raises(ConfigError, match="PIR_JIRA_EMAIL"):
        load_settings(env={"PIR_JIRA_TOKEN": "t0ken"}, config_path=write(tmp_path / "pir.toml", ""))


def test_list_and_date_settings(tmp_path):
    settings = load_settings(
        env={"PIR_REVIEW_SEVERITIES": "Sev-0, Sev-1, Sev-2", "PIR_TODAY": "2026-11-26"},
        config_path=write(tmp_path / "pir.toml", ""),
    )
    assert settings.review_severities == ("Sev-0", "Sev-1", "Sev-2")
    assert settings.current_date() == dt.date(2026, 11, 26)


def test_settings_object_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().db = Path("elsewhere")  # type: ignore[misc]


def test_publishing_secrets_stay_out_of_pir_toml_and_the_runbook_map_parses(tmp_path):
    for key in ("confluence_token", "confluence_pat", "status_webhook"):
        with pytest.raises(ConfigError, match=f"{key} is a secret and must not be in pir.toml"):
            load_settings(env={}, config_path=write(tmp_path / "pir.toml", f'{key} = "x"\n'))
    secrets = write(tmp_path / "secrets.toml", 'confluence_token = "t0ken"\n')
    settings = load_settings(
        env={"PIR_SECRETS_FILE": str(secrets), "PIR_CONFLUENCE_EMAIL": "bot@example.com"},
        config_path=write(tmp_path / "pir.toml", 'runbook_map = { change = ["deployment"] }\n'),
    )
    assert settings.confluence_token.reveal() == "t0ken" and "t0ken" not in repr(settings)
    assert settings.runbook_map == (("change", ("deployment",)),)
    assert settings.confluence_parent == "Reliability > Incidents"
    env = {"PIR_RUNBOOK_MAP": "change=deployment+incident; Data corruption=payments"}
    assert load_settings(env=env, config_path=write(tmp_path / "pir.toml", "")).runbook_map == (
        ("change", ("deployment", "incident")),
        ("Data corruption", ("payments",)),
    )
    with pytest.raises(ConfigError, match="PIR_RUNBOOK_MAP: expected 'mode=runbook"):
        load_settings(env={"PIR_RUNBOOK_MAP": "change"}, config_path=tmp_path / "pir.toml")
    with pytest.raises(ConfigError, match="PIR_CONFLUENCE_TOKEN is set without PIR_CONFLUENCE_EMAIL"):
        load_settings(env={"PIR_CONFLUENCE_TOKEN": "t"}, config_path=tmp_path / "pir.toml")


# --- one declaration: the Settings fields; help, docs and redaction derive from it ------------------------


def test_docs_settings_page_is_what_the_declaration_generates():
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_markdown(), (
        "docs/settings.md differs from the settings declared in pirlib/config.py; regenerate it with "
        "`.venv/bin/python -m pirlib.config > docs/settings.md`"
    )
    for setting in SETTINGS.values():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{setting.env}` |"))
        assert setting.help in row and (setting.default is None or f"`{setting.shown_default}`" in row)


def _admits(hint: object, value: object) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_admits(arg, value) for arg in typing.get_args(hint))
    if value is None:
        return hint is type(None)
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and isinstance(value, origin)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_default_reads_back_from_its_documented_text_and_fits_the_field_type(name):
    setting = SETTINGS[name]
    hint = typing.get_type_hints(Settings)[name]
    assert _admits(hint, setting.default), f"{name}: default {setting.default!r} is not a {hint}"
    assert getattr(Settings(), name) == setting.default
    if setting.default is not None:  # what the docs and `pir --help` show is what the default is
        parsed = setting.parse(setting.env, setting.shown_default)
        assert parsed == setting.default and _admits(hint, parsed)


def test_help_lists_every_setting_with_its_default_and_secrets_as_secret():
    lines = dict(describe())
    assert list(lines) == [s.env for s in SETTINGS.values()] + [variable for variable, _ in LOCATIONS]
    for setting in SETTINGS.values():
        text = lines[setting.env]
        assert text.startswith(setting.help)
        assert (f"(default: {setting.shown_default})" in text) == (setting.default is not None)
        assert ("(secret)" in text) == setting.secret


def test_every_secret_setting_is_masked_and_refused_in_pir_toml(tmp_path):
    assert {"jira_token", "jira_pat", "slack_webhook", "smtp_password", "digest_webhook"} <= SECRET_KEYS
    values = {name: f"https://hooks.example.com/services/{name}-s3cr3t" for name in SECRET_KEYS}
    values["database_url"] = "postgresql://pir:database_url-s3cr3t@db.example.com:5432/pir"
    settings = Settings(jira_email="a@example.com", confluence_email="a@example.com").replace(
        **{name: SETTINGS[name].parse(SETTINGS[name].env, value) for name, value in values.items()}
    )
    text = " ".join(values.values())
    assert redact(text, settings) == " ".join([MASK] * len(values))
    for name in SECRET_KEYS:
        assert values[name] not in repr(settings)
        with pytest.raises(ConfigError, match=f"{name} is a secret and must not be in pir.toml"):
            load_settings(env={}, config_path=write(tmp_path / "pir.toml", f'{name} = "x"\n'))


def test_database_url_is_checked_without_echoing_it_and_its_password_is_masked():
    with pytest.raises(ConfigError) as bad:
        load_settings(env={"PIR_DATABASE_URL": "mysql://pir:hunter2-pw@db/pir"}, config_path=None)
    assert "PIR_DATABASE_URL: not a PostgreSQL URL" in str(bad.value) and "hunter2" not in str(bad.value)
    settings = load_settings(env={"PIR_DATABASE_URL": "postgresql://pir:hunter2-pw@db:5432/pir"}, config_path=None)
    assert settings.database_url is not None and "hunter2" not in repr(settings)
    assert redact("FATAL: password hunter2-pw rejected", settings) == f"FATAL: password {MASK} rejected"


def test_documents_name_only_declared_variables():
    known = {s.env for s in SETTINGS.values()} | {variable for variable, _ in LOCATIONS}
    known |= {"PIR_BENCH_QUICK", "PIR_BENCH_STORE", "PIR_TEST_STORES"}  # read by bench/ and the tests, not settings
    # The Hub's own variables are declared where they are read: the deploy config and the dashboards service.
    for reader in (ROOT / "deploy" / "jupyterhub_config.py", ROOT / "pirlib" / "hub.py"):
        known |= set(re.findall(r"\bPIR_HUB_[A-Z_]*[A-Z]\b", reader.read_text(encoding="utf-8")))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        named = set(re.findall(r"\bPIR_[A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
        assert named <= known, f"{path.relative_to(ROOT)} names {sorted(named - known)}, which are not settings"

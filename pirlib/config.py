"""Settings: environment variables ``PIR_*`` over ``pir.toml`` over the defaults below.

Each setting is declared once, as a field of ``Settings`` (type, default, parser, help, secret or not);
``SETTINGS``, ``SECRET_KEYS``, `pir --help` (``describe``) and docs/settings.md (``settings_markdown``) are
derived from those fields.

Every key of ``pir.toml`` is the lower-case name of a setting (``db``, ``incident_jql``, ...); its
environment variable is ``PIR_`` plus the upper-case name. Secrets (tokens, webhook URLs, passwords) are
read from the environment or from a secrets file named by ``PIR_SECRETS_FILE`` that lives outside the
repository; ``pir.toml`` refuses them so that they never end up in git.

The project folder: ``PIR_HOME`` when set, else the nearest folder at or above the working directory that
holds ``pir.toml`` or ``data/pir.duckdb``, else the working directory. ``pir.toml`` is read from it, and
every relative path setting (``db``, ``published_dir``, ``sample_dir``, ``roadmap_path``, ...) resolves
against it, never against a Jupyter kernel's working directory (the notebook's folder). ``pir lab`` and
``pir serve`` pass it to their kernels as ``PIR_HOME``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pirlib.errors import ConfigError, PirError
from pirlib.files import read_text
from pirlib.values import as_date


class Secret(str):
    """A string that never shows itself in a repr, a log line or a traceback."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty text value, got {value!r}; set it to a string")
    return value.strip()


def _url(key: str, value: Any) -> str:
    text = _text(key, value)
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{key}: {text!r} is not an http(s) URL; set it like https://yourcompany.atlassian.net")
    return text.rstrip("/")


def _secret_url(key: str, value: Any) -> Secret:
    try:
        return Secret(_url(key, value))
    except ConfigError:
        # Never echo the value: a webhook URL is a credential.
        raise ConfigError(f"{key}: not an http(s) URL; set it to the full https://... address") from None


def _database_url(key: str, value: Any) -> Secret:
    """A PostgreSQL URL (team mode). Checked for its shape only; the error never echoes it: it may hold a password."""
    text = value.strip() if isinstance(value, str) else ""
    parsed = urlparse(text)
    if parsed.scheme not in ("postgresql", "postgres") or not (parsed.hostname or parsed.path.strip("/")):
        raise ConfigError(
            f"{key}: not a PostgreSQL URL; set it like postgresql://pir@db.example.com:5432/pir "
            "(the password in PGPASSWORD or ~/.pgpass), or unset it to use the DuckDB file"
        )
    return Secret(text)


def _secret(key: str, value: Any) -> Secret:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: empty secret; set it to the token, or unset it")
    return Secret(value.strip())


def _path(key: str, value: Any) -> Path:
    return Path(_text(key, value))


def _number(minimum: float, *, integer: bool = False) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        try:
            number = int(value) if integer else float(value)
        except (TypeError, ValueError):
            kind = "a whole number" if integer else "a number"
            raise ConfigError(f"{key}: {value!r} is not {kind}; set it to {kind} >= {minimum:g}") from None
        if isinstance(value, bool) or number < minimum:
            raise ConfigError(f"{key}: {value!r} is out of range; set it to a number >= {minimum:g}")
        return number

    return parse


def _hours(key: str, value: Any) -> float:
    hours = _number(0)(key, value)
    if hours == 0:
        raise ConfigError(f"{key}: must be more than 0 hours; the runbook's deadlines are 12, 24 and 48 hours")
    return hours


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}: {value!r} is not a boolean; set it to true or false")


def _names(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f'{key}: expected a list like ["Sev-0", "Sev-1"], got {value!r}')
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ConfigError(f"{key}: the list is empty; give at least one value")
    return names


def _date(key: str, value: Any) -> dt.date:
    try:
        return as_date(value)
    except ValueError:
        raise ConfigError(f"{key}: {value!r} is not a date; use YYYY-MM-DD") from None


def _pairs(key: str, text: str, shape: str) -> list[tuple[str, str]]:
    """``"a=b; c=d"`` as [(a, b), (c, d)], keys stripped; one error line naming ``shape`` otherwise."""
    pairs = [item.split("=", 1) for item in text.split(";") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ConfigError(f"{key}: expected '{shape}', got {text!r}")
    return [(name.strip(), value) for name, value in pairs]


def _runbook_map(key: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Failure mode or category -> runbooks: a TOML table, or ``"change=deployment+incident; data=payments"``.

    Kept as pairs, not a dict, so that Settings stays hashable."""
    if isinstance(value, str):
        value = {mode: books.split("+") for mode, books in _pairs(key, value, "mode=runbook+runbook; mode=runbook")}
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f'{key}: expected a table like {{ change = ["deployment"] }}, got {value!r}')
    return tuple((str(mode).strip(), _names(f"{key}.{mode}", books)) for mode, books in value.items())


def _field_or_none(key: str, value: Any) -> str:
    """A field id or name, or "" for "this site has none" (only the failure-mode field may be absent)."""
    if isinstance(value, str) and not value.strip():
        return ""
    return _text(key, value)


def _value_map(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """Jira value -> pir value: a TOML table, or ``"Highest=Sev-0; High=Sev-1"``; kept as pairs (hashable)."""
    if isinstance(value, str):
        value = dict(_pairs(key, value, "Jira value=level; Jira value=level"))
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f'{key}: expected a table like {{ Highest = "Sev-0", High = "Sev-1" }}, got {value!r}')
    mapped = tuple((str(k).strip(), _text(f"{key}.{k}", v)) for k, v in value.items())
    if any(not k for k, _ in mapped):
        raise ConfigError(f"{key}: a Jira value is empty; write it like Highest=Sev-0")
    return mapped


def _timezone(key: str, value: Any) -> str:
    text = _text(key, value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: unknown time zone {text!r}; use an IANA name like Europe/Berlin") from None
    return text


def _setting(default: Any, parse: Callable[[str, Any], Any], help: str, *, secret: bool = False) -> Any:
    """A field of ``Settings`` that declares a setting: its default, its parser, its help and whether it is a
    secret. Every other place a setting shows (``SETTINGS``, `pir --help`, docs/settings.md, the secrets
    that ``redact`` masks) is derived from these fields."""
    return field(default=default, repr=not secret, metadata={"parse": parse, "help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """The settings, each declared once as a field (name, type, default, parser, help, secret)."""

    db: Path = _setting(
        Path("data/pir.duckdb"), _path, "DuckDB file (team mode: the read model `pir snapshot` publishes for boards)"
    )
    database_url: Secret | None = _setting(
        None, _database_url, "team mode: PostgreSQL URL of the shared store (postgresql://user@host/db)", secret=True
    )
    jira_url: str | None = _setting(None, _url, "Jira base URL, e.g. https://yourcompany.atlassian.net")
    jira_email: str | None = _setting(None, _text, "Jira Cloud account e-mail (with jira_token)")
    jira_token: Secret | None = _setting(None, _secret, "Jira Cloud API token", secret=True)
    jira_pat: Secret | None = _setting(None, _secret, "Jira Data Center personal access token", secret=True)
    jira_timezone: str | None = _setting(None, _timezone, "time zone JQL dates are read in (default: the Jira user's)")
    incident_jql: str = _setting("project = INC AND issuetype = Incident", _text, "JQL that finds incidents")
    severity_field: str = _setting("Severity", _text, "severity field: id (customfield_10010) or unique name")
    failure_mode_field: str | None = _setting(
        None,
        _field_or_none,
        "failure mode field: id or unique name; empty: "
        "the site has none (default: the field named 'Failure Mode' when "
        "the site has one)",
    )
    severity_map: tuple[tuple[str, str], ...] | None = _setting(
        None,
        _value_map,
        "severity field values -> "
        "severity levels, e.g. 'Highest=Sev-0; High=Sev-1' "
        "(needed when PIR_SEVERITY_FIELD=priority)",
    )
    epic_link_field: str = _setting("Epic Link", _text, "Data Center Epic Link field: id or unique name")
    success_metric_field: str = _setting("Success Metric", _text, "action success metric field")
    verification_field: str = _setting("Verification Method", _text, "action verification method field")
    action_project: str = _setting("INC", _text, "project key new action issues go to")
    action_issue_type: str = _setting("Task", _text, "issue type of new action issues")
    review_severities: tuple[str, ...] = _setting(("Sev-0", "Sev-1"), _names, "severities that require a review")
    postmortem_label: str = _setting("postmortem", _text, "label every action carries, with the incident's own label")
    facilitator_hours: float = _setting(12.0, _hours, "facilitator assigned within, hours after closure")
    artifacts_hours: float = _setting(24.0, _hours, "artifacts collected within, hours after closure")
    invites_hours: float = _setting(24.0, _hours, "invite list sent within, hours after closure")
    agenda_hours: float = _setting(24.0, _hours, "agenda circulated within, hours after closure")
    publish_hours: float = _setting(48.0, _hours, "postmortem published within, hours after closure")
    action_horizon_days: int = _setting(
        90,
        _number(1, integer=True),
        "an action draft is SMART only when due "
        "within this many days of today (the Atlassian handbook uses 28 or 56 "
        "for priority actions)",
    )
    reminder_lead_days: int = _setting(2, _number(0, integer=True), "days before due date to remind")
    overdue_reminder_cap: int = _setting(5, _number(0, integer=True), "daily overdue nudges per action")
    slack_webhook: Secret | None = _setting(None, _secret_url, "Slack incoming webhook URL of reminders", secret=True)
    smtp_host: str | None = _setting(None, _text, "SMTP server for e-mail reminders")
    smtp_port: int = _setting(25, _number(1, integer=True), "SMTP port")
    smtp_user: str | None = _setting(None, _text, "SMTP user")
    smtp_password: Secret | None = _setting(None, _secret, "SMTP password", secret=True)
    smtp_from: str = _setting("pir@localhost", _text, "From address of reminder e-mails")
    smtp_starttls: bool = _setting(False, _boolean, "use STARTTLS")
    sync_overlap_minutes: int = _setting(10, _number(1, integer=True), "re-read window of incremental syncs")
    db_lock_timeout: float = _setting(
        30.0, _number(0), "seconds to wait for a DuckDB lock, a PostgreSQL connection or another pir snapshot"
    )
    published_dir: Path = _setting(Path("data/published"), _path, "where `pir publish` writes")
    sample_dir: Path = _setting(Path("data/sample"), _path, "generated sample Jira JSON")
    today: dt.date | None = _setting(None, _date, "pretend today is this date (demo, tests)")
    # publishing (runbook §4) and the roadmap (§5)
    publish_templates: Path | None = _setting(
        None, _path, "folder of templates that override pir's postmortem templates"
    )
    confluence_url: str | None = _setting(
        None, _url, "Confluence base URL (Cloud: https://yourcompany.atlassian.net/wiki)"
    )
    confluence_email: str | None = _setting(None, _text, "Confluence Cloud account e-mail (with confluence_token)")
    confluence_token: Secret | None = _setting(None, _secret, "Confluence Cloud API token", secret=True)
    confluence_pat: Secret | None = _setting(None, _secret, "Confluence Data Center personal access token", secret=True)
    confluence_space: str | None = _setting(None, _text, "space key postmortems are published in")
    confluence_parent: str = _setting("Reliability > Incidents", _text, "title path of the parent page")
    status_webhook: Secret | None = _setting(None, _secret_url, "Slack incoming webhook of #fixit-status", secret=True)
    status_cc: tuple[str, ...] | None = _setting(
        None, _names, "executive stakeholders cc'd on the status summary (e.g. @cto)"
    )
    customer_email_template: Path = _setting(
        Path("docs/support/templates/post_incident_email.md"), _path, "customer follow-up e-mail template"
    )
    customer_email_to: tuple[str, ...] | None = _setting(
        None, _names, "addresses the customer follow-up e-mail goes to"
    )
    roadmap_path: Path = _setting(Path("docs/performance/reliability-roadmap.md"), _path, "where `pir roadmap` writes")
    runbook_map: tuple[tuple[str, tuple[str, ...]], ...] | None = _setting(
        None,
        _runbook_map,
        "failure mode or category -> runbooks it touches, e.g. 'change=deployment+incident; data=payments'",
    )
    failure_mode_taxonomy: Path | None = _setting(
        None, _path, "team failure-mode taxonomy YAML (default: pir's own; format and rules in docs/schema.md)"
    )
    recurrence_window_days: int = _setting(
        90, _number(1, integer=True), "a failure mode recurs when the same service had it within this many days"
    )
    # the weekly leadership digest (`pir digest`)
    dashboard_url: str = _setting(
        "http://127.0.0.1:8866",
        _url,
        "the dashboards' address as readers reach them (the digest's links; a reverse proxy's URL in a team)",
    )
    digest_webhook: Secret | None = _setting(
        None, _secret_url, "Slack incoming webhook the weekly digest goes to", secret=True
    )
    digest_to: tuple[str, ...] | None = _setting(
        None, _names, "addresses the weekly digest is e-mailed to (with smtp_host)"
    )
    # The project folder relative paths were resolved against (None: built directly, paths as given).
    home: Path | None = None

    def action_labels(self, incident_label: str | None) -> list[str]:
        """Labels an action carries: the postmortem label plus the incident's own label."""
        return [self.postmortem_label] + ([incident_label] if incident_label else [])

    def current_date(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Setting:
    """One setting as its ``Settings`` field declares it."""

    name: str
    default: Any
    parse: Callable[[str, Any], Any]
    help: str
    secret: bool

    @property
    def env(self) -> str:
        return f"PIR_{self.name.upper()}"

    @property
    def shown_default(self) -> str:
        """The default as a person would write it in the environment or pir.toml ("" when there is none)."""
        return "" if self.default is None else _show(self.default)


SETTINGS: dict[str, Setting] = {
    f.name: Setting(f.name, f.default, f.metadata["parse"], f.metadata["help"], f.metadata["secret"])
    for f in dataclasses.fields(Settings)
    if "parse" in f.metadata
}
SECRET_KEYS = frozenset(name for name, setting in SETTINGS.items() if setting.secret)
PATH_KEYS = tuple(name for name, setting in SETTINGS.items() if setting.parse is _path)
# What makes a folder a pir project when no PIR_HOME says where it is.
PROJECT_MARKERS = ("pir.toml", "data/pir.duckdb")
# Variables that say where the settings come from; they are read from the environment only.
LOCATIONS: tuple[tuple[str, str], ...] = (
    (
        "PIR_HOME",
        "project folder relative paths resolve against (default: the nearest folder at or above the "
        "working directory holding pir.toml or data/pir.duckdb, else the working directory)",
    ),
    ("PIR_CONFIG", "the settings file to read (default: pir.toml in the project folder, when there is one)"),
    ("PIR_SECRETS_FILE", "a TOML file outside the repository that holds secrets (the only file they may be in)"),
)


def describe() -> list[tuple[str, str]]:
    """(environment variable, help with default) for every setting, then the variables in ``LOCATIONS``."""
    rows = []
    for setting in SETTINGS.values():
        notes = [f"default: {setting.shown_default}"] if setting.default is not None else []
        notes += ["secret"] if setting.secret else []
        rows.append((setting.env, setting.help + "".join(f" ({note})" for note in notes)))
    return rows + list(LOCATIONS)


def settings_markdown() -> str:
    """docs/settings.md: every setting as declared here (``python -m pirlib.config > docs/settings.md``)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# Settings",
        "",
        "<!-- Generated from pirlib/config.py: `python -m pirlib.config > docs/settings.md` (tests/test_config.py",
        "     fails while this file differs from what that prints). Do not edit by hand. -->",
        "",
        "Environment variables `PIR_*` override `pir.toml` in the project folder, which overrides the defaults.",
        "A key of `pir.toml` is the setting's lower-case name. Secrets come only from the environment or the",
        "file named by `PIR_SECRETS_FILE`; `pir.toml` refuses them. `pir --help` lists the same settings.",
        "",
        "| variable | pir.toml key | default | meaning |",
        "|---|---|---|---|",
    ]
    for setting in SETTINGS.values():
        key = "(secret)" if setting.secret else f"`{setting.name}`"
        default = f"`{cell(setting.shown_default)}`" if setting.default is not None else ""
        lines.append(f"| `{setting.env}` | {key} | {default} | {cell(setting.help)} |")
    lines += ["", "Where the settings come from (environment only):", "", "| variable | meaning |", "|---|---|"]
    lines += [f"| `{variable}` | {cell(text)} |" for variable, text in LOCATIONS]
    return "\n".join(lines) + "\n"


def find_project(env: Mapping[str, str] | None = None, start: Path | None = None) -> Path | None:
    """The project folder: ``PIR_HOME``, else the nearest folder at or above ``start`` (the working
    directory) holding one of ``PROJECT_MARKERS``; None when there is none."""
    env = os.environ if env is None else env
    if env.get("PIR_HOME"):
        home = Path(env["PIR_HOME"]).expanduser()
        if not home.is_dir():
            raise ConfigError(f"PIR_HOME: {home} is not a folder; set it to the pir project folder, or unset it")
        return home.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def _no_project(start: Path) -> ConfigError:
    return ConfigError(
        f"no pir project in {start} or a folder above it (no pir.toml or data/pir.duckdb); start from the "
        "project folder (`pir lab`, `pir serve`), or set PIR_HOME to it"
    )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        text = read_text(path, what)
    except PirError as exc:
        if not path.exists():
            raise ConfigError(f"{what} {path} does not exist; create it or unset the variable naming it") from None
        raise ConfigError(str(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _check_keys(values: Mapping[str, Any], path: Path, allowed: frozenset[str] | set[str]) -> None:
    for key in values:
        if key not in allowed:
            if key in SECRET_KEYS:
                raise ConfigError(
                    f"{path}: {key} is a secret and must not be in pir.toml; "
                    f"set PIR_{key.upper()} or put it in the file named by PIR_SECRETS_FILE"
                )
            raise ConfigError(f"{path}: unknown key {key!r}; remove it or use one of: {', '.join(sorted(allowed))}")


def load_settings(
    env: Mapping[str, str] | None = None, config_path: Path | str | None = None, *, require_project: bool = False
) -> Settings:
    """Build the Settings from defaults, then ``pir.toml``, then a secrets file, then ``PIR_*`` variables.

    ``pir.toml`` is read from ``config_path``, else ``PIR_CONFIG``, else the project folder's ``pir.toml``
    when it exists; relative paths resolve against the project folder (module notes). Without a project
    folder the working directory is one, unless ``require_project`` (a notebook, whose working directory is
    never meant as one) and no ``PIR_DB`` names the database: then ConfigError.
    """
    env = os.environ if env is None else env
    raw: dict[str, tuple[str, Any]] = {}
    home = find_project(env)
    if home is None:
        if require_project and not env.get("PIR_DB"):  # a database named outright is a project enough
            raise _no_project(Path.cwd())
        home = Path.cwd().resolve()

    toml_path = Path(config_path or env.get("PIR_CONFIG") or home / "pir.toml")
    if config_path or env.get("PIR_CONFIG") or toml_path.exists():
        values = _read_toml(toml_path, "config file")
        _check_keys(values, toml_path, set(SETTINGS) - SECRET_KEYS)
        raw.update({key: (f"{toml_path}: {key}", value) for key, value in values.items()})

    if env.get("PIR_SECRETS_FILE"):
        secrets_path = Path(env["PIR_SECRETS_FILE"])
        values = _read_toml(secrets_path, "secrets file")
        for key in values:
            if key not in SECRET_KEYS:
                raise ConfigError(
                    f"{secrets_path}: {key!r} is not a secret; the secrets file takes only "
                    f"{', '.join(sorted(SECRET_KEYS))} (put other settings in pir.toml)"
                )
        raw.update({key: (f"{secrets_path}: {key}", value) for key, value in values.items()})

    known_env = {setting.env: name for name, setting in SETTINGS.items()}
    for var, value in env.items():
        # An empty variable counts as unset, except for the failure-mode field, where it says "none".
        if var in known_env and (value != "" or var == "PIR_FAILURE_MODE_FIELD"):
            raw[known_env[var]] = (var, value)

    parsed = {name: SETTINGS[name].parse(label, value) for name, (label, value) in raw.items()}
    settings = Settings(**parsed)
    settings = settings.replace(
        home=home,
        **{
            name: home / getattr(settings, name)
            for name in PATH_KEYS
            if getattr(settings, name) is not None and not getattr(settings, name).is_absolute()
        },
    )
    if settings.jira_token and not settings.jira_email:
        raise ConfigError("PIR_JIRA_TOKEN is set without PIR_JIRA_EMAIL; Cloud API tokens need the account e-mail")
    if settings.confluence_token and not settings.confluence_email:
        raise ConfigError(
            "PIR_CONFLUENCE_TOKEN is set without PIR_CONFLUENCE_EMAIL; Cloud API tokens need the account e-mail"
        )
    return settings


if __name__ == "__main__":
    print(settings_markdown(), end="")

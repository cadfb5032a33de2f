"""Settings: environment variables ``PIR_*`` over ``pir.toml`` over the defaults below.

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
        raise ConfigError(
            f"{key}: {text!r} is not an http(s) URL; set it like https://yourcompany.atlassian.net"
        )
    return text.rstrip("/")


def _secret_url(key: str, value: Any) -> Secret:
    try:
        return Secret(_url(key, value))
    except ConfigError:
        # Never echo the value: a webhook URL is a credential.
        raise ConfigError(f"{key}: not an http(s) URL; set it to the full https://... address") from None


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
        raise ConfigError(f"{key}: expected a list like [\"Sev-0\", \"Sev-1\"], got {value!r}")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ConfigError(f"{key}: the list is empty; give at least one value")
    return names


def _date(key: str, value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
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
        raise ConfigError(f"{key}: expected a table like {{ change = [\"deployment\"] }}, got {value!r}")
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
        raise ConfigError(f"{key}: expected a table like {{ Highest = \"Sev-0\", High = \"Sev-1\" }}, got {value!r}")
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


@dataclass(frozen=True)
class _Spec:
    parse: Callable[[str, Any], Any]
    default: Any = None
    secret: bool = False
    help: str = ""


_SPECS: dict[str, _Spec] = {
    "db": _Spec(_path, Path("data/pir.duckdb"), help="DuckDB file"),
    "jira_url": _Spec(_url, None, help="Jira base URL"),
    "jira_email": _Spec(_text, None, help="Jira Cloud account e-mail (with jira_token)"),
    "jira_token": _Spec(_secret, None, secret=True, help="Jira Cloud API token"),
    "jira_pat": _Spec(_secret, None, secret=True, help="Jira Data Center personal access token"),
    "jira_timezone": _Spec(_timezone, None, help="time zone JQL dates are read in (default: the Jira user's)"),
    "incident_jql": _Spec(_text, "project = INC AND issuetype = Incident", help="JQL that finds incidents"),
    "severity_field": _Spec(_text, "Severity", help="severity field: id or unique name"),
    "failure_mode_field": _Spec(_field_or_none, None, help="failure mode field: id or unique name; empty: the "
                                "site has none (default: the field named 'Failure Mode' when the site has one)"),
    "severity_map": _Spec(_value_map, None, help="severity field values -> severity levels, e.g. "
                          "'Highest=Sev-0; High=Sev-1' (needed when PIR_SEVERITY_FIELD=priority)"),
    "epic_link_field": _Spec(_text, "Epic Link", help="Data Center Epic Link field: id or unique name"),
    "success_metric_field": _Spec(_text, "Success Metric", help="action success metric field"),
    "verification_field": _Spec(_text, "Verification Method", help="action verification method field"),
    "action_project": _Spec(_text, "INC", help="project key new action issues go to"),
    "action_issue_type": _Spec(_text, "Task", help="issue type of new action issues"),
    "review_severities": _Spec(_names, ("Sev-0", "Sev-1"), help="severities that require a review"),
    "postmortem_label": _Spec(_text, "postmortem", help="label every action carries"),
    "facilitator_hours": _Spec(_hours, 12.0, help="facilitator assigned within, hours after closure"),
    "artifacts_hours": _Spec(_hours, 24.0, help="artifacts collected within, hours"),
    "invites_hours": _Spec(_hours, 24.0, help="invite list sent within, hours"),
    "agenda_hours": _Spec(_hours, 24.0, help="agenda circulated within, hours"),
    "publish_hours": _Spec(_hours, 48.0, help="postmortem published within, hours"),
    "action_horizon_days": _Spec(_number(1, integer=True), 90, help="an action's due date lies within this many "
                                 "days of today (SMART's time-bound)"),
    "reminder_lead_days": _Spec(_number(0, integer=True), 2, help="days before due date to remind"),
    "overdue_reminder_cap": _Spec(_number(0, integer=True), 5, help="daily overdue nudges per action"),
    "slack_webhook": _Spec(_secret_url, None, secret=True, help="Slack incoming webhook URL"),
    "smtp_host": _Spec(_text, None, help="SMTP server for e-mail reminders"),
    "smtp_port": _Spec(_number(1, integer=True), 25, help="SMTP port"),
    "smtp_user": _Spec(_text, None, help="SMTP user"),
    "smtp_password": _Spec(_secret, None, secret=True, help="SMTP password"),
    "smtp_from": _Spec(_text, "pir@localhost", help="From address of reminder e-mails"),
    "smtp_starttls": _Spec(_boolean, False, help="use STARTTLS"),
    "sync_overlap_minutes": _Spec(_number(1, integer=True), 10, help="re-read window of incremental syncs"),
    "db_lock_timeout": _Spec(_number(0), 30.0, help="seconds to wait for a DuckDB lock"),
    "published_dir": _Spec(_path, Path("data/published"), help="where `pir publish` writes"),
    "sample_dir": _Spec(_path, Path("data/sample"), help="generated sample Jira JSON"),
    "today": _Spec(_date, None, help="pretend today is this date (demo, tests)"),
    # publishing (runbook §4) and the roadmap (§5)
    "publish_templates": _Spec(_path, None, help="folder of templates that override pir's postmortem templates"),
    "confluence_url": _Spec(_url, None, help="Confluence base URL (Cloud: https://yourcompany.atlassian.net/wiki)"),
    "confluence_email": _Spec(_text, None, help="Confluence Cloud account e-mail (with confluence_token)"),
    "confluence_token": _Spec(_secret, None, secret=True, help="Confluence Cloud API token"),
    "confluence_pat": _Spec(_secret, None, secret=True, help="Confluence Data Center personal access token"),
    "confluence_space": _Spec(_text, None, help="space key postmortems are published in"),
    "confluence_parent": _Spec(_text, "Reliability > Incidents", help="title path of the parent page"),
    "status_webhook": _Spec(_secret_url, None, secret=True, help="Slack incoming webhook of #fixit-status"),
    "status_cc": _Spec(_names, None, help="executive stakeholders cc'd on the status summary (e.g. @cto)"),
    "customer_email_template": _Spec(_path, Path("docs/support/templates/post_incident_email.md"),
                                     help="customer follow-up e-mail template"),
    "customer_email_to": _Spec(_names, None, help="addresses the customer follow-up e-mail goes to"),
    "roadmap_path": _Spec(_path, Path("docs/performance/reliability-roadmap.md"), help="where `pir roadmap` writes"),
    "runbook_map": _Spec(_runbook_map, None, help="failure mode or category -> runbooks it touches"),
    "failure_mode_taxonomy": _Spec(_path, None, help="team failure-mode taxonomy YAML (default: pir's own)"),
    "recurrence_window_days": _Spec(_number(1, integer=True), 90, help="a mode recurs within this many days"),
    # the weekly leadership digest (`pir digest`)
    "dashboard_url": _Spec(_url, "http://127.0.0.1:8866", help="the dashboards' address as readers reach them "
                           "(the digest's links)"),
    "digest_webhook": _Spec(_secret_url, None, secret=True, help="Slack incoming webhook the weekly digest goes to"),
    "digest_to": _Spec(_names, None, help="addresses the weekly digest is e-mailed to (with smtp_host)"),
}

SECRET_KEYS = frozenset(name for name, spec in _SPECS.items() if spec.secret)
PATH_KEYS = tuple(name for name, spec in _SPECS.items() if spec.parse is _path)
# What makes a folder a pir project when no PIR_HOME says where it is.
PROJECT_MARKERS = ("pir.toml", "data/pir.duckdb")


@dataclass(frozen=True)
class Settings:
    db: Path = _SPECS["db"].default
    jira_url: str | None = None
    jira_email: str | None = None
    jira_token: Secret | None = field(default=None, repr=False)
    jira_pat: Secret | None = field(default=None, repr=False)
    jira_timezone: str | None = None
    incident_jql: str = _SPECS["incident_jql"].default
    severity_field: str = "Severity"
    failure_mode_field: str | None = None  # None: "Failure Mode" if the site has it; "": none
    severity_map: tuple[tuple[str, str], ...] | None = None
    epic_link_field: str = "Epic Link"
    success_metric_field: str = "Success Metric"
    verification_field: str = "Verification Method"
    action_project: str = "INC"
    action_issue_type: str = "Task"
    review_severities: tuple[str, ...] = ("Sev-0", "Sev-1")
    postmortem_label: str = "postmortem"
    facilitator_hours: float = 12.0
    artifacts_hours: float = 24.0
    invites_hours: float = 24.0
    agenda_hours: float = 24.0
    publish_hours: float = 48.0
    action_horizon_days: int = 90
    reminder_lead_days: int = 2
    overdue_reminder_cap: int = 5
    slack_webhook: Secret | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: Secret | None = field(default=None, repr=False)
    smtp_from: str = "pir@localhost"
    smtp_starttls: bool = False
    sync_overlap_minutes: int = 10
    db_lock_timeout: float = 30.0
    published_dir: Path = Path("data/published")
    sample_dir: Path = Path("data/sample")
    today: dt.date | None = None
    publish_templates: Path | None = None
    confluence_url: str | None = None
    confluence_email: str | None = None
    confluence_token: Secret | None = field(default=None, repr=False)
    confluence_pat: Secret | None = field(default=None, repr=False)
    confluence_space: str | None = None
    confluence_parent: str = "Reliability > Incidents"
    status_webhook: Secret | None = field(default=None, repr=False)
    status_cc: tuple[str, ...] | None = None
    customer_email_template: Path = Path("docs/support/templates/post_incident_email.md")
    customer_email_to: tuple[str, ...] | None = None
    roadmap_path: Path = Path("docs/performance/reliability-roadmap.md")
    runbook_map: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    failure_mode_taxonomy: Path | None = None
    recurrence_window_days: int = 90
    dashboard_url: str = "http://127.0.0.1:8866"
    digest_webhook: Secret | None = field(default=None, repr=False)
    digest_to: tuple[str, ...] | None = None
    # The project folder relative paths were resolved against (None: built directly, paths as given).
    home: Path | None = None

    @property
    def stage_deadline_hours(self) -> dict[str, float]:
        """The runbook's deadlines, hours after incident closure, in the order of the runbook."""
        return {
            "facilitator_assigned": self.facilitator_hours,
            "artifacts_collected": self.artifacts_hours,
            "invites_sent": self.invites_hours,
            "agenda_circulated": self.agenda_hours,
            "published": self.publish_hours,
        }

    def action_labels(self, incident_label: str | None) -> list[str]:
        """Labels an action carries: the postmortem label plus the incident's own label."""
        return [self.postmortem_label] + ([incident_label] if incident_label else [])

    def current_date(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def describe() -> list[tuple[str, str, str]]:
    """(setting, environment variable, help with default) for every setting, for docs and --help."""
    rows = []
    for name, spec in _SPECS.items():
        default = "" if spec.default is None else f" (default: {_show(spec.default)})"
        rows.append((name, f"PIR_{name.upper()}", spec.help + default))
    rows.append(("home", "PIR_HOME", "project folder relative paths resolve against (default: the nearest folder "
                 "at or above the working directory holding pir.toml or data/pir.duckdb, else the working directory)"))
    return rows


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
            raise ConfigError(
                f"{path}: unknown key {key!r}; remove it or use one of: {', '.join(sorted(allowed))}"
            )


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
        _check_keys(values, toml_path, set(_SPECS) - SECRET_KEYS)
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

    known_env = {f"PIR_{name.upper()}": name for name in _SPECS}
    for var, value in env.items():
        # An empty variable counts as unset, except for the failure-mode field, where it says "none".
        if var in known_env and (value != "" or var == "PIR_FAILURE_MODE_FIELD"):
            raw[known_env[var]] = (var, value)

    parsed = {name: _SPECS[name].parse(label, value) for name, (label, value) in raw.items()}
    settings = Settings(**parsed)
    settings = settings.replace(home=home, **{
        name: home / getattr(settings, name) for name in PATH_KEYS
        if getattr(settings, name) is not None and not getattr(settings, name).is_absolute()
    })  # fmt: skip
    if settings.jira_token and not settings.jira_email:
        raise ConfigError("PIR_JIRA_TOKEN is set without PIR_JIRA_EMAIL; Cloud API tokens need the account e-mail")
    if settings.confluence_token and not settings.confluence_email:
        raise ConfigError(
            "PIR_CONFLUENCE_TOKEN is set without PIR_CONFLUENCE_EMAIL; Cloud API tokens need the account e-mail"
        )
    return settings

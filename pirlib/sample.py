"""A deterministic sample Jira site, written as the JSON Jira Data Center's REST API returns.

The demo and the tests load these files through the same transform as a live sync, so the shapes follow
Jira exactly (docs/jira-setup.md is the contract). Everything is drawn from one seeded ``random.Random``
and placed against the snapshot day ``as_of``, never the clock: one seed and one day give byte-identical
files. The site is a snapshot taken at midnight UTC starting ``as_of`` and covers the WINDOW_DAYS before it;
nothing in it happens later (due dates may lie after it). Only Stage-31, the runbook's own example, keeps its
historic dates (2025-09-05/06), whatever the day.

`pir demo` generates the site for today, so the boards show the present: the newest incidents are a day
old, a review has a stage due today (at risk, then late, as the day passes), an action falls due in
REMINDER_LEAD_DAYS, older ones are overdue (``_keep_promises``). Tests pin SNAPSHOT_DAY, the default, whose
files the golden files and most tests were written against.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pirlib.errors import InputError
from pirlib.files import write_all

DEFAULT_SEED = 31
BASE_URL = "https://jira.example.com"
UTC = dt.UTC
SNAPSHOT_DAY = dt.date(2026, 11, 1)  # the tests' day: the default of generate and write_sample
WINDOW_DAYS = 730
# Stage-31 was resolved at 01:12 UTC on 2025-09-06: a snapshot must come after it, its chat and its alerts
# (its review, its actions and its closure then happen as far as the day allows).
EARLIEST_DAY = dt.date(2025, 9, 7)
REMINDER_LEAD_DAYS = 2  # the runbook's reminder lead: an action due this many days after the snapshot
# The runbook's review deadlines, hours from closure, by the reviews.json column that records each stage.
REVIEW_DEADLINE_HOURS = {
    "facilitator_assigned_at": 12,
    "artifacts_collected_at": 24,
    "invites_sent_at": 24,
    "agenda_circulated_at": 24,
    "published_at": 48,
}
DAY, HOUR, MINUTE = dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(minutes=1)

SERVICES = {
    "payments-api": "Payments",
    "checkout-web": "Checkout",
    "search": "Search",
    "identity": "Identity",
    "notifications": "Messaging",
    "ledger": "Ledger",
    "mobile-gateway": "Mobile",
    "data-pipeline": "Data",
    "edge-proxy": "SRE",
    "fraud-scoring": "Payments",
}
TEAMS = ["Payments", "Checkout", "Search", "Identity", "Messaging", "Ledger", "Mobile", "Data", "SRE"]
FAILURE_MODES = [  # (mode, category, description)
    ("Bad deploy", "change", "A release shipped a defect to production."),
    ("Config change", "config", "A configuration push changed behaviour."),
    ("Capacity exhaustion", "capacity", "A resource ran out under load."),
    ("Dependency outage", "dependency", "A third-party or internal dependency failed."),
    ("Certificate expiry", "config", "A TLS certificate expired unnoticed."),
    ("Database failover", "infrastructure", "A database primary failed over."),
    ("Cache stampede", "capacity", "Many clients refilled a cold cache at once."),
    ("DNS misconfiguration", "config", "A DNS record pointed to the wrong place."),
    ("Feature flag misfire", "change", "A flag was enabled for the wrong audience."),
    ("Data corruption", "data", "Bad records were written and read back."),
    ("Queue backlog", "capacity", "Consumers fell behind producers."),
    ("Rate limiting", "dependency", "A rate limit throttled legitimate traffic."),
]
SUMMARIES = dict(
    zip(
        [mode for mode, *_ in FAILURE_MODES],
        [
            "{s} 5xx spike after deploy {v}",
            "{s} rejecting requests after config push",
            "{s} saturated: worker pool exhausted",
            "{s} degraded: upstream unavailable",
            "TLS certificate expired on {s} endpoint",
            "{s} write errors during database failover",
            "{s} latency spike after cache flush",
            "{s} unreachable: DNS record misconfigured",
            "Flag {s}-new-flow enabled for all users",
            "Corrupted records written by {s}",
            "{s} queue backlog: consumers lagging",
            "{s} throttled by upstream rate limiter",
        ],
    )
)
MODES = [mode for mode, *_ in FAILURE_MODES]
SEVERITIES = ["Sev-0", "Sev-1", "Sev-2", "Sev-3"]
SEVERITY_SHARE = [0.04, 0.16, 0.35]  # Sev-3 takes the rest
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
SEVERITY_PRIORITY = {"Sev-0": "Highest", "Sev-1": "High", "Sev-2": "Medium", "Sev-3": "Low"}
STATUSES = {
    "Open": ("1", "new"),
    "Investigating": ("10100", "indeterminate"),
    "Mitigated": ("10101", "indeterminate"),
    "Resolved": ("5", "done"),
    "Closed": ("6", "done"),
    "To Do": ("10000", "new"),
    "In Progress": ("3", "indeterminate"),
    "Done": ("10001", "done"),
}
CATEGORIES = {
    "new": ("2", "To Do", "blue-gray"),
    "indeterminate": ("4", "In Progress", "yellow"),
    "done": ("3", "Done", "green"),
}
ISSUE_TYPES = {
    "Incident": ("10100", "An unplanned interruption of a service."),
    "Epic": ("10000", "A big user story that needs to be broken down."),
    "Task": ("3", "A task that needs to be done."),
}
ACTION_TYPES = ["prevent", "detect", "mitigate", "process"]
SELECT_OPTIONS = {
    "customfield_10010": SEVERITIES,
    "customfield_10011": MODES,
    "customfield_10022": ACTION_TYPES,
    "customfield_10024": ["Yes", "No"],
    "customfield_10025": ["Required", "Not required"],
    "customfield_10027": TEAMS,
}
OPTION_IDS = {
    fid: {v: str(11000 + 100 * n + i) for i, v in enumerate(vals)}
    for n, (fid, vals) in enumerate(SELECT_OPTIONS.items())
}
CUSTOM_FIELDS = [  # (id, name, schema type, custom type, value kind)
    ("customfield_10010", "Severity", "option", "customfieldtypes:select"),
    ("customfield_10011", "Failure Mode", "option", "customfieldtypes:select"),
    ("customfield_10014", "Epic Link", "any", "com.pyxis.greenhopper.jira:gh-epic-link"),
    ("customfield_10015", "Epic Name", "string", "com.pyxis.greenhopper.jira:gh-epic-label"),
    ("customfield_10020", "Success Metric", "string", "customfieldtypes:textarea"),
    ("customfield_10021", "Verification Method", "string", "customfieldtypes:textarea"),
    ("customfield_10022", "Action Type", "option", "customfieldtypes:select"),
    ("customfield_10023", "Incident Commander", "user", "customfieldtypes:userpicker"),
    ("customfield_10024", "Customer Impact", "option", "customfieldtypes:select"),
    ("customfield_10025", "Regulatory Reporting", "option", "customfieldtypes:select"),
    ("customfield_10026", "Incident Start", "datetime", "customfieldtypes:datetime"),
    ("customfield_10027", "Team", "option", "customfieldtypes:select"),
    ("customfield_10100", "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint"),
    ("customfield_10106", "Story Points", "number", "customfieldtypes:float"),
]
SYSTEM_FIELDS = [  # (id, name, schema type, items, clause names, orderable, searchable)
    ("summary", "Summary", "string", None, ["summary"], True, True),
    ("description", "Description", "string", None, ["description"], True, True),
    ("environment", "Environment", "string", None, ["environment"], True, True),
    ("status", "Status", "status", None, ["status"], False, True),
    ("priority", "Priority", "priority", None, ["priority"], True, True),
    ("resolution", "Resolution", "resolution", None, ["resolution"], True, True),
    ("labels", "Labels", "array", "string", ["labels"], True, True),
    ("components", "Component/s", "array", "component", ["component"], True, True),
    ("assignee", "Assignee", "user", None, ["assignee"], True, True),
    ("reporter", "Reporter", "user", None, ["reporter"], True, True),
    ("creator", "Creator", "user", None, ["creator"], False, True),
    ("created", "Created", "datetime", None, ["created", "createdDate"], False, True),
    ("updated", "Updated", "datetime", None, ["updated", "updatedDate"], False, True),
    ("resolutiondate", "Resolved", "datetime", None, ["resolutiondate", "resolved"], False, True),
    ("lastViewed", "Last Viewed", "datetime", None, ["lastViewed"], False, False),
    ("duedate", "Due Date", "date", None, ["due", "duedate"], True, True),
    ("issuelinks", "Linked Issues", "array", "issuelinks", [], True, True),
    ("subtasks", "Sub-Tasks", "array", "issuelinks", ["subtasks"], False, False),
    ("comment", "Comment", "comments-page", None, ["comment"], True, True),
    ("issuetype", "Issue Type", "issuetype", None, ["issuetype", "type"], True, True),
    ("project", "Project", "project", None, ["project"], False, True),
    ("fixVersions", "Fix Version/s", "array", "version", ["fixVersion"], True, True),
    ("versions", "Affects Version/s", "array", "version", ["affectedVersion"], True, True),
    ("attachment", "Attachment", "array", "attachment", ["attachments"], True, True),
    ("watches", "Watchers", "watches", None, ["watchers"], False, False),
    ("votes", "Votes", "votes", None, ["votes"], False, False),
    ("security", "Security Level", "securitylevel", None, ["level"], True, True),
]
PEOPLE = [  # (display name, username, time zone, team)
    ("Zoë Müller", "zmuller", "Europe/Berlin", "SRE"),
    ("Łukasz Wójcik", "lwojcik", "Europe/Warsaw", "Payments"),
    ("José Núñez", "jnunez", "America/Los_Angeles", "Checkout"),
    ("Søren Østergaard", "sostergaard", "UTC", "Data"),
    ("山田 太郎", "tyamada", "Asia/Tokyo", "Mobile"),
    ("Priya Raghavan", "praghavan", "Asia/Kolkata", "Search"),
    ("Siobhán O'Brien", "sobrien", "UTC", "SRE"),
    ("Chloé Dubois", "cdubois", "UTC", "Identity"),
    ("Ngozi Okafor", "nokafor", "UTC", "Ledger"),
    ("Mei-Ling Chen", "mchen", "America/Los_Angeles", "SRE"),
    ("Björn Åkesson", "bakesson", "UTC", "Messaging"),
    ("Aarav Sharma", "asharma", "Asia/Kolkata", "Payments"),
    ("Fatima Zahra", "fzahra", "UTC", "Checkout"),
    ("Dmitri Volkov", "dvolkov", "UTC", "Data"),
    ("Emily Carter", "ecarter", "America/Los_Angeles", "Identity"),
    ("Kwame Mensah", "kmensah", "UTC", "SRE"),
    ("Ana Lúcia Souza", "asouza", "UTC", "Search"),
    ("Tomás Herrera", "therrera", "UTC", "Mobile"),
    ("Hannah Schmidt", "hschmidt", "Europe/Berlin", "Ledger"),
    ("Oliver Smith", "osmith", "UTC", "Messaging"),
    ("Yuki Tanaka", "ytanaka", "Asia/Tokyo", "SRE"),
    ("Rahul Iyer", "riyer", "Asia/Kolkata", "Data"),
    ("Grace Kim", "gkim", "America/Los_Angeles", "Checkout"),
    ("Mateo Rossi", "mrossi", "UTC", "Payments"),
    ("Ingrid Johansson", "ijohansson", "UTC", "Identity"),
    ("Liam O'Connor", "loconnor", "UTC", "Search"),
    ("Amara Nwosu", "anwosu", "UTC", "Ledger"),
    ("Chen Wei", "cwei", "UTC", "Mobile"),
    ("Sofia García", "sgarcia", "UTC", "Messaging"),
    ("Noah Williams", "nwilliams", "America/Los_Angeles", "SRE"),
    ("Élodie Laurent", "elaurent", "UTC", "Payments"),
    ("Jakub Nowak", "jnowak", "Europe/Warsaw", "Data"),
    ("Aisha Bello", "abello", "UTC", "Checkout"),
    ("Lars Nilsen", "lnilsen", "UTC", "Identity"),
    ("Deepa Menon", "dmenon", "Asia/Kolkata", "Search"),
    ("Ethan Brown", "ebrown", "UTC", "Ledger"),
    ("Marta Kowalska", "mkowalska", "Europe/Warsaw", "Mobile"),
    ("Hiroshi Sato", "hsato", "Asia/Tokyo", "Messaging"),
    ("Ruth Abebe", "rabebe", "UTC", "Payments"),
    ("Pat Legacy", "plegacy", "UTC", "SRE"),
]
# Text a real site has that pages and terminals must show as typed: non-ASCII, and characters HTML escapes
# (& < > quotes). Hostile strings (<script>, onerror, pre-escaped entities) belong in the tests' own
# fixtures, not in the demo leaders see. Five of them: the list's length steers the generator's random
# draws, which the rest of the sample depends on.
STRANGE_TEXT = [
    "p99 > 2 s & rising",
    "naïve café 🚨",
    "日本語のテキスト",
    "R&D tools & more",
    "O'Brien's \"quick\" fix <5 min",
]
ACTION_SUMMARIES = {
    "prevent": [
        "Add canary analysis gate to the {s} deploy pipeline",
        "Validate {s} config schema before push",
        "Automate certificate rotation for {s}",
        "Load-test {s} at 3x peak before each quarter",
    ],
    "detect": [
        "Alert on {s} error budget burn rate",
        "Add synthetic check for {s} critical path",
        "Page on {s} queue age above 5 minutes",
        "Dashboard for {s} dependency health",
    ],
    "mitigate": [
        "One-click rollback for {s}",
        "Circuit breaker around {s} upstream calls",
        "Runbook: failover procedure for {s}",
        "Kill switch for {s} feature flags",
    ],
    "process": [
        "Update incident comms template for {s}",
        "Add {s} to the change-freeze calendar",
        "Train on-call for {s} escalation path",
        "Review {s} ownership in the service catalogue",
    ],
}


def _ts(at: dt.datetime, zone: str = "UTC") -> str:
    """Jira's timestamp format, written in the author's zone (same instant, another offset)."""
    local = at.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def _iso(at: dt.datetime | None) -> str | None:
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z") if at else None


def _jitter(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A random instant between start and end, at millisecond precision (Jira's)."""
    span_ms = max(0, int((end - start).total_seconds() * 1000))
    return start + dt.timedelta(milliseconds=rng.randint(0, span_ms))


_History = tuple[dt.datetime, dict[str, Any], list[tuple[Any, ...]]]  # (when, author, changed items)


@dataclass
class _Issue:
    kind: str  # incident, epic, action
    created: dt.datetime
    summary: str
    reporter: dict[str, Any]
    seq: int  # creation order of the plan, a tie-breaker
    snapshot: dt.datetime  # the end of the issue's world: nothing about it is recorded later
    number: int = 0
    id: str = ""
    key: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    histories: list[_History] = field(default_factory=list)
    comments: list[tuple[dt.datetime, dict[str, Any], str, dt.datetime]] = field(default_factory=list)
    links: list[tuple[int, str, _Issue]] = field(default_factory=list)  # (link id, side, other issue)

    def change(self, at: dt.datetime, author: dict[str, Any], *items: tuple[Any, ...]) -> bool:
        """Record a changelog entry, unless it would happen after the snapshot (the end of the world)."""
        if at > self.snapshot:
            return False
        self.histories.append((at, author, list(items)))
        return True

    @property
    def label(self) -> str:
        return self.attrs.get("label") or f"inc{self.number}"


def _users(rng: random.Random) -> list[dict[str, Any]]:
    users = []
    for n, (display, name, zone, team) in enumerate(PEOPLE):
        # Older Data Center accounts keep key == name; newer ones get JIRAUSERnnnnn (Jira 8.4+).
        key = name if n % 3 else f"JIRAUSER{10100 + n}"
        users.append(
            {
                "name": name,
                "key": key,
                "accountId": f"{rng.getrandbits(96):024x}",
                "displayName": display,
                "emailAddress": f"{name}@example.com",
                "timeZone": zone,
                "active": name != "plegacy",
                "self": f"{BASE_URL}/rest/api/2/user?username={name}",
                "avatarUrls": {"48x48": f"{BASE_URL}/secure/useravatar?ownerId={key}&avatarId={10300 + n}"},
                "team": team,  # dropped from the Jira JSON, used to pick owners
            }
        )
    return users


def _public(user: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if user is None else {k: v for k, v in user.items() if k != "team"}


def _team(users: list[dict[str, Any]], team: str) -> list[dict[str, Any]]:
    return [u for u in users if u["team"] == team and u["active"]]


def _plan_incidents(rng: random.Random, users: list[dict[str, Any]], n: int, snapshot: dt.datetime) -> list[_Issue]:
    counts = [round(n * share) for share in SEVERITY_SHARE]
    severities = [sev for sev, c in zip(SEVERITIES, counts + [n - sum(counts)]) for _ in range(c)]
    rng.shuffle(severities)
    if "Sev-1" in severities:  # Stage-31 takes one of the Sev-1 slots
        severities.remove("Sev-1")
    window_start = snapshot - WINDOW_DAYS * DAY
    span = (snapshot - window_start).total_seconds()
    starts = sorted(window_start + dt.timedelta(seconds=rng.uniform(0, span - 8 * 3600)) for _ in severities)
    services, weights = list(SERVICES), [rng.uniform(0.5, 2.0) for _ in SERVICES]
    mode_weights = [rng.uniform(0.5, 2.0) for _ in MODES]  # uneven, so some pairs recur by themselves
    incidents = []
    for seq, (sev, start) in enumerate(zip(severities, starts)):
        service = rng.choices(services, weights)[0]
        mode = rng.choices(MODES, mode_weights)[0]
        incidents.append(_incident(rng, users, seq, sev, service, mode, start, snapshot))
    # The newest incidents: two urgent ones closed a day ago (their reviews are in progress) and three
    # others still open.
    urgent = [i for i in incidents if i.attrs["severity"] in ("Sev-0", "Sev-1")][-2:]
    for old in urgent:
        a = old.attrs
        start = snapshot - dt.timedelta(hours=rng.uniform(28, 40))
        incidents[old.seq] = _incident(
            rng, users, old.seq, a["severity"], a["service"], a["mode"], start, snapshot, quick=True
        )
    for n, inc in enumerate([i for i in incidents if i.attrs["severity"] in ("Sev-2", "Sev-3")][-3:]):
        inc.attrs["resolved"] = snapshot + DAY
        if n == 2:
            inc.attrs["mitigated"] = snapshot + HOUR  # the newest one is still being investigated
    stage31 = _incident(
        rng,
        users,
        len(incidents),
        "Sev-1",
        "payments-api",
        "Bad deploy",
        dt.datetime(2025, 9, 5, 13, 38, 12, 418000, tzinfo=UTC),
        snapshot,
        stage31=True,
    )
    incidents.append(stage31)
    incidents.sort(key=lambda i: (i.attrs["started"], i.seq))
    return incidents


def _incident(
    rng: random.Random,
    users: list[dict[str, Any]],
    seq: int,
    sev: str,
    service: str,
    mode: str,
    started: dt.datetime,
    snapshot: dt.datetime,
    stage31: bool = False,
    quick: bool = False,
) -> _Issue:
    urgent = sev in ("Sev-0", "Sev-1")
    created = started + (
        dt.timedelta(minutes=rng.uniform(2, 25)) if urgent else dt.timedelta(minutes=rng.uniform(5, 360))
    )
    investigating = created + dt.timedelta(minutes=rng.uniform(1, 15))
    mitigated = started + (
        dt.timedelta(minutes=rng.uniform(20, 360)) if urgent else dt.timedelta(minutes=rng.uniform(30, 2880))
    )
    mitigated = max(mitigated, investigating + 5 * MINUTE)
    resolved = mitigated + dt.timedelta(minutes=rng.uniform(30, 4320))
    if quick:
        mitigated = investigating + dt.timedelta(minutes=rng.uniform(30, 90))
        resolved = mitigated + dt.timedelta(minutes=rng.uniform(30, 90))
    elif started > snapshot - 7 * DAY and rng.random() < 0.7:
        resolved += 10 * DAY  # recent incidents are often still open at the snapshot
    # The commander is on the SRE rota for urgent incidents, else the owning team's on-call.
    commander = rng.choice(_team(users, "SRE" if urgent else SERVICES[service]))
    responders = [u for u in rng.sample(_team(users, SERVICES[service]), 3) if u is not commander][:2]
    responders += [u for u in rng.sample(_team(users, "SRE"), 3) if u is not commander][:2]
    version = f"v{rng.randint(2, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
    summary = SUMMARIES[mode].format(s=service, v=version)
    attrs: dict[str, Any] = {
        "severity": sev,
        "service": service,
        "mode": mode,
        "started": started,
        "investigating": investigating,
        "mitigated": mitigated,
        "resolved": resolved,
        "closed": resolved + dt.timedelta(hours=rng.uniform(20, 240)),
        "commander": commander,
        "responders": responders,
        "customer_impact": urgent or rng.random() < 0.3,
        "regulatory": service in ("payments-api", "ledger") and urgent and rng.random() < 0.6,
        "assigned_at_start": rng.random() < 0.5,
        "sev_changed": rng.random() < 0.25,
        "prio_changed": rng.random() < 0.2,
        "handoff": rng.random() < 0.35,
        "version": version,
    }
    reporter = rng.choice(users[:-1])
    if stage31:
        summary = "Stage-31: payments-api 5xx spike during staged rollout of " + version
        reporter = next(u for u in users if u["name"] == "jnunez")  # a -0700 reporter: dates cross midnight
        attrs.update(
            label="stage31",
            investigating=started + 13 * MINUTE,
            regulatory=True,
            mitigated=dt.datetime(2025, 9, 5, 19, 2, 40, tzinfo=UTC),
            resolved=dt.datetime(2025, 9, 6, 1, 12, 40, 250000, tzinfo=UTC),
            closed=dt.datetime(2025, 9, 8, 9, 30, tzinfo=UTC),
            stage31=True,
            handoff=True,
        )
        created = started + 9 * MINUTE
    return _Issue("incident", created, summary, reporter, seq, snapshot, attrs=attrs)


def _finish_incident_times(incidents: list[_Issue]) -> None:
    """Forget what would happen after the snapshot: those incidents are still open."""
    for inc in incidents:
        a = inc.attrs
        for name in ("closed", "resolved", "mitigated"):
            if a[name] > inc.snapshot:
                a[name] = None
        if a["resolved"] is None:
            a["closed"] = None


def _add_recurrences(rng: random.Random, incidents: list[_Issue]) -> list[tuple[_Issue, _Issue, bool]]:
    """Make some (service, mode) pairs come back within 90 days; half after the earlier fixes were done."""
    anchors = [
        i
        for i in incidents
        if i.attrs["severity"] in ("Sev-0", "Sev-1")
        and i.attrs["resolved"]
        and not i.attrs.get("stage31")
        and i.attrs["started"] < i.snapshot - 150 * DAY
    ]
    rng.shuffle(anchors)
    pairs: list[tuple[_Issue, _Issue, bool]] = []
    taken: set[int] = set()
    for anchor in anchors[: max(4, len(incidents) // 40)]:
        a = anchor.attrs
        later = [
            i
            for i in incidents
            if 30 * DAY <= i.attrs["started"] - a["started"] <= 85 * DAY
            and i.seq not in taken
            and not i.attrs.get("stage31")
        ]
        if anchor.seq in taken or not later:
            continue
        again = rng.choice(later)
        between = [
            i
            for i in incidents
            if a["started"] < i.attrs["started"] < again.attrs["started"]
            and (i.attrs["service"], i.attrs["mode"]) == (a["service"], a["mode"])
        ]
        if any(i.seq in taken or i.attrs.get("stage31") for i in between):
            continue
        for other in between:  # nothing else of the pair in between, so the recurrence is the next one
            other.attrs["mode"] = MODES[(MODES.index(a["mode"]) + 1) % len(MODES)]
            other.summary = SUMMARIES[other.attrs["mode"]].format(s=a["service"], v=other.attrs["version"])
        again.attrs.update(service=a["service"], mode=a["mode"])
        again.summary = SUMMARIES[a["mode"]].format(s=a["service"], v=again.attrs["version"])
        taken.update({anchor.seq, again.seq})
        pairs.append((anchor, again, len(pairs) % 2 == 0))
    return pairs


def _decorate(rng: random.Random, incidents: list[_Issue]) -> None:
    """Non-ASCII text and characters HTML escapes in some summaries: pir must show them as typed."""
    plain = [i for i in incidents if not i.attrs.get("stage31")]
    for n, inc in enumerate(rng.sample(plain, min(len(plain), max(len(STRANGE_TEXT), len(plain) // 30)))):
        inc.summary += " — " + STRANGE_TEXT[n % len(STRANGE_TEXT)]


def _plan_review(rng: random.Random, inc: _Issue, users: list[dict[str, Any]]) -> dict[str, Any]:
    """Review stage times: most kept 12/24/24/24/48 h from closure, some missed, recent ones in progress."""
    a, closed = inc.attrs, inc.attrs["resolved"]
    facilitator = rng.choice([u for u in users if u is not a["commander"] and u["active"]])
    missed = set(rng.sample(list(REVIEW_DEADLINE_HOURS), rng.randint(1, 3))) if rng.random() < 0.3 else set()
    stages: dict[str, dt.datetime | None] = {}
    for stage, hours in REVIEW_DEADLINE_HOURS.items():
        if stage in missed:
            late = rng.random() < 0.75  # most misses are done late; some never happened
            at = closed + dt.timedelta(hours=hours + rng.uniform(2, 60)) if late else None
        else:
            at = closed + dt.timedelta(hours=hours * rng.uniform(0.25, 0.95))
        first = stages.get("facilitator_assigned_at")
        if at and first and at < first:  # the facilitator does the later stages, so after being assigned
            at = first + dt.timedelta(minutes=rng.uniform(10, 120))
        stages[stage] = at.replace(microsecond=0) if at else None
    if stages["facilitator_assigned_at"] is None:
        stages = dict.fromkeys(stages)
    published = stages["published_at"]
    meeting = published - dt.timedelta(hours=rng.uniform(2, 8)) if published else None
    if a.get("stage31"):  # the guided-notebook demo starts here: only the facilitator is assigned
        stages = dict.fromkeys(stages)
        stages["facilitator_assigned_at"] = closed + dt.timedelta(hours=5, minutes=17)
        meeting = None
    review: dict[str, Any] = {k: (v if v and v <= inc.snapshot else None) for k, v in stages.items()}
    review["meeting_at"] = meeting if meeting and meeting <= inc.snapshot else None
    review["facilitator_user"] = facilitator
    return review


def _plan_actions(
    rng: random.Random,
    users: list[dict[str, Any]],
    inc: _Issue,
    created: dt.datetime,
    count: int,
    epic: _Issue | None,
    seq0: int,
    until: tuple[dt.datetime, bool] | None = None,
) -> list[_Issue]:
    """Follow-up actions of one incident; ``until`` = (recurrence start, fixed before it?)."""
    a = inc.attrs
    actions = []
    for n in range(count):
        at = created + dt.timedelta(minutes=rng.uniform(0, 180))
        if at > inc.snapshot:
            break
        kind = ACTION_TYPES[n % 4] if n < 4 else rng.choice(ACTION_TYPES)
        team = SERVICES[a["service"]] if rng.random() < 0.75 else rng.choice(["SRE", "Data", "Identity"])
        owner = None if rng.random() < 0.08 else rng.choice(_team(users, team))
        if owner is not None and rng.random() < 0.03:
            owner = users[-1]  # someone who has since left (inactive user)
        due = (at + dt.timedelta(days=rng.randint(7, 110))).date()
        done = _action_outcome(rng, at, due, inc.snapshot)
        if until:
            recurrence, fixed = until
            if fixed:
                done = _jitter(rng, at + DAY, recurrence - HOUR)
                due = max(due, done.date())
            elif n == 0 or rng.random() < 0.6:
                done = recurrence + dt.timedelta(days=rng.uniform(3, 80))
                done = done if done <= inc.snapshot else None
        if a.get("stage31"):  # the runbook's own case shows every state an action can be in
            days, outcome = STAGE31_ACTIONS[n % len(STAGE31_ACTIONS)]
            due = (at + dt.timedelta(days=days)).date()
            due_end = dt.datetime.combine(due, dt.time(17), UTC)
            late = due_end + dt.timedelta(days=rng.uniform(3, 20))
            done = {"on time": _jitter(rng, at + DAY, due_end), "late": late}.get(outcome)
            owner = None if n == 5 else owner  # one unowned action
        summary = rng.choice(ACTION_SUMMARIES[kind]).format(s=a["service"])
        act = _Issue("action", at, summary, rng.choice([a["commander"]] + a["responders"]), seq0 + n, inc.snapshot)
        act.attrs = {
            "incident": inc,
            "epic": epic,
            "type": kind,
            "team": team,
            "owner": owner,
            "due": due,
            "done": done,
            "priority": rng.choice(["High", "Medium", "Medium", "Low"]),
            "metric": None if rng.random() < 0.1 or (a.get("stage31") and n == 7) else _metric(rng, a["service"], kind),
            "verification": None if rng.random() < 0.12 else _verification(rng, a["mode"]),
            "due_moved": rng.random() < 0.1,
            "reassigned": rng.random() < 0.15,
        }
        actions.append(act)
    return actions


STAGE31_ACTIONS = [
    (14, "on time"),
    (21, "on time"),
    (30, "on time"),
    (21, "late"),
    (45, "overdue"),
    (60, "overdue"),
    (460, "open"),
    (500, "open"),
]  # (days until due, outcome)


def _action_outcome(
    rng: random.Random, created: dt.datetime, due: dt.date, snapshot: dt.datetime
) -> dt.datetime | None:
    """When an action was done, or None: on time, late, overdue and not-yet-due open in realistic shares."""
    due_end = dt.datetime.combine(due, dt.time(17), UTC)
    roll = rng.random()
    if due_end < snapshot:
        if roll < 0.55:
            return _jitter(rng, created + 6 * HOUR, due_end)
        if roll < 0.8:
            late = due_end + dt.timedelta(days=rng.uniform(1, 45))
            return late if late <= snapshot else None
        return None
    early = created + 6 * HOUR < snapshot and roll < 0.2
    return _jitter(rng, created + 6 * HOUR, snapshot) if early else None


def _metric(rng: random.Random, service: str, kind: str) -> str:
    target = {
        "prevent": f"zero failed deploys of *{service}* reaching 100 % traffic over 30 days",
        "detect": f"alert fires within {rng.choice([2, 5, 10])} min of the fault in a game day",
        "mitigate": f"rollback of *{service}* completes in under {rng.choice([5, 10, 15])} minutes",
        "process": "every on-call engineer has completed the drill",
    }[kind]
    return f"*Metric:* {target}\n* measured on [the SLO dashboard|https://grafana.example.com/d/slo/{service}]"


def _verification(rng: random.Random, mode: str) -> str:
    return (
        f"h3. Verification\n# Inject _{mode.lower()}_ in staging\n# Confirm the alert and the runbook step\n"
        f"# Record the result in the review doc ({rng.choice(['game day', 'chaos test', 'dry run'])})"
    )


def _description(rng: random.Random, inc: _Issue) -> str:
    a = inc.attrs
    return (
        f"h3. Summary\n{a['mode']} affecting *{a['service']}*.\n"
        f"h3. Impact\n* Customer impact: {'Yes' if a['customer_impact'] else 'No'}\n"
        f"* Error rate peaked at {rng.uniform(2, 60):.1f} %\n"
        f"h3. Links\n* [Grafana dashboard|https://grafana.example.com/d/{a['service']}/overview]\n"
        f"* [Runbook|https://wiki.example.com/display/OPS/{a['service']}]\n"
        f"{{code}}\nERROR {a['service']} request failed: upstream returned 503 ({a['version']})\n{{code}}"
        + (f"\nh3. Root cause\n{a['root_cause']}" if a.get("root_cause") else "")
    )


# The root cause both incidents of one planted recurrence describe: `pir similar` must rank the first of
# them top for the second (tests/test_similar.py finds the pair by RECURRING_ROOT_CAUSE_MARKER).
RECURRING_ROOT_CAUSE_MARKER = "session-store sidecar"
RECURRING_ROOT_CAUSE = (
    "*{s}* pods lost their connections to the " + RECURRING_ROOT_CAUSE_MARKER + " when its"
    " keepalive pool was capped at 64 by the mesh defaults; retries piled up behind it."
)

COMMENTS = [
    "Paged the on-call. Looking at [the dashboard|https://grafana.example.com/d/{s}/overview].",
    "*Update:* error rate down to {p} % after the rollback.",
    "Mitigation in place:\n* traffic shifted away from the bad pool\n* watching the error budget",
    "Stack trace from the logs:\n{{code}}\njava.net.SocketTimeoutException: Read timed out ({s})\n{{code}}",
    "Support reports tickets from customers in EU and APAC.",
    "Root cause looks like _{m}_. Will confirm in the review.",
    "Status page updated. Next update in 30 minutes.",
    "Seen in a customer report, quoted as is: {x}",
]


def _incident_history(rng: random.Random, inc: _Issue, flapping: bool) -> None:
    """Status, severity, priority, assignee and label changes, applied in time order to a tracked state."""
    a = inc.attrs
    end = a["resolved"] or inc.snapshot
    sev, prio = a["severity"], SEVERITY_PRIORITY[a["severity"]]
    state = {
        "status": "Open",
        "assignee": a["commander"] if a["assigned_at_start"] else None,
        "severity": sev,
        "priority": prio,
        "labels": [inc.label],
    }
    events: list[tuple[dt.datetime, str, Any]] = [(a["investigating"], "status", "Investigating")]
    if a["sev_changed"]:  # declared one level off, corrected later
        state["severity"] = SEVERITIES[SEVERITIES.index(sev) + (1 if sev != "Sev-3" else -1)]
        events.append((_jitter(rng, a["investigating"], a["investigating"] + HOUR), "severity", sev))
    if a["prio_changed"]:
        state["priority"] = rng.choice([p for p in PRIORITIES if p != prio])
        events.append((_jitter(rng, a["investigating"], a["investigating"] + 2 * HOUR), "priority", prio))
    if a["handoff"]:
        events.append((_jitter(rng, a["investigating"] + 10 * MINUTE, end), "assignee", a["responders"][0]))
    if flapping:
        for n in range(182):
            what = ["toggle", "assignee", "priority"][n % 3]
            events.append((_jitter(rng, a["investigating"] + MINUTE, end - MINUTE), what, None))
    elif a["mitigated"]:
        events.append((a["mitigated"], "status", "Mitigated"))
    if a["resolved"]:
        events.append((a["resolved"], "status", "Resolved"))
        if a.get("reviewed"):
            events.append((a["resolved"] + dt.timedelta(hours=rng.uniform(1, 10)), "labels", "postmortem"))
    if a["closed"]:
        events.append((a["closed"], "status", "Closed"))
    mitigated_at = None
    for at, what, value in sorted(events, key=lambda e: e[0]):
        if at > inc.snapshot:
            break
        if value is None and what != "toggle":  # a flapping edit: always to something else
            options = a["responders"] if what == "assignee" else list(PRIORITIES)
            value = rng.choice([o for o in options if o != state[what]])
        author = a["commander"] if what != "labels" else rng.choice([a["commander"]] + a["responders"])
        if what == "toggle":
            value = "Mitigated" if state["status"] == "Investigating" else "Investigating"
            what = "status"
        if what == "status":
            if value == "Mitigated" and mitigated_at is None:
                mitigated_at = at
            items = [_status_item(state["status"], value)]
            if value == "Investigating" and state["assignee"] is None:
                items.append(_user_item("assignee", None, a["commander"]))
                state["assignee"] = a["commander"]
            if value == "Resolved":
                items.append(("resolution", "jira", None, None, "10000", "Done"))
            state["status"] = value
        elif what == "assignee":
            if value is state["assignee"]:
                continue
            items = [_user_item("assignee", state["assignee"], value)]
            state["assignee"] = value
        elif what == "severity":
            ids = OPTION_IDS["customfield_10010"]
            items = [("Severity", "custom", ids[state["severity"]], state["severity"], ids[value], value)]
            state["severity"] = value
        elif what == "priority":
            if value == state["priority"]:
                continue
            old = state["priority"]
            items = [("priority", "jira", PRIORITIES[old], old, PRIORITIES[value], value)]
            state["priority"] = value
        else:
            new = sorted(state["labels"] + [value])
            items = [("labels", "jira", None, " ".join(state["labels"]), None, " ".join(new))]
            state["labels"] = new
        inc.change(at, author, *items)
    a["state"], a["mitigated"] = state, mitigated_at


def _status_item(old: str, new: str) -> tuple[Any, ...]:
    return ("status", "jira", STATUSES[old][0], old, STATUSES[new][0], new)


def _user_item(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[Any, ...]:
    return (
        name,
        "jira",
        old and old["name"],
        old and old["displayName"],
        new and new["name"],
        new and new["displayName"],
    )


def _incident_comments(rng: random.Random, inc: _Issue) -> None:
    a = inc.attrs
    low, high = {"Sev-0": (4, 12), "Sev-1": (2, 12), "Sev-2": (0, 4), "Sev-3": (0, 2)}[a["severity"]]
    end = min((a["resolved"] or inc.snapshot) + DAY, inc.snapshot)
    people = [a["commander"]] + a["responders"]
    for _ in range(rng.randint(low, high)):
        at = _jitter(rng, inc.created, end)
        body = rng.choice(COMMENTS).format(
            s=a["service"], p=round(rng.uniform(0.1, 5), 1), m=a["mode"].lower(), x=rng.choice(STRANGE_TEXT)
        )
        edited = at + dt.timedelta(minutes=rng.uniform(1, 90)) if rng.random() < 0.1 else at
        inc.comments.append((at, rng.choice(people), body, min(edited, inc.snapshot)))


def _action_history(rng: random.Random, act: _Issue) -> None:
    a = act.attrs
    done, owner, status = a["done"], a["owner"], "To Do"
    end = done or act.snapshot
    if a["reassigned"] and owner is not None:
        previous = rng.choice(_team_of(act))
        if previous is not owner:
            act.change(
                _jitter(rng, act.created, act.created + (end - act.created) / 3),
                act.reporter,
                _user_item("assignee", previous, owner),
            )
    if a["due_moved"]:
        old = a["due"] - dt.timedelta(days=rng.randint(7, 30))
        act.change(
            _jitter(rng, act.created, act.created + (end - act.created) / 2),
            owner or act.reporter,
            ("duedate", "jira", old.isoformat(), f"{old} 00:00:00.0", a["due"].isoformat(), f"{a['due']} 00:00:00.0"),
        )
    if done or rng.random() < 0.5:  # open actions are half To Do, half In Progress
        started = _jitter(rng, act.created + HOUR, act.created + (end - act.created) * 0.6 + HOUR)
        if started < end and act.change(started, owner or act.reporter, _status_item("To Do", "In Progress")):
            status = "In Progress"
    if done and act.change(
        done, owner or act.reporter, _status_item(status, "Done"), ("resolution", "jira", None, None, "10000", "Done")
    ):
        status = "Done"
        if rng.random() < 0.4:
            act.comments.append(
                (
                    done,
                    owner or act.reporter,
                    "Done. Verified as described in the "
                    "*Verification Method*; see [the PR|https://git.example.com/pr/"
                    f"{rng.randint(100, 9999)}].",
                    done,
                )
            )
    a["status"] = status


def _team_of(act: _Issue) -> list[dict[str, Any]]:
    return act.attrs["incident"].attrs["responders"]


def _epic_history(rng: random.Random, epic: _Issue, actions: list[_Issue]) -> None:
    status = "To Do"
    started = [act.created for act in actions]
    if started and min(started) + MINUTE <= epic.snapshot:
        epic.change(min(started) + MINUTE, epic.reporter, _status_item("To Do", "In Progress"))
        status = "In Progress"
    if actions and all(act.attrs["done"] for act in actions):
        done = max(act.attrs["done"] for act in actions) + dt.timedelta(hours=rng.uniform(1, 48))
        if done <= epic.snapshot:
            epic.change(
                done, epic.reporter, _status_item(status, "Done"), ("resolution", "jira", None, None, "10000", "Done")
            )
            status = "Done"
    epic.attrs["status"] = status


def _link(issues: tuple[_Issue, _Issue], link_id: int) -> None:
    outward_from, inward_from = issues
    outward_from.links.append((link_id, "outwardIssue", inward_from))
    inward_from.links.append((link_id, "inwardIssue", outward_from))


def _plan_site(
    rng: random.Random, users: list[dict[str, Any]], n: int, snapshot: dt.datetime
) -> tuple[list[_Issue], list[dict]]:
    incidents = _plan_incidents(random.Random(rng.getrandbits(64)), users, n, snapshot)
    _finish_incident_times(incidents)
    sub = random.Random(rng.getrandbits(64))
    pairs = _add_recurrences(sub, incidents)
    recurrences = {anchor.seq: (again.attrs["started"], fixed) for anchor, again, fixed in pairs}
    for anchor, again, _ in pairs:
        again.attrs["recurrence_of"] = anchor
    for planted in pairs[:1]:  # one recurrence whose two write-ups name the same root cause (`pir similar`)
        for inc in planted[:2]:
            inc.attrs["root_cause"] = RECURRING_ROOT_CAUSE.format(s=inc.attrs["service"])
    _decorate(sub, incidents)
    # One Sev-2 flaps for three days: more changelog entries than Jira embeds in one response.
    calm = [i for i in incidents if i.attrs["severity"] == "Sev-2" and i.attrs["resolved"]]
    flapper = next((i for i in calm if i.attrs["started"] > snapshot - (WINDOW_DAYS - 365) * DAY), calm[0])
    flapper.attrs["resolved"] = flapper.attrs["investigating"] + 3 * DAY
    flapper.attrs["closed"] = flapper.attrs["resolved"] + 2 * DAY
    flapper.attrs["flapping"] = True

    issues: list[_Issue] = list(incidents)
    reviews: list[dict[str, Any]] = []
    seq = len(issues)
    for inc in incidents:
        a = inc.attrs
        if not a["resolved"]:
            continue
        if a["severity"] in ("Sev-0", "Sev-1"):
            a["reviewed"] = True
            review = _plan_review(sub, inc, users)
            reviews.append({"incident": inc, **review})
            epic_at = (review["facilitator_assigned_at"] or a["resolved"] + 6 * HOUR) + MINUTE
            if epic_at > snapshot:
                continue
            epic = _Issue(
                "epic", epic_at, f"Postmortem actions: {inc.summary}", review["facilitator_user"], seq, snapshot
            )
            epic.attrs = {"incident": inc, "linked": a.get("stage31") or sub.random() > 0.1}
            a["epic"] = epic
            meeting = review["meeting_at"] or a["resolved"] + dt.timedelta(hours=sub.uniform(20, 46))
            meeting = max(meeting, epic_at + 10 * MINUTE)  # actions go under an epic that exists
            count = 8 if a.get("stage31") else sub.randint(9, 22)
            actions = _plan_actions(sub, users, inc, meeting, count, epic, seq + 1, recurrences.get(inc.seq))
            epic.attrs["actions"] = actions
            issues += [epic] + actions
            seq += 1 + count
        elif a["severity"] == "Sev-2" and sub.random() < 0.15:  # a light review: actions linked directly
            actions = _plan_actions(sub, users, inc, a["resolved"] + DAY, sub.randint(1, 4), None, seq)
            a["direct_actions"] = actions
            issues += actions
            seq += len(actions)
    _keep_promises(reviews, [i for i in issues if i.kind == "action"], snapshot)
    return issues, reviews


def _keep_promises(reviews: list[dict[str, Any]], actions: list[_Issue], snapshot: dt.datetime) -> None:
    """What the demo promises whatever its day: a review stage due on the snapshot day and not done, and
    an open action due REMINDER_LEAD_DAYS after it. The plan usually has both (the two urgent incidents
    closed a day before the snapshot publish within 48 h of closure); when chance left one out, the
    newest such postmortem is not published yet, or the open action due soonest after that day is due on
    it. No random draw, so a day that has both keeps its files as they were."""
    today = [
        r
        for r in reviews
        if r["incident"].attrs["resolved"]
        and any(
            snapshot <= r["incident"].attrs["resolved"] + hours * HOUR < snapshot + DAY
            for stage, hours in REVIEW_DEADLINE_HOURS.items()
            if r[stage] is None
        )
    ]
    publish_today = [
        r
        for r in reviews
        if r["incident"].attrs["resolved"]
        and not r["incident"].attrs.get("stage31")
        and snapshot <= r["incident"].attrs["resolved"] + REVIEW_DEADLINE_HOURS["published_at"] * HOUR < snapshot + DAY
    ]
    if not today and publish_today:
        max(publish_today, key=lambda r: (r["incident"].attrs["resolved"], r["incident"].seq))["published_at"] = None
    reminder_day = (snapshot + REMINDER_LEAD_DAYS * DAY).date()
    still_open = [
        act for act in actions if act.attrs["done"] is None and not act.attrs["incident"].attrs.get("stage31")
    ]
    if not any(act.attrs["due"] == reminder_day for act in still_open):
        later = [act for act in still_open if act.attrs["due"] > reminder_day]
        if later:
            min(later, key=lambda act: (act.attrs["due"], act.seq)).attrs["due"] = reminder_day


def _number_issues(rng: random.Random, issues: list[_Issue]) -> None:
    """Keys and ids in creation order, as Jira hands them out; ids skip a few (deleted issues)."""
    issues.sort(key=lambda i: (i.created, i.seq))
    issue_id = 10000
    for number, issue in enumerate(issues, start=1):
        issue_id += 1 if rng.random() < 0.9 else rng.randint(2, 5)
        issue.number, issue.id, issue.key = number, str(issue_id), f"INC-{number}"


def _fill_history(rng: random.Random, issues: list[_Issue]) -> None:
    link_id = 20000
    for issue in issues:
        a = issue.attrs
        if issue.kind == "incident":
            issue.attrs["description"] = _description(rng, issue)
            _incident_history(rng, issue, a.get("flapping", False))
            _incident_comments(rng, issue)
            if a.get("epic") and a["epic"].attrs["linked"]:
                link_id += 1
                _link((issue, a["epic"]), link_id)
            for act in a.get("direct_actions", []):
                link_id += 1
                _link((issue, act), link_id)
        elif issue.kind == "epic":
            _epic_history(rng, issue, a["actions"])
        else:
            _action_history(rng, issue)


def _option(field_id: str, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    oid = OPTION_IDS[field_id][value]
    return {"self": f"{BASE_URL}/rest/api/2/customFieldOption/{oid}", "value": value, "id": oid, "disabled": False}


def _status(name: str) -> dict[str, Any]:
    sid, category = STATUSES[name]
    cid, cname, color = CATEGORIES[category]
    return {
        "self": f"{BASE_URL}/rest/api/2/status/{sid}",
        "name": name,
        "id": sid,
        "description": "",
        "iconUrl": f"{BASE_URL}/images/icons/statuses/generic.png",
        "statusCategory": {
            "self": f"{BASE_URL}/rest/api/2/statuscategory/{cid}",
            "id": int(cid),
            "key": category,
            "colorName": color,
            "name": cname,
        },
    }


def _priority(name: str) -> dict[str, Any]:
    pid = PRIORITIES[name]
    return {
        "self": f"{BASE_URL}/rest/api/2/priority/{pid}",
        "name": name,
        "id": pid,
        "iconUrl": f"{BASE_URL}/images/icons/priorities/{name.lower()}.svg",
    }


def _issuetype(name: str) -> dict[str, Any]:
    tid, text = ISSUE_TYPES[name]
    return {
        "self": f"{BASE_URL}/rest/api/2/issuetype/{tid}",
        "id": tid,
        "description": text,
        "name": name,
        "subtask": False,
        "iconUrl": f"{BASE_URL}/images/icons/issuetypes/{name.lower()}.svg",
    }


def _render(issue: _Issue) -> dict[str, Any]:
    a, zone = issue.attrs, issue.reporter["timeZone"]
    histories, comments = issue.histories, issue.comments
    last = max([issue.created] + [h[0] for h in histories] + [c[3] for c in comments])
    resolved = next((h[0] for h in reversed(histories) if any(i[0] == "resolution" for i in h[2])), None)
    fields: dict[str, Any] = {f[0]: None for f in SYSTEM_FIELDS + CUSTOM_FIELDS}
    fields.update(
        {
            "summary": issue.summary,
            "description": a.get("description"),
            "created": _ts(issue.created, zone),
            "updated": _ts(last, zone),
            "reporter": _public(issue.reporter),
            "creator": _public(issue.reporter),
            "resolutiondate": resolved and _ts(resolved, zone),
            "resolution": resolved
            and {
                "self": f"{BASE_URL}/rest/api/2/resolution/10000",
                "id": "10000",
                "name": "Done",
                "description": "Work has been completed on this issue.",
            },
            "project": {
                "self": f"{BASE_URL}/rest/api/2/project/10000",
                "id": "10000",
                "key": "INC",
                "name": "Incidents",
                "projectTypeKey": "software",
            },
            "issuelinks": [_render_link(link) for link in issue.links],
            "subtasks": [],
            "fixVersions": [],
            "versions": [],
            "attachment": [],
            "components": [],
            "watches": {
                "self": f"{BASE_URL}/rest/api/2/issue/{issue.key}/watchers",
                "watchCount": 1,
                "isWatching": False,
            },
            "votes": {"self": f"{BASE_URL}/rest/api/2/issue/{issue.key}/votes", "votes": 0, "hasVoted": False},
            "comment": {
                "comments": [_render_comment(issue, cid, c) for cid, c in zip(a["comment_ids"], comments)],
                "maxResults": len(comments),
                "total": len(comments),
                "startAt": 0,
            },
        }
    )
    if issue.kind == "incident":
        s = a["state"]
        fields.update(
            issuetype=_issuetype("Incident"),
            status=_status(s["status"]),
            priority=_priority(s["priority"]),
            labels=sorted(s["labels"]),
            assignee=_public(s["assignee"]),
            components=[_component(a["service"])],
            customfield_10010=_option("customfield_10010", s["severity"]),
            customfield_10011=_option("customfield_10011", a["mode"]),
            customfield_10023=_public(a["commander"]),
            customfield_10024=_option("customfield_10024", "Yes" if a["customer_impact"] else "No"),
            customfield_10025=_option("customfield_10025", "Required" if a["regulatory"] else "Not required"),
            customfield_10026=_ts(a["started"], zone),
        )
    elif issue.kind == "epic":
        inc = a["incident"]
        fields.update(
            issuetype=_issuetype("Epic"),
            status=_status(a["status"]),
            priority=_priority("Medium"),
            labels=sorted(["postmortem", inc.label]),
            assignee=_public(issue.reporter),
            components=[_component(inc.attrs["service"])],
            customfield_10015=f"PM {inc.key} {inc.attrs['service']}",
        )
    else:
        inc = a["incident"]
        fields.update(
            issuetype=_issuetype("Task"),
            status=_status(a["status"]),
            priority=_priority(a["priority"]),
            labels=sorted(["postmortem", inc.label]),
            assignee=_public(a["owner"]),
            duedate=a["due"].isoformat(),
            customfield_10014=a["epic"] and a["epic"].key,
            customfield_10020=a["metric"],
            customfield_10021=a["verification"],
            customfield_10022=_option("customfield_10022", a["type"]),
            customfield_10027=_option("customfield_10027", a["team"]),
            description=f"Follow-up of {inc.key}.\n\nh3. Context\n_{inc.summary}_",
        )
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": f"{BASE_URL}/rest/api/2/issue/{issue.id}",
        "key": issue.key,
        "fields": fields,
        "changelog": {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": [_render_history(hid, h) for hid, h in zip(a["history_ids"], histories)],
        },
    }


def _render_history(hid: str, history: _History) -> dict[str, Any]:
    at, author, items = history
    keys = ("field", "fieldtype", "from", "fromString", "to", "toString")
    return {
        "id": hid,
        "author": _public(author),
        "created": _ts(at, author["timeZone"]),
        "items": [dict(zip(keys, item)) for item in items],
    }


def _render_comment(issue: _Issue, cid: str, comment: tuple[Any, ...]) -> dict[str, Any]:
    at, author, body, edited = comment
    return {
        "id": cid,
        "self": f"{BASE_URL}/rest/api/2/issue/{issue.id}/comment/{cid}",
        "body": body,
        "author": _public(author),
        "updateAuthor": _public(author),
        "created": _ts(at, author["timeZone"]),
        "updated": _ts(edited, author["timeZone"]),
    }


def _component(service: str) -> dict[str, Any]:
    cid = str(10200 + list(SERVICES).index(service))
    return {"self": f"{BASE_URL}/rest/api/2/component/{cid}", "id": cid, "name": service}


def _render_link(link: tuple[int, str, _Issue]) -> dict[str, Any]:
    link_id, side, other = link
    status = other.attrs["state"]["status"] if other.kind == "incident" else other.attrs["status"]
    priority = other.attrs["state"]["priority"] if other.kind == "incident" else other.attrs.get("priority", "Medium")
    kind = {"incident": "Incident", "epic": "Epic", "action": "Task"}[other.kind]
    return {
        "id": str(link_id),
        "self": f"{BASE_URL}/rest/api/2/issueLink/{link_id}",
        "type": {
            "id": "10003",
            "name": "Relates",
            "inward": "relates to",
            "outward": "relates to",
            "self": f"{BASE_URL}/rest/api/2/issueLinkType/10003",
        },
        side: {
            "id": other.id,
            "key": other.key,
            "self": f"{BASE_URL}/rest/api/2/issue/{other.id}",
            "fields": {
                "summary": other.summary,
                "status": _status(status),
                "priority": _priority(priority),
                "issuetype": _issuetype(kind),
            },
        },
    }


def _assign_ids(issues: list[_Issue]) -> None:
    """History and comment ids grow with time across the whole site, as in Jira's database."""
    for issue in issues:
        issue.histories.sort(key=lambda h: h[0])
        issue.comments.sort(key=lambda c: c[0])
    histories = sorted((h[0], i.number, n) for i in issues for n, h in enumerate(i.histories))
    comments = sorted((c[0], i.number, n) for i in issues for n, c in enumerate(i.comments))
    by_number = {i.number: i for i in issues}
    for prefix, entries, base in (("history_ids", histories, 100000), ("comment_ids", comments, 300000)):
        for i in issues:
            i.attrs[prefix] = [""] * len(i.histories if prefix == "history_ids" else i.comments)
        for rank, (_, number, n) in enumerate(entries):
            by_number[number].attrs[prefix][n] = str(base + rank)


def _fields_catalogue() -> list[dict[str, Any]]:
    catalogue = []
    for fid, name, kind, items, clauses, orderable, searchable in SYSTEM_FIELDS:
        schema: dict[str, Any] = {"type": kind, "system": fid} | ({"items": items} if items else {})
        catalogue.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": orderable,
                "navigable": fid not in ("comment", "attachment"),
                "searchable": searchable,
                "clauseNames": clauses,
                "schema": schema,
            }
        )
    for fid, name, kind, custom in CUSTOM_FIELDS:
        number = int(fid.split("_")[1])
        plugin = custom if custom.startswith("com.") else f"com.atlassian.jira.plugin.system.{custom}"
        schema = {"type": kind, "custom": plugin, "customId": number}
        if kind == "array":
            schema["items"] = "string"
        catalogue.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", name],
                "schema": schema,
            }
        )
    return catalogue


def _server_info(snapshot: dt.datetime) -> dict[str, Any]:
    return {
        "baseUrl": BASE_URL,
        "version": "9.12.2",
        "versionNumbers": [9, 12, 2],
        "deploymentType": "Server",
        "buildNumber": 9120002,
        "buildDate": "2023-12-13T00:00:00.000+0000",
        "serverTime": _ts(snapshot),
        "scmInfo": "0b1c1ea5b1a6c4b0fc0ce1e1a6d0b5ea7d2c1f09",
        "serverTitle": "Example Jira",
    }


def _reviews_json(reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stages = [
        "facilitator_assigned_at",
        "artifacts_collected_at",
        "invites_sent_at",
        "agenda_circulated_at",
        "meeting_at",
        "published_at",
    ]
    out = []
    for r in sorted(reviews, key=lambda r: r["incident"].number):
        inc = r["incident"]
        doc = f"https://confluence.example.com/display/REL/{inc.key}+Postmortem" if r["published_at"] else None
        out.append(
            {
                "incident_key": inc.key,
                "facilitator": r["facilitator_user"]["displayName"],
                "doc_url": doc,
                **{s: _iso(r[s]) for s in stages},
            }
        )
    return out


def _chat_and_alerts(
    rng: random.Random, incidents: list[_Issue], users: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A Slack export and an alerts CSV for Stage-31 and four other reviewed incidents."""
    reviewed = [i for i in incidents if i.attrs.get("reviewed") and not i.attrs.get("stage31")]
    chosen = [i for i in incidents if i.attrs.get("stage31")] + rng.sample(reviewed, min(4, len(reviewed)))
    slack_ids = {
        u["name"]: "U0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8)) for u in users
    }
    chat: dict[str, dict[str, Any]] = {}
    alerts: dict[str, str] = {}
    for inc in chosen:
        chat[inc.key] = _slack_export(rng, inc, slack_ids)
        alerts[inc.key] = _alerts_csv(rng, inc)
    return chat, alerts


SLACK_TEXTS = [
    "<@{c}> you are IC, I'll take comms",
    "Rolling back {s} to the previous release",
    "Cross-posting to <#{r}|incident-room>",
    "Error rate still climbing :fire:",
    "Traffic looks normal again, keeping an eye on it",
    "Customer support sees tickets from EU",
    'naïve café 🚨 — the banner says "retry in <5 min" & the queue drains',
    "Can someone check <https://console.aws.example.com/cloudwatch|CloudWatch>?",
    "Mitigated. Writing up.",
]


def _slack_export(rng: random.Random, inc: _Issue, slack_ids: dict[str, str]) -> dict[str, Any]:
    """Slack's export layout: users.json, channels.json and a channel folder of per-day message files."""
    a = inc.attrs
    people = [a["commander"]] + a["responders"]
    channel, channel_id = f"inc-{inc.number}", "C0" + str(inc.number).zfill(8)

    def profile(u: dict[str, Any]) -> dict[str, Any]:
        return {
            "real_name": u["displayName"],
            "display_name": u["name"],
            "name": u["name"],
            "first_name": u["displayName"].split(" ")[0],
        }

    opened = inc.created - 3 * MINUTE  # someone opens the channel, then files the ticket
    busy_until = (a["mitigated"] or a["resolved"] or inc.snapshot) + 30 * MINUTE
    quiet_until = max(busy_until, (a["resolved"] or inc.snapshot) + 20 * MINUTE)
    times = [_jitter(rng, opened + MINUTE, busy_until) for _ in range(rng.randint(20, 40))]
    times += [_jitter(rng, busy_until, quiet_until) for _ in range(rng.randint(3, 8))]
    if a.get("stage31"):  # the channel stays busy across midnight UTC: two day files
        times += [dt.datetime(2025, 9, 5, 23, 58, 41, tzinfo=UTC), dt.datetime(2025, 9, 6, 0, 3, 5, tzinfo=UTC)]
    entries: list[tuple[dt.datetime, dict[str, Any]]] = [
        (
            opened + n * 5 * dt.timedelta(seconds=1),
            {
                "type": "message",
                "subtype": "channel_join",
                "user": slack_ids[u["name"]],
                "text": f"<@{slack_ids[u['name']]}> has joined the channel",
            },
        )
        for n, u in enumerate(people)
    ]
    first = "Seeing errors on <https://grafana.example.com/d/{s}/overview|dashboard>, declaring an incident"
    for n, at in enumerate([opened + 40 * dt.timedelta(seconds=1)] + sorted(times)):
        author = people[0] if n == 0 else rng.choice(people)
        text = first if n == 0 else rng.choice(SLACK_TEXTS)
        msg: dict[str, Any] = {
            "type": "message",
            "user": slack_ids[author["name"]],
            "text": text.format(s=a["service"], c=slack_ids[a["commander"]["name"]], r="C0INCIDENTS"),
        }
        if rng.random() < 0.4:
            msg["user_profile"] = profile(author)
        entries.append((at, msg))
    parent: dict[str, Any] | None = None
    for n, (at, msg) in enumerate(entries):
        msg["ts"] = f"{int(at.timestamp())}.{n:06d}"
        if "subtype" in msg:
            continue
        if parent is not None and rng.random() < 0.25:  # a reply in the open thread
            msg.update(thread_ts=parent["ts"], parent_user_id=parent["user"])
            parent.setdefault("replies", []).append({"user": msg["user"], "ts": msg["ts"]})
            parent.update(thread_ts=parent["ts"], reply_count=len(parent["replies"]))
        elif rng.random() < 0.2:
            parent = msg
    days: dict[str, list[dict[str, Any]]] = {}
    for at, msg in entries:
        days.setdefault(at.date().isoformat(), []).append(msg)
    return {
        "users.json": [
            {
                "id": slack_ids[u["name"]],
                "team_id": "T0EXAMPLE",
                "name": u["name"],
                "real_name": u["displayName"],
                "deleted": not u["active"],
                "tz": u["timeZone"],
                "profile": profile(u),
            }
            for u in people
        ],
        "channels.json": [
            {
                "id": channel_id,
                "name": channel,
                "created": int(opened.timestamp()),
                "creator": slack_ids[people[0]["name"]],
                "members": [slack_ids[u["name"]] for u in people],
                "topic": {"value": inc.summary},
                "purpose": {"value": f"{inc.key} war room"},
            }
        ],
        **{f"{channel}/{day}.json": msgs for day, msgs in sorted(days.items())},
    }


def _alerts_csv(rng: random.Random, inc: _Issue) -> str:
    a = inc.attrs
    service, start = a["service"], a["started"]
    calm = a["mitigated"] or (a["resolved"] or inc.snapshot)
    rules = [
        ("grafana", f"{service} HighErrorRate", "critical", "UTC", f"https://grafana.example.com/alerting/{service}"),
        (
            "cloudwatch",
            f"{service}-p99-latency",
            "warning",
            "UTC",
            f"https://console.aws.example.com/cloudwatch/alarms/{service}-p99",
        ),
        (
            "newrelic",
            f"{service} Apdex < 0.7",
            "critical",
            "America/Los_Angeles",
            f"https://one.newrelic.example.com/alerts/{service}",
        ),
    ]
    rows = []
    for source, name, severity, zone, url in rules:
        fired = start + dt.timedelta(seconds=rng.uniform(30, 600))
        cleared = calm + dt.timedelta(seconds=rng.uniform(60, 900))
        for at, state, value in ((fired, "firing", rng.uniform(5, 60)), (cleared, "resolved", rng.uniform(0, 1))):
            rows.append(
                (
                    at,
                    [
                        at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"),
                        source,
                        name,
                        state,
                        severity,
                        f"{value:.2f}",
                        url,
                    ],
                )
            )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "source", "name", "state", "severity", "value", "url"])
    writer.writerows(row for _, row in sorted(rows, key=lambda r: r[0]))
    return out.getvalue()


def generate(seed: int = DEFAULT_SEED, n_incidents: int = 264, as_of: dt.date = SNAPSHOT_DAY) -> dict[str, Any]:
    """The whole sample site in memory, as it stands at midnight UTC starting ``as_of``: the JSON bodies
    Jira would return, plus pir's local files."""
    if n_incidents < 20:
        raise ValueError("n_incidents must be at least 20 (the sample needs room for its special cases)")
    check_day(as_of)
    snapshot = dt.datetime.combine(as_of, dt.time(0), UTC)
    rng = random.Random(seed)
    users = _users(random.Random(rng.getrandbits(64)))
    issues, reviews = _plan_site(rng, users, n_incidents, snapshot)
    _number_issues(random.Random(rng.getrandbits(64)), issues)
    _fill_history(random.Random(rng.getrandbits(64)), issues)
    _assign_ids(issues)
    rendered = [_render(issue) for issue in issues]
    incidents = [i for i in issues if i.kind == "incident"]
    chat, alerts = _chat_and_alerts(random.Random(rng.getrandbits(64)), incidents, users)
    # Its own random stream (a string seed is hashed the same way in every process): the notes came
    # after the rest of the sample, whose files stay as they were.
    notes, pairs = _review_notes(random.Random(f"review-notes-{seed}"), incidents, reviews)
    return {
        "serverInfo": _server_info(snapshot),
        "fields": _fields_catalogue(),
        "users": [_public(u) for u in users],
        "issues": rendered,
        "reviews": _reviews_json(reviews),
        "failure_modes": [{"mode": m, "category": c, "description": d} for m, c, d in FAILURE_MODES],
        "chat": chat,
        "alerts": alerts,
        "review_notes": notes,
        "similar_pairs": pairs,
    }


# The problems behind the sample's reviewed incidents, as a review's "what went wrong" names them: two per
# failure mode, each in two wordings (two write-ups of one problem never read the same). An incident mostly
# has a problem of its own mode, sometimes one that usually goes with another mode (a problem filed under
# another label), and a recurrence has its earlier incident's problem: `pir similar` should find the same
# problem, not only the same service and mode (``similar_pairs``).
PROBLEMS: list[tuple[str, str, str]] = [  # (usual failure mode, wording 1, wording 2)
    (
        "Bad deploy",
        "The release skipped the schema migration, so new pods read a column that did not exist yet.",
        "Pods rolled out before the schema migration ran and queried a column the database did not have.",
    ),
    (
        "Bad deploy",
        "A serializer upgrade changed the JSON field order and the partner parser rejected every payload.",
        "After the serializer library bump the partner's strict parser refused the reordered JSON payloads.",
    ),
    (
        "Config change",
        "A timeout was pushed as 30 instead of 30s and the client read it as thirty milliseconds.",
        "The pushed timeout lacked its unit suffix, so clients waited thirty milliseconds instead of seconds.",
    ),
    (
        "Config change",
        "The allowlist push dropped the office egress range and blocked the back-office tools.",
        "An allowlist rewrite lost the office egress range; back-office tools were blocked at the gateway.",
    ),
    (
        "Capacity exhaustion",
        "Retry storms filled the connection pool to the session store; the keepalive cap was 64.",
        "The keepalive pool to the session store was capped at 64 and retry storms exhausted its connections.",
    ),
    (
        "Capacity exhaustion",
        "Log volume filled the ephemeral disk of the ingest nodes and writes stalled.",
        "Ingest nodes ran out of ephemeral disk under the log surge, which stalled every write.",
    ),
    (
        "Dependency outage",
        "The payment processor's sandbox certificate chain changed and our pinning rejected it.",
        "Certificate pinning rejected the processor's rotated chain, failing every authorisation call.",
    ),
    (
        "Dependency outage",
        "The geolocation vendor returned empty bodies with status 200 and we cached them.",
        "Empty 200 responses from the geolocation vendor were cached as valid answers.",
    ),
    (
        "Certificate expiry",
        "The intermediate certificate on the internal load balancer expired; renewal was manual.",
        "Nobody renewed the internal load balancer's intermediate certificate, a manual step, before expiry.",
    ),
    (
        "Certificate expiry",
        "The mTLS client certificate of the batch runner expired and its jobs were refused.",
        "Batch runner jobs were refused once its mTLS client certificate lapsed.",
    ),
    (
        "Database failover",
        "Failover promoted a replica with replication lag; writes of the last minutes were lost.",
        "The promoted replica lagged behind, so the failover dropped the last minutes of writes.",
    ),
    (
        "Database failover",
        "Clients cached the old primary's address past failover because the DNS TTL was an hour.",
        "With an hour-long DNS TTL clients kept writing to the demoted primary after failover.",
    ),
    (
        "Cache stampede",
        "A cache flush during peak sent every request to the origin, which buckled under the herd.",
        "The thundering herd after the peak-time cache flush overwhelmed the origin.",
    ),
    (
        "Cache stampede",
        "All keys shared one expiry, so the whole catalogue cache expired at midnight together.",
        "Identical expiry on every key made the catalogue cache expire at once at midnight.",
    ),
    (
        "DNS misconfiguration",
        "A CNAME for the API pointed at the decommissioned cluster after the zone migration.",
        "The zone migration left the API's CNAME on the decommissioned cluster.",
    ),
    (
        "DNS misconfiguration",
        "The split-horizon resolver served internal records to mobile clients on the VPN.",
        "Mobile clients on the VPN got internal records from the split-horizon resolver.",
    ),
    (
        "Feature flag misfire",
        "The percentage rollout used the account id modulo, so every enterprise account got the flag.",
        "Rollout by account id modulo put every enterprise account into the flagged cohort.",
    ),
    (
        "Feature flag misfire",
        "A stale flag default in the mobile bundle re-enabled the retired checkout flow.",
        "The mobile bundle's stale flag default brought the retired checkout flow back.",
    ),
    (
        "Data corruption",
        "A currency rounding change wrote amounts in minor units twice, inflating ledger totals.",
        "Ledger totals were inflated: the rounding change converted amounts to minor units twice.",
    ),
    (
        "Data corruption",
        "Daylight saving shifted the batch window and the importer wrote duplicate daily rows.",
        "The importer ran twice across the daylight saving change and duplicated the daily rows.",
    ),
    (
        "Queue backlog",
        "A poison message was redelivered forever and blocked its partition's consumers.",
        "Consumers of one partition stalled on a poison message that kept being redelivered.",
    ),
    (
        "Queue backlog",
        "Autoscaling read queue depth from a metric that had stopped reporting, so consumers never scaled.",
        "The queue-depth metric behind autoscaling had stopped reporting; consumers stayed at minimum.",
    ),
    (
        "Rate limiting",
        "A shared API key counted every tenant against one quota and the partner throttled us all.",
        "Every tenant used one shared API key, so the partner's quota throttled all of them together.",
    ),
    (
        "Rate limiting",
        "Our own limiter keyed on the load balancer's address, so all clients shared one bucket.",
        "The limiter saw only the load balancer's address and put every client into the same bucket.",
    ),
]
# What went well in most reviews, in the same few words: words every write-up shares are no evidence.
WENT_WELL = [
    "The incident channel was opened quickly and the commander kept updates on schedule.",
    "Rollback finished quickly once the cause was clear; support was informed early.",
    "Alerts fired within minutes and the on-call engineer was paged without delay.",
    "Customer communication went out on time and the status page stayed current.",
]


def _review_notes(
    rng: random.Random, incidents: list[_Issue], reviews: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Review notes of the reviewed incidents and of the recurrences (what went well, what went wrong),
    and the labelled pairs of those incidents that `pir similar` is measured on.

    A pair (query, earlier incident) is the same problem when both notes name one of PROBLEMS; the
    others are near-misses, labelled by what they share: service and mode, service only, mode only, or
    only the generic words every review has. Only queries with an earlier incident of their problem count.
    """
    facilitators = {r["incident"].seq: r for r in reviews}
    noted = sorted(
        {
            inc.seq: inc
            for inc in incidents
            if (inc.seq in facilitators or inc.attrs.get("recurrence_of"))
            and inc.attrs["resolved"]
            and not inc.attrs.get("stage31")
        }.values(),
        key=lambda i: (i.attrs["started"], i.seq),
    )
    by_mode: dict[str, list[int]] = {}
    for n, (mode, *_) in enumerate(PROBLEMS):
        by_mode.setdefault(mode, []).append(n)
    problem: dict[int, int] = {}
    notes = []
    for inc in noted:
        a = inc.attrs
        anchor = a.get("recurrence_of")
        if anchor is not None and anchor.seq in problem:
            problem[inc.seq] = problem[anchor.seq]
        elif rng.random() < 0.8:
            problem[inc.seq] = rng.choice(by_mode[a["mode"]])
        else:
            problem[inc.seq] = rng.choice([n for n in range(len(PROBLEMS)) if PROBLEMS[n][0] != a["mode"]])
        review = facilitators.get(inc.seq)
        at = (review and review["meeting_at"]) or a["resolved"] + DAY
        if at > inc.snapshot:
            continue
        author = review["facilitator_user"]["displayName"] if review else a["commander"]["displayName"]
        wording = PROBLEMS[problem[inc.seq]][1 + rng.randrange(2)]
        for n, (segment, category, text) in enumerate(
            (("went_well", "well", rng.choice(WENT_WELL)), ("went_wrong", "wrong", wording))
        ):
            notes.append(
                {
                    "note_id": f"sample-{inc.key}-{n + 1}",
                    "incident_key": inc.key,
                    "segment": segment,
                    "category": category,
                    "text": text,
                    "author": author,
                    "created_at": _iso(at + n * MINUTE),
                }
            )
    written = {note["incident_key"] for note in notes}
    noted = [inc for inc in noted if inc.key in written]
    pairs = []
    for n, query in enumerate(noted):
        earlier = [d for d in noted[:n] if d.attrs["started"] < query.attrs["started"]]
        if not any(problem[d.seq] == problem[query.seq] for d in earlier):
            continue
        for d in earlier:
            same_service = d.attrs["service"] == query.attrs["service"]
            same_mode = d.attrs["mode"] == query.attrs["mode"]
            kind = (
                "same problem"
                if problem[d.seq] == problem[query.seq]
                else "service and mode only"
                if same_service and same_mode
                else "service only"
                if same_service
                else "mode only"
                if same_mode
                else "generic words only"
            )
            pairs.append({"query": query.key, "incident": d.key, "same_problem": kind == "same problem", "kind": kind})
    return notes, pairs


def counts(site: dict[str, Any]) -> dict[str, int]:
    """What a loader should find in the site: issues by kind, changelog, comments and side files."""
    kinds = [issue["fields"]["issuetype"]["name"] for issue in site["issues"]]
    histories = [h for issue in site["issues"] for h in issue["changelog"]["histories"]]
    return {
        "incidents": kinds.count("Incident"),
        "epics": kinds.count("Epic"),
        "actions": kinds.count("Task"),
        "issues": len(kinds),
        "changelog_histories": len(histories),
        "changelog_items": sum(len(h["items"]) for h in histories),
        "comments": sum(issue["fields"]["comment"]["total"] for issue in site["issues"]),
        "users": len(site["users"]),
        "reviews": len(site["reviews"]),
        "failure_modes": len(site["failure_modes"]),
        "chat_incidents": len(site["chat"]),
        "chat_messages": sum(len(v) for files in site["chat"].values() for p, v in files.items() if "/" in p),
        "alert_rows": sum(text.count("\n") - 1 for text in site["alerts"].values()),
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def _dump_issues(issues: list[dict[str, Any]]) -> str:
    """One issue per line: greppable, and json's fast C encoder only runs without ``indent``."""
    lines = (json.dumps(issue, sort_keys=True, ensure_ascii=False) for issue in issues)
    return '{"issues": [\n' + ",\n".join(lines) + "\n]}\n"


def write_sample(
    out_dir: Path, seed: int = DEFAULT_SEED, n_incidents: int = 264, as_of: dt.date = SNAPSHOT_DAY
) -> dict[str, int]:
    """Write the sample site for the day ``as_of`` to ``out_dir`` (byte-identical for one seed and day) and
    return its counts."""
    site = generate(seed, n_incidents, as_of)
    files: dict[str, str] = {
        "serverInfo.json": _dump(site["serverInfo"]),
        "field.json": _dump(site["fields"]),
        "users.json": _dump(site["users"]),
        "issues.json": _dump_issues(site["issues"]),
        "reviews.json": _dump(site["reviews"]),
        "failure_modes.json": _dump(site["failure_modes"]),
        "review_notes.json": _dump(site["review_notes"]),
    }
    for key, chat_files in site["chat"].items():
        files.update({f"chat/{key}/{path}": _dump(body) for path, body in chat_files.items()})
    files.update({f"alerts/{key}.csv": text for key, text in site["alerts"].items()})
    result = counts(site)
    files["manifest.json"] = _dump(
        {"seed": seed, "n_incidents": n_incidents, "counts": result, "files": sorted([*files, "manifest.json"])}
    )
    out_dir = Path(out_dir)
    previous = _listed_files(out_dir)
    write_all({out_dir / path: text for path, text in sorted(files.items())})
    _remove_stale(out_dir, previous, set(files))
    return result


def check_day(as_of: dt.date) -> None:
    """Refuse a snapshot day before Stage-31's review was over: the runbook's example keeps its dates."""
    if as_of < EARLIEST_DAY:
        raise InputError(
            f"sample day {as_of}: the sample needs a day from {EARLIEST_DAY} on (Stage-31, the"
            " runbook's example, was resolved on 2025-09-06); pass a later --as-of"
        )


def written_day(out_dir: Path) -> dt.date | None:
    """The snapshot day of the sample in ``out_dir`` (its serverInfo's serverTime), or None without one."""
    try:
        server_time = json.loads((Path(out_dir) / "serverInfo.json").read_text(encoding="utf-8"))["serverTime"]
        return dt.datetime.strptime(server_time, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC).date()
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _listed_files(out_dir: Path) -> list[str]:
    """The files an earlier run listed in its manifest; none when there is no manifest of ours."""
    try:
        return list(json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _remove_stale(out_dir: Path, previous: list[str], keep: set[str]) -> None:
    """Delete files an earlier run listed and this run does not write (another seed's chats)."""
    for name in previous:
        path = out_dir / name
        if name in keep or ".." in Path(name).parts or not path.is_file():
            continue
        path.unlink()
        for parent in path.relative_to(out_dir).parents[:-1]:  # empty chat/<KEY>/inc-N folders go too
            folder = out_dir / parent
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

"""A Jira site of any size whose issues are made when they are asked for, for ``FakeJira``.

``sample.generate`` plans the whole site at once (recurrences, reviews, ids in creation order), so a site of
100,000 incidents costs many GB and a long time before the first request. ``lazy_site`` instead makes each
*family* (an incident, its postmortem epic and actions) from the family's number and the seed alone, in the
shapes of the sample site (its field catalogue, users, statuses and options are taken from a small generated
sample) and with the sample's mix: Sev-0/1 incidents get an epic and 9-22 actions, some Sev-2 a few actions
linked directly, and one incident in twenty a changelog or comment list longer than Jira embeds (as
bench/bench_sync.py lengthens them). ``FakeJira`` serves it like any site; only its storage is lazy: a
family is made again when it is needed and not among the recently made ones, and what a test changes
(``update_issue``, ``create_issue``...) is kept beside the generated issues.

Numbering: family ``n`` (0-based) holds the ids ``FIRST_ID + BLOCK * n + j`` and the keys
``INC-(BLOCK * n + j + 1)``, ``j`` = 0 for the incident, 1 for the epic, 2.. for actions; the unused rest of a
block is like the gaps deleted issues leave in a real site's numbers.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any
from zoneinfo import ZoneInfo

from pirlib import sample

FIRST_ID = 100_000
BLOCK = 32  # ids per family: incident, epic, up to 30 actions
FAMILIES_KEPT = 512  # families made recently, kept for the pages that follow a search
START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
SPACING = dt.timedelta(minutes=37)  # between two incidents: 100,000 of them span about seven years
LINK_IDS = 5_000_000
HISTORY_IDS = 10_000_000  # 400 a family
COMMENT_IDS = 60_000_000  # 200 a family
LONG_SHARE = 0.05  # incidents with a long changelog, and (drawn apart) with many comments: the default
_ZONES: dict[str, ZoneInfo] = {}


def _ts(at: dt.datetime, zone: str) -> str:
    """Jira's timestamp in the author's zone (what ``strftime`` gives, at a fraction of its cost)."""
    local = at.astimezone(_ZONES.get(zone) or _ZONES.setdefault(zone, ZoneInfo(zone)))
    offset = int(local.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    sign, offset = ("-", -offset) if offset < 0 else ("+", offset)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:"
        f"{local.second:02d}.{local.microsecond // 1000:03d}{sign}{offset // 60:02d}{offset % 60:02d}"
    )


class _Shapes:
    """The sample site's catalogue and value shapes (users, statuses, options...), taken from a small sample."""

    def __init__(self, seed: int, long_share: float) -> None:
        self.long_share = long_share
        small = sample.generate(seed, 40)
        self.fields = small["fields"]
        self.users = small["users"]
        self.server_info = small["serverInfo"]
        self.statuses: dict[str, Any] = {}
        self.priorities: dict[str, Any] = {}
        self.types: dict[str, Any] = {}
        self.options: dict[tuple[str, str], Any] = {}
        self.components: dict[str, Any] = {}
        for issue in small["issues"]:
            f = issue["fields"]
            self.statuses.setdefault(f["status"]["name"], f["status"])
            self.priorities.setdefault(f["priority"]["name"], f["priority"])
            self.types.setdefault(f["issuetype"]["name"], f["issuetype"])
            for component in f.get("components") or []:
                self.components.setdefault(component["name"], component)
            for name, value in f.items():
                if name.startswith("customfield_") and isinstance(value, dict) and "value" in value:
                    self.options.setdefault((name, value["value"]), value)
        self.project = small["issues"][0]["fields"]["project"]
        # An issue's fields before its values: every field of the catalogue, null (as Jira stores them).
        self.blank: dict[str, Any] = {**{f["id"]: None for f in self.fields}, "project": self.project}
        self.people = [u for u in self.users if u.get("active", True)]
        missing = [s for s in ("Closed", "In Progress", "Done") if s not in self.statuses]
        if missing:
            raise RuntimeError(f"the small sample lacks statuses {missing}; make it bigger")

    def option(self, field_id: str, value: str) -> dict[str, Any]:
        found = self.options.get((field_id, value))
        if found is not None:
            return found
        # A value the small sample happened not to use: the same shape, an id of its own.
        oid = str(90000 + sum(map(ord, field_id + value)))
        return {
            "self": f"{sample.BASE_URL}/rest/api/2/customFieldOption/{oid}",
            "value": value,
            "id": oid,
            "disabled": False,
        }

    def status(self, name: str) -> dict[str, Any]:
        return self.statuses[name]

    def priority(self, name: str) -> dict[str, Any]:
        found = self.priorities.get(name)
        return found or {
            "self": f"{sample.BASE_URL}/rest/api/2/priority/{sample.PRIORITIES[name]}",
            "name": name,
            "id": sample.PRIORITIES[name],
        }

    def component(self, service: str) -> dict[str, Any]:
        return self.components.get(service) or {
            "self": f"{sample.BASE_URL}/rest/api/2/component/{service}",
            "id": str(10200 + list(sample.SERVICES).index(service)),
            "name": service,
        }


def family_of(issue_id: int) -> tuple[int, int]:
    """(family number, position in the family) of an id of the numbering."""
    return divmod(issue_id - FIRST_ID, BLOCK)


def key_of(family: int, position: int) -> str:
    return f"INC-{BLOCK * family + position + 1}"


class LazyIssues(MutableMapping[str, dict[str, Any]]):
    """Issue id -> issue of a lazy site of ``families`` incidents; what is stored into it (a changed or
    created issue) is kept and wins over the generated one."""

    def __init__(self, families: int, seed: int, shapes: _Shapes) -> None:
        self.families = families
        self.seed = seed
        self.shapes = shapes
        self.kept: dict[str, dict[str, Any]] = {}
        self._made: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self.key_to_id = _LazyKeys(self)

    @property
    def max_id(self) -> int:
        return max([FIRST_ID + BLOCK * self.families - 1, *map(int, self.kept)])

    def family(self, n: int) -> list[dict[str, Any]]:
        """The issues of family ``n`` as generated (the recent ones are kept, not made again)."""
        made = self._made.get(n)
        if made is None:
            made = _family(n, self.seed, self.shapes)
            self._made[n] = made
            if len(self._made) > FAMILIES_KEPT:
                self._made.popitem(last=False)
        else:
            self._made.move_to_end(n)
        return made

    def __getitem__(self, issue_id: str) -> dict[str, Any]:
        if issue_id in self.kept:
            return self.kept[issue_id]
        if not issue_id.isdigit():
            raise KeyError(issue_id)
        n, position = family_of(int(issue_id))
        if not 0 <= n < self.families:
            raise KeyError(issue_id)
        members = self.family(n)
        if position >= len(members):
            raise KeyError(issue_id)
        return members[position]

    def __setitem__(self, issue_id: str, issue: dict[str, Any]) -> None:
        self.kept[issue_id] = issue

    def __delitem__(self, issue_id: str) -> None:
        raise TypeError("a lazy site's issues are deleted as in Jira (FakeJira.delete_issue), not removed")

    def searchable(self) -> Iterator[dict[str, Any]]:
        """Every issue as a search's JQL reads it: without its text and timelines (the fields JQL compares
        are all there), unless it was changed or made recently; a fraction of the cost of ``values()``."""
        for n in range(self.families):
            members = self._made.get(n) or _family(n, self.seed, self.shapes, text=False)
            for issue in members:
                yield self.kept.get(issue["id"], issue)
        yield from (issue for issue_id, issue in self.kept.items() if not self._numbered(issue_id))

    def _numbered(self, issue_id: str) -> bool:
        return issue_id.isdigit() and 0 <= family_of(int(issue_id))[0] < self.families

    def __iter__(self) -> Iterator[str]:
        return (issue["id"] for issue in self.searchable())

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _LazyKeys(MutableMapping[str, str]):
    """Key -> id of a ``LazyIssues``, worked out from the numbering; moves and creations are kept."""

    def __init__(self, issues: LazyIssues) -> None:
        self.issues = issues
        self.kept: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key in self.kept:
            return self.kept[key]
        project, _, number = key.rpartition("-")
        if project != "INC" or not number.isdigit() or int(number) < 1:
            raise KeyError(key)
        n, position = divmod(int(number) - 1, BLOCK)
        if not 0 <= n < self.issues.families or position >= len(self.issues.family(n)):
            raise KeyError(key)
        return str(FIRST_ID + BLOCK * n + position)

    def __setitem__(self, key: str, issue_id: str) -> None:
        self.kept[key] = issue_id

    def __delitem__(self, key: str) -> None:
        del self.kept[key]

    def __iter__(self) -> Iterator[str]:
        for n in range(self.issues.families):
            for issue in self.issues.family(n):
                yield issue["key"]
        yield from (k for k in self.kept if not self._numbered(k))

    def _numbered(self, key: str) -> bool:
        project, _, number = key.rpartition("-")
        return project == "INC" and number.isdigit() and 0 < int(number) <= BLOCK * self.issues.families

    def __len__(self) -> int:
        return sum(1 for _ in self)


def lazy_site(incidents: int, seed: int = 31, long_share: float = LONG_SHARE) -> dict[str, Any]:
    """A site (what ``FakeJira`` takes) of ``incidents`` incident families made on request; ``long_share`` of
    the incidents have a changelog, and as many (drawn apart) a comment list, longer than Jira embeds."""
    shapes = _Shapes(seed, long_share)
    return {
        "serverInfo": shapes.server_info,
        "fields": shapes.fields,
        "users": shapes.users,
        "issues": LazyIssues(incidents, seed, shapes),
    }


# --- one family ------------------------------------------------------------------------------------------

_SEV_WEIGHTS = [*sample.SEVERITY_SHARE, 1 - sum(sample.SEVERITY_SHARE)]
_SERVICES = list(sample.SERVICES)
_ITEM_KEYS = ("field", "fieldtype", "from", "fromString", "to", "toString")


def _family(n: int, seed: int, shapes: _Shapes, *, text: bool = True) -> list[dict[str, Any]]:
    """Family ``n``'s issues. Two random streams: ``head`` decides what JQL reads (types, labels, times,
    statuses, how many actions), ``body`` the text and the timelines; ``text=False`` leaves the body out
    (a search's pass over every issue needs no more), and the head comes out the same either way."""
    head = random.Random(seed * 1_000_003 + 2 * n)
    sev = head.choices(sample.SEVERITIES, _SEV_WEIGHTS)[0]
    service = head.choice(_SERVICES)
    mode = head.choice(sample.MODES)
    urgent = sev in ("Sev-0", "Sev-1")
    commander, *responders = head.sample(shapes.people, 4)
    reporter = head.choice(shapes.people)
    started = START + SPACING * n + dt.timedelta(seconds=head.uniform(0, 600))
    created = started + dt.timedelta(minutes=head.uniform(2, 25) if urgent else head.uniform(5, 360))
    investigating = created + dt.timedelta(minutes=head.uniform(1, 15))
    mitigated = investigating + dt.timedelta(minutes=head.uniform(20, 360))
    resolved = mitigated + dt.timedelta(minutes=head.uniform(30, 4320))
    closed = resolved + dt.timedelta(hours=head.uniform(20, 240))  # the last change: every other comes before
    version = f"v{head.randint(2, 9)}.{head.randint(0, 40)}.{head.randint(0, 9)}"
    summary = sample.SUMMARIES[mode].format(s=service, v=version)
    if head.random() < 0.03:
        summary += " — " + head.choice(sample.STRANGE_TEXT)
    handoff = head.random() < 0.35
    impact = urgent or head.random() < 0.3
    regulatory = urgent and head.random() < 0.2
    actions = head.randint(9, 22) if urgent else head.randint(1, 4) if sev == "Sev-2" and head.random() < 0.15 else 0
    epic_linked = head.random() > 0.1
    epic_at = closed + dt.timedelta(hours=head.uniform(1, 12))
    label = f"inc{BLOCK * n + 1}"
    zone = reporter["timeZone"]
    ids = [str(FIRST_ID + BLOCK * n + j) for j in range(BLOCK)]
    body = random.Random(seed * 1_000_003 + 2 * n + 1) if text else None

    incident = _issue(
        ids[0],
        key_of(n, 0),
        {
            "summary": summary,
            "issuetype": shapes.types["Incident"],
            "status": shapes.status("Closed"),
            "priority": shapes.priority(sample.SEVERITY_PRIORITY[sev]),
            "labels": sorted([label] + (["postmortem"] if urgent else [])),
            "components": [shapes.component(service)],
            "assignee": responders[0] if handoff else commander,
            "reporter": reporter,
            "creator": reporter,
            "created": _ts(created, zone),
            "updated": _ts(closed, zone),
            "resolutiondate": _ts(resolved, zone),
            "customfield_10010": shapes.option("customfield_10010", sev),
            "customfield_10011": shapes.option("customfield_10011", mode),
            "customfield_10023": commander,
            "customfield_10024": shapes.option("customfield_10024", "Yes" if impact else "No"),
            "customfield_10025": shapes.option("customfield_10025", "Required" if regulatory else "Not required"),
            "customfield_10026": _ts(started, zone),
        },
        shapes,
    )
    if body is not None:
        _incident_text(
            incident,
            body,
            n,
            sev,
            service,
            mode,
            version,
            impact,
            (commander, responders, handoff),
            (created, investigating, mitigated, resolved, closed),
            shapes.long_share,
        )
    issues = [incident]
    if urgent:
        issues.append(
            _issue(
                ids[1],
                key_of(n, 1),
                {
                    "summary": f"Postmortem actions: {summary}",
                    "issuetype": shapes.types["Epic"],
                    "status": shapes.status("In Progress"),
                    "priority": shapes.priority("Medium"),
                    "labels": ["postmortem", label],
                    "components": [shapes.component(service)],
                    "assignee": reporter,
                    "reporter": reporter,
                    "creator": reporter,
                    "created": _ts(epic_at, zone),
                    "updated": _ts(epic_at, zone),
                    "customfield_10015": f"PM {incident['key']} {service}",
                },
                shapes,
            )
        )
        if epic_linked:
            _link(incident, issues[1], LINK_IDS + BLOCK * n + 1)
    history_id = HISTORY_IDS + 400 * n + 300  # after the incident's (at most 270)
    for position in range(len(issues), len(issues) + actions):
        at = epic_at + dt.timedelta(minutes=head.uniform(1, 180))
        kind = head.choice(sample.ACTION_TYPES)
        owner = head.choice([commander, *responders]) if head.random() > 0.08 else None
        due = (at + dt.timedelta(days=head.randint(7, 110))).date()
        begun = at + dt.timedelta(hours=head.uniform(1, 48))
        done = begun + dt.timedelta(days=head.uniform(1, 60)) if head.random() < 0.55 else None
        author = owner or reporter
        steps = [(begun, "To Do", "In Progress")] + ([(done, "In Progress", "Done")] if done else [])
        action = _issue(
            ids[position],
            key_of(n, position),
            {
                "summary": head.choice(sample.ACTION_SUMMARIES[kind]).format(s=service),
                "issuetype": shapes.types["Task"],
                "status": shapes.status("Done" if done else "In Progress"),
                "priority": shapes.priority(head.choice(["High", "Medium", "Low"])),
                "labels": ["postmortem", label],
                "assignee": owner,
                "reporter": reporter,
                "creator": reporter,
                "created": _ts(at, zone),
                "updated": _ts(steps[-1][0], zone),
                "resolutiondate": _ts(done, zone) if done else None,
                "duedate": due.isoformat(),
                "customfield_10014": key_of(n, 1) if urgent else None,
                "customfield_10020": f"*Metric:* p99 of *{service}* under 300 ms for {head.choice([7, 14, 30])} days",
                "customfield_10021": f"h3. Verification\n# Inject _{mode.lower()}_ in staging\n# Confirm the alert",
                "customfield_10022": shapes.option("customfield_10022", kind),
                "customfield_10027": shapes.option("customfield_10027", sample.SERVICES[service]),
                "description": f"Follow-up of {incident['key']}.\n\nh3. Context\n_{summary}_",
            },
            shapes,
        )
        if text:
            for when, old, new in steps:
                history_id += 1
                action["changelog"]["histories"].append(
                    _history(history_id, when, author, [("status", "jira", None, old, None, new)])
                )
            action["changelog"]["total"] = action["changelog"]["maxResults"] = len(steps)
        if not urgent:
            _link(incident, action, LINK_IDS + BLOCK * n + position)
        issues.append(action)
    return issues


def _incident_text(
    incident: dict[str, Any],
    body: random.Random,
    n: int,
    sev: str,
    service: str,
    mode: str,
    version: str,
    impact: bool,
    people: tuple[Any, ...],
    times: tuple[dt.datetime, ...],
    long_share: float,
) -> None:
    """The incident's description, changelog and comments, all before its last change (``closed``)."""
    commander, responders, handoff = people
    created, investigating, mitigated, resolved, closed = times
    incident["fields"]["description"] = _description(body, service, mode, version, impact)
    log: list[tuple[dt.datetime, dict[str, Any], list[tuple[Any, ...]]]] = []
    status = "Open"
    for at, new in (
        (investigating, "Investigating"),
        (mitigated, "Mitigated"),
        (resolved, "Resolved"),
        (closed, "Closed"),
    ):
        items = [("status", "jira", None, status, None, new)]
        if new == "Investigating":
            items.append(("assignee", "jira", None, None, commander["name"], commander["displayName"]))
        if new == "Resolved":
            items.append(("resolution", "jira", None, None, "10000", "Done"))
        log.append((at, commander, items))
        status = new
    if body.random() < 0.25:
        other = sample.SEVERITIES[(sample.SEVERITIES.index(sev) + 1) % 4]
        log.append(
            (
                investigating + dt.timedelta(minutes=body.uniform(1, 60)),
                commander,
                [("Severity", "custom", None, other, None, sev)],
            )
        )
    if handoff:
        log.append(
            (
                investigating + dt.timedelta(minutes=body.uniform(10, 120)),
                commander,
                [("assignee", "jira", None, commander["displayName"], None, responders[0]["displayName"])],
            )
        )
    if body.random() < long_share:  # longer than Jira embeds in a search answer
        for k in range(body.randint(60, 260)):
            log.append(
                (
                    investigating + dt.timedelta(seconds=30 * (k + 1)),
                    body.choice(responders),
                    [("labels", "jira", None, "", None, f"bulk-{k}")],
                )
            )
    log.sort(key=lambda h: h[0])
    history_id = HISTORY_IDS + 400 * n
    histories = incident["changelog"]["histories"]
    for at, author, items in log:
        history_id += 1
        histories.append(_history(history_id, at, author, items))
    incident["changelog"]["total"] = incident["changelog"]["maxResults"] = len(histories)

    low, high = {"Sev-0": (4, 12), "Sev-1": (2, 12), "Sev-2": (0, 4), "Sev-3": (0, 2)}[sev]
    count = body.randint(low, high) if body.random() >= long_share else body.randint(21, 140)
    comments = incident["fields"]["comment"]["comments"]
    comment_id = COMMENT_IDS + 200 * n
    for at in sorted(created + dt.timedelta(minutes=body.uniform(1, 600)) for _ in range(count)):
        author = body.choice([commander, *responders])
        comment_id += 1  # ids grow with time, as in Jira's database
        text = body.choice(sample.COMMENTS).format(
            s=service, p=round(body.uniform(0.1, 5), 1), m=mode.lower(), x=body.choice(sample.STRANGE_TEXT)
        )
        stamp = _ts(at, author["timeZone"])
        comments.append(
            {
                "id": str(comment_id),
                "body": text,
                "author": author,
                "updateAuthor": author,
                "self": f"{sample.BASE_URL}/rest/api/2/issue/{incident['id']}/comment/{comment_id}",
                "created": stamp,
                "updated": stamp,
            }
        )
    incident["fields"]["comment"]["total"] = incident["fields"]["comment"]["maxResults"] = len(comments)


def _history(history_id: int, at: dt.datetime, author: dict[str, Any], items: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {
        "id": str(history_id),
        "author": author,
        "created": _ts(at, author["timeZone"]),
        "items": [dict(zip(_ITEM_KEYS, item)) for item in items],
    }


def _description(rng: random.Random, service: str, mode: str, version: str, urgent: bool) -> str:
    return (
        f"h3. Summary\n{mode} affecting *{service}*.\n"
        f"h3. Impact\n* Customer impact: {'Yes' if urgent else 'No'}\n"
        f"* Error rate peaked at {rng.uniform(2, 60):.1f} %\n"
        f"h3. Links\n* [Grafana dashboard|https://grafana.example.com/d/{service}/overview]\n"
        f"* [Runbook|https://wiki.example.com/display/OPS/{service}]\n"
        f"{{code}}\nERROR {service} request failed: upstream returned 503 ({version})\n{{code}}"
    )


def _issue(issue_id: str, key: str, values: dict[str, Any], shapes: _Shapes) -> dict[str, Any]:
    fields = dict(shapes.blank)
    fields.update(
        {
            "issuelinks": [],
            "subtasks": [],
            "fixVersions": [],
            "versions": [],
            "attachment": [],
            "components": [],
            "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
        }
    )
    fields.update(values)
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue_id,
        "self": f"{sample.BASE_URL}/rest/api/2/issue/{issue_id}",
        "key": key,
        "fields": fields,
        "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []},
    }


def _link(outward: dict[str, Any], inward: dict[str, Any], link_id: int) -> None:
    kind = {
        "id": "10003",
        "name": "Relates",
        "inward": "relates to",
        "outward": "relates to",
        "self": f"{sample.BASE_URL}/rest/api/2/issueLinkType/10003",
    }

    def ref(issue: dict[str, Any]) -> dict[str, Any]:
        f = issue["fields"]
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": issue["self"],
            "fields": {k: f[k] for k in ("summary", "status", "priority", "issuetype")},
        }

    outward["fields"]["issuelinks"].append({"id": str(link_id), "type": kind, "inwardIssue": ref(inward)})
    inward["fields"]["issuelinks"].append({"id": str(link_id), "type": kind, "outwardIssue": ref(outward)})


def lazy_server(
    flavour: str = "datacenter",
    incidents: int = 1000,
    seed: int = 31,
    latency_ms: float = 0.0,
    long_share: float = LONG_SHARE,
    search_page: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """A ``FakeJiraProcess`` factory: a ``FakeJira`` serving a lazy site (``search_page``: the largest search
    page it grants, else Jira's), and what the caller may want to know.

    The two searches of a first sync with the default settings are answered once before the site is
    announced: a search's first page goes over every issue (about a minute at 100,000 incidents), which
    would otherwise land in the sync's first request of each search and could outlast its read timeout."""
    from pirlib.config import Settings
    from pirlib.jira_sync.extract import action_query, incident_query
    from support.fake_jira import FakeJira

    pages = {"dc_search_page": search_page, "cloud_search_page": search_page} if search_page else {}
    server = FakeJira(lazy_site(incidents, seed, long_share), flavour=flavour, latency=latency_ms / 1000, **pages)
    settings = Settings()
    for query in (action_query(settings, None, "UTC"), incident_query(settings, None, "UTC")):
        server.search_ids(query)
    return server, {"incidents": incidents}

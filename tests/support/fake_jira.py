"""A Jira-compatible HTTP server on 127.0.0.1 for tests and benchmarks (Cloud and Data Center flavours).

It serves a *site*: ``{"serverInfo", "fields", "users", "issues"}`` where every issue is stored the way
``GET /rest/api/2/issue/{id}?expand=changelog&fields=*all`` returns it on Data Center (v2 wiki text, Epic
Link custom field, users with name/key/accountId), but with the complete changelog and all comments
embedded (``pirlib.sample.generate`` makes such sites; ``tiny_site`` below makes a small one by hand).
From that it answers what real Jira answers, including what naive loaders get wrong:

- Data Center: ``/rest/api/2/search`` with ``startAt``/``maxResults``/``total``; the page size is capped
  (50) whatever the client asks, so the client has to read ``maxResults`` back. No ``/search/jql``, no
  ``/rest/api/3``, and (by default) no ``/issue/{id}/changelog`` (older DC lacks it); issue GET returns
  the whole changelog.
- Cloud: ``/rest/api/{2,3}/search/jql`` with ``nextPageToken``/``isLast`` and no ``total``; only ids
  unless ``fields`` is given; the old ``/search`` is 410 Gone. Issues are converted on the fly: ADF
  bodies on v3, ``parent`` instead of Epic Link, users with ``accountId`` only. Search results are
  eventually consistent: an issue changed with ``lag=N`` stays out of the next N searches.
- Embedded changelogs are truncated (Cloud ``/search/jql``: 40 histories, DC search and Cloud issue GET:
  100) with a truthful ``total``; embedded comments are truncated at 20; ``/issue/{id}/changelog`` and
  ``/issue/{id}/comment`` page.
- Auth: Basic (e-mail + API token) on Cloud, Bearer (PAT) on Data Center; anything else is 401.
- Fault injection by request pattern: 429 with ``Retry-After`` in seconds or as an HTTP date, 503,
  500/502/504, a connection dropped mid-response or before it, a slow response; key moves, deletions.
- Request counting by endpoint (``GET /rest/api/2/issue/{id}/comment``) and a request log.
- Writes (what ``pir push`` uses): ``POST /issue`` with Jira's field validation and 400 bodies
  (``{"errorMessages": [], "errors": {"labels": "Field 'labels' cannot be set. ..."}}``), ADF required on
  v3 for rich text fields, ``parent`` on Cloud and the Epic Link field on DC, ``update.issuelinks`` and
  ``properties`` in the create body; ``PUT /issue/{id}`` (fields, ``update.labels``); issue entity
  properties; ``POST /issueLink``; ``/user/search`` (Cloud ``query=``, DC ``username=``). New issues can be
  kept out of Cloud searches for a while (``create_lag``), as Cloud's index lags; ``reconcileIssues`` ids
  are always found. The ``lost`` fault carries the request out and then drops the connection unanswered.
- ``FakeJiraProcess`` serves a site from a child process, for benchmarks that time the client's process.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import email.utils
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from support.jira_samples import jira_sample

CLOUD_EMAIL = "pir-bot@example.com"
CLOUD_TOKEN = "cloud-api-token-3f9a1c0e"
DC_PAT = "dc-pat-NzQ5MDEyMzQ1Njc4OkQ2"

DC_SEARCH_PAGE = 50
CLOUD_SEARCH_PAGE = 100
CLOUD_SEARCH_CHANGELOG = 40
ISSUE_GET_CHANGELOG = 100
EMBEDDED_COMMENTS = 20
CHANGELOG_PAGE = 100
COMMENT_PAGE = 100

_JIRA_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"


def parse_jira_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, _JIRA_TIME)


def format_jira_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


# --------------------------------------------------------------------------------------------------------
# JQL: the subset pir sends (and a bit more), evaluated against stored issues.

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|=|>|<|~|\(|\)|,)"""
    r"""|(?P<word>[^\s=!<>~(),"']+))"""
)


class JqlError(ValueError):
    pass


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    jql = jql.strip()
    while pos < len(jql):
        match = _TOKEN.match(jql, pos)
        if not match or match.end() == pos:
            if jql[pos:].strip() == "":
                break
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}")
        pos = match.end()
        if match.group("str") is not None:
            raw = match.group("str")[1:-1]
            out.append(("str", re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


class _Parser:
    def __init__(self, jql: str) -> None:
        self.toks = _tokens(jql)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def kw(self, word: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok is not None and tok[0] == "word" and tok[1].upper() == word

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise JqlError("Error in the JQL Query: the query ended unexpectedly")
        self.i += 1
        return tok

    def parse(self) -> tuple[Any, list[tuple[str, bool]]]:
        expr = None
        if self.peek() is not None and not (self.kw("ORDER") and self.kw("BY", 1)):
            expr = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.kw("ORDER"):
            self.take()
            if not self.kw("BY"):
                raise JqlError("Error in the JQL Query: expected BY after ORDER")
            self.take()
            while True:
                name = self.take()[1].lower()
                desc = False
                if self.kw("ASC") or self.kw("DESC"):
                    desc = self.take()[1].upper() == "DESC"
                order.append((name, desc))
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                break
        if self.peek() is not None:
            raise JqlError(f"Error in the JQL Query: unexpected {self.peek()[1]!r}")
        return expr, order

    def or_expr(self) -> Any:
        parts = [self.and_expr()]
        while self.kw("OR"):
            self.take()
            parts.append(self.and_expr())
        return ("or", parts) if len(parts) > 1 else parts[0]

    def and_expr(self) -> Any:
        parts = [self.not_expr()]
        while self.kw("AND"):
            self.take()
            parts.append(self.not_expr())
        return ("and", parts) if len(parts) > 1 else parts[0]

    def not_expr(self) -> Any:
        if self.kw("NOT") and not self.kw("IN", 1):
            self.take()
            return ("not", self.not_expr())
        if self.peek() == ("op", "("):
            self.take()
            inner = self.or_expr()
            if self.take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: expected )")
            return inner
        return self.clause()

    def clause(self) -> Any:
        kind, name = self.take()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: expected a field, got {name!r}")
        if self.kw("NOT") and self.kw("IN", 1):
            self.take(), self.take()
            op = "not in"
        elif self.kw("IN"):
            self.take()
            op = "in"
        elif self.kw("IS") and self.kw("NOT", 1):
            self.take(), self.take()
            op = "is not"
        elif self.kw("IS"):
            self.take()
            op = "is"
        else:
            tok = self.take()
            if tok[0] != "op":
                raise JqlError(f"Error in the JQL Query: expected an operator after {name!r}")
            op = tok[1]
        if op in ("in", "not in"):
            if self.take() != ("op", "("):
                raise JqlError("Error in the JQL Query: expected ( after IN")
            values = []
            while True:
                values.append(self.take()[1])
                sep = self.take()
                if sep == ("op", ")"):
                    break
                if sep != ("op", ","):
                    raise JqlError("Error in the JQL Query: expected , or )")
            return ("clause", name, op, values)
        return ("clause", name, op, [self.take()[1]])


def _searches_text(expr: Any) -> bool:
    """Whether a parsed JQL expression has a text clause (``~``, ``!~``)."""
    if expr is None:
        return False
    if expr[0] in ("and", "or"):
        return any(_searches_text(e) for e in expr[1])
    if expr[0] == "not":
        return _searches_text(expr[1])
    return expr[2] in ("~", "!~")


def _parse_jql_date(text: str, tz: dt.tzinfo) -> dt.datetime:
    for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise JqlError(
        f"Error in the JQL Query: Date value '{text}' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'"
    )


# --------------------------------------------------------------------------------------------------------
# Faults


@dataclass
class Fault:
    """Answer requests matching ``pattern`` (a regex searched in ``"GET /rest/api/2/search?..."``) badly.

    kind: "429", "503", "500", "502", "504", "401", "drop" (headers and half the body, then close),
    "reset" (close without answering), "slow" (sleep ``delay`` s, then answer normally), "lost" (carry the
    request out, e.g. create the issue, then close without answering).
    ``retry_after``: "2" (seconds) or "date:2" (an HTTP date 2 s ahead). ``skip`` lets that many matching
    requests through first (to fail midway); ``times`` is how many it spoils (-1: all). ``carry_out``: a
    status fault answers after the request was carried out (a proxy's 502/503 after Jira created the issue).
    """

    pattern: str
    kind: str
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0
    skip: int = 0
    hits: int = 0
    carry_out: bool = False

    def take(self, line: str) -> bool:
        if self.times == 0 or not re.search(self.pattern, line):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.times > 0:
            self.times -= 1
        self.hits += 1
        return True


# --------------------------------------------------------------------------------------------------------
# The site


_SYSTEM_FIELDS = frozenset(
    {
        "summary",
        "issuetype",
        "project",
        "status",
        "priority",
        "labels",
        "components",
        "assignee",
        "reporter",
        "created",
        "updated",
        "resolutiondate",
        "duedate",
        "issuelinks",
        "description",
        "comment",
    }
)


def _endpoint(method: str, path: str) -> str:
    parts = path.split("/")
    folded = [
        "{id}" if re.match(r"^(\d+|[A-Za-z][A-Za-z0-9_]*-\d+)$", p) and (n == 0 or parts[n - 1] != "api") else p
        for n, p in enumerate(parts)
    ]
    return f"{method} {'/'.join(folded)}"


class FakeJira:
    """A Jira site in a thread. Use as a context manager; ``url`` is its base URL."""

    def __init__(
        self,
        site: dict[str, Any],
        *,
        flavour: str = "datacenter",
        user_tz: str = "America/Los_Angeles",
        dc_search_page: int = DC_SEARCH_PAGE,
        cloud_search_page: int = CLOUD_SEARCH_PAGE,
        dc_changelog_endpoint: bool = False,
        context_path: str = "",
        latency: float = 0.0,
    ) -> None:
        if flavour not in ("cloud", "datacenter"):
            raise ValueError("flavour must be 'cloud' or 'datacenter'")
        self.flavour = flavour
        self.cloud = flavour == "cloud"
        self.tz = ZoneInfo(user_tz)
        self.user_tz = user_tz
        self.dc_search_page = dc_search_page
        self.cloud_search_page = cloud_search_page
        self.dc_changelog_endpoint = dc_changelog_endpoint
        self.context_path = context_path.rstrip("/")
        # Seconds each answer takes besides the work (network round trip + Jira's per-request overhead):
        # loopback is ~0, a real site is tens to hundreds of ms. Slept without holding any lock.
        self.latency = latency
        self.lock = threading.RLock()
        self.counts: Counter[str] = Counter()
        self.log: list[str] = []
        self.faults: list[Fault] = []
        self.lag: dict[str, int] = {}
        self.deleted: set[str] = set()
        # A captured search page to answer every search with (for the realism samples), or None.
        self.canned_search: dict[str, Any] | None = None
        self._search_cache: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
        self._mutations = 0
        self.server_info = dict(site.get("serverInfo") or {})
        self.fields: list[dict[str, Any]] = copy.deepcopy(site["fields"])
        self.users: list[dict[str, Any]] = copy.deepcopy(site.get("users") or [])
        self.issues: MutableMapping[str, dict[str, Any]]
        self.key_to_id: MutableMapping[str, str]
        if isinstance(site["issues"], MutableMapping):
            # A store that makes issues on request (support.lazy_jira): a site of any size in little memory.
            self.issues, self.key_to_id = site["issues"], site["issues"].key_to_id
            self._next_id = site["issues"].max_id + 1
        else:
            self.issues, self.key_to_id = {}, {}
            for issue in site["issues"]:
                issue = copy.deepcopy(issue)
                self.issues[str(issue["id"])] = issue
                self.key_to_id[issue["key"]] = str(issue["id"])
            self._next_id = max((int(i) for i in self.issues), default=10000) + 1
        self._next_history = 10_000_000
        self._name_to_field = {f["name"].lower(): f["id"] for f in self.fields if f.get("name")}
        self.epic_link_id = next((f["id"] for f in self.fields if f.get("name") == "Epic Link"), None)
        self._textarea = {
            f["id"] for f in self.fields if str((f.get("schema") or {}).get("custom", "")).endswith(":textarea")
        }
        self._user_by_name = {u.get("name"): u for u in self.users if u.get("name")}
        self.myself = {
            "name": "pir-bot",
            "key": "JIRAUSER99999",
            "accountId": "712020:pir-bot-0000",
            "displayName": "pir sync",
            "emailAddress": CLOUD_EMAIL,
            "active": True,
            "timeZone": user_tz,
        }
        # Writes: fields a create or edit may not set (Jira's "not on the appropriate screen"), how many
        # searches a newly created issue stays invisible for (Cloud only), issue types and priorities.
        self.unsettable: set[str] = set()
        # Fields left out of every issue in answers: hidden in the field configuration, or cut by a proxy
        # ("changelog": the expanded changelog).
        self.hidden_fields: set[str] = set()
        self.create_lag = 0
        self.issue_types = {"Task": "10002", "Epic": "10000", "Bug": "10004", "Story": "10001", "Incident": "10100"}
        self.priorities = ["Highest", "High", "Medium", "Low", "Lowest"]
        self.properties: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []  # ids of issues created through the API, in order
        self._next_link = 800000
        self.epic_name_id = next((f["id"] for f in self.fields if f.get("name") == "Epic Name"), None)
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> FakeJira:
        handler = type("Handler", (_Handler,), {"site": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{self.context_path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- credentials the tests use ---------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        """Settings keyword arguments that authenticate against this flavour."""
        if self.cloud:
            return {"jira_email": CLOUD_EMAIL, "jira_token": CLOUD_TOKEN}
        return {"jira_pat": DC_PAT}

    # --- test controls ---------------------------------------------------------------------------------

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
            self.log.clear()

    def add_fault(self, pattern: str, kind: str, **options: Any) -> Fault:
        fault = Fault(pattern, kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def now(self) -> str:
        return format_jira_time(dt.datetime.now(dt.UTC), self.tz)

    def _touch(self, issue: dict[str, Any], lag: int) -> None:
        self._mutations += 1
        self.issues[str(issue["id"])] = issue  # a lazy store keeps a changed issue from now on
        issue["fields"]["updated"] = self.now()
        if lag:
            self.lag[str(issue["id"])] = lag

    def resolve(self, id_or_key: str) -> dict[str, Any] | None:
        ident = self.key_to_id.get(str(id_or_key), str(id_or_key))
        if ident in self.deleted:
            return None
        return self.issues.get(ident)

    def update_issue(
        self,
        id_or_key: str,
        *,
        fields: dict[str, Any] | None = None,
        comment: str | None = None,
        lag: int = 0,
    ) -> dict[str, Any]:
        """Change fields (recording changelog items) and/or add a comment; bump ``updated`` to now."""
        with self.lock:
            issue = self.resolve(id_or_key)
            assert issue is not None, id_or_key
            now = self.now()
            if fields:
                items = []
                for name, value in fields.items():
                    old = issue["fields"].get(name)
                    issue["fields"][name] = value
                    items.append(
                        {
                            "field": name,
                            "fieldtype": "jira" if not name.startswith("customfield_") else "custom",
                            "from": None,
                            "fromString": _display(old),
                            "to": None,
                            "toString": _display(value),
                        }
                    )
                self._add_history(issue, items, now)
            if comment is not None:
                container = issue["fields"].setdefault("comment", {"comments": [], "startAt": 0})
                self._next_history += 1
                container["comments"].append(
                    {
                        "id": str(self._next_history),
                        "author": copy.deepcopy(self.myself),
                        "updateAuthor": copy.deepcopy(self.myself),
                        "body": comment,
                        "created": now,
                        "updated": now,
                    }
                )
                container["total"] = container["maxResults"] = len(container["comments"])
            self._touch(issue, lag)
            return issue

    def add_histories(self, id_or_key: str, count: int) -> None:
        """Append ``count`` status-flip histories (to grow a changelog past the embedded caps)."""
        with self.lock:
            issue = self.resolve(id_or_key)
            assert issue is not None
            for n in range(count):
                self._add_history(
                    issue,
                    [
                        {
                            "field": "labels",
                            "fieldtype": "jira",
                            "from": None,
                            "fromString": "",
                            "to": None,
                            "toString": f"bulk-{n}",
                        }
                    ],
                    self.now(),
                )
            self._touch(issue, 0)

    def _add_history(self, issue: dict[str, Any], items: list[dict[str, Any]], when: str) -> None:
        self._next_history += 1
        log = issue.setdefault("changelog", {"startAt": 0, "histories": []})
        log["histories"].append(
            {
                "id": str(self._next_history),
                "author": copy.deepcopy(self.myself),
                "created": when,
                "items": items,
            }
        )
        log["total"] = log["maxResults"] = len(log["histories"])

    def move_issue(self, id_or_key: str, new_key: str, *, lag: int = 0) -> dict[str, Any]:
        """Move an issue to another project: new key, same id; the old key still resolves, as in Jira."""
        with self.lock:
            issue = self.resolve(id_or_key)
            assert issue is not None
            old_key = issue["key"]
            project = new_key.rsplit("-", 1)[0]
            issue["key"] = new_key
            issue["fields"]["project"] = {
                **(issue["fields"].get("project") or {}),
                "key": project,
                "name": project,
                "id": str(20000 + sum(map(ord, project))),
            }
            self.key_to_id[new_key] = str(issue["id"])
            self._add_history(
                issue,
                [
                    {
                        "field": "Key",
                        "fieldtype": "jira",
                        "from": None,
                        "fromString": old_key,
                        "to": None,
                        "toString": new_key,
                    },
                    {
                        "field": "project",
                        "fieldtype": "jira",
                        "from": None,
                        "fromString": old_key.rsplit("-", 1)[0],
                        "to": None,
                        "toString": project,
                    },
                ],
                self.now(),
            )
            self._touch(issue, lag)
            return issue

    def delete_issue(self, id_or_key: str) -> None:
        with self.lock:
            issue = self.resolve(id_or_key)
            assert issue is not None
            self.deleted.add(str(issue["id"]))
            self._mutations += 1

    def create_issue(self, issue: dict[str, Any], *, lag: int = 0) -> dict[str, Any]:
        with self.lock:
            issue = copy.deepcopy(issue)
            issue["id"] = str(self._next_id)
            self._next_id += 1
            self.issues[issue["id"]] = issue
            self.key_to_id[issue["key"]] = issue["id"]
            issue["fields"]["created"] = self.now()
            self._touch(issue, lag)
            return issue

    def live_issues(self) -> list[dict[str, Any]]:
        with self.lock:
            return [i for k, i in self.issues.items() if k not in self.deleted]

    def issues_with_label(self, label: str) -> list[dict[str, Any]]:
        """Live issues carrying ``label`` (what a test counts to prove there is no duplicate)."""
        with self.lock:
            return [i for i in self.live_issues() if label in (i["fields"].get("labels") or [])]

    def projects(self) -> set[str]:
        with self.lock:
            return {str((i["fields"].get("project") or {}).get("key")) for i in self.issues.values()} | {"INC"}

    def link(self, outward: dict[str, Any], inward: dict[str, Any], type_name: str = "Relates") -> None:
        """Link two issues, stored on both sides as Jira returns them."""
        self._next_link += 1
        kind = {"id": "10003", "name": type_name, "inward": type_name.lower(), "outward": type_name.lower()}

        def ref(issue: dict[str, Any]) -> dict[str, Any]:
            f = issue["fields"]
            return {
                "id": str(issue["id"]),
                "key": issue["key"],
                "fields": {k: copy.deepcopy(f.get(k)) for k in ("summary", "status", "priority", "issuetype")},
            }

        outward["fields"].setdefault("issuelinks", []).append(
            {"id": str(self._next_link), "type": kind, "inwardIssue": ref(inward)}
        )
        inward["fields"].setdefault("issuelinks", []).append(
            {"id": str(self._next_link), "type": kind, "outwardIssue": ref(outward)}
        )
        self._mutations += 1
        for issue in (outward, inward):
            self.issues[str(issue["id"])] = issue

    def find_user(self, ref: Any) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        for user in self.users:
            if self.cloud and ref.get("accountId") and user.get("accountId") == ref["accountId"]:
                return user
            if not self.cloud and ref.get("name") and user.get("name") == ref["name"]:
                return user
        return None

    # --- writes (what `pir push` sends) ------------------------------------------------------------------

    _SYSTEM_SETTABLE = {
        "project",
        "issuetype",
        "summary",
        "description",
        "labels",
        "assignee",
        "reporter",
        "priority",
        "duedate",
        "parent",
        "components",
        "environment",
    }

    def _settable(self) -> set[str]:
        ids = {f["id"] for f in self.fields if str(f.get("id", "")).startswith("customfield_")}
        if self.cloud and self.epic_link_id:
            ids.discard(self.epic_link_id)  # Cloud sets the epic through `parent`
        return (self._SYSTEM_SETTABLE | ids) - self.unsettable

    def _rich_text_fields(self) -> set[str]:
        return {"description", "environment", *self._textarea}

    def validate_fields(self, fields: dict[str, Any], api: str, *, creating: bool) -> tuple[list[str], dict[str, str]]:
        """Jira's checks on a create or edit: (errorMessages, errors by field), both empty when fine."""
        messages: list[str] = []
        errors: dict[str, str] = {}
        settable = self._settable()
        for name in fields:
            if name not in settable:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        if creating:
            project = fields.get("project") or {}
            if str(project.get("key") or project.get("id") or "") not in self.projects():
                errors["project"] = "valid project is required"
            itype = fields.get("issuetype") or {}
            names = {v: k for k, v in self.issue_types.items()}
            if itype.get("name") not in self.issue_types and itype.get("id") not in names:
                errors["issuetype"] = "valid issue type is required"
            if not str(fields.get("summary") or "").strip():
                errors["summary"] = "You must specify a summary of the issue."
            type_name = itype.get("name") or names.get(itype.get("id"))
            if type_name == "Epic" and not self.cloud and self.epic_name_id and not fields.get(self.epic_name_id):
                errors[self.epic_name_id] = "Epic Name is required."
        for label in fields.get("labels") or []:
            if " " in str(label):
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        if "priority" in fields and fields["priority"] is not None:
            name = (fields["priority"] or {}).get("name")
            if name not in self.priorities:
                errors["priority"] = f"Priority name '{name}' is not valid"
        if fields.get("assignee") is not None and self.find_user(fields["assignee"]) is None:
            errors["assignee"] = (
                "Specified user does not exist or you do not have required permissions"
                if self.cloud
                else f"User '{fields['assignee'].get('name')}' does not exist."
            )
        if fields.get("duedate"):
            try:
                dt.date.fromisoformat(str(fields["duedate"]))
            except ValueError:
                errors["duedate"] = f"Error parsing date string: {fields['duedate']}"
        for name in self._rich_text_fields() & set(fields):
            value = fields[name]
            if value is None:
                continue
            if api == "3" and not (isinstance(value, dict) and value.get("type") == "doc"):
                errors[name] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            if api == "2" and not isinstance(value, str):
                errors[name] = "Operation value must be a string"
        if "parent" in fields:
            parent = self.resolve(str((fields["parent"] or {}).get("key") or (fields["parent"] or {}).get("id")))
            if parent is None:
                errors["parent"] = "Could not find issue by id or key."
        epic = fields.get(self.epic_link_id) if self.epic_link_id else None
        if epic and not self.cloud:
            target = self.resolve(str(epic))
            if target is None or target["fields"]["issuetype"]["name"] != "Epic":
                errors[self.epic_link_id] = f"The issue {epic} is not an epic."
        return messages, errors

    def _store_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Request field values -> the DC shape the store keeps (wiki text, Epic Link, full users)."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name in self._rich_text_fields() and isinstance(value, dict):
                value = adf_to_wiki(value)
            if name == "parent":
                parent = self.resolve(str(value.get("key") or value.get("id")))
                if parent is not None and parent["fields"]["issuetype"]["name"] == "Epic" and self.epic_link_id:
                    out[self.epic_link_id] = parent["key"]
                continue
            if name == "assignee" and value is not None:
                value = copy.deepcopy(self.find_user(value))
            if name == "priority" and value is not None:
                value = {"name": value["name"], "id": str(self.priorities.index(value["name"]) + 1)}
            if name == "issuetype":
                type_name = value.get("name") or {v: k for k, v in self.issue_types.items()}[value["id"]]
                value = {
                    "id": self.issue_types[type_name],
                    "name": type_name,
                    "subtask": False,
                    "hierarchyLevel": 1 if type_name == "Epic" else 0,
                }
            if name == "project":
                value = {"id": "10000", "key": value.get("key") or "INC", "name": value.get("key") or "INC"}
            out[name] = value
        return out

    def api_create(self, body: dict[str, Any], api: str) -> tuple[int, Any]:
        with self.lock:
            fields = body.get("fields")
            if not isinstance(fields, dict):
                return 400, {"errorMessages": ["one of 'fields' or 'update' required"], "errors": {}}
            messages, errors = self.validate_fields(fields, api, creating=True)
            links = (body.get("update") or {}).get("issuelinks") or []
            targets = []
            for op in links:
                add = op.get("add") or {}
                ref = add.get("outwardIssue") or add.get("inwardIssue") or {}
                target = self.resolve(str(ref.get("key") or ref.get("id")))
                if "issuelinks" in self.unsettable:
                    errors["issuelinks"] = (
                        "Field 'issuelinks' cannot be set. It is not on the appropriate screen, or unknown."
                    )
                elif target is None:
                    errors["issuelinks"] = f"Issue '{ref.get('key') or ref.get('id')}' does not exist."
                targets.append((target, "outwardIssue" in add, (add.get("type") or {}).get("name", "Relates")))
            if messages or errors:
                return 400, {"errorMessages": messages, "errors": errors}
            stored = self._store_fields(fields)
            project = stored["project"]["key"]
            number = 1 + max(
                (int(k.rsplit("-", 1)[1]) for k in self.key_to_id if k.startswith(project + "-")), default=0
            )
            now = self.now()
            issue = {
                "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": str(self._next_id),
                "key": f"{project}-{number}",
                "fields": {
                    "status": {
                        "name": "To Do",
                        "id": "10000",
                        "statusCategory": {"key": "new", "name": "To Do", "id": 2},
                    },
                    "priority": {"name": "Medium", "id": "3"},
                    "labels": [],
                    "components": [],
                    "assignee": None,
                    "reporter": copy.deepcopy(self.myself),
                    "created": now,
                    "updated": now,
                    "resolutiondate": None,
                    "duedate": None,
                    "description": None,
                    "issuelinks": [],
                    "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
                    **stored,
                },
                "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []},
            }
            self._next_id += 1
            self.issues[issue["id"]] = issue
            self.key_to_id[issue["key"]] = issue["id"]
            self.created.append(issue["id"])
            for target, outward, type_name in targets:
                # "outwardIssue": the new issue is the inward side of the link, as in Jira's create body.
                self.link(target, issue, type_name) if outward else self.link(issue, target, type_name)
            for prop in body.get("properties") or []:
                self.properties.setdefault(issue["id"], {})[prop["key"]] = copy.deepcopy(prop.get("value"))
            self._touch(issue, self.create_lag if self.cloud else 0)
            return 201, {
                "id": issue["id"],
                "key": issue["key"],
                "self": f"{self.url}/rest/api/{api}/issue/{issue['id']}",
            }

    def api_edit(self, issue: dict[str, Any], body: dict[str, Any], api: str) -> tuple[int, Any]:
        with self.lock:
            fields = dict(body.get("fields") or {})
            update = body.get("update") or {}
            if not fields and not update:
                return 400, {"errorMessages": ["one of 'fields' or 'update' required"], "errors": {}}
            messages, errors = self.validate_fields(
                {**fields, **{k: None for k in update if k != "labels"}}, api, creating=False
            )
            if "labels" in update and "labels" in self.unsettable:
                errors["labels"] = "Field 'labels' cannot be set. It is not on the appropriate screen, or unknown."
            if messages or errors:
                return 400, {"errorMessages": messages, "errors": errors}
            labels = list(issue["fields"].get("labels") or [])
            for op in update.get("labels") or []:
                if "add" in op and op["add"] not in labels:
                    labels.append(op["add"])
                if "remove" in op and op["remove"] in labels:
                    labels.remove(op["remove"])
            if "labels" in update:
                fields["labels"] = labels
            self.update_issue(issue["id"], fields=self._store_fields(fields))
            return 204, None

    def api_link(self, body: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            inward = self.resolve(str((body.get("inwardIssue") or {}).get("key")))
            outward = self.resolve(str((body.get("outwardIssue") or {}).get("key")))
            if inward is None or outward is None:
                return 404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}}
            self.link(outward, inward, (body.get("type") or {}).get("name", "Relates"))
            self._touch(inward, 0)
            self._touch(outward, 0)
            return 201, None

    def api_user_search(self, query: dict[str, list[str]], api: str) -> tuple[int, Any]:
        # Cloud searches by `query` (display name or e-mail prefix); DC by `username` (name, display name
        # or e-mail). Each returns users the way its flavour shows them.
        wanted = ((query.get("query") if self.cloud else query.get("username")) or [""])[0].strip().lower()
        if not wanted:
            return 400, {
                "errorMessages": [
                    "The query parameter 'query' is required"
                    if self.cloud
                    else "The username query parameter was not provided"
                ],
                "errors": {},
            }
        found = []
        for user in self.users:
            names = [str(user.get(k) or "").lower() for k in ("displayName", "emailAddress", "name")]
            if any(n.startswith(wanted) or any(w.startswith(wanted) for w in n.split()) for n in names if n):
                found.append(self._convert(user, api) if self.cloud else copy.deepcopy(user))
        return 200, found

    def property(self, id_or_key: str, key: str) -> Any:
        issue = self.resolve(id_or_key)
        return None if issue is None else copy.deepcopy(self.properties.get(str(issue["id"]), {}).get(key))

    # --- JQL -------------------------------------------------------------------------------------------

    def search(self, jql: str) -> list[dict[str, Any]]:
        """The live issues the JQL finds, in its order."""
        with self.lock:
            return [self.issues[i] for i in self.search_ids(jql)]

    def search_ids(self, jql: str) -> list[str]:
        """The ids of the live issues the JQL finds, in its order (what a search's pages are cut from)."""
        with self.lock:
            # Paging re-runs one query many times; the answer changes only when the site does. The cache
            # keeps the fake's own JQL evaluation out of what the benchmark measures.
            version = self._version()
            cached = self._search_cache.get(jql)
            if cached is not None and cached[0] == version:
                return cached[1]
            expr, order = _Parser(jql).parse()
            order = order or [("key", True)]
            hits = [
                (tuple(self._sort_key(i, name) for name, _ in order), str(i["id"]))
                for i in self._searchable(expr)
                if expr is None or self._eval(expr, i)
            ]
            for position, (_, desc) in reversed(list(enumerate(order))):
                hits.sort(key=lambda hit, p=position: hit[0][p], reverse=desc)
            ids = [issue_id for _, issue_id in hits]
            self._search_cache[jql] = (version, ids)
            return ids

    def _searchable(self, expr: Any) -> Iterator[dict[str, Any]]:
        """Every live issue, as a search reads it: a lazy store hands them out without their text and
        timelines, unless the query searches text (``~``)."""
        light = getattr(self.issues, "searchable", None)
        issues = light() if light is not None and not _searches_text(expr) else self.issues.values()
        return (i for i in issues if str(i["id"]) not in self.deleted)

    def _version(self) -> tuple[Any, ...]:
        # Every mutator bumps an issue's "updated" (``_touch``: creations and key moves too) or the deleted set.
        return (len(self.deleted), self._mutations)

    def _sort_key(self, issue: dict[str, Any], name: str) -> Any:
        if name in ("created", "updated", "resolved", "resolutiondate"):
            value = issue["fields"].get("resolutiondate" if name == "resolved" else name)
            return parse_jira_time(value).timestamp() if value else 0.0
        if name == "key":
            project, _, number = issue["key"].rpartition("-")
            return (project, int(number))
        if name == "id":
            return int(issue["id"])
        return str(self._values(issue, name))

    def _values(self, issue: dict[str, Any], name: str) -> list[Any]:
        f = issue["fields"]
        low = name.lower()
        if low == "project":
            p = f.get("project") or {}
            return [str(p.get("key", "")).lower(), str(p.get("name", "")).lower(), str(p.get("id", ""))]
        if low in ("issuetype", "type"):
            t = f.get("issuetype") or {}
            return [str(t.get("name", "")).lower(), str(t.get("id", ""))]
        if low == "labels":
            return [str(x).lower() for x in f.get("labels") or []]
        if low == "status":
            return [str((f.get("status") or {}).get("name", "")).lower()]
        if low == "key" or low == "issuekey":
            return [k.lower() for k, v in self.key_to_id.items() if v == str(issue["id"])]
        if low == "id":
            return [str(issue["id"])]
        if low in ("parent", "epic link", '"epic link"') and self.epic_link_id:
            value = f.get(self.epic_link_id)
            return [str(value).lower()] if value else []
        if low in ("assignee", "reporter"):
            u = f.get(low) or {}
            return [str(u.get(k, "")).lower() for k in ("name", "accountId", "displayName") if u.get(k)]
        match = re.match(r"^cf\[(\d+)\]$", low)
        field_id = f"customfield_{match.group(1)}" if match else self._name_to_field.get(low, low)
        value = f.get(field_id)
        if isinstance(value, dict):
            value = value.get("value") or value.get("name") or value.get("key")
        if isinstance(value, list):
            return [str(v).lower() for v in value]
        return [] if value is None else [str(value).lower()]

    def _eval(self, expr: Any, issue: dict[str, Any]) -> bool:
        kind = expr[0]
        if kind == "and":
            return all(self._eval(e, issue) for e in expr[1])
        if kind == "or":
            return any(self._eval(e, issue) for e in expr[1])
        if kind == "not":
            return not self._eval(expr[1], issue)
        _, name, op, values = expr
        low = name.lower()
        if low in ("updated", "created", "resolved", "resolutiondate"):
            raw = issue["fields"].get("resolutiondate" if low == "resolved" else low)
            if op in ("is", "is not"):
                empty = raw is None
                return empty if op == "is" else not empty
            if raw is None:
                return False
            # Jira compares at minute precision in the searching user's time zone.
            have = parse_jira_time(raw).astimezone(self.tz).replace(second=0, microsecond=0)
            want = _parse_jql_date(values[0], self.tz)
            return {
                "=": have == want,
                "!=": have != want,
                ">=": have >= want,
                ">": have > want,
                "<=": have <= want,
                "<": have < want,
            }[op]
        have_values = self._values(issue, name)
        wanted = [v.lower() for v in values]
        if op in ("is", "is not"):
            empty = not have_values or have_values == [""]
            return empty if op == "is" else not empty
        if op in ("=", "in"):
            return any(w in have_values for w in wanted)
        if op in ("!=", "not in"):
            return not any(w in have_values for w in wanted)
        if op in ("~", "!~"):
            text = json.dumps(issue["fields"].get(self._name_to_field.get(low, low)) or "").lower()
            found = any(w.strip("*") in text for w in wanted)
            return found if op == "~" else not found
        raise JqlError(f"Error in the JQL Query: operator {op!r} is not supported for field {name!r}")

    # --- rendering issues ------------------------------------------------------------------------------

    def render(
        self,
        issue: dict[str, Any],
        *,
        api: str,
        fields: list[str] | None,
        expand: set[str],
        changelog_cap: int | None,
        comment_cap: int | None,
    ) -> dict[str, Any]:
        """The issue as this flavour and API version return it, with only the requested fields."""
        out: dict[str, Any] = {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": str(issue["id"]),
            "self": f"{self.url}/rest/api/{api}/issue/{issue['id']}",
            "key": issue["key"],
        }
        if fields is not None:
            chosen = self._choose_fields(issue["fields"], fields)
            if "comment" in chosen and isinstance(chosen["comment"], dict):
                comments = chosen["comment"].get("comments") or []
                shown = comments[:comment_cap] if comment_cap is not None else comments
                chosen["comment"] = {
                    "comments": shown,
                    "self": f"{out['self']}/comment",
                    "maxResults": len(shown),
                    "total": len(comments),
                    "startAt": 0,
                }
            out["fields"] = self._convert_fields(chosen, api)
        if "changelog" in expand and "changelog" not in self.hidden_fields:
            histories = (issue.get("changelog") or {}).get("histories") or []
            # A truncated embedded changelog keeps the newest histories: a client that appends pages
            # after the embedded ones, instead of re-reading from the start, gets a wrong timeline.
            shown = (
                histories[-changelog_cap:]
                if changelog_cap is not None and len(histories) > changelog_cap
                else histories
            )
            log = {"startAt": 0, "maxResults": len(shown), "total": len(histories), "histories": shown}
            out["changelog"] = self._convert(log, api) if self.cloud else log
        return out

    def _choose_fields(self, stored: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        chosen = self._choose_stored_fields(stored, wanted)
        for name in {x.strip() for item in wanted for x in item.split(",")} & _SYSTEM_FIELDS:
            # Jira sends an asked-for system field without a value as null (comments as an empty page);
            # a field hidden in the field configuration (``hidden_fields``) it leaves out.
            if name not in chosen and not (name == "parent" and self.cloud):
                chosen[name] = (
                    {"comments": [], "startAt": 0, "maxResults": 0, "total": 0} if name == "comment" else None
                )
        for name in self.hidden_fields:
            chosen.pop(name, None)
        return chosen

    def _choose_stored_fields(self, stored: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        names = set()
        for item in wanted:
            names.update(x.strip() for x in item.split(",") if x.strip())
        if not names or names & {"*all", "*navigable"}:
            chosen = dict(stored)
        else:
            chosen = {}
        for name in names:
            if name.startswith("-"):
                chosen.pop(name[1:], None)
            elif not name.startswith("*"):
                if self.cloud and name == "parent" and self.epic_link_id in stored:
                    chosen[self.epic_link_id] = stored.get(self.epic_link_id)
                elif name in stored:
                    chosen[name] = stored[name]
        if (
            self.cloud
            and self.epic_link_id in stored
            and ("parent" in names or "*all" in names or "*navigable" in names)
        ):
            chosen.setdefault(self.epic_link_id, stored.get(self.epic_link_id))
        # Shallow: rendering never mutates what it shares with the store (Cloud conversion builds new
        # objects), and deep copies would make the fake, not the client, dominate the benchmark.
        return chosen

    def _convert_fields(self, chosen: dict[str, Any], api: str) -> dict[str, Any]:
        if not self.cloud:
            return chosen
        if self.epic_link_id and self.epic_link_id in chosen:
            epic_key = chosen.pop(self.epic_link_id)
            epic = self.resolve(epic_key) if epic_key else None
            chosen["parent"] = (
                None
                if epic is None
                else {
                    "id": str(epic["id"]),
                    "key": epic["key"],
                    "self": f"{self.url}/rest/api/{api}/issue/{epic['id']}",
                    "fields": {
                        k: copy.deepcopy(epic["fields"].get(k)) for k in ("summary", "status", "priority", "issuetype")
                    },
                }
            )
        converted = self._convert(chosen, api)
        if api == "3":
            for key in ("description", "environment", *self._textarea):
                if isinstance(converted.get(key), str):
                    converted[key] = wiki_to_adf(converted[key], self._user_by_name)
            comment = converted.get("comment")
            if isinstance(comment, dict):
                for c in comment.get("comments") or []:
                    if isinstance(c.get("body"), str):
                        c["body"] = wiki_to_adf(c["body"], self._user_by_name)
        return converted

    def _convert(self, value: Any, api: str) -> Any:
        """Cloud users carry only an accountId (no name, key or, usually, e-mail)."""
        if isinstance(value, list):
            return [self._convert(v, api) for v in value]
        if not isinstance(value, dict):
            return value
        if "displayName" in value and ("name" in value or "accountId" in value) and "projectTypeKey" not in value:
            return {
                "self": f"{self.url}/rest/api/{api}/user?accountId={value.get('accountId', '')}",
                "accountId": value.get("accountId") or f"557058:{value.get('name', 'unknown')}",
                "displayName": value.get("displayName"),
                "active": value.get("active", True),
                "accountType": "atlassian",
                "timeZone": value.get("timeZone", self.user_tz),
            }
        return {k: self._convert(v, api) for k, v in value.items()}

    def render_comment(self, comment: dict[str, Any], api: str) -> dict[str, Any]:
        out = comment
        if self.cloud:
            out = self._convert(out, api)
            if api == "3" and isinstance(out.get("body"), str):
                out["body"] = wiki_to_adf(out["body"], self._user_by_name)
        return out


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("value") or value.get("name") or value.get("displayName")
    if isinstance(value, list):
        return " ".join(str(_display(v)) for v in value)
    return str(value)


# --------------------------------------------------------------------------------------------------------
# Wiki markup -> ADF (what Cloud's v3 returns for text stored as wiki on DC)


def _inline(text: str, users: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    pattern = re.compile(r"\[~([^\]]+)\]|\*([^*\n]+)\*|\[([^|\]]+)\|([^\]]+)\]")
    pos = 0
    for match in pattern.finditer(text):
        if match.start() > pos:
            nodes.append({"type": "text", "text": text[pos : match.start()]})
        if match.group(1):
            user = users.get(match.group(1)) or {}
            nodes.append(
                {
                    "type": "mention",
                    "attrs": {
                        "id": user.get("accountId", match.group(1)),
                        "text": "@" + user.get("displayName", match.group(1)),
                    },
                }
            )
        elif match.group(2):
            nodes.append({"type": "text", "text": match.group(2), "marks": [{"type": "strong"}]})
        else:
            nodes.append(
                {"type": "text", "text": match.group(3), "marks": [{"type": "link", "attrs": {"href": match.group(4)}}]}
            )
        pos = match.end()
    if pos < len(text):
        nodes.append({"type": "text", "text": text[pos:]})
    return nodes


def wiki_to_adf(text: str, users: dict[str, Any] | None = None) -> dict[str, Any]:
    users = users or {}
    content: list[dict[str, Any]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            nodes: list[dict[str, Any]] = []
            for n, line in enumerate(paragraph):
                if n:
                    nodes.append({"type": "hardBreak"})
                nodes.extend(_inline(line, users))
            content.append({"type": "paragraph", "content": nodes})
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^h([1-6])\.\s+(.*)$", line)
        if line.strip().startswith("{code"):
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("{code"):
                body.append(lines[i])
                i += 1
            content.append({"type": "codeBlock", "content": [{"type": "text", "text": "\n".join(body)}]})
        elif heading:
            flush()
            content.append(
                {
                    "type": "heading",
                    "attrs": {"level": int(heading.group(1))},
                    "content": _inline(heading.group(2), users),
                }
            )
        elif re.match(r"^[*#-]\s+", line):
            flush()
            ordered = line.startswith("#")
            items = []
            while i < len(lines) and re.match(r"^[*#-]\s+", lines[i]):
                items.append(
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": _inline(re.sub(r"^[*#-]\s+", "", lines[i]), users)}
                        ],
                    }
                )
                i += 1
            content.append({"type": "orderedList" if ordered else "bulletList", "content": items})
            continue
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return {"type": "doc", "version": 1, "content": content}


def adf_to_wiki(doc: dict[str, Any]) -> str:
    """ADF sent in a v3 write -> the wiki text the store keeps (headings, paragraphs, lists, strong)."""

    def inline(nodes: list[dict[str, Any]]) -> str:
        out = []
        for node in nodes:
            if node.get("type") == "text":
                text = node.get("text", "")
                out.append(f"*{text}*" if any(m.get("type") == "strong" for m in node.get("marks") or []) else text)
            elif node.get("type") == "hardBreak":
                out.append("\n")
            elif node.get("type") == "mention":
                out.append((node.get("attrs") or {}).get("text", ""))
        return "".join(out)

    lines: list[str] = []
    for block in doc.get("content") or []:
        kind = block.get("type")
        if kind == "heading":
            lines.append(f"h{(block.get('attrs') or {}).get('level', 3)}. {inline(block.get('content') or [])}")
        elif kind in ("bulletList", "orderedList"):
            mark = "#" if kind == "orderedList" else "*"
            for item in block.get("content") or []:
                text = " ".join(inline(p.get("content") or []) for p in item.get("content") or [])
                lines.append(f"{mark} {text}")
        elif kind == "rule":
            lines.append("----")
        else:
            lines.append(inline(block.get("content") or []))
        lines.append("")
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------------------------------------
# HTTP


class _Handler(BaseHTTPRequestHandler):
    site: FakeJira
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without NODELAY, Nagle plus delayed ACK adds ~40 ms
        # to every keep-alive response, which would make the benchmark measure TCP timers, not Jira calls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        site = self.site
        parts = urlsplit(self.path)
        path = parts.path
        if site.context_path and path.startswith(site.context_path):
            path = path[len(site.context_path) :]
        query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: dict[str, Any] = {}
        self._json: Any = None
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length)
            try:
                self._json = json.loads(raw or b"{}")
            except ValueError:
                self._json = None
            # Search parameters may come in a POST body; entity property values may be any JSON.
            body = self._json if isinstance(self._json, dict) else {}
        line = f"{method} {path}?{parts.query}"
        with site.lock:
            site.counts[_endpoint(method, path)] += 1
            site.log.append(line)
            fault = next((f for f in site.faults if f.take(line)), None)
        if site.latency:
            time.sleep(site.latency)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind == "reset":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind in ("429", "500", "502", "503", "504", "401"):
            if fault.carry_out:
                self._route(method, path, query, body)
            headers = {}
            if fault.retry_after:
                if fault.retry_after.startswith("date:"):
                    when = time.time() + float(fault.retry_after[5:])
                    headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
                else:
                    headers["Retry-After"] = fault.retry_after
            self._send(int(fault.kind), {"errorMessages": [f"injected {fault.kind}"]}, headers)
            return
        if not self._authenticated():
            self._send(
                401,
                {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."]},
                {"WWW-Authenticate": 'Basic realm="protected-area"'}
                if site.cloud
                else {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"},
            )
            return
        try:
            status, payload = self._route(method, path, query, body)
        except JqlError as exc:
            status, payload = 400, {"errorMessages": [str(exc)], "errors": {}}
        if fault is not None and fault.kind == "lost":
            # The work is done (an issue created, say) but the answer never arrives.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "drop":
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: max(1, len(data) // 2)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(status, payload)

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization") or ""
        if self.site.cloud:
            expected = base64.b64encode(f"{CLOUD_EMAIL}:{CLOUD_TOKEN}".encode()).decode()
            return header == f"Basic {expected}"
        return header == f"Bearer {DC_PAT}"

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to do

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        site = self.site
        match = re.match(r"^/rest/api/(2|3|latest)/(.*)$", path)
        if not match:
            return 404, {"errorMessages": ["Not found"]}
        api, rest = match.group(1), match.group(2).rstrip("/")
        api = "2" if api == "latest" else api
        if api == "3" and not site.cloud:
            return 404, {"message": "null for uri: " + path, "status-code": 404}

        def q(name: str, default: Any = None) -> Any:
            if name in body:
                return body[name]
            values = query.get(name)
            return values[0] if values else default

        def qlist(name: str) -> list[str] | None:
            if name in body:
                value = body[name]
                return value if isinstance(value, list) else [str(value)]
            return query.get(name)

        with site.lock:
            if rest == "serverInfo" and method == "GET":
                return 200, self._server_info()
            if rest == "myself" and method == "GET":
                me = site._convert(site.myself, api) if site.cloud else dict(site.myself)
                me["timeZone"] = site.user_tz
                return 200, me
            if rest == "field" and method == "GET":
                fields = [f for f in site.fields if not (site.cloud and f.get("id") == site.epic_link_id)]
                return 200, copy.deepcopy(fields)
            if site.canned_search is not None and rest in ("search", "search/jql"):
                return 200, copy.deepcopy(site.canned_search)
            if rest == "search":
                if site.cloud:
                    return 410, {
                        "errorMessages": [
                            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                            "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
                        ]
                    }
                return self._search_dc(q, qlist, api)
            if rest == "search/jql":
                if not site.cloud:
                    return 404, {"message": "null for uri: " + path, "status-code": 404}
                return self._search_cloud(q, qlist, api)
            if rest == "issue" and method == "POST":
                return site.api_create(body, api)
            if rest == "issueLink" and method == "POST":
                return site.api_link(body)
            if rest == "user/search" and method == "GET":
                return site.api_user_search(query, api)
            m = re.match(r"^issue/([^/]+)/properties(?:/([^/]+))?$", rest)
            if m:
                issue = site.resolve(m.group(1))
                if issue is None:
                    return 404, {
                        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                        "errors": {},
                    }
                props = site.properties.setdefault(str(issue["id"]), {})
                if m.group(2) is None and method == "GET":
                    return 200, {
                        "keys": [
                            {"self": f"{site.url}/rest/api/{api}/issue/{issue['id']}/properties/{k}", "key": k}
                            for k in sorted(props)
                        ]
                    }
                if method == "GET":
                    if m.group(2) not in props:
                        return 404, {
                            "errorMessages": [f"The property with key '{m.group(2)}' does not exist."],
                            "errors": {},
                        }
                    return 200, {"key": m.group(2), "value": copy.deepcopy(props[m.group(2)])}
                if method == "PUT":
                    existed = m.group(2) in props
                    props[m.group(2)] = copy.deepcopy(self._json)
                    return (200 if existed else 201), None
            m = re.match(r"^issue/([^/]+)$", rest)
            if m and method == "PUT":
                issue = site.resolve(m.group(1))
                if issue is None:
                    return 404, {
                        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                        "errors": {},
                    }
                return site.api_edit(issue, body, api)
            m = re.match(r"^issue/([^/]+)(?:/(changelog|comment))?$", rest)
            if m and method == "GET":
                issue = site.resolve(m.group(1))
                if issue is None:
                    return 404, {
                        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                        "errors": {},
                    }
                if m.group(2) == "changelog":
                    if not site.cloud and not site.dc_changelog_endpoint:
                        return 404, {"message": "null for uri: " + path, "status-code": 404}
                    return self._changelog_page(issue, q, api)
                if m.group(2) == "comment":
                    return self._comment_page(issue, q, api)
                expand = set((q("expand") or "").split(","))
                fields = qlist("fields")
                cap = ISSUE_GET_CHANGELOG if site.cloud else None
                return 200, site.render(
                    issue, api=api, fields=fields or ["*all"], expand=expand, changelog_cap=cap, comment_cap=None
                )
        return 404, {"errorMessages": [f"no route for {method} {path}"]}

    def _server_info(self) -> dict[str, Any]:
        site = self.site
        info = dict(site.server_info)
        if site.cloud:
            info.update(
                {
                    "baseUrl": site.url,
                    "version": "1001.0.0-SNAPSHOT",
                    "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud",
                    "buildNumber": 100285,
                    "serverTitle": "Jira",
                }
            )
        else:
            info.update(
                {
                    "baseUrl": site.url,
                    "version": "9.12.15",
                    "versionNumbers": [9, 12, 15],
                    "deploymentType": "Server",
                    "buildNumber": 9120015,
                    "serverTitle": "Jira",
                }
            )
        info["serverTime"] = site.now()
        return info

    def _search_dc(self, q: Any, qlist: Any, api: str) -> tuple[int, Any]:
        site = self.site
        jql = q("jql", "")
        start = int(q("startAt", 0) or 0)
        asked = int(q("maxResults", 50) or 50)
        size = max(0, min(asked, site.dc_search_page))
        hits = site.search_ids(jql)
        fields = qlist("fields")
        expand = set(str(q("expand") or "").split(","))
        page = [site.issues[i] for i in hits[start : start + size]]
        return 200, {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(hits),
            "issues": [
                site.render(
                    i,
                    api=api,
                    fields=fields or ["*navigable"],
                    expand=expand,
                    changelog_cap=ISSUE_GET_CHANGELOG,
                    comment_cap=EMBEDDED_COMMENTS,
                )
                for i in page
            ],
        }

    def _search_cloud(self, q: Any, qlist: Any, api: str) -> tuple[int, Any]:
        site = self.site
        jql = q("jql", "")
        token = q("nextPageToken")
        start = 0
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[0])
            except (ValueError, UnicodeDecodeError):
                return 400, {"errorMessages": ["Invalid nextPageToken"]}
        asked = int(q("maxResults", 50) or 50)
        size = max(1, min(asked, site.cloud_search_page))
        hits = site.search_ids(jql)
        visible = []
        # reconcileIssues: ids the caller knows exist are read consistently, index lag or not.
        reconcile = {str(x) for item in (qlist("reconcileIssues") or []) for x in str(item).split(",") if x}
        for ident in hits:
            if site.lag.get(ident, 0) > 0 and ident not in reconcile:
                site.lag[ident] -= 1  # the search index has not caught up with this change yet
                continue
            visible.append(ident)
        page = [site.issues[i] for i in visible[start : start + size]]
        fields = qlist("fields")
        expand = set(str(q("expand") or "").split(","))
        out: dict[str, Any] = {
            "issues": [
                site.render(
                    i,
                    api=api,
                    fields=fields,
                    expand=expand,
                    changelog_cap=CLOUD_SEARCH_CHANGELOG,
                    comment_cap=EMBEDDED_COMMENTS,
                )
                for i in page
            ],
            "isLast": start + size >= len(visible),
        }
        if not out["isLast"]:
            out["nextPageToken"] = base64.urlsafe_b64encode(f"{start + size}:{hash(jql) & 0xFFFF}".encode()).decode()
        return 200, out

    def _changelog_page(self, issue: dict[str, Any], q: Any, api: str) -> tuple[int, Any]:
        site = self.site
        histories = (issue.get("changelog") or {}).get("histories") or []
        start = int(q("startAt", 0) or 0)
        size = max(1, min(int(q("maxResults", CHANGELOG_PAGE) or CHANGELOG_PAGE), CHANGELOG_PAGE))
        page = histories[start : start + size]
        base = f"{site.url}/rest/api/{api}/issue/{issue['key']}/changelog"
        out = {
            "self": f"{base}?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(histories),
            "isLast": start + size >= len(histories),
            "values": site._convert(page, api) if site.cloud else page,
        }
        if not out["isLast"]:
            out["nextPage"] = f"{base}?&startAt={start + size}&maxResults={size}"
        return 200, out

    def _comment_page(self, issue: dict[str, Any], q: Any, api: str) -> tuple[int, Any]:
        site = self.site
        comments = (issue["fields"].get("comment") or {}).get("comments") or []
        start = int(q("startAt", 0) or 0)
        size = max(1, min(int(q("maxResults", COMMENT_PAGE) or COMMENT_PAGE), COMMENT_PAGE))
        page = comments[start : start + size]
        return 200, {
            "startAt": start,
            "maxResults": size,
            "total": len(comments),
            "comments": [site.render_comment(c, api) for c in page],
        }


# --------------------------------------------------------------------------------------------------------
# A small hand-made site, for tests that do not need the generated sample


def _user(n: int) -> dict[str, Any]:
    return {
        "name": f"user{n}",
        "key": f"JIRAUSER{10000 + n}",
        "accountId": f"557058:{n:08d}-aaaa",
        "displayName": f"User {n}",
        "emailAddress": f"user{n}@example.com",
        "active": True,
        "timeZone": "Europe/Berlin",
    }


def tiny_site(
    n_incidents: int = 5,
    *,
    histories: tuple[int, ...] = (3,),
    comments: tuple[int, ...] = (2,),
    start: dt.datetime | None = None,
) -> dict[str, Any]:
    """A DC-shaped site: incidents INC-1.. with the given changelog/comment sizes (cycled), one epic and
    two postmortem actions per incident. Times are in -0700 like a US Data Center."""
    tz = dt.timezone(dt.timedelta(hours=-7))
    start = start or dt.datetime(2025, 9, 1, 9, 0, tzinfo=tz)
    users = [_user(n) for n in range(1, 6)]
    fields = [
        {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string", "system": "summary"}},
        {
            "id": "labels",
            "name": "Labels",
            "custom": False,
            "schema": {"type": "array", "items": "string", "system": "labels"},
        },
        {
            "id": "customfield_10010",
            "name": "Severity",
            "custom": True,
            "schema": {
                "type": "option",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
                "customId": 10010,
            },
        },
        {
            "id": "customfield_10011",
            "name": "Failure Mode",
            "custom": True,
            "schema": {
                "type": "option",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
                "customId": 10011,
            },
        },
        {
            "id": "customfield_10014",
            "name": "Epic Link",
            "custom": True,
            "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10014},
        },
        {
            "id": "customfield_10020",
            "name": "Success Metric",
            "custom": True,
            "schema": {
                "type": "string",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
                "customId": 10020,
            },
        },
    ]
    issues: list[dict[str, Any]] = []
    next_id = 10001
    hist_id = 50000
    comment_id = 70000

    def fmt(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z")

    def issue(key: str, itype: str, created: dt.datetime, labels: list[str], extra: dict[str, Any]) -> dict[str, Any]:
        nonlocal next_id
        next_id += 1
        reporter = users[next_id % len(users)]
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(next_id),
            "self": f"https://jira.example.com/rest/api/2/issue/{next_id}",
            "key": key,
            "fields": {
                "summary": f"{itype} {key}",
                "issuetype": {"id": "1" if itype == "Incident" else "2", "name": itype, "subtask": False},
                "project": {"id": "10000", "key": key.split("-")[0], "name": "Incidents", "projectTypeKey": "software"},
                "status": {"name": "Resolved", "statusCategory": {"key": "done", "name": "Done"}},
                "priority": {"name": "High"},
                "labels": labels,
                "components": [{"name": "checkout"}],
                "reporter": reporter,
                "assignee": users[(next_id + 1) % len(users)],
                "created": fmt(created),
                "updated": fmt(created + dt.timedelta(hours=5)),
                "resolutiondate": fmt(created + dt.timedelta(hours=4)),
                "description": f"h2. What happened\n*{key}* broke checkout for [~user1].\n* first\n* second",
                "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0},
                "issuelinks": [],
                **extra,
            },
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []},
        }

    for n in range(1, n_incidents + 1):
        created = start + dt.timedelta(days=n)
        label = f"stage{n}"
        inc = issue(
            f"INC-{3 * n - 2}",
            "Incident",
            created,
            [label],
            {"customfield_10010": {"value": "Sev-1", "id": "1"}, "customfield_10011": {"value": "capacity", "id": "2"}},
        )
        for h in range(histories[(n - 1) % len(histories)]):
            hist_id += 1
            inc["changelog"]["histories"].append(
                {
                    "id": str(hist_id),
                    "author": users[h % len(users)],
                    "created": fmt(created + dt.timedelta(minutes=h)),
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "from": "1",
                            "fromString": "Open",
                            "to": "2",
                            "toString": "Investigating" if h % 2 == 0 else "Mitigated",
                        }
                    ],
                }
            )
        inc["changelog"]["total"] = inc["changelog"]["maxResults"] = len(inc["changelog"]["histories"])
        for c in range(comments[(n - 1) % len(comments)]):
            comment_id += 1
            inc["fields"]["comment"]["comments"].append(
                {
                    "id": str(comment_id),
                    "author": users[c % len(users)],
                    "updateAuthor": users[c % len(users)],
                    "body": f"Comment {c} on *INC-{3 * n - 2}*",
                    "created": fmt(created + dt.timedelta(minutes=c + 1)),
                    "updated": fmt(created + dt.timedelta(minutes=c + 1)),
                }
            )
        total_comments = len(inc["fields"]["comment"]["comments"])
        inc["fields"]["comment"]["total"] = inc["fields"]["comment"]["maxResults"] = total_comments
        epic = issue(f"INC-{3 * n - 1}", "Epic", created + dt.timedelta(hours=6), ["postmortem", label], {})
        action = issue(
            f"INC-{3 * n}",
            "Task",
            created + dt.timedelta(hours=7),
            ["postmortem", label],
            {
                "customfield_10014": epic["key"],
                "customfield_10020": "p99 < 300 ms\nfor a week",
                "duedate": (created + dt.timedelta(days=14)).date().isoformat(),
            },
        )
        inc["fields"]["issuelinks"] = [
            {
                "id": str(90000 + n),
                "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
                "outwardIssue": {"id": epic["id"], "key": epic["key"], "fields": {"issuetype": {"name": "Epic"}}},
            }
        ]
        issues += [inc, epic, action]
    return {"serverInfo": {}, "fields": fields, "users": users, "issues": issues}


# Real sites' field catalogues (tests/fixtures/jira/README.md, public_jira_dataset_msr2022): the sample site
# served with one of them, to sync against catalogues shaped like the ones teams really have. What each site
# variant takes: the real catalogue (Spring: no Severity, no Failure Mode, as on most sites; JFrog: a Severity
# select of its own, customfield_10061, beside the team's; Mojang: severity in the system field priority), the
# sample's fields it lacks, and the real fields kept although the sample has a field of the same name.
CATALOGUE_VARIANTS = {
    "no_failure_mode": ("Spring", ("Failure Mode",), ()),
    "two_severities": ("JFrog", (), ("Severity",)),
    "priority_severity": ("Mojang", ("Severity", "Failure Mode"), ()),
}


def with_field_catalogue(site: dict[str, Any], variant: str) -> dict[str, Any]:
    """The sample ``site`` with a real site's ``/field`` catalogue (``CATALOGUE_VARIANTS``): the real site's
    fields plus the sample's custom fields (the team's incident fields), less those the variant drops,
    whose values and changelog items are removed from every issue as well."""
    real_site, dropped, duplicates = CATALOGUE_VARIANTS[variant]
    real = jira_sample("public_jira_dataset_msr2022/jira_field_information.json")[real_site]
    custom = [f for f in site["fields"] if str(f.get("id", "")).startswith("customfield_")]
    gone = {f["id"] for f in custom if f.get("name") in dropped}
    added = [f for f in custom if f["id"] not in gone]
    taken = {f["name"] for f in added} - set(duplicates)
    catalogue = [f for f in real if f.get("name") not in taken] + added
    issues = copy.deepcopy(site["issues"])
    for issue in issues:
        for field_id in gone:
            issue["fields"].pop(field_id, None)
        for history in (issue.get("changelog") or {}).get("histories") or []:
            history["items"] = [
                i for i in history["items"] if i.get("fieldId") not in gone and i.get("field") not in dropped
            ]
    return {**site, "fields": catalogue, "issues": issues}


# --- a site in its own process ---------------------------------------------------------------------------------
# A bench timing a sync must not count the fake's own work (JSON rendering, JQL, its threads) against the
# sync, nor have the two share one interpreter lock: the bench starts the site in a child process instead.


class FakeJiraProcess:
    """A ``FakeJira`` served by a child process on a free loopback port, for as long as the context lasts.

    ``factory`` ("module:function", importable with this process's ``sys.path``) is called in the child with
    ``kwargs`` (JSON) and returns an unstarted ``FakeJira`` and a JSON-able dict of facts about its site that
    the parent may need (``info``: counts, keys), computed in the child where the site is."""

    def __init__(self, factory: str, **kwargs: Any) -> None:
        self.factory = factory
        self.kwargs = kwargs
        self.url = ""
        self.info: dict[str, Any] = {}
        self._credentials: dict[str, str] = {}
        self.process: Any = None

    def credentials(self) -> dict[str, str]:
        return dict(self._credentials)

    def __enter__(self) -> FakeJiraProcess:
        import os
        import subprocess
        import sys

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
        code = "from support.fake_jira import serve_factory; import sys; serve_factory(sys.argv[1], sys.argv[2])"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, self.factory, json.dumps(self.kwargs)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise RuntimeError(f"the fake Jira process ({self.factory}) exited with {self.process.returncode}")
        started = json.loads(line)
        self.url, self._credentials, self.info = started["url"], started["credentials"], started["info"]
        return self

    def __exit__(self, *exc: Any) -> None:
        import subprocess

        if self.process is None:
            return
        try:
            self.process.stdin.close()  # the child serves until its stdin closes
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None


def serve_factory(factory: str, kwargs_json: str) -> None:
    """The child's side of ``FakeJiraProcess``: build the site, start it, announce it, serve until stdin closes."""
    import importlib
    import sys

    module, _, name = factory.partition(":")
    server, info = getattr(importlib.import_module(module), name)(**json.loads(kwargs_json))
    with server:
        print(json.dumps({"url": server.url, "credentials": server.credentials(), "info": info}), flush=True)
        sys.stdin.read()

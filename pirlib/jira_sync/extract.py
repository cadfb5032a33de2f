"""Read incidents, their full timelines and their actions from Jira with as few requests as it takes.

Two searches per run, each paged at whatever page size the server grants:

1. epics and actions: ``labels = "<postmortem>" AND NOT (<PIR_INCIDENT_JQL>) [AND updated >= ...]``
   without changelog or comments (pir keeps no timeline for actions). ``NOT (...)`` keeps an incident
   that carries the postmortem label from being read as an action. Read first and handed on page by page
   (``on_others``): the transform keeps only their row values, and an incident chunk needs the epics.
2. incidents: ``(<PIR_INCIDENT_JQL>) [AND updated >= "<cursor>"] ORDER BY created ASC, key ASC`` with the
   fields pir maps, ``comment`` and ``expand=changelog``, streamed: page by page, timelines completed, and
   handed on in chunks of JSON text (``Extract.chunks``), so that a run never holds the whole site.

``ORDER BY created`` rather than ``updated``: an issue edited while we page would move to the end of an
``updated`` ordering and shift every later issue back by one, so one would be skipped at a page boundary.

Cloud pages ``/rest/api/3/search/jql`` with ``nextPageToken`` (no ``total``; v3 for ADF text), Data
Center ``/rest/api/2/search`` with ``startAt``, reading the granted ``maxResults`` back from the response.

An embedded changelog is capped (Cloud search: about 40 histories, issue GET: 100) and so are embedded
comments (about 20). Only where ``total`` says an issue's list is cut short do we fetch more:

- changelog, Cloud: ``/rest/api/3/issue/{id}/changelog`` (100 a page) from the start; the embedded part
  is not reliably the oldest, so it is replaced, not appended to.
- changelog, Data Center: ``/rest/api/2/issue/{id}?expand=changelog`` -- Data Center returns the whole
  changelog there, and older versions have no ``/changelog`` endpoint at all. That is one request per
  truncated issue, never more than paging would cost. If even that comes back short, we page
  ``/issue/{id}/changelog`` where the server has it, and otherwise keep what we have and say so in the
  run's warnings. When the comments are cut short as well, the same GET asks for them (DC returns all).
- comments: ``/rest/api/{2|3}/issue/{id}/comment`` from ``startAt=0``, advancing by what came back.

Per-issue requests use the issue id, which survives a move between projects; the key does not.
Histories are sorted by (created, id), comments by (created, id), duplicates dropped by id.

Every answer is checked before anything is written (``check_issue``, ``_listed``): a transform would
read a missing ``comment`` or changelog as "no comments", a missing ``labels`` as "not an action any more"
and a missing ``status`` as blank, and the load would then delete those events, flag those actions
deleted or blank those statuses. What "missing" means: a field pir asked for that is absent from an issue
in the answer (Jira sends asked-for fields that have no value as null; it leaves out a field hidden in the
project's field configuration, and a proxy may cut answers), or a value of the wrong shape. Left out of
the check are custom fields (absent where they are outside their context) and ``parent`` and
``issuelinks`` (absent on issues without a parent, and on sites with issue linking switched off). Such an
answer fails the run with one line naming the issue, the field and the fix; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pirlib.config import Settings
from pirlib.jira_sync.client import JiraClient, JiraError, JiraNotFoundError
from pirlib.jira_sync.fields import FieldMap
from pirlib.jira_sync.flatten import to_json

__all__ = ["Extract", "Known", "extract", "jql_time", "incident_query", "action_query"]

CLOUD_PAGE = 100  # what we ask for; the server may grant less
DC_PAGE = 100
CHANGELOG_PAGE = 100
COMMENT_PAGE = 100
# Follow-up requests (changelog/comment pages) run this many at a time: they are independent and small,
# and a real Jira answers them in parallel. Low enough to stay well inside Jira's rate limits.
DETAIL_WORKERS = 4
# A chunk of incidents (``Extract.chunks``) closes at this many incidents or this many bytes of JSON,
# whichever comes first. Measured with bench/bench_sync_memory.py: a chunk's JSON text costs about its size
# again in DuckDB while it is flattened and a few times its size as rows; two chunks are in flight at once
# (one written while the next is built).
READ_CHUNK_ISSUES = 2_000
READ_CHUNK_BYTES = 8_000_000

_BASE_FIELDS = [
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
    "parent",
]
_ORDER_BY = re.compile(r"\s+ORDER\s+BY\s+.*$", re.IGNORECASE | re.DOTALL)

Progress = Callable[[int], object]  # what it returns is ignored (tqdm's update returns a flag)

# Fields pir asks for that Jira may legitimately leave out of an issue (see the module notes).
_MAY_BE_ABSENT = frozenset({"parent", "issuelinks"})
_SHAPES: dict[str, tuple[type, ...]] = {
    "summary": (str,),
    "status": (dict,),
    "labels": (list,),
    "issuetype": (dict,),
    "project": (dict,),
    "created": (str,),
    "updated": (str,),
    "comment": (dict,),
    "components": (list,),
}
# Fields that are never null on a real issue: a null there is as malformed as a missing one.
_NEVER_NULL = frozenset({"summary", "status", "labels", "issuetype", "project", "created", "updated", "comment"})


def _malformed(what: str, fix: str = "") -> JiraError:
    return JiraError(
        f"Jira's answer is malformed: {what}; nothing was written. "
        + (fix or "Check for a proxy between pir and Jira that alters answers, then run `pir sync` again")
    )


def check_issue(issue: Any, fields: list[str], *, changelog: bool) -> None:
    """Raise a JiraError naming the issue and the fix unless ``issue`` carries every field pir asked for."""
    if not isinstance(issue, dict) or not isinstance(issue.get("id"), (str, int)) or str(issue.get("id")) == "":
        raise _malformed(f"an issue in a search answer has no id ({str(issue)[:80]!r})")
    key = issue.get("key")
    if not isinstance(key, str) or not key:
        raise _malformed(f"issue id {issue['id']} has no key")
    values = issue.get("fields")
    if not isinstance(values, dict):
        raise _malformed(f"{key} has no fields")
    for name in fields:
        if name in _MAY_BE_ABSENT or name.startswith("customfield_"):
            continue
        if name not in values:
            raise _malformed(
                f"{key} lacks the field {name!r} that pir asked for",
                f"Jira leaves out fields hidden in a project's field configuration: make {name!r} visible for "
                f"{key.rsplit('-', 1)[0]}'s issues (or check a proxy between pir and Jira), then run `pir sync` again",
            )
        value = values[name]
        if value is None and name not in _NEVER_NULL:
            continue
        if not isinstance(value, _SHAPES.get(name, (object,))) or value is None:
            raise _malformed(f"{key}'s field {name!r} is {type(value).__name__}, not what Jira sends")
    if isinstance(values.get("comment"), dict):
        _listed(values["comment"], "comments", f"{key}'s comments")
    if changelog:
        log = issue.get("changelog")
        if not isinstance(log, dict):
            raise _malformed(f"{key} has no changelog, which pir asked for (expand=changelog)")
        _listed(log, "histories", f"{key}'s changelog")


def _listed(page: Any, name: str, what: str, *alternatives: str) -> list[Any]:
    """``page[name]`` (or the first alternative present), which must be a list."""
    if isinstance(page, dict):
        for option in (name, *alternatives):
            if isinstance(page.get(option), list):
                return page[option]
    raise _malformed(f"{what}: the answer has no list {name!r}")


@dataclass
class Extract:
    """What one run reads: the epics and action candidates at once, the incidents as a stream of chunks.

    ``chunks`` yields each chunk of incidents, with complete changelogs and comments merged in, as one JSON
    array in UTF-8 (what ``transform`` reads fastest, and a fraction of the memory of the parsed dicts). The
    search pages behind a chunk are read only when the chunk is asked for, so a run holds one chunk and
    the page being read, whatever the site's size. ``max_updated`` and ``warnings`` are complete once
    ``chunks`` is exhausted.
    """

    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    incidents: int = 0  # in the chunks so far
    max_updated: dt.datetime | None = None
    changelog_fetches: int = 0
    comment_fetches: int = 0
    warnings: list[str] = field(default_factory=list)

    def saw(self, issues: list[dict[str, Any]]) -> None:
        """Move ``max_updated`` over issues of the windowed searches (the cursor comes from those only)."""
        stamps = [u for u in map(_updated, issues) if u is not None]
        if stamps and (self.max_updated is None or max(stamps) > self.max_updated):
            self.max_updated = max(stamps)


def jql_time(moment: dt.datetime, zone: str) -> str:
    """``"yyyy/MM/dd HH:mm"`` in the Jira user's time zone, floored to the minute (JQL's precision)."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y/%m/%d %H:%M")


def _strip_order_by(jql: str) -> str:
    # Our own ORDER BY must come last; a user's ORDER BY inside the parentheses would be a syntax error.
    return _ORDER_BY.sub("", jql.strip())


def _window(since: dt.datetime | None, zone: str) -> str:
    return f' AND updated >= "{jql_time(since, zone)}"' if since is not None else ""


def incident_query(settings: Settings, since: dt.datetime | None, zone: str) -> str:
    return f"({_strip_order_by(settings.incident_jql)}){_window(since, zone)} ORDER BY created ASC, key ASC"


def action_query(settings: Settings, since: dt.datetime | None, zone: str) -> str:
    label = settings.postmortem_label.replace('"', '\\"')
    return (
        f'labels = "{label}" AND NOT ({_strip_order_by(settings.incident_jql)}){_window(since, zone)}'
        " ORDER BY created ASC, key ASC"
    )


def epic_query(labels: list[str], settings: Settings) -> str:
    return f"issuetype = Epic AND {_labels_in(labels)} ORDER BY created ASC, key ASC"


def incident_fields(fields: FieldMap) -> list[str]:
    custom = [
        fields.severity,
        fields.failure_mode,
        fields.commander,
        fields.incident_start,
        fields.customer_impact,
        fields.regulatory,
        fields.epic_link,
    ]
    return _BASE_FIELDS + ["description", "comment"] + [f for f in custom if f]


def action_fields(fields: FieldMap) -> list[str]:
    custom = [fields.epic_link, fields.success_metric, fields.verification, fields.action_type, fields.team]
    return _BASE_FIELDS + [f for f in custom if f]


def search_pages(
    client: JiraClient,
    jql: str,
    fields: list[str],
    *,
    expand: str | None = None,
    progress: Progress | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The pages of issues the JQL finds, each checked, at the page size the server grants."""
    params: dict[str, Any] = {"jql": jql, "fields": ",".join(fields)}
    if expand:
        params["expand"] = expand
    if client.cloud:
        token: str | None = None
        while True:
            page = client.get(
                "search/jql", {**params, "maxResults": CLOUD_PAGE, **({"nextPageToken": token} if token else {})}
            )
            issues = _checked(page, fields, expand)
            yield issues
            if progress:
                progress(len(issues))
            token = page.get("nextPageToken")
            # isLast is the documented stop; a missing token with isLast absent also ends it (older shape).
            if page.get("isLast", token is None) or not token:
                return
    else:
        start, size = 0, DC_PAGE
        while True:
            page = client.get("search", {**params, "startAt": start, "maxResults": size, "validateQuery": "strict"})
            issues = _checked(page, fields, expand)
            yield issues
            if progress:
                progress(len(issues))
            start += len(issues)
            # The server caps the page (50 on most sites) and says so in maxResults; ask for that from now on.
            size = int(page.get("maxResults") or size) or size
            total = page.get("total")
            if not issues or (total is not None and start >= int(total)):
                return


def search(
    client: JiraClient,
    jql: str,
    fields: list[str],
    *,
    expand: str | None = None,
    progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Every issue the JQL finds (``search_pages`` one by one)."""
    for page in search_pages(client, jql, fields, expand=expand, progress=progress):
        yield from page


def _checked(page: Any, fields: list[str], expand: str | None) -> list[dict[str, Any]]:
    issues = _listed(page, "issues", "a search page")
    for issue in issues:
        check_issue(issue, fields, changelog=bool(expand and "changelog" in expand))
    return issues


def jira_time(value: Any) -> dt.datetime | None:
    """A Jira timestamp (``2022-06-09T16:29:31.871-0700``, or ISO with ``Z``), or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None


def _updated(issue: dict[str, Any]) -> dt.datetime | None:
    return jira_time((issue.get("fields") or {}).get("updated"))


class _Details:
    """Completes one issue's changelog and comments when the embedded lists are cut short."""

    def __init__(self, client: JiraClient, result: Extract) -> None:
        self.client = client
        self.result = result
        self.dc_changelog_endpoint: bool | None = None  # unknown until a DC server answers it

    def complete(self, issue: dict[str, Any]) -> None:
        fields = issue.setdefault("fields", {})
        log = issue.get("changelog") or {}
        histories = log.get("histories") or []
        comment = fields.get("comment") if isinstance(fields.get("comment"), dict) else {}
        comments = comment.get("comments") or []
        log_short = int(log.get("total") or len(histories)) > len(histories)
        comments_short = int(comment.get("total") or len(comments)) > len(comments)
        if log_short:
            histories, comments_done = self._changelog(issue, comments_short)
            if comments_done is not None:
                comments, comments_short = comments_done, False
        if comments_short:
            comments = self._comments(issue)
        histories = _unique_sorted(histories)
        issue["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": histories,
        }
        if "comment" in fields or comments:
            comments = _unique_sorted(comments)
            fields["comment"] = {
                "startAt": 0,
                "maxResults": len(comments),
                "total": len(comments),
                "comments": comments,
            }

    def _changelog(
        self, issue: dict[str, Any], want_comments: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        self.result.changelog_fetches += 1
        ident = str(issue["id"])
        if self.client.cloud:
            return self._changelog_pages(ident), None
        params = {"expand": "changelog", "fields": "comment" if want_comments else "updated"}
        full = self.client.get(f"issue/{ident}", params)
        log = (full.get("changelog") if isinstance(full, dict) else None) or {}
        histories = _listed(log, "histories", f"{issue.get('key')}'s changelog")
        comments: list[dict[str, Any]] | None = None
        comment = (full.get("fields") or {}).get("comment")
        if want_comments and isinstance(comment, dict):
            got = comment.get("comments") or []
            if int(comment.get("total") or len(got)) <= len(got):
                comments = got
        if int(log.get("total") or len(histories)) > len(histories) and self.dc_changelog_endpoint is not False:
            try:
                histories = self._changelog_pages(ident)
                self.dc_changelog_endpoint = True
            except JiraNotFoundError:
                self.dc_changelog_endpoint = False
        if int(log.get("total") or 0) > len(histories):
            self.result.warnings.append(
                f"{issue.get('key')}: Jira returned {len(histories)} of {log.get('total')} changelog entries"
            )
        return histories, comments

    def _changelog_pages(self, ident: str) -> list[dict[str, Any]]:
        histories: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self.client.get(f"issue/{ident}/changelog", {"startAt": start, "maxResults": CHANGELOG_PAGE})
            values = _listed(page, "values", f"a changelog page of issue {ident}", "histories")
            histories.extend(values)
            start += len(values)
            total = page.get("total")
            if not values or page.get("isLast") is True or (total is not None and start >= int(total)):
                return histories

    def _comments(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        self.result.comment_fetches += 1
        comments: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self.client.get(f"issue/{issue['id']}/comment", {"startAt": start, "maxResults": COMMENT_PAGE})
            got = _listed(page, "comments", f"a comment page of {issue.get('key')}")
            comments.extend(got)
            start += len(got)
            total = page.get("total")
            if not got or (total is not None and start >= int(total)):
                return comments


def _unique_sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        by_id[str(item.get("id"))] = item
    # Ids are numeric strings; compare them as numbers so "10" sorts after "9".
    return sorted(by_id.values(), key=lambda i: (str(i.get("created") or ""), _numeric(i.get("id"))))


def _numeric(value: Any) -> tuple[int, str]:
    text = str(value)
    return (int(text), "") if text.isdigit() else (0, text)


@dataclass
class Known:
    """What the database already holds, so that an incremental run skips what the overlap re-reads.

    Asked a page at a time, so that a run holds what one page's issues have stored and not every stored id:
    ``updated_of(ids)`` gives the stored ``updated_at`` of those of the issue ids it has (incidents and
    actions); ``linked_of(epic_keys)`` the (label, epic key) pairs of stored incidents under those epics.
    Without it every re-read issue is loaded again (harmless, but a run with nothing changed would then also
    look up epics for the re-read incidents).
    """

    updated_of: Callable[[list[str]], dict[str, dt.datetime]]
    linked_of: Callable[[list[str]], set[tuple[str, str]]]

    def unchanged(self, issues: list[dict[str, Any]]) -> set[str]:
        """Ids of ``issues`` stored with the same or a later ``updated``."""
        if not issues:
            return set()
        stored = self.updated_of([str(issue.get("id")) for issue in issues])
        out = set()
        for issue in issues:
            ident = str(issue.get("id"))
            seen, now = stored.get(ident), _updated(issue)
            if seen is not None and now is not None and now <= seen:
                out.add(ident)
        return out


def extract(
    client: JiraClient,
    settings: Settings,
    fields: FieldMap,
    *,
    since: dt.datetime | None,
    zone: str,
    known: Known | None = None,
    progress: Progress | None = None,
    on_others: Callable[[list[dict[str, Any]]], None],
    chunk_issues: int | None = None,
    chunk_bytes: int | None = None,
) -> Extract:
    """Read what changed since ``since`` (everything when None) and complete every incident's timeline.

    The epics and action candidates are read first, page by page into ``on_others`` (the transform keeps
    only what an action row needs of them); the incidents come as ``Extract.chunks`` of at most
    ``chunk_issues`` incidents or ``chunk_bytes`` bytes of JSON, whichever is reached first (a few
    incidents with huge changelogs make a short chunk). Epics an incremental chunk needs reach
    ``on_others`` before the chunk is yielded.

    In an incremental run (``since`` and ``known`` given) issues the database already has at the same
    ``updated`` are dropped, and the epic <-> incident context a label-only epic needs is fetched when
    one side changed without the other: epics for changed incidents, incidents for changed epics.
    """
    result = Extract()
    chunk_issues = chunk_issues or READ_CHUNK_ISSUES
    chunk_bytes = chunk_bytes or READ_CHUNK_BYTES
    label = settings.postmortem_label
    incremental = since is not None and known is not None
    other_ids: set[str] = set()  # incremental runs only: epics fetched for incidents are not read twice
    changed_epic_labels: set[str] = set()  # own labels of the epics this run read
    relink_labels: set[str] = set()  # ... of those the database does not link to an incident yet
    for page in search_pages(client, action_query(settings, since, zone), action_fields(fields), progress=progress):
        result.saw(page)
        if incremental:
            assert known is not None
            unchanged = known.unchanged([o for o in page if not _is_epic(o)])
            page = [o for o in page if str(o["id"]) not in unchanged]
            epics = [o for o in page if _is_epic(o)]
            linked = known.linked_of([str(e.get("key")) for e in epics]) if epics else set()
        for other in page if incremental else ():
            other_ids.add(str(other["id"]))
            if _is_epic(other):
                own = _own_labels(other, label)
                changed_epic_labels.update(own)
                if not any((lab, other.get("key")) in linked for lab in own):
                    relink_labels.update(own)
        on_others(page)
        del page

    def incident_pages() -> Iterator[list[dict[str, Any]]]:
        have_ids: set[str] = set()
        query = incident_query(settings, since, zone)
        for page in search_pages(client, query, incident_fields(fields), expand="changelog", progress=progress):
            result.saw(page)
            if incremental:
                assert known is not None
                unchanged = known.unchanged(page)
                page = [i for i in page if str(i["id"]) not in unchanged]
                have_ids.update(str(i["id"]) for i in page)
            yield page
        # Epics that changed while their incident did not: re-read the incident so that it finds its epic.
        for labels in _chunks(sorted(relink_labels)):
            query = f"({_strip_order_by(settings.incident_jql)}) AND {_labels_in(labels)} ORDER BY created ASC, key ASC"
            for page in search_pages(client, query, incident_fields(fields), expand="changelog"):
                page = [i for i in page if str(i["id"]) not in have_ids]
                have_ids.update(str(i["id"]) for i in page)
                yield page

    def labels_without_epic(incidents: list[dict[str, Any]]) -> set[str]:
        # Incidents that changed while their epic did not: their own labels' epics are fetched.
        return {
            lab
            for i in incidents
            if not _has_linked_epic(i)
            for lab in _own_labels(i, label)
            if lab not in changed_epic_labels
        }

    def fetch_epics(labels: set[str]) -> None:
        for group in _chunks(sorted(labels)):
            epics = [
                e
                for e in search(client, epic_query(group, settings), action_fields(fields))
                if str(e["id"]) not in other_ids
            ]
            other_ids.update(str(e["id"]) for e in epics)
            if epics:
                on_others(epics)

    def chunks() -> Iterator[bytes]:
        details = _Details(client, result)
        asked: set[str] = set()  # labels whose epics were fetched already
        wanted: set[str] = set()  # ... and those this chunk's incidents need before it is handed on
        texts: list[bytes] = []  # UTF-8: a str with one non-ASCII character takes 2-4 bytes for every character
        size = 0

        def chunk() -> bytes:
            nonlocal texts, size
            if wanted:
                fetch_epics(wanted)
                asked.update(wanted)
                wanted.clear()
            text = b"[" + b",".join(texts) + b"]"
            result.incidents += len(texts)
            texts, size = [], 0
            return text

        with ThreadPoolExecutor(max_workers=DETAIL_WORKERS) as pool:
            for incidents in _completed(incident_pages(), details, pool):
                if incremental:
                    wanted.update(labels_without_epic(incidents) - asked)
                for issue in incidents:
                    texts.append(to_json(issue).encode("utf-8"))
                    size += len(texts[-1])
                    if len(texts) >= chunk_issues or size >= chunk_bytes:
                        yield chunk()
                del incidents
        if texts or wanted:
            yield chunk()

    result.chunks = chunks()
    return result


def _completed(
    pages: Iterator[list[dict[str, Any]]], details: _Details, pool: ThreadPoolExecutor
) -> Iterator[list[dict[str, Any]]]:
    """Each page with every incident's timeline complete, in order.

    A page's follow-up requests run on the pool while the next search page is read; at most two pages wait
    for theirs, so the follow-ups overlap the search without holding more than two pages.
    """
    waiting: deque[tuple[list[dict[str, Any]], list[bool], list[Future[None]]]] = deque()
    for page in pages:
        short = [_needs_details(i) for i in page]
        futures = [pool.submit(details.complete, i) for i, s in zip(page, short, strict=True) if s]
        waiting.append((page, short, futures))
        while waiting and (len(waiting) > 1 or all(f.done() for f in waiting[0][2])):
            yield _finish(details, *waiting.popleft())
    while waiting:
        yield _finish(details, *waiting.popleft())


def _finish(
    details: _Details, page: list[dict[str, Any]], short: list[bool], futures: list[Future[None]]
) -> list[dict[str, Any]]:
    try:
        for future in futures:
            future.result()  # re-raises the first failure
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    for issue, was_short in zip(page, short, strict=True):
        if not was_short:
            details.complete(issue)  # no requests: only normalises the lists
    return page


def _own_labels(issue: dict[str, Any], postmortem_label: str) -> list[str]:
    return [lab for lab in (issue.get("fields") or {}).get("labels") or [] if lab != postmortem_label]


def _has_linked_epic(issue: dict[str, Any]) -> bool:
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        for other in (link.get("outwardIssue"), link.get("inwardIssue")):
            if other and _is_epic(other):
                return True
    return False


def _labels_in(labels: list[str]) -> str:
    return "labels in (" + ", ".join('"' + lab.replace('"', '\\"') + '"' for lab in labels) + ")"


def _chunks(items: list[str], size: int = 100) -> Iterator[list[str]]:
    # Keeps each JQL well below URL length limits.
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _is_epic(issue: dict[str, Any]) -> bool:
    kind = (issue.get("fields") or {}).get("issuetype") or {}
    return kind.get("name") == "Epic" or kind.get("hierarchyLevel") == 1


def _needs_details(issue: dict[str, Any]) -> bool:
    log = issue.get("changelog") or {}
    histories = log.get("histories") or []
    comment = (issue.get("fields") or {}).get("comment")
    comments = (comment.get("comments") or []) if isinstance(comment, dict) else []
    total_comments = int(comment.get("total") or len(comments)) if isinstance(comment, dict) else 0
    return int(log.get("total") or len(histories)) > len(histories) or total_comments > len(comments)

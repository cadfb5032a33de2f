"""``pir push``: action drafts -> Jira issues under the incident's epic, never twice (runbook §3).

Each draft becomes one issue in ``action_project`` / ``action_issue_type`` with the labels ``postmortem``
+ the incident's own label, under the incident's epic (Cloud ``parent``, Data Center the Epic Link field),
assigned to the owner (an ``accountId`` on Cloud, a user ``name`` on Data Center), with due date,
priority, and the success metric and verification method in their custom fields when the site has them,
else in a headed section of the description (ADF on Cloud's v3, wiki text on Data Center's v2). The
create body also links the issue to the incident ("Relates").

Never a duplicate. A create can reach Jira and still look failed: the answer is lost, or a proxy says
429/503 after all. So every draft carries a marker, the label ``pir-draft-<draft id>`` (plus the entity
property ``pir.draft`` for tools), and before creating we look for it:

1. a direct read of the incident (``GET /issue/{incident}?fields=issuelinks``), which is consistent on
   Cloud too: the link is made in the same request as the issue, so an issue that exists is linked; each
   linked issue with the draft's summary is read and its labels checked;
2. a JQL search for the marker label; on Cloud, whose search index lags, with ``reconcileIssues`` = the
   ids of the linked issues, so those are read consistently.

A create is never resent blindly: the retry layer (``client.py``) resends it only after a refused
connection (nothing reached Jira), and every other outcome that leaves open whether Jira created the issue
(the connection dropped during the answer, a timeout, 429, 5xx from Jira or a proxy, a 2xx that cannot be
read) is followed by a lookup of the marker; only when the issue is not there is the create sent again,
after the backoff (or ``Retry-After``). On Cloud the lookup also searches, and that index lags: after an
ambiguous create it searches a few times with backoff before it concludes "not created". When even then
nothing is found the draft fails with a line that says so; the next push looks again before creating.
An issue found by its marker but not linked to the incident (a site whose create screen has no Linked
Issues) is linked then.

The drafts and their states are ``pirlib.review.actions``'s (the one owner of ``action_drafts``): push asks
it for the drafts to push and reports each outcome through it: ``start_push`` before the first request about
a draft (so a crash leaves a draft that the next push checks for before creating), then ``mark_pushed`` (key
and id, created or found by its marker) or ``mark_failed`` (Jira's own error text, e.g. ``labels: Field
'labels' cannot be set. ...``, redacted). A failed draft keeps every field the facilitator typed and is pushed
again by the next ``pir push``. Only ``owner_id`` (the resolved Jira user) is written besides the state. A
draft deleted in the guide while a push runs is reported as failed and nothing is sent for it.

After a push the issue is read back and upserted into ``actions`` through the sync's own transform and
load, so the dashboards show it before the next sync; the next ``pir sync`` rewrites it from Jira (Jira
wins) and ``v_action_drafts`` (migration 004) shows each draft's live Jira status.

Decisions where the issue was silent:

- An incident without an epic gets one: pir creates it (labels ``postmortem`` + the incident label,
  linked to the incident, Epic Name on Data Center when the site has that field). An incident without a
  label of its own first gets one, its key in lower case (``inc-1042``), as docs/jira-setup.md asks.
- Drafts that are not SMART yet (``pirlib.review.actions.validate``, the guide's rule) are not pushed;
  they are reported as skipped with their problems and stay drafts.
- An owner must match exactly one active Jira user by display name, e-mail or user name (case-insensitive).
- Only one ``pir push`` runs at a time per database (solo a lock file next to it; in team mode a PostgreSQL
  advisory lock, held on a connection of its own for the push), so two facilitators pressing the button at
  once cannot both create.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jira.exceptions import JIRAError

from pirlib import db
from pirlib.config import Settings
from pirlib.errors import InputError, PirError
from pirlib.incidents import resolve_incident
from pirlib.jira_sync.client import (
    JiraClient,
    JiraError,
    JiraUnavailableError,
    RequestCounter,
    RetryPolicy,
    connect,
    parse_retry_after,
)
from pirlib.jira_sync.extract import action_fields
from pirlib.jira_sync.fields import FieldMap, resolve_fields
from pirlib.jira_sync.load import load_batch
from pirlib.jira_sync.rows import Batch
from pirlib.jira_sync.transform import transform
from pirlib.redact import redact
from pirlib.review import actions
from pirlib.review.actions import CheckedDraft, Draft

__all__ = [
    "MARKER_PROPERTY",
    "PushOutcome",
    "PushResult",
    "draft_status",
    "issue_body",
    "jira_error_text",
    "marker_label",
    "pick_user",
    "push",
]

MARKER_PROPERTY = "pir.draft"
EPIC_PROPERTY = "pir.epic"
LINK_TYPE = "Relates"


# Searches for a marker right after an ambiguous create on Cloud, whose index lags by seconds.
_SETTLE_SEARCHES = 4


def _looks_like_ours(linked: Mapping[str, Any], summary: str) -> bool:
    """A linked issue worth reading for the marker: same summary, compared as Jira normalises it."""
    theirs = " ".join(str((linked.get("fields") or {}).get("summary") or "").split())
    return not theirs or theirs.casefold() == " ".join(summary.split()).casefold()


def marker_label(draft_id: str) -> str:
    """The label that marks the issue made from a draft (labels cannot hold spaces; ids are hex)."""
    return f"pir-draft-{draft_id}"


class _DraftFailed(Exception):
    """One draft cannot be pushed; the message is what the draft's ``error`` shows."""


@dataclass
class PushOutcome:
    draft_id: str
    incident_key: str
    summary: str
    state: str  # pushed, failed, skipped
    key: str | None = None
    issue_id: str | None = None
    error: str | None = None
    found_existing: bool = False

    def line(self) -> str:
        what = f"{self.incident_key} {self.summary!r}"
        if self.state == "pushed":
            how = "already in Jira as" if self.found_existing else "pushed as"
            return f"{what}: {how} {self.key}"
        if self.state == "skipped":
            return f"{what}: not pushed, not SMART yet ({self.error})"
        return f"{what}: failed: {self.error}"


@dataclass
class PushResult:
    outcomes: list[PushOutcome] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    epics_created: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[PushOutcome]:
        return [o for o in self.outcomes if o.state == "failed"]

    def summary(self) -> str:
        counts = {state: sum(o.state == state for o in self.outcomes) for state in ("pushed", "failed", "skipped")}
        epics = f", {len(self.epics_created)} epic(s) created" if self.epics_created else ""
        return (
            f"{counts['pushed']} pushed, {counts['failed']} failed, {counts['skipped']} not SMART yet"
            f"{epics} ({sum(self.requests.values())} Jira requests)"
        )


# ------------------------------------------------------------------------------------------ pure parts


def jira_error_text(body: Any, status: int | None = None) -> str:
    """Jira's own words from an error body: ``errorMessages`` and each ``field: message``, verbatim."""
    parts: list[str] = []
    if isinstance(body, Mapping):
        parts += [str(m) for m in body.get("errorMessages") or []]
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            parts += [f"{name}: {message}" for name, message in errors.items()]
        elif isinstance(errors, list):  # some gateways answer a list of {"message": ...}
            parts += [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors]
        if not parts and body.get("message"):
            parts.append(str(body["message"]))
    text = "; ".join(parts)
    return text or f"Jira answered HTTP {status} without an error message"


def pick_user(users: list[dict[str, Any]], owner: str, *, cloud: bool) -> dict[str, Any]:
    """The one active user whose display name, e-mail, user name or accountId is ``owner``; else raise."""
    wanted = owner.strip().casefold()
    keys = ("displayName", "emailAddress", "accountId") if cloud else ("displayName", "emailAddress", "name", "key")
    exact = [u for u in users if u.get("active", True) and any(str(u.get(k) or "").casefold() == wanted for k in keys)]
    unique = {str(u.get("accountId") if cloud else u.get("name")): u for u in exact}
    if len(unique) == 1:
        return next(iter(unique.values()))
    if not unique:
        near = ", ".join(sorted({str(u.get("displayName")) for u in users if u.get("displayName")})[:5])
        hint = f" (Jira has: {near})" if near else ""
        raise _DraftFailed(f"owner {owner!r} is not a Jira user{hint}; type the name as Jira shows it")
    listed = ", ".join(
        sorted(
            f"{u.get('displayName')} ({u.get('emailAddress') or u.get('name') or u.get('accountId')})"
            for u in unique.values()
        )
    )
    raise _DraftFailed(f"owner {owner!r} matches {len(unique)} Jira users: {listed}; type the e-mail instead")


def _adf(blocks: list[tuple[str, str]]) -> dict[str, Any]:
    """ADF document of (kind, text) blocks; kind is "heading" or "paragraph"; newlines become breaks."""
    content: list[dict[str, Any]] = []
    for kind, text in blocks:
        inline: list[dict[str, Any]] = []
        for n, line in enumerate(text.split("\n")):
            if n:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        node: dict[str, Any] = {"type": kind, "content": inline}
        if kind == "heading":
            node["attrs"] = {"level": 3}
        content.append(node)
    return {"type": "doc", "version": 1, "content": content}


def _rich(text: str, api: str) -> Any:
    return _adf([("paragraph", text)]) if api == "3" else text


def _description(draft: Draft, sections: list[tuple[str, str]], incident_key: str, api: str) -> Any:
    blocks: list[tuple[str, str]] = []
    if draft.description:
        blocks.append(("paragraph", draft.description))
    for heading, text in sections:
        blocks += [("heading", heading), ("paragraph", text)]
    blocks.append(("paragraph", f"Follow-up action of {incident_key}, drafted in its post-incident review (pir)."))
    if api == "3":
        return _adf(blocks)
    return "\n\n".join(f"h3. {text}" if kind == "heading" else text for kind, text in blocks)


@dataclass(frozen=True)
class Target:
    """Where and how this site takes an action issue."""

    cloud: bool
    api: str
    project: str
    issue_type: str
    labels: tuple[str, ...]
    epic_key: str | None
    incident_key: str
    fields: FieldMap
    rich_fields: frozenset[str] = frozenset()  # custom fields that take rich text (textarea): ADF on v3


def issue_body(draft: Draft, target: Target, assignee: dict[str, Any] | None) -> dict[str, Any]:
    """The create request for one draft: fields, the link to the incident, and the marker property."""
    fm = target.fields
    fields: dict[str, Any] = {
        "project": {"key": target.project},
        "issuetype": {"name": target.issue_type},
        "summary": draft.summary or "",
        "labels": [*target.labels, marker_label(draft.draft_id)],
    }
    if assignee is not None:
        fields["assignee"] = assignee
    if draft.due_date:
        fields["duedate"] = draft.due_date.isoformat()
    if draft.priority:
        fields["priority"] = {"name": draft.priority}
    if target.epic_key:
        if target.cloud:
            fields["parent"] = {"key": target.epic_key}
        elif fm.epic_link:
            fields[fm.epic_link] = target.epic_key
    sections: list[tuple[str, str]] = []
    for label, text, field_id, select in (
        ("Success metric", draft.success_metric, fm.success_metric, False),
        ("Verification method", draft.verification_method, fm.verification, False),
        ("Action type", draft.action_type, fm.action_type, True),
        ("Team", draft.team, fm.team, True),
    ):
        if not text:
            continue
        if field_id is None:
            sections.append((label, text))
        elif select:
            fields[field_id] = {"value": text}
        else:
            fields[field_id] = _rich(text, target.api) if field_id in target.rich_fields else text
    fields["description"] = _description(draft, sections, target.incident_key, target.api)
    return {
        "fields": fields,
        # "outwardIssue": the incident; the action is the inward side ("relates to" reads the same both ways).
        "update": {
            "issuelinks": [{"add": {"type": {"name": LINK_TYPE}, "outwardIssue": {"key": target.incident_key}}}]
        },
        "properties": [
            {"key": MARKER_PROPERTY, "value": {"draftId": draft.draft_id, "incidentKey": target.incident_key}}
        ],
    }


# ----------------------------------------------------------------------------------------------- I/O


_BUSY = "another `pir push` is running on this database; wait for it to finish and push again"


@contextlib.contextmanager
def _one_push_at_a_time(settings: Settings) -> Iterator[None]:
    """Solo: a lock file next to the database. Team: a PostgreSQL advisory lock, which holds across the machines
    (JupyterHub servers, cron) that share the store, and is released by the server if this process dies."""
    if db.team_mode(settings):
        with db.connect(settings) as con:
            if not db.one(con, "SELECT pg_try_advisory_lock(hashtext('pir push'))")[0]:
                raise PirError(_BUSY)
            try:
                yield
            finally:
                con.execute("SELECT pg_advisory_unlock(hashtext('pir push'))")
        return
    path = Path(settings.db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".push"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PirError(_BUSY) from None
        yield
    finally:
        os.close(fd)


class _Jira:
    """The few write-side calls push needs, over the connected client; 4xx come back as values."""

    def __init__(self, client: JiraClient) -> None:
        self.client = client
        self.api = client.api_version
        self.retry_after: float | None = None  # of the last answer, when it asked to wait

    def send(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        url = self.client.url(path)
        self.retry_after = None
        try:
            response = self.client.jira._session.request(method, url, data=json.dumps(body))
        except JIRAError as exc:
            response = getattr(exc, "response", None)
            status = getattr(exc, "status_code", None) or (response.status_code if response is not None else None)
            if response is not None:
                self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            try:
                payload = response.json() if response is not None else None
            except ValueError:
                payload = None
            return int(status or 0), payload
        try:
            return response.status_code, response.json() if response.content else None
        except ValueError:
            return response.status_code, None

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params)

    def search(self, jql: str, fields: str, reconcile: list[str]) -> list[dict[str, Any]]:
        if self.client.cloud:
            params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": 50}
            if reconcile:
                params["reconcileIssues"] = [int(i) for i in reconcile if str(i).isdigit()]
            return self.get("search/jql", params).get("issues") or []
        return self.get("search", {"jql": jql, "fields": fields, "maxResults": 50}).get("issues") or []


@dataclass(frozen=True)
class _Incident:
    """What push needs of an incident whose drafts it pushes."""

    issue_id: str
    key: str
    summary: str | None
    epic_key: str | None


def _load_drafts(settings: Settings, incident: str | None) -> tuple[list[CheckedDraft], dict[str, _Incident]]:
    """The drafts to push (``pirlib.review.actions`` decides which, and checks them as of today) and their incidents."""
    with db.connect(settings) as con:
        incident_id = resolve_incident(con, incident)[0] if incident else None
        drafts = actions.drafts_to_push(con, settings, incident_id)
        rows = con.execute(
            "SELECT issue_id, key, summary, epic_key FROM incidents WHERE issue_id IN (SELECT unnest(?))",
            [sorted({checked.draft.incident_id for checked in drafts})],
        ).fetchall()
    return drafts, {row[0]: _Incident(*row) for row in rows}


def push(
    settings: Settings,
    incident: str | None = None,
    *,
    retry: RetryPolicy | None = None,
    on_client: Callable[[JiraClient], None] | None = None,
) -> PushResult:
    """Push the drafts of ``incident`` (a key or id; all incidents when None) that are not pushed yet."""
    result = PushResult()
    drafts, _ = _load_drafts(settings, incident)
    if not drafts:
        return result
    counter = RequestCounter()
    policy = dataclasses.replace(retry or RetryPolicy(), resend_posts=False)  # push decides on resends
    with _one_push_at_a_time(settings):
        drafts, incidents = _load_drafts(settings, incident)  # another push may have finished while we waited
        client = connect(settings, policy=policy, counter=counter)
        if on_client:
            on_client(client)
        try:
            pusher = _Pusher(settings, client, result, policy)
            for incident_id, group in itertools.groupby(drafts, lambda checked: checked.draft.incident_id):
                pusher.push_incident(incidents[incident_id], list(group))
        except PirError as exc:
            exc.args = (redact(exc, settings),)  # made from Jira's answer, which may quote the request
            raise
        finally:
            result.requests = counter.snapshot()
    return result


class _Pusher:
    def __init__(
        self,
        settings: Settings,
        client: JiraClient,
        result: PushResult,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.settings = settings
        self.client = client
        self.jira = _Jira(client)
        self.result = result
        catalogue = client.get("field", api="2")
        self.fields = resolve_fields(catalogue, settings)
        self.rich = frozenset(
            str(f["id"]) for f in catalogue if str((f.get("schema") or {}).get("custom", "")).endswith(":textarea")
        )
        self.epic_name = next((str(f["id"]) for f in catalogue if f.get("name") == "Epic Name"), None)
        self.users: dict[str, dict[str, Any]] = {}

    # --- one incident --------------------------------------------------------------------------------

    def push_incident(self, incident: _Incident, drafts: list[CheckedDraft]) -> None:
        incident_key = incident.key
        ready = []
        for checked in drafts:
            if checked.problems:
                self._outcome(checked.draft, incident_key, "skipped", error="; ".join(map(str, checked.problems)))
            else:
                ready.append(checked.draft)
        if not ready:
            return
        try:
            links, label = self._incident_label(incident.issue_id, incident_key)
            epic_key = self._epic(incident, links, label)
        except _DraftFailed as exc:
            for draft in ready:
                self._fail(draft, incident_key, str(exc))
            return
        target = Target(
            cloud=self.client.cloud,
            api=self.client.api_version,
            project=self.settings.action_project,
            issue_type=self.settings.action_issue_type,
            labels=tuple(self.settings.action_labels(label)),
            epic_key=epic_key,
            incident_key=incident_key,
            fields=self.fields,
            rich_fields=self.rich,
        )
        if not self.client.cloud and epic_key and not self.fields.epic_link:
            message = (
                f"this Jira has no field {self.settings.epic_link_field!r} to put actions under epic {epic_key}; "
                "set PIR_EPIC_LINK_FIELD to the Epic Link field's id"
            )
            for draft in ready:
                self._fail(draft, incident_key, message)
            return
        for draft in ready:
            self._push_draft(draft, target, links)

    def _incident_label(self, incident_id: str, key: str) -> tuple[list[dict[str, Any]], str]:
        """The incident's links (a direct, consistent read) and its own label, added when it has none."""
        issue = self._read(incident_id, "issuelinks,labels")
        labels = list((issue.get("fields") or {}).get("labels") or [])
        own = [lab for lab in labels if lab != self.settings.postmortem_label and not lab.startswith("pir-draft-")]
        if own:
            return self._links(issue), own[0]
        label = key.lower()
        status, body = self.jira.send("PUT", f"issue/{incident_id}", {"update": {"labels": [{"add": label}]}})
        if status >= 300:
            raise _DraftFailed(f"could not label incident {key} with {label!r}: {jira_error_text(body, status)}")
        return self._links(issue), label

    def _read(self, ident: str, fields: str) -> dict[str, Any]:
        try:
            return self.jira.get(f"issue/{ident}", {"fields": fields})
        except JiraError as exc:
            if exc.status in (None, 404, 400):
                raise _DraftFailed(str(exc)) from None
            raise

    @staticmethod
    def _links(issue: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for link in (issue.get("fields") or {}).get("issuelinks") or []:
            other = link.get("outwardIssue") or link.get("inwardIssue")
            if other:
                out.append(other)
        return out

    def _epic(self, incident: _Incident, links: list[dict[str, Any]], label: str) -> str:
        """The incident's epic: known, linked, labelled, or created now (linked and labelled)."""
        if incident.epic_key:
            return incident.epic_key
        found = self._linked_epic(links) or self._labelled_epic(label)
        if found is None:
            found = self._create_epic(incident, label)
        with db.connect(self.settings) as con:
            # The dashboards see the epic now; the next sync confirms it from Jira.
            con.execute(
                "UPDATE incidents SET epic_key = ? WHERE issue_id = ? AND epic_key IS NULL", [found, incident.issue_id]
            )
        return found

    @staticmethod
    def _linked_epic(links: list[dict[str, Any]]) -> str | None:
        for other in links:
            kind = (other.get("fields") or {}).get("issuetype") or {}
            if kind.get("name") == "Epic" or kind.get("hierarchyLevel") == 1:
                return str(other["key"])
        return None

    def _labelled_epic(self, label: str) -> str | None:
        jql = f'issuetype = Epic AND labels = "{self.settings.postmortem_label}" AND labels = "{label}" ORDER BY created ASC'
        found = self.jira.search(jql, "labels", [])
        return str(found[0]["key"]) if found else None

    def _create_epic(self, incident: _Incident, label: str) -> str:
        key = incident.key
        summary = f"{key} post-incident actions: {(incident.summary or '').strip()}"[:250]
        fields: dict[str, Any] = {
            "project": {"key": self.settings.action_project},
            "issuetype": {"name": "Epic"},
            "summary": summary,
            "labels": [self.settings.postmortem_label, label],
            "description": _rich(f"Follow-up actions of {key} (runbook §3), created by pir.", self.client.api_version),
        }
        if self.epic_name and not self.client.cloud:
            fields[self.epic_name] = f"{key} actions"
        body = {
            "fields": fields,
            "update": {"issuelinks": [{"add": {"type": {"name": LINK_TYPE}, "outwardIssue": {"key": key}}}]},
            "properties": [{"key": EPIC_PROPERTY, "value": {"incidentKey": key}}],
        }

        def lookup(settle: bool) -> dict[str, Any] | None:
            # The epic is linked to the incident in its own create: the incident's links are a consistent read.
            found = self._linked_epic(self._links(self._read(incident.issue_id, "issuelinks")))
            return {"key": found} if found else None

        status, answer, _ = self._post_issue(body, lookup, f"the epic of {key}")
        if status != 201 or not isinstance(answer, dict) or "key" not in answer:
            raise _DraftFailed(f"could not create the epic for {key}: {jira_error_text(answer, status)}")
        self.result.epics_created.append(str(answer["key"]))
        return str(answer["key"])

    # --- one draft -----------------------------------------------------------------------------------

    def _push_draft(self, draft: Draft, target: Target, links: list[dict[str, Any]]) -> None:
        try:
            with db.connect(self.settings) as con:
                actions.start_push(con, draft.draft_id)
        except InputError as exc:  # deleted in the guide since this push read it: nothing is sent for it
            self._outcome(draft, target.incident_key, "failed", error=str(exc))
            return
        try:
            existing = self._find(draft, links, target.incident_key)
            if existing is not None:
                self._pushed(draft, target, existing, found=True)
                return
            assignee, owner_id = self._assignee(draft.owner or "")
            body = issue_body(draft, target, assignee)
            created, found = self._create(draft, body, target)
            self._pushed(draft, target, created, found=found, owner_id=owner_id)
        except _DraftFailed as exc:
            self._fail(draft, target.incident_key, str(exc))

    def _find(
        self, draft: Draft, links: list[dict[str, Any]], incident_key: str, settle: bool = False
    ) -> dict[str, Any] | None:
        """The issue already made from this draft, if any: consistent reads first, then a search.

        ``settle``: right after an ambiguous create, search Cloud's lagging index a few times with backoff.
        An issue found only by the search is not linked to the incident yet: it is linked here."""
        marker = marker_label(draft.draft_id)
        linked_ids = {str(o.get("id")) for o in links}
        for other in links:  # every linked issue: Jira may have trimmed or changed the summary
            if not _looks_like_ours(other, draft.summary or ""):
                continue
            issue = self._read(str(other["id"]), "labels,summary")
            if marker in ((issue.get("fields") or {}).get("labels") or []):
                return issue
        reconcile = [i for i in linked_ids if i and i != "None"]
        searches = _SETTLE_SEARCHES if settle and self.client.cloud else 1
        for attempt in range(1, searches + 1):
            hits = self.jira.search(f'labels = "{marker}"', "labels,summary", reconcile)
            if hits:
                if str(hits[0].get("id")) not in linked_ids:
                    self._link(str(hits[0]["key"]), incident_key)
                return hits[0]
            if attempt < searches:
                self.sleep(self.policy.backoff(attempt))
        return None

    def _link(self, key: str, incident_key: str) -> None:
        status, body = self.jira.send(
            "POST",
            "issueLink",
            {"type": {"name": LINK_TYPE}, "inwardIssue": {"key": key}, "outwardIssue": {"key": incident_key}},
        )
        if status >= 300:
            raise _DraftFailed(
                f"{key} was created but could not be linked to {incident_key}: {jira_error_text(body, status)}"
            )

    def _post_issue(
        self, body: dict[str, Any], lookup: Callable[[bool], dict[str, Any] | None], what: str, conclusive: bool = True
    ) -> tuple[int, Any, bool]:
        """POST /issue until Jira answers for sure: (status, answer, found_existing).

        After every answer that leaves open whether Jira created the issue, ``lookup`` looks for it first;
        only when it is not there is the create sent again. ``conclusive`` False (an unlinked create on
        Cloud: only the lagging search can find it) resends only after a 429, which Jira answers before
        doing anything."""
        problem = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                status, answer = self.jira.send("POST", "issue", body)
            except JiraUnavailableError as exc:
                status, answer, problem = 0, None, str(exc).split(" and is not safe")[0]
            else:
                if status == 201 and isinstance(answer, dict) and answer.get("key") and answer.get("id"):
                    return status, answer, False
                if 400 <= status < 500 and status != 429:
                    return status, answer, False  # Jira refused it: nothing was created
                problem = f"HTTP {status}" if status >= 300 else f"HTTP {status} with an unreadable answer"
            found = lookup(True)
            if found is not None:
                return 201, found, True
            if not conclusive and status != 429:
                break
            if attempt < self.policy.max_attempts:
                wait = self.jira.retry_after
                if wait is not None and wait > self.policy.max_retry_after:
                    break
                self.sleep(self.policy.backoff(attempt) if wait is None else wait)
        raise _DraftFailed(
            f"creating {what}: Jira did not confirm it ({problem}) and pir did not find it by its "
            "marker; run `pir push` again later: it looks for the issue before creating"
        )

    def _assignee(self, owner: str) -> tuple[dict[str, Any] | None, str | None]:
        if not owner:
            return None, None
        if owner not in self.users:
            params = {"query": owner} if self.client.cloud else {"username": owner}
            users = self.jira.get("user/search", {**params, "maxResults": 50})
            self.users[owner] = pick_user(users if isinstance(users, list) else [], owner, cloud=self.client.cloud)
        user = self.users[owner]
        if self.client.cloud:
            return {"accountId": user["accountId"]}, str(user["accountId"])
        return {"name": user["name"]}, str(user["name"])

    def _create(self, draft: Draft, body: dict[str, Any], target: Target) -> tuple[dict[str, Any], bool]:
        """The issue made from ``body`` and whether an earlier attempt had made it already."""

        def lookup(settle: bool) -> dict[str, Any] | None:
            links = self._links(self._read(target.incident_key, "issuelinks"))  # a consistent read
            return self._find(draft, links, target.incident_key, settle=settle)

        what = f"the issue of draft {draft.summary or ''!r}"
        status, answer, found = self._post_issue(body, lookup, what)
        if status == 400 and isinstance(answer, dict) and set(answer.get("errors") or {}) == {"issuelinks"}:
            # This site's create screen has no "Linked Issues": create, then link with its own request.
            unlinked = {k: v for k, v in body.items() if k != "update"}
            status, answer, found = self._post_issue(unlinked, lookup, what, conclusive=not self.client.cloud)
            if status == 201 and not found:
                self._link(str(answer["key"]), target.incident_key)
        if status != 201 or not isinstance(answer, dict) or "key" not in answer:
            raise _DraftFailed(jira_error_text(answer, status))
        return answer, found

    def _pushed(
        self, draft: Draft, target: Target, issue: Mapping[str, Any], *, found: bool, owner_id: str | None = None
    ) -> None:
        issue_id, key = str(issue["id"]), str(issue["key"])
        frame = None
        try:
            full = self.jira.get(f"issue/{issue_id}", {"fields": ",".join(action_fields(self.fields))})
            frame = transform(
                [], [full], self.fields, base_url=self.client.base_url, postmortem_label=self.settings.postmortem_label
            ).actions
            frame["incident_id"] = draft.incident_id
            frame["epic_key"] = frame["epic_key"].fillna(target.epic_key) if target.epic_key else frame["epic_key"]
        except PirError:
            frame = None  # the issue exists; the next sync brings its row
        with db.connect(self.settings) as con:
            if frame is not None and not frame.empty:
                empty = Batch.empty()
                load_batch(con, Batch(empty.incidents, frame, empty.events), synced_at=dt.datetime.now(dt.UTC))
            actions.mark_pushed(con, draft.draft_id, key, issue_id, owner_id)
        self._outcome(draft, target.incident_key, "pushed", key=key, issue_id=issue_id, found_existing=found)

    def _fail(self, draft: Draft, incident_key: str, error: str) -> None:
        try:
            with db.connect(self.settings) as con:
                error = actions.mark_failed(con, self.settings, draft.draft_id, error)
        except InputError as exc:  # deleted in the guide since this push read it: nothing to keep the error on
            error = str(exc)
        self._outcome(draft, incident_key, "failed", error=error)

    def _outcome(self, draft: Draft, incident_key: str, state: str, **details: Any) -> None:
        self.result.outcomes.append(PushOutcome(draft.draft_id, incident_key, draft.summary or "", state, **details))


def draft_status(settings: Settings, incident_id: str) -> pd.DataFrame:
    """Each draft of the incident with its live Jira status (``v_action_drafts``): Jira's values win."""
    with db.connect(settings, read_only=True) as con:
        return con.execute(
            "SELECT * FROM v_action_drafts WHERE incident_id = ? ORDER BY created_at, draft_id", [incident_id]
        ).df()

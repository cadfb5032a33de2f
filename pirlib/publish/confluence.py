"""Create or update the postmortem page in Confluence through its REST API (``/rest/api/content``).

The page sits in ``confluence_space`` under the page found by the title path ``confluence_parent``
(default ``Reliability > Incidents``: a page "Incidents" whose parent is "Reliability"). Publishing again
updates the same page as a new version, never a second page: pir remembers the page id (table
``publications``), and without it finds the page by space and title before creating one.

Requests: a first publish resolves the parent path (one search per title), searches for the page and
creates it (4 with the default path); a re-publish reads the remembered page's version and writes the
next one (2). Auth is Basic (account e-mail + API token) on Cloud, Bearer (personal access token) on
Data Center; the token never appears in an error, a log line or the database. Every refusal is one line
that names the space or parent and the fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from pirlib.config import Settings
from pirlib.delivery import DEFAULT_BACKOFF, Backoff
from pirlib.errors import ConfigError, PirError
from pirlib.redact import redact

__all__ = ["ConfluenceClient", "PageResult", "parent_path", "publish_page"]

TIMEOUT = 30.0


@dataclass(frozen=True)
class PageResult:
    page_id: str
    version: int
    url: str
    created: bool
    requests: int


def parent_path(text: str) -> list[str]:
    """``"Reliability > Incidents"`` as ``["Reliability", "Incidents"]``."""
    titles = [part.strip() for part in text.split(">")]
    if not all(titles):
        raise ConfigError(f"confluence_parent: {text!r} has an empty title; write it like 'Reliability > Incidents'")
    return titles


class ConfluenceClient:
    """The few content calls pir makes, with one clear error line for every refusal."""

    def __init__(self, settings: Settings, backoff: Backoff = DEFAULT_BACKOFF) -> None:
        if not settings.confluence_url:
            raise ConfigError(
                "PIR_CONFLUENCE_URL is not set; set it to your Confluence (Cloud: https://yourcompany.atlassian.net/wiki)"
            )
        if not settings.confluence_space:
            raise ConfigError("PIR_CONFLUENCE_SPACE is not set; set it to the key of the space postmortems go in")
        self.settings = settings
        self.space = settings.confluence_space
        self.parent = settings.confluence_parent
        self.api = settings.confluence_url.rstrip("/") + "/rest/api/content"
        self.session = requests.Session()
        if settings.confluence_pat:
            self.session.headers["Authorization"] = f"Bearer {settings.confluence_pat.reveal()}"
        elif settings.confluence_email and settings.confluence_token:
            self.session.auth = (settings.confluence_email, settings.confluence_token.reveal())
        else:
            raise ConfigError(
                "no Confluence credentials: set PIR_CONFLUENCE_EMAIL and PIR_CONFLUENCE_TOKEN (Cloud) or "
                "PIR_CONFLUENCE_PAT (Data Center), in the environment or the PIR_SECRETS_FILE"
            )
        self.requests = 0
        self.backoff = backoff

    # ---------------------------------------------------------------------------------------- transport

    def _call(
        self,
        method: str,
        path: str = "",
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        what: str,
        missing_ok: bool = False,
    ) -> requests.Response | None:
        for attempt in range(1, self.backoff.attempts + 1):
            self.requests += 1
            try:
                response = self.session.request(method, self.api + path, params=params, json=json, timeout=TIMEOUT)
            except requests.RequestException as exc:
                raise PirError(
                    f"cannot reach Confluence at {self.settings.confluence_url} ({type(exc).__name__}); "
                    "check PIR_CONFLUENCE_URL and the network"
                ) from None
            # Reads are retried on rate limits and server errors; a write is not (it may have happened).
            if method != "GET" or (response.status_code != 429 and response.status_code < 500):
                break
            if attempt < self.backoff.attempts:
                time.sleep(_retry_after(response) or self.backoff.delay(attempt))
        if response.status_code == 401:
            raise PirError(
                f"Confluence refused the credentials (HTTP 401) while {what}; check PIR_CONFLUENCE_EMAIL and "
                "PIR_CONFLUENCE_TOKEN (Cloud) or PIR_CONFLUENCE_PAT (Data Center)"
            )
        if response.status_code == 403:
            raise PirError(
                f"Confluence refused access (HTTP 403) while {what}: the account may not add or edit pages in "
                f"space {self.space} under '{self.parent}'; ask a space admin for that permission"
            )
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 404:
            raise PirError(
                f"Confluence found nothing (HTTP 404) while {what}: check PIR_CONFLUENCE_SPACE ({self.space}) "
                "and PIR_CONFLUENCE_URL (Cloud URLs end in /wiki)"
            )
        if response.status_code >= 400:
            # A gateway's error page may quote the request and its Authorization header back.
            raise PirError(
                f"Confluence answered HTTP {response.status_code} while {what}: "
                f"{redact(_message(response), self.settings)}"
            )
        return response

    # -------------------------------------------------------------------------------------------- calls

    def find(self, title: str, *, what: str) -> list[dict[str, Any]]:
        response = self._call(
            "GET", params={"spaceKey": self.space, "title": title, "expand": "version,ancestors"}, what=what
        )
        assert response is not None
        return list(response.json().get("results") or [])

    def resolve_parent(self) -> str:
        """The id of the page at the end of the parent title path."""
        parent_id: str | None = None
        trail: list[str] = []
        for title in parent_path(self.parent):
            trail.append(title)
            pages = self.find(title, what=f"looking for the parent page '{' > '.join(trail)}' in space {self.space}")
            if parent_id is not None:
                pages = [p for p in pages if (p.get("ancestors") or [{}])[-1].get("id") == parent_id]
            if not pages:
                raise PirError(
                    f"Confluence space {self.space} has no page '{' > '.join(trail)}'; create it, or set "
                    "PIR_CONFLUENCE_PARENT to the title path of an existing page (like 'Reliability > Incidents')"
                )
            parent_id = str(pages[0]["id"])
        assert parent_id is not None
        return parent_id

    def page(self, page_id: str) -> dict[str, Any] | None:
        """The page with its version, or None when it no longer exists (deleted in Confluence)."""
        response = self._call(
            "GET", f"/{page_id}", params={"expand": "version"}, what=f"reading page {page_id}", missing_ok=True
        )
        return None if response is None else response.json()

    def create(self, title: str, body: str, parent_id: str) -> dict[str, Any]:
        payload = {
            "type": "page",
            "title": title,
            "space": {"key": self.space},
            "ancestors": [{"id": parent_id}],
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        return _body(self._call("POST", json=payload, what=f"creating '{title}' in space {self.space}"))

    def update(self, page: dict[str, Any], title: str, body: str) -> dict[str, Any]:
        version = int(page["version"]["number"]) + 1
        payload = {
            "type": "page",
            "title": title,
            "version": {"number": version},
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        return _body(self._call("PUT", f"/{page['id']}", json=payload, what=f"updating '{title}' (page {page['id']})"))


def _retry_after(response: requests.Response) -> float | None:
    """Confluence's Retry-After in seconds (capped at a minute), when it sent one as a number."""
    try:
        return min(60.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _body(response: requests.Response | None) -> dict[str, Any]:
    assert response is not None  # only a call with missing_ok answers None
    return response.json()


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or "")[:300] or response.reason
    except ValueError:
        return response.reason


def _result(page: dict[str, Any], created: bool, client: ConfluenceClient) -> PageResult:
    links = page.get("_links") or {}
    base = links.get("base") or client.settings.confluence_url or ""
    url = base.rstrip("/") + (links.get("webui") or f"/pages/viewpage.action?pageId={page['id']}")
    return PageResult(str(page["id"]), int(page["version"]["number"]), url, created, client.requests)


def publish_page(
    settings: Settings, title: str, body: str, known_page_id: str | None = None, backoff: Backoff = DEFAULT_BACKOFF
) -> PageResult:
    """Create the page, or update it (next version) when pir published it before or a page has its title."""
    client = ConfluenceClient(settings, backoff=backoff)
    if known_page_id:
        page = client.page(known_page_id)
        if page is not None:
            return _result(client.update(page, title, body), False, client)
    parent_id = client.resolve_parent()
    existing = client.find(title, what=f"looking for '{title}' in space {settings.confluence_space}")
    if existing:
        return _result(client.update(existing[0], title, body), False, client)
    return _result(client.create(title, body, parent_id), True, client)

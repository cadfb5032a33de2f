"""A Confluence-compatible HTTP server on 127.0.0.1 for the publishing tests (REST API ``/rest/api/content``).

It keeps pages in memory and answers the calls ``pirlib.publish.confluence`` makes, the way Confluence
Cloud does under ``/wiki`` (Data Center serves the same API without the prefix: ``context=""``):

- ``GET /rest/api/content?spaceKey=&title=&expand=version,ancestors``: ``{"results": [...], "size": n}``;
  an unknown space is an empty result, as in Confluence.
- ``GET /rest/api/content/{id}?expand=version``; 404 for an unknown id.
- ``POST /rest/api/content``: a page with ``space.key``, ``title``, ``ancestors: [{"id"}]`` and
  ``body.storage``; the storage value must be well-formed XHTML (400 otherwise, as Confluence refuses it),
  the title unique in the space (400 "A page with this title already exists"), the ancestor must exist.
- ``PUT /rest/api/content/{id}``: ``version.number`` must be the current one + 1 (409 otherwise).
- Auth: Basic (e-mail + API token) or Bearer (PAT); anything else is 401.
- Fault injection: ``fail[(method, path_prefix)] = status`` answers that status (401, 403, 404, 500) to
  matching requests; ``flaky[(method, path_prefix)] = [429, 503]`` answers those once each, in order, then
  serves normally. Every request is logged in ``requests`` as ``(method, path)``.
"""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EMAIL = "pir-bot@example.com"
TOKEN = "confluence-api-token-7c1d"
PAT = "confluence-pat-MzE0MTU5MjY1"
STORAGE_NAMESPACES = 'xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier"'


class FakeConfluence:
    def __init__(self, *, context: str = "/wiki", spaces: tuple[str, ...] = ("REL",)) -> None:
        self.context = context
        self.spaces = set(spaces)
        self.pages: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[tuple[str, str], int] = {}
        self.flaky: dict[tuple[str, str], list[int]] = {}
        self.echo_auth = False  # failures quote the Authorization header back, as some gateways do
        self._next_id = 1000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + context
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------------------------------- content

    def add_page(self, space: str, title: str, parent_id: str | None = None, body: str = "<p>parent</p>") -> str:
        with self._lock:
            page_id = str(self._next_id)
            self._next_id += 1
        ancestors = (self.pages[parent_id]["ancestors"] + [parent_id]) if parent_id else []
        self.pages[page_id] = {
            "id": page_id,
            "space": space,
            "title": title,
            "ancestors": ancestors,
            "version": 1,
            "body": body,
        }
        return page_id

    def pages_titled(self, title: str) -> list[dict[str, Any]]:
        return [p for p in self.pages.values() if p["title"] == title]

    def _json(self, page: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": page["id"],
            "type": "page",
            "status": "current",
            "title": page["title"],
            "space": {"key": page["space"]},
            "version": {"number": page["version"]},
            "ancestors": [{"id": a, "title": self.pages[a]["title"]} for a in page["ancestors"]],
            "_links": {"webui": f"/spaces/{page['space']}/pages/{page['id']}", "base": self.url},
        }

    # ------------------------------------------------------------------------------------------- serving

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        self.requests.append((method, parts.path))
        for (fail_method, prefix), status in self.fail.items():
            if fail_method == method and parts.path.startswith(self.context + prefix):
                echo = f" (request had Authorization: {handler.headers.get('Authorization')})" if self.echo_auth else ""
                return self._send(handler, status, {"statusCode": status, "message": "injected" + echo})
        for (flaky_method, prefix), statuses in self.flaky.items():
            if flaky_method == method and parts.path.startswith(self.context + prefix) and statuses:
                return self._send(handler, statuses.pop(0), {"statusCode": 429, "message": "Rate limited"})
        if not self._authorised(handler.headers.get("Authorization", "")):
            return self._send(handler, 401, {"statusCode": 401, "message": "Unauthorized"})
        api = self.context + "/rest/api/content"
        if not parts.path.startswith(api):
            return self._send(handler, 404, {"statusCode": 404, "message": "No such endpoint"})
        rest = parts.path[len(api) :].strip("/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = None
        if method in ("POST", "PUT"):
            body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")
        if method == "GET" and not rest:
            found = [
                self._json(p)
                for p in self.pages.values()
                if p["space"] == query.get("spaceKey") and p["title"] == query.get("title")
            ]
            return self._send(handler, 200, {"results": found, "size": len(found), "start": 0, "limit": 25})
        if method == "GET":
            page = self.pages.get(rest)
            return self._send(handler, 200, self._json(page)) if page else self._not_found(handler)
        if method == "POST" and not rest:
            return self._create(handler, body)
        if method == "PUT" and rest in self.pages:
            return self._update(handler, self.pages[rest], body)
        return self._not_found(handler)

    def _authorised(self, header: str) -> bool:
        basic = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        return header in (basic, f"Bearer {PAT}")

    def _storage_problem(self, body: dict[str, Any]) -> str | None:
        storage = body.get("body", {}).get("storage", {})
        if storage.get("representation") != "storage":
            return "body.storage.representation must be 'storage'"
        try:
            ET.fromstring(f"<root {STORAGE_NAMESPACES}>{storage.get('value', '')}</root>")
        except ET.ParseError as exc:
            return f"Error parsing xhtml: {exc}"
        return None

    def _create(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        space, title = body.get("space", {}).get("key"), body.get("title")
        if space not in self.spaces:
            return self._send(handler, 404, {"statusCode": 404, "message": f"No space with key : {space}"})
        if problem := self._storage_problem(body):
            return self._send(handler, 400, {"statusCode": 400, "message": problem})
        if any(p["space"] == space and p["title"] == title for p in self.pages.values()):
            return self._send(handler, 400, {"statusCode": 400, "message": "A page with this title already exists"})
        ancestors = body.get("ancestors") or []
        parent = ancestors[-1]["id"] if ancestors else None
        if parent is not None and parent not in self.pages:
            return self._send(handler, 400, {"statusCode": 400, "message": f"Unknown ancestor {parent}"})
        page_id = self.add_page(space, title, parent, body["body"]["storage"]["value"])
        self._send(handler, 200, self._json(self.pages[page_id]))

    def _update(self, handler: BaseHTTPRequestHandler, page: dict[str, Any], body: dict[str, Any]) -> None:
        number = body.get("version", {}).get("number")
        if number != page["version"] + 1:
            return self._send(
                handler,
                409,
                {
                    "statusCode": 409,
                    "message": (f"Version must be incremented on update. Current version is: {page['version']}"),
                },
            )
        if problem := self._storage_problem(body):
            return self._send(handler, 400, {"statusCode": 400, "message": problem})
        page.update(version=number, title=body.get("title", page["title"]), body=body["body"]["storage"]["value"])
        self._send(handler, 200, self._json(page))

    def _not_found(self, handler: BaseHTTPRequestHandler) -> None:
        self._send(handler, 404, {"statusCode": 404, "message": "No content found"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

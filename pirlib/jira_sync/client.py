"""The Jira connection: authentication, deployment detection, our own retry layer and request counting.

We use the ``jira`` package for the session, the authentication and its URL building, but not for retries:
its ``ResilientSession`` retries only 429 and 503, sleeps up to 60 s per try, retries POSTs too, and crashes
with a ``ValueError`` when ``Retry-After`` is an HTTP date (``int("Wed, 21 Oct 2015 07:28:00 GMT")``). So
the package runs with ``max_retries=0`` (it then never reaches that parser) and every request goes through
``_RetryingAdapter``, mounted on the package's own session, which

- retries 429 and 503 (``Retry-After`` in seconds or as an HTTP date), 500/502/504, timeouts and
  connections dropped before or in the middle of the body, with bounded exponential backoff and jitter;
- turns 401/403 into one line naming the setting to fix (never the token, never a stack trace);
- counts every request it sends (retries included) by endpoint, e.g. ``GET /rest/api/2/issue/{id}/comment``.

Only idempotent methods are retried after the server may have seen the request (5xx, timeouts, a drop
mid-response); a POST is retried only on 429/503 and on connection failures before anything was sent,
so a create is never sent twice by this layer.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from jira import JIRA
from jira.exceptions import JIRAError
from requests.adapters import HTTPAdapter

from pirlib.config import Settings
from pirlib.errors import ConfigError, PirError

LOG = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses after which a non-idempotent request was certainly not carried out.
_SAFE_FOR_POST = frozenset({429, 503})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REST_PREFIX = re.compile(r"^.*?(/rest/)")
# Path segments that identify one issue (key or numeric id) or one comment/history; they are folded into
# a placeholder so that request counts group by endpoint, not by issue.
_ISSUE_SEGMENT = re.compile(r"^(\d+|[A-Za-z][A-Za-z0-9_]*-\d+)$")


class JiraError(PirError):
    """Jira answered with an error that retrying cannot fix (bad JQL, missing permission, ...)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JiraAuthError(JiraError):
    """Jira rejected the credentials (401) or refused them access (403)."""


class JiraNotFoundError(JiraError):
    """The endpoint or issue does not exist (404), for example an endpoint older Data Center lacks."""


class JiraUnavailableError(JiraError):
    """Jira kept failing (429/5xx, timeouts, dropped connections) after the bounded retries."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Defaults suit a real site; tests pass small delays."""

    max_attempts: int = 6  # the first try plus five retries
    base_delay: float = 1.0  # seconds before the first retry; doubles each time
    max_delay: float = 30.0  # cap of one backoff sleep
    max_retry_after: float = 300.0  # a Retry-After longer than this fails at once rather than hang the run
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    # Resend a POST after 429/503 here. ``pir push`` turns it off: a proxy's 503 may follow a create that
    # happened, so push looks for the issue before every resend (push.py) instead.
    resend_posts: bool = True

    def backoff(self, attempt: int) -> float:
        """Sleep before retry number ``attempt`` (1-based): exponential, capped, with full jitter in [½, 1]."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


def endpoint_name(method: str, url: str) -> str:
    """``GET /rest/api/2/issue/{id}/changelog`` for any issue; the query string is dropped."""
    path = urlsplit(url).path
    path = _REST_PREFIX.sub(r"\1", path) if "/rest/" in path else path
    parts = path.split("/")
    # The segment after "api" is the API version (2, 3, latest), not an id.
    folded = [
        "{id}" if _ISSUE_SEGMENT.match(part) and (n == 0 or parts[n - 1] != "api") else part
        for n, part in enumerate(parts)
    ]
    return f"{method.upper()} {'/'.join(folded)}"


class RequestCounter:
    """Requests sent, by endpoint, and how many of them were retries. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_endpoint: Counter[str] = Counter()
        self.retries = 0

    def count(self, endpoint: str, *, retry: bool) -> None:
        with self._lock:
            self.by_endpoint[endpoint] += 1
            if retry:
                self.retries += 1

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.by_endpoint.items()))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_TRANSIENT_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _RetryingAdapter(HTTPAdapter):
    """An HTTPAdapter that retries transient failures, counts requests and translates auth failures."""

    def __init__(
        self,
        policy: RetryPolicy,
        counter: RequestCounter,
        credential_hint: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(pool_connections=4, pool_maxsize=8)
        self.policy = policy
        self.counter = counter
        self.credential_hint = credential_hint
        self._sleep = sleep

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        endpoint = endpoint_name(method, request.url or "")
        idempotent = method in _IDEMPOTENT
        if timeout is None:
            timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        started = time.monotonic()
        last_problem = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.counter.count(endpoint, retry=attempt > 1)
            wait: float | None = None
            try:
                response = super().send(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
                if not stream:
                    # Read the body here, inside the retry loop: a connection dropped mid-body surfaces now
                    # (ChunkedEncodingError) instead of later in Session.send, where nobody retries it.
                    _ = response.content
            except _TRANSIENT_EXCEPTIONS as exc:
                sent = not isinstance(exc, requests.exceptions.ConnectTimeout) and not _is_connect_refused(exc)
                last_problem = _describe_exception(exc)
                if not idempotent and sent:
                    raise JiraUnavailableError(
                        f"Jira {endpoint} failed ({last_problem}) and is not safe to resend; "
                        "check in Jira whether it took effect, then run the command again"
                    ) from None
            else:
                status = response.status_code
                if status in (401, 403):
                    raise self._auth_error(status, endpoint, response)
                if status not in RETRY_STATUSES or (
                    not idempotent and (status not in _SAFE_FOR_POST or not self.policy.resend_posts)
                ):
                    return response
                last_problem = f"HTTP {status}"
                if status in (429, 503):
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is not None and wait > self.policy.max_retry_after:
                        raise JiraUnavailableError(
                            f"Jira {endpoint} answered {status} and asked to wait {wait:.0f} s, longer than "
                            f"the {self.policy.max_retry_after:.0f} s pir waits; run the sync again later"
                        )
                response.close()
            if attempt == self.policy.max_attempts:
                break
            delay = self.policy.backoff(attempt) if wait is None else wait + random.uniform(0, 0.1 + wait * 0.1)
            LOG.warning(
                "Jira %s: %s; retry %d of %d in %.2f s",
                endpoint,
                last_problem,
                attempt,
                self.policy.max_attempts - 1,
                delay,
            )
            self._sleep(delay)
        elapsed = time.monotonic() - started
        raise JiraUnavailableError(
            f"Jira {endpoint} still failed after {self.policy.max_attempts} attempts over {elapsed:.0f} s "
            f"(last: {last_problem}); check that Jira is up and run the sync again (it resumes where it stopped)"
        )

    def _auth_error(self, status: int, endpoint: str, response: requests.Response) -> JiraAuthError:
        if status == 401:
            what = "rejected the credentials"
        elif "CAPTCHA" in response.headers.get("X-Authentication-Denied-Reason", ""):
            what = "demands a CAPTCHA after failed logins (log in once in a browser)"
        else:
            what = "refused access"
        return JiraAuthError(f"Jira {what} (HTTP {status} on {endpoint}); check {self.credential_hint}", status=status)


def _is_connect_refused(exc: Exception) -> bool:
    # A refused or unresolvable connection never reached the server: safe to resend even a POST.
    text = repr(exc)
    return isinstance(exc, requests.exceptions.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text
    )


def _describe_exception(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-response"
    if _is_connect_refused(exc):
        return "connection refused"
    return "connection dropped"


@dataclass
class JiraClient:
    """A connected ``jira.JIRA`` plus what pir learned at start-up and the request counts."""

    jira: Any  # jira.JIRA; typed loosely so that importing this module stays cheap
    server_info: dict[str, Any]
    counter: RequestCounter
    base_url: str
    cloud: bool
    api_version: str = field(default="2")

    @property
    def deployment(self) -> str:
        return "cloud" if self.cloud else "datacenter"

    def url(self, path: str, api: str | None = None) -> str:
        return f"{self.base_url}/rest/api/{api or self.api_version}/{path.lstrip('/')}"

    def get(self, path: str, params: dict[str, Any] | None = None, *, api: str | None = None) -> Any:
        """GET ``/rest/api/{api}/{path}`` through the jira package's session and our retry layer; JSON back."""
        url = self.url(path, api)
        try:
            response = self.jira._session.get(url, params=params)
        except JIRAError as exc:
            raise _jira_error(exc, endpoint_name("GET", url)) from None
        try:
            return response.json()
        except ValueError:
            raise JiraError(
                f"Jira {endpoint_name('GET', url)} returned something that is not JSON "
                f"(HTTP {response.status_code}); check that PIR_JIRA_URL points at the Jira base URL",
                status=response.status_code,
            ) from None


def _jira_error(exc: Any, endpoint: str) -> JiraError:
    status = getattr(exc, "status_code", None)
    messages: list[str] = []
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
            messages = list(body.get("errorMessages") or []) + [
                f"{k}: {v}" for k, v in (body.get("errors") or {}).items()
            ]
        except (ValueError, AttributeError):
            messages = []
    detail = "; ".join(str(m) for m in messages)[:300] or "no detail"
    if status == 404:
        return JiraNotFoundError(f"Jira {endpoint}: not found (HTTP 404: {detail})", status=status)
    if status == 410:
        return JiraError(
            f"Jira {endpoint} is gone (HTTP 410: {detail}); this site is Jira Cloud, which pir detects from "
            "serverInfo: check that PIR_JIRA_URL is the site's base URL",
            status=status,
        )
    if status == 400 and ("jql" in detail.lower() or "/search" in endpoint):
        return JiraError(f"Jira rejected the query (HTTP 400: {detail}); fix PIR_INCIDENT_JQL", status=status)
    return JiraError(f"Jira {endpoint} failed (HTTP {status}: {detail})", status=status)


def _credentials(settings: Settings) -> tuple[str, dict[str, Any], str]:
    """(kind, JIRA() auth keyword, setting names to blame) from the settings. Secrets stay Secret here."""
    has_pat = bool(settings.jira_pat)
    has_basic = bool(settings.jira_token and settings.jira_email)
    if not has_pat and not has_basic:
        raise ConfigError(
            "no Jira credentials: set PIR_JIRA_EMAIL and PIR_JIRA_TOKEN (Cloud API token) "
            "or PIR_JIRA_PAT (Data Center personal access token)"
        )
    host = urlsplit(settings.jira_url or "").hostname or ""
    looks_cloud = host.endswith((".atlassian.net", ".jira.com", ".jira-dev.com"))
    if has_basic and (not has_pat or looks_cloud):
        assert settings.jira_token is not None and settings.jira_email is not None
        return (
            "basic",
            {"basic_auth": (settings.jira_email, settings.jira_token.reveal())},
            ("PIR_JIRA_EMAIL and PIR_JIRA_TOKEN"),
        )
    assert settings.jira_pat is not None
    return "bearer", {"token_auth": settings.jira_pat.reveal()}, "PIR_JIRA_PAT"


def connect(
    settings: Settings,
    *,
    policy: RetryPolicy | None = None,
    counter: RequestCounter | None = None,
) -> JiraClient:
    """Build the ``jira.JIRA`` client for the configured site and detect Cloud or Data Center.

    Costs one request (``serverInfo``). Raises ConfigError for missing settings, JiraAuthError for
    rejected credentials and JiraUnavailableError when the site cannot be reached after retries.
    """
    if not settings.jira_url:
        raise ConfigError(
            "PIR_JIRA_URL is not set; set it to the Jira base URL, e.g. https://yourcompany.atlassian.net"
        )
    policy = policy or RetryPolicy()
    counter = counter or RequestCounter()
    kind, auth, hint = _credentials(settings)
    try:
        jira = JIRA(
            server=settings.jira_url,
            options={"rest_api_version": "2", "check_update": False},
            get_server_info=False,  # we fetch it ourselves below, through our retry layer
            max_retries=0,  # the package's retries crash on Retry-After dates; ours replace them
            timeout=(policy.connect_timeout, policy.read_timeout),
            logging=False,
            **auth,
        )
    except Exception as exc:  # the constructor makes no request; a failure here is a bad URL or option
        raise ConfigError(f"cannot set up the Jira client for PIR_JIRA_URL ({type(exc).__name__}); check it") from None
    adapter = _RetryingAdapter(policy, counter, hint)
    jira._session.mount("https://", adapter)
    jira._session.mount("http://", adapter)
    base_url = settings.jira_url.rstrip("/")
    client = JiraClient(jira=jira, server_info={}, counter=counter, base_url=base_url, cloud=False)
    info = client.get("serverInfo")
    if not isinstance(info, dict) or "versionNumbers" not in info:
        raise JiraError(
            "Jira serverInfo did not look like Jira's (no versionNumbers); check that PIR_JIRA_URL is the "
            "site's base URL"
        )
    client.server_info = info
    client.cloud = info.get("deploymentType") == "Cloud"
    # Let the jira package's own methods (search_issues, comments, ...) pick the right endpoints too.
    jira.deploymentType = info.get("deploymentType")
    jira._version = tuple(info.get("versionNumbers") or (0, 0, 0))
    # Cloud v3 gives rich text as ADF (lossless); Data Center only has v2 (wiki text).
    client.api_version = "3" if client.cloud else "2"
    if client.cloud and kind == "bearer":
        raise ConfigError(
            "this Jira is Cloud, which takes no personal access tokens: set PIR_JIRA_EMAIL and PIR_JIRA_TOKEN "
            "(an API token from id.atlassian.com) instead of PIR_JIRA_PAT"
        )
    return client


def dump_counts(counter: RequestCounter) -> str:
    """The request counts as JSON for ``sync_runs.requests``."""
    return json.dumps(counter.snapshot(), sort_keys=True)

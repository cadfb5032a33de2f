"""The Jira client against the fake Jira on 127.0.0.1, through the real `jira` package and `requests`.

Each fault is injected by the server for real (status codes, Retry-After headers, sockets closed in the
middle of a body, answers slower than the read timeout) and the client must recover from it with a bounded
number of requests, or fail with one line that names the fix.
"""

from __future__ import annotations

import email.utils
import time

import pytest
from support.fake_jira import CLOUD_TOKEN, DC_PAT, FakeJira, tiny_site

from pirlib.config import Secret, Settings
from pirlib.jira_sync import client as jc

FAST = jc.RetryPolicy(base_delay=0.01, max_delay=0.05, connect_timeout=1.0, read_timeout=0.5)


def settings_for(server: FakeJira, **changes: object) -> Settings:
    creds = {k: Secret(v) if k in ("jira_token", "jira_pat") else v for k, v in server.credentials().items()}
    return Settings(jira_url=server.url, **{**creds, **changes})


@pytest.fixture(params=["datacenter", "cloud"])
def server(request: pytest.FixtureRequest):
    with FakeJira(tiny_site(3), flavour=request.param) as fake:
        yield fake


def test_endpoint_names_fold_ids_and_keys_but_not_the_api_version():
    assert jc.endpoint_name("get", "https://x/jira/rest/api/2/issue/INC-12/comment?startAt=0") == (
        "GET /rest/api/2/issue/{id}/comment"
    )
    assert (
        jc.endpoint_name("GET", "http://h/rest/api/3/issue/10042/changelog") == "GET /rest/api/3/issue/{id}/changelog"
    )
    assert jc.endpoint_name("GET", "http://h/rest/api/3/search/jql?jql=x") == "GET /rest/api/3/search/jql"


def test_retry_after_in_seconds_and_as_an_http_date():
    assert jc.parse_retry_after("7") == 7.0
    now = time.time()
    assert jc.parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert jc.parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert jc.parse_retry_after("soon") is None
    assert jc.parse_retry_after(None) is None


def test_connect_detects_the_deployment_and_uses_its_auth(server: FakeJira):
    client = jc.connect(settings_for(server), policy=FAST)
    assert client.cloud is server.cloud
    assert client.api_version == ("3" if server.cloud else "2")
    # The jira package's own methods now pick the flavour's endpoints too.
    assert client.jira._is_cloud is server.cloud
    assert client.jira.issue("INC-1").key == "INC-1"
    assert client.counter.snapshot() == {
        "GET /rest/api/2/serverInfo": 1,
        "GET /rest/api/2/issue/{id}": 1,
    }
    assert server.counts == {"GET /rest/api/2/serverInfo": 1, "GET /rest/api/2/issue/{id}": 1}


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("429", {"retry_after": "0"}),
        ("429", {"retry_after": "date:0"}),
        ("429", {}),
        ("503", {"retry_after": "0"}),
        ("503", {}),
        ("500", {}),
        ("502", {}),
        ("504", {}),
        ("drop", {}),
        ("reset", {}),
        ("slow", {"delay": 1.0}),
    ],
)
def test_each_transient_fault_is_retried_and_counted(kind: str, options: dict):
    with FakeJira(tiny_site(2), flavour="datacenter") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        server.add_fault(r"^GET /rest/api/2/search", kind, times=2, **options)
        page = client.get("search", {"jql": "project = INC", "fields": "summary"})
        assert page["total"] == 6
        assert client.counter.snapshot()["GET /rest/api/2/search"] == 3
        assert client.counter.retries == 2
        assert server.counts["GET /rest/api/2/search"] == 3


def test_a_retry_after_date_is_honoured_where_the_jira_package_crashes():
    from jira import JIRA

    with FakeJira(tiny_site(1), flavour="datacenter") as server:
        # The trap: the package's own retry reads Retry-After with int() and dies on the date form.
        raw = JIRA(server.url, token_auth=DC_PAT, get_server_info=False, max_retries=1)
        server.add_fault("serverInfo", "429", retry_after="date:1")
        with pytest.raises(ValueError):
            raw.server_info()
        client = jc.connect(settings_for(server), policy=FAST)
        server.add_fault(r"/myself", "429", retry_after="date:2")
        started = time.monotonic()
        assert client.get("myself")["timeZone"] == server.user_tz
        # HTTP dates have whole-second resolution: "2 s ahead" is between 1 and 2 s away when sent.
        assert time.monotonic() - started >= 0.9


def test_retries_are_bounded_and_end_in_one_clear_line():
    with FakeJira(tiny_site(1), flavour="cloud") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        server.add_fault("search/jql", "503", times=-1)
        with pytest.raises(jc.JiraUnavailableError) as caught:
            client.get("search/jql", {"jql": "project = INC"})
        message = str(caught.value)
        assert "\n" not in message and "after 6 attempts" in message and "503" in message
        assert server.counts["GET /rest/api/3/search/jql"] == FAST.max_attempts


def test_a_retry_after_longer_than_the_limit_fails_at_once():
    with FakeJira(tiny_site(1), flavour="cloud") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        server.add_fault("search/jql", "429", retry_after="3600")
        with pytest.raises(jc.JiraUnavailableError, match="asked to wait 3600 s"):
            client.get("search/jql", {"jql": "project = INC"})
        assert server.counts["GET /rest/api/3/search/jql"] == 1


def test_a_post_is_not_resent_after_a_server_error_but_is_after_429():
    from jira.exceptions import JIRAError

    with FakeJira(tiny_site(1), flavour="datacenter") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        url = client.url("search")
        server.add_fault(r"^POST /rest/api/2/search", "500")
        with pytest.raises(JIRAError):
            client.jira._session.post(url, data='{"jql": "project = INC"}')
        assert server.counts["POST /rest/api/2/search"] == 1
        server.add_fault(r"^POST /rest/api/2/search", "429", retry_after="0")
        response = client.jira._session.post(
            url, data='{"jql": "project = INC"}', headers={"Content-Type": "application/json"}
        )
        assert response.json()["total"] == 3
        assert server.counts["POST /rest/api/2/search"] == 3


@pytest.mark.parametrize("flavour", ["datacenter", "cloud"])
def test_bad_credentials_give_one_line_naming_the_setting_and_never_the_token(flavour: str):
    with FakeJira(tiny_site(1), flavour=flavour) as server:
        if flavour == "cloud":
            bad = settings_for(server, jira_token=Secret("wrong-token-123456"))
            hint = "PIR_JIRA_EMAIL and PIR_JIRA_TOKEN"
        else:
            bad = settings_for(server, jira_pat=Secret("wrong-pat-123456"))
            hint = "PIR_JIRA_PAT"
        with pytest.raises(jc.JiraAuthError) as caught:
            jc.connect(bad, policy=FAST)
        message = str(caught.value)
        assert "HTTP 401" in message and hint in message and "\n" not in message
        for secret in ("wrong-token-123456", "wrong-pat-123456", CLOUD_TOKEN, DC_PAT):
            assert secret not in message and secret not in repr(caught.value)
        assert server.counts["GET /rest/api/2/serverInfo"] == 1  # not retried


def test_forbidden_is_reported_as_an_access_problem():
    with FakeJira(tiny_site(1), flavour="datacenter") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        server.add_fault("search", "401")
        with pytest.raises(jc.JiraAuthError, match="check PIR_JIRA_PAT"):
            client.get("search", {"jql": "project = INC"})


def test_missing_settings_are_config_errors():
    from pirlib.errors import ConfigError

    with pytest.raises(ConfigError, match="PIR_JIRA_URL"):
        jc.connect(Settings(jira_pat=Secret("x")))
    with pytest.raises(ConfigError, match="PIR_JIRA_PAT"):
        jc.connect(Settings(jira_url="https://jira.example.com"))


def test_a_pat_against_cloud_is_rejected_naming_the_setting():
    with FakeJira(tiny_site(1), flavour="cloud") as server:
        settings = Settings(jira_url=server.url, jira_pat=Secret(DC_PAT))
        with pytest.raises(jc.JiraAuthError, match="PIR_JIRA_PAT"):
            jc.connect(settings, policy=FAST)


def test_jql_errors_name_the_setting():
    with FakeJira(tiny_site(1), flavour="datacenter") as server:
        client = jc.connect(settings_for(server), policy=FAST)
        with pytest.raises(jc.JiraError, match="fix PIR_INCIDENT_JQL"):
            client.get("search", {"jql": "project = = INC"})


def test_cloud_search_is_gone_and_data_center_has_no_search_jql():
    with FakeJira(tiny_site(1), flavour="cloud") as cloud, FakeJira(tiny_site(1), flavour="datacenter") as dc:
        with pytest.raises(jc.JiraError, match="HTTP 410"):
            jc.connect(settings_for(cloud), policy=FAST).get("search", {"jql": "project = INC"}, api="2")
        with pytest.raises(jc.JiraNotFoundError):
            jc.connect(settings_for(dc), policy=FAST).get("search/jql", {"jql": "project = INC"})

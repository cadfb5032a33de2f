"""deploy/jupyterhub_config.py read as JupyterHub reads it, and pirlib/hub.py's service start, without a Hub:
which process gets which setting, and the one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import hub
from traitlets.config.loader import PyFileConfigLoader

from pirlib.errors import PirError

hub.require(proxy=False)
from pirlib import hub as pir_hub  # noqa: E402 (needs JupyterHub, which require() checked)

SECRET_URL = "postgresql://pir:s3cret-pw@db.internal:5432/pir"
JIRA_TOKEN = "jira-token-never-for-viewers"


def load(monkeypatch, tmp_path: Path, **env: str):
    """The Hub's config from the deploy file with ``env`` (and nothing else of pir's) in the environment."""
    for name in [n for n in os.environ if n.startswith(("PIR_", "OAUTH_"))]:
        monkeypatch.delenv(name)
    defaults = {"PIR_HUB_STATE_DIR": str(tmp_path / "state"), "PIR_HUB_AUTHENTICATOR": "shared-password"}
    for name, value in {**defaults, **env}.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(hub.CONFIG.name, str(hub.CONFIG.parent)).load_config()


def services(config) -> dict[str, dict]:
    return {service["name"]: service for service in config.JupyterHub.services}


def test_the_dashboards_service_gets_the_read_model_and_no_secret(monkeypatch, tmp_path):
    config = load(
        monkeypatch, tmp_path, PIR_DATABASE_URL=SECRET_URL, PIR_JIRA_TOKEN=JIRA_TOKEN, PIR_DB=str(tmp_path / "r.duckdb")
    )
    dashboards = services(config)["pir-dashboards"]
    assert dashboards["environment"]["PIR_DB"] == str(tmp_path / "r.duckdb")
    assert SECRET_URL not in str(dashboards) and JIRA_TOKEN not in str(dashboards)
    assert dashboards["command"][1:] == ["-m", "pirlib.hub"]
    # facilitators write the store and push to Jira; the snapshot service reads the store
    assert config.Spawner.environment["PIR_DATABASE_URL"] == SECRET_URL
    assert config.Spawner.environment["PIR_JIRA_TOKEN"] == JIRA_TOKEN
    snapshot = services(config)["pir-snapshot"]
    assert snapshot["command"][-3:] == ["snapshot", "--every", "60"]
    assert snapshot["environment"]["PIR_DATABASE_URL"] == SECRET_URL and JIRA_TOKEN not in str(snapshot)
    # only the service holders of the viewer role reach the dashboards
    roles = {role["name"]: role for role in config.JupyterHub.load_roles}
    assert roles["pir-viewer"]["scopes"] == ["access:services!service=pir-dashboards"]
    assert "self" not in roles["user"]["scopes"]


def test_solo_mode_runs_no_snapshot_service(monkeypatch, tmp_path):
    assert "pir-snapshot" not in services(load(monkeypatch, tmp_path))


@pytest.mark.slow  # a Python that loads the config: about 5 s on a busy machine
def test_generic_oauth_without_its_endpoints_stops_with_one_line(tmp_path):
    """The default authenticator needs the provider's endpoints: the Hub refuses to start, naming them."""
    env = {"PATH": "/usr/bin:/bin", "PIR_HUB_STATE_DIR": str(tmp_path / "state")}
    loader = (
        "from traitlets.config.loader import PyFileConfigLoader; "
        f"PyFileConfigLoader({hub.CONFIG.name!r}, {str(hub.CONFIG.parent)!r}).load_config()"
    )
    result = subprocess.run([sys.executable, "-c", loader], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "deploy/jupyterhub_config.py: PIR_HUB_OAUTH_AUTHORIZE_URL, PIR_HUB_OAUTH_TOKEN_URL, PIR_HUB_OAUTH_USERDATA_URL"
        " not set: set your identity provider's OAuth endpoints, or PIR_HUB_AUTHENTICATOR to another authenticator"
        " (docs/team.md, Sign-in)"
    ]


def test_the_service_outside_a_hub_says_what_it_is(monkeypatch, capsys):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert pir_hub.main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "pir: error: JUPYTERHUB_SERVICE_URL and JUPYTERHUB_SERVICE_PREFIX are not set: python -m pirlib.hub runs as"
        " a JupyterHub service (see deploy/jupyterhub_config.py); to serve the dashboards yourself run `pir serve`"
    ]


def test_the_service_listens_on_loopback_under_its_prefix():
    env = {"JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:8866", "JUPYTERHUB_SERVICE_PREFIX": "/services/pir-dashboards/"}
    port, arguments = pir_hub.service_arguments(env)
    assert port == 8866
    assert "--Voila.base_url=/services/pir-dashboards/" in arguments
    assert "--Voila.identity_provider_class=pirlib.hub.HubIdentityProvider" in arguments
    with pytest.raises(PirError, match="listens on 127.0.0.1 only"):
        pir_hub.service_arguments({**env, "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8866"})


def test_the_oauth_callback_is_under_the_service_prefix():
    from jupyterhub.services.auth import HubOAuth

    auth = HubOAuth(base_url="/services/pir-dashboards/", api_token="not-a-real-token")  # what the Hub's env sets
    provider = pir_hub.HubIdentityProvider(token="", hub_auth=auth)
    paths = [handler[0] for handler in provider.get_handlers()]
    assert paths == ["/services/pir-dashboards/logout", "/services/pir-dashboards/oauth_callback"]
    assert provider.token == ""  # the API token never shows in the address Voila logs

# JupyterHub for a pir team: `jupyterhub -f deploy/jupyterhub_config.py` from the pir project folder.
#
# What runs where (docs/team.md has the details):
# - The Hub signs people in (an OAuthenticator for your SSO; PIR_HUB_AUTHENTICATOR picks another) behind
#   configurable-http-proxy (npm: `npm ci --prefix deploy`), on PIR_HUB_URL.
# - Each facilitator (group pir-facilitators) gets their own JupyterLab server on notebooks/: the guide as a
#   notebook, and as an app at /user/<name>/voila/render/facilitator_guide.ipynb. Only facilitators get a server.
# - The dashboards are the Hub-managed service `pir-dashboards` (`python -m pirlib.hub`: pir serve's Voila
#   behind the Hub's OAuth) at /services/pir-dashboards/, open to the role pir-viewer (group pir-viewers).
# - Team mode (PIR_DATABASE_URL set): the service `pir-snapshot` republishes the read model every 60 s.
#   `pir sync`, `pir remind` and `pir digest` are cron jobs (deploy/crontab), not services.
# - jupyterhub-idle-culler stops facilitators' servers idle for PIR_HUB_CULL_SECONDS (default 3600).
#
# Settings come from the environment (an EnvironmentFile of a systemd unit, mode 600); nothing secret is
# written here. PIR_* settings (docs/settings.md) go to the facilitators' servers and the services that need
# them; PIR_HUB_* variables (docs/team.md) configure the Hub itself.
import os
import sys
from pathlib import Path

from pirlib.serve import SHARE_DIR

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

DEPLOY = Path(__file__).resolve().parent
PROJECT = Path(os.environ.get("PIR_HOME") or DEPLOY.parent).resolve()
STATE = Path(os.environ.get("PIR_HUB_STATE_DIR") or PROJECT / "data" / "hub")
STATE.mkdir(parents=True, exist_ok=True)
PYTHON = sys.executable
PIR = str(Path(PYTHON).with_name("pir"))
TEAM_MODE = bool(os.environ.get("PIR_DATABASE_URL"))

DASHBOARDS = "pir-dashboards"
VIEWER_ROLE = "pir-viewer"
VIEWERS = os.environ.get("PIR_HUB_VIEWER_GROUP", "pir-viewers")
FACILITATORS = os.environ.get("PIR_HUB_FACILITATOR_GROUP", "pir-facilitators")


def _names(variable):
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


def _pir_environment(*extra):
    """The pir settings a process gets: the project, the read model and ``extra`` settings, when set."""
    env = {"PIR_HOME": str(PROJECT), "PIR_DB": str((PROJECT / os.environ.get("PIR_DB", "data/pir.duckdb")).resolve())}
    for name in ("PIR_CONFIG", "PIR_TODAY", *extra):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


# --- The Hub and its proxy -------------------------------------------------------------------------------
c.JupyterHub.bind_url = os.environ.get("PIR_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("PIR_HUB_API_PORT", "8081"))
c.JupyterHub.db_url = os.environ.get("PIR_HUB_DB_URL") or f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('PIR_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
_proxy = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
if _proxy.exists():  # `npm ci --prefix deploy`; else configurable-http-proxy on PATH (npm install -g)
    c.ConfigurableHTTPProxy.command = [str(_proxy)]

# --- Sign-in -----------------------------------------------------------------------------------------------
# Default: generic OAuth2/OIDC (Okta, Azure AD, Keycloak...) from OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET,
# OAUTH_CALLBACK_URL and the PIR_HUB_OAUTH_* endpoints; the IdP's groups claim becomes Hub groups, so
# membership of pir-viewers / pir-facilitators is managed in the IdP. docs/team.md shows GitHub, Google and
# Azure AD. PIR_HUB_AUTHENTICATOR names another authenticator (github, google, azuread, native, ...).
c.JupyterHub.authenticator_class = os.environ.get("PIR_HUB_AUTHENTICATOR", "generic-oauth")
c.Authenticator.admin_users = set(_names("PIR_HUB_ADMINS"))
if c.JupyterHub.authenticator_class == "generic-oauth":
    _endpoints = ("PIR_HUB_OAUTH_AUTHORIZE_URL", "PIR_HUB_OAUTH_TOKEN_URL", "PIR_HUB_OAUTH_USERDATA_URL")
    _unset = [name for name in _endpoints if not os.environ.get(name)]
    if _unset:
        sys.exit(
            f"deploy/jupyterhub_config.py: {', '.join(_unset)} not set: set your identity provider's OAuth endpoints,"
            " or PIR_HUB_AUTHENTICATOR to another authenticator (docs/team.md, Sign-in)"
        )
    c.GenericOAuthenticator.authorize_url = os.environ["PIR_HUB_OAUTH_AUTHORIZE_URL"]
    c.GenericOAuthenticator.token_url = os.environ["PIR_HUB_OAUTH_TOKEN_URL"]
    c.GenericOAuthenticator.userdata_url = os.environ["PIR_HUB_OAUTH_USERDATA_URL"]
    c.GenericOAuthenticator.scope = ["openid", "profile", "email", "groups"]
    c.GenericOAuthenticator.username_claim = os.environ.get("PIR_HUB_OAUTH_USERNAME_CLAIM", "email")
    c.GenericOAuthenticator.manage_groups = True
    c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
    c.GenericOAuthenticator.allowed_groups = {VIEWERS, FACILITATORS}
# A local authenticator (native, PAM, ...): the groups' members are named here (comma-separated user names).
_members = {VIEWERS: _names("PIR_HUB_VIEWERS"), FACILITATORS: _names("PIR_HUB_FACILITATORS")}
if any(_members.values()):
    c.JupyterHub.load_groups = {group: {"users": users} for group, users in _members.items()}

# --- Roles -------------------------------------------------------------------------------------------------
# A signed-in user may only see who they are; facilitators get their own server back ("self"), viewers the
# dashboards. Facilitators see the boards too.
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["read:users:name!user", "read:users:groups!user"]},
    {"name": "pir-facilitator", "groups": [FACILITATORS], "scopes": ["self"]},
    {"name": VIEWER_ROLE, "groups": [VIEWERS, FACILITATORS], "scopes": [f"access:services!service={DASHBOARDS}"]},
    {
        "name": "idle-culler",
        "services": ["idle-culler"],
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    },
]


def _landing(handler):
    """Facilitators land on their server, everyone else on the dashboards."""
    user = handler.current_user
    if user is not None and any(group.name == FACILITATORS for group in user.groups):
        return handler.hub.base_url + "spawn"
    return f"/services/{DASHBOARDS}/"


c.JupyterHub.default_url = _landing

# --- Facilitators' servers ---------------------------------------------------------------------------------
# JupyterLab on the project's notebooks (read-only for facilitators on a shared install: the guide saves to
# the store, never into the notebook). The guide's code finds the project through PIR_HOME; the Voila server
# extension finds pir's template through JUPYTER_PATH and voila.json through JUPYTER_CONFIG_PATH.
c.Spawner.cmd = [str(Path(PYTHON).with_name("jupyterhub-singleuser"))]  # pir's environment, whatever PATH says
c.Spawner.notebook_dir = str(PROJECT / "notebooks")
c.Spawner.default_url = "/lab/tree/facilitator_guide.ipynb"
c.Spawner.environment = {
    **_pir_environment(
        "PIR_DATABASE_URL",
        "PIR_SECRETS_FILE",
        "PIR_JIRA_URL",
        "PIR_JIRA_EMAIL",
        "PIR_JIRA_TOKEN",
        "PIR_JIRA_PAT",
        "PIR_DASHBOARD_URL",
    ),
    "JUPYTER_PATH": str(SHARE_DIR),
    "JUPYTER_CONFIG_PATH": str(SHARE_DIR),
}
# Kernels of a facilitator's server: an idle one (no page connected) is culled after an hour; a guide left
# open in a meeting is not. Without MathJax settings Voila's page asks a public CDN for MathJax (the guide has
# no formulas, and pir works on closed networks): unset, as `pir guide` has them, the page loads none.
c.Spawner.args = [
    "--MappingKernelManager.cull_idle_timeout=3600",
    "--MappingKernelManager.cull_interval=300",
    "--MappingKernelManager.cull_connected=False",
    '--ServerApp.tornado_settings={"mathjax_url": None, "mathjax_config": None}',
]
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120

# --- Services ----------------------------------------------------------------------------------------------
DASHBOARDS_PORT = int(os.environ.get("PIR_HUB_DASHBOARDS_PORT", "8866"))
CULL_SECONDS = int(os.environ.get("PIR_HUB_CULL_SECONDS", "3600"))
SERVICE_USER = os.environ.get("PIR_HUB_SERVICE_USER", "")  # a Hub running as root runs its services as this account
c.JupyterHub.services = [
    {
        # Voila's own kernel culling (voila.json) stops a closed board's kernel; the service holds no secret.
        "name": DASHBOARDS,
        "display": True,
        "url": f"http://127.0.0.1:{DASHBOARDS_PORT}",
        "command": [PYTHON, "-m", "pirlib.hub"],
        "user": SERVICE_USER,
        "cwd": str(PROJECT),
        "environment": _pir_environment(),
        "oauth_no_confirm": True,
        # Voila starts and imports the boards' code in its first kernels before it answers (about 25 s on 2
        # busy cores); the Hub gives up, and stops, when a managed service does not answer in time.
        "timeout": 120,
    },
    {
        "name": "idle-culler",
        "command": [PYTHON, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_SECONDS}"],
        "user": SERVICE_USER,
    },
]
if TEAM_MODE:
    # The read model at most a minute behind the guide's writes; the Hub restarts it if it exits.
    c.JupyterHub.services.append(
        {
            "name": "pir-snapshot",
            "command": [PIR, "snapshot", "--every", "60"],
            "user": SERVICE_USER,
            "cwd": str(PROJECT),
            "environment": _pir_environment("PIR_DATABASE_URL", "PIR_SECRETS_FILE"),
        }
    )

# A site's own additions (another spawner, TLS, a different proxy) without editing this file.
_site = os.environ.get("PIR_HUB_SITE_CONFIG")
if _site:
    load_subconfig(_site)  # noqa: F821 (JupyterHub's config loader defines it)

"""The dashboards as a JupyterHub service: `pir serve`'s Voila, signed in through the Hub.

`deploy/jupyterhub_config.py` runs ``python -m pirlib.hub`` as a Hub-managed service. The Hub gives it its
address, its URL prefix (``/services/<name>/``), an API token and its OAuth client through the environment;
this runs the same Voila as `pir serve` (``serve.voila_command``: voila.json, pir's template, the kernel
pool, culling) on that address and prefix, with JupyterHub's identity provider: a request without the Hub's
OAuth cookie is sent to the Hub's sign-in, a signed-in user without the service's access scope
(``access:services!service=<name>``, which the ``pir-viewer`` role grants) gets 403.

Decisions, and why:

- Standalone Voila, not Voila as an extension of a Jupyter server (``jupyterhub-singleuser`` with Voila's
  server extension). A Jupyter server also offers its contents, terminals and kernels APIs to everyone
  allowed in: a viewer could run code in the service. Standalone Voila lets a page's kernel receive only
  widget messages (no ``execute_request``), so a viewer can look at boards and nothing else.
- JupyterHub's own ``JupyterHubIdentityProvider`` (what ``jupyterhub-singleuser`` uses) does the OAuth and
  the scope check. Voila adds an identity provider's handlers (``/oauth_callback``, ``/logout``) without its
  ``base_url``, where the Hub never sends anyone; ``HubIdentityProvider`` adds the service's prefix.
- The service gets only what a board needs: the read model (``PIR_DB``), no database URL and no Jira
  secret (the deploy config passes none): boards only read the read model.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from jupyter_server.utils import url_path_join
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider

from pirlib import serve
from pirlib.config import load_settings
from pirlib.errors import PirError

# What the Hub sets for a managed service (jupyterhub.services.service): its address and its URL prefix.
SERVICE_URL = "JUPYTERHUB_SERVICE_URL"
SERVICE_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"


class HubIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's OAuth identity provider, its handlers under the service's prefix (standalone Voila adds
    them as given)."""

    def __init__(self, token: str = "", **kwargs: Any) -> None:
        # Voila passes the login token it was given (none); the Hub's OAuth needs none.
        super().__init__(**kwargs)

    @property
    def token(self) -> str:
        # Voila appends the provider's token to the address it logs; the Hub's API token is no login token.
        return ""

    def get_handlers(self) -> list[tuple[Any, ...]]:
        prefix = self.hub_auth.base_url
        return [(url_path_join(prefix, path), *rest) for path, *rest in super().get_handlers()]


def service_arguments(env: Mapping[str, str]) -> tuple[int, list[str]]:
    """The port and the Voila options for the service the Hub described in ``env``."""
    url = env.get(SERVICE_URL, "")
    prefix = env.get(SERVICE_PREFIX, "")
    if not url or not prefix:
        raise PirError(
            f"{SERVICE_URL} and {SERVICE_PREFIX} are not set: python -m pirlib.hub runs as a JupyterHub service"
            " (see deploy/jupyterhub_config.py); to serve the dashboards yourself run `pir serve`"
        )
    parsed = urlparse(url)
    if parsed.hostname != serve.HOST or parsed.port is None:
        raise PirError(
            f"{SERVICE_URL}={url}: the dashboards service listens on {serve.HOST} only;"
            f" give it a url such as http://{serve.HOST}:8866 in the Hub's config"
        )
    return parsed.port, [
        f"--Voila.base_url={prefix}",
        "--Voila.identity_provider_class=pirlib.hub.HubIdentityProvider",
        "--Voila.authorizer_class=jupyterhub.singleuser.extension.JupyterHubAuthorizer",
    ]


def dashboards_command(env: Mapping[str, str], extra_args: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """The Voila command line and its environment for the service the Hub described in ``env``."""
    port, arguments = service_arguments(env)
    settings = load_settings(env)
    return serve.voila_command(port, extra_args=[*arguments, *extra_args]), serve.kernel_environment(settings, env)


def main(argv: Sequence[str] | None = None) -> int:
    """Become the service's Voila (exec): the Hub's signals reach Voila, which stops its kernels, and no
    waiting parent process holds memory."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command, env = dashboards_command(os.environ, args)
    except PirError as exc:
        print(f"pir: error: {exc}", file=sys.stderr)
        return 1
    print(f"pir: serving the dashboards as the Hub service at {os.environ[SERVICE_PREFIX]}", file=sys.stderr)
    # The Hub stops a service with SIGINT first. A Hub started in the background by a shell (`nohup jupyterhub
    # &`) passes SIGINT on ignored, and Voila would only stop at the Hub's SIGTERM, 10 s later.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execve(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main())

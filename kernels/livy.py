"""Remote mode for clusters with Apache Livy: what sparkmagic's kernels in an analyst's server are configured with.

The kernels never talk to Livy itself: they talk to hunthub's Livy gateway (`hunthub.hub.livy_gateway`), a hub
service that holds Livy's credentials and decides which user a session runs as. `HubToken` is the sparkmagic
authenticator that proves who the analyst is to that gateway: the server's own JupyterHub API token.
"""

from __future__ import annotations

import os

from sparkmagic.auth.customauth import Authenticator

AUTH_NAME = "HubToken"

FATAL_ERROR_SUGGESTION = """The Livy session could not be used:
\t{}

Some things to try:
a) If the message says Livy is unreachable or did not answer, the remote cluster is down or overloaded:
   tell your hunthub admin (`hunthub doctor` checks Livy).
b) If it says the session is dead or failed, the cluster may lack resources: restart the kernel.
c) Restart the kernel to try again."""


class HubToken(Authenticator):
    """Sends this server's JupyterHub API token, which the gateway turns into the analyst's hub identity."""

    def __call__(self, request):
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if token:
            # read per request: the token is the server's, and a restarted server gets a new one
            request.headers["Authorization"] = f"token {token}"
        return request


def sparkmagic_config(gateway_url: str) -> dict:
    """sparkmagic's config.json for every analyst: all languages go to the gateway with `HubToken`."""
    credentials = {"url": gateway_url, "auth": AUTH_NAME}
    return {
        "kernel_python_credentials": credentials,
        "kernel_scala_credentials": credentials,
        "kernel_r_credentials": credentials,
        "authenticators": {
            AUTH_NAME: f"{__name__}.{HubToken.__name__}",
            "None": "sparkmagic.auth.customauth.Authenticator",
        },
        # The config dir is shared and read-only for analysts, so sparkmagic's default log file beside it cannot
        # be written: its log goes to the kernel's stderr (the server's log) instead.
        "logging_config": {
            "version": 1,
            "formatters": {"magicsFormatter": {"format": "%(asctime)s\t%(levelname)s\t%(message)s"}},
            "handlers": {
                "magicsHandler": {
                    "class": "logging.StreamHandler",
                    "formatter": "magicsFormatter",
                    "stream": "ext://sys.stderr",
                }
            },
            # sparkmagic logs two INFO lines per statement; problems are enough for the server's log
            "loggers": {"magicsLogger": {"handlers": ["magicsHandler"], "level": "WARNING", "propagate": 0}},
        },
        # The kernel polls its session this often; the gateway deletes sessions whose kernel stopped polling.
        "heartbeat_refresh_seconds": 30,
        "heartbeat_retry_seconds": 10,
        "livy_server_heartbeat_timeout_seconds": 60,
        "cleanup_all_sessions_on_exit": True,
        # The gateway already bounds each Livy request by a timeout; sparkmagic's default of 8 retries on a 5xx
        # would make "Livy is down" take half a minute to show.
        "retry_policy": "configurable",
        "retry_seconds_to_sleep_list": [0.5, 1, 2],
        "configurable_retry_policy_max_retries": 2,
        # YARN on a busy cluster often needs more than sparkmagic's 60 s to start a session's driver
        "livy_session_startup_timeout_seconds": 180,
        "fatal_error_suggestion": FATAL_ERROR_SUGGESTION,
        "ignore_ssl_errors": False,
    }

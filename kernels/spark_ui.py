"""A driver's Spark UI answers only through its analyst's own notebook server.

Why: a driver's UI listens on loopback, where every local account (and every process of a container) can reach
it, and it shows the analyst's SQL text, plans and environment. Spark has no login for it, but Spark 4 ships a
servlet filter, `org.apache.spark.ui.JWSFilter`, that refuses every request (403) without an
`Authorization: Bearer <JWS>` header signed with the key the driver was given. hunthub owns both ends:

- driver side (`ui_properties`, `give_key`): every driver gets the filter in its properties and a key of its own,
  256 random bits, set as a JVM system property over py4j after the JVM started. Never as `--conf`: pyspark's
  launch_gateway puts those on spark-submit's command line, which every local account can read in /proc. Spark
  redacts the key in the UI's Environment page (its name contains "secret");
- kernel side: the key travels with the session (`SessionInfo.ui_key`, also through a warm driver's 0600 offer)
  into the kernel's marker beside its connection file (0600, hunthub.kernels.spark_activity), with the UI's port;
- server side (`SparkUIHandler`, this module's Jupyter server extension): `<server>/sparkui/<port>/...` is
  jupyter-server-proxy's local proxy behind jupyter_server's own login (the analyst's hub token or cookie), adding
  the bearer token of the kernel that announced that port. A port no kernel of this server announced gets 404,
  so the route reaches nothing but this server's own drivers. The server's activity check sends the token too.

What it cannot do: root, and the analyst's own processes, can read the marker (it is the analyst's key). A token
lives as long as its driver (the key is new for every driver). The Spark master's and workers' UIs are the
cluster's, not an analyst's: they stay on loopback without this filter (they show application names, no SQL), as
does `hunthub ingest`'s driver (root's batch, which no analyst's server serves).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

FILTER = "org.apache.spark.ui.JWSFilter"
KEY_PROPERTY = f"spark.{FILTER}.param.secretKey"
ROUTE = "sparkui"
RUNTIME_DIR_SETTING = "hunthub_runtime_dir"  # the server's runtime dir, where its kernels' markers are
JWS_HEADER = json.dumps({"alg": "HS256"}).encode()


# --- driver side -----------------------------------------------------------------------------------------


def ui_properties(props: dict[str, str]) -> dict[str, str]:
    """The filter, added to whatever filters the site configured (`spark.ui.filters` is a comma-separated list)."""
    if props.get("spark.ui.enabled", "true").lower() == "false":
        return {}
    configured = [f.strip() for f in props.get("spark.ui.filters", "").split(",") if f.strip()]
    return {"spark.ui.filters": ",".join([FILTER, *[f for f in configured if f != FILTER]])}


def new_key() -> str:
    """256 random bits, written as the filter reads them (base64url)."""
    return _b64url(secrets.token_bytes(32))


def give_key(gateway, key: str) -> None:
    """Before the SparkContext exists: the driver JVM's SparkConf reads `spark.*` system properties when it is
    created (pyspark's and spark-repl's alike)."""
    gateway.jvm.java.lang.System.setProperty(KEY_PROPERTY, key)


# --- kernel and server side ------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bearer(key: str) -> str:
    """An `Authorization` value the filter accepts: a compact JWS (HS256) signed with the driver's key."""
    signing_input = f"{_b64url(JWS_HEADER)}.{_b64url(json.dumps({'iss': 'hunthub'}).encode())}"
    signature = hmac.new(_unb64url(key), signing_input.encode(), hashlib.sha256).digest()
    return f"Bearer {signing_input}.{_b64url(signature)}"


def keys_by_port(runtime_dir: str | os.PathLike) -> dict[int, str]:
    """The UI port and key of every driver the kernels of this server announced (see spark_activity.announce)."""
    from hunthub.kernels.spark_activity import MARKER_PREFIX, read_marker

    found = {}
    for marker in Path(runtime_dir).glob(f"{MARKER_PREFIX}*.json"):
        doc = read_marker(marker)
        if doc and doc.get("ui_key") and doc.get("ui_port"):
            found[int(doc["ui_port"])] = doc["ui_key"]
    return found


def _handler_class():
    from jupyter_server_proxy.handlers import LocalProxyHandler
    from tornado import web

    class SparkUIHandler(LocalProxyHandler):
        """jupyter-server-proxy's local proxy, for this server's own drivers' UIs only, with their bearer token."""

        def _key(self, port) -> str:
            key = keys_by_port(self.settings[RUNTIME_DIR_SETTING]).get(int(port))
            if key is None:
                raise web.HTTPError(404, f"no Spark session of this server has its UI on port {port}")
            return key

        def proxy(self, port, proxied_path):
            self._ui_key = self._key(port)
            return super().proxy(port, proxied_path)

        async def open(self, port, proxied_path):
            self._ui_key = self._key(port)
            return await super().open(port, proxied_path)

        def get_request_headers_override(self):
            return {"Authorization": bearer(self._ui_key)}

    return SparkUIHandler


def _jupyter_server_extension_points():
    return [{"module": "hunthub.kernels.spark_ui"}]


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    web_app.settings[RUNTIME_DIR_SETTING] = serverapp.runtime_dir
    route = url_path_join(web_app.settings["base_url"], rf"/{ROUTE}/(\d+)(/.*|)")
    web_app.add_handlers(".*", [(route, _handler_class(), {"absolute_url": False})])
    serverapp.log.info("hunthub: Spark UIs of this server's kernels at %s/<port>/", ROUTE)

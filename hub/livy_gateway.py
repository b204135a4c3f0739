"""hunthub's Livy gateway: the one way analysts' sparkmagic kernels reach a remote cluster's Apache Livy.

An analyst controls their own server, kernels and sparkmagic config, so who a Livy session runs as cannot be
decided there (sparkmagic#460/#470: `%%configure` and `%spark add` take any proxyUser or Livy URL). This
JupyterHub-managed service decides it instead:

- every request must carry `Authorization: token <JupyterHub API token>`; the hub says whose token it is
  (GET /hub/api/user with that token, which any token may ask, so the service needs no role of its own);
- POST /sessions runs the session as that hub user: `proxyUser` is overwritten with the user's name, whatever
  the notebook asked for, and Spark settings that choose a Kerberos identity are refused;
- a hub user whose name is a cluster service account (`hdfs`, `livy`... HuntHub.reserved_usernames) is refused
  outright: the hub refuses such names too, but an account made before a name was reserved (or in demo mode)
  must not become, or reach the sessions of, that service account on the cluster;
- a user sees, uses and deletes only sessions whose Livy `proxyUser` is theirs;
- it alone holds Livy's credentials (basic auth from a 0600 file) and TLS settings;
- a session whose kernel stopped polling it (a kernel killed without cleaning up: sparkmagic#430) is deleted
  after an idle timeout;
- Livy being down or slow is a 502/504 whose message names Livy's URL, which sparkmagic shows in the cell.

Run by the hub (see `hunthub.hub.config.apply_livy`), or by hand for a test:
``python -m hunthub.hub.livy_gateway --livy-url=https://livy.example:8998 --port=8082``.
Livy itself must have impersonation on (livy.impersonation.enabled) and accept the gateway's account as a
superuser/proxy user; Kerberos (SPNEGO) to Livy is not built in: use a Livy with basic auth behind TLS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import time

from tornado import httpclient, ioloop, web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.simple_httpclient import HTTPTimeoutError
from traitlets import Bool, Dict, Float, Integer, List, Unicode, default, validate
from traitlets.config import Application

from hunthub.hub.usernames import is_reserved
from hunthub.settings import DEFAULT_RESERVED_USERNAMES

# Spark settings that would pick the cluster identity a session runs as, beside Livy's own proxyUser
IDENTITY_CONF = re.compile(r"^spark\.(yarn|kerberos)\.(principal|keytab)$")
SESSION_PATH = re.compile(r"^/sessions/(\d+)(/state|/log|/completion|/statements(?:/\d+(?:/cancel)?)?)?$")


class GatewayError(web.HTTPError):
    """An error whose message the client sees in a Livy-style JSON body ({"msg": ...})."""

    def __init__(self, code: int, msg: str):
        super().__init__(code, reason=None)
        self.msg = msg


class LivyHandler(web.RequestHandler):
    gateway: LivyGateway

    def initialize(self, gateway: LivyGateway):
        self.gateway = gateway

    def check_xsrf_cookie(self):
        """Token-header auth only, never cookies, so no cross-site request can act as a user."""

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None))[1]
        msg = getattr(exc, "msg", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"msg": msg}))

    async def _user(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            raise GatewayError(401, "Missing JupyterHub API token (Authorization: token ...): start this kernel "
                               "from your hunthub server.")  # fmt: skip
        user = await self.gateway.identify(token.strip())
        if user is None:
            raise GatewayError(403, "This JupyterHub API token is not valid (expired or revoked), or is not a user's.")
        if is_reserved(user, self.gateway.reserved_usernames):
            self.gateway.log.warning("Refused Livy for the hub user %s: the name of a cluster service account", user)
            raise GatewayError(403, f"{user!r} is the name of a cluster service account: no Livy session runs as it "
                               "or is reached as it from the hub. Ask your hunthub admin for an account with "
                               "another name.")  # fmt: skip
        return user

    def _path(self) -> str:
        path = self.request.path
        prefix = self.gateway.service_prefix.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        return path.rstrip("/") or "/"

    async def _handle(self, method: str):
        path = self._path()
        if path in ("/", "/health") and method == "GET":  # the hub's liveness check asks for /
            self.finish({"status": "ok"})
            return
        user = await self._user()
        if path == "/sessions":
            if method == "GET":
                return await self._list_sessions(user)
            if method == "POST":
                return await self._create_session(user)
            raise GatewayError(405, f"{method} /sessions is not a Livy operation.")
        m = SESSION_PATH.match(path)
        if not m:
            if path.startswith("/batches"):
                raise GatewayError(404, "hunthub's Livy gateway offers interactive sessions only, not batches.")
            raise GatewayError(404, f"No such Livy resource: {path}")
        session_id = int(m.group(1))
        await self.gateway.check_owner(session_id, user)
        body = self.request.body if method == "POST" else None
        response = await self.gateway.livy(method, path, self.request.query, body)
        if method == "DELETE" and not m.group(2) and response.code in (200, 404):
            self.gateway.forget(session_id)
        self._relay(response)

    async def _list_sessions(self, user: str):
        response = await self.gateway.livy("GET", "/sessions", self.request.query)
        if response.code != 200:
            return self._relay(response)
        listing = json.loads(response.body)
        mine = [s for s in listing.get("sessions", []) if s.get("proxyUser") == user]
        for s in mine:
            self.gateway.adopt(s["id"], user)
        self.finish({**listing, "total": len(mine), "sessions": mine})

    async def _create_session(self, user: str):
        try:
            request = json.loads(self.request.body or b"{}")
        except ValueError:
            raise GatewayError(400, "POST /sessions needs a JSON object.") from None
        if not isinstance(request, dict):
            raise GatewayError(400, "POST /sessions needs a JSON object.")
        refused = sorted(k for k in (request.get("conf") or {}) if IDENTITY_CONF.match(str(k)))
        if refused:
            raise GatewayError(403, f"{', '.join(refused)}: the cluster identity of a session is the hub user's "
                               "and cannot be chosen in a notebook.")  # fmt: skip
        if request.get("proxyUser") not in (None, user):
            self.gateway.log.warning("%s asked for proxyUser %r; the session runs as %s", user,
                                     request["proxyUser"], user)  # fmt: skip
        request["proxyUser"] = user
        response = await self.gateway.livy("POST", "/sessions", "", json.dumps(request).encode())
        if response.code in (200, 201):
            session = json.loads(response.body)
            self.gateway.adopt(session["id"], user)
            self.gateway.log.info("Livy session %s created for %s", session["id"], user)
        self._relay(response)

    def _relay(self, response: httpclient.HTTPResponse):
        self.set_status(response.code, response.reason)
        self.set_header("Content-Type", response.headers.get("Content-Type", "application/json"))
        self.finish(response.body or b"")

    async def get(self, *_):
        await self._handle("GET")

    async def post(self, *_):
        await self._handle("POST")

    async def delete(self, *_):
        await self._handle("DELETE")


class LivyGateway(Application):
    name = "hunthub-livy-gateway"
    description = "Forward analysts' sparkmagic requests to Apache Livy, as their own hub user."

    livy_url = Unicode(help="Apache Livy's REST URL, e.g. https://livy.soc.example:8998.").tag(config=True)

    @validate("livy_url")
    def _strip_slash(self, proposal):
        return proposal["value"].rstrip("/")

    credentials_file = Unicode(
        help="File with `user:password` for HTTP basic auth to Livy; must not be readable by group or others."
    ).tag(config=True)
    ca_file = Unicode(help="PEM CA bundle to verify Livy's TLS certificate (empty: the system's).").tag(config=True)
    verify = Bool(True, help="Verify Livy's TLS certificate.").tag(config=True)
    timeout = Float(30, help="Seconds to wait for Livy to answer one request.").tag(config=True)
    ip = Unicode("127.0.0.1", help="Address to listen on.").tag(config=True)
    port = Integer(8082, help="Port to listen on.").tag(config=True)

    hub_api_url = Unicode(help="The hub's REST API, asked whose a token is. Default: $JUPYTERHUB_API_URL.").tag(
        config=True
    )

    @default("hub_api_url")
    def _default_hub_api_url(self):
        return os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")

    service_prefix = Unicode(
        help="URL prefix the hub's proxy adds when routing to this service. Default: $JUPYTERHUB_SERVICE_PREFIX."
    ).tag(config=True)

    @default("service_prefix")
    def _default_service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "")

    identity_cache_seconds = Integer(
        60, help="Seconds a token's owner is remembered; a revoked token keeps working at most this long."
    ).tag(config=True)
    session_idle_timeout = Integer(
        600, help="Seconds without a request for a session after which it is deleted on Livy (0: never)."
    ).tag(config=True)
    reserved_usernames = List(
        Unicode(),
        default_value=list(DEFAULT_RESERVED_USERNAMES),
        help="""Cluster service accounts no request may act as (compared without regard to case): a hub user of
        such a name is refused, since the session's proxyUser is the hub user's name. The hub passes
        HuntHub.reserved_usernames (`--reserved-username=NAME`, repeated; `--no-reserved-usernames` for none).""",
    ).tag(config=True)

    aliases = Dict(
        {
            "livy-url": "LivyGateway.livy_url",
            "credentials-file": "LivyGateway.credentials_file",
            "ca-file": "LivyGateway.ca_file",
            "timeout": "LivyGateway.timeout",
            "ip": "LivyGateway.ip",
            "port": "LivyGateway.port",
            "session-idle-timeout": "LivyGateway.session_idle_timeout",
            "reserved-username": "LivyGateway.reserved_usernames",
            "log-level": "Application.log_level",
        }
    )
    flags = Dict(
        {
            "no-verify": ({"LivyGateway": {"verify": False}}, "Do not verify Livy's TLS certificate."),
            "no-reserved-usernames": ({"LivyGateway": {"reserved_usernames": []}}, "Refuse no user name."),
        }
    )

    def initialize(self, argv=None):
        super().initialize(argv)
        if not self.livy_url:
            raise SystemExit("hunthub-livy-gateway: --livy-url is required")
        self._auth_header = self._basic_auth()
        self._identities: dict[str, tuple[str, float]] = {}
        self.owners: dict[int, str] = {}
        self.last_seen: dict[int, float] = {}
        # one kernel polls its statement every fraction of a second: room for many analysts at once
        AsyncHTTPClient.configure(None, max_clients=100)
        self.client = AsyncHTTPClient()

    def _basic_auth(self) -> str | None:
        if not self.credentials_file:
            return None
        st = os.stat(self.credentials_file)
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SystemExit(f"hunthub-livy-gateway: {self.credentials_file} is readable by others; chmod 600 it")
        with open(self.credentials_file) as f:
            user, sep, password = f.readline().strip().partition(":")
        if not sep or not user:
            raise SystemExit(f"hunthub-livy-gateway: {self.credentials_file} must hold one line `user:password`")
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    # --- who is asking ---------------------------------------------------------------------------

    async def identify(self, token: str) -> str | None:
        """The hub user owning `token`, or None. Only a digest of the token is kept."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._identities.get(key)
        if cached and cached[1] > now:
            return cached[0]
        request = HTTPRequest(
            self.hub_api_url.rstrip("/") + "/user",
            headers={"Authorization": f"token {token}"},
            connect_timeout=10,
            request_timeout=10,
        )
        try:
            response = await self.client.fetch(request, raise_error=False)
        except (OSError, httpclient.HTTPClientError) as e:
            raise GatewayError(503, f"The hub's API ({self.hub_api_url}) cannot say whose token this is: {e}") from e
        if response.code in (401, 403):
            return None
        if response.code != 200:
            raise GatewayError(503, f"The hub's API ({self.hub_api_url}) answered {response.code} to a token check.")
        model = json.loads(response.body)
        if model.get("kind") != "user" or not model.get("name"):
            return None
        if len(self._identities) > 10_000:
            self._identities = {k: v for k, v in self._identities.items() if v[1] > now}
        self._identities[key] = (model["name"], now + self.identity_cache_seconds)
        return model["name"]

    # --- whose sessions --------------------------------------------------------------------------

    def adopt(self, session_id: int, user: str) -> None:
        self.owners[session_id] = user
        self.last_seen[session_id] = time.monotonic()

    def forget(self, session_id: int) -> None:
        self.owners.pop(session_id, None)
        self.last_seen.pop(session_id, None)

    async def check_owner(self, session_id: int, user: str) -> None:
        owner = self.owners.get(session_id)
        if owner is None:
            # not created through this gateway since it started: Livy's record says whose it is
            response = await self.livy("GET", f"/sessions/{session_id}")
            if response.code == 404:
                raise GatewayError(404, f"Session {session_id} not found.")
            if response.code != 200:
                raise GatewayError(502, f"Livy at {self.livy_url} answered {response.code} for session {session_id}.")
            owner = json.loads(response.body).get("proxyUser")
            if owner != user:
                raise GatewayError(403, f"Session {session_id} is not yours.")
        elif owner != user:
            raise GatewayError(403, f"Session {session_id} is not yours.")
        self.adopt(session_id, user)

    async def reap_idle_sessions(self) -> None:
        if self.session_idle_timeout <= 0:
            return
        cutoff = time.monotonic() - self.session_idle_timeout
        for session_id in [i for i, seen in self.last_seen.items() if seen < cutoff]:
            user = self.owners.get(session_id)
            self.log.info("Deleting Livy session %s of %s: no request for %s s", session_id, user,
                          self.session_idle_timeout)  # fmt: skip
            try:
                response = await self.livy("DELETE", f"/sessions/{session_id}")
            except GatewayError as e:
                self.log.warning("Could not delete idle session %s: %s", session_id, e.msg)
                continue
            if response.code in (200, 404):
                self.forget(session_id)

    # --- talking to Livy -------------------------------------------------------------------------

    async def livy(self, method: str, path: str, query: str = "", body: bytes | None = None):
        url = self.livy_url + path + (f"?{query}" if query else "")
        headers = {"Content-Type": "application/json", "Accept": "application/json", "X-Requested-By": "hunthub"}
        if self._auth_header:
            headers["Authorization"] = self._auth_header
        request = HTTPRequest(
            url, method=method, headers=headers, body=body if method == "POST" else None,
            connect_timeout=min(10, self.timeout), request_timeout=self.timeout,
            validate_cert=self.verify, ca_certs=self.ca_file or None, follow_redirects=False,
        )  # fmt: skip
        try:
            return await self.client.fetch(request, raise_error=False)
        except HTTPTimeoutError as e:
            raise GatewayError(504, f"Livy at {self.livy_url} did not answer within {self.timeout:g} s.") from e
        except (OSError, httpclient.HTTPClientError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise GatewayError(502, f"Livy at {self.livy_url} is unreachable: {reason}.") from e

    # --- running ---------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        return web.Application([(r"/.*", LivyHandler, {"gateway": self})], log_function=self._log_request)

    def _log_request(self, handler: web.RequestHandler) -> None:
        # method, path and status only: never headers, which carry tokens
        status = handler.get_status()
        level = self.log.info if status < 400 else self.log.warning
        level("%d %s %s %.0fms", status, handler.request.method, handler.request.path,
              1000 * handler.request.request_time())  # fmt: skip

    def start(self):
        from hunthub.processes import die_with_parent

        # a hub that crashes and is restarted must find this port free for its new gateway
        die_with_parent()
        self.make_app().listen(self.port, self.ip)
        self.log.info("Livy gateway on http://%s:%d/ -> %s (%s)", self.ip, self.port, self.livy_url,
                      "basic auth" if self._auth_header else "no auth")  # fmt: skip
        if self.session_idle_timeout > 0:
            every = max(1, min(60, self.session_idle_timeout // 4)) * 1000
            ioloop.PeriodicCallback(self.reap_idle_sessions, every).start()
        ioloop.IOLoop.current().start()


main = LivyGateway.launch_instance

if __name__ == "__main__":
    main()

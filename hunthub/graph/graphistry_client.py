"""This kernel's client of the organisation's Graphistry server: the hub's settings, the personal-key login, and
uploads, each bounded in time and each failure said in one line.

What goes over the network, and when:

- No server configured (the hub told the kernel none: hunthub.kernel_env): nothing, ever. Nothing here imports
  pygraphistry's login or upload code then.
- A server configured: register_from_env() first sends one GET to the server's root (any HTTP answer means it is
  up), and only then logs in with the analyst's personal key (pygraphistry: GET /api/v2/auth/pkey/jwt/, then POST
  /api/v2/auth/token/refresh) and sets the default sharing mode (`graphistry.privacy`), so uploads are never public
  by default. upload() sends the graph (POST /api/v2/auth/token/refresh, POST /api/v2/upload/datasets/, POST
  .../edges/arrow and .../nodes/arrow, POST /api/v2/share/link/) and returns its URL as analysts' browsers reach
  the server (graphistry_client_url).

The kernel registers in the background at start (kernels/pyspark_kernel.py); the outcome is kept per kernel
(status()), so a server that did not answer is not waited for again before RETRY_AFTER. Every request is bounded
by hunthub.graph.timeouts.

What this cannot do: tell that an uploaded graph actually opens (a server that accepts the upload and then fails
to load it looks like a success here), share other than by pygraphistry's privacy modes, or notice a personal key
replaced after a login succeeded or was rejected: the key is read when registering, which happens again only when
the settings change or the server was unreachable (a new kernel reads it afresh).
"""

from __future__ import annotations

import copy
import html
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hunthub.graph.timeouts import DEFAULT_TIMEOUT, Operation, install_timeouts, operation
from hunthub.kernel_env import KernelEnv

PRIVACY_MODES = ("organization", "private", "public")
VISIBLE_TO = {"organization": "organization", "private": "only you", "public": "anyone with the link"}
RETRY_AFTER = 60.0  # seconds before show() tries an unreachable server again (each try costs up to the timeout)


class GraphistryError(RuntimeError):
    """Graphistry refused or failed a request (e.g. a rejected key, HTTP 403 on sharing); the message says which."""


class GraphistryUnavailable(GraphistryError):
    """The Graphistry server did not answer in time, or could not be reached at all."""


# --- settings ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphistrySettings:
    server: str  # host[:port], as the kernel reaches it
    protocol: str = "https"
    client_url: str = ""  # as analysts' browsers reach it
    privacy: str = "organization"
    timeout: float = DEFAULT_TIMEOUT
    credentials: str = ""  # path of the JSON file holding the personal key

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.server}"


def settings_from_env(env=None) -> GraphistrySettings | None:
    """The Graphistry settings the hub gave this analyst's server, or None when no server is configured."""
    told = KernelEnv.from_environ(os.environ if env is None else env)
    server = told.graphistry_server.strip().strip("/")
    if not server:
        return None
    protocol = (told.graphistry_protocol or "https").strip().lower()
    if protocol not in ("http", "https"):
        protocol = "https"
    privacy = (told.graphistry_privacy or "organization").strip().lower()
    if privacy not in PRIVACY_MODES:
        privacy = "private"  # an unknown value must not widen who sees analysts' data
    timeout = told.graphistry_timeout if told.graphistry_timeout > 0 else DEFAULT_TIMEOUT
    client_url = (told.graphistry_client_url or f"{protocol}://{server}").strip().rstrip("/")
    return GraphistrySettings(
        server=server,
        protocol=protocol,
        client_url=client_url,
        privacy=privacy,
        timeout=timeout,
        credentials=told.graphistry_credentials,
    )


@dataclass(frozen=True)
class Status:
    ok: bool
    message: str
    configured: bool = True
    reachable: bool | None = None  # None: not tried (no server, or no key)

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = "#23734b" if self.ok else "#8a5a00"
        return f'<div class="hunthub-graphistry-status" style="color:{colour}">{html.escape(self.message)}</div>'


class _NoKey(Exception):
    pass


def _read_key(path: str) -> tuple[str, str]:
    if not path:
        raise _NoKey("no personal key configured for this account")
    try:
        data = json.loads(Path(path).read_text())
        return str(data["personal_key_id"]), str(data["personal_key_secret"])
    except FileNotFoundError:
        raise _NoKey(f"no personal key file at {path}") from None
    except OSError as e:
        raise _NoKey(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise _NoKey(f"{path} must be JSON with personal_key_id and personal_key_secret") from None


# --- registration --------------------------------------------------------------------------------------------


class _State:
    """The last registration in this kernel: with which settings, its outcome, and when."""

    def __init__(self):
        self.lock = threading.Lock()
        self.settings: GraphistrySettings | None = None
        self.status: Status | None = None
        self.when = 0.0


_state = _State()


def _reason(exc: BaseException) -> str:
    """A short human reason for a network failure, from the innermost OS error."""
    seen = exc
    for _ in range(8):
        text = str(seen)
        low = text.lower()
        if "refused" in low:
            return "connection refused"
        if "name or service not known" in low or "nodename nor servname" in low or "name resolution" in low:
            return "host name not found"
        if "no route to host" in low:
            return "no route to host"
        if "certificate" in low:
            return "TLS certificate not trusted; point REQUESTS_CA_BUNDLE at your CA bundle"
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]
        if nxt is None:
            break
        seen = nxt
    return type(exc).__name__


def _probe(s: GraphistrySettings) -> str | None:
    """None when the server answers anything over HTTP within the timeout, else why not. Runs on a helper thread so
    that even a slow name lookup (which no socket timeout bounds) cannot hold the caller past the timeout."""
    import requests

    outcome: dict = {}

    def attempt():
        try:
            r = requests.get(f"{s.url}/", timeout=(s.timeout, s.timeout), allow_redirects=False, stream=True)
            r.close()
            outcome["error"] = None
        except requests.exceptions.Timeout:
            outcome["error"] = f"not reachable within {_secs(s.timeout)} s (no answer)"
        except requests.exceptions.RequestException as e:
            outcome["error"] = f"not reachable ({_reason(e)})"

    worker = threading.Thread(target=attempt, name="hunthub-graphistry-probe", daemon=True)
    worker.start()
    worker.join(s.timeout)
    if worker.is_alive():
        return f"not reachable within {_secs(s.timeout)} s (no answer)"
    return outcome.get("error", "not reachable (probe failed)")


def _secs(seconds: float) -> str:
    return f"{seconds:.3g}"


def _login_failure(s: GraphistrySettings, op: Operation, exc: BaseException) -> Status:
    where = f"Graphistry at {s.url}"
    if op.failure is not None:
        first, method, path, (_, read) = op.failure
        import requests

        if isinstance(first, requests.exceptions.Timeout):
            why = f"did not answer {method} {path} within {_secs(read)} s"
        else:
            why = f"not reachable ({_reason(first)})"
        return Status(False, f"{where}: {why}; graphs render offline", reachable=False)
    for method, path, code in reversed(op.responses):
        if code >= 400:
            if path.endswith("/auth/pkey/jwt/") and code in (401, 403):
                return Status(
                    False,
                    f"{where}: personal key rejected (HTTP {code}); ask an admin to check this account's Graphistry "
                    "key; graphs render offline",
                    reachable=True,
                )
            return Status(False, f"{where}: login failed (HTTP {code} on {method} {path}); graphs render offline")
    first_line = (str(exc) or type(exc).__name__).splitlines()[0][:200]
    return Status(False, f"{where}: login failed ({first_line}); graphs render offline", reachable=True)


def _register(s: GraphistrySettings | None) -> Status:
    if s is None:
        return Status(False, "Graphistry: no server configured; graphs render offline in the notebook", False)
    try:
        key_id, key_secret = _read_key(s.credentials)
    except _NoKey as e:
        return Status(False, f"Graphistry at {s.url}: {e}; graphs render offline")
    problem = _probe(s)
    if problem is not None:
        return Status(False, f"Graphistry at {s.url}: {problem}; graphs render offline", reachable=False)
    install_timeouts(s.timeout)
    import graphistry

    with operation() as op:
        try:
            graphistry.register(
                api=3,
                protocol=s.protocol,
                server=s.server,
                client_protocol_hostname=s.client_url,
                personal_key_id=key_id,
                personal_key_secret=key_secret,
            )
        except Exception as e:
            return _login_failure(s, op, e)
    graphistry.privacy(mode=s.privacy)
    return Status(True, f"Graphistry at {s.url}: registered (uploads visible to: {VISIBLE_TO[s.privacy]})", True, True)


def register_from_env(env=None) -> Status:
    """Log this kernel in to the configured Graphistry server, if any, within the configured timeout.

    Never raises for network problems; the returned Status says what happened in one line. Without a server it
    makes no network request at all. Safe to call from a background thread at kernel start."""
    s = settings_from_env(env)
    with _state.lock:
        status = _register(s)
        _state.settings, _state.status, _state.when = s, status, time.monotonic()
        return status


def status() -> Status | None:
    """The outcome of the last registration in this kernel, or None before any."""
    return _state.status


def ensure_registered(env=None) -> Status:
    """The last registration's outcome while it still holds, else the outcome of a new one: none yet, the settings
    changed, or the server was unreachable more than RETRY_AFTER seconds ago."""
    s = settings_from_env(env)
    with _state.lock:
        current = _state.status
        retry = (
            current is None
            or _state.settings != s
            or (current.reachable is False and time.monotonic() - _state.when > RETRY_AFTER)
        )
        if not retry:
            return current
    return register_from_env(env)


# --- upload --------------------------------------------------------------------------------------------------


def _current_session(g):
    """Graphs capture pygraphistry's session when they are built; one built before registration (or before a
    re-registration) would upload with a stale, unauthenticated session. Rebind a copy to the current one."""
    from graphistry.pygraphistry import PyGraphistry

    if getattr(g, "_pygraphistry", None) is PyGraphistry and getattr(g, "session", None) is not PyGraphistry.session:
        g = copy.copy(g)
        g.session = PyGraphistry.session
    return g


def _upload_failure(s: GraphistrySettings, op: Operation) -> GraphistryError | None:
    if op.failure is not None:
        import requests

        first, method, path, (connect, read) = op.failure
        if isinstance(first, requests.exceptions.ConnectTimeout):
            return GraphistryUnavailable(
                f"Graphistry at {s.url} did not accept a connection within {_secs(connect)} s ({method} {path}); "
                "the graph was not uploaded"
            )
        if isinstance(first, requests.exceptions.Timeout):
            return GraphistryUnavailable(
                f"Graphistry at {s.url} did not answer within {_secs(read)} s ({method} {path}); "
                "the graph was not uploaded"
            )
        return GraphistryUnavailable(
            f"Graphistry at {s.url} could not be reached ({_reason(first)}; {method} {path}); "
            "the graph was not uploaded"
        )
    for method, path, code in reversed(op.responses):
        if code >= 400:
            return GraphistryError(
                f"Graphistry at {s.url} refused the upload: HTTP {code} on {method} {path}; the graph was not "
                "uploaded (or not shared)"
            )
    return None


def upload(g, *, name: str | None = None, description: str | None = None, env=None) -> str:
    """Upload a pygraphistry Plottable to the configured server (sharing per the hub's graphistry_privacy) and return
    the URL analysts' browsers open. Raises GraphistryUnavailable when the server does not answer in time,
    GraphistryError when it refuses; every request is bounded by the configured timeout."""
    s = settings_from_env(env)
    if s is None:
        raise GraphistryError("no Graphistry server is configured; hunthub.graph.show() draws graphs offline")
    current = ensure_registered(env)
    if not current.ok:
        raise (GraphistryUnavailable if current.reachable is False else GraphistryError)(current.message)
    install_timeouts(s.timeout)
    g = _current_session(g)
    with operation() as op:
        try:
            return g.plot(render=False, name=name, description=description)
        except Exception as e:
            failure = _upload_failure(s, op)
            if failure is None:
                raise
            if isinstance(failure, GraphistryUnavailable):  # later show()s go offline at once, until RETRY_AFTER
                with _state.lock:
                    if _state.settings == s:
                        _state.status = Status(False, f"{failure}; graphs render offline", reachable=False)
                        _state.when = time.monotonic()
            raise failure from e

"""Graphs in notebooks through the organisation's Graphistry server when there is one, offline otherwise.

    from hunthub.graph import graphistry as hg

    failures = spark.table("auth_events").where("outcome = 'failure'")
    g = hg.hypergraph_from_spark(failures, ["user", "src_ip", "dst_host"])   # bounded collect, then pandas
    hg.show(g)                                                # Graphistry iframe, or the offline WebGL view

    pairs = spark.table("auth_events").groupBy("user", "dst_host").count()   # aggregate in Spark first
    hg.show(hg.edges_from_spark(pairs, "user", "dst_host"))

    from graphistry import e_forward, n
    hg.show(hg.gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=2), n()]))   # GFQL, in pandas, no server

What goes over the network, and when:

- No server configured (HUNTHUB_GRAPHISTRY_SERVER unset): nothing, ever. `show()` draws the offline view
  (hunthub.graph.view) without calling into pygraphistry's login or upload code at all.
- A server configured: `register_from_env()` first sends one GET to the server's root (any HTTP answer means it
  is up), and only then logs in with the analyst's personal key (pygraphistry: GET /api/v2/auth/pkey/jwt/, then
  POST /api/v2/auth/token/refresh) and sets the default sharing mode (`graphistry.privacy`), so uploads are never
  public by default. `show()` uploads (POST /api/v2/auth/token/refresh, POST /api/v2/upload/datasets/, POST
  .../edges/arrow and .../nodes/arrow, POST /api/v2/share/link/) and returns an iframe of the graph on the URL
  analysts' browsers use (HUNTHUB_GRAPHISTRY_CLIENT_URL).

pygraphistry calls `requests.get/post` without a timeout, so a firewall that silently drops packets would hang a
cell forever. `install_timeouts()` replaces the `requests` name inside pygraphistry's own modules (and nowhere
else: the analyst's own `requests` calls are untouched) by a proxy that adds a timeout to every call that has
none. Within one hunthub operation (a registration or an upload) the first network failure also makes every
later request of that operation fail at once, so pygraphistry's retry paths (token refresh, then re-login) cannot
multiply the wait.
"""

from __future__ import annotations

import copy
import html
import inspect
import json
import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PRIVACY_MODES = ("organization", "private", "public")
VISIBLE_TO = {"organization": "organization", "private": "only you", "public": "anyone with the link"}
DEFAULT_TIMEOUT = 10.0
# Graphistry answers an Arrow upload only after it has parsed it: a big graph's upload needs a longer read
# timeout than a login. Allow one extra second per MiB sent (a 1M-edge hypergraph is ~100-200 MiB), capped.
UPLOAD_BYTES_PER_EXTRA_SECOND = 1 << 20
UPLOAD_READ_TIMEOUT_CAP = 600.0
RETRY_AFTER = 60.0  # seconds before show() tries an unreachable server again (each try costs up to the timeout)
MAX_EDGES = 1_000_000  # what the offline view stays interactive with; Graphistry copes with more
MAX_EVENTS = 200_000  # hypergraph of 1M events: ~7 s and ~3 GB of kernel memory in pandas

# the pygraphistry modules that call requests; imported up front so their `requests` can be bounded
_GRAPHISTRY_HTTP_MODULES = (
    "graphistry.pygraphistry",
    "graphistry.arrow_uploader",
    "graphistry.ArrowFileUploader",
    "graphistry.compute.chain_remote",
    "graphistry.compute.python_remote",
    "graphistry.compute.remote_response",
    "graphistry.utils.requests",
)


class GraphistryError(RuntimeError):
    """Graphistry refused or failed a request (e.g. a rejected key, HTTP 403 on sharing); the message says which."""


class GraphistryUnavailable(GraphistryError):
    """The Graphistry server did not answer in time, or could not be reached at all."""


class GraphTooLarge(ValueError):
    """More rows than the bound for collecting a DataFrame into the kernel: aggregate or filter in Spark first."""


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
    env = os.environ if env is None else env
    server = (env.get("HUNTHUB_GRAPHISTRY_SERVER") or "").strip().strip("/")
    if not server:
        return None
    protocol = (env.get("HUNTHUB_GRAPHISTRY_PROTOCOL") or "https").strip().lower()
    if protocol not in ("http", "https"):
        protocol = "https"
    privacy = (env.get("HUNTHUB_GRAPHISTRY_PRIVACY") or "organization").strip().lower()
    if privacy not in PRIVACY_MODES:
        privacy = "private"  # an unknown value must not widen who sees analysts' data
    try:
        timeout = float(env.get("HUNTHUB_GRAPHISTRY_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    if not timeout > 0:
        timeout = DEFAULT_TIMEOUT
    client_url = (env.get("HUNTHUB_GRAPHISTRY_CLIENT_URL") or f"{protocol}://{server}").strip().rstrip("/")
    return GraphistrySettings(
        server=server,
        protocol=protocol,
        client_url=client_url,
        privacy=privacy,
        timeout=timeout,
        credentials=env.get("HUNTHUB_GRAPHISTRY_CREDENTIALS") or "",
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


# --- timeouts, scoped to pygraphistry ------------------------------------------------------------------------


class _Operation(threading.local):
    """What one hunthub operation (registration, upload) saw, per thread."""

    def __init__(self):
        self.active = False
        self.failure = None  # (exception, method, path, (connect, read))
        self.responses = []  # (method, path, status)


_op = _Operation()
_timeout = {"seconds": DEFAULT_TIMEOUT}


_quiet = logging.NullHandler()


@contextmanager
def _operation():
    """One registration or upload. pygraphistry logs a failed request with its traceback (logger.error(...,
    exc_info=True)); with no logging configured, Python prints that to stderr, under the clear error we raise. A
    NullHandler on the "graphistry" logger for the duration keeps it out of the notebook; logging the analyst
    configured still receives the records."""
    outer = (_op.active, _op.failure, _op.responses)
    _op.active, _op.failure, _op.responses = True, None, []
    log = logging.getLogger("graphistry")
    added = _quiet not in log.handlers
    if added:
        log.addHandler(_quiet)
    try:
        yield _op
    finally:
        _op.active, _op.failure, _op.responses = outer
        if added:
            log.removeHandler(_quiet)


def default_timeout(kwargs: dict) -> tuple[float, float]:
    """(connect, read) seconds for a request without its own timeout. A request carrying a body (an Arrow upload)
    gets one more second of read timeout per MiB, for the server to parse it before it answers."""
    seconds = _timeout["seconds"]
    body = kwargs.get("data")
    size = len(body) if isinstance(body, bytes | bytearray | memoryview) else 0
    read = min(seconds + size / UPLOAD_BYTES_PER_EXTRA_SECOND, max(seconds, UPLOAD_READ_TIMEOUT_CAP))
    return (seconds, read)


def _bounded_call(real, send, method: str, url: str, kwargs: dict):
    exceptions = real.exceptions
    path = urlsplit(url).path if isinstance(url, str) else str(url)
    if _op.active and _op.failure is not None:
        first, *_ = _op.failure
        raise type(first)(f"not sent, the server already failed to answer in this operation: {first}")
    if kwargs.get("timeout") is None:  # None would mean "wait forever"
        kwargs["timeout"] = default_timeout(kwargs)
    try:
        response = send(method, url, **kwargs)
    except (exceptions.ConnectionError, exceptions.Timeout) as e:
        if _op.active:
            _op.failure = (e, method.upper(), path, kwargs["timeout"])
        raise
    if _op.active:
        _op.responses.append((method.upper(), path, response.status_code))
    return response


class _BoundedRequests:
    """Stands in for the `requests` module inside pygraphistry's modules: same API, but every call gets a timeout."""

    def __init__(self, real):
        self._real = real
        proxy = self

        class Session(real.Session):
            def request(self, method, url, *args, **kwargs):
                if args:  # requests.Session.request's positional parameters after url
                    names = list(inspect.signature(real.Session.request).parameters)[3:]
                    kwargs.update(zip(names, args, strict=False))
                send = super().request
                return _bounded_call(proxy._real, lambda m, u, **kw: send(m, u, **kw), method, url, kwargs)

        self.Session = Session
        self.session = Session

    def __getattr__(self, name):
        return getattr(self._real, name)

    def request(self, method, url, **kwargs):
        return _bounded_call(self._real, self._real.request, method, url, kwargs)

    def get(self, url, params=None, **kwargs):
        return self.request("get", url, params=params, **kwargs)

    def options(self, url, **kwargs):
        return self.request("options", url, **kwargs)

    def head(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.request("head", url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("post", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("put", url, data=data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self.request("patch", url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("delete", url, **kwargs)


_install_lock = threading.Lock()
_proxy: _BoundedRequests | None = None


def install_timeouts(seconds: float = DEFAULT_TIMEOUT) -> list[str]:
    """Bound every HTTP request pygraphistry makes: connect `seconds`, read `seconds` (longer for big uploads, see
    default_timeout), unless the call passes its own. Only pygraphistry's modules see the change; the `requests`
    module itself and the analyst's own code are untouched. Idempotent; returns the modules patched this time."""
    import graphistry  # noqa: F401 - loads the package whose modules get the proxy
    import requests

    with _install_lock:
        _timeout["seconds"] = float(seconds)
        for name in _GRAPHISTRY_HTTP_MODULES:
            try:
                __import__(name)
            except ImportError:
                pass
        global _proxy
        if _proxy is None:
            _proxy = _BoundedRequests(requests)
        patched = []
        for name, module in list(sys.modules.items()):
            ours = name == "graphistry" or name.startswith("graphistry.")
            if ours and module is not None and vars(module).get("requests") is requests:
                module.requests = _proxy
                patched.append(name)
        return patched


# --- registration --------------------------------------------------------------------------------------------


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.settings: GraphistrySettings | None = None
        self.status: Status | None = None
        self.when = 0.0
        self.noted: set[str] = set()


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


def _login_failure(s: GraphistrySettings, op: _Operation, exc: BaseException) -> Status:
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

    with _operation() as op:
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


def _ensure_registered(env=None) -> Status:
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


# --- upload and show -----------------------------------------------------------------------------------------


def _current_session(g):
    """Graphs capture pygraphistry's session when they are built; one built before registration (or before a
    re-registration) would upload with a stale, unauthenticated session. Rebind a copy to the current one."""
    from graphistry.pygraphistry import PyGraphistry

    if getattr(g, "_pygraphistry", None) is PyGraphistry and getattr(g, "session", None) is not PyGraphistry.session:
        g = copy.copy(g)
        g.session = PyGraphistry.session
    return g


def _upload_failure(s: GraphistrySettings, op: _Operation) -> GraphistryError | None:
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
    """Upload a pygraphistry Plottable to the configured server (sharing per HUNTHUB_GRAPHISTRY_PRIVACY) and return
    the URL analysts' browsers open. Raises GraphistryUnavailable when the server does not answer in time,
    GraphistryError when it refuses; every request is bounded by the configured timeout."""
    s = settings_from_env(env)
    if s is None:
        raise GraphistryError("no Graphistry server is configured; hunthub.graph.show() draws graphs offline")
    current = _ensure_registered(env)
    if not current.ok:
        raise (GraphistryUnavailable if current.reachable is False else GraphistryError)(current.message)
    install_timeouts(s.timeout)
    g = _current_session(g)
    with _operation() as op:
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


class GraphistryGraph:
    """A graph uploaded to Graphistry: shows as an iframe of it in the notebook (the browser loads it from the
    server's client URL), with a link to open it in its own tab."""

    def __init__(self, url: str, height: int = 600, privacy: str = "organization"):
        self.url = url
        self.height = height
        self.privacy = privacy

    def __repr__(self) -> str:
        return f"Graphistry graph: {self.url}"

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        visible = html.escape(VISIBLE_TO.get(self.privacy, self.privacy))
        return (
            f'<div class="hunthub-graphistry"><iframe src="{url}" style="width:100%;height:{int(self.height)}px;'
            'border:1px solid #d8d8de;border-radius:4px" allowfullscreen referrerpolicy="no-referrer"></iframe>'
            f'<div style="font:12px/1.4 system-ui,sans-serif;color:#555"><a href="{url}" target="_blank" '
            f'rel="noopener noreferrer">Open in Graphistry</a> · visible to: {visible}</div></div>'
        )


class _Noted:
    """The offline view with a one-line note above it saying why Graphistry was not used."""

    def __init__(self, inner, note: str):
        self.inner = inner
        self.note = note

    def __getattr__(self, name):
        if name.startswith("_"):  # keep IPython's _repr_*_ lookups on this object, so the note is shown
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"{self.note}\n{self.inner!r}"

    def _repr_html_(self) -> str:
        return (
            '<div class="hunthub-graphistry-note" style="font:12px/1.4 system-ui,sans-serif;color:#8a5a00;'
            f'margin:0 0 4px">{html.escape(self.note)}</div>' + self.inner._repr_html_()
        )


def _is_spark(df) -> bool:
    return hasattr(df, "toPandas") and hasattr(df, "limit")


def _as_plottable(g, nodes, source, destination, node_id, max_edges):
    import graphistry

    if hasattr(g, "_edges") and hasattr(g, "plot"):
        return g
    if _is_spark(g):
        g = to_pandas_bounded(g, max_edges, hint=_pair_hint(source, destination))
    if source is None or destination is None:
        raise TypeError("show(edges_frame, ...) needs source= and destination= column names")
    plottable = graphistry.edges(g, source, destination)
    if nodes is not None:
        plottable = plottable.nodes(nodes, node_id)
    return plottable


def _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs):
    from hunthub.graph.view import view

    if _is_spark(g):
        g = to_pandas_bounded(g, max_edges, hint=_pair_hint(source, destination))
    if height is not None and "height" in inspect.signature(view).parameters:
        view_kwargs = {**view_kwargs, "height": height}
    return view(
        g, nodes=nodes, source=source, destination=destination, node_id=node_id, max_edges=max_edges, **view_kwargs
    )


def _note_once(key: str, note: str) -> str | None:
    with _state.lock:
        if key in _state.noted:
            return None
        _state.noted.add(key)
        return note


def show(
    g,
    *,
    nodes=None,
    source: str | None = None,
    destination: str | None = None,
    node_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    height: int | None = None,
    max_edges: int = MAX_EDGES,
    env=None,
    **view_kwargs,
):
    """Show a graph in the notebook: uploaded to Graphistry when a server is configured and answers, otherwise the
    offline view. `g` is a pygraphistry Plottable, or an edge table (pandas or Spark, with source=/destination=).
    A configured server that is down or does not answer in time never hangs the cell: the graph is drawn offline
    and the first such output says why. Other keyword arguments go to hunthub.graph.view.view."""
    s = settings_from_env(env)
    if s is None:
        return _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs)
    current = _ensure_registered(env)
    if current.ok:
        plottable = _as_plottable(g, nodes, source, destination, node_id, max_edges)
        try:
            url = upload(plottable, name=name, description=description, env=env)
        except GraphistryError as e:
            key = f"unreachable:{s.url}" if isinstance(e, GraphistryUnavailable) else f"refused:{s.url}"
            note = _note_once(key, f"{e}. This graph is drawn offline in the notebook instead.")
            g = plottable
        else:
            return GraphistryGraph(url, height or 600, s.privacy)
    else:
        note = _note_once(f"unreachable:{s.url}" if current.reachable is False else current.message, current.message)
    view = _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs)
    return view if note is None else _Noted(view, note)


# --- Spark helpers -------------------------------------------------------------------------------------------


def _pair_hint(source, destination) -> str:
    if source and destination:
        return f"df.groupBy({source!r}, {destination!r}).count() for one edge per pair"
    return "df.groupBy('src', 'dst').count() for one edge per pair"


def to_pandas_bounded(df, max_rows: int = MAX_EDGES, *, hint: str | None = None):
    """Collect a Spark DataFrame into pandas, refusing (GraphTooLarge) when it holds more than max_rows rows:
    only max_rows + 1 rows ever leave the cluster. A pandas DataFrame passes through, under the same bound."""
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        rows = len(df)
        pdf = df
    elif _is_spark(df):
        pdf = df.limit(max_rows + 1).toPandas()
        rows = len(pdf)
    else:
        raise TypeError(f"expected a Spark or pandas DataFrame, not {type(df).__name__}")
    if rows > max_rows:
        raise GraphTooLarge(
            f"This DataFrame has more than {max_rows:,} rows, the bound for bringing it into the notebook. Aggregate "
            f"or filter it in Spark first, e.g. {hint or _pair_hint(None, None)}, or a narrower time window or set "
            "of entities; pass max_rows= (max_edges=, max_events=) to raise the bound if the kernel has the memory."
        )
    return pdf


def edges_from_spark(df, source: str, destination: str, max_edges: int = MAX_EDGES):
    """A pygraphistry Plottable of the edges in a Spark (or pandas) DataFrame, collected under max_edges rows."""
    import graphistry

    pdf = to_pandas_bounded(df, max_edges, hint=_pair_hint(source, destination))
    return graphistry.edges(pdf, source, destination)


def hypergraph_from_spark(df, entity_types: list[str], max_events: int = MAX_EVENTS, direct: bool = True, **opts):
    """pygraphistry's hypergraph of an events DataFrame (one node per entity value in the entity_types columns;
    direct=True links entities of the same event to each other), collected under max_events rows. opts go to
    graphistry.hypergraph (opts=, drop_na=, verbose=...); returns the graph (a Plottable)."""
    import graphistry

    pdf = to_pandas_bounded(df, max_events, hint="select the events of interest (.where(...)) or a shorter window")
    opts.setdefault("verbose", False)
    return graphistry.hypergraph(pdf, entity_types, direct=direct, **opts)["graph"]


def gfql(g, ops, **kwargs):
    """pygraphistry's GFQL graph query (`g.gfql(ops)`), run in the kernel on pandas, no server involved. E.g. the
    hosts and addresses within two hops of one user in a hypergraph:

        from graphistry import n, e_forward
        sub = gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=2), n()])
        show(sub)

    kwargs go to g.gfql (e.g. engine="polars" for big multi-hop queries)."""
    return g.gfql(ops, **kwargs)

"""A timeout on every HTTP request pygraphistry makes, and one failure ends a whole operation.

pygraphistry calls `requests.get/post` without a timeout, so a firewall that silently drops packets would hang a
notebook cell forever. install_timeouts() replaces the `requests` name inside pygraphistry's own modules (and
nowhere else: the `requests` module itself and the analyst's own calls are untouched) by a proxy that adds a
timeout to every call that has none: `seconds` to connect and to read, and one more second of read timeout per MiB
sent, because Graphistry answers an Arrow upload only after parsing it.

Within an operation() (one registration or one upload, as hunthub.graph.graphistry_client runs them) the first
connection failure or timeout makes every later request of that operation fail at once, so pygraphistry's retry
paths (token refresh, then a fresh login) cannot multiply the wait. The operation also records each answer's
status, from which the client tells a rejected key from a refused upload, and keeps pygraphistry's tracebacks of
failed requests out of the notebook.

What this cannot do: bound a host name lookup (no socket timeout covers it; the client's reachability probe runs
on a thread for that), bound a server that keeps sending a byte now and then (a read timeout is per read, not per
response), or reach HTTP that pygraphistry makes without `requests` (today none on the login and upload paths).
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 10.0
# Graphistry answers an Arrow upload only after it has parsed it: a big graph's upload needs a longer read
# timeout than a login. Allow one extra second per MiB sent (a 1M-edge hypergraph is ~100-200 MiB), capped.
UPLOAD_BYTES_PER_EXTRA_SECOND = 1 << 20
UPLOAD_READ_TIMEOUT_CAP = 600.0

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


class Operation(threading.local):
    """What one hunthub operation (registration, upload) saw, per thread."""

    def __init__(self):
        self.active = False
        self.failure = None  # (exception, method, path, (connect, read))
        self.responses = []  # (method, path, status)


_op = Operation()
_timeout = {"seconds": DEFAULT_TIMEOUT}


_quiet = logging.NullHandler()


@contextmanager
def operation():
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

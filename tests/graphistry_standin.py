"""A stand-in Graphistry server on loopback, speaking the HTTP endpoints pygraphistry 0.61 uses to log in with a
personal key, upload a graph as Arrow and set its sharing mode.

This is the one mock in the Graphistry tests, because no Graphistry server can run here: pygraphistry itself (the
real client code, unpatched) talks real HTTP to it. It checks what a server would check (the personal key, the
bearer token on every upload), parses the uploaded Arrow files with pyarrow and keeps the tables, and records
every request (method, path, headers without secrets, body size, JSON body without tokens) for assertions.

Failure modes for the timeout tests:
- `hang`: substrings of paths; a matching request's body is read, then the server never answers (until stop()),
  i.e. a server that stops answering mid-way through an upload.
- `NonAnsweringListener`: a TCP socket that accepts connections and never reads or answers them, which is what a
  kernel sees behind a firewall that lets SYNs through to a wedged server.

Endpoints (paths as pygraphistry builds them):
    GET  /                                         landing page (hunthub's reachability probe)
    GET  /api/v2/auth/pkey/jwt/                    Authorization: PersonalKey <id>:<secret> -> {"token"}; 401 else
    POST /api/v2/auth/token/refresh                {"token": old} -> {"token": new}
    POST /api-token-verify/                        {"token"} -> 200 / 400
    POST /api/v2/o/<org>/switch/                   accepted
    POST /api/v2/files/                            -> {"file_id"}                 (plot(as_files=True))
    POST /api/v2/upload/files/<file_id>            Arrow file -> {"is_valid"}      (plot(as_files=True))
    POST /api/v2/upload/datasets/                  {edge/node encodings, ...} -> {"success", "data": {"dataset_id"}}
    POST /api/v2/upload/datasets/<id>/<edges|nodes>/arrow   Arrow IPC file -> {"success": true}
    POST /api/v2/share/link/                       {"obj_pk", "mode", ...} -> {"success": true}
    GET  /graph/graph.html?dataset=<id>            the page the returned URL opens
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa

SECRET_HEADERS = {"authorization", "cookie"}


@dataclass
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict
    body_size: int
    json: object = None

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


@dataclass
class Dataset:
    id: str
    spec: dict
    edges: pa.Table | None = None
    nodes: pa.Table | None = None
    shares: list = field(default_factory=list)


def _redact(value):
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in ("token", "password") else _redact(v)) for k, v in value.items()}
    return value


class GraphistryStandIn:
    def __init__(self, key_id: str = "hh-test-key", key_secret: str = "not-a-real-secret", org: str | None = None):
        self.key_id, self.key_secret, self.org = key_id, key_secret, org
        self.requests: list[Recorded] = []
        self.datasets: dict[str, Dataset] = {}
        self.files: dict[str, pa.Table | None] = {}
        self.tokens: set[str] = set()
        self.hang: set[str] = set()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle

    def start(self) -> GraphistryStandIn:
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="graphistry-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def server(self) -> str:
        """host:port, as HUNTHUB_GRAPHISTRY_SERVER takes it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.server}"

    # --- what happened

    def routes(self) -> list[tuple[str, str]]:
        return [(r.method, r.route) for r in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    def new_token(self) -> str:
        token = "jwt-" + secrets.token_hex(12)
        with self._lock:
            self.tokens.add(token)
        return token


class _Handler(BaseHTTPRequestHandler):
    standin: GraphistryStandIn
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # quiet
        pass

    # --- plumbing

    def _reply(self, code: int, payload=None, content_type: str = "application/json") -> None:
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload if payload is not None else {})
        body = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = None
        if body and "json" in (self.headers.get("Content-Type") or ""):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in SECRET_HEADERS:
                v = v.split(" ", 1)[0] + " <redacted>"
            headers[k] = v
        standin = self.standin
        standin.record(Recorded(method, self.path, headers, len(body), _redact(parsed)))
        if any(h in self.path for h in standin.hang):
            standin.stopping.wait()  # never answer
            return
        route = urlsplit(self.path).path
        try:
            self._route(method, route, body, parsed)
        except Exception as e:  # a bug here must show as a 500, not a dropped connection
            self._reply(500, {"error": repr(e)})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _bearer_ok(self) -> bool:
        auth = self.headers.get("Authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in self.standin.tokens

    # --- the endpoints

    def _route(self, method: str, route: str, body: bytes, data) -> None:
        s = self.standin
        if method == "GET" and route == "/":
            return self._reply(200, "<html><title>Graphistry stand-in</title></html>", "text/html")
        if method == "GET" and route == "/api/v2/auth/pkey/jwt/":
            if self.headers.get("Authorization") != f"PersonalKey {s.key_id}:{s.key_secret}":
                return self._reply(401, {"detail": "Invalid personal key."})
            reply = {"token": s.new_token()}
            if s.org:
                reply["active_organization"] = {"slug": s.org, "is_found": True, "is_member": True}
            return self._reply(200, reply)
        if method == "POST" and route == "/api/v2/auth/token/refresh":
            if not isinstance(data, dict) or data.get("token") not in s.tokens:
                return self._reply(400, {"non_field_errors": ["Token has expired."]})
            return self._reply(200, {"token": s.new_token()})
        if method == "POST" and route == "/api-token-verify/":
            ok = isinstance(data, dict) and data.get("token") in s.tokens
            return self._reply(200 if ok else 400, {"token": "<checked>"} if ok else {"detail": "invalid"})
        if method == "GET" and route == "/graph/graph.html":
            dataset = parse_qs(urlsplit(self.path).query).get("dataset", [""])[0]
            if dataset not in s.datasets:
                return self._reply(404, "<html>no such dataset</html>", "text/html")
            return self._reply(200, f"<html><title>{dataset}</title></html>", "text/html")
        if method == "POST" and re.fullmatch(r"/api/v2/o/[^/]+/switch/", route):
            return self._reply(200 if self._bearer_ok() else 401, {})
        if not self._bearer_ok():
            return self._reply(401, {"detail": "Authentication credentials were not provided."})
        if method == "POST" and route == "/api/v2/files/":
            file_id = "file-" + secrets.token_hex(6)
            s.files[file_id] = None
            return self._reply(200, {"file_id": file_id})
        m = re.fullmatch(r"/api/v2/upload/files/([^/]+)", route)
        if method == "POST" and m and m.group(1) in s.files:
            s.files[m.group(1)] = pa.ipc.open_file(pa.py_buffer(body)).read_all()
            return self._reply(200, {"is_valid": True, "is_uploaded": True, "errors": []})
        if method == "POST" and route == "/api/v2/upload/datasets/":
            dataset_id = secrets.token_hex(16)
            spec = data or {}
            ds = Dataset(dataset_id, spec)
            for kind in ("edges", "nodes"):
                files = spec.get(f"{kind[:-1]}_files") or []
                if files:
                    setattr(ds, kind, s.files.get(files[0]))
            s.datasets[dataset_id] = ds
            return self._reply(200, {"success": True, "data": {"dataset_id": dataset_id}})
        m = re.fullmatch(r"/api/v2/upload/datasets/([0-9a-f]+)/(edges|nodes)/arrow", route)
        if method == "POST" and m:
            ds = s.datasets.get(m.group(1))
            if ds is None:
                return self._reply(404, {"success": False})
            setattr(ds, m.group(2), pa.ipc.open_file(pa.py_buffer(body)).read_all())
            return self._reply(200, {"success": True})
        if method == "POST" and route == "/api/v2/share/link/":
            ds = s.datasets.get((data or {}).get("obj_pk"))
            if ds is None:
                return self._reply(404, {"success": False})
            ds.shares.append(data)
            return self._reply(200, {"success": True})
        return self._reply(404, {"detail": f"no route {method} {route}"})


class NonAnsweringListener:
    """Accepts TCP connections on loopback and never reads from or answers them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.connections: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="non-answering", daemon=True).start()

    def _accept(self):
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)  # held open, never read

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self._closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        except OSError:
            pass
        self.sock.close()
        for c in self.connections:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

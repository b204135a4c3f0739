"""A stand-in for Apache Livy's REST API: the one mock in hunthub's Livy tests, because Livy (and the YARN
cluster behind it) cannot run on this machine.

It answers the part of the API sparkmagic and hunthub's gateway use (POST/GET/DELETE /sessions,
/sessions/{id}[/state|/log|/statements[/{n}]]), moves sessions and statements through Livy's states
(starting -> idle, waiting -> running -> available), and records every request it receives, with the
proxyUser asked for and the Authorization header, so tests can assert what really reached "Livy".
It runs no Spark: a statement's result is `answer(session, code)`, by default a few recognisable strings.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    body: dict | None
    authorization: str | None
    requested_by: str | None

    @property
    def basic_user(self) -> str | None:
        if not self.authorization or not self.authorization.startswith("Basic "):
            return None
        return base64.b64decode(self.authorization[6:]).decode().partition(":")[0]


@dataclass
class Session:
    id: int
    kind: str
    proxy_user: str | None
    owner: str | None
    state: str = "starting"
    statements: list = field(default_factory=list)

    def json(self) -> dict:
        return {
            "id": self.id, "name": None, "appId": f"application_0000_{self.id:04d}", "owner": self.owner,
            "proxyUser": self.proxy_user, "kind": self.kind, "state": self.state, "log": ["stand-in Livy log line"],
            "appInfo": {"driverLogUrl": None, "sparkUiUrl": None},
        }  # fmt: skip


def default_answer(session: Session, code: str) -> str:
    code = code.strip()
    if code in ("spark", "sqlContext"):
        return "<pyspark.sql.session.SparkSession object at 0x7f0000000000>"
    m = re.fullmatch(r"spark\.range\((\d+)\)\.count\(\)", code)
    if m:
        return m.group(1)
    return f"stand-in Livy ran, as {session.proxy_user}: {code}"


class LivyStandIn:
    def __init__(self, answer=default_answer, required_auth: tuple[str, str] | None = None):
        self.answer = answer
        self.required_auth = required_auth
        self.requests: list[Request] = []
        self.sessions: dict[int, Session] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> LivyStandIn:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def session_posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/sessions"]

    def _handler_class(self):
        livy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, code: int, body) -> None:
                data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path.split("?", 1)[0].rstrip("/")
                req = Request(method, path, body, self.headers.get("Authorization"), self.headers.get("X-Requested-By"))
                with livy._lock:
                    livy.requests.append(req)
                    if livy.required_auth is not None:
                        expected = "Basic " + base64.b64encode(":".join(livy.required_auth).encode()).decode()
                        if req.authorization != expected:
                            return self._reply(401, "Authentication required")
                    code, reply = livy._route(req)
                self._reply(code, reply)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        return Handler

    def _route(self, req: Request):
        if req.path == "/sessions":
            if req.method == "GET":
                listed = [s.json() for s in self.sessions.values()]
                return 200, {"from": 0, "total": len(listed), "sessions": listed}
            if req.method == "POST":
                body = req.body or {}
                session = Session(self._next_id, body.get("kind", "spark"), body.get("proxyUser"), req.basic_user)
                self._next_id += 1
                self.sessions[session.id] = session
                return 201, session.json()
        m = re.fullmatch(r"/sessions/(\d+)(/.*)?", req.path)
        if not m or int(m.group(1)) not in self.sessions:
            return 404, f"Session '{m.group(1) if m else '?'}' not found."
        session, rest = self.sessions[int(m.group(1))], m.group(2) or ""
        if rest == "" and req.method == "GET":
            reply = session.json()
            if session.state == "starting":  # a real session takes a while; sparkmagic must wait for idle
                session.state = "idle"
            return 200, reply
        if rest == "" and req.method == "DELETE":
            del self.sessions[session.id]
            return 200, {"msg": "deleted"}
        if rest == "/state":
            return 200, {"id": session.id, "state": session.state}
        if rest == "/log":
            return 200, {"id": session.id, "from": 0, "total": 1, "log": ["stand-in Livy log line"]}
        if rest == "/statements" and req.method == "POST":
            code = (req.body or {}).get("code", "")
            statement = {"id": len(session.statements), "code": code, "state": "waiting", "output": None}
            session.statements.append(statement)
            return 201, dict(statement)
        if rest == "/statements" and req.method == "GET":
            return 200, {"total_statements": len(session.statements), "statements": session.statements}
        m = re.fullmatch(r"/statements/(\d+)", rest)
        if m and req.method == "GET" and int(m.group(1)) < len(session.statements):
            statement = session.statements[int(m.group(1))]
            if statement["state"] == "waiting":
                statement["state"] = "running"
            elif statement["state"] == "running":
                statement["state"] = "available"
                text = self.answer(session, statement["code"])
                statement["output"] = {"status": "ok", "execution_count": statement["id"],
                                       "data": {"text/plain": text}}  # fmt: skip
            return 200, dict(statement)
        return 404, f"stand-in Livy does not know {req.method} {req.path}"

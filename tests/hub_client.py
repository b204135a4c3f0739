"""Drive a hub the way a browser's notebook does, over HTTP: log in, get a token, start a server, run code in a
kernel through the proxy's websocket. For tests that need many analysts at once, where a browser each is slow."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


class HubUser:
    def __init__(self, base: str, name: str, password: str = "any-password-demo"):
        self.base, self.name = base.rstrip("/"), name
        self.session = requests.Session()
        self.session.get(f"{self.base}/hub/login")
        r = self.session.post(
            f"{self.base}/hub/login",
            data={"username": name, "password": password, "_xsrf": hub_xsrf(self.session)},
            allow_redirects=False,
        )
        assert r.status_code in (302, 303), f"login of {name} failed: {r.status_code} {r.text[:300]}"
        r = self.session.post(
            f"{self.base}/hub/api/users/{name}/tokens",
            json={"note": "hunthub tests", "expires_in": 3600},
            headers={"X-XSRFToken": hub_xsrf(self.session)},
        )
        assert r.status_code in (200, 201), f"no token for {name}: {r.status_code} {r.text[:300]}"
        self.token = r.json()["token"]
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {self.token}"

    def hub(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.api.request(method, f"{self.base}/hub/api{path}", timeout=60, **kwargs)

    def server(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.api.request(method, f"{self.base}/user/{self.name}/api{path}", timeout=60, **kwargs)

    def start_server(self, timeout: float = 300, **options) -> float:
        """Ask for the server and wait until it answers; returns the seconds it took."""
        started = time.monotonic()
        r = self.hub("POST", f"/users/{self.name}/server", json=options or None)
        assert r.status_code in (201, 202), f"spawn of {self.name}: {r.status_code} {r.text[:300]}"
        self.wait_ready(timeout, started)
        return time.monotonic() - started

    def wait_ready(self, timeout: float = 300, started: float | None = None) -> None:
        deadline = (started or time.monotonic()) + timeout
        while time.monotonic() < deadline:
            model = self.hub("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready") and self.server("GET", "/status").status_code == 200:
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server was not ready within {timeout} s: {model}")

    def stop_server(self, timeout: float = 120) -> None:
        self.hub("DELETE", f"/users/{self.name}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.hub("GET", f"/users/{self.name}").json().get("servers"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server did not stop within {timeout} s")

    def run(self, code: str, kernel: str = "hunthub-pyspark", timeout: float = 300) -> dict:
        """Run one cell in a new kernel; returns {'status', 'text', 'error'} as a notebook would show them."""
        r = self.server("POST", "/kernels", json={"name": kernel})
        assert r.status_code == 201, r.text
        kernel_id = r.json()["id"]
        try:
            return asyncio.run(self._execute(kernel_id, code, timeout))
        finally:
            self.server("DELETE", f"/kernels/{kernel_id}")

    async def _execute(self, kernel_id: str, code: str, timeout: float) -> dict:
        url = f"{self.base}/user/{self.name}/api/kernels/{kernel_id}/channels".replace("http", "ws", 1)
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.token}"}))
        msg_id, request = execute_request(self.name, code)
        ws.write_message(request)
        result = new_cell()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
            if raw is None:
                raise AssertionError("the kernel's websocket closed")
            if take_cell_message(result, json.loads(raw), msg_id):
                break
        ws.close()
        return result


def new_cell() -> dict:
    """What a cell shows, filled by take_cell_message."""
    return {"status": "?", "text": "", "error": None, "idle": False}


def take_cell_message(cell: dict, msg: dict, msg_id: str) -> bool:
    """Fold one kernel message into `cell` as a notebook shows it (stream and text/plain output, the error, the
    reply's status); messages of other requests are ignored. True once the cell is done: its reply (shell) and its
    idle status (iopub), which come in either order."""
    if msg.get("parent_header", {}).get("msg_id") != msg_id:
        return False
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        cell["text"] += content["text"]
    elif kind in ("execute_result", "display_data"):
        cell["text"] += content["data"].get("text/plain", "") + "\n"
    elif kind == "error":
        cell["error"] = f"{content['ename']}: {content['evalue']}"
    elif kind == "execute_reply":
        cell["status"] = content["status"]
    elif kind == "status" and content["execution_state"] == "idle":
        cell["idle"] = True
    return cell["idle"] and cell["status"] != "?"


def execute_request(user: str, code: str) -> tuple[str, str]:
    """(msg_id, the message as the kernel websocket takes it) for running `code` as a notebook cell."""
    msg_id = uuid.uuid4().hex
    message = {
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user,
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
    return msg_id, json.dumps(message)


def hub_xsrf(session: requests.Session) -> str | None:
    """The hub's own _xsrf cookie: a session that has been to an analyst's server also holds that server's."""
    found = {c.path: c.value for c in session.cookies if c.name == "_xsrf"}
    return found.get("/hub/") or found.get("/hub") or found.get("/")


def form(session: requests.Session, base: str, path: str, data: dict, **kw) -> requests.Response:
    """Submit one of the hub's own forms (/hub/<path>) as a browser would: its page first, for the _xsrf cookie."""
    session.get(f"{base}/hub/{path}")
    return session.post(f"{base}/hub/{path}", data={**data, "_xsrf": hub_xsrf(session)}, **kw)


def logs_in(base: str, user: str, password: str) -> bool:
    """Whether the hub's login form lets `user` in (an unapproved sign-up gets no login cookie)."""
    s = requests.Session()
    form(s, base, "login", {"username": user, "password": password}, allow_redirects=False)
    return "jupyterhub-hub-login" in s.cookies


def sign_up_approved(base: str, admin_password: str, user: str, password: str) -> None:
    """`user` signs up on the hub's page, and the admin approves them on theirs."""
    form(requests.Session(), base, "signup",
         {"username": user, "signup_password": password, "signup_password_confirmation": password})  # fmt: skip
    admin = requests.Session()
    form(admin, base, "login", {"username": "admin", "password": admin_password})
    approved = admin.post(f"{base}/hub/authorize/{user}", data={"_xsrf": hub_xsrf(admin)})
    assert approved.ok, approved.text

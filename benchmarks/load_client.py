"""Simulated analysts arriving at a JupyterHub: each logs in through the login form, starts a server, starts a
kernel, runs a cell over the kernel's websocket and stops the server, as a browser would. Any JupyterHub will do
(hunthub or plain upstream), so the same client and settings measure both side by side.

One asyncio loop drives every analyst (tornado's HTTP client with enough connections that no request queues in
the client), so the figures are the hub's, not the client's. Per analyst it records the seconds each phase took,
and the phase and reason where it failed. A 429 from the hub's `concurrent_spawn_limit` (or
`active_server_limit`) is handled as a user would: wait as long as Retry-After says, then ask again; that wait
counts in the server start.

Used by `bench_many_analysts.py`; also runnable on its own against a hub that accepts any password (demo mode,
DummyAuthenticator):

    .venv/bin/python benchmarks/load_client.py http://127.0.0.1:8000 --users 10 --window 30 --kernel python3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.hub_client import new_cell, take_cell_message  # noqa: E402 - how a notebook reads a cell's messages

# phases of one analyst's visit, in order; "hub_spawn" comes from the hub's log (see hub_spawn_seconds)
PHASES = ("login", "server_start", "hub_spawn", "kernel_idle", "code", "stop", "total")
PHASE_LABELS = {
    "login": "login (form + token)",
    "server_start": "server start (client)",
    "hub_spawn": "server start (hub-side)",
    "kernel_idle": "kernel start -> idle",
    "code": "cell -> answer",
    "stop": "server stop",
    "total": "whole visit",
}
# the hub suggests no wait on an active-server 429: wait this long, as a user reading "try again" would
DEFAULT_RETRY_AFTER = 10.0


def use_enough_connections(n: int = 500) -> None:
    """tornado's default client runs 10 requests at a time and queues the rest (timed as if the hub were slow)."""
    AsyncHTTPClient.configure(None, max_clients=n)


class VisitError(Exception):
    """One phase of an analyst's visit went wrong; the message says what the analyst would have seen."""


@dataclass
class Visit:
    """What happened to one simulated analyst."""

    name: str
    arrival: float  # seconds after the burst started that this analyst arrived
    phases: dict[str, float] = field(default_factory=dict)
    failed_phase: str | None = None
    reason: str | None = None
    throttled: int = 0  # 429 answers to the spawn request
    throttled_wait: float = 0.0  # seconds spent waiting as they asked

    @property
    def ok(self) -> bool:
        return self.failed_phase is None


class HubSession:
    """One analyst's conversation with a hub: cookies to log in through the form, then an API token for the
    rest (the hub's REST API, the server's API through the proxy, the kernel websocket)."""

    def __init__(self, base: str, name: str, password: str = "any-password-bench", request_timeout: float = 120):
        self.base, self.name, self.password = base.rstrip("/"), name, password
        self.request_timeout = request_timeout
        self.cookies: dict[str, str] = {}
        self.token: str | None = None
        self.http = AsyncHTTPClient()

    # --- plumbing ---------------------------------------------------------------------------------

    async def fetch(self, method: str, url: str, body=None, headers=None, **kwargs) -> HTTPResponse:
        """One request; answers of any status come back (never raised), transport errors raise VisitError."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, (dict, list)):
            body, headers["Content-Type"] = json.dumps(body), "application/json"
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        kwargs.setdefault("request_timeout", self.request_timeout)
        request = HTTPRequest(
            url if url.startswith("http") else self.base + url,
            method=method,
            body=body,
            headers=headers,
            follow_redirects=False,
            connect_timeout=self.request_timeout,
            **kwargs,
        )
        try:
            response = await self.http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as e:
            raise VisitError(f"{method} {request.url}: {type(e).__name__}: {e}") from None
        if response.code == 599:  # tornado's own: timeout, connection reset
            raise VisitError(f"{method} {request.url}: {response.error}")
        for header in response.headers.get_list("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                self.cookies[key] = morsel.value
        return response

    @staticmethod
    def said(response: HTTPResponse) -> str:
        """What the hub said, short: its JSON message or the first bit of the body."""
        text = (response.body or b"").decode(errors="replace")
        try:
            text = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            pass
        return f"{response.code} {' '.join(text.split())[:200]}"

    # --- the visit ----------------------------------------------------------------------------------

    async def login(self) -> None:
        """The login form (its xsrf cookie comes with the page), then a token as the notebook UI gets one."""
        await self.fetch("GET", "/hub/login")
        xsrf = self.cookies.get("_xsrf", "")
        form = urlencode({"username": self.name, "password": self.password, "_xsrf": xsrf})
        r = await self.fetch("POST", "/hub/login", body=form)
        if r.code not in (302, 303):
            raise VisitError(f"login form: {self.said(r)}")
        r = await self.fetch(
            "POST",
            f"/hub/api/users/{quote(self.name)}/tokens",
            body={"note": "load client", "expires_in": 7200},
            headers={"X-XSRFToken": self.cookies.get("_xsrf", xsrf)},
        )
        if r.code not in (200, 201):
            raise VisitError(f"token: {self.said(r)}")
        self.token = json.loads(r.body)["token"]

    async def start_server(self, timeout: float = 600, visit: Visit | None = None) -> None:
        """Ask for the server (again after each 429, as Retry-After says) and wait until it answers."""
        deadline = time.monotonic() + timeout
        while True:
            r = await self.fetch("POST", f"/hub/api/users/{quote(self.name)}/server", body={})
            if r.code != 429:
                break
            wait = float(r.headers.get("Retry-After") or DEFAULT_RETRY_AFTER)
            if time.monotonic() + wait > deadline:
                raise VisitError(f"spawn still refused after {timeout:.0f} s: {self.said(r)}")
            if visit is not None:
                visit.throttled += 1
                visit.throttled_wait += wait
            await asyncio.sleep(wait)
        if r.code == 202:
            await self._follow_progress(deadline)
        elif r.code != 201:
            raise VisitError(f"spawn: {self.said(r)}")
        await self._wait_answers(deadline)

    async def _follow_progress(self, deadline: float) -> None:
        """The spawn's event stream, as the hub's spawn-pending page follows it, until `ready` (or `failed`)."""
        events: list[dict] = []
        buffer = b""

        def on_chunk(chunk: bytes) -> None:
            nonlocal buffer
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                for line in block.decode(errors="replace").splitlines():
                    if line.startswith("data:"):
                        try:
                            events.append(json.loads(line[5:]))
                        except ValueError:
                            pass

        remaining = max(1.0, deadline - time.monotonic())
        r = await self.fetch(
            "GET",
            f"/hub/api/users/{quote(self.name)}/server/progress",
            streaming_callback=on_chunk,
            request_timeout=remaining,
        )
        failed = next((e for e in events if e.get("failed")), None)
        if failed:
            raise VisitError(f"spawn failed: {failed.get('message', failed)}")
        if any(e.get("ready") for e in events):
            return
        # the stream may end early (hub restart of the handler, 400 when the spawn already finished): ask the model
        while time.monotonic() < deadline:
            r = await self.fetch("GET", f"/hub/api/users/{quote(self.name)}")
            server = json.loads(r.body).get("servers", {}).get("") if r.code == 200 else None
            if server and server.get("ready"):
                return
            if r.code == 200 and not server:
                raise VisitError("the server stopped while starting (see the hub's log)")
            await asyncio.sleep(1)
        raise VisitError("server not ready in time")

    async def _wait_answers(self, deadline: float) -> None:
        """Ready in the hub's eyes; the analyst's first request goes through the proxy (a route can lag). A
        server that died meanwhile is a failure at once, not a wait until the deadline."""
        tries = 0
        while True:
            r = await self.fetch("GET", f"/user/{quote(self.name)}/api/status")
            if r.code == 200:
                return
            if time.monotonic() > deadline:
                raise VisitError(f"server ready but not answering: {self.said(r)}")
            tries += 1
            if tries % 10 == 0:
                model = await self.fetch("GET", f"/hub/api/users/{quote(self.name)}")
                if model.code == 200 and not json.loads(model.body).get("servers"):
                    raise VisitError(f"the server stopped right after it was ready (it answered {self.said(r)})")
            await asyncio.sleep(0.5)

    async def start_kernel(self, kernel: str) -> str:
        r = await self.fetch("POST", f"/user/{quote(self.name)}/api/kernels", body={"name": kernel})
        if r.code != 201:
            raise VisitError(f"kernel {kernel}: {self.said(r)}")
        return json.loads(r.body)["id"]

    async def connect(self, kernel_id: str, timeout: float = 300) -> KernelChannel:
        url = f"{self.base}/user/{quote(self.name)}/api/kernels/{kernel_id}/channels".replace("http", "ws", 1)
        request = HTTPRequest(
            url,
            headers={"Authorization": f"token {self.token}"},
            connect_timeout=timeout,
            request_timeout=timeout,
        )
        try:
            ws = await asyncio.wait_for(websocket_connect(request, max_message_size=64 << 20), timeout)
        except (TimeoutError, OSError, HTTPClientError) as e:
            raise VisitError(f"kernel websocket: {type(e).__name__}: {e}") from None
        return KernelChannel(ws, self.name)

    async def stop_server(self, timeout: float = 300) -> None:
        r = await self.fetch("DELETE", f"/hub/api/users/{quote(self.name)}/server")
        if r.code not in (202, 204):
            raise VisitError(f"stop: {self.said(r)}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = await self.fetch("GET", f"/hub/api/users/{quote(self.name)}")
            if r.code == 200 and not json.loads(r.body).get("servers"):
                return
            await asyncio.sleep(1)
        raise VisitError(f"server still there {timeout:.0f} s after asking it to stop")


class KernelChannel:
    """A kernel's websocket, as the notebook UI uses it: one request at a time, replies matched by parent id."""

    def __init__(self, ws: WebSocketClientConnection, user: str):
        self.ws, self.user, self.session = ws, user, uuid.uuid4().hex

    def _send(self, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": self.user, "session": self.session,
                  "version": "5.3", "date": ""}  # fmt: skip
        self.ws.write_message(
            json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell", "content": content})
        )
        return msg_id

    async def _next(self, deadline: float) -> dict:
        raw = await asyncio.wait_for(self.ws.read_message(), max(0.1, deadline - time.monotonic()))
        if raw is None:
            raise VisitError("the kernel's websocket closed")
        if isinstance(raw, bytes):  # binary (buffers) frames carry nothing this client needs
            return {}
        return json.loads(raw)

    async def wait_idle(self, timeout: float = 300) -> None:
        """Until the kernel answers kernel_info: it is up and idle, the notebook's "Kernel ready"."""
        deadline = time.monotonic() + timeout
        msg_id = self._send("kernel_info_request", {})
        try:
            while True:
                msg = await self._next(deadline)
                if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "kernel_info_reply":
                    return
        except TimeoutError:
            raise VisitError(f"kernel not idle within {timeout:.0f} s") from None

    async def execute(self, code: str, timeout: float = 300) -> dict:
        """Run one cell: {'status', 'text', 'error'} as the notebook shows them."""
        deadline = time.monotonic() + timeout
        msg_id = self._send(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
             "stop_on_error": True},
        )  # fmt: skip
        result = new_cell()
        try:
            while not take_cell_message(result, await self._next(deadline), msg_id):
                pass
        except TimeoutError:
            raise VisitError(f"no answer to {code!r} within {timeout:.0f} s; so far: {result}") from None
        return result

    def close(self) -> None:
        self.ws.close()


def answer_of(result: dict) -> str:
    """The last line the cell printed or returned (`Out[1]: 2` -> "2")."""
    lines = [ln for ln in result["text"].strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


async def visit(base: str, name: str, arrival: float, kernel: str, code: str, expect: str | None,
                timeouts: dict[str, float] | None = None, password: str = "any-password-bench") -> Visit:  # fmt: skip
    """One analyst's whole visit; never raises: a failure is recorded with its phase and reason."""
    t = {"server_start": 900, "kernel_idle": 600, "code": 600, "stop": 300, **(timeouts or {})}
    v = Visit(name, arrival)
    hub = HubSession(base, name, password)
    phase, started = "login", time.monotonic()
    clock = started
    try:
        await hub.login()
        v.phases["login"], clock = time.monotonic() - clock, time.monotonic()
        phase = "server_start"
        await hub.start_server(t["server_start"], v)
        v.phases["server_start"], clock = time.monotonic() - clock, time.monotonic()
        phase = "kernel_idle"
        kernel_id = await hub.start_kernel(kernel)
        channel = await hub.connect(kernel_id, t["kernel_idle"])
        try:
            await channel.wait_idle(t["kernel_idle"])
            v.phases["kernel_idle"], clock = time.monotonic() - clock, time.monotonic()
            phase = "code"
            result = await channel.execute(code, t["code"])
        finally:
            channel.close()
        if result["status"] != "ok" or (expect is not None and answer_of(result) != expect):
            raise VisitError(f"{code!r} answered {result['status']}: {result['error'] or answer_of(result)!r}")
        v.phases["code"], clock = time.monotonic() - clock, time.monotonic()
        phase = "stop"
        await hub.stop_server(t["stop"])
        v.phases["stop"] = time.monotonic() - clock
        v.phases["total"] = time.monotonic() - started
    except VisitError as e:
        v.failed_phase, v.reason = phase, str(e)
    except Exception as e:  # a bug here, or something the hub did that this client did not expect
        v.failed_phase, v.reason = phase, f"{type(e).__name__}: {e}"
    if not v.ok and hub.token and phase not in ("login", "stop"):
        try:  # leave nothing running for the next analyst or the benchmark's end
            await hub.stop_server(120)
        except Exception:  # noqa: S110 - the hub's cleanup on shutdown is the last resort
            pass
    return v


async def burst(base: str, users: int, window: float, kernel: str, code: str, expect: str | None,
                prefix: str = "load", progress=lambda msg: None, **kwargs) -> list[Visit]:  # fmt: skip
    """`users` analysts arriving evenly over `window` seconds, each doing a whole visit."""
    use_enough_connections()
    tag = uuid.uuid4().hex[:4]
    start = time.monotonic()

    async def one(i: int) -> Visit:
        at = i * window / users
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        v = await visit(base, f"{prefix}{tag}{i:03d}", at, kernel, code, expect, **kwargs)
        done = sum(1 for f in tasks if f.done()) + 1
        state = "ok" if v.ok else f"FAILED in {v.failed_phase}: {v.reason}"
        progress(f"  {v.name} ({done}/{users}): {state}; " + ", ".join(f"{k} {s:.1f} s" for k, s in v.phases.items()))
        return v

    tasks = [asyncio.ensure_future(one(i)) for i in range(users)]
    return list(await asyncio.gather(*tasks))


# --- reading the results ------------------------------------------------------------------------------


def hub_spawn_seconds(hub_log: str) -> dict[str, float]:
    """Per user, how long the hub itself took to start their (default) server, from its log line
    "User <name> took <s> seconds to start" (JupyterHub's own, at INFO). The last one wins."""
    return {m[1]: float(m[2]) for m in re.finditer(r"User (\S+?):? took ([\d.]+) seconds to start", hub_log)}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a value that was actually measured (p95 of 50 is the 48th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(visits: list[Visit]) -> dict:
    """Completions, failures with reasons, and n/p50/p95/max per phase over the analysts who got that far."""
    phases = {}
    for phase in PHASES:
        values = [v.phases[phase] for v in visits if phase in v.phases]
        if values:
            phases[phase] = {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
                             "max": max(values)}  # fmt: skip
    return {
        "users": len(visits),
        "completed": sum(v.ok for v in visits),
        "failures": [{"name": v.name, "phase": v.failed_phase, "reason": v.reason} for v in visits if not v.ok],
        "throttled_users": sum(v.throttled > 0 for v in visits),
        "throttled_wait_total": sum(v.throttled_wait for v in visits),
        "phases": phases,
    }


def as_json(visits: list[Visit]) -> list[dict]:
    return [asdict(v) for v in visits]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the hub's public URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--users", type=int, default=10, help="simulated analysts (default 10)")
    parser.add_argument("--window", type=float, default=30, help="seconds over which they arrive (default 30)")
    parser.add_argument("--kernel", default="python3", help="kernel name to start (default python3)")
    parser.add_argument("--code", default="1+1", help="the cell to run (default 1+1)")
    parser.add_argument("--expect", default="2", help="its expected answer, last line of output ('' to not check)")
    parser.add_argument("--hub-log", help="the hub's log file, for the hub-side spawn times")
    args = parser.parse_args()
    if args.users < 1 or args.window < 0:
        parser.error("--users must be at least 1 and --window not negative")
    visits = asyncio.run(
        burst(args.url, args.users, args.window, args.kernel, args.code, args.expect or None,
              progress=lambda m: print(m, file=sys.stderr, flush=True))
    )  # fmt: skip
    if args.hub_log:
        with open(args.hub_log, errors="replace") as f:
            spawned = hub_spawn_seconds(f.read())
        for v in visits:
            if v.name in spawned:
                v.phases["hub_spawn"] = spawned[v.name]
    summary = summarize(visits)
    print(f"{summary['completed']}/{summary['users']} completed")
    for phase, f in summary["phases"].items():
        print(
            f"{PHASE_LABELS[phase]:<26} n={f['n']:<3} p50 {f['p50']:6.1f} s  p95 {f['p95']:6.1f} s  "
            f"max {f['max']:6.1f} s"
        )
    for f in summary["failures"]:
        print(f"FAILED {f['name']} in {f['phase']}: {f['reason']}")
    return 0 if summary["completed"] == summary["users"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""`hunthub up` with a Livy URL, as an analyst meets it: their real server (spawned by the hub, running as their
own account) offers the Livy kernels, and a cell run there reaches Livy as their hub user. No local Spark cluster
is started (an unreachable external master stands for "the cluster is elsewhere").

Livy cannot run here, so it is the one thing mocked: `tests.livy_standin`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.harness import Stack, free_ports, fresh_state_dir, running_stack, stack_env
from tests.livy_standin import LivyStandIn

USER = "lena"


@pytest.fixture(scope="module")
def livy():
    standin = LivyStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def livy_stack(livy):
    state = fresh_state_dir()
    dead_master, gateway_port = free_ports(2)
    env = stack_env(
        state, HUNTHUB_LIVY_URL=livy.url, HUNTHUB_LIVY_GATEWAY_PORT=str(gateway_port),
        HUNTHUB_SPARK_MASTER=f"spark://127.0.0.1:{dead_master}", HUNTHUB_WARM_DRIVER="0",
        HUNTHUB_DEMO_DATA_EVENTS="0",
    )  # fmt: skip
    with running_stack(env, ["--demo"], timeout=180) as s:
        yield s


def analyst_token(stack: Stack, user: str) -> str:
    """Log in through the hub's form (demo mode), start the server, and get an API token, as a browser would."""
    web = requests.Session()
    web.get(f"{stack.url}/hub/login", timeout=10)
    xsrf = web.cookies.get("_xsrf")
    r = web.post(f"{stack.url}/hub/login", data={"username": user, "password": "pw", "_xsrf": xsrf}, timeout=30)
    assert r.ok, r.text
    # the hub sets a new XSRF cookie for the logged-in session
    xsrf = next(c.value for c in web.cookies if c.name == "_xsrf" and c.path.startswith("/hub"))
    headers = {"X-XSRFToken": xsrf}
    r = web.post(f"{stack.url}/hub/api/users/{user}/tokens", headers=headers, json={"note": "livy"}, timeout=10)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    auth = {"Authorization": f"token {token}"}
    requests.post(f"{stack.url}/hub/api/users/{user}/server", headers=auth, timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = requests.get(f"{stack.url}/hub/api/users/{user}", headers=auth, timeout=10).json()
        if model.get("servers", {}).get("", {}).get("ready"):
            return token
        time.sleep(1)
    raise AssertionError(f"{user}'s server did not start\n{stack.dump_logs()}")


async def run_cell(ws_url: str, token: str, code: str, timeout: float = 180) -> str:
    """Execute `code` over the server's kernel websocket; return the text a notebook would show."""
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    await conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": USER, "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False},
    }))  # fmt: skip
    text = ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(conn.read_message(), deadline - time.monotonic())
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text += content["text"]
            elif kind in ("execute_result", "display_data"):
                text += content["data"].get("text/plain", "") + "\n"
            elif kind == "error":
                text += "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                return text
    finally:
        conn.close()
    raise AssertionError(f"no idle after {code!r}: {text}")


def test_analysts_server_offers_livy_kernels_whose_cells_run_as_the_analyst(livy_stack, livy):
    assert f"Livy kernels: {livy.url}" in livy_stack.output
    token = analyst_token(livy_stack, USER)
    auth = {"Authorization": f"token {token}"}
    server = f"{livy_stack.url}/user/{USER}"
    specs = requests.get(f"{server}/api/kernelspecs", headers=auth, timeout=30).json()["kernelspecs"]
    assert specs["pysparkkernel"]["spec"]["display_name"] == "PySpark (Livy: remote cluster)"
    assert "sparkkernel" in specs and "hunthub-pyspark" in specs

    kernel = requests.post(f"{server}/api/kernels", headers=auth, json={"name": "pysparkkernel"}, timeout=60).json()
    ws_url = f"ws://localhost:{livy_stack.port}/user/{USER}/api/kernels/{kernel['id']}/channels"
    try:
        asyncio.run(run_cell(ws_url, token, '%%configure -f\n{"proxyUser": "admin"}'))
        out = asyncio.run(run_cell(ws_url, token, "spark.range(3).count()"))
        assert out.strip().endswith("3"), out
        (post,) = livy.session_posts()
        assert post.body["proxyUser"] == USER
    finally:
        requests.delete(f"{server}/api/kernels/{kernel['id']}", headers=auth, timeout=60)
    assert not [s for s in livy.sessions.values() if s.proxy_user == USER], "the kernel's session outlived it"

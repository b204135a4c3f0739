"""Idle analysts hold nothing, busy ones keep their work, and a full hub says so: a real `hunthub up` (demo mode)
with short timeouts from a hunthub config file.

Culling: three analysts start servers and PySpark kernels. `idler` runs one quick cell and then does nothing;
`cell` starts a cell whose Spark job outlasts every timeout and disconnects (an open tab's websocket pings would
count as activity by themselves); `thread` starts the same job on a Python thread and leaves its kernel idle. The
idler's kernel is culled by its server, then its server by jupyterhub-idle-culler; the other two keep their
servers and kernels, and their jobs finish with the right answer.

Limits: with one concurrent spawn and two running servers allowed, the analyst over a limit is told which
limit, over the API (429, Retry-After) and on the page a browser shows.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.harness import Stack, fresh_state_dir, remove_analyst_accounts, stack_env
from tests.hub_client import HubUser, execute_request

pytestmark = pytest.mark.e2e

JOB_SECONDS = 150  # longer than the kernel and server cull timeouts below, with margin for a loaded machine
JOB = f"sc.parallelize(range(1), 1).map(lambda x: __import__('time').sleep({JOB_SECONDS}) or x + 42).sum()"

CULLING = """
c.HuntHub.cull_idle_timeout = 90
c.HuntHub.cull_every = 10
c.HuntHub.activity_interval = 10
c.HuntHub.kernel_cull_idle_timeout = 40
c.HuntHub.warm_driver = False
# on the cluster, so the test sees each kernel's application come and go on the master
c.HuntHub.analyst_tasks = "cluster"
"""

LIMITS = """
c.HuntHub.concurrent_spawn_limit = 1
c.HuntHub.active_server_limit = 2
c.HuntHub.warm_driver = False
"""


def start_stack(config: str):
    state = fresh_state_dir()
    state.parent.joinpath("hunthub_config.py").write_text(config)
    stack = Stack(stack_env(state, HUNTHUB_CONFIG=str(state.parent / "hunthub_config.py")), ["--demo"])
    try:
        stack.wait_up(timeout=600)
    except AssertionError:
        stack.stop()
        print(stack.dump_logs())
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    stack.stop()
    print(stack.dump_logs())  # pytest shows a test's output only when it fails
    remove_analyst_accounts(stack.state_dir)
    shutil.rmtree(stack.state_dir.parent, ignore_errors=True)


@pytest.fixture
def culling_stack():
    stack = start_stack(CULLING)
    yield stack
    stop_stack(stack)


@pytest.fixture
def limits_stack():
    stack = start_stack(LIMITS)
    yield stack
    stop_stack(stack)


def start_kernel(user: HubUser) -> str:
    r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def execute(user: HubUser, kernel_id: str, code: str, timeout: float = 600) -> dict:
    return asyncio.run(user._execute(kernel_id, code, timeout))


def submit_and_leave(user: HubUser, kernel_id: str, code: str, timeout: float = 120) -> None:
    """Start a cell and disconnect once it runs, as an analyst who closes the laptop: no tab, no websocket pings
    through the proxy, nothing but the running job to say the server is in use."""

    async def go():
        url = f"{user.base}/user/{user.name}/api/kernels/{kernel_id}/channels".replace("http", "ws", 1)
        ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {user.token}"}))
        msg_id, request = execute_request(user.name, code)
        ws.write_message(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(await asyncio.wait_for(ws.read_message(), deadline - time.monotonic()))
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                break
        ws.close()

    asyncio.run(go())


def server_running(admin: HubUser, name: str) -> bool:
    return bool(admin.hub("GET", f"/users/{name}").json().get("servers"))


def active_apps(stack: Stack) -> list[str]:
    """Names of the applications the embedded Spark master runs now (its JSON API, which an admin can read)."""
    url = f"http://127.0.0.1:{stack.env['HUNTHUB_SPARK_MASTER_WEBUI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback
        return [app["name"] for app in json.load(r)["activeapps"]]


@pytest.mark.timeout(1500)
def test_culler_stops_the_idle_analyst_and_spares_running_spark_jobs(culling_stack):
    stack = culling_stack
    admin = HubUser(stack.url, "admin")
    idler, cell, thread = (HubUser(stack.url, name) for name in ("idler", "cell", "thread"))
    for user in (idler, cell, thread):
        user.start_server(timeout=600)
    kernels = {user.name: start_kernel(user) for user in (idler, cell, thread)}

    # each kernel attaches to Spark; idler then does nothing at all
    with ThreadPoolExecutor(3) as pool:
        firsts = list(pool.map(lambda u: execute(u, kernels[u.name], "spark.range(10).count()"), (idler, cell, thread)))
    for result in firsts:
        assert result["status"] == "ok" and "10" in result["text"], result
    thread_cell = (
        f"import threading\nresult = []\njob = threading.Thread(target=lambda: result.append({JOB}))\njob.start()"
    )
    assert execute(thread, kernels["thread"], thread_cell)["status"] == "ok"
    # thread's kernel is idle now, with a Spark job running; cell's kernel is busy with one; nobody is connected
    submit_and_leave(cell, kernels["cell"], f"answer = {JOB}")

    # idler's idle kernel goes first (kernel culling, 40 s): its Spark application ends, its server still runs
    deadline = time.monotonic() + 400
    while "idler" in active_apps(stack):
        assert time.monotonic() < deadline, f"idler's idle kernel was not culled: {active_apps(stack)}"
        time.sleep(3)
    assert server_running(admin, "idler"), "the idle server was culled before its idle kernel"
    # then its server (jupyterhub-idle-culler, 90 s)
    while server_running(admin, "idler"):
        assert time.monotonic() < deadline, "the idle analyst's server was not culled"
        time.sleep(3)

    # the job in a busy cell ran past both timeouts and answered; its server and kernel were spared
    assert server_running(admin, "cell")
    result = execute(cell, kernels["cell"], "print(answer)")  # queued behind the job's cell if still running
    assert result["status"] == "ok" and result["text"].strip() == "42", result
    # the job on a thread of an idle kernel too: same kernel, still there, with the job's result
    result = execute(thread, kernels["thread"], "job.join()\nprint(result)")
    assert result["status"] == "ok" and result["text"].strip() == "[42]", result
    assert server_running(admin, "thread")
    assert {"cell", "thread"} <= set(active_apps(stack))


def while_starting(first: HubUser, second: HubUser, attempts: int = 3):
    """`second`'s spawn request and spawn page, sent while `first`'s server is starting. A local server can start in
    about a second on a quiet machine, so the requests go out the moment the hub says it is pending, and the whole
    thing is tried again (both servers stopped) in the rare case the start was over before they arrived."""
    for _ in range(attempts):
        with ThreadPoolExecutor(1) as pool:
            started = pool.submit(first.hub, "POST", f"/users/{first.name}/server")
            while not started.done():
                server = first.hub("GET", f"/users/{first.name}").json().get("servers", {}).get("", {})
                if server.get("pending") == "spawn":
                    break
                time.sleep(0.02)
            r = second.hub("POST", f"/users/{second.name}/server")
            page = second.session.get(f"{second.base}/hub/spawn/{second.name}")
            assert started.result().status_code in (201, 202), started.result().text
        if r.status_code == 429 and page.status_code == 429:
            return r, page
        for user in (first, second):  # the start was over before the requests came: again, from nothing
            user.wait_ready(timeout=600)
            user.stop_server()
    raise AssertionError(f"{second.name}'s requests never reached the hub while {first.name}'s server was starting")


def test_an_analyst_over_a_limit_is_told_which_and_when_to_retry(limits_stack):
    stack = limits_stack
    ana, ben, cleo = (HubUser(stack.url, name) for name in ("ana", "ben", "cleo"))

    # while ana's server is starting (the one concurrent spawn allowed), ben asks for his
    r, page = while_starting(ana, ben)
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) > 0
    assert "Try again in" in r.json()["message"]
    # the page a browser gets says what is going on and retries by itself
    assert page.status_code == 429
    assert "Many analysts are starting at once" in page.text
    assert "At most 1 servers may start at the same time" in page.text
    assert "tries again by itself" in page.text and "window.location.reload()" in page.text

    ana.wait_ready(timeout=600)
    ben.start_server(timeout=600)
    # two servers run: the hub is full for cleo, and the page says why and what frees a place
    r = cleo.hub("POST", "/users/cleo/server")
    assert r.status_code == 429, r.text
    page = cleo.session.get(f"{stack.url}/hub/spawn/cleo")
    assert page.status_code == 429
    assert "The hub is full" in page.text
    assert "2 analysts' servers are running, the most this hub allows" in page.text
    assert "stops their server" in page.text
    # a place frees up when an analyst stops
    ana.stop_server()
    cleo.start_server(timeout=600)
    assert requests.get(f"{stack.url}/user/cleo/api/status", headers={"Authorization": f"token {cleo.token}"}).ok

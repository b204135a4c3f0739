"""hunthub.status: attribution of real processes, the joined view of the hub's, master's and workers' answers, the
page's HTML, the service's config and token, and `hunthub status`'s errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from jupyterhub.scopes import _check_scopes_exist
from traitlets.config import Config

from hunthub import cli, status
from hunthub.hub import config as hubconfig
from hunthub.hub.status_page import render_table
from tests.harness import free_port

# Captured from a real run (Spark 4.1 standalone from the pyspark wheel, one worker of 2 cores, a PySpark session
# named after its analyst holding one executor): the master's /json/ and the worker's /json/, trimmed of the
# executor's launch command.
MASTER = {
    "url": "spark://127.0.0.1:41099",
    "workers": [
        {"id": "worker-20261206044416-127.0.0.1-38779", "host": "127.0.0.1", "port": 38779,
         "webuiaddress": "http://127.0.0.1:34937", "cores": 2, "coresused": 1, "coresfree": 1, "memory": 2048,
         "memoryused": 512, "memoryfree": 1536, "resources": {}, "resourcesused": {}, "resourcesfree": {},
         "state": "ALIVE", "lastheartbeat": 1796532287068},
    ],
    "aliveworkers": 1, "cores": 2, "coresused": 1, "memory": 2048, "memoryused": 512,
    "resources": [{}], "resourcesused": [{}],
    "activeapps": [
        {"id": "app-20261206044421-0000", "starttime": 1796532261208, "name": "probe1", "cores": 1, "user": "root",
         "memoryperexecutor": 512, "memoryperslave": 512, "resourcesperexecutor": [], "resourcesperslave": [],
         "submitdate": "Sun Dec 06 04:44:21 UTC 2026", "state": "RUNNING", "duration": 26030},
    ],
    "completedapps": [], "activedrivers": [], "completeddrivers": [], "status": "ALIVE",
}  # fmt: skip
WORKER_EXECUTORS = [
    {"id": 0, "memory": 512, "resources": {}, "appid": "app-20261206044421-0000",
     "appdesc": {"name": "probe1", "cores": 1, "memoryperexecutor": 512, "user": "root"}},
]  # fmt: skip


def user_model(name, state="running", admin=False):
    """A user as JupyterHub 5.5's REST API returns it (read:users + read:servers), see apihandlers/base.py."""
    servers = {}
    if state != "stopped":
        servers[""] = {
            "name": "", "full_name": f"{name}/", "last_activity": "2026-12-06T04:44:00.000000Z",
            "started": "2026-12-06T04:40:00.000000Z", "pending": "spawn" if state == "starting" else None,
            "ready": state == "running", "stopped": False, "url": f"/user/{name}/", "user_options": {},
            "progress_url": f"/hub/api/users/{name}/server/progress",
        }  # fmt: skip
    return {"kind": "user", "name": name, "admin": admin, "groups": [], "server": None, "pending": None,
            "last_activity": "2026-12-06T04:44:00.000000Z", "servers": servers}  # fmt: skip


@pytest.fixture
def family():
    """A real process tree: a 'server' with JUPYTERHUB_USER=ana, and a child of it that cleared its environment."""
    env = {**os.environ, "JUPYTERHUB_USER": "ana", "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1/user/ana/"}
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], env={})\n"
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = [p for p in status.scan_processes() if p.ppid == parent.pid]
        if kids:
            yield parent.pid, kids[0].pid
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the child never started")
    for p in (kids[0].pid, parent.pid):
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
    parent.wait()


def test_processes_belong_by_environment_and_by_parent(family):
    parent, child = family
    owned = status.attribute(status.scan_processes(), {})
    pids = {p.pid for p in owned["ana"]}
    assert {parent, child} <= pids
    assert os.getpid() not in pids
    assert status.analyst_memory("ana") >= status.pss_bytes(parent) > 0
    assert status.analyst_memory("nobody-has-this-name") == 0


def test_pss_of_a_process_that_is_gone_is_zero():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert status.pss_bytes(p.pid) == 0


def test_view_joins_hub_master_and_workers():
    users = [user_model("probe1"), user_model("bob"), user_model("carol", "stopped"), user_model("admin", admin=True)]
    kernels = {("probe1", ""): [
        {"id": "k1", "name": "hunthub-pyspark", "last_activity": "2026-12-06T04:44:10Z", "execution_state": "busy",
         "connections": 1},
        {"id": "k2", "name": "hunthub-sql", "last_activity": "2026-12-06T04:30:00Z", "execution_state": "idle",
         "connections": 0},
    ], ("bob", ""): "the server did not answer (timed out)"}  # fmt: skip
    snap = status.build(users, MASTER, WORKER_EXECUTORS, [], kernels)
    rows = {a["name"]: a for a in snap["analysts"]}
    assert list(rows) == ["admin", "bob", "probe1"]  # carol has no server and holds nothing
    probe = rows["probe1"]
    assert probe["kernels"] == {"total": 2, "busy": 1, "idle": 1}
    assert [(a["id"], a["cores"], a["executors"], a["executor_memory_mb"]) for a in probe["apps"]] == [
        ("app-20261206044421-0000", 1, 1, 512)
    ]
    assert probe["cores"] == 1 and probe["executor_memory_mb"] == 512
    assert rows["bob"]["cores"] == 0 and rows["bob"]["servers"][0]["kernels_error"]
    assert snap["other_apps"] == []
    assert snap["cluster"]["cores_free"] == 1 and snap["cluster"]["memory_used_mb"] == 512
    text = status.table(snap)
    assert "2 (1 busy, 1 idle)" in text
    assert "? (the server did not answer (timed out))" in text
    assert "cores 1 of 2 in use, 1 free" in text
    assert json.loads(json.dumps(snap)) == snap  # --json


def test_applications_of_no_analyst_are_listed_apart():
    master = json.loads(json.dumps(MASTER))
    master["activeapps"][0]["name"] = "hunthub-ingest"
    snap = status.build([user_model("probe1")], master, None, [])
    assert snap["analysts"][0]["apps"] == []
    [other] = snap["other_apps"]
    assert other["holder"] == "hunthub ingest" and other["cores"] == 1
    # without the workers' answers, executors are counted from this host's processes: here none
    assert other["executor_memory_mb"] == 0
    assert "hunthub ingest; OS user root" in status.table(snap)


def test_sessions_in_their_own_driver_and_the_analysts_caps_are_shown(family):
    parent, _ = family
    procs = status.scan_processes()
    # ana's "server" stands in for a driver JVM here: what makes a process a driver is its command line
    for p in procs:
        if p.pid == parent:
            p.argv = ["java", "-cp", "x", "org.apache.spark.deploy.SparkSubmit", "pyspark-shell"]
    caps = {"cpu": 1.0, "memory": 4 * 1024**3, "memory_used": 900 * 1024**2, "pids": 2048, "pids_used": 150}
    snap = status.build([user_model("ana")], None, None, procs, limits={"ana": caps})
    [ana] = snap["analysts"]
    assert ana["drivers"] == 1 and ana["apps"] == [] and ana["limits"] == caps
    text = status.table(snap)
    assert "0 on the cluster; 1 own driver(s)" in text
    assert "1 CPU, 900 MiB of 4.0 GiB" in text
    page = render_table(snap)
    assert '<td class="caps">1 CPU, 900 MiB of 4.0 GiB</td>' in page and "1 own driver(s)" in page


def test_no_master_is_said():
    snap = status.build([user_model("probe1")], None, None, [], master_url="http://127.0.0.1:9")
    assert "no answer from http://127.0.0.1:9" in status.table(snap)


def test_page_escapes_what_analysts_can_name():
    master = json.loads(json.dumps(MASTER))
    master["activeapps"][0]["name"] = "<script>alert(1)</script>"
    snap = status.build([user_model("probe1")], master, WORKER_EXECUTORS, [])
    page = render_table(snap)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'data-analyst="probe1"' in page


def test_service_role_and_token(settings):
    s = settings(hub_port=9081)
    c = Config()
    s.hub_dir.mkdir(parents=True)
    hubconfig.apply_status_service(c, s)
    [svc] = [x for x in c.JupyterHub.services if x["name"] == "hunthub-status"]
    assert svc["url"] == "http://127.0.0.1:9083"
    [role] = [r for r in c.JupyterHub.load_roles if r["name"] == "hunthub-status"]
    assert role["services"] == ["hunthub-status"]
    _check_scopes_exist(role["scopes"])  # JupyterHub 5.5 knows every scope
    assert not [x for x in role["scopes"] if x.startswith(("admin", "servers", "delete", "tokens", "users"))]
    token_file = s.hub_dir / "status-api-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == svc["api_token"]
    # generated once: a second configuration (a hub restart) keeps it, and there is one service and one role
    hubconfig.apply_status_service(c, s)
    assert [x["api_token"] for x in c.JupyterHub.services if x["name"] == "hunthub-status"] == [svc["api_token"]]
    assert len([r for r in c.JupyterHub.load_roles if r["name"] == "hunthub-status"]) == 1


def test_status_without_a_hub_says_so(state_dir, capsys, monkeypatch):
    # the CLI passes its flags on through the environment: give them back after the test
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    monkeypatch.setenv("HUNTHUB_PORT", "8000")
    assert cli.main(["status", "--state-dir", str(state_dir)]) == 1
    assert "no hub state in" in capsys.readouterr().err
    (state_dir / "hub").mkdir(parents=True)
    assert cli.main(["status", "--state-dir", str(state_dir)]) == 1
    assert "no status token in" in capsys.readouterr().err
    status.ensure_token(state_dir / "hub")
    port = free_port()
    assert cli.main(["status", "--state-dir", str(state_dir), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"the hub does not answer at http://127.0.0.1:{port}/hub/api" in err and "hunthub up" in err

"""Remote mode with Livy, end to end except Livy itself: a real JupyterHub configured by hunthub (demo login, a Livy
URL) starts the real Livy gateway as its managed service; real sparkmagic kernels run with the environment the
spawner gives an analyst's server, and their JupyterHub API tokens are real ones from that hub.

Livy cannot run here, so it is the one thing mocked: `tests.livy_standin`, which records what reaches it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from traitlets.config import Config

from hunthub import paths
from hunthub.hub.config import kernel_environment
from hunthub.kernels.livy import sparkmagic_config
from hunthub.settings import HuntHub
from tests.harness import free_port, free_ports, fresh_state_dir
from tests.integration.kernel_client import Kernel
from tests.livy_standin import LivyStandIn

LIVY_USER, LIVY_PASSWORD = "livy-svc", secrets.token_urlsafe(12)
ADMIN_TOKEN = secrets.token_hex(32)

HUB_CONFIG = f"""
from hunthub.hub.config import configure

configure(c)
# the test's own hands on the hub: create analysts and their tokens through the REST API
c.JupyterHub.services.append({{"name": "livy-test", "api_token": {ADMIN_TOKEN!r}}})
scopes = ["admin:users", "tokens", "list:services", "read:services"]
c.JupyterHub.load_roles = [{{"name": "livy-test", "scopes": scopes, "services": ["livy-test"]}}]
"""


def wait_for(check, what: str, timeout: float = 60, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


class Hub:
    def __init__(self, settings: HuntHub, proc: subprocess.Popen, log: Path):
        self.settings, self.proc, self.log = settings, proc, log
        self.api = f"http://127.0.0.1:{settings.port}/hub/api"
        self.gateway = settings.livy_gateway_url
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        """A real API token of a real hub user (created on first use)."""
        if user not in self.tokens:
            headers = {"Authorization": f"token {ADMIN_TOKEN}"}
            requests.post(f"{self.api}/users/{user}", headers=headers, timeout=10)
            r = requests.post(f"{self.api}/users/{user}/tokens", headers=headers, json={"note": "test"}, timeout=10)
            assert r.status_code == 201, r.text
            self.tokens[user] = r.json()["token"]
        return self.tokens[user]

    def server_env(self, user: str, home: Path, **extra: str) -> dict[str, str]:
        """What the spawner gives `user`'s server, hence their kernels (see hunthub.hub.config)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "HUNTHUB_", "SPARKMAGIC"))}
        env.update(kernel_environment(self.settings))
        env.update(HOME=str(home), JUPYTERHUB_USER=user, JUPYTERHUB_API_TOKEN=self.token(user),
                   JUPYTERHUB_API_URL=self.api, JUPYTERHUB_DISABLE_USER_CONFIG="1")  # fmt: skip
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def livy():
    standin = LivyStandIn(required_auth=(LIVY_USER, LIVY_PASSWORD)).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def hub(livy):
    state = fresh_state_dir()
    state.mkdir(parents=True)
    state.chmod(0o711)
    creds = state.parent / "livy-credentials"
    creds.write_text(f"{LIVY_USER}:{LIVY_PASSWORD}\n")
    creds.chmod(0o600)
    port, proxy_api, hub_port, gateway_port = free_ports(4)
    env = {
        "HUNTHUB_STATE_DIR": str(state), "HUNTHUB_PORT": str(port), "HUNTHUB_PROXY_API_PORT": str(proxy_api),
        "HUNTHUB_HUB_PORT": str(hub_port), "HUNTHUB_DEMO": "1", "HUNTHUB_LIVY_URL": livy.url,
        "HUNTHUB_LIVY_CREDENTIALS_FILE": str(creds), "HUNTHUB_LIVY_GATEWAY_PORT": str(gateway_port),
    }  # fmt: skip
    config = state.parent / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG)
    hub_env = {k: v for k, v in os.environ.items() if not k.startswith(("HUNTHUB_", "JUPYTERHUB_"))}
    log = state.parent / "jupyterhub.log"
    (state / "hub").mkdir(mode=0o700)
    with open(log, "wb") as out:
        proc = subprocess.Popen([paths.venv_bin("jupyterhub"), "-f", str(config)], cwd=state / "hub",
                                env={**hub_env, **env}, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    settings = HuntHub(config=Config(HuntHub={
        "state_dir": str(state), "port": port, "proxy_api_port": proxy_api, "hub_port": hub_port, "demo": True,
        "livy_url": livy.url, "livy_credentials_file": str(creds), "livy_gateway_port": gateway_port,
    }))  # fmt: skip
    h = Hub(settings, proc, log)
    try:
        wait_for(lambda: requests.get(f"{h.api}/", timeout=2).ok, "JupyterHub", 90, log)
        wait_for(lambda: requests.get(f"{h.gateway}/health", timeout=2).ok, "the Livy gateway service", 60, log)
        yield h
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(state.parent, ignore_errors=True)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


def gateway(hub: Hub, user: str | None, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"token {hub.token(user)}"} if user else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, hub.gateway + path, headers=headers, timeout=30, **kwargs)


def livy_kernel(env: dict[str, str], monkeypatch, name: str = "pysparkkernel") -> Kernel:
    """A sparkmagic kernel, found where the analyst's server finds it: through the JUPYTER_PATH the spawner sets
    (kernel specs are looked up by the process starting the kernel, here the test, in the server the server)."""
    with monkeypatch.context() as m:
        m.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
        return Kernel(env, name=name)


def start_gateway(hub: Hub, livy_url: str, *args: str) -> tuple[subprocess.Popen, str]:
    """A second gateway, started by the test rather than the hub (same code, other Livy or timeouts)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hunthub.hub.livy_gateway", f"--livy-url={livy_url}", f"--port={port}", *args],
        env={**os.environ, "JUPYTERHUB_API_URL": hub.api},
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{url}/health", timeout=2).ok, "a second gateway", 30)
    return proc, url


# --- the gateway as the hub runs it ----------------------------------------------------------------------


def test_hub_runs_the_gateway_as_a_service(hub):
    r = requests.get(f"{hub.api}/services", headers={"Authorization": f"token {ADMIN_TOKEN}"}, timeout=10)
    assert r.ok, r.text
    assert r.json()["livy-gateway"]["url"] == hub.gateway
    # the hub's proxy routes to it too (for servers that are not on the hub's host), with the same checks
    public = f"http://127.0.0.1:{hub.settings.port}/services/livy-gateway"
    assert requests.get(f"{public}/sessions", timeout=10).status_code == 401
    listing = requests.get(f"{public}/sessions", headers={"Authorization": f"token {hub.token('alice')}"}, timeout=10)
    assert listing.status_code == 200 and "sessions" in listing.json()


def test_pyspark_cell_runs_on_livy_as_the_hub_user_whatever_the_notebook_asks(hub, livy, home, monkeypatch):
    kernel = livy_kernel(hub.server_env("alice", home), monkeypatch)
    try:
        asked = kernel.run('%%configure -f\n{"proxyUser": "admin", "driverMemory": "2g"}')
        assert asked.status == "ok", asked
        result = kernel.run("spark.range(3).count()")
        assert result.status == "ok", result
        assert "SparkSession available as 'spark'" in result.text
        assert result.text.strip().endswith("3"), result.text
        # the session info table sparkmagic shows names the user Livy runs the session as
        assert "alice" in result.html and "admin" not in result.html

        (post,) = [r for r in livy.session_posts() if r.body.get("driverMemory") == "2g"]
        assert post.body["proxyUser"] == "alice"
        assert post.body["kind"] == "pyspark"
        session_id = next(s.id for s in livy.sessions.values() if s.proxy_user == "alice")
        statements = [s["code"].strip() for s in livy.sessions[session_id].statements]
        assert "spark.range(3).count()" in statements
    finally:
        kernel.shutdown()
    # a kernel that shuts down deletes its session
    wait_for(lambda: session_id not in livy.sessions, "the session's deletion", 30)
    # only the gateway's credentials ever reached Livy, never an analyst's token
    basic = "Basic " + base64.b64encode(f"{LIVY_USER}:{LIVY_PASSWORD}".encode()).decode()
    assert {r.authorization for r in livy.requests if r.path.startswith("/sessions")} == {basic}


def test_scala_kernel_runs_on_livy_as_the_hub_user(hub, livy, home, monkeypatch):
    kernel = livy_kernel(hub.server_env("bruno", home), monkeypatch, name="sparkkernel")
    try:
        result = kernel.run("spark.range(3).count()")
        assert result.status == "ok", result
        assert result.text.strip().endswith("3"), result.text
        (session,) = [s for s in livy.sessions.values() if s.proxy_user == "bruno"]
        assert session.kind == "spark"
    finally:
        kernel.shutdown()


def test_analysts_see_and_use_only_their_own_sessions(hub, livy):
    created = gateway(hub, "carol", "POST", "/sessions", json={"kind": "pyspark", "proxyUser": "dave"})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["proxyUser"] == "carol"

    assert sid in [s["id"] for s in gateway(hub, "carol", "GET", "/sessions").json()["sessions"]]
    listing = gateway(hub, "dave", "GET", "/sessions").json()
    assert sid not in [s["id"] for s in listing["sessions"]]
    assert all(s["proxyUser"] == "dave" for s in listing["sessions"])

    for method, path, body in [
        ("GET", f"/sessions/{sid}", None),
        ("GET", f"/sessions/{sid}/statements", None),
        ("POST", f"/sessions/{sid}/statements", {"code": "1 + 1"}),
        ("DELETE", f"/sessions/{sid}", None),
    ]:
        r = gateway(hub, "dave", method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["msg"] == f"Session {sid} is not yours."
    assert sid in livy.sessions and livy.sessions[sid].statements == []

    assert gateway(hub, "carol", "DELETE", f"/sessions/{sid}").status_code == 200
    assert sid not in livy.sessions


def test_sessions_made_elsewhere_belong_to_their_livy_proxy_user(hub, livy):
    """Ownership is Livy's own record (proxyUser), so it survives a gateway restart."""
    r = requests.post(f"{livy.url}/sessions", json={"kind": "spark", "proxyUser": "erin"}, timeout=5,
                      auth=(LIVY_USER, LIVY_PASSWORD))  # fmt: skip
    sid = r.json()["id"]
    assert gateway(hub, "frank", "GET", f"/sessions/{sid}").status_code == 403
    assert gateway(hub, "erin", "GET", f"/sessions/{sid}").json()["proxyUser"] == "erin"
    assert gateway(hub, "erin", "DELETE", f"/sessions/{sid}").status_code == 200


def test_requests_without_a_valid_hub_token_are_refused_before_livy(hub, livy):
    before = len(livy.requests)
    missing = gateway(hub, None, "GET", "/sessions")
    assert missing.status_code == 401
    assert "JupyterHub API token" in missing.json()["msg"]
    bad = gateway(hub, None, "POST", "/sessions", headers={"Authorization": "token not-a-real-token"}, json={})
    assert bad.status_code == 403
    assert "not valid" in bad.json()["msg"]
    service_token = gateway(hub, None, "GET", "/sessions", headers={"Authorization": f"token {ADMIN_TOKEN}"})
    assert service_token.status_code == 403  # a service's token is no user's identity
    assert len(livy.requests) == before


def test_a_hub_user_named_like_a_cluster_service_account_gets_nothing_from_livy(hub, livy):
    """The hub refuses such names at login; an account that has one anyway (the demo's dummy login here, or one made
    before the name was reserved) must neither start a session as that account nor reach its sessions."""
    made_elsewhere = requests.post(f"{livy.url}/sessions", json={"kind": "spark", "proxyUser": "hdfs"}, timeout=5,
                                   auth=(LIVY_USER, LIVY_PASSWORD)).json()["id"]  # fmt: skip
    before = len(livy.requests)
    for method, path, body in [
        ("POST", "/sessions", {"kind": "pyspark", "proxyUser": "hdfs"}),
        ("GET", "/sessions", None),
        ("GET", f"/sessions/{made_elsewhere}", None),
        ("POST", f"/sessions/{made_elsewhere}/statements", {"code": "1 + 1"}),
    ]:
        r = gateway(hub, "hdfs", method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["msg"].startswith("'hdfs' is the name of a cluster service account"), r.text
    assert len(livy.requests) == before
    assert livy.sessions[made_elsewhere].statements == []


def test_a_notebook_cannot_pick_a_kerberos_identity_or_use_batches(hub, livy):
    before = len(livy.session_posts())
    r = gateway(hub, "alice", "POST", "/sessions", json={"kind": "pyspark", "conf": {"spark.yarn.keytab": "/x"}})
    assert r.status_code == 403 and "spark.yarn.keytab" in r.json()["msg"]
    assert gateway(hub, "alice", "POST", "/batches", json={"file": "x.py"}).status_code == 404
    assert len(livy.session_posts()) == before


def test_sessions_of_kernels_that_died_are_deleted_after_the_idle_timeout(hub, livy):
    """sparkmagic#430: a kernel killed without cleaning up leaves its session on the cluster."""
    creds = hub.settings.livy_credentials_file
    proc, url = start_gateway(hub, livy.url, "--session-idle-timeout=3", f"--credentials-file={creds}")
    try:
        headers = {"Authorization": f"token {hub.token('grace')}"}
        sid = requests.post(f"{url}/sessions", json={"kind": "pyspark"}, headers=headers, timeout=10).json()["id"]
        assert sid in livy.sessions
        wait_for(lambda: sid not in livy.sessions, "the idle session's deletion", 20)
    finally:
        proc.terminate()
        proc.wait()


def test_a_cell_says_clearly_when_livy_is_down(hub, home, tmp_path, monkeypatch):
    dead_livy = f"http://127.0.0.1:{free_port()}"
    proc, url = start_gateway(hub, dead_livy)
    conf_dir = tmp_path / "sparkmagic"
    conf_dir.mkdir()
    (conf_dir / "config.json").write_text(json.dumps(sparkmagic_config(url)))
    kernel = livy_kernel(hub.server_env("alice", home, SPARKMAGIC_CONF_DIR=str(conf_dir)), monkeypatch)
    try:
        started = time.monotonic()
        result = kernel.run("spark.range(3).count()", timeout=120)
        assert time.monotonic() - started < 60
        assert f"Livy at {dead_livy} is unreachable" in result.text, result.text
        assert "tell your hunthub admin" in result.text
    finally:
        kernel.shutdown()
        proc.terminate()
        proc.wait()


def test_a_livy_that_hangs_is_a_timeout_naming_livy(hub):
    import socket

    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    hung_livy = f"http://127.0.0.1:{silent.getsockname()[1]}"
    proc, url = start_gateway(hub, hung_livy, "--timeout=2")
    try:
        headers = {"Authorization": f"token {hub.token('alice')}"}
        started = time.monotonic()
        r = requests.post(f"{url}/sessions", json={"kind": "pyspark"}, headers=headers, timeout=30)
        assert time.monotonic() - started < 10
        assert r.status_code == 504
        assert r.json()["msg"] == f"Livy at {hung_livy} did not answer within 2 s."
    finally:
        proc.terminate()
        proc.wait()
        silent.close()


def test_the_gateway_does_not_outlive_a_crashed_hub(hub, livy):
    from hunthub.processes import alive

    port = free_port()
    parent = subprocess.Popen(  # stands in for a hub that is then killed without cleaning up
        [sys.executable, "-c", "import subprocess, sys, time; "
         f"p = subprocess.Popen([sys.executable, '-m', 'hunthub.hub.livy_gateway', '--livy-url={livy.url}', "
         f"'--port={port}']); print(p.pid, flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "JUPYTERHUB_API_URL": hub.api},
    )  # fmt: skip
    gateway_pid = int(parent.stdout.readline())
    wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok, "the gateway", 30)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(gateway_pid), "the orphaned gateway to exit", 15)

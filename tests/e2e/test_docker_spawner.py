"""Per-analyst containers against a real Docker engine: `hunthub up --spawner docker` with analysts' tasks on the
cluster (HuntHub.analyst_tasks = `cluster`; by default they run in each analyst's own container, see
test_docker_walls) starts Spark's master and two workers as containers and spawns analysts as containers from
hunthub's images.

Two analysts start at once; each runs a PySpark job whose executors run in the worker containers. A cannot reach
B's container nor the hub's database port (while reaching the hub itself); the container runs as non-root with no
capabilities and the configured limits; a file saved in the home survives a stop and a start; asking for another
image is a 400. Container logs are printed when a test fails; everything made is removed (name prefix).
"""

from __future__ import annotations

import json
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from hunthub import docker_cluster
from hunthub.hub.config import docker_gateway
from tests import docker_env
from tests.harness import Stack, fresh_state_dir, stack_env
from tests.hub_client import HubUser
from tests.postgres import postgres_server

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

JOB = "sc.parallelize(range(1000), 4).map(lambda x: x * x).sum()"


@pytest.fixture(scope="module")
def docker_stack():
    docker_env.ensure_dockerd()
    docker_env.ensure_images()
    prefix = f"hunthub-test-{uuid.uuid4().hex[:6]}"
    state = fresh_state_dir()
    with postgres_server() as db_url:
        env = stack_env(
            state, HUNTHUB_SPAWNER="docker", HUNTHUB_DOCKER_PREFIX=prefix, HUNTHUB_DB_URL=db_url,
            HUNTHUB_DEMO="1", HUNTHUB_ANALYST_TASKS="cluster",
        )  # fmt: skip
        stack = Stack(env)
        stack.prefix, stack.db_port = prefix, int(db_url.rsplit(":", 1)[1].split("/")[0])
        try:
            stack.wait_up(timeout=300)
            yield stack
        except Exception:
            print(stack.dump_logs())
            raise
        finally:
            if stack.stop() != 0:
                print(stack.dump_logs())
            docker_env.cleanup(prefix)
            shutil.rmtree(state.parent, ignore_errors=True)


def dump(stack, *users):
    parts = [stack.dump_logs()]
    names = docker_cluster.Names(stack.prefix)
    for name in [names.master, names.worker(1), names.worker(2), *(names.analyst(u) for u in users)]:
        parts.append(f"--- docker logs {name} ---\n{docker_cluster.container_logs(name)}")
    return "\n".join(parts)


def exec_in(container: str, code: str, user: str = "analyst") -> tuple[int, str]:
    result = docker_cluster.client().containers.get(container).exec_run(["python", "-c", code], user=user)
    output = result.output.decode(errors="replace")
    assert result.exit_code == 0, f"in {container}: {output}"
    return result.exit_code, output


def can_connect(container: str, host: str, port: int) -> bool:
    code, out = exec_in(
        container,
        f"import socket\ntry:\n socket.create_connection(({host!r}, {port}), 3).close(); print('open')\n"
        "except OSError as e:\n print('closed', e)",
    )
    return out.strip().startswith("open")


def test_two_analysts_run_spark_on_the_worker_containers_in_isolation(docker_stack):
    stack, names = docker_stack, docker_cluster.Names(docker_stack.prefix)
    a, b = HubUser(stack.url, "ana"), HubUser(stack.url, "ben")
    try:
        # both start at once
        with ThreadPoolExecutor(2) as pool:
            times = list(pool.map(lambda u: u.start_server(), (a, b)))
        print(f"two analysts at once: {times[0]:.1f} s and {times[1]:.1f} s to a usable server")

        # each runs a PySpark job; the executors run in the worker containers
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda u: u.run(JOB), (a, b)))
        for user, result in zip((a, b), results, strict=True):
            assert result["status"] == "ok", (user.name, result)
            assert result["text"].strip().endswith("332833500"), result
        s = stack_settings(stack)
        master = docker_cluster.master_state(s)
        apps = {app["id"]: app["name"] for app in master["activeapps"] + master["completedapps"]}
        assert {"ana", "ben"} <= set(apps.values()), apps
        ran_on = {}
        for i in (1, 2):
            code, out = exec_in(
                names.worker(i), "import json, urllib.request; print(urllib.request.urlopen("
                "'http://127.0.0.1:8081/json/').read().decode())", user="spark",
            )  # fmt: skip
            worker = json.loads(out)
            for e in worker["executors"] + worker["finishedexecutors"]:
                ran_on.setdefault(apps.get(e["appid"]), set()).add(names.worker(i))
        assert ran_on.get("ana") and ran_on.get("ben"), ran_on

        # A cannot reach B, nor the hub's database; A does reach the hub (so the probe itself works)
        client = docker_cluster.client()
        b_net = next(iter(client.containers.get(names.analyst("ben")).attrs["NetworkSettings"]["Networks"].values()))
        hub_host = docker_gateway()
        assert can_connect(names.analyst("ana"), hub_host, s.hub_port)
        assert not can_connect(names.analyst("ana"), b_net["IPAddress"], 8888)
        assert not can_connect(names.analyst("ana"), hub_host, stack.db_port)

        # hardened: non-root, no capabilities, no privilege gain, limits, no Docker socket
        info = client.containers.get(names.analyst("ana")).attrs
        assert info["Config"]["User"] == "analyst"
        assert info["HostConfig"]["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in info["HostConfig"]["SecurityOpt"]
        assert info["HostConfig"]["Memory"] == 4 * 1024**3  # HuntHub.analyst_memory_limit's default
        assert info["HostConfig"]["CpuQuota"] == int(s.analyst_cpu_limit * 100_000)
        assert info["HostConfig"]["PidsLimit"] == 2048
        code, out = exec_in(
            names.analyst("ana"),
            "import os; s = open('/proc/self/status').read(); print(os.getuid(), [l.split()[1] for l in "
            "s.splitlines() if l.startswith('CapEff')][0], os.path.exists('/var/run/docker.sock'))",
        )
        assert out.split() == ["1000", "0000000000000000", "False"], out
    except Exception:
        print(dump(stack, "ana", "ben"))
        raise


def test_home_survives_stop_and_start(docker_stack):
    stack = docker_stack
    c = HubUser(stack.url, "cleo")
    try:
        c.start_server()
        # the bundled notebooks were delivered into the fresh home volume
        listing = {item["name"] for item in c.server("GET", "/contents").json()["content"]}
        assert {"00-start-here.ipynb", "hunts"} <= listing, listing
        r = c.server("PUT", "/contents/findings.txt", json={"type": "file", "format": "text", "content": "beacon"})
        assert r.status_code in (200, 201), r.text
        c.stop_server()
        assert not docker_cluster.client().containers.list(
            filters={"name": docker_cluster.Names(stack.prefix).analyst("cleo")}
        )
        c.start_server()
        assert c.server("GET", "/contents/findings.txt").json()["content"] == "beacon"
    except Exception:
        print(dump(stack, "cleo"))
        raise


def test_analyst_cannot_pick_an_image(docker_stack):
    d = HubUser(docker_stack.url, "dora")
    r = d.hub("POST", "/users/dora/server", json={"image": "hunthub-base:bookworm"})
    assert r.status_code == 400
    assert "not allowed" in r.text


def stack_settings(stack):
    from traitlets.config import Config

    from hunthub.settings import HuntHub

    return HuntHub(
        config=Config(
            HuntHub={
                "state_dir": str(stack.state_dir),
                "spark_master_webui_port": int(stack.env["HUNTHUB_SPARK_MASTER_WEBUI_PORT"]),
                "hub_port": int(stack.env["HUNTHUB_HUB_PORT"]),
            }
        )
    )

"""Walls between analysts on the Spark side with the docker spawner (issue 13), against a real Docker engine: a
`hunthub up --demo --spawner docker` with its defaults, started with secrets in its environment as an admin who
exports them would.

By default each analyst's Spark tasks run in their own container (HuntHub.analyst_tasks = `driver`), so there are
no Spark containers to share: this proves that no Spark container exists, that the first cell's own builder gets the
hub's session, that no secret reaches the container, the kernel or a task, that the driver's ports listen on the
container's loopback only, and that A's tasks cannot list, read or write B's scratch space. Container logs are
printed when a test fails; everything made is removed (name prefix).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid

import pytest

from hunthub import docker_cluster
from tests import docker_env
from tests.e2e.scratch_probe import PROBE
from tests.harness import fresh_state_dir, running_stack, stack_env
from tests.hub_client import HubUser

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

SECRETS = {
    "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
    "HUNTHUB_OAUTH_CLIENT_SECRET": f"oauth-secret-{secrets.token_hex(8)}",
    "AWS_SECRET_ACCESS_KEY": f"admin-own-{secrets.token_hex(8)}",
}

# the analyst's first cell, as countless examples start: their own builder, their own master and name
FIRST_CELL = """
import json, os
from pyspark.sql import SparkSession
spark = SparkSession.builder.appName("x").master("local[*]").getOrCreate()
envs = spark.sparkContext.parallelize(range(2), 2).map(lambda _: json.dumps(dict(os.environ))).collect()
print(json.dumps({"app": spark.sparkContext.appName, "master": spark.sparkContext.master,
                  "tables": sorted(t.name for t in spark.catalog.listTables()), "ui": spark.sparkContext.uiWebUrl,
                  "kernel": dict(os.environ), "workers": [json.loads(e) for e in envs]}))
"""


@pytest.fixture(scope="module")
def hub():
    docker_env.ensure_dockerd()
    docker_env.ensure_images()
    prefix = f"hunthub-test-{uuid.uuid4().hex[:6]}"
    env = stack_env(
        fresh_state_dir(), HUNTHUB_SPAWNER="docker", HUNTHUB_DOCKER_PREFIX=prefix, HUNTHUB_DEMO_DATA_EVENTS="5000",
        **SECRETS,
    )  # fmt: skip
    try:
        with running_stack(env, ["--demo"]) as stack:
            stack.prefix = prefix
            yield stack
    finally:
        docker_env.cleanup(prefix)


def container(stack, user: str):
    return docker_cluster.client().containers.get(docker_cluster.Names(stack.prefix).analyst(user))


def exec_in(stack, user: str, code: str) -> str:
    result = container(stack, user).exec_run(["python", "-c", code], user="analyst")
    output = result.output.decode(errors="replace")
    assert result.exit_code == 0, output
    return output


def dump(stack, *users) -> str:
    names = docker_cluster.Names(stack.prefix)
    logs = [f"--- docker logs {names.analyst(u)} ---\n{docker_cluster.container_logs(names.analyst(u))}" for u in users]
    return "\n".join([stack.dump_logs(), *logs])


@pytest.fixture(scope="module")
def analyst(hub):
    """ana, whose first cell built a session of its own and ran tasks; the kernel stays for the tests to look at."""
    user = HubUser(hub.url, "ana")
    try:
        user.start_server()
        r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
        assert r.status_code == 201, r.text
        out = asyncio.run(user._execute(r.json()["id"], FIRST_CELL, 300))
        assert out["status"] == "ok", out
    except Exception:
        print(dump(hub, "ana"))
        raise
    yield user, json.loads(out["text"].strip().splitlines()[-1]), out["text"]
    user.stop_server()


def test_no_spark_container_is_shared_and_the_first_cells_builder_gets_the_hubs_session(hub, analyst):
    _, seen, text = analyst
    assert seen["app"] == "ana"  # the pinned identity, not "x"
    assert seen["master"].startswith("local[") and seen["master"] != "local[*]"  # the analyst's share, not all
    assert {"auth_events", "process_events"} <= set(seen["tables"]), seen["tables"]
    assert "not applied: master 'local[*]', app name 'x'" in text
    # no master or worker container: every container of this hub is an analyst's own
    ours = docker_cluster.client().containers.list(filters={"label": f"{docker_cluster.LABEL}={hub.prefix}"})
    assert [c.name for c in ours] == [docker_cluster.Names(hub.prefix).analyst("ana")]


def test_no_secret_reaches_the_container_the_kernel_or_a_task(hub, analyst):
    _, seen, _ = analyst

    def leaks(env: dict[str, str]) -> list[str]:
        return [name for name, value in SECRETS.items() if any(value in v for v in env.values())]

    assert leaks(seen["kernel"]) == []
    assert seen["workers"] and all(leaks(w) == [] for w in seen["workers"])
    configured = dict(item.split("=", 1) for item in container(hub, "ana").attrs["Config"]["Env"])
    assert leaks(configured) == []


LISTENERS = """
import json
found = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(":")
        if fields[3] == "0A":
            found.append((address, int(port, 16)))
print(json.dumps(found))
"""


def loopback(address: str) -> bool:
    """/proc/net's hex of 127.0.0.0/8 (Docker's resolver listens on 127.0.0.11), ::1 or ::ffff:127.x."""
    if len(address) == 8:
        return address.endswith("7F")
    return address == "00000000000000000000000001000000" or (
        address.startswith("0000000000000000FFFF0000") and address.endswith("7F")
    )


def test_the_drivers_ports_listen_on_the_containers_loopback_only(hub, analyst):
    _, seen, _ = analyst
    found = json.loads(exec_in(hub, "ana", LISTENERS))
    ui_port = int(seen["ui"].rsplit(":", 1)[1].split("/")[0])
    assert ui_port in {port for _, port in found}, found
    server_port = 8888  # the notebook server, which the hub's proxy reaches on the analyst's network
    wide = [(address, port) for address, port in found if not loopback(address) and port != server_port]
    assert wide == [], f"listening beyond the container's loopback: {wide}"

    # from the host, as the proxy would reach the container: the server answers, the driver's UI does not
    networks = container(hub, "ana").attrs["NetworkSettings"]["Networks"]
    address = next(iter(networks.values()))["IPAddress"]
    with socket.create_connection((address, server_port), timeout=5):
        pass
    with pytest.raises(ConnectionRefusedError), socket.create_connection((address, ui_port), timeout=5):
        pass


def test_an_analysts_tasks_cannot_list_read_or_write_another_analysts_scratch(hub, analyst):
    ben = HubUser(hub.url, "ben")
    try:
        ben.start_server()
        theirs = f"{docker_cluster.SCRATCH}/ben"
        wrote = ben.run(f"open({theirs + '/evidence.txt'!r}, 'w').write('their finding')\nprint('ok')")
        assert wrote["status"] == "ok" and wrote["text"].strip() == "ok", wrote
        user, _, _ = analyst
        r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
        assert r.status_code == 201, r.text
        out = asyncio.run(user._execute(r.json()["id"], PROBE.format(other=theirs), 300))
        assert out["status"] == "ok", out
        seen = json.loads(out["text"].strip().splitlines()[-1])
        assert "allowed" not in seen.values(), seen
        # nor through the host's folder of scratch spaces, which is not in ana's container at all
        host_scratch = hub.state_dir / "scratch" / "ben"
        assert (host_scratch / "evidence.txt").read_text() == "their finding"
        assert not (host_scratch / "planted.txt").exists()
        mounts = [m["Source"] for m in container(hub, "ana").attrs["Mounts"]]
        assert not [m for m in mounts if m.startswith(str(host_scratch.parent)) and not m.endswith("/ana")], mounts
    except Exception:
        print(dump(hub, "ana", "ben"))
        raise
    finally:
        ben.stop_server()

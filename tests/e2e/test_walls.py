"""Walls between analysts, and between analysts and root, on the Spark side (issue 13), on a real
`hunthub up --demo` started as root with secrets in its environment, as an admin who exports them would.

What an analyst's code can reach: no process an analyst's code runs in (their server, kernel and driver, the
Spark daemons, every executor and its Python workers) holds a hub secret; and nothing the analysts or the
daemons run listens beyond loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import secrets
import socket
import urllib.parse
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from hunthub import catalog, settings
from tests.e2e.scratch_probe import PROBE, TRY_EACH
from tests.harness import fresh_state_dir, running_stack, stack_env
from tests.hub_client import HubUser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="analysts' and daemons' own OS accounts need root"),
]

# what an admin might have in root's environment when running `hunthub up`: the hub's own secrets, and one of theirs
SECRETS = {
    "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
    "HUNTHUB_OAUTH_CLIENT_SECRET": f"oauth-secret-{secrets.token_hex(8)}",
    "AWS_SECRET_ACCESS_KEY": f"admin-own-{secrets.token_hex(8)}",
}


@pytest.fixture(scope="module", params=["driver", "cluster"])
def hub(request):
    """A stack whose analysts' tasks run in their own drivers (the embedded default), or on the cluster."""
    env = stack_env(fresh_state_dir(), HUNTHUB_DEMO_DATA_EVENTS="5000", HUNTHUB_ANALYST_TASKS=request.param, **SECRETS)
    with running_stack(env, ["--demo"]) as stack:
        stack.mode = request.param
        yield stack


@pytest.fixture(scope="module")
def analyst(hub):
    """An analyst whose PySpark kernel ran a job: driver, executors and Python workers are all up."""
    user = HubUser(hub.url, "wallie")
    user.start_server()
    r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
    assert r.status_code == 201, r.text
    out = asyncio.run(
        user._execute(
            r.json()["id"],
            "import os, json\n"
            "envs = sc.parallelize(range(2), 2).map(lambda _: json.dumps(dict(os.environ))).collect()\n"
            "print(json.dumps({'uid': os.getuid(), 'kernel': dict(os.environ), 'ui': spark.sparkContext.uiWebUrl,"
            " 'workers': [json.loads(e) for e in envs]}))",
            300,
        )
    )
    assert out["status"] == "ok", out
    # the kernel stays, so its driver and (for the executor idle timeout) its executors are there to look at
    yield user, json.loads(out["text"].strip().splitlines()[-1])
    user.stop_server()


def leaks(env: dict[str, str]) -> list[str]:
    return [name for name, value in SECRETS.items() if any(value in v for v in env.values())]


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def proc_uid(pid: int) -> int:
    return Path(f"/proc/{pid}").stat().st_uid


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_no_secret_reaches_an_analysts_code_the_daemons_or_the_executors(hub, analyst):
    _, seen = analyst
    # what the analyst's own code reads: the kernel's environment and that of the Python workers on the executors
    assert leaks(seen["kernel"]) == []
    assert seen["workers"] and all(leaks(w) == [] for w in seen["workers"])

    # and every process of the machine, read as root: only the hub (which needs them), the proxy it starts, and
    # `hunthub up` and this test (which were given them) may hold them
    hub_pid = json.loads((hub.state_dir / "run" / "jupyterhub.pid").read_text())["pid"]
    allowed = {os.getpid(), hub.proc.pid, hub_pid}
    spark_uid = pwd.getpwnam("hunthub-spark").pw_uid
    holders, looked_at = [], {"analyst": 0, "daemons": 0, "executors": 0}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        pid = int(proc.name)
        try:
            env, uid, line = proc_environ(pid), proc_uid(pid), cmdline(pid)
        except OSError:
            continue  # gone meanwhile
        if uid == seen["uid"]:
            looked_at["analyst"] += 1
        if uid == spark_uid:
            looked_at["executors" if "CoarseGrainedExecutorBackend" in line else "daemons"] += 1
        if leaks(env) and pid not in allowed:
            holders.append(f"{pid} (uid {uid}): {line[:300]}")
    executors = 1 if hub.mode == "cluster" else 0  # in the driver mode the tasks ran in the analyst's driver
    assert looked_at["analyst"] >= 2 and looked_at["daemons"] >= 2 and looked_at["executors"] >= executors, looked_at
    # the proxy is the hub's own child, as root, and holds the hub's environment (JupyterHub starts it so)
    holders = [h for h in holders if "configurable-http-proxy" not in h or "(uid 0)" not in h]
    assert holders == [], "processes holding a hub secret:\n" + "\n".join(holders)


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def listeners(uids: set[int]) -> list[tuple[int, str, int]]:
    """(uid, address in /proc/net's hex, port) of every listening TCP socket of these accounts."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A" and int(fields[7]) in uids:  # 0A: LISTEN
                found.append((int(fields[7]), address, int(port, 16)))
    return found


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent, the kernel only picks the outgoing address
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_nothing_an_analyst_or_the_daemons_run_listens_beyond_loopback(hub, analyst):
    _, seen = analyst
    uids = {seen["uid"], pwd.getpwnam("hunthub-spark").pw_uid}
    found = listeners(uids)
    ui_port = int(seen["ui"].rsplit(":", 1)[1].split("/")[0])
    assert ui_port in {port for _, _, port in found}, "the driver's UI is not among the analyst's listeners"
    wide = [f"uid {uid} port {port} on {address}" for uid, address, port in found if address not in LOOPBACK]
    assert wide == [], "listening beyond loopback:\n" + "\n".join(wide)

    # and, as a browser on the network would try it: the driver's UI does not answer on the host's address
    address = non_loopback_address()
    if address is not None:
        with pytest.raises(ConnectionRefusedError), socket.create_connection((address, ui_port), timeout=5):
            pass
    with socket.create_connection(("127.0.0.1", ui_port), timeout=5):
        pass


def resolved_settings(hub) -> settings.HuntHub:
    """The settings `hunthub up` resolved and started its hub with."""
    return settings.load(environ={settings.RESOLVED_VARIABLE: str(hub.state_dir / "run" / "resolved-settings.json")})


# a new kernel's first cell, as countless examples start: their own builder, their own master and name
FIRST_CELL = """
import json
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[*]").appName("x").getOrCreate()
print(json.dumps({"app": spark.sparkContext.appName, "master": spark.sparkContext.master,
                  "same": spark.sparkContext is sc, "tables": sorted(t.name for t in spark.catalog.listTables())}))
"""


def test_a_new_kernels_first_cell_builder_gets_the_hubs_session(hub, analyst):
    user, _ = analyst
    out = user.run(FIRST_CELL)  # a kernel of its own, whose session nothing had asked for yet
    assert out["status"] == "ok", out
    seen = json.loads(out["text"].strip().splitlines()[-1])
    s = resolved_settings(hub)
    # the analyst's share: task threads in their own driver, or the embedded cluster's master; never all the cores
    master = f"local[{s.analyst_cores}]" if hub.mode == "driver" else s.master_url
    assert (seen["app"], seen["master"], seen["same"]) == (user.name, master, True), seen
    assert {"auth_events", "process_events"} <= set(seen["tables"]), seen["tables"]
    notice = (
        f"hunthub: this kernel's Spark session is hunthub's session (application '{user.name}' on {master}); "
        "not applied: master 'local[*]', app name 'x'\n"
    )
    assert notice in out["text"], out["text"]


# what an analyst's code might try on a shared table's files, from their driver (the kernel) and from a Spark task;
# says for each what happened ("allowed", or the OSError's type), and how Spark's own append to the table ended
TABLE_PROBE = (
    TRY_EACH
    + """
table, part = {table!r}, {part!r}
partition = os.path.dirname(part)
def probe(_):
    seen = try_each({{"create": lambda: open(os.path.join(table, "planted.parquet"), "wb").write(b"x"),
                      "create in partition": lambda: open(os.path.join(partition, "planted.parquet"), "wb").write(b"x"),
                      "overwrite": lambda: open(part, "r+b").write(b"x"),
                      "delete": lambda: os.remove(part),
                      "rename": lambda: os.rename(part, part + ".moved")}})
    return {{"uid": os.getuid(), **seen}}
try:
    spark.range(1).write.mode("append").parquet("file://" + table)
    appended = "allowed"
except Exception as e:
    appended = type(e).__name__
print(json.dumps({{"driver": probe(0), "task": sc.parallelize([0], 1).map(probe).collect()[0], "append": appended,
                  "rows": spark.table("auth_events").count()}}))
"""
)


def tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("hub", ["driver"], indirect=True)
def test_an_analysts_driver_and_tasks_can_read_but_not_change_a_shared_table(hub, analyst):
    s = resolved_settings(hub)
    table = catalog.local_path(catalog.load(s.catalog_path)["auth_events"].location(s.warehouse))
    parts = sorted(table.glob("*/part-*.parquet"))
    assert parts, f"no Parquet files in {table}"
    part = parts[0]
    before, digest = tree(table), hashlib.sha256(part.read_bytes()).hexdigest()
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in table.rglob("*.parquet"))

    user, kernel = analyst
    out = user.run(TABLE_PROBE.format(table=str(table), part=str(part)))
    assert out["status"] == "ok", out
    seen = json.loads(out["text"].strip().splitlines()[-1])
    tries = ("create", "create in partition", "overwrite", "delete", "rename")
    refused = {"uid": kernel["uid"], **dict.fromkeys(tries, "PermissionError")}  # as the analyst, not as root
    assert (seen["driver"], seen["task"]) == (refused, refused), seen
    assert seen["append"] != "allowed", seen
    assert seen["rows"] == rows  # reading it works
    # and the table is as it was: the same files, the same bytes
    assert tree(table) == before
    assert hashlib.sha256(part.read_bytes()).hexdigest() == digest


def test_a_drivers_ui_answers_only_through_its_analysts_own_server(hub, analyst):
    user, seen = analyst
    port = urllib.parse.urlsplit(seen["ui"]).port
    path = f"/user/{user.name}/sparkui/{port}/jobs/"
    # any local account reaches loopback: the driver itself shows nothing without its key (kernels/spark_ui.py)
    direct = requests.get(f"http://127.0.0.1:{port}/jobs/", timeout=30)
    assert direct.status_code == 403 and "Spark Jobs" not in direct.text
    # the analyst, through their own server
    own = user.api.get(f"{hub.url}{path}", timeout=60)
    assert own.status_code == 200 and "Spark Jobs" in own.text, own.text[:300]
    assert f'href="/user/{user.name}/sparkui/{port}/' in own.text  # the UI's links stay on that route
    # another analyst of the same hub gets nothing from it
    other = HubUser(hub.url, "peekie")
    theirs = other.api.get(f"{hub.url}{path}", timeout=60, allow_redirects=False)
    assert theirs.status_code == 403 and "Spark Jobs" not in theirs.text
    # the route serves this server's own drivers only, not whatever else listens on loopback (the master's UI)
    master_ui = resolved_settings(hub).spark_master_webui_port
    elsewhere = user.api.get(f"{hub.url}/user/{user.name}/sparkui/{master_ui}/", timeout=60)
    assert elsewhere.status_code == 404


@pytest.mark.parametrize("hub", ["driver"], indirect=True)
def test_an_analysts_tasks_cannot_list_read_or_write_another_analysts_scratch(hub, analyst):
    other = HubUser(hub.url, "walled")
    other.start_server()
    try:
        theirs = hub.state_dir / "warehouse" / "users" / "walled"
        wrote = other.run(f"open({str(theirs / 'evidence.txt')!r}, 'w').write('their finding')\nprint('ok')")
        assert wrote["status"] == "ok" and wrote["text"].strip() == "ok", wrote
        user, _ = analyst
        r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
        out = asyncio.run(user._execute(r.json()["id"], PROBE.format(other=str(theirs)), 300))
        assert out["status"] == "ok", out
        seen = json.loads(out["text"].strip().splitlines()[-1])
        assert seen == dict.fromkeys(("list", "read", "write"), "PermissionError")
        assert not (theirs / "planted.txt").exists()
    finally:
        other.stop_server()


def test_an_analysts_server_and_all_it_started_run_within_their_caps(hub, analyst):
    from hunthub import analyst_limits

    reason = analyst_limits.unavailable()
    if reason:
        pytest.skip(f"this host cannot cap analysts: {reason}")
    _, seen = analyst
    account = pwd.getpwuid(seen["uid"]).pw_name
    caps = analyst_limits.limits_of(account)
    assert caps is not None, f"no cgroup for {account}"
    assert caps.memory == 4 * 1024**3 and caps.pids == 2048, caps  # the defaults (HuntHub.analyst_*_limit)
    assert caps.cpu and caps.cpu >= 1, caps
    assert caps.memory_used > 100 * 1024**2, caps  # the server, the kernel and its driver JVM are counted there
    # every process of the analyst's account (server, kernel, driver JVM, Python workers) is in that group
    outside = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or proc_uid(int(proc.name)) != seen["uid"]:
                continue
            groups = (proc / "cgroup").read_text()
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, not yet reaped: it holds nothing, and the kernel no longer says its group
        except OSError:
            continue
        if f"/{analyst_limits.PARENT}/{account}" not in groups:
            outside.append(f"{proc.name}: {cmdline(int(proc.name))[:200]}")
    assert outside == [], "processes of the analyst outside their caps:\n" + "\n".join(outside)

"""hunthub.status against a real standalone cluster, real PySpark kernels and their real driver and executor JVMs:
who holds which application, cores, executor memory and PSS, from the master's JSON and /proc."""

from __future__ import annotations

import time

import pytest

from hunthub import status
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration

# a job that holds its executor for a while, started on a thread so the cell returns and we can look meanwhile
HOLD = (
    "import threading, time\n"
    "job = threading.Thread(target=lambda: sc.parallelize(range(2), 2).map(lambda x: time.sleep(75) or x).count())\n"
    "job.start()\n"
)


def wait_for_cores(spark_cluster, name: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = spark_cluster.master_state()
        if any(a["name"] == name and a["cores"] > 0 for a in state["activeapps"]):
            return state
        time.sleep(1)
    raise AssertionError(f"{name} never held cores: {spark_cluster.master_state()['activeapps']}")


def test_an_analysts_kernel_driver_and_executors_are_theirs(spark_cluster):
    analyst = Kernel(spark_cluster.kernel_env(user="statusA"))
    outsider = Kernel(spark_cluster.kernel_env(user="outsider"))
    try:
        assert analyst.run("spark.range(100).count()").status == "ok"
        assert outsider.run("spark.range(10).count()").status == "ok"
        assert analyst.run(HOLD).status == "ok"
        master = wait_for_cores(spark_cluster, "statusA")
        executors, silent = status.worker_executors(master)
        assert not silent
        procs = status.scan_processes()

        # the memory of everything statusA runs: the kernel, its driver JVM, and its executor on the worker
        owned = status.attribute(procs, {a["id"]: a["name"] for a in master["activeapps"]})
        mine = {p.kind for p in owned["statusA"]}
        assert {"kernel", "driver", "executor"} <= mine, [(p.kind, p.argv[:4]) for p in owned["statusA"]]
        assert analyst.km.provisioner.process.pid in {p.pid for p in owned["statusA"]}
        assert not {p.pid for p in owned["statusA"]} & {p.pid for p in owned["outsider"]}
        with_executors = status.analyst_memory("statusA", master, procs)
        without = status.analyst_memory("statusA", None, procs)
        assert with_executors > without > 100 * 2**20  # a driver JVM alone is well above 100 MiB

        # the view: statusA's application with its cores and executor memory; outsider's apart, as no analyst's
        users = [{"name": "statusA", "admin": False, "servers": {}}]
        snap = status.build(users, master, executors, procs, master_url=spark_cluster.master_url)
        [row] = snap["analysts"]
        [app] = row["apps"]
        assert app["name"] == "statusA" and app["state"] == "RUNNING"
        assert row["cores"] == app["cores"] == 1  # analyst_cores of the fixture
        assert row["executor_memory_mb"] == app["executor_memory_mb"] == 512  # executor_memory of the fixture
        assert row["pss_bytes"] == with_executors
        assert row["pss_by_kind"]["executor"] > 0 and row["pss_by_kind"]["driver"] > 0
        assert row["servers"][0]["state"] == "stopped"  # no hub here: it holds without a server
        assert [a["name"] for a in snap["other_apps"]] == ["outsider"]
        assert snap["other_apps"][0]["holder"] == "not an analyst of this hub"
        c = snap["cluster"]
        assert c["cores_total"] == 2 and c["cores_used"] >= 1 and c["cores_free"] == c["cores_total"] - c["cores_used"]
        text = status.table(snap)
        assert "statusA" in text and "outsider" in text and f"{c['cores_free']} free" in text
    finally:
        analyst.shutdown()
        outsider.shutdown()

"""An idle session gives its executors back at once when another analyst waits for cores (kernels/core_yield.py).

Two real PySpark kernels on the real standalone cluster (2 worker cores). Alice's session may take both cores and
keeps an idle executor for 15 minutes by its timeouts; bob's query then waits for cores. With her session idle for
longer than the yield timeout, her executor must go and bob's query answer long before her timeouts would have let
it. With data cached in her session, she keeps her executor and bob keeps waiting. Checked on the master's JSON API.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time

import pytest

from hunthub.hub.config import kernel_environment
from hunthub.settings import HuntHub
from tests.integration.kernel_client import Kernel
from tests.integration.waiting import app, wait_for

pytestmark = pytest.mark.integration

YIELD_AFTER = 3  # seconds of idleness before yielding; hunthub's default is 10
LONG = 900  # alice's executor and shuffle idle timeouts: only yielding can free her cores within the test


def kernel_for(spark_cluster, tmp_path, user: str, cores: int) -> Kernel:
    config = copy.deepcopy(spark_cluster.settings.config)
    config.HuntHub.executor_idle_timeout = LONG
    config.HuntHub.shuffle_idle_timeout = LONG
    config.HuntHub.cached_executor_idle_timeout = LONG
    config.HuntHub.executor_yield_timeout = YIELD_AFTER
    config.HuntHub.analyst_cores = cores
    s = HuntHub(config=config)
    env = {
        **os.environ,
        **kernel_environment(s),
        "JUPYTERHUB_USER": user,
        "HUNTHUB_KERNEL_WARM_DRIVER": "0",
        "HUNTHUB_KERNEL_DRIVER_LOG_DIR": str(tmp_path / user / "logs"),
    }
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    assert conf["spark.cores.max"] == str(cores)
    return Kernel(env)


@pytest.fixture
def alice_and_bob(spark_cluster, tmp_path):
    wait_for(lambda: spark_cluster.master_state()["coresused"] == 0, "a cluster with every core free")
    total = spark_cluster.settings.worker_cores
    alice = kernel_for(spark_cluster, tmp_path, "yield-alice", cores=total)
    bob = kernel_for(spark_cluster, tmp_path, "yield-bob", cores=1)
    try:
        yield alice, bob, total
    finally:
        for k in (alice, bob):
            k.shutdown()


def run_in_background(kernel: Kernel, code: str) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def go():
        started = time.monotonic()
        out["result"] = kernel.run(code, timeout=600)
        out["seconds"] = time.monotonic() - started

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, out


def test_an_idle_session_gives_its_cores_to_an_analyst_who_waits(spark_cluster, alice_and_bob):
    alice, bob, total = alice_and_bob
    first = alice.run("spark.sql('select count(*) from auth_events').first()[0]")
    assert first.status == "ok", first.error
    assert app(spark_cluster, "yield-alice")["cores"] == total  # she holds the whole cluster

    assert bob.run("1 + 1").status == "ok"  # his kernel is up; his session starts when a cell needs it
    t, out = run_in_background(bob, "spark.sql('select count(*) from auth_events').first()[0]")
    t.join(600)
    assert out["result"].status == "ok", out["result"].error
    # without yielding, bob would wait for alice's 900 s idle timeouts
    assert out["seconds"] < 180, f"bob waited {out['seconds']:.0f} s for cores"
    assert out["result"].text.strip().splitlines()[-1] == first.text.strip().splitlines()[-1]
    assert app(spark_cluster, "yield-alice")["cores"] == 0
    assert app(spark_cluster, "yield-alice")["state"] == "RUNNING"  # her session lives on

    # and she gets an executor again for her next query once bob is done (his session is the only one that could
    # give cores back to her: the master shows no application waiting for its *first* executor, see core_yield)
    assert bob.run("spark.stop()").status == "ok"
    again = alice.run("spark.range(100).count()")
    assert again.status == "ok", again.error
    assert again.text.strip().splitlines()[-1] == "100"


def test_a_session_with_cached_data_keeps_its_executor(spark_cluster, alice_and_bob):
    alice, bob, total = alice_and_bob
    cached = alice.run("hot = spark.table('auth_events').cache()\nhot.count()")
    assert cached.status == "ok", cached.error
    assert app(spark_cluster, "yield-alice")["cores"] == total

    t, out = run_in_background(bob, "spark.range(10).count()")
    wait_for(lambda: (a := app(spark_cluster, "yield-bob")) and a["state"] == "WAITING", "bob's application waiting")
    time.sleep(YIELD_AFTER + 15)  # well past the yield timeout and several looks at the master
    assert app(spark_cluster, "yield-alice")["cores"] == total, "alice gave back an executor holding cached data"
    assert "result" not in out  # bob is still waiting

    assert alice.run("hot.unpersist(blocking=True); None").status == "ok"  # nothing cached any more: she yields
    t.join(600)
    assert out["result"].status == "ok", out["result"].error
    assert out["result"].text.strip().splitlines()[-1] == "10"

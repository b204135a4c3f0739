"""Executors follow work: a real PySpark kernel on the real standalone cluster holds no cores while idle, gets an
executor back for its next query, and never holds more than the analyst's share. Checked where an admin would look:
the master's JSON API."""

from __future__ import annotations

import copy
import os
import threading
import time

import pytest

from hunthub.hub.config import kernel_environment
from hunthub.settings import HuntHub
from tests.integration.kernel_client import Kernel
from tests.integration.waiting import app, wait_for

pytestmark = pytest.mark.integration

# seconds; hunthub's defaults are 30 (executor_idle_timeout) and 60 (shuffle_idle_timeout). An idle executor holding
# shuffle files of a past query (any aggregation) stays until the shuffle timeout unless the session lets go of that
# shuffle first; with a shuffle timeout far beyond the wait below, only that can give the cores back in time.
IDLE_TIMEOUT, SHUFFLE_TIMEOUT = 10, 900


def cores_of(spark_cluster, name: str) -> int | None:
    found = app(spark_cluster, name)
    return None if found is None else found["cores"]


@pytest.fixture
def kernel(spark_cluster, tmp_path):
    """A PySpark kernel with the hub's environment, the executor idle timeout shortened through the settings."""
    config = copy.deepcopy(spark_cluster.settings.config)
    config.HuntHub.executor_idle_timeout = IDLE_TIMEOUT
    config.HuntHub.shuffle_idle_timeout = SHUFFLE_TIMEOUT
    s = HuntHub(config=config)
    env = {
        **os.environ,
        **kernel_environment(s),
        "JUPYTERHUB_USER": "dynalloc",
        "HUNTHUB_KERNEL_WARM_DRIVER": "0",
        "HUNTHUB_KERNEL_DRIVER_LOG_DIR": str(tmp_path / "logs"),
    }
    k = Kernel(env)
    yield k
    k.shutdown()


def test_an_idle_kernel_holds_no_cores_and_gets_an_executor_back_within_its_share(spark_cluster, kernel, auth_events):
    share = spark_cluster.settings.analyst_cores
    assert share < spark_cluster.settings.worker_cores  # else the cap could not show

    first = kernel.run("spark.sql('select count(*) from auth_events').first()[0]")
    assert first.status == "ok", first.error
    assert first.text.strip().splitlines()[-1] == str(auth_events.num_rows)

    # idle past the executor timeout; the query's shuffle is forgotten (Python's and the driver's GC)
    wait_for(lambda: cores_of(spark_cluster, "dynalloc") == 0, "the idle kernel's application holds 0 cores")
    assert app(spark_cluster, "dynalloc")["state"] == "RUNNING"  # the session lives on, holding nothing
    assert kernel.run("sc.applicationId").status == "ok"

    # a job with many more partitions than the analyst's share: sampled from the master while it runs
    seen: list[int] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            cores = cores_of(spark_cluster, "dynalloc")
            if cores is not None:
                seen.append(cores)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        job = kernel.run(
            "import time\n"
            "sc.parallelize(range(24), 24).map(lambda x: time.sleep(0.5) or x).sum(), "
            "spark.sql('select count(*) from auth_events').first()[0]"
        )
    finally:
        done.set()
        sampler.join()
    assert job.status == "ok", job.error
    assert job.text.strip().splitlines()[-1] == f"({sum(range(24))}, {auth_events.num_rows})"
    assert max(seen) >= 1, f"the application never got an executor back: cores seen {seen}"
    assert max(seen) <= share, f"the application held more than the analyst's {share} core(s): {seen}"

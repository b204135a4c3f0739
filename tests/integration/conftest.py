"""A real Spark standalone cluster (master + worker from the pyspark wheel) for the integration tier."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from traitlets.config import Config

from hunthub import catalog, cluster
from hunthub.data import demo
from hunthub.processes import Supervisor
from hunthub.settings import HuntHub
from tests.harness import free_ports, fresh_state_dir


class Cluster:
    def __init__(self, settings: HuntHub, supervisor: Supervisor):
        self.settings = settings
        self.supervisor = supervisor

    @property
    def master_url(self) -> str:
        return self.settings.master_url

    def master_state(self) -> dict:
        return cluster.master_state(self.settings.spark_master_webui_port)

    def worker_state(self) -> dict:
        import urllib.request

        url = f"http://127.0.0.1:{self.settings.spark_worker_webui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)

    def kernel_env(self, user: str = "analyst1", **extra: str) -> dict[str, str]:
        """What the hub's spawner would give an analyst's server."""
        from hunthub.hub.config import kernel_environment

        env = {**os.environ, **kernel_environment(self.settings), "JUPYTERHUB_USER": user}
        env["HUNTHUB_KERNEL_DRIVER_LOG_DIR"] = str(self.settings.state / "driver-logs")
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def spark_cluster():
    state = fresh_state_dir()
    master, master_ui, worker_ui = free_ports(3)
    s = HuntHub(
        config=Config(
            HuntHub={
                "state_dir": str(state),
                "spark_master_port": master,
                "spark_master_webui_port": master_ui,
                "spark_worker_webui_port": worker_ui,
                "worker_cores": 2,
                "worker_memory_mb": 2048,
                "analyst_cores": 1,
                "executor_memory": "512m",
                # these tests are about sharing the cluster's executors; the embedded default ("driver") is
                # what the end-to-end tests run
                "analyst_tasks": "cluster",
            }
        )
    )
    state.mkdir(parents=True)
    sup = Supervisor(s.run_dir)
    try:
        cluster.start(sup, s)
        warehouse = state / "warehouse"
        warehouse.mkdir()
        warehouse.chmod(0o755)
        demo.ensure(warehouse, Path(s.catalog_path), 5000)
        yield Cluster(s, sup)
    except Exception:
        for svc in sup.services:
            print(f"--- {svc.name} ---\n{svc.log_tail(60)}")
        raise
    finally:
        sup.stop_all()
        shutil.rmtree(state.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def auth_events(spark_cluster):
    """The demo table as the warehouse holds it, read with pyarrow: the independent answer key for kernels."""
    warehouse = catalog.local_path(spark_cluster.settings.warehouse)
    return ds.dataset(warehouse / "auth_events", format="parquet", partitioning="hive").to_table()


# --- what the ingest tests share ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(spark_cluster, request) -> Path:
    """A folder for the module's raw files where the executors' account can read them (pytest's tmp dirs are
    0700)."""
    d = spark_cluster.settings.state / f"raw-{request.module.__name__.rsplit('.', 1)[-1]}"
    d.mkdir(mode=0o755, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def spark(spark_cluster):
    """The ingest session the CLI builds, on the test cluster."""
    from hunthub.ingest import session

    s = session.start(spark_cluster.settings)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def target(spark_cluster):
    """target(table): where a test's ingest writes, as the CLI would."""
    from hunthub.ingest import session
    from hunthub.ingest.write import Target

    settings = spark_cluster.settings

    def make(table: str) -> Target:
        return Target(table, settings.warehouse, settings.catalog_path, session.executor_writers(settings))

    return make

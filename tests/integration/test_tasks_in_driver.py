"""The embedded default (`HuntHub.analyst_tasks = "driver"`): an analyst's tasks run in their own driver, as them.

A real PySpark kernel given what the hub gives an analyst's server on the embedded default, beside the real
embedded cluster: the query answers, the tasks (and their Python workers) run under the kernel's own account, their
shuffle files go to the analyst's own folder, `%spark` says so, and the cluster holds nothing for them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from hunthub.hub.config import kernel_environment
from hunthub.settings import HuntHub
from tests.integration.kernel_client import Kernel

# Looks up an endpoint every driver has on the driver at 127.0.0.1:<port>, from a Spark application of its own,
# which lacks that driver's secret (spark.authenticate; Spark makes one per application for local masters).
RPC_PROBE = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1").getOrCreate())
rpc = spark.sparkContext._jvm.org.apache.spark.SparkEnv.get().rpcEnv()
try:
    rpc.setupEndpointRefByURI(f"spark://HeartbeatReceiver@127.0.0.1:{sys.argv[1]}")
    print("connected")
except Exception:
    print("refused")
"""


def test_a_query_runs_in_the_analysts_own_driver_and_holds_nothing_on_the_cluster(spark_cluster, auth_events, tmp_path):
    config = copy.deepcopy(spark_cluster.settings.config)
    config.HuntHub.analyst_tasks = "driver"
    s = HuntHub(config=config)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **spark_cluster.kernel_env(user="inhouse"),
        **kernel_environment(s),
        "JUPYTERHUB_USER": "inhouse",
        "HOME": str(home),
        "HUNTHUB_KERNEL_WARM_DRIVER": "0",
    }
    k = Kernel(env)
    try:
        out = k.run(
            "import os, json\n"
            "n = spark.sql('select count(*) from auth_events').first()[0]\n"
            "shuffled = spark.table('auth_events').groupBy('user').count().count()\n"
            "workers = sc.parallelize(range(2), 2).map(lambda _: (os.getuid(), os.getppid())).collect()\n"
            "print(json.dumps({'n': n, 'master': sc.master, 'me': os.getuid(), 'workers': workers,"
            " 'local_dir': sc.getConf().get('spark.local.dir'), 'port': sc.getConf().get('spark.driver.port')}))"
        )
        assert out.status == "ok", out.error
        seen = json.loads(out.text.strip().splitlines()[-1])
        assert seen["n"] == auth_events.num_rows
        assert seen["master"] == f"local[{s.analyst_cores}]"
        assert {uid for uid, _ in seen["workers"]} == {seen["me"]}  # the tasks' Python workers: the analyst's own
        assert seen["local_dir"] == str(home / ".hunthub" / "spark-local")
        assert list((home / ".hunthub" / "spark-local").glob("blockmgr-*")), "no shuffle files in the analyst's folder"

        status = k.run("%spark")
        assert "Tasks run in this session's own driver, as you, on 1 core(s)" in status.text, status.text
        # the embedded cluster never saw this application: it holds none of the cluster's cores
        apps = spark_cluster.master_state()["activeapps"]
        assert "inhouse" not in [a["name"] for a in apps]

        # another local Spark application (as another analyst's code would be) cannot talk to this driver
        probe = subprocess.run(
            [sys.executable, "-c", RPC_PROBE, seen["port"]], capture_output=True, text=True, timeout=180,
            env={k: env[k] for k in ("SPARK_HOME", "JAVA_HOME", "PATH") if k in env},
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr[-2000:]
        assert probe.stdout.strip().splitlines()[-1] == "refused", probe.stdout
    finally:
        k.shutdown()

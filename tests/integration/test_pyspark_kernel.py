"""The PySpark (hunthub) kernel against a real standalone cluster, through jupyter_client."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request

import pyarrow.dataset as ds
import pytest

from hunthub import catalog
from hunthub.kernels import spark_ui
from hunthub.processes import alive, descendants_of
from tests.harness import free_port
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration


@pytest.fixture
def kernel(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst1", JUPYTERHUB_SERVICE_PREFIX="/user/analyst1/"))
    yield k
    k.shutdown()


def test_cell_counts_parquet_table_from_catalog(kernel, spark_cluster):
    warehouse = catalog.local_path(spark_cluster.settings.warehouse)
    expected = ds.dataset(warehouse / "auth_events", format="parquet", partitioning="hive").count_rows()

    result = kernel.run("spark.sql('select count(*) as n from auth_events').first().n")

    assert result.status == "ok", result.error
    assert result.text.strip().endswith(str(expected))
    # the first Spark cell also says where the session runs, with a link to the Spark UI through the hub
    assert "application 'analyst1'" in result.text
    assert 'class="hunthub-spark-ui" href="/user/analyst1/sparkui/' in result.html


def test_master_shows_application_with_executors_on_worker(kernel, spark_cluster):
    result = kernel.run("sc.parallelize(range(10), 2).map(lambda x: x * x).sum()")
    assert result.status == "ok", result.error
    assert result.text.strip().endswith("285")  # computed by Python workers on the executors

    apps = [a for a in spark_cluster.master_state()["activeapps"] if a["name"] == "analyst1"]
    assert len(apps) == 1, spark_cluster.master_state()["activeapps"]
    assert apps[0]["cores"] == 1  # spark.cores.max per analyst, so others are not starved
    executors = [e for e in spark_cluster.worker_state()["executors"] if e["appid"] == apps[0]["id"]]
    assert executors, spark_cluster.worker_state()


def test_spark_ui_answers_only_requests_signed_with_the_drivers_key(kernel):
    result = kernel.run("spark.range(3).count()")
    assert result.status == "ok", result.error
    port = int(re.search(r"/user/analyst1/sparkui/(\d+)/jobs/", result.html).group(1))
    url = f"http://127.0.0.1:{port}/jobs/"
    # every local account reaches loopback: without a token signed with the driver's key the UI shows nothing
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)  # noqa: S310
    assert refused.value.code == 403
    forged = urllib.request.Request(url, headers={"Authorization": spark_ui.bearer(spark_ui.new_key())})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)  # noqa: S310
    assert refused.value.code == 403
    # the analyst's own server adds the token (kernels/spark_ui.py), with the key from the kernel's note to it
    signed = urllib.request.Request(url, headers={"Authorization": spark_ui.bearer(kernel.ui_key())})
    with urllib.request.urlopen(signed, timeout=10) as r:  # noqa: S310
        page = r.read().decode()
    assert "Spark Jobs" in page
    # links in the page point back through the analyst's server, not at the driver's own address
    assert f'href="/user/analyst1/sparkui/{port}/' in page


def test_unreachable_cluster_gives_clear_error_within_seconds(spark_cluster):
    closed = free_port()
    k = Kernel(spark_cluster.kernel_env(HUNTHUB_KERNEL_SPARK_MASTER=f"spark://127.0.0.1:{closed}"))
    try:
        started = time.monotonic()
        result = k.run("spark.range(10).count()", timeout=60)
        elapsed = time.monotonic() - started
        assert result.status == "error"
        message = "\n".join(result.error["traceback"])
        assert f"cannot reach the Spark master at spark://127.0.0.1:{closed}" in message
        assert "hunthub doctor" in message
        assert elapsed < 15, elapsed
        # the kernel stays usable for plain Python
        assert k.run("21 * 2").text.strip() == "42"
    finally:
        k.shutdown()


def test_interrupt_cancels_the_running_spark_job(kernel, tmp_path):
    assert kernel.run("spark.range(1).count()").status == "ok"
    # the analyst presses Interrupt once the job runs (on a loaded host, a fixed delay could land while the cell is
    # still handing the job to Spark): a thread of the cell says when the job is running
    running = tmp_path / "job-running"

    def interrupt_once_running():
        deadline = time.monotonic() + 90
        while not running.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        kernel.km.interrupt_kernel()

    interrupter = threading.Thread(target=interrupt_once_running, daemon=True)
    interrupter.start()
    started = time.monotonic()
    result = kernel.run(
        "import pathlib, threading, time\n"
        "def _say_when_running():\n"
        "    while not sc.statusTracker().getActiveStageIds():\n"
        "        time.sleep(0.2)\n"
        f"    pathlib.Path({str(running)!r}).touch()\n"
        "threading.Thread(target=_say_when_running, daemon=True).start()\n"
        "sc.parallelize(range(2), 2).map(lambda x: time.sleep(120) or x).count()"
    )
    interrupter.join(5)
    assert result.status == "error"
    assert result.error["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 60
    # cancellation is asynchronous in Spark: give it a few seconds, not the two minutes the tasks would take
    after = kernel.run(
        "import time\nfor _ in range(40):\n    jobs = sc.statusTracker().getActiveJobsIds()\n"
        "    if not jobs: break\n    time.sleep(0.5)\njobs"
    )
    assert after.text.strip() == "[]", after.text
    assert kernel.run("spark.range(5).count()").text.strip() == "5"


def test_kernel_shutdown_leaves_no_jvm_and_ends_the_application(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst2"))
    assert k.run("spark.range(2).count()").status == "ok"
    kernel_pid = k.km.provisioner.process.pid
    family = descendants_of(kernel_pid)
    assert family, "the driver JVM should run under the kernel"
    k.shutdown()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.5)
    assert not [p for p in family if alive(p)]
    active = [a["name"] for a in spark_cluster.master_state()["activeapps"]]
    assert "analyst2" not in active


def test_pysparks_own_session_calls_return_the_kernels_cluster_session(spark_cluster):
    """The usual first cell, `SparkSession.builder...getOrCreate()`, run while the kernel's session is still starting,
    gets that session on the cluster, under the analyst's name, with the catalog's tables: not a local one."""
    k = Kernel(spark_cluster.kernel_env(user="analyst5"))
    try:
        first = k.run(
            "from pyspark import SparkConf, SparkContext\n"
            "from pyspark.sql import SparkSession\n"
            "s = SparkSession.builder.appName('x').master('local[*]').getOrCreate()\n"
            "print(s.sparkContext.master, s.sparkContext.appName, sorted(t.name for t in s.catalog.listTables()))"
        )
        assert first.status == "ok", first.error
        assert f"{spark_cluster.master_url} analyst5 [" in first.text
        assert "'auth_events'" in first.text
        notice = (
            f"hunthub: this kernel's Spark session is hunthub's session (application 'analyst5' on "
            f"{spark_cluster.master_url}); not applied: master 'local[*]', app name 'x'\n"
        )
        assert notice in first.text
        assert first.text.count("not applied") == 1

        again = k.run("print(SparkSession.builder.appName('x').master('local[*]').getOrCreate() is s, s is spark)")
        assert again.text.strip() == "True True"  # said once: the same call again says nothing

        settings = k.run(
            "t = SparkSession.builder.config('spark.sql.shuffle.partitions', '7')"
            ".config('spark.executor.memory', '4g').enableHiveSupport().getOrCreate()\n"
            "print(t is spark, spark.conf.get('spark.sql.shuffle.partitions'),"
            " sc.getConf().get('spark.executor.memory') != '4g', SparkContext.getOrCreate() is spark.sparkContext,"
            " SparkSession.getActiveSession() is spark, SparkSession.active() is spark)"
        )
        assert settings.status == "ok", settings.error
        assert settings.text.strip().endswith("True 7 True True True True"), settings.text
        # the runtime SQL setting was applied; the executors' and the static one were not
        assert "not applied: spark.executor.memory=4g, spark.sql.catalogImplementation=hive\n" in settings.text

        conf = k.run("SparkContext.getOrCreate(SparkConf().setAppName('y')) is sc")
        assert conf.text.strip().endswith("True")
        assert "not applied: app name 'y'\n" in conf.text  # only what differs from the session's own settings

        second = k.run("SparkContext(conf=SparkConf().setAppName('z'))")
        assert second.status == "error"
        assert "use `sc`" in "\n".join(second.error["traceback"])

        apps = [a["name"] for a in spark_cluster.master_state()["activeapps"]]
        assert apps.count("analyst5") == 1, apps
        assert not {"x", "y", "z"} & set(apps)

        # after spark.stop(), a kernel does not make a new (local) session: it says to restart
        stopped = k.run("spark.stop()\nSparkSession.builder.getOrCreate()")
        assert stopped.status == "error"
        assert "Restart the kernel" in "\n".join(stopped.error["traceback"])
        assert k.run("print(SparkContext._active_spark_context)").text.strip() == "None"
    finally:
        k.shutdown()


def test_pysparks_own_session_calls_give_the_clear_error_when_spark_cannot_start(spark_cluster):
    closed = free_port()
    k = Kernel(spark_cluster.kernel_env(user="analyst6", HUNTHUB_KERNEL_SPARK_MASTER=f"spark://127.0.0.1:{closed}"))
    try:
        imports = "from pyspark import SparkContext\nfrom pyspark.sql import SparkSession\n"
        for call in (
            "SparkSession.builder.appName('x').getOrCreate()",
            "SparkContext.getOrCreate()",
            "SparkContext()",
            "SparkSession.getActiveSession()",
        ):
            result = k.run(imports + call, timeout=60)
            assert result.status == "error", call
            assert result.error["ename"] == "SparkUnavailableError", call
            assert f"cannot reach the Spark master at spark://127.0.0.1:{closed}" in "\n".join(
                result.error["traceback"]
            )
        # and no session of its own was made instead
        assert k.run(imports + "print(SparkContext._active_spark_context)").text.strip() == "None"
    finally:
        k.shutdown()

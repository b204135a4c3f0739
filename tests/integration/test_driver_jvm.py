"""Analysts' driver JVMs: the host's class-data-sharing archive is dumped once, readable by all, and a kernel's
driver really maps it and runs with the small-driver options; the embedded worker's executors (another account when
run as root) map it too."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hunthub import driver_jvm
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration


@pytest.fixture
def host_cache():
    # pytest's own tmp dirs are 0700 under root: the executors' account could not reach an archive in them
    base = Path(tempfile.mkdtemp(prefix="hunthub-jvm-cache-"))
    base.chmod(0o755)
    yield base / "jvm"
    shutil.rmtree(base, ignore_errors=True)


def executor_pids(app_id: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in argv and app_id.encode() in argv:
            found.append(int(proc.name))
    return found


def test_a_kernels_driver_runs_small_and_maps_the_hosts_class_archive(spark_cluster, host_cache, auth_events):
    cache = host_cache
    archive = driver_jvm.finish_dump(driver_jvm.start_dump(cache), say=print)
    assert archive == driver_jvm.archive_path(cache) and archive.is_file()
    assert archive.stat().st_mode & 0o777 == 0o644  # every analyst's account reads it; only the hub's writes it
    assert cache.stat().st_mode & 0o777 == 0o755
    assert driver_jvm.start_dump(cache) is None  # once per host

    env = spark_cluster.kernel_env(user="cdsuser", HUNTHUB_KERNEL_WARM_DRIVER="0")
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    conf["spark.driver.extraJavaOptions"] = driver_jvm.java_options(cache)
    conf["spark.executor.extraJavaOptions"] = driver_jvm.executor_java_options(cache)
    env["HUNTHUB_KERNEL_SPARK_CONF"] = json.dumps(conf)
    kernel = Kernel(env)
    try:
        result = kernel.run(
            "spark.sql('select count(*) from auth_events').first()[0], sc._gateway.proc.pid, sc.applicationId"
        )
        assert result.status == "ok", result.error
        count, pid, app_id = eval(result.text.strip().splitlines()[-1])  # noqa: S307 - our own kernel's repr
        assert count == auth_events.num_rows
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        for option in driver_jvm.DRIVER_OPTIONS:
            assert option.encode() in cmdline
        assert str(archive) in Path(f"/proc/{pid}/maps").read_text(), "the driver JVM did not map the archive"
        # the executor that ran the query is still there (idle timeout) and started from the same archive
        executors = executor_pids(app_id)
        assert executors, "no executor of the kernel's application on this host"
        for executor in executors:
            assert str(archive) in Path(f"/proc/{executor}/maps").read_text(), "an executor did not map the archive"
            if os.geteuid() == 0:
                assert Path(f"/proc/{executor}").stat().st_uid != 0  # the worker's account, not root
    finally:
        kernel.shutdown()

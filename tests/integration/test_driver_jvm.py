"""Analysts' driver JVMs: the host's class-data-sharing archive is dumped once, readable by all, and a kernel's
driver really maps it and runs with the small-driver options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hunthub import driver_jvm
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration


def test_a_kernels_driver_runs_small_and_maps_the_hosts_class_archive(spark_cluster, tmp_path, auth_events):
    cache = tmp_path / "cache" / "jvm"
    archive = driver_jvm.finish_dump(driver_jvm.start_dump(cache), say=print)
    assert archive == driver_jvm.archive_path(cache) and archive.is_file()
    assert archive.stat().st_mode & 0o777 == 0o644  # every analyst's account reads it; only the hub's writes it
    assert cache.stat().st_mode & 0o777 == 0o755
    assert driver_jvm.start_dump(cache) is None  # once per host

    env = spark_cluster.kernel_env(user="cdsuser", HUNTHUB_WARM_DRIVER="0")
    conf = json.loads(env["HUNTHUB_SPARK_CONF"])
    conf["spark.driver.extraJavaOptions"] = driver_jvm.java_options(cache)
    env["HUNTHUB_SPARK_CONF"] = json.dumps(conf)
    kernel = Kernel(env)
    try:
        result = kernel.run("spark.sql('select count(*) from auth_events').first()[0], sc._gateway.proc.pid")
        assert result.status == "ok", result.error
        count, pid = eval(result.text.strip().splitlines()[-1])  # noqa: S307 - our own kernel's repr
        assert count == auth_events.num_rows
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        for option in driver_jvm.DRIVER_OPTIONS:
            assert option.encode() in cmdline
        assert str(archive) in Path(f"/proc/{pid}/maps").read_text(), "the driver JVM did not map the archive"
    finally:
        kernel.shutdown()

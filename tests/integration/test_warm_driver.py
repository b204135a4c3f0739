"""A pre-started driver adopted by the PySpark kernel, against the real standalone cluster; and the server's policy
for when to keep one (delay after the server starts, only for analysts who used Spark, none beside a live session)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from hunthub.kernels import warm_driver
from hunthub.kernels.warm_pool import WarmDriverPool
from hunthub.processes import alive, descendants_of
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration


def start_host(env, directory, ttl=300, wait_ready=True):
    log = open(directory / "host.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "hunthub.kernels.warm_driver", "--dir", str(directory), "--ttl", str(ttl)],
        env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    if not wait_ready:
        return proc, None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready = list(directory.glob("*.ready.json"))
        if ready:
            return proc, ready[0]
        assert proc.poll() is None, (directory / "host.log").read_text()[-3000:]
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("no warm driver within 120 s:\n" + (directory / "host.log").read_text()[-3000:])


def app_names(spark_cluster):
    return [a["name"] for a in spark_cluster.master_state()["activeapps"]]


def cores_held(spark_cluster, name):
    return sum(a["cores"] for a in spark_cluster.master_state()["activeapps"] if a["name"] == name)


def test_kernel_adopts_the_warm_driver_and_both_go_away_together(spark_cluster, tmp_path, auth_events):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    env = spark_cluster.kernel_env(user="warm1", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool))
    host, ready = start_host(env, pool)
    offer = json.loads(ready.read_text())
    assert ready.stat().st_mode & 0o777 == 0o600  # it holds the key to the driver JVM
    assert "warm1" in app_names(spark_cluster)
    # waiting for a kernel, it holds no executor, no cores: on a cluster master its warm-up only plans queries and
    # runs no job (kernels/warm_driver.py), so with dynamic allocation (no initial executors) it asks for none; the
    # wait allows for cores seen held at first on a loaded host (6892d28)
    deadline = time.monotonic() + 90
    while cores_held(spark_cluster, "warm1") and time.monotonic() < deadline:
        time.sleep(1)
    assert cores_held(spark_cluster, "warm1") == 0

    kernel = Kernel(env)
    try:
        result = kernel.run("spark.sql('select count(*) from auth_events').first()[0], sc.applicationId")
        assert result.status == "ok", result.error
        count, app_id = eval(result.text.strip().splitlines()[-1])  # noqa: S307 - our own kernel's repr
        assert app_id == offer["app_id"]  # the kernel runs in the warm driver, not a new one
        assert count == auth_events.num_rows
        assert list(pool.glob(f"{host.pid}.claimed-*.json"))
        # Python shipped to executors, accumulators and SQL UDFs work through the adopted context
        lam = kernel.run(
            "acc = sc.accumulator(0)\nsc.parallelize(range(5), 2).foreach(lambda x: acc.add(x))\n"
            "from pyspark.sql.functions import udf\n"
            "(acc.value, spark.range(3).select(udf(lambda x: x * 10, 'long')('id')).collect()[2][0])"
        )
        assert lam.text.strip().endswith("(10, 20)"), lam.text + str(lam.error)
        family = [host.pid, *descendants_of(host.pid)]
    finally:
        kernel.shutdown()
    host.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.5)
    assert not [p for p in family if alive(p)]
    assert "warm1" not in app_names(spark_cluster)
    assert not list(pool.glob("*.json"))


def test_unclaimed_driver_gives_back_its_cores_after_ttl(spark_cluster, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    env = spark_cluster.kernel_env(user="warm2", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool))
    host, _ = start_host(env, pool, ttl=3)
    assert host.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "warm2" in app_names(spark_cluster):
        time.sleep(0.5)
    assert "warm2" not in app_names(spark_cluster)


def test_kernel_ignores_a_driver_started_for_another_user(spark_cluster, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    host, ready = start_host(spark_cluster.kernel_env(user="warm3", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool)), pool)
    kernel = Kernel(spark_cluster.kernel_env(user="warm4", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool)))
    try:
        result = kernel.run("sc.appName")
        assert result.text.strip().endswith("'warm4'")
        assert ready.exists()  # still on offer
    finally:
        kernel.shutdown()
        host.terminate()
        host.wait(timeout=60)


def test_kernel_started_while_the_driver_warms_up_waits_for_it(spark_cluster, tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    env = spark_cluster.kernel_env(user="warm5", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool))
    host, _ = start_host(env, pool, wait_ready=False)
    deadline = time.monotonic() + 30
    while not list(pool.glob("*.starting.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(pool.glob("*.starting.json")), "the host announces itself before its driver is up"
    kernel = Kernel(env)
    try:
        result = kernel.run("sc.applicationId")
        claimed = json.loads(next(pool.glob(f"{host.pid}.claimed-*.json")).read_text())
        assert result.text.strip().splitlines()[-1].strip("'") == claimed["app_id"]
        # one driver for this analyst, not a second one started beside the warming one
        assert app_names(spark_cluster).count("warm5") == 1
    finally:
        kernel.shutdown()
        host.wait(timeout=60)


# --- the server's policy: when a warm driver pays off ---------------------------------------------------


@pytest.fixture
def server_env(spark_cluster, tmp_path, monkeypatch):
    """This test process plays the analyst's server: the hub's environment, a home of its own."""
    home = tmp_path / "home"
    home.mkdir()
    env = spark_cluster.kernel_env(user="pooluser", HOME=str(home))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    return env, pool, home


def make_pool(pool_dir, delay):
    return WarmDriverPool(
        logging.getLogger("warm-pool-test"), directory=pool_dir, ttl=300, delay=delay, jitter=0,
        marker=warm_driver.spark_use_marker(),
    )  # fmt: skip


def tick_until(pool, check, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool.tick()
        if check():
            return
        time.sleep(0.5)
    recorded = sorted(p.name for p in warm_driver.drivers_dir().glob("*"))
    raise AssertionError(
        f"not within {timeout} s: {what} (live sessions: {pool.live_sessions()}, drivers recorded: {recorded}, "
        f"hosts: {[p.pid for p in pool.hosts]}, marker: {pool.marker.exists()})"
    )


def stop_pool(pool, spark_cluster, name):
    pool.stop()
    for proc in pool.hosts:
        proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and name in app_names(spark_cluster):
        time.sleep(0.5)


def test_a_warm_driver_starts_only_after_the_delay_and_only_for_an_analyst_who_used_spark(spark_cluster, server_env):
    _, pool_dir, home = server_env
    pool = make_pool(pool_dir, delay=4)
    try:
        pool.arm()
        armed = time.monotonic()
        tick_until(pool, lambda: time.monotonic() > armed + 8, "the delay to pass", timeout=60)
        assert pool.hosts == [], "a warm driver started for an analyst who never used Spark"

        warm_driver.remember_spark_use()  # what a kernel does when its analyst first uses Spark
        assert (home / ".hunthub" / "spark-used").exists()
        pool.arm()  # as after the next login: the marker is there from the start
        armed = time.monotonic()
        pool.tick()
        assert pool.hosts == [], "a warm driver started in the second of the login"
        tick_until(pool, lambda: pool.hosts, "a warm driver once the delay has passed")
        assert time.monotonic() - armed >= 4
        tick_until(pool, lambda: list(pool_dir.glob("*.ready.json")), "the warm driver on offer", timeout=180)
        assert "pooluser" in app_names(spark_cluster)
    finally:
        stop_pool(pool, spark_cluster, "pooluser")
    assert "pooluser" not in app_names(spark_cluster)


def test_no_spare_beside_a_live_session_and_one_starts_when_it_is_gone(spark_cluster, server_env):
    env, pool_dir, _ = server_env
    warm_driver.remember_spark_use()
    kernel = Kernel({**env, "HUNTHUB_KERNEL_WARM_DRIVER": "0"})  # a kernel of this analyst with a driver of its own
    pool = make_pool(pool_dir, delay=0)
    try:
        assert kernel.run("sc.applicationId").status == "ok"
        pool.arm()
        assert pool.live_sessions() == 1
        for _ in range(6):
            pool.tick()
            time.sleep(0.5)
        assert pool.hosts == [], "a spare driver started beside the analyst's live session"
        kernel.shutdown()  # their last kernel is gone: a restart should find a driver already starting
        kernel = None
        tick_until(pool, lambda: pool.hosts, "a warm driver once the session is gone")
        assert pool.live_sessions() == 0
    finally:
        if kernel is not None:
            kernel.shutdown()
        stop_pool(pool, spark_cluster, "pooluser")

"""When an analyst's server keeps a warm driver: delay, the analyst's past use of Spark, and their live sessions
(what kernels record). Real processes stand in for driver JVMs; the end-to-end policy with real drivers is in
tests/integration/test_warm_driver.py."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from hunthub.kernels import warm_driver
from hunthub.kernels.warm_pool import WarmDriverPool


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def jvm():
    """A process playing a driver JVM this process started."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def pool(tmp_path, delay=0.0):
    directory = tmp_path / "pool"
    directory.mkdir(exist_ok=True)
    return WarmDriverPool(logging.getLogger("test"), directory=directory, ttl=60, delay=delay, jitter=0)


def test_a_kernel_remembers_that_its_analyst_used_spark_the_first_time(home):
    used = warm_driver.FirstUse()
    assert not warm_driver.spark_use_marker().exists()
    used.set()
    assert warm_driver.spark_use_marker() == home / ".hunthub" / "spark-used"
    assert warm_driver.spark_use_marker().exists()


def test_a_recorded_driver_is_live_until_its_process_is_gone(home, jvm):
    warm_driver.register_driver(jvm.pid)
    assert warm_driver.live_drivers() == [jvm.pid]
    # drivers a warm driver host started are not the analyst's own sessions
    assert warm_driver.live_drivers(exclude_starters={os.getpid()}) == []
    jvm.kill()  # not reaped yet: a zombie, as a driver whose kernel died first is until its new parent reaps it
    deadline = time.monotonic() + 30
    while Path(f"/proc/{jvm.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed process never became a zombie"
        time.sleep(0.05)
    assert warm_driver.live_drivers() == []
    assert not list(warm_driver.drivers_dir().glob("*.json"))  # the record of a gone driver is cleaned up
    jvm.wait()


def test_no_warm_driver_before_the_delay_nor_without_spark_use_nor_beside_a_live_session(home, tmp_path, jvm):
    p = pool(tmp_path, delay=3600)
    warm_driver.remember_spark_use()
    p.arm()
    p.tick()
    assert p.hosts == []  # a login is not the moment for a JVM start
    p = pool(tmp_path)
    warm_driver.spark_use_marker().unlink()
    p.arm()
    p.tick()
    assert p.hosts == []  # this analyst never used Spark
    warm_driver.remember_spark_use()
    warm_driver.register_driver(jvm.pid)  # one of their kernels holds a driver of its own
    p.tick()
    assert p.live_sessions() == 1
    assert p.hosts == []


def test_the_delay_has_a_little_jitter(tmp_path, home):
    starts = set()
    for _ in range(5):
        p = WarmDriverPool(logging.getLogger("test"), directory=tmp_path, ttl=60, delay=30)
        t0 = time.monotonic()
        p.arm()
        starts.add(round(p.not_before - t0, 2))
    assert all(30 <= s <= 30 + 30 / 4 + 0.1 for s in starts)
    assert len(starts) > 1  # servers started together do not start their drivers together

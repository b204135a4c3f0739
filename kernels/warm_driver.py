"""A pre-started Spark driver that a kernel adopts, so the analyst's first query does not wait for one.

Starting a driver (JVM, SparkContext, executors, catalog, first-query code paths) takes 10-25 s on small
machines. The analyst's notebook server keeps one such driver ready (see warm_pool.py); a starting kernel
claims it and wraps its existing JVM SparkContext, which takes well under a second.

Protocol, in a 0700 directory under the Jupyter runtime dir:
- the driver host announces itself in `<host pid>.starting.json`, which becomes `<host pid>.ready.json` (0600:
  py4j port and secret, session info) once it is warmed up; a kernel starting meanwhile waits for it, and
  says so with `<host pid>.wanted` so the host cuts its warm-up short;
- a kernel claims it by renaming it to `<host pid>.claimed-<kernel pid>.json` (atomic: one kernel wins);
- the host then lives exactly as long as that kernel; when the kernel is gone it stops the SparkContext and
  exits, and its JVM (whose stdin is the host's pipe) exits with it. Unclaimed, it exits after a TTL.

On a cluster master a waiting driver only plans its warm-up queries and runs no job: with dynamic allocation
(hunthub's default) it then holds no executor and no cores, only its own JVM's memory, until a kernel's first query
asks for an executor. Where the tasks run in the driver (a local master) the warm-up runs its queries too: they cost
no executor, and warm the task code as well.

Kernels remember that their analyst used Spark (`remember_spark_use`, a marker file in ~/.hunthub): the server keeps
a warm driver only for analysts who did (see warm_pool.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from hunthub import atomic_file, spare_cpu
from hunthub.kernel_env import KernelEnv, variable
from hunthub.kernels import session
from hunthub.processes import die_with_parent, running_since, start_time

POLL = 0.25


def pool_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    d = Path(KernelEnv.from_environ(os.environ).warm_driver_dir or Path(jupyter_runtime_dir()) / "hunthub-drivers")
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _write_private(path: Path, doc: dict) -> None:
    atomic_file.write_json(path, doc)


def spark_use_marker() -> Path:
    """Present once a kernel of this account's analyst has used Spark."""
    return Path.home() / ".hunthub" / "spark-used"


def remember_spark_use() -> None:
    try:
        marker = spark_use_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only home only costs the analyst their warm driver


def drivers_dir() -> Path:
    """Where kernels record the driver JVMs they start, for the server to know whether a session is live."""
    return Path.home() / ".hunthub" / "drivers"


def register_driver(jvm_pid: int) -> None:
    """Record a driver JVM this process has just started (see live_drivers)."""
    try:
        d = drivers_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        (d / f"{jvm_pid}.json").write_text(
            json.dumps({"pid": jvm_pid, "start": start_time(jvm_pid), "starter": os.getpid()})
        )
    except OSError:
        pass  # only costs the analyst a spare warm driver beside their session


def live_drivers(exclude_starters: set[int] = frozenset()) -> list[int]:
    """Driver JVMs recorded by register_driver that still run, except those started by `exclude_starters`;
    records of drivers that are gone are removed."""
    live = []
    for record in drivers_dir().glob("*.json"):
        try:
            doc = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if not running_since(doc["pid"], doc["start"]):
            record.unlink(missing_ok=True)  # gone (its pid may even belong to another process now)
        elif doc["starter"] not in exclude_starters:
            live.append(doc["pid"])
    return live


class FirstUse(threading.Event):
    """The event a kernel sets when its analyst starts using Spark; the first time, it remembers that they did."""

    def set(self) -> None:
        if not self.is_set():
            remember_spark_use()
        super().set()


# --- kernel side --------------------------------------------------------------------------------------


def adopt(env=os.environ, directory: Path | None = None, wait: float | None = None):
    """Claim a ready driver and attach to it: (SparkSession, SessionInfo), or None when there is none.

    A driver still starting is waited for (up to `wait` seconds): it is further along than a new one would be,
    and a second driver starting beside it would slow both down on a small machine.
    """
    directory = directory or pool_dir()
    wait = KernelEnv.from_environ(env).warm_driver_wait if wait is None else wait
    deadline = time.monotonic() + wait
    fp = session.fingerprint(env)
    while True:
        doc = _claim_ready(directory, fp)
        if doc is not None:
            return _attach(doc, env)
        if time.monotonic() > deadline:
            return None
        starting = _starting(directory, fp)
        if not starting:
            doc = _claim_ready(directory, fp)  # it may have become ready between the two looks
            return _attach(doc, env) if doc is not None else None
        for doc in starting:
            # someone is waiting: the host skips the rest of its warm-up and offers the driver at once
            (directory / f"{doc['host_pid']}.wanted").touch()
        time.sleep(POLL)


def _live_offers(directory: Path, pattern: str, wanted: str):
    for path in sorted(directory.glob(pattern)):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("fingerprint") == wanted and start_time(doc["host_pid"]) == doc["host_start"]:
            yield path, doc


def _starting(directory: Path, wanted: str) -> list[dict]:
    return [doc for _, doc in _live_offers(directory, "*.starting.json", wanted)]


def _claim_ready(directory: Path, wanted: str) -> dict | None:
    for ready, doc in _live_offers(directory, "*.ready.json", wanted):
        claimed = ready.with_name(f"{doc['host_pid']}.claimed-{os.getpid()}.json")
        try:
            os.rename(ready, claimed)
        except FileNotFoundError:
            continue  # another kernel was faster
        return doc
    return None


def _attach(doc: dict, env):
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_GATEWAY_PORT"] = str(doc["port"])
    os.environ["PYSPARK_GATEWAY_SECRET"] = doc["secret"]
    try:
        gateway = launch_gateway()
    finally:
        # processes the analyst starts from the notebook must not inherit the driver's key
        del os.environ["PYSPARK_GATEWAY_PORT"], os.environ["PYSPARK_GATEWAY_SECRET"]
    jvm = gateway.jvm
    jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(
        jvm.org.apache.spark.SparkContext.getOrCreate()
    )
    sc = SparkContext(gateway=gateway, jsc=jsc)
    spark = SparkSession(sc)  # the JVM's default session, with the catalog's views already registered
    info = session.SessionInfo(**doc["info"])
    if _catalog_mtime(env) != doc.get("catalog_mtime"):
        info.tables, info.problems = session.register_catalog(spark, KernelEnv.from_environ(env))
    session.release_unreferenced(spark)
    return spark, info


def _catalog_mtime(env) -> float | None:
    path = KernelEnv.from_environ(env).catalog
    try:
        return Path(path).stat().st_mtime if path else None
    except OSError:
        return None


# --- host side ----------------------------------------------------------------------------------------


def enabled(env=os.environ) -> bool:
    """Warm drivers are for servers hunthub started (they know the cluster), unless turned off."""
    hub_told = variable("spark_master") in env
    return hub_told and KernelEnv.from_environ(env).warm_driver


def host(directory: Path, ttl: float) -> int:
    """Start and warm a driver, offer it, then serve the kernel that claims it until that kernel is gone."""
    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    me = os.getpid()
    catalog_mtime = _catalog_mtime(os.environ)
    starting = directory / f"{me}.starting.json"
    _write_private(starting, {"host_pid": me, "host_start": start_time(me), "fingerprint": session.fingerprint()})
    wanted = directory / f"{me}.wanted"
    # a bet on the analyst coming back to Spark: it yields to a busy host until a kernel wants it (hunthub.spare_cpu)
    spare_cpu.wait(wanted.exists)
    try:
        spark, info = session.start()
    except session.SparkUnavailableError as e:
        starting.unlink(missing_ok=True)
        print(f"warm driver not started: {e}", file=sys.stderr)
        return 2
    # on a cluster no job: an executor started now would leave after its idle timeout, long before most kernels
    # come; where the tasks run in this driver (a local master), jobs cost no executor and warm the task code too
    in_driver = spark.sparkContext.master.startswith("local")
    session.warm_up(spark, info.tables, keep_going=lambda: not wanted.exists(), executors=in_driver)
    params = spark.sparkContext._gateway.java_parameters
    ready = directory / f"{me}.ready.json"
    _write_private(
        starting,
        {
            "host_pid": me,
            "host_start": start_time(me),
            "app_id": spark.sparkContext.applicationId,
            "port": params.port,
            "secret": params.auth_token,
            "fingerprint": session.fingerprint(),
            "catalog_mtime": catalog_mtime,
            "info": asdict(info),
        },
    )
    os.replace(starting, ready)  # kernels waiting for this driver see it become ready in one step
    deadline = time.monotonic() + ttl
    kernel = None
    try:
        while kernel is None:
            claims = list(directory.glob(f"{me}.claimed-*.json"))
            if claims:
                kernel = int(claims[0].name.rsplit("-", 1)[1].split(".")[0])
                kernel_start = start_time(kernel)
                break
            if time.monotonic() > deadline:
                return 0  # nobody came: give the cluster its cores back
            time.sleep(POLL)
        while kernel_start is not None and start_time(kernel) == kernel_start:
            time.sleep(POLL * 4)
        return 0
    finally:
        for leftover in (starting, ready, wanted, *directory.glob(f"{me}.claimed-*.json")):
            leftover.unlink(missing_ok=True)
        try:
            spark.stop()
        except Exception:  # noqa: BLE001, S110 - the JVM exits with us anyway
            pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="pool directory (default: Jupyter runtime dir)")
    parser.add_argument("--ttl", type=float, default=3600, help="seconds to wait for a kernel before exiting")
    args = parser.parse_args(argv)
    return host(args.dir or pool_dir(), args.ttl)


if __name__ == "__main__":
    sys.exit(main())

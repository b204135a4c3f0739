"""Build the analyst's SparkSession from what the hub put in the environment, and register the catalog.

Shared by every hunthub kernel. What the hub tells a kernel is hunthub.kernel_env's contract, read from the
server's environment; JUPYTERHUB_USER and JUPYTERHUB_SERVICE_PREFIX come from JupyterHub. Ingest builds the
contract itself and uses session_properties, preflight and register_catalog directly.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hunthub import catalog, identity, jvm_slots
from hunthub.kernel_env import KernelEnv
from hunthub.kernels import spark_ui
from hunthub.master_probe import master_problem

KEEP_DRIVER_LOGS = 10


class SparkUnavailableError(RuntimeError):
    """The kernel could not attach to the cluster; the message says why and what to do."""


@dataclass
class SessionInfo:
    master: str
    app_name: str
    ui_port: int
    ui_path: str  # path of the Spark UI through the hub, '' outside JupyterHub
    ui_key: str = ""  # what the UI asks for (hunthub.kernels.spark_ui); never in a cell or a log
    tables: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    driver_log: str = ""


def free_port() -> int:
    """A loopback port free right now (for the Spark UI, which must be known before the driver starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def analyst(env=os.environ) -> identity.Identity:
    """Who this kernel's driver runs as (see hunthub.identity: pinned by the hub where it can be)."""
    try:
        return identity.current(env)
    except (identity.IdentityError, OSError, ValueError) as e:
        raise SparkUnavailableError(
            f"hunthub could not confirm who you are, so Spark was not started: {e}\nTell your hunthub admin."
        ) from e


def app_name(env=os.environ) -> str:
    return analyst(env).user


def scratch_uri(env=os.environ) -> str:
    """Where the analyst's Spark jobs may write: the scratch space the spawner prepared in the warehouse (shared
    with the executors' account), else a folder in the home, which only a local master can write to."""
    given = KernelEnv.from_environ(env).scratch
    if given:
        return given
    fallback = Path.home() / ".hunthub" / "scratch"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback.as_uri()


def spark_properties(env=os.environ, ui_port: int | None = None) -> dict[str, str]:
    """Every property of the analyst's session, from the server's environment."""
    return session_properties(
        KernelEnv.from_environ(env), analyst(env), ui_port, env.get("JUPYTERHUB_SERVICE_PREFIX", "")
    )


def session_properties(
    k: KernelEnv, who: identity.Identity, ui_port: int | None = None, service_prefix: str = ""
) -> dict[str, str]:
    """Every property of `who`'s session under the contract `k`; pure, so tests can assert it."""
    master = k.spark_master
    props = {
        "spark.master": master,
        "spark.app.name": who.user,
        # executors run Python from the very same environment as this kernel
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.repl.eagerEval.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    }
    driver_host = k.driver_host
    if not driver_host and master.startswith(("spark://127.", "spark://localhost", "local")):
        driver_host = "127.0.0.1"
    if driver_host:
        props["spark.driver.host"] = driver_host
        props["spark.driver.bindAddress"] = k.driver_bind_address or driver_host
    if ui_port is not None:
        props["spark.ui.port"] = str(ui_port)
        if service_prefix:
            # the UI is served only through the analyst's own server (hunthub.kernels.spark_ui)
            props["spark.ui.proxyBase"] = ui_proxy_path(service_prefix, ui_port)
    if k.scratch:
        # Hadoop chmods what it creates (0755 by default), which would cut the executors' account out of the
        # scratch space's ACLs (a chmod sets the ACL mask); 007 keeps the mask at rwx and others out.
        props["spark.hadoop.fs.permissions.umask-mode"] = "007"
    props.update(k.spark_conf)
    if master.startswith("local") and "spark.local.dir" not in props:
        # the tasks run here, as the analyst: their shuffle and spill files go to a folder of the analyst's own
        # (Spark's default is /tmp)
        props["spark.local.dir"] = str(Path.home() / ".hunthub" / "spark-local")
    return identity.pin_properties(props, who)


def ui_proxy_path(service_prefix: str, ui_port: int) -> str:
    return f"{service_prefix.rstrip('/')}/{spark_ui.ROUTE}/{ui_port}"


def pin_driver_environment(env=os.environ) -> None:
    """Before launching a driver JVM: it runs as the analyst, with the wheel's Spark, whatever the kernel's
    environment claimed."""
    from hunthub import paths

    identity.pin_jvm_environment(analyst(env), str(paths.spark_home()))
    # Spark binds the driver's UI to SPARK_LOCAL_IP, else to every interface; the UI shows the environment and
    # SQL text and can kill jobs, and the analyst reaches it through their own server (jupyter-server-proxy, in
    # the same host or container), so loopback is enough. The driver's RPC and block manager keep their own
    # spark.driver.bindAddress, which executors on other hosts or containers need.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"


def _alive_workers(webui: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{webui.rstrip('/')}/json/", timeout=3) as r:  # noqa: S310
            return sum(1 for w in json.load(r).get("workers", []) if w.get("state") == "ALIVE")
    except (OSError, ValueError):
        return None


def preflight(k: KernelEnv, env=os.environ) -> None:
    """Fail in seconds, with a clear message, where Spark itself would hang or retry for minutes. (`env` only for
    YARN's own variables.)"""
    master = k.spark_master
    problem = master_problem(master, env=env)
    if problem:
        raise SparkUnavailableError(
            f"Spark is not available: {problem}.\n"
            "The cluster may be down or unreachable from this server. Ask your hunthub admin "
            "(`hunthub doctor` checks the cluster), then restart this kernel."
        )
    webui = k.master_webui
    # a local master (tasks in this driver) needs no worker: a dead one must not keep the analyst from Spark
    if webui and not master.startswith("local") and _alive_workers(webui) == 0:
        raise SparkUnavailableError(
            f"Spark is not available: the master {master} has no live workers, so no job could run.\n"
            "Ask your hunthub admin (`hunthub doctor`), then restart this kernel."
        )


def register_catalog(spark, k: KernelEnv) -> tuple[list[str], list[str]]:
    """Temp views for every catalog table; returns (registered, problems). A broken table never blocks the rest."""
    path = k.catalog
    warehouse = k.warehouse
    if not path:
        return [], []
    try:
        tables = catalog.load(path)
    except catalog.CatalogError as e:
        return [], [str(e)]
    registered, problems = [], []
    for name, table in sorted(tables.items()):
        location = table.location(warehouse)
        try:
            reader = spark.read.format(table.format)
            if table.schema:
                reader = reader.schema(table.schema)
            reader.load(location).createOrReplaceTempView(name)
            registered.append(name)
        except Exception as e:  # noqa: BLE001 - report per table, keep the session usable
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            problems.append(f"table {name} ({location}): {first_line}")
    return registered, problems


def driver_log_path(env=os.environ) -> Path:
    """A fresh log file for this kernel's driver JVM; older ones beyond the last few are removed."""
    log_dir = Path(KernelEnv.from_environ(env).driver_log_dir or Path.home() / ".hunthub" / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in sorted(log_dir.glob("driver-*.log"))[: -(KEEP_DRIVER_LOGS - 1)]:
        old.unlink(missing_ok=True)
    return log_dir / f"driver-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def log_tail(path: Path, lines: int = 12) -> str:
    """The last lines of a driver log, for error messages that say why a driver did not start."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_wait(slots: int, waited: float) -> None:
    print(f"hunthub: {jvm_slots.waiting_message(slots, waited)}", file=sys.stderr, flush=True)


def start(env=os.environ, on_wait=None):
    """Create the session; returns (SparkSession, SessionInfo). Raises SparkUnavailableError.

    The driver JVM starts in one of the host's start slots (see hunthub.jvm_slots), held until its SparkContext is
    up; `on_wait(slots, waited)` hears about a wait for one (default: a line in the kernel's log)."""
    k = KernelEnv.from_environ(env)
    preflight(k, env)
    ui_port = free_port()
    props = spark_properties(env, ui_port)
    props.update(spark_ui.ui_properties(props))  # its key follows once the JVM runs (spark_ui.give_key)
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf(loadDefaults=False).setAll(props.items())
    log_path = driver_log_path(env)
    try:
        # The JVM's own chatter (log4j, JVM warnings) goes to a log file, not into the analyst's cells.
        pin_driver_environment(env)
        with jvm_slots.start_slot(k.jvm_start_slots_dir or None, on_wait=on_wait or log_wait):
            with open(log_path, "ab") as log:
                gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
            ui_key = spark_ui.new_key()
            spark_ui.give_key(gateway, ui_key)
            SparkContext(conf=conf, gateway=gateway)
            spark = SparkSession.builder.getOrCreate()
        from hunthub.kernels import warm_driver  # it imports this module

        warm_driver.register_driver(gateway.proc.pid)  # the server keeps no spare driver beside a live one
    except Exception as e:  # Java missing, JVM failed to start, bad property
        tail = log_tail(log_path)
        raise SparkUnavailableError(
            f"Spark could not start its driver: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}\n"
            f"Driver log {log_path}:\n{tail}"
        ) from e
    tables, problems = register_catalog(spark, k)
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    actual_port = int((spark.sparkContext.uiWebUrl or f":{ui_port}").rsplit(":", 1)[1].split("/")[0])
    info = SessionInfo(
        master=props["spark.master"],
        app_name=props["spark.app.name"],
        ui_port=actual_port,
        ui_path=f"{ui_proxy_path(prefix, actual_port)}/jobs/" if prefix else "",
        ui_key=ui_key,
        tables=tables,
        problems=problems,
        driver_log=str(log_path),
    )
    if actual_port != ui_port:
        info.problems.append("the Spark UI took another port than planned; its links may not work via the hub")
    release_unreferenced(spark)
    return spark, info


def release_unreferenced(spark) -> threading.Thread | None:
    """Python's half of letting an idle session's executors go (dynamic allocation): a DataFrame that is no longer
    used often sits in a reference cycle, which Python only frees at its next cyclic GC, and an idle kernel
    allocates nothing that would trigger one; until then the JVM's Dataset, and the shuffle files it references,
    stay referenced, and the executor holding them stays until the shuffle timeout. Measured (executor idle timeout
    10 s): a kernel idle after `spark.sql("select count(*) ...").first()` kept its executor 120 s (the shuffle
    timeout); with a collection, 15 s. So a daemon thread collects at the pace of the driver's own periodic GC
    (spark.cleaner.periodicGC.interval, set by the hub)."""
    conf = spark.sparkContext.getConf()
    if conf.get("spark.dynamicAllocation.enabled", "false") != "true":
        return None
    interval = conf.get("spark.cleaner.periodicGC.interval", "30s")
    seconds = float(interval[:-1]) if interval.endswith("s") and interval[:-1].isdigit() else 30.0

    def collect():
        while True:
            time.sleep(seconds / 2)  # twice per JVM GC: a shuffle freed here is forgotten at the JVM's next one
            gc.collect()

    thread = threading.Thread(target=collect, name="hunthub-release-unreferenced", daemon=True)
    thread.start()
    return thread


def warm_up(spark, tables: list[str], keep_going=lambda: True, executors: bool = True, before_executor=None) -> None:
    """Run the code paths an analyst's first query takes (executor launch, Catalyst, Parquet reader, Python
    worker), so that query does not pay for them. Failures are ignored: real problems show in real cells.

    With `executors`, the first step launches one executor with a one-task JVM job, and runs even once the analyst
    has started using Spark: with dynamic allocation no executor is kept, so the first query needs a fresh one
    anyway, and asking now saves the scheduler's backlog timeout and overlaps the executor's start with the rest of
    the session's start and with the analyst's own cell. `before_executor()` runs first (a kernel waits there
    for a spare core, hunthub.spare_cpu, unless a cell needs Spark). The steps after it stop as soon as
    `keep_going()` is false: beside the analyst's own first query they would only compete for the same core.

    `executors=False` only plans the queries (parser, analyzer, optimizer, planner: the driver's share) and
    runs no job: an executor launched now is gone after the idle timeout, so a driver waiting for a kernel (a
    warm driver) would pay an executor JVM start, and hold cores, for nothing."""
    if executors:
        if before_executor is not None:
            before_executor()
        sc = spark.sparkContext
        sc.setJobDescription(
            "hunthub: warming up for your first query" if sc.master.startswith("local")
            else "hunthub: starting an executor for your first query"
        )  # fmt: skip
        try:
            spark.range(0, 1, 1, 1).count()
        except Exception:  # noqa: BLE001
            return
        finally:
            sc.setJobDescription(None)
        steps = []
        if tables:
            steps.append(lambda: spark.table(tables[0]).limit(1).collect())
        steps.append(lambda: spark.range(100).selectExpr("id % 3 as k").groupBy("k").count().collect())
        steps.append(lambda: spark.sparkContext.parallelize([0], 1).map(lambda x: x).count())
    else:
        steps = [lambda: spark.table(tables[0]).limit(1)._jdf.queryExecution().executedPlan()] if tables else []
        steps.append(
            lambda: spark.range(100).selectExpr("id % 3 as k").groupBy("k").count()._jdf.queryExecution().executedPlan()
        )
    for step in steps:
        if not keep_going():
            return
        try:
            step()
        except Exception:  # noqa: BLE001
            return


def fingerprint(env=os.environ) -> str:
    """What a pre-started driver must share with a kernel for the kernel to adopt it."""
    import hashlib

    props = {key: v for key, v in spark_properties(env).items() if not key.startswith("spark.ui.")}
    k = KernelEnv.from_environ(env)
    others = [env.get(key, "") for key in ("JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX")]
    material = json.dumps([props, k.catalog, k.warehouse, others], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]

"""The SparkSession ingest runs in: the analysts' cluster and properties, as the hub gives them to kernels."""

from __future__ import annotations

import os
import pwd
import sys

from hunthub import identity
from hunthub.ingest import IngestError
from hunthub.kernel_env import KernelEnv
from hunthub.settings import HuntHub

APP_NAME = "hunthub-ingest"


def ingest_contract(s: HuntHub, master: str | None = None) -> KernelEnv:
    """What a kernel would be told (hunthub.kernel_env), built here directly: ingest runs on the cluster, as its
    own account, or on the `--master` it was given."""
    from hunthub.hub.config import kernel_contract

    k = kernel_contract(s, tasks="cluster")
    return k.replace(spark_master=master, master_webui="") if master else k


# Whole-stage code generation makes one method of a stage's work; ingest's stages (a parse, an event time and a
# status per line, dozens of columns) make methods over the 8,000 bytes HotSpot compiles by default, which then
# run interpreted: a pass over 10^6 JSON lines took 19 s so, 11 s with this (plain Spark's read and write, 10 s).
BATCH_JVM_OPTIONS = ("-XX:-DontCompileHugeMethods",)


def ingest_properties(k: KernelEnv, local_memory: str = "1g") -> dict[str, str]:
    """The session's properties: an analyst's session, as ingest's application. With a local master the driver
    does all the work, so it is a batch JVM of `local_memory` (HuntHub.ingest_memory) instead of an analyst's
    small interactive driver (hunthub.driver_jvm): with the C1-only compiler, the serial collector and 1 GB,
    10^6 JSON lines took 137 s; with the JVM's own compiler and collector and 6 GB, 84 s (2 cores)."""
    from hunthub import driver_jvm
    from hunthub.kernels.session import session_properties

    props = session_properties(k, identity.current(os.environ))
    if (k.spark_master or "").startswith("local"):
        small = set(driver_jvm.DRIVER_OPTIONS)
        # the small-driver options go, whoever set them (they are for interactive drivers); the host's class
        # archive, which saves the start, and any other option of an admin's (HuntHub.spark_conf) stay
        options = [o for o in props.get("spark.driver.extraJavaOptions", "").split() if o not in small]
        props["spark.driver.extraJavaOptions"] = " ".join([*options, *BATCH_JVM_OPTIONS])
        props["spark.driver.memory"] = local_memory
    else:  # the executors do the work; these options are for ingest's own
        options = props.get("spark.executor.extraJavaOptions", "").split()
        props["spark.executor.extraJavaOptions"] = " ".join([*options, *BATCH_JVM_OPTIONS])
    props.update(
        {
            "spark.app.name": APP_NAME,
            # dates of partitions are UTC days whatever the ingest host's zone
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.parquet.compression.codec": "zstd",
            # INT96 is legacy; micros are what pyarrow, DuckDB and Trino read natively
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.shuffle.partitions": props.get("spark.sql.shuffle.partitions", "4"),
            "spark.ui.showConsoleProgress": "false",
            # root's ingest: no local account may stop its jobs from the UI
            "spark.ui.killEnabled": "false",
        }
    )
    if props.get("spark.dynamicAllocation.enabled") == "true":
        # a batch has work from its first second: ask for its whole share at once instead of growing into it; the
        # executors still leave when it is done or idle
        props["spark.dynamicAllocation.initialExecutors"] = props.get("spark.dynamicAllocation.maxExecutors", "1")
    return props


def executor_writers(s: HuntHub, master: str | None = None) -> tuple[str, ...]:
    """Accounts besides this one that write table files: as root against the embedded cluster, the executors run
    as hunthub-spark (see hunthub.cluster)."""
    from hunthub.cluster import SPARK_USER

    effective = master or s.master_url
    if os.geteuid() != 0 or not s.embedded_cluster or not effective.startswith("spark://"):
        return ()
    try:
        pwd.getpwnam(SPARK_USER)
    except KeyError:
        return ()
    return (SPARK_USER,)


def start(s: HuntHub, master: str | None = None):
    from hunthub.kernels.session import SparkUnavailableError, preflight

    k = ingest_contract(s, master)
    try:
        preflight(k)
    except SparkUnavailableError as e:
        hint = ""
        if s.embedded_cluster and not master:
            hint = "\nStart the stack (`hunthub up`), or ingest without it: --master 'local[2]'."
        raise IngestError(f"{str(e).splitlines()[0]}{hint}") from e
    from pyspark.sql import SparkSession

    # PySpark takes the executors' Python from this variable, not from spark.pyspark.python: they must run this
    # environment's Python, which can import hunthub's parsers
    os.environ["PYSPARK_PYTHON"] = k.pyspark_python or sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # the driver's UI (Spark binds it here), like a kernel's
    builder = SparkSession.builder
    props = ingest_properties(k, s.ingest_memory)
    if executor_writers(s, master):
        # Hadoop chmods every directory the driver creates (_temporary/0 of each write) to 777 minus this umask;
        # on a directory with ACLs that sets the mask, and only a group-writable mask lets the executors'
        # account (a named ACL entry, see write.share_directory) create their task directories inside
        props["spark.hadoop.fs.permissions.umask-mode"] = "002"
    for key, value in props.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


EX_TEMPFAIL = 75  # exit code when the cluster had no cores for us: try again later (sysexits.h)


def watch_cores(spark, s: HuntHub, master: str | None, max_wait: float | None):
    """Say on stderr while the ingest's jobs wait for executor cores; past `max_wait` seconds of waiting
    without ever having had an executor (so before anything was written: the first jobs only read), cancel its
    jobs. Returns (watcher, waiting): `watcher.end()` when done, `waiting.limit_passed` says whether it gave up."""
    from hunthub.kernels import core_wait

    url = ingest_contract(s, master).master_webui
    watcher = core_wait.CoreWatcher(lambda: spark.sparkContext._jsc.sc(), url)
    # the watcher's thread stops the jobs; the main thread then fails out of its Spark call
    waiting = watcher.begin(core_wait.TerminalSink(), max_wait or None, spark.sparkContext.cancelAllJobs)
    return watcher, waiting


def no_cores_error(waiting) -> IngestError:
    """The failure when the wait limit passed: who holds the cores and what to do."""
    from hunthub import spark_share

    return IngestError(
        f"gave up after waiting {spark_share.duration(waiting.waited)} for executor cores (--max-wait "
        f"{waiting.max_wait:g}); nothing was written.\n"
        + spark_share.advice(waiting.share, waiting.app_id, waiting.problem)
    )

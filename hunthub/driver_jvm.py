"""How analysts' Spark driver JVMs are started: options for small drivers and one class-data-sharing archive per host.

A driver JVM loads some 15,000 classes of Spark, Scala and Hadoop before its SparkContext is up; a class-data-sharing
(CDS) archive holds them already parsed and verified, mapped read-only from one file, so every driver on the host
starts faster. JDK 17 cannot create the archive on first use (-XX:+AutoCreateSharedArchive needs JDK 19), so `hunthub
up` dumps it once (-XX:ArchiveClassesAtExit) from a driver that runs a first query with a local master, before the
hub starts. It lives in a cache dir of the host (/var/cache/hunthub/jvm as root), written by the hub's account:
readable by every analyst's account (drivers run as the analyst), writable by none of them, and shared by every
hunthub state dir on the host. Its name carries the Spark version and home and the Java binary, so an upgrade of
either (or another checkout's venv) makes a new one; the JVM checks the rest (JDK build, classpath) and ignores an
archive that does not match.

What the numbers kept (benchmarks/bench_driver_jvm.py; figures in benchmarks/README.md) is DRIVER_OPTIONS plus the
archive. Options are passed as spark.driver.extraJavaOptions, which spark-submit (launched by pyspark's
launch_gateway in client mode) puts on the driver JVM's command line; an admin's own value in
HuntHub.spark_conf replaces ours.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from hunthub import paths

# The heap options give memory back: the serial GC otherwise keeps the heap a query grew to (an idle driver stayed
# at 690-736 MB PSS after a 10^7-row group-by); with them, and the periodic GC the hub sets (kernel_environment), it
# went back to 320-350 MB within two minutes, with the same group-by times (3 rounds each, 2 cores).
DRIVER_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xms32m",
    "-XX:MinHeapFreeRatio=20",
    "-XX:MaxHeapFreeRatio=40",
    "-XX:-ShrinkHeapInSteps",
)
DUMP_TIMEOUT = 600


def cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/cache/hunthub/jvm")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hunthub" / "jvm"


def archive_path(directory: Path | None = None) -> Path:
    """Where this host's archive for this Spark and this Java is, whether or not it exists yet."""
    java_home = paths.java_home()
    java = Path(java_home, "bin", "java").resolve() if java_home else Path("java")
    try:
        stamp = java.stat().st_mtime_ns
    except OSError:
        stamp = 0
    # the JVM ignores an archive dumped with another classpath: a second checkout (another venv) gets its own
    key = hashlib.sha256(f"{java}:{stamp}:{paths.spark_version()}:{paths.spark_home()}".encode()).hexdigest()[:12]
    return (directory or cache_dir()) / f"driver-classes-{paths.spark_version()}-{key}.jsa"


def java_options(directory: Path | None = None, archive: bool = True) -> str:
    """spark.driver.extraJavaOptions for analysts' drivers: the archive only once it exists (a JVM told about a
    missing archive drops the JDK's own class sharing as well) and only when `archive` (drivers in containers do
    not see the host's files)."""
    options = list(DRIVER_OPTIONS)
    path = archive_path(directory)
    if archive and path.is_file():
        options.append(f"-XX:SharedArchiveFile={path}")
    return " ".join(options)


def executor_java_options(directory: Path | None = None) -> str:
    """spark.executor.extraJavaOptions for executors on the embedded worker, which runs on this host with the same
    Spark jars as the drivers: the drivers' archive (dumped from a local-master driver, it holds the classes a task
    loads too) maps into every executor as well. Measured (first query of an idle session, so an executor start
    included, 2 cores): 5.2 s without, 3.8 s with. Only the archive: the small-driver options (C1 only, serial
    GC) would start executors another 0.75 s sooner but could slow the long scans executors exist for. '' while
    there is no archive (a JVM told about a missing one drops the JDK's own class sharing too)."""
    path = archive_path(directory)
    return f"-XX:SharedArchiveFile={path}" if path.is_file() else ""


def start_dump(directory: Path | None = None) -> subprocess.Popen | None:
    """Start dumping the archive in the background (None: it is already there). See finish_dump."""
    archive = archive_path(directory)
    if archive.is_file():
        return None
    archive.parent.mkdir(parents=True, exist_ok=True)
    for d in (archive.parent.parent, archive.parent):
        d.chmod(0o755)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, prefix=".dump-", suffix=".jsa")
    os.close(fd)
    os.unlink(tmp)  # the JVM writes it at exit
    log = open(archive.parent / "dump.log", "wb")  # noqa: SIM115 - closed by finish_dump
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS")}
    env["SPARK_HOME"] = str(paths.spark_home())  # the same classpath as analysts' drivers, or the JVM ignores it
    java_home = paths.java_home()
    if java_home:
        env["JAVA_HOME"] = java_home
    proc = subprocess.Popen(
        [sys.executable, "-m", "hunthub.driver_jvm", tmp],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
    )  # fmt: skip
    proc.hunthub_dump = (Path(tmp), archive, log)  # type: ignore[attr-defined]
    return proc


def finish_dump(proc: subprocess.Popen | None, say: Callable[[str], None] = print) -> Path | None:
    """Wait for a dump started by start_dump and put the archive in place, readable by all; drivers start without
    one (only slower) when it failed."""
    if proc is None:
        return None
    tmp, archive, log = proc.hunthub_dump  # type: ignore[attr-defined]
    try:
        proc.wait(DUMP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        say(f"      WARNING: no class-data-sharing archive for drivers (see {log.name}); they start without one")
        return None
    tmp.chmod(0o644)
    os.replace(tmp, archive)
    for old in archive.parent.glob("driver-classes-*.jsa"):
        if old != archive:
            old.unlink(missing_ok=True)
    return archive


def dump(target: Path) -> int:
    """Run a driver through what an analyst's first queries load, with a local master; its JVM writes the
    archive to `target` when it exits."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    props = {
        "spark.master": "local[1]",
        "spark.app.name": "hunthub-class-archive",
        "spark.ui.port": "0",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={target}",
    }
    conf = SparkConf(loadDefaults=False).setAll(props.items())
    gateway = launch_gateway(conf)
    SparkContext(conf=conf, gateway=gateway)
    spark = SparkSession.builder.getOrCreate()
    with tempfile.TemporaryDirectory() as scratch:
        data = f"{scratch}/t"
        spark.range(1000).selectExpr("id", "id % 7 as k", "cast(id as string) as s").write.parquet(data)
        spark.read.parquet(data).createOrReplaceTempView("t")
        spark.sql("select k, count(*), max(s) from t where id > 10 group by k order by k").collect()
        spark.sparkContext.parallelize(range(10), 2).map(lambda x: x * 2).sum()
    spark.stop()
    gateway.proc.stdin.close()  # the gateway JVM exits when its stdin closes, and writes the archive then
    return gateway.proc.wait(DUMP_TIMEOUT)


if __name__ == "__main__":
    sys.exit(dump(Path(sys.argv[1])))

"""Driver JVM start time and memory: stock settings vs. each small-driver option vs. their combination. See README.md.

Each contender is a fresh Python process that launches a driver JVM the way hunthub's kernels do (pyspark's
`launch_gateway` with the session's conf, so `spark.driver.extraJavaOptions` and `spark.driver.memory` reach the
JVM's command line), against one embedded standalone cluster, and reports:

- driver start -> SparkContext ready (and SparkSession built);
- the first query (`count(*)` of the demo `auth_events` Parquet; executor launch included);
- the driver JVM's PSS (`/proc/<pid>/smaps_rollup`) after that query, alone on the host;
- then 4 drivers at once (stock, the combination, hunthub's own): their mean PSS while all four are up, which is
  where a class-data-sharing archive mapped by every driver pays off (its pages are shared, so PSS splits them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import (  # noqa: E402 - a sibling script, not a package
    ROOT,
    _terminate,
    auth_event_count,
    git_state,
    log,
    start_cluster,
    summary,
    wait_until,
)

from hunthub import catalog, cluster  # noqa: E402
from hunthub.data import demo  # noqa: E402
from hunthub.processes import Supervisor  # noqa: E402
from hunthub.settings import HuntHub  # noqa: E402

CONCURRENT = 4
# the options tried, each alone and all together; "stock" is what pyspark does without being told anything
OPTIONS = {
    "serial-gc": {"java": ["-XX:+UseSerialGC"]},
    "c1-only": {"java": ["-XX:TieredStopAtLevel=1"]},
    "heap-512m": {"conf": {"spark.driver.memory": "512m"}},
    "xms-32m": {"java": ["-Xms32m"]},
    "cds": {"java": ["-XX:SharedArchiveFile={archive}"]},
}
LABELS = {
    "stock": "stock (1g heap, G1, tiered JIT)",
    "serial-gc": "-XX:+UseSerialGC",
    "c1-only": "-XX:TieredStopAtLevel=1",
    "heap-512m": "spark.driver.memory=512m (-Xmx)",
    "xms-32m": "-Xms32m (initial heap)",
    "cds": "CDS archive of the driver's classes",
    "combined": "all of the above",
    "combined-no-c1": "all but TieredStopAtLevel=1",
    "hunthub": "hunthub's drivers (hunthub.driver_jvm)",
}


def contender_props(kind: str, archive: Path) -> dict[str, str]:
    """The Spark properties that differ per contender (driver memory and extra JVM options)."""
    if kind == "hunthub":  # what kernel_environment gives analysts' drivers, with this run's archive
        from hunthub import driver_jvm
        from hunthub.settings import HuntHub

        java = [*driver_jvm.DRIVER_OPTIONS, f"-XX:SharedArchiveFile={archive}"]
        return {"spark.driver.memory": HuntHub().driver_memory, "spark.driver.extraJavaOptions": " ".join(java)}
    parts = {
        "stock": [],
        "combined": list(OPTIONS),
        "combined-no-c1": [o for o in OPTIONS if o != "c1-only"],
    }.get(kind, [kind])
    props: dict[str, str] = {"spark.driver.memory": "1g"}
    java: list[str] = []
    for part in parts:
        props.update(OPTIONS[part].get("conf", {}))
        java += [opt.format(archive=archive) for opt in OPTIONS[part].get("java", [])]
    if java:
        props["spark.driver.extraJavaOptions"] = " ".join(java)
    return props


# --- one driver, in its own process -------------------------------------------------------------------


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def maps_archive(pid: int, archive: Path) -> bool:
    return str(archive) in Path(f"/proc/{pid}/maps").read_text()


def child(spec: dict) -> int:
    """Start a driver with spec's properties, run the first query, report, then wait for 'stop' on stdin."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf(loadDefaults=False).setAll(spec["props"].items())
    t0 = time.perf_counter()
    with open(spec["log"], "ab") as out:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
    SparkContext(conf=conf, gateway=gateway)
    spark = SparkSession.builder.getOrCreate()
    ready = time.perf_counter() - t0
    t1 = time.perf_counter()
    count = spark.read.parquet(spec["table"]).count()
    query = time.perf_counter() - t1
    pid = gateway.proc.pid
    archive = Path(spec["archive"])
    report = {"ready": ready, "query": query, "count": count, "pid": pid, "pss_kb": pss_kb(pid),
              "cds_mapped": maps_archive(pid, archive)}  # fmt: skip
    print(json.dumps(report), flush=True)
    sys.stdin.readline()
    spark.stop()
    gateway.proc.stdin.close()  # the JVM exits when its stdin closes (and dumps a CDS archive if asked)
    gateway.proc.wait(120)
    return 0


class Driver:
    def __init__(self, name: str, props: dict, table: str, archive: Path, log_path: Path):
        spec = {"props": props, "table": table, "archive": str(archive), "log": str(log_path)}
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    def report(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the driver process ended without a report (see its log)")
        return json.loads(line)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(180)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --- the benchmark ------------------------------------------------------------------------------------


def base_props(s: HuntHub, name: str) -> dict[str, str]:
    # an analyst's share, as hunthub gives it; the UI on a free port (several drivers at once)
    return {"spark.master": s.master_url, "spark.app.name": name, "spark.cores.max": "1",
            "spark.executor.memory": "512m", "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.showConsoleProgress": "false", "spark.ui.port": "0"}  # fmt: skip


def wait_no_apps(s: HuntHub) -> None:
    wait_until(lambda: (st := cluster.master_state(s.spark_master_webui_port)) and not st["activeapps"],
               "the applications to leave the master", timeout=180)  # fmt: skip


def make_archive(s: HuntHub, state: Path, table: str, archive: Path) -> float:
    """Dump the classes a driver loads through its first query (JDK 17: -XX:ArchiveClassesAtExit)."""
    props = {**base_props(s, "cds-dump"), "spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={archive}"}
    t0 = time.perf_counter()
    d = Driver("cds-dump", props, table, archive, state / "cds-dump.log")
    d.report()
    d.stop()
    if not archive.exists():
        raise RuntimeError("the JVM wrote no CDS archive; see " + str(state / "cds-dump.log"))
    return time.perf_counter() - t0


def bench(runs: int, kinds: list[str], results: dict) -> None:
    from tests.harness import fresh_state_dir

    state = fresh_state_dir()
    sup = Supervisor(state / "run")
    try:
        log("starting a Spark master + worker ...")
        s = start_cluster(
            state, sup, worker_cores=CONCURRENT, worker_memory_mb=512 * CONCURRENT, executor_memory="512m"
        )
        table = str(catalog.local_path(catalog.load(s.catalog_path)[demo.TABLE].location(s.warehouse)))
        expected = auth_event_count(s)
        archive = state / "driver-cds.jsa"
        results["archive_dump_seconds"] = make_archive(s, state, table, archive)
        results["archive_mb"] = archive.stat().st_size / 2**20
        log(f"CDS archive: {results['archive_mb']:.0f} MB, dumped in {results['archive_dump_seconds']:.0f} s")
        wait_no_apps(s)
        single = results.setdefault("single", {})
        for i in range(runs + 1):
            # round 0 warms the fresh cluster (and the page cache) up and is not counted
            for kind in kinds[:: 1 if i % 2 else -1]:
                props = {**base_props(s, kind), **contender_props(kind, archive)}
                d = Driver(kind, props, table, archive, state / f"{kind}-{i}.log")
                try:
                    r = d.report()
                finally:
                    d.stop()
                if r["count"] != expected:
                    raise RuntimeError(f"{kind}: count {r['count']}, expected {expected}")
                if kind.startswith(("cds", "combined", "hunthub")) and not r["cds_mapped"]:
                    raise RuntimeError(f"{kind}: the driver did not map the CDS archive; see its log")
                log(f"  {'warm-up' if not i else f'run {i}/{runs}'} {kind:15} ready {r['ready']:5.1f} s, "
                    f"query {r['query']:5.1f} s, PSS {r['pss_kb'] / 1024:4.0f} MB")  # fmt: skip
                if i:
                    fig = single.setdefault(kind, {})
                    for key in ("ready", "query"):
                        fig.setdefault(key, []).append(r[key])
                    fig.setdefault("pss_mb", []).append(r["pss_kb"] / 1024)
                wait_no_apps(s)
        together = results.setdefault("concurrent", {})
        for i in range(runs):
            for kind in [k for k in ("stock", "combined", "hunthub") if k in kinds][:: 1 if i % 2 else -1]:
                drivers = [
                    Driver(f"{kind}{n}", {**base_props(s, f"{kind}{n}"), **contender_props(kind, archive)}, table,
                           archive, state / f"{kind}-x{CONCURRENT}-{i}-{n}.log")
                    for n in range(CONCURRENT)
                ]  # fmt: skip
                try:
                    reports = [d.report() for d in drivers]
                    # every driver is up and has answered: now their PSS splits what they share
                    pss = [pss_kb(r["pid"]) / 1024 for r in reports]
                finally:
                    for d in drivers:
                        d.stop()
                fig = together.setdefault(kind, {})
                fig.setdefault("ready", []).append(max(r["ready"] for r in reports))
                fig.setdefault("pss_mb", []).append(sum(pss) / len(pss))
                log(f"  {CONCURRENT} at once, {kind:9}: slowest ready {max(r['ready'] for r in reports):5.1f} s, "
                    f"mean PSS {sum(pss) / len(pss):4.0f} MB")  # fmt: skip
                wait_no_apps(s)
    finally:
        sup.stop_all()
        shutil.rmtree(state.parent, ignore_errors=True)


def report(results: dict, runs: int, elapsed: float, complete: bool, git: dict) -> None:
    single = {k: {m: summary(v) for m, v in ms.items()} for k, ms in results.get("single", {}).items()}
    together = {k: {m: summary(v) for m, v in ms.items()} for k, ms in results.get("concurrent", {}).items()}
    stock = single.get("stock")

    def ratio(kind: str, metric: str) -> str:
        if not stock or kind not in single:
            return "-"
        return f"{stock[metric]['median'] / single[kind][metric]['median']:.2f}x"

    def fig(stats: dict | None, unit: str, digits: int) -> str:
        if not stats:
            return "-"
        return f"{stats['median']:.{digits}f} {unit} [{stats['min']:.{digits}f}-{stats['max']:.{digits}f}]"

    print(f"\n{'driver JVM (median [min-max])':<40}{'start -> context ready':<24}{'first query':<22}"
          f"{'PSS after it':<22}ready  PSS")  # fmt: skip
    for kind, label in LABELS.items():
        if kind in single:
            f = single[kind]
            print(f"{label:<40}{fig(f['ready'], 's', 1):<24}{fig(f['query'], 's', 1):<22}"
                  f"{fig(f['pss_mb'], 'MB', 0):<22}{ratio(kind, 'ready'):<7}{ratio(kind, 'pss_mb')}")  # fmt: skip
    print("(ratios: stock median / this one; above 1 means faster to start, or less memory)")
    if together:
        print(f"\n{CONCURRENT} drivers at once{'':<22}{'slowest ready':<24}{'mean PSS':<22}")
        for kind in ("stock", "combined", "hunthub"):
            if kind in together:
                f = together[kind]
                print(f"{LABELS[kind]:<40}{fig(f['ready'], 's', 1):<24}{fig(f['pss_mb'], 'MB', 0):<22}")
    if "archive_mb" in results:
        print(f"\nCDS archive: {results['archive_mb']:.0f} MB, dumped in {results['archive_dump_seconds']:.0f} s")
    print(f"{runs} runs each; total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = Path(__file__).parent / "results" / f"driver-jvm-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "runs": runs, "seconds_total": elapsed, "cores": os.cpu_count(), "git": git,
           "labels": LABELS, "single": single, "concurrent": together, "archive_mb": results.get("archive_mb"),
           "archive_dump_seconds": results.get("archive_dump_seconds")}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (default 3)")
    parser.add_argument("--only", help="comma-separated contenders (default: all of " + ", ".join(LABELS) + ")")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    kinds = args.only.split(",") if args.only else list(LABELS)
    unknown = set(kinds) - set(LABELS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        bench(args.runs, kinds, results)
        complete = True
    finally:
        if results.get("single"):
            report(results, args.runs, time.monotonic() - t0, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Separating analysts' Spark task code (issue 13): tasks in the analyst's own driver against shared executors.

On a standalone cluster every analyst's executors run on the worker as one OS account (`hunthub-spark` on the
embedded one), so one analyst's UDF can read another's scratch and shuffle files. hunthub's embedded default runs
each kernel's tasks inside its own driver JVM (`local[<analyst_cores>]`), as the analyst. This measures what
that costs, the contenders in one run, on one embedded cluster (sized like an analyst's share on this machine:
2 worker cores, 1 core and a 1 GB executor per analyst) and one dataset:

- **shared**: the `hunthub-pyspark` kernel with what the hub gives an analyst's server with
  `HuntHub.analyst_tasks = "cluster"` (`kernel_environment(settings, tasks="cluster")`: the cluster's `spark://`
  master, dynamic allocation, executors on the worker);
- **own-driver** (the embedded default since issue 13): the same with `analyst_tasks = "driver"`
  (`local[<analyst_cores>]`, the driver given the executor's memory, no executor or dynamic-allocation settings),
  and `spark.local.dir` a 0700 folder of its own;
- **own-driver-c2** (`--c2`): own-driver without the drivers' C1-only JIT option (`-XX:TieredStopAtLevel=1`).

Per contender and round: kernel start -> idle, idle -> the answer of
`spark.sql("select count(*) from auth_events").first()[0]` sent the moment the kernel is idle ("time to the first
query"); a group-by over 10^7 security events (Parquet, generated once per run with Spark, world-readable so the
worker's account reads it), run twice in the same kernel; PSS (`/proc/<pid>/smaps_rollup`) summed over the
analyst's processes (the kernel, its driver JVM and the Python workers below it, and for shared the executor
JVMs of its application on the worker with their Python workers) right after that query, and again after the
executors' idle timeouts would have let them go. One uncounted warm-up round, then `--rounds` counted rounds in
alternating order. Ratios are own-driver median / shared median (above 1: own-driver is slower or bigger).

    .venv/bin/python benchmarks/bench_separation.py              # 3 rounds (~18 min on 2 cores)
    .venv/bin/python benchmarks/bench_separation.py --rounds 1 --idle 60
    .venv/bin/python benchmarks/bench_separation.py --c2     # + own-driver with the C2 JIT (~25 min)

Progress goes to stderr; the table to stdout; every run's figures, the two contenders' Spark properties and the
git state to `benchmarks/results/separation-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from jupyter_client import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import (  # noqa: E402 - a sibling script, not a package
    ROOT,
    _terminate,
    apps_finished,
    auth_event_count,
    bench_cluster,
    git_state,
    log,
    record,
    run_name,
    summary,
)

from hunthub import cluster, status  # noqa: E402

KERNEL = "hunthub-pyspark"
CONTENDERS = {
    "shared": "shared executors (today)",
    "own-driver": "driver-local executors",
    # --c2 only: the same without the small-driver option -XX:TieredStopAtLevel=1 (C1-only JIT, hunthub.driver_jvm),
    # which suits a driver that only plans, not one that runs the tasks
    "own-driver-c2": "driver-local executors, C2 JIT",
}
USERS = {"shared": "sepshared", "own-driver": "sepowndrv", "own-driver-c2": "sepownc2"}  # the application's name
HEADS = {"shared": "shared (today)", "own-driver": "own-driver (local[N])", "own-driver-c2": "own-driver, C2 JIT"}
FIRST_QUERY = 'spark.sql("select count(*) from auth_events").first()[0]'
ROWS = 10_000_000
DAY = datetime(2026, 12, 1, tzinfo=UTC)
# a shuffle like a hunt: the busiest hosts, their traffic and how many users touched them (host breaks ties)
BIG_QUERY = (
    "import time as _t, pyspark.sql.functions as _F\n"
    "_t0 = _t.perf_counter()\n"
    "_rows = (spark.read.parquet({path!r}).groupBy('host')\n"
    "    .agg(_F.count('*'), _F.sum('bytes'), _F.countDistinct('user'))\n"
    "    .orderBy(_F.desc('count(1)'), 'host').limit(10).collect())\n"
    "(_t.perf_counter() - _t0, [tuple(r) for r in _rows])"
)
METRICS = {
    "start_idle": ("kernel start -> kernel idle", "s"),
    "idle_first": ("kernel idle -> first answer (count auth_events)", "s"),
    "start_first": ("kernel start -> first answer", "s"),
    "big_1": ("10^7-event group-by, 1st run", "s"),
    "big_2": ("10^7-event group-by, 2nd run (same kernel)", "s"),
    "mem_after": ("PSS after the group-by, all processes", "MB"),
    "mem_after_kernel": ("  kernel (Python)", "MB"),
    "mem_after_driver": ("  driver JVM + its Python workers", "MB"),
    "mem_after_executors": ("  executor JVMs + their Python workers", "MB"),
    "mem_idle": ("PSS after the idle wait, all processes", "MB"),
    "mem_idle_driver": ("  driver JVM + its Python workers", "MB"),
    "mem_idle_executors": ("  executor JVMs + their Python workers", "MB"),
    "executors_gone": ("query end -> executors gone", "s"),
}


# --- the dataset -----------------------------------------------------------------------------------


def generate(path: Path, rows: int) -> None:
    """(In a child process: its JVM is gone when it exits.) `rows` security-event-like rows as Parquet, with a
    local[2] Spark session: event_time over one day, ~1000 hosts (skewed: a few busy ones), ~700 users,
    Windows event ids, source IPs, byte counts. Deterministic (hashes of the row number, no random state)."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-separation-data")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )

    def h(salt: int, n: int):
        return F.pmod(F.xxhash64("id", F.lit(salt)), F.lit(n))

    u = h(2, 1_000_000) / F.lit(1_000_000.0)
    events = F.array(*[F.lit(e) for e in (4624, 4625, 4634, 4648, 4672, 4688, 4768, 4769, 4776, 5140)])
    df = spark.range(0, rows, 1, 8).select(
        F.timestamp_millis(F.lit(int(DAY.timestamp() * 1000)) + h(1, 86_400_000)).alias("event_time"),
        F.format_string("host-%04d", F.floor(F.pow(u, F.lit(3.0)) * 1000).cast("int")).alias("host"),
        F.format_string("user%03d", h(3, 700).cast("int")).alias("user"),
        F.element_at(events, (h(4, 10) + 1).cast("int")).cast("int").alias("event_id"),
        F.format_string("10.%d.%d.%d", h(5, 4).cast("int"), h(6, 256).cast("int"), (h(7, 254) + 1).cast("int")).alias(
            "src_ip"
        ),
        h(8, 2_000_000).cast("long").alias("bytes"),
    )
    df.write.mode("overwrite").parquet(str(path))
    spark.stop()


def make_dataset(path: Path, rows: int, env: dict, log_path: Path) -> dict:
    """Generate the dataset once (a child process), world-readable; its size and the seconds it took."""
    t0 = time.perf_counter()
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--generate", str(path), "--rows", str(rows)],
            env={**env, "SPARK_LOCAL_IP": "127.0.0.1"}, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        try:
            rc = proc.wait(1800)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if rc != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"generating the dataset failed ({rc}):\n{tail}")
    # executors run as the worker's account (hunthub-spark) when the benchmark runs as root
    for d, _, files in os.walk(path):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    import pyarrow.dataset as ds

    data = sorted(path.glob("*.parquet"))
    count = ds.dataset(path, format="parquet").count_rows()
    if count != rows:
        raise RuntimeError(f"the dataset has {count} rows, not {rows}")
    return {"rows": count, "files": len(data), "bytes": sum(f.stat().st_size for f in data),
            "seconds": time.perf_counter() - t0}  # fmt: skip


# --- the contenders' environments --------------------------------------------------------------------


def contender_env(base: dict, s, kind: str, local_dir: Path | None) -> dict:
    """What the hub gives an analyst's server with `HuntHub.analyst_tasks` = cluster (shared) or driver (the
    own-driver kinds); `local_dir` for the shuffle and spill files (the kernel's default is the analyst's home)."""
    from hunthub.hub.config import kernel_environment

    env = {**base, **kernel_environment(s, tasks="cluster" if kind == "shared" else "driver")}
    env.update({"JUPYTERHUB_USER": USERS[kind], "HUNTHUB_KERNEL_WARM_DRIVER": "0"})
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    if local_dir is not None:
        conf["spark.local.dir"] = str(local_dir)
    if kind == "own-driver-c2":
        options = conf["spark.driver.extraJavaOptions"].split()
        conf["spark.driver.extraJavaOptions"] = " ".join(o for o in options if o != "-XX:TieredStopAtLevel=1")
    env["HUNTHUB_KERNEL_SPARK_CONF"] = json.dumps(conf, sort_keys=True)
    return env


# --- processes and memory ----------------------------------------------------------------------------


def is_java(p: status.Proc) -> bool:
    return Path(p.argv[0]).name == "java"


def executors_of(procs: list[status.Proc], app_id: str) -> list[status.Proc]:
    return [p for p in procs if p.app_id == app_id]


def analyst_processes(kernel_pid: int, app_id: str) -> dict[str, list[status.Proc]]:
    """The analyst's processes by role: the kernel, its driver JVM(s) and the Python workers below them, the
    executors of its application (on the worker) and their Python daemons/workers."""
    procs = status.scan_processes()
    children: dict[int, list[status.Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    roles: dict[str, list[status.Proc]] = {"kernel": [], "driver": [], "executors": []}

    def walk(p: status.Proc, role: str) -> None:
        roles[role].append(p)
        for c in children.get(p.pid, []):
            walk(c, "driver" if role == "kernel" and is_java(c) else role)

    for p in procs:
        if p.pid == kernel_pid:
            walk(p, "kernel")
    for p in executors_of(procs, app_id):
        walk(p, "executors")
    return roles


def memory(kernel_pid: int, app_id: str) -> dict:
    roles = analyst_processes(kernel_pid, app_id)
    mb = {role: sum(p.pss for p in ps) / 2**20 for role, ps in roles.items()}
    return {
        "total_mb": sum(mb.values()),
        "by_role_mb": mb,
        "processes": {
            role: [(p.pid, " ".join(p.argv)[:120], round(p.pss / 2**20, 1)) for p in ps] for role, ps in roles.items()
        },  # fmt: skip
        "executors": len([p for p in roles["executors"] if p.app_id == app_id]),
    }


def memory_text(m: dict) -> str:
    roles = ", ".join(f"{r} {v:.0f}" for r, v in m["by_role_mb"].items())
    return f"{m['total_mb']:.0f} MB ({roles}; {m['executors']} executors)"


def wait_gone(pids: set[int], what: str, timeout: float = 60) -> list[int]:
    """Wait until none of `pids` lives; kill (by pid) what is left after `timeout`; the pids killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not zombie(pid)]
        if not alive:
            return []
        time.sleep(0.5)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log(f"  WARNING: {what}: killed {alive}, still alive {timeout:.0f} s after the kernel's shutdown")
    return alive


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def strays(marker: str) -> list[str]:
    """Java processes still running whose command line or environment mentions `marker` (this run's state dir)."""
    found = []
    for p in status.scan_processes():
        if not is_java(p):
            continue
        try:
            environ = Path(f"/proc/{p.pid}/environ").read_bytes().decode(errors="replace")
        except OSError:
            environ = ""
        if marker in " ".join(p.argv) or marker in environ:
            found.append(f"{p.pid} {' '.join(p.argv)[:160]}")
    return found


# --- one contender, one round ----------------------------------------------------------------------------


def run_cell(kc, code: str, timeout: float = 600) -> tuple[str, str]:
    """Run `code`; (its execute_result as text/plain, its stdout)."""
    out: dict = {"stream": []}

    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out["stream"].append(content["text"])
        elif kind in ("execute_result", "error"):
            out[kind] = content.get("data", {}).get("text/plain") or f"{content.get('ename')}: {content.get('evalue')}"

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code[:80]!r} failed: {out.get('error')}")
    return out.get("execute_result", ""), "".join(out["stream"])


def one_round(kind: str, env: dict, i: int, ctx: dict) -> dict:
    """Start the kernel, time its first query and the 10^7 group-by twice, measure memory after it and after the
    idle wait (not in the warm-up round), shut it down and wait until all its processes are gone."""
    state, idle = ctx["state"], ctx["idle"]
    log_path = state / f"{kind}-{i}.log"
    km = KernelManager(kernel_name=KERNEL)
    times: dict = {}
    extra: dict = {}
    t0 = time.perf_counter()
    with open(log_path, "ab") as out:
        km.start_kernel(env=env, stdout=out, stderr=out)
    kc = km.client()
    seen: set[int] = set()
    app_id = ""
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=180)
        times["start_idle"] = time.perf_counter() - t0
        answer, _ = run_cell(kc, FIRST_QUERY)
        times["start_first"] = time.perf_counter() - t0
        times["idle_first"] = times["start_first"] - times["start_idle"]
        if answer != str(ctx["expected"]):
            raise RuntimeError(f"{kind}: first query answered {answer!r}, expected {ctx['expected']}")
        log(f"  {kind:10} {run_name(i, ctx['rounds'])}: start -> idle {times['start_idle']:5.1f} s, "
            f"idle -> first answer {times['idle_first']:5.1f} s")  # fmt: skip
        app_id = ast.literal_eval(run_cell(kc, "spark.sparkContext.applicationId")[0])
        master = run_cell(kc, "spark.sparkContext.master")[0]
        extra.update(app_id=app_id, master=ast.literal_eval(master))
        kernel_pid = km.provisioner.process.pid
        answers = []
        for n in (1, 2):
            log(f"  {kind:10} {run_name(i, ctx['rounds'])}: 10^7-event group-by, run {n} ...")
            seconds, rows = ast.literal_eval(run_cell(kc, BIG_QUERY.format(path=str(ctx["data"])), timeout=1800)[0])
            times[f"big_{n}"] = seconds
            answers.append(rows)
            log(f"  {kind:10} {run_name(i, ctx['rounds'])}: 10^7-event group-by, run {n}: {seconds:5.1f} s")
        query_end = time.monotonic()
        if answers[0] != answers[1]:
            raise RuntimeError(f"{kind}: the two runs of the group-by disagree")
        extra["answer"] = answers[0]
        time.sleep(2)
        m = memory(kernel_pid, app_id)
        seen |= {pid for ps in m["processes"].values() for pid, _, _ in ps}
        roles = m["by_role_mb"]
        times.update(mem_after=m["total_mb"], mem_after_kernel=roles["kernel"], mem_after_driver=roles["driver"],
                     mem_after_executors=roles["executors"])  # fmt: skip
        extra["memory_after"] = m
        log(f"  {kind:10} {run_name(i, ctx['rounds'])}: PSS after the group-by {memory_text(m)}")
        if kind != "shared":
            shuffles = list(ctx["local_dir"][kind].glob("blockmgr-*/*/shuffle_*"))
            extra["shuffle_files_in_private_local_dir"] = len(shuffles)
            if not shuffles:
                raise RuntimeError(f"own-driver: no shuffle files under its spark.local.dir {ctx['local_dir'][kind]}")
            if m["executors"]:
                raise RuntimeError("own-driver: executors on the worker, the master was not local")
        elif not m["executors"]:
            log("  WARNING: shared: no executor of the application is left right after the query")
        if i == 0:  # the warm-up round: what %spark says (untimed), and no idle wait
            extra["spark_magic"] = run_cell(kc, "%spark")[1]
        else:
            gone = None
            log(f"  {kind:10} {run_name(i, ctx['rounds'])}: idle {idle:.0f} s (past the executors' idle timeouts) ...")
            while (waited := time.monotonic() - query_end) < idle:
                if gone is None and not executors_of(status.scan_processes(), app_id):
                    gone = waited
                time.sleep(1)
            gone = gone if kind == "shared" else None  # own-driver never had executors to lose
            m = memory(kernel_pid, app_id)
            seen |= {pid for ps in m["processes"].values() for pid, _, _ in ps}
            times.update(mem_idle=m["total_mb"], mem_idle_driver=m["by_role_mb"]["driver"],
                         mem_idle_executors=m["by_role_mb"]["executors"])  # fmt: skip
            if kind == "shared" and gone is not None:
                times["executors_gone"] = gone
            extra["executors_gone_s"] = gone
            extra["memory_idle"] = m
            extra["idle_waited"] = time.monotonic() - query_end
            log(f"  {kind:10} {run_name(i, ctx['rounds'])}: PSS after {extra['idle_waited']:.0f} s idle "
                f"{memory_text(m)}" + (f"; executors gone {gone:.0f} s after the query" if gone else ""))  # fmt: skip
    except BaseException:
        log(f"--- {kind} kernel log ---\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        with contextlib.suppress(Exception):
            if app_id:  # whatever ran for it, also on failure
                procs = status.scan_processes()
                seen |= {p.pid for p in executors_of(procs, app_id)}
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        wait_gone(seen, f"{kind} kernel's processes")
    return {"times": times, "extra": extra}


def bench(args, results: dict, meta: dict) -> None:
    with bench_cluster() as (state, s, base, _pool):
        ctx = {"settings": s, "state": state, "idle": args.idle, "rounds": args.rounds}
        ctx["idle"] = args.idle if args.idle is not None else s.shuffle_idle_timeout + s.executor_idle_timeout + 20
        meta["idle_wait_s"] = ctx["idle"]
        meta["cluster"] = {"worker_cores": s.worker_cores, "analyst_cores": s.analyst_cores,
                           "executor_memory": s.executor_memory, "driver_memory": s.driver_memory,
                           "executor_idle_timeout": s.executor_idle_timeout,
                           "shuffle_idle_timeout": s.shuffle_idle_timeout,
                           "executor_yield_timeout": s.executor_yield_timeout}  # fmt: skip
        ctx["expected"] = auth_event_count(s)
        ctx["data"] = state / "events-1e7"
        log(f"generating {args.rows:,} events as Parquet (Spark, local[2], once) ...")
        meta["dataset"] = make_dataset(ctx["data"], args.rows, base, state / "generate.log")
        d = meta["dataset"]
        log(f"  {d['rows']:,} rows, {d['files']} files, {d['bytes'] / 2**20:.0f} MB, in {d['seconds']:.0f} s")
        kinds = ["shared", "own-driver"] + (["own-driver-c2"] if args.c2 else [])
        envs, ctx["local_dir"] = {}, {}
        for kind in kinds:
            local_dir = None
            if kind != "shared":
                # the analyst's own folder for shuffle and spill files (0700: nobody else's)
                ctx["local_dir"][kind] = local_dir = state / f"{kind}-local"
                local_dir.mkdir(mode=0o700)
            envs[kind] = contender_env(base, s, kind, local_dir)
        if not envs["shared"]["HUNTHUB_KERNEL_SPARK_MASTER"].startswith("spark://"):
            raise RuntimeError(
                f"the hub's cluster environment has master {envs['shared']['HUNTHUB_KERNEL_SPARK_MASTER']!r}"
            )
        meta["spark_conf"] = {k: json.loads(e["HUNTHUB_KERNEL_SPARK_CONF"]) for k, e in envs.items()}
        meta["master"] = {k: e["HUNTHUB_KERNEL_SPARK_MASTER"] for k, e in envs.items()}
        shared_apps = 0
        for i in range(args.rounds + 1):
            # round 0 warms the fresh cluster and the page cache up and is not counted; then alternating order
            for kind in kinds[:: 1 if i % 2 else -1]:
                r = one_round(kind, envs[kind], i, ctx)
                record(results.setdefault(kind, {}), i, r["times"])
                meta.setdefault("runs", {}).setdefault(kind, []).append({"round": i, **r})
                answers = meta.setdefault("answers", [])
                if answers and r["extra"]["answer"] != answers[0]:
                    raise RuntimeError(f"{kind} round {i}: the group-by's answer differs from the first one")
                answers.append(r["extra"]["answer"])
                if kind == "shared":
                    shared_apps += 1
                    apps_finished(s.spark_master_webui_port, USERS["shared"], shared_apps)
                else:
                    master = cluster.master_state(s.spark_master_webui_port) or {}
                    ran = [a for a in master.get("activeapps", []) + master.get("completedapps", [])
                           if a.get("name") == USERS[kind]]  # fmt: skip
                    if ran:
                        raise RuntimeError(f"{kind}: its application showed up on the cluster's master: {ran}")
        meta["answer"] = meta.pop("answers")[0]
        left = strays(str(state.parent))
        meta["stray_jvms_before_cluster_stop"] = left
        if len(left) > 2:  # the master and the worker
            log("  WARNING: JVMs of this run up before the cluster stops, besides the master and the worker:\n  "
                + "\n  ".join(left))  # fmt: skip
    meta["stray_jvms_after"] = left = strays(str(state.parent))
    if left:
        log("  WARNING: JVMs of this run still up after the cluster stopped:\n  " + "\n  ".join(left))
    else:
        log("no JVM of this run is left")


# --- report -----------------------------------------------------------------------------------


def cell(stats: dict | None, unit: str) -> str:
    if not stats:
        return "-"
    if unit == "MB":
        return f"{stats['median']:.0f} MB [{stats['min']:.0f}-{stats['max']:.0f}]"
    return f"{stats['median']:.1f} s [{stats['min']:.1f}-{stats['max']:.1f}]"


def ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or not b["median"]:
        return "-"
    return f"{a['median'] / b['median']:.2f}x"


def report(results: dict, meta: dict, args, elapsed: float, complete: bool, git: dict) -> None:
    figures = {kind: {m: summary(v) for m, v in ms.items()} for kind, ms in results.items()}
    kinds = [k for k in CONTENDERS if k in figures]
    others = kinds[1:] if kinds[:1] == ["shared"] else kinds
    sh = figures.get("shared", {})
    print(f"\n{'figure (median [min-max])':<50}" + "".join(f"{HEADS[k]:<24}" for k in kinds)
          + "  ".join(f"{'own/shared' if k == 'own-driver' else 'C2/shared':<10}" for k in others))  # fmt: skip
    for key, (label, unit) in METRICS.items():
        if any(key in figures[k] for k in kinds):
            cells = "".join(f"{cell(figures[k].get(key), unit):<24}" for k in kinds)
            print(f"{label:<50}{cells}" + "  ".join(f"{ratio(figures[k].get(key), sh.get(key)):<10}" for k in others))
    print(f"\n{args.rounds} counted rounds + 1 warm-up; idle wait {meta.get('idle_wait_s', 0):.0f} s after the "
          f"group-by; total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))  # fmt: skip
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = Path(__file__).parent / "results" / f"separation-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "rounds": args.rounds, "seconds_total": elapsed, "cores": os.cpu_count(),
           "git": git, "contenders": CONTENDERS, "metrics": {k: v[0] for k, v in METRICS.items()},
           "figures": figures, **meta}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds of each contender (default 3)")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"events in the generated dataset (default {ROWS:,})")
    parser.add_argument("--idle", type=float, help="seconds idle after the group-by before the second memory "
                        "figure (default: shuffle + executor idle timeouts + 20 s)")  # fmt: skip
    parser.add_argument("--c2", action="store_true", help="a third contender: own-driver with the C2 JIT (without "
                        "the small-driver option -XX:TieredStopAtLevel=1)")  # fmt: skip
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # the child that writes the dataset
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.rows)
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {}
    meta: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        bench(args, results, meta)
        complete = True
    finally:
        if results:
            report(results, meta, args, time.monotonic() - t0, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())

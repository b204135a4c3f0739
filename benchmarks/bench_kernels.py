"""Scala and Spark SQL kernels: kernel start -> first result, against stock `spark-shell` / `spark-sql`.

One embedded standalone cluster (as bench_startup.py starts it), the demo `auth_events` table; every contender
answers `select count(*) from auth_events`, timed from launch to the number. See README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from jupyter_client import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import (  # noqa: E402 - a sibling script, not a package
    ROOT,
    _terminate,
    apps_finished,
    auth_event_count,
    bench_cluster,
    cell,
    git_state,
    log,
    record,
    run_name,
    start_warm_driver,
    summary,
)

from hunthub import catalog, paths  # noqa: E402
from hunthub.data import demo  # noqa: E402

SCALA = 'spark.sql("select count(*) from auth_events").first.getLong(0)'
SQL = "select count(*) as n from auth_events"
KINDS = {
    # label, what it is
    "scala": "hunthub-scala kernel",
    "sql-warm": "hunthub-sql kernel, warm driver",
    "sql": "hunthub-sql kernel, cold",
    "spark-shell": "stock spark-shell",
    "spark-sql": "stock spark-sql CLI",
}


def kernel_answer(env: dict, kernel: str, code: str, expected: int, log_path: Path) -> float:
    """Seconds from asking jupyter_client for the kernel until `code`'s output shows `expected`."""
    km = KernelManager(kernel_name=kernel)
    t0 = time.perf_counter()
    with open(log_path, "ab") as out:
        km.start_kernel(env=env, stdout=out, stderr=out)
    kc = km.client()
    shown: list[str] = []

    def hook(msg):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            shown.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            shown.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            shown.append(f"{content['ename']}: {content['evalue']}")

    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=180)
        reply = kc.execute_interactive(code, timeout=300, output_hook=hook)
        elapsed = time.perf_counter() - t0
    except BaseException:
        log(f"--- {kernel} kernel log ---\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    text = "".join(shown)
    if reply["content"]["status"] != "ok" or not re.search(rf"\b{expected}\b", text):
        raise RuntimeError(f"{kernel}: expected {expected} in the output, got {text[-400:]!r}")
    return elapsed


def stock_answer(argv: list[str], stdin: str | None, expected: int, env: dict, log_path: Path) -> float:
    """Seconds from launching a stock Spark shell until its output shows `expected`."""
    t0 = time.perf_counter()
    with open(log_path, "ab") as err:
        # cwd: spark-sql's embedded Hive metastore (derby) and warehouse land in its working directory
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, text=True, cwd=log_path.parent
        )
    found = threading.Event()
    seen: list[str] = []

    def read():
        for line in proc.stdout:
            seen.append(line)
            if re.search(rf"\b{expected}\b", line):
                found.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.flush()
        if not found.wait(300):
            raise RuntimeError(f"{argv[0]}: no {expected} within 300 s; output: {''.join(seen)[-400:]!r}")
        return time.perf_counter() - t0
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench(runs: int, results: dict) -> None:
    with bench_cluster() as (state, s, base, pool):
        envs = {
            "scala": {**base, "JUPYTERHUB_USER": "scala", "HUNTHUB_KERNEL_WARM_DRIVER": "0"},
            "sql": {**base, "JUPYTERHUB_USER": "sql", "HUNTHUB_KERNEL_WARM_DRIVER": "0"},
            "sql-warm": {**base, "JUPYTERHUB_USER": "sqlwarm", "HUNTHUB_KERNEL_WARM_DRIVER_DIR": str(pool)},
        }
        path = catalog.local_path(catalog.load(s.catalog_path)[demo.TABLE].location(s.warehouse))
        expected = auth_event_count(s)
        spark_bin = paths.spark_home() / "bin"
        # the same share of the cluster hunthub gives an analyst
        share = ["--master", s.master_url, "--conf", "spark.cores.max=1", "--conf", "spark.executor.memory=1g",
                 "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.showConsoleProgress=false"]  # fmt: skip
        stock = {
            "spark-shell": (
                [str(spark_bin / "spark-shell"), *share, "--name", "spark-shell"],
                f'spark.read.parquet("{path}").count()\n:quit\n',
                "spark-shell",
            ),
            "spark-sql": (
                [
                    str(spark_bin / "spark-sql"),
                    *share,
                    "--name",
                    "spark-sql",
                    "-e",
                    f"select count(*) from parquet.`{path}`",
                ],
                None,
                "spark-sql",
            ),
        }
        stock_env = {**base, "SPARK_LOCAL_IP": "127.0.0.1"}
        order = ["scala", "spark-shell", "sql", "spark-sql", "sql-warm"]
        for i in range(runs + 1):
            # round 0 warms the fresh cluster up and is not counted; then alternating order
            for kind in order[:: 1 if i % 2 else -1]:
                log_path = state / f"{kind}-{i}.log"
                if kind in stock:
                    argv, stdin, app = stock[kind]
                    seconds = stock_answer(argv, stdin, expected, stock_env, log_path)
                else:
                    env = envs[kind]
                    if kind == "sql-warm":
                        start_warm_driver(env, pool, state / f"warm-host-{i}.log")
                    kernel, code = ("hunthub-scala", SCALA) if kind == "scala" else ("hunthub-sql", SQL)
                    seconds = kernel_answer(env, kernel, code, expected, log_path)
                    app = env["JUPYTERHUB_USER"]
                log(f"  {run_name(i, runs)} {kind:12}: first result {seconds:5.1f} s")
                record(results.setdefault(kind, {}), i, {"first_result": seconds})
                apps_finished(s.spark_master_webui_port, app, i + 1)


def report(results: dict, runs: int, elapsed: float, complete: bool, git: dict) -> None:
    import json

    figures = {kind: {m: summary(v) for m, v in ms.items()} for kind, ms in results.items()}
    first = {k: figures.get(k, {}).get("first_result") for k in KINDS}
    print(f"\n{'launch -> count(*) of auth_events':<36}{'median [min-max]':<22}vs stock")
    for kind, label in KINDS.items():
        stock = first["spark-shell"] if kind == "scala" else first["spark-sql"]
        ours = kind in ("scala", "sql", "sql-warm") and first[kind] and stock
        ratio = f"{stock['median'] / first[kind]['median']:.2f}x" if ours else ""
        print(f"{label:<36}{cell(first[kind]):<22}{ratio}")
    print("(vs stock: the stock tool's median / ours; above 1 means the hunthub kernel answers sooner)")
    print(f"\n{runs} runs each; total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = Path(__file__).parent / "results" / f"kernels-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "runs": runs, "seconds_total": elapsed, "cores": os.cpu_count(), "git": git,
           "kinds": KINDS, "figures": figures}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per contender (default 5)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        bench(args.runs, results)
        complete = True
    finally:
        if results:
            report(results, args.runs, time.monotonic() - t0, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())

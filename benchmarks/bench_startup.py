"""How long until an analyst gets a first Spark result: hunthub vs. the plain upstream way. See README.md.

(b) kernel start -> first Spark result, on one embedded standalone cluster this script starts:
    the `hunthub-pyspark` kernel vs. the stock `python3` ipykernel building its own SparkSession.
(a) login -> notebook usable, in headless Chromium against a real `hunthub up`, one fresh analyst per run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from jupyter_client import KernelManager
from traitlets.config import Config

from hunthub import catalog, cluster
from hunthub.data import demo
from hunthub.hub.config import kernel_environment
from hunthub.processes import Supervisor
from hunthub.settings import HuntHub

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the shared helpers of the test tiers (tests.harness, ...)

EVENTS = 20_000  # demo dataset size (rows over its event tables), as in the test harness's `hunthub up`
QUERY = 'spark.sql("select count(*) from auth_events").first()[0]'
PLAIN = (
    "import findspark; findspark.init(); from pyspark.sql import SparkSession; "
    "spark = SparkSession.builder.master({master!r}).appName('plain').config('spark.cores.max','1')"
    ".config('spark.executor.memory','1g').getOrCreate(); "
    "spark.read.parquet({path!r}).createOrReplaceTempView('auth_events'); " + QUERY.replace('"', "'")
)
PASSWORD = "Tr0ub4dor-and-3"
NOTEBOOK = "00-start-here.ipynb"
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
METRICS = {
    "kernel_spark": "kernel start -> first Spark result",
    "kernel_trivial": "kernel start -> first trivial cell",
    "server_ready": "login -> server ready",
    "notebook_idle": "login -> notebook usable (kernel idle)",
    "notebook_spark": "login -> first Spark result in notebook",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def wait_until(check, what: str, timeout: float = 120, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def apps_finished(master_ui: int, name: str, runs: int) -> None:
    """Wait until no application is active on the master; check `name` has run on the cluster `runs` times."""
    state = wait_until(
        lambda: (s := cluster.master_state(master_ui)) is not None and not s["activeapps"] and s,
        "the application to leave the master",
    )
    ran = sum(a["name"] == name for a in state["completedapps"])
    if ran < runs:
        raise RuntimeError(f"application {name!r} ran {ran} times on the cluster, not {runs}")


def run_name(i: int, runs: int) -> str:
    return f"run {i}/{runs}" if i else "warm-up"


def record(figures: dict, i: int, times: dict[str, float]) -> None:
    for key, value in times.items():
        figures.setdefault(key if i else f"warmup_{key}", []).append(value)


# --- (b) kernel start -> first Spark result -------------------------------------------------------


def start_cluster(state: Path, sup: Supervisor, **sizes) -> HuntHub:
    """Master + worker + demo data, as tests/integration/conftest.py does; sized like an analyst's share unless
    `sizes` (HuntHub settings: worker_cores, worker_memory_mb, executor_memory) say otherwise."""
    from tests.harness import free_ports

    master, master_ui, worker_ui = free_ports(3)
    s = HuntHub(config=Config(HuntHub={
        "state_dir": str(state), "spark_master_port": master, "spark_master_webui_port": master_ui,
        "spark_worker_webui_port": worker_ui, "worker_cores": 2, "analyst_cores": 1, "executor_memory": "1g",
        "analyst_tasks": "cluster",  # these benchmarks measure kernels on the cluster's executors
        **sizes,
    }))  # fmt: skip
    state.mkdir(parents=True, exist_ok=True)
    cluster.start(sup, s)
    warehouse = state / "warehouse"
    warehouse.mkdir(mode=0o755)
    demo.ensure(warehouse, Path(s.catalog_path), EVENTS)
    return s


def auth_event_count(s: HuntHub) -> int:
    """What `count(*)` over auth_events must answer, read from its Parquet without Spark."""
    import pyarrow.dataset as ds

    path = catalog.local_path(catalog.load(s.catalog_path)[demo.TABLE].location(s.warehouse))
    return ds.dataset(path, format="parquet", partitioning="hive").count_rows()


def run_cell(kc, code: str) -> str:
    """Run `code` in the kernel; its result as text/plain (what the notebook shows as Out[ ])."""
    out = {}

    def hook(msg):
        if msg["msg_type"] in ("execute_result", "error"):
            out[msg["msg_type"]] = msg["content"].get("data", {}).get("text/plain") or msg["content"].get("evalue")

    reply = kc.execute_interactive(code, timeout=300, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r} failed: {out.get('error')}")
    return out.get("execute_result", "")


def time_kernel(env: dict, kernel: str, code: str, expected: int, log_path: Path) -> tuple[float, float]:
    """Seconds from asking jupyter_client for the kernel to the answer of `1+1`, then of `code`."""
    km = KernelManager(kernel_name=kernel)
    t0 = time.perf_counter()
    with open(log_path, "ab") as out:  # the kernel's (and its JVM's) chatter
        km.start_kernel(env=env, stdout=out, stderr=out)
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        answers = [run_cell(kc, "1+1"), time.perf_counter() - t0, run_cell(kc, code), time.perf_counter() - t0]
    except BaseException:
        log(f"--- {kernel} kernel log ---\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    if answers[0::2] != ["2", str(expected)]:
        raise RuntimeError(f"{kernel}: expected 2 and {expected}, got {answers[0::2]}")
    return answers[1], answers[3]


def start_warm_driver(env: dict, pool: Path, log_path: Path) -> None:
    """What the warm-pool server extension does in an analyst's server; waits until the driver is on offer."""
    with open(log_path, "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "hunthub.kernels.warm_driver", "--dir", str(pool), "--ttl", "600"],
            env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    wait_until(lambda: list(pool.glob("*.ready.json")), "the warm driver", timeout=180)


@contextlib.contextmanager
def bench_cluster():
    """A fresh state dir with a running cluster and demo data: (state, settings, kernel env, warm-pool dir).
    Everything is stopped and removed on the way out, also on Ctrl-C or failure."""
    from tests.harness import fresh_state_dir

    state = fresh_state_dir()
    sup = Supervisor(state / "run")
    try:
        log("starting a Spark master + worker ...")
        s = start_cluster(state, sup)
        base = {**os.environ, **kernel_environment(s), "HUNTHUB_KERNEL_DRIVER_LOG_DIR": str(state / "driver-logs")}
        pool = state / "warm-pool"
        pool.mkdir(mode=0o700)
        yield state, s, base, pool
    finally:
        sup.stop_all()
        shutil.rmtree(state.parent, ignore_errors=True)


def kernel_bench(runs: int, results: dict) -> None:
    with bench_cluster() as (state, s, base, pool):
        envs = {
            # the kernel's own cold start: no warm driver to adopt
            "hunthub": {**base, "JUPYTERHUB_USER": "bench", "HUNTHUB_KERNEL_WARM_DRIVER": "0"},
            # what an analyst's server normally gives: a warm driver started beforehand (not timed)
            "hunthub-warm": {**base, "JUPYTERHUB_USER": "benchwarm", "HUNTHUB_KERNEL_WARM_DRIVER_DIR": str(pool)},
            "plain": {**base, "JUPYTERHUB_USER": "bench"},
        }
        path = catalog.load(s.catalog_path)[demo.TABLE].location(s.warehouse)
        expected = auth_event_count(s)
        kinds = {
            "hunthub": ("hunthub-pyspark", QUERY, "bench"),
            "hunthub-warm": ("hunthub-pyspark", QUERY, "benchwarm"),
            "plain": ("python3", PLAIN.format(master=s.master_url, path=path), "plain"),
        }
        for i in range(runs + 1):
            # round 0 warms up the fresh cluster (its first application is much slower) and is not counted;
            # then alternating order, so no side always runs first
            for kind in ("hunthub", "plain", "hunthub-warm")[:: 1 if i % 2 else -1]:
                kernel, code, app = kinds[kind]
                env = envs[kind]
                if kind == "hunthub-warm":
                    start_warm_driver(env, pool, state / f"warm-host-{i}.log")
                trivial, spark = time_kernel(env, kernel, code, expected, state / f"{kind}-{i}.log")
                log(f"  kernel {run_name(i, runs)} {kind:7}: 1+1 {trivial:5.1f} s, Spark result {spark:5.1f} s")
                record(results.setdefault(kind, {}), i, {"kernel_trivial": trivial, "kernel_spark": spark})
                apps_finished(s.spark_master_webui_port, app, i + 1)


# --- (a) login -> notebook usable ---------------------------------------------------------------


class Hub:
    """The hub's front door through `requests`, as the admin: sign analysts up, approve them, stop servers."""

    def __init__(self, base: str):
        self.base, self.http = base, requests.Session()

    def _xsrf(self, path: str) -> str:
        r = self.http.get(self.base + path)
        r.raise_for_status()
        return re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)

    def login(self, user: str, password: str) -> None:
        form = {"_xsrf": self._xsrf("/hub/login"), "username": user, "password": password}
        r = self.http.post(self.base + "/hub/login", data=form, allow_redirects=False)  # no spawn for the admin
        if r.status_code != 302:
            raise RuntimeError(f"admin login failed: {r.status_code}")
        self.http.headers["X-XSRFToken"] = self.http.cookies["_xsrf"]

    def signup_and_approve(self, user: str) -> None:
        with requests.Session() as anon:
            page = anon.get(self.base + "/hub/signup").text
            form = {"_xsrf": re.search(r'name="_xsrf" value="([^"]+)"', page).group(1), "username": user,
                    "signup_password": PASSWORD, "signup_password_confirmation": PASSWORD}  # fmt: skip
            r = anon.post(self.base + "/hub/signup", data=form)
            if "sent to the admin" not in r.text:
                raise RuntimeError(f"sign-up of {user} failed: {r.status_code}")
        form = {"_xsrf": self._xsrf("/hub/authorize")}
        self.http.post(f"{self.base}/hub/authorize/{user}", data=form).raise_for_status()

    def stop_server(self, user: str) -> None:
        self.http.delete(f"{self.base}/hub/api/users/{user}/server").raise_for_status()
        wait_until(lambda: not self.http.get(f"{self.base}/hub/api/users/{user}").json()["servers"], "server stop")


def kernel_connected(page, base: str, user: str) -> bool:
    r = page.request.get(f"{base}/user/{user}/api/kernels")
    return r.ok and any(k["connections"] for k in r.json())


def time_login(page, base: str, user: str) -> dict[str, float]:
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    t0 = time.perf_counter()
    page.click("#login_submit")
    # /user/<name>/ is only ever committed once the server is up (before, the hub shows spawn-pending)
    page.wait_for_url(re.compile(rf".*/user/{user}/.*"), wait_until="commit", timeout=180_000)
    times = {"server_ready": time.perf_counter() - t0}
    page.goto(f"{base}/user/{user}/notebooks/{NOTEBOOK}", wait_until="commit")
    # the indicator says 'idle' already before the notebook has a kernel (and Run All then runs nothing):
    # only its 'idle' once the server has the notebook's kernel connected counts
    wait_until(lambda: kernel_connected(page, base, user), "the notebook's kernel", 180, every=0.1)
    page.locator(IDLE).first.wait_for(timeout=180_000)
    times["notebook_idle"] = time.perf_counter() - t0
    page.get_by_role("menuitem", name="Run").click()
    page.locator("li[data-command='runmenu:run-all']").click()
    started = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]")).first
    started.wait_for(timeout=10_000)  # else Run All ran nothing
    page.get_by_text(re.compile(r"auth_events: \d+ events")).wait_for(timeout=300_000)
    times["notebook_spark"] = time.perf_counter() - t0
    return times


def login_bench(runs: int, results: dict) -> None:
    from tests.e2e.browser import browser, screenshot
    from tests.harness import Stack, fresh_state_dir, stack_env

    state = fresh_state_dir()
    stack = Stack(stack_env(state))
    users = [f"bench{uuid.uuid4().hex[:6]}" for _ in range(runs + 1)]  # the first one warms up the stack
    try:
        log("starting hunthub up ...")
        stack.wait_up()
        master_ui = int(stack.env["HUNTHUB_SPARK_MASTER_WEBUI_PORT"])
        hub = Hub(stack.url)
        hub.login("admin", stack.admin_password)
        for user in users:
            hub.signup_and_approve(user)
        with browser() as b:
            for i, user in enumerate(users):
                ctx = b.new_context()
                page = ctx.new_page()
                try:
                    times = time_login(page, stack.url, user)
                except Exception:
                    log(f"  screenshot: {screenshot(page, 'bench-login')}\n{stack.dump_logs()}")
                    raise
                finally:
                    ctx.close()
                log(f"  login {run_name(i, runs)}: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
                record(results.setdefault("stack", {}), i, times)
                hub.stop_server(user)
                apps_finished(master_ui, user, 1)
    finally:
        stack.stop()
        shutil.rmtree(state.parent, ignore_errors=True)
        if os.geteuid() == 0:  # the spawner made a system account per analyst
            for user in users:
                subprocess.run(["userdel", f"hunt-{user}"], capture_output=True)


# --- report -----------------------------------------------------------------------------------


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def cell(stats: dict | None) -> str:
    return f"{stats['median']:.1f} s [{stats['min']:.1f}-{stats['max']:.1f}]" if stats else "-"


def git_state() -> dict:
    """The code measured (at the start): the commit and the files that differ from it."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    status = subprocess.run([*git, "status", "--short", "--untracked-files=no"], capture_output=True, text=True)
    return {"commit": commit, "modified": status.stdout.split("\n")[:-1]}


def report(results: dict, args, elapsed: float, complete: bool, git: dict) -> None:
    figures = {kind: {m: summary(v) for m, v in ms.items()} for kind, ms in results.items()}
    kinds = ("hunthub-warm", "hunthub", "plain")
    heads = ["hunthub, warm driver", "hunthub, cold", "plain upstream way"]
    print(f"\n{'metric (median [min-max])':<40}" + "".join(f"{h:<26}" for h in heads) + "plain/warm  plain/cold")
    for key, label in list(METRICS.items())[:2]:
        w, h, p = (figures.get(kind, {}).get(key) for kind in kinds)
        if w or h or p:
            ratios = [f"{p['median'] / x['median']:.2f}" if x and p else "-" for x in (w, h)]
            print(f"{label:<40}{cell(w):<26}{cell(h):<26}{cell(p):<26}{ratios[0]:<12}{ratios[1]}")
    if "stack" in figures:
        print(f"\n{'a real `hunthub up`, in Chromium':<40}hunthub (median [min-max])")
        for key, label in list(METRICS.items())[2:]:
            print(f"{label:<40}{cell(figures['stack'].get(key))}")
    print(f"\n{args.runs} runs each; total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = Path(__file__).parent / "results" / f"startup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "runs": args.runs, "only": args.only, "seconds_total": elapsed,
           "cores": os.cpu_count(), "git": git, "metrics": METRICS, "figures": figures}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def _terminate(*_):
    raise KeyboardInterrupt  # so every `finally` cleans up on SIGTERM as on Ctrl-C


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--only", choices=["kernel", "login"], help="only one of the two benchmarks")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        if args.only in (None, "kernel"):
            kernel_bench(args.runs, results)
        if args.only in (None, "login"):
            login_bench(args.runs, results)
        complete = True
    finally:
        if results:
            report(results, args, time.monotonic() - t0, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())

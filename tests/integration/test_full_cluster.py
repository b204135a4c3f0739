"""A full cluster is never silent: kernels and `hunthub ingest` say who holds the cores while their jobs wait.

Two other analysts' applications (alice and bob: small PySpark drivers holding one executor core each, dynamic
allocation off) take both cores of the fixture's worker. A job started then waits for cores: the cell must show
a waiting line within 15 s naming alice and bob, and complete once one of them lets go; `hunthub ingest` must say
the same on stderr, give up after --max-wait with advice, and write nothing. Every holder is stopped at the end
of its test, so the session's shared cluster gets its cores back.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hunthub import catalog, spark_share
from tests.harness import HUNTHUB
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration

HOLDER = """\
import sys
from pyspark.sql import SparkSession

master, name = sys.argv[1], sys.argv[2]
spark = (
    SparkSession.builder.master(master).appName(name)
    .config("spark.cores.max", "1").config("spark.executor.memory", "512m")
    .config("spark.dynamicAllocation.enabled", "false").config("spark.ui.enabled", "false")
    .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    .getOrCreate()
)
print(spark.sparkContext.applicationId, flush=True)
sys.stdin.readline()  # hold the executor until told to stop
spark.stop()
"""
SHOW_WITHIN = 15  # seconds: what the product promises for the waiting line
WAIT = 240  # generous: other test suites load this machine too


def master_json(spark_cluster) -> dict:
    url = f"http://127.0.0.1:{spark_cluster.settings.spark_master_webui_port}/json/"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def wait_until(what: str, check, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Holders:
    """Other analysts' applications that hold executor cores until released."""

    def __init__(self, spark_cluster, script: Path):
        self.cluster = spark_cluster
        self.script = script
        self.procs: dict[str, subprocess.Popen] = {}

    def take(self, *names: str) -> spark_share.Share:
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
        for name in names:
            self.procs[name] = subprocess.Popen(
                [sys.executable, str(self.script), self.cluster.master_url, name],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip

        def holding():
            share = spark_share.parse(master_json(self.cluster))
            held = {a.name: a.cores for a in share.holders}
            return share if all(held.get(n) == 1 for n in names) else None

        return wait_until(f"{names} to hold a core each", holding)

    def release(self, name: str) -> None:
        proc = self.procs.pop(name)
        try:
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(30)

    def release_all(self) -> None:
        for name in list(self.procs):
            self.release(name)
        wait_until("the holders' applications to leave the master", lambda: not self._mine_left())

    def _mine_left(self) -> bool:
        return any(a["name"] in ("alice", "bob") for a in master_json(self.cluster).get("activeapps", []))


@pytest.fixture
def holders(spark_cluster, tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    # cores other test modules' kernels still hold come back when those end
    wait_until("both worker cores to be free", lambda: spark_share.parse(master_json(spark_cluster)).free == 2)
    h = Holders(spark_cluster, script)
    try:
        yield h
    finally:
        h.release_all()


@dataclass
class Cell:
    status: str = "?"
    text: str = ""  # stream output + text/plain results
    html: str = ""
    error: dict | None = None
    displays: list = field(default_factory=list)  # (msg_type, display_id, text/plain, seconds after the start)


def run_cell(kernel: Kernel, code: str, on_display=None, timeout: float = 600) -> Cell:
    """Run a cell, calling on_display(text, seconds since the cell started) for each display message. The
    reply is the one to this cell's request: under load jupyter_client's start can leave extra kernel_info
    replies on the shell channel."""
    started = time.monotonic()
    msg_id = kernel.kc.execute(code)
    out = Cell()
    deadline = started + timeout
    while True:
        try:
            msg = kernel.kc.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the cell did not finish in {timeout} s: {out}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        at = time.monotonic() - started
        if kind == "stream":
            out.text += content["text"]
        elif kind == "execute_result":
            out.text += content["data"].get("text/plain", "") + "\n"
            out.html += content["data"].get("text/html", "")
        elif kind in ("display_data", "update_display_data"):
            text = content["data"].get("text/plain", "")
            out.displays.append((kind, content.get("transient", {}).get("display_id"), text, at))
            if kind == "display_data":
                out.text += text + "\n"
                out.html += content["data"].get("text/html", "")
            if on_display is not None:
                on_display(text, at)
        elif kind == "error":
            out.error = content
        elif kind == "status" and content["execution_state"] == "idle":
            break
    out.status = kernel.reply_to(msg_id)["content"]["status"]
    return out


def waiting_displays(out: Cell) -> list[tuple]:
    return [d for d in out.displays if d[2].startswith(("Waiting", "Waited"))]


def assert_waited_then_ran(out: Cell):
    """The first waiting line came within SHOW_WITHIN s, named alice and bob with a core each and no free core;
    the same display was then updated to say how long the job waited."""
    shown = waiting_displays(out)
    assert shown, out
    kind, display_id, text, at = shown[0]
    print(f"waiting line {at:.1f} s after the cell started: {text}\nthen: {shown[-1][2]}")
    assert kind == "display_data" and display_id
    assert at <= SHOW_WITHIN, f"the waiting line came after {at:.1f} s: {text}"
    assert "0 of 2 cores free" in text and "held by alice 1 core, bob 1" in text, text
    assert all(d[1] == display_id for d in shown[1:]), shown  # updated in place, not a new output each time
    last = shown[-1]
    assert last[0] == "update_display_data" and last[2].startswith("Waited "), shown


def release_bob_when_waiting(holders: Holders):
    def on_display(text: str, at: float):
        if text.startswith("Waiting") and "bob" in holders.procs:
            holders.release("bob")

    return on_display


def test_a_pyspark_cell_says_who_holds_the_cores_until_it_gets_one(spark_cluster, holders):
    kernel = Kernel(spark_cluster.kernel_env(user="carol", HUNTHUB_KERNEL_WARM_DRIVER="0"))
    try:
        # the session up first, so what is timed below is the wait of the job alone
        ready = run_cell(kernel, "print(spark.version)", timeout=WAIT)
        assert ready.status == "ok", ready.error
        share = holders.take("alice", "bob")
        assert (share.cores, share.free) == (2, 0)

        out = run_cell(
            kernel, "spark.range(1, 1001).selectExpr('sum(id) as s').first().s", release_bob_when_waiting(holders)
        )

        assert out.status == "ok", out.error
        assert out.text.strip().endswith("500500")
        assert_waited_then_ran(out)

        status = run_cell(kernel, "%spark")
        assert status.status == "ok", status.error
        print(status.text)
        assert "'carol'" in status.text and "Executors held now: 1, 1 core" in status.text, status.text
        assert "Cluster: 0 of 2 cores free; this session holds 1, the others: alice 1 core" in status.text
        assert "Running jobs: none" in status.text
        assert "Dynamic allocation is" in status.text
    finally:
        kernel.shutdown()


def test_the_banner_names_the_spark_magic(spark_cluster):
    kernel = Kernel(spark_cluster.kernel_env(user="erin", HUNTHUB_KERNEL_WARM_DRIVER="0"))
    try:
        first = run_cell(kernel, "spark.range(3).count()", timeout=WAIT)
        assert first.status == "ok", first.error
        assert "%spark shows what you hold" in first.text
        assert "<code>%spark</code>" in first.html
        assert not waiting_displays(run_cell(kernel, "spark.range(5).count()"))  # cores free: no line
    finally:
        kernel.shutdown()


def test_a_sql_cell_waits_visibly_and_answers(spark_cluster, holders, auth_events):
    env = spark_cluster.kernel_env(user="dave", HUNTHUB_KERNEL_WARM_DRIVER="0")
    kernel = Kernel(env, name="hunthub-sql")
    try:
        ready = run_cell(kernel, "SHOW TABLES", timeout=WAIT)  # the session up; listing temp views runs no job
        assert ready.status == "ok", ready.error
        holders.take("alice", "bob")

        out = run_cell(kernel, "SELECT count(*) AS n FROM auth_events", release_bob_when_waiting(holders))

        assert out.status == "ok", out.error
        assert str(auth_events.num_rows) in out.text
        assert_waited_then_ran(out)

        status = run_cell(kernel, "%spark")
        assert status.status == "ok", status.error
        assert "'dave'" in status.text and "Executors held now: 1, 1 core" in status.text, status.text
        assert "the others: alice 1 core" in status.text
    finally:
        kernel.shutdown()


def test_a_scala_cell_waits_visibly_and_answers(spark_cluster, holders):
    kernel = Kernel(spark_cluster.kernel_env(user="frank", HUNTHUB_KERNEL_WARM_DRIVER="0"), "hunthub-scala")
    try:
        ready = run_cell(kernel, "spark.version", timeout=WAIT)
        assert ready.status == "ok", ready.error
        holders.take("alice", "bob")

        out = run_cell(kernel, "spark.range(1, 1001).selectExpr(\"sum(id)\").first().getLong(0)",
                              release_bob_when_waiting(holders))  # fmt: skip

        assert out.status == "ok", out.error
        assert out.text.strip().endswith("= 500500")
        assert_waited_then_ran(out)

        status = run_cell(kernel, "%spark")
        assert status.status == "ok", status.error
        assert "'frank'" in status.text and "Executors held now: 1, 1 core" in status.text, status.text
    finally:
        kernel.shutdown()


def test_a_real_master_json_parses_as_the_unit_tests_expect(spark_cluster, holders):
    share = holders.take("alice", "bob")
    doc = master_json(spark_cluster)
    assert {"id", "name", "user", "cores", "memoryperexecutor", "state", "starttime"} <= set(doc["activeapps"][0])
    assert spark_share.holders_text(share) == "alice 1 core, bob 1"
    assert {a.memory_per_executor_mb for a in share.holders} == {512}


# --- hunthub ingest -------------------------------------------------------------------------------------

CSV = "timestamp,user,src_ip\n2026-11-02T08:00:01Z,alice,10.10.0.5\n2026-11-02T08:00:02Z,bob,10.10.0.6\n"


def warehouse_listing(spark_cluster) -> dict[str, tuple[int, int]]:
    root = catalog.local_path(spark_cluster.settings.warehouse)
    files = {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}
    files["<catalog>"] = (hash(Path(spark_cluster.settings.catalog_path).read_text()), 0)
    return files


def ingest(spark_cluster, raw: Path, *extra: str) -> subprocess.CompletedProcess:
    s = spark_cluster.settings
    env = {
        **os.environ,
        "HUNTHUB_STATE_DIR": str(s.state_dir),
        "HUNTHUB_SPARK_MASTER_PORT": str(s.spark_master_port),
        "HUNTHUB_SPARK_MASTER_WEBUI_PORT": str(s.spark_master_webui_port),
        "HUNTHUB_ANALYST_CORES": "1",
        "HUNTHUB_EXECUTOR_MEMORY": "512m",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUNTHUB_CONFIG", None)
    argv = [HUNTHUB, "ingest", "batch", str(raw), "--format", "csv", "--table", "full_cluster_auth", *extra]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def test_ingest_on_a_full_cluster_gives_up_with_advice_and_writes_nothing(spark_cluster, holders):
    raw_dir = spark_cluster.settings.state / "raw-full"
    raw_dir.mkdir(mode=0o755, exist_ok=True)
    raw = raw_dir / "auth.csv"
    raw.write_text(CSV)
    raw.chmod(0o644)
    holders.take("alice", "bob")
    before = warehouse_listing(spark_cluster)

    done = ingest(spark_cluster, raw, "--max-wait", "20")

    assert done.returncode == 75, (done.stdout, done.stderr[-3000:])
    err = done.stderr
    print(err[-3000:])
    waiting = [ln for ln in err.splitlines() if ln.startswith("Waiting ")]
    assert waiting and "0 of 2 cores free; held by alice 1 core, bob 1" in waiting[0], err[-3000:]
    assert "hunthub ingest: gave up after waiting" in err and "(--max-wait 20); nothing was written." in err
    assert "Cores are held by alice 1 core, bob 1." in err
    assert "`hunthub status`" in err and "--master 'local[2]'" in err
    assert warehouse_listing(spark_cluster) == before
    assert "full_cluster_auth" not in catalog.load(spark_cluster.settings.catalog_path)

    holders.release_all()
    done = ingest(spark_cluster, raw, "--max-wait", "600")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "full_cluster_auth: read 2, written 2" in done.stdout, done.stdout
    assert "full_cluster_auth" in catalog.load(spark_cluster.settings.catalog_path)

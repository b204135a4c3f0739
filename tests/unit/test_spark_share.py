"""Who holds the cluster's cores, from master JSON captured from real Spark 4.1 standalone masters.

tests/unit/data/spark-master-*-full.json were saved from the embedded cluster (one worker) with analysts'
applications holding every core and one more waiting: 2 cores (alice and carol hold one each, bob waits) and 4
cores (alice twice, carol, hunthub-ingest; bob waits). tests/integration/test_full_cluster.py checks the same
parsing against a live master.
"""

from __future__ import annotations

import http.server
import io
import json
import threading
from pathlib import Path

import pytest

from hunthub import spark_share
from hunthub.kernels import core_wait
from tests.harness import free_port

DATA = Path(__file__).parent / "data"


def state(name: str) -> dict:
    return json.loads((DATA / f"spark-master-{name}-full.json").read_text())


def app_id(doc: dict, name: str) -> str:
    return next(a["id"] for a in doc["activeapps"] if a["name"] == name)


def test_a_full_two_core_cluster():
    share = spark_share.parse(state("2-cores"))
    assert (share.cores, share.free) == (2, 0)
    assert sorted(a.name for a in share.holders) == ["alice", "carol"]
    assert [a.name for a in share.waiting] == ["bob"]
    alice = next(a for a in share.apps if a.name == "alice")
    assert (alice.cores, alice.memory_per_executor_mb, alice.user, alice.state) == (1, 512, "root", "RUNNING")
    assert alice.started > 1.7e9  # seconds, not milliseconds


def test_holders_are_grouped_by_application_name_largest_first():
    share = spark_share.parse(state("4-cores"))
    assert spark_share.holders(share) == [("alice", 2, 2), ("carol", 1, 1), ("hunthub-ingest", 1, 1)]
    assert spark_share.holders_text(share) == "alice 2 cores (2 apps), carol 1, hunthub-ingest 1"


def test_the_waiting_line_says_how_long_free_of_total_and_who_holds_how_many():
    doc = state("4-cores")
    share = spark_share.parse(doc)
    line = spark_share.waiting_line(75, share, app_id(doc, "bob"))
    assert line.startswith("Waiting 1 min 15 s for executor cores: 0 of 4 cores free;")
    assert "held by alice 2 cores (2 apps), carol 1, hunthub-ingest 1" in line
    assert "bob" not in line  # the one waiting holds nothing and is not listed as a holder


def test_a_granted_application_is_told_its_executors_are_starting():
    doc = state("2-cores")
    line = spark_share.waiting_line(5, spark_share.parse(doc), app_id(doc, "carol"))
    assert "1 core granted, executors starting" in line


def test_without_the_master_who_holds_the_cores_is_unknown():
    assert "who holds the cluster's cores is unknown (the Spark master's web UI is not known here)" in (
        spark_share.waiting_line(12, None)
    )
    line = spark_share.waiting_line(12, None, problem="the Spark master's web UI http://127.0.0.1:1 did not answer")
    assert line.startswith("Waiting 12 s for executor cores") and "did not answer" in line


def test_only_alive_workers_count():
    doc = state("2-cores")
    doc["workers"][0]["state"] = "DEAD"
    share = spark_share.parse(doc)
    assert (share.cores, share.free) == (0, 0)


def test_fetch_reads_a_master_over_http_and_fails_clearly_when_none_answers():
    body = (DATA / "spark-master-2-cores-full.json").read_bytes()

    class Master(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200 if self.path == "/json/" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if self.path == "/json/" else b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Master)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        share = spark_share.fetch(f"http://127.0.0.1:{server.server_port}/")
        assert (share.cores, len(share.apps)) == (2, 3)
    finally:
        server.shutdown()
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(spark_share.MasterUnavailable, match="did not answer"):
        spark_share.fetch(nobody, timeout=2)
    share, problem = core_wait.cluster_share(nobody)
    assert share is None and nobody in problem
    assert core_wait.cluster_share("") == (None, "the Spark master's web UI is not known here")


def test_advice_names_the_holders_and_what_to_do():
    doc = state("4-cores")
    text = spark_share.advice(spark_share.parse(doc), app_id(doc, "bob"))
    assert text.startswith("Cores are held by alice 2 cores (2 apps), carol 1, hunthub-ingest 1.")
    assert "`hunthub status`" in text and "--master 'local[2]'" in text


def held(doc: dict, name: str, **kw) -> spark_share.Held:
    args = {
        "app_id": app_id(doc, name),
        "app_name": name,
        "master": doc["url"],
        "executors": 1,
        "executor_memory": "512m",
        "cores_max": "1",
        "dynamic": {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.executorIdleTimeout": "30s",
            "spark.dynamicAllocation.cachedExecutorIdleTimeout": "600s",
        },
    }
    return spark_share.Held(**{**args, **kw})


def test_status_says_what_this_application_holds_and_who_holds_the_rest():
    doc = state("4-cores")
    text = spark_share.status_text(
        held(doc, "carol", running_jobs=["job 3: 2 of 8 tasks done"]), spark_share.parse(doc)
    )
    lines = text.splitlines()
    assert lines[0] == f"Application {app_id(doc, 'carol')} 'carol' on {doc['url']}"
    assert lines[1] == "Executors held now: 1, 1 core, 512 MB each"
    assert lines[2] == "Running jobs: job 3: 2 of 8 tasks done"
    assert (
        lines[3]
        == "Cluster: 0 of 4 cores free; this session holds 1, the others: alice 2 cores (2 apps), hunthub-ingest 1"
    )
    assert "Waiting for cores: bob" in lines
    assert sum("<- this session" in ln for ln in lines) == 1
    assert lines[-1] == (
        "Dynamic allocation is on: executors come when a job needs them and leave after 30 s idle (600 s while they "
        "hold cached data); this session never holds more than 1 core (spark.cores.max)."
    )


def test_status_without_dynamic_allocation_or_master():
    doc = state("2-cores")
    text = spark_share.status_text(
        held(doc, "alice", dynamic={}, executors=0), None, "the Spark master's web UI is not known here"
    )
    assert "Executors held now: 0, 512m each" in text
    assert "Cluster: who holds its cores is unknown (the Spark master's web UI is not known here)" in text
    assert "Dynamic allocation is off: this session keeps its executors as long as it lives" in text
    assert "Running jobs: none" in text
    # tasks in the analyst's own driver (analyst_tasks = "driver"): nothing held on any cluster
    local = spark_share.status_text(held(doc, "alice", master="local[2]"), None)
    assert "Tasks run in this session's own driver, as you, on 2 core(s)" in local
    assert "Executors held" not in local and "Dynamic allocation" not in local


def test_a_log_gets_a_new_waiting_line_every_so_often_and_a_terminal_one_line_in_place():
    log = io.StringIO()
    sink = core_wait.TerminalSink(log, tty=False, every=3600)
    sink.show("Waiting 4 s ...")
    sink.show("Waiting 7 s ...")  # too soon for another line in a log
    sink.show("Waited 9 s ...", final=True)
    assert log.getvalue() == "Waiting 4 s ...\nWaited 9 s ...\n"
    tty = io.StringIO()
    sink = core_wait.TerminalSink(tty, tty=True)
    sink.show("Waiting 4 s ...")
    sink.show("Waiting 7 s ...")
    sink.show("Waited 9 s ...", final=True)
    assert tty.getvalue() == "\r\x1b[KWaiting 4 s ...\r\x1b[KWaiting 7 s ...\r\x1b[KWaited 9 s ...\n"

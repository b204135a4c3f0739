"""The Scala (Spark, hunthub) kernel against a real standalone cluster, through jupyter_client."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from datetime import datetime

import pyarrow.compute as pc
import pytest
import requests

from hunthub.kernels import spark_ui
from hunthub.processes import alive, descendants_of
from tests.harness import free_port
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kernel(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst1", JUPYTERHUB_SERVICE_PREFIX="/user/analyst1/"), "hunthub-scala")
    k.started = time.monotonic()
    yield k
    k.shutdown()


def value(result) -> str:
    """The value part of the REPL's `val res3: Long = 5000` line."""
    assert result.status == "ok", result.error
    return result.text.strip().splitlines()[-1].split(" = ", 1)[1]


def _wait_gone(pids: list[int], seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.5)
    return [p for p in pids if alive(p)]


def test_first_cell_counts_the_catalog_table_and_says_where_it_runs(kernel, auth_events):
    result = kernel.run('spark.sql("select count(*) from auth_events").first().getLong(0)')

    print(f"kernel start -> first result: {time.monotonic() - kernel.started:.1f} s")
    assert value(result) == str(auth_events.num_rows)
    assert "application 'analyst1'" in result.text
    assert "auth_events" in re.search(r"tables: ([^;\n]*)", result.text).group(1).split(", ")
    assert 'class="hunthub-spark-ui" href="/user/analyst1/sparkui/' in result.html
    # its driver's UI, like a PySpark one, answers only requests signed with the key the kernel gave its server
    port = int(re.search(r"/user/analyst1/sparkui/(\d+)/", result.html).group(1))
    assert requests.get(f"http://127.0.0.1:{port}/jobs/", timeout=10).status_code == 403
    signed = {"Authorization": spark_ui.bearer(kernel.ui_key())}
    assert "Spark Jobs" in requests.get(f"http://127.0.0.1:{port}/jobs/", headers=signed, timeout=10).text
    assert "%AddJar" in result.text  # the banner documents the magic
    # the banner comes once per kernel
    assert "application 'analyst1'" not in kernel.run("1 + 1").text


def test_application_runs_on_the_cluster_with_executors_on_the_worker(kernel, spark_cluster):
    result = kernel.run("sc.parallelize(1 to 10, 2).map(x => x * x).reduce(_ + _)")
    assert value(result) == "385"

    apps = [a for a in spark_cluster.master_state()["activeapps"] if a["name"] == "analyst1"]
    assert len(apps) == 1, spark_cluster.master_state()["activeapps"]
    assert apps[0]["cores"] == 1
    executors = [e for e in spark_cluster.worker_state()["executors"] if e["appid"] == apps[0]["id"]]
    assert executors, spark_cluster.worker_state()


def test_a_cells_own_builder_gets_the_kernels_session_on_the_cluster(kernel, spark_cluster):
    """The usual first line of a Spark program in a cell, its own master and name: Spark's builder returns the
    kernel's session, under the analyst's name on the cluster; no second application starts."""
    built = kernel.run(
        'val s = org.apache.spark.sql.SparkSession.builder.master("local[*]").appName("x").getOrCreate()'
    )
    assert built.status == "ok", built.error
    result = kernel.run(
        'println(Seq(s eq spark, s.sparkContext eq sc, s.sparkContext.appName, s.sparkContext.master).mkString(" "))'
    )
    assert result.status == "ok", result.error
    assert result.text.strip().splitlines()[-1] == f"true true analyst1 {spark_cluster.master_url}"
    # and the cluster runs the analyst's one application, none named "x"
    apps = [a["name"] for a in spark_cluster.master_state()["activeapps"]]
    assert apps.count("analyst1") == 1 and "x" not in apps, apps


def test_case_class_from_an_earlier_cell_in_an_rdd_map_is_collected_back(kernel):
    assert kernel.run("case class Hit(user: String, n: Int)").status == "ok"
    result = kernel.run('sc.parallelize(Seq("b", "a", "b"), 3).map(u => Hit(u, u.length)).collect().sortBy(_.user)')
    assert value(result) == "Array(Hit(a,1), Hit(b,1), Hit(b,1))"


def test_case_class_defined_in_the_same_cell_as_the_dataset_action(kernel, auth_events):
    success = auth_events.filter(pc.equal(auth_events["outcome"], "success"))
    expected = len(set(success["user"].to_pylist()))

    result = kernel.run(
        "case class Logon(user: String, host: String)\n"
        'val logons = spark.table("auth_events").where($"outcome" === "success")\n'
        '  .select($"user", $"dst_host".as("host")).as[Logon]\n'
        "logons.map(l => Logon(l.user.toUpperCase, l.host)).map(_.user).distinct().count()"
    )
    assert value(result) == str(expected)
    # the definitions are echoed like spark-shell does
    assert "class Logon" in result.text


def test_function_from_one_cell_runs_in_a_closure_of_another(kernel, auth_events):
    dst = auth_events["dst_host"].to_pylist()
    expected = sum(1 for h in dst if h.startswith("DC-"))
    assert kernel.run('def isDomainController(host: String): Boolean = host.startsWith("DC-")').status == "ok"

    result = kernel.run('spark.table("auth_events").select("dst_host").as[String].rdd.filter(isDomainController).count')
    assert value(result) == str(expected)


def test_output_streams_while_the_cell_runs(kernel):
    result = kernel.run('for (i <- 1 to 3) { println(s"step $i"); Thread.sleep(2000) }')
    assert result.status == "ok", result.error
    assert result.text == "step 1\nstep 2\nstep 3\n"
    streams = [m for m in result.outputs if m["msg_type"] == "stream"]
    first = next(m for m in streams if "step 1" in m["content"]["text"])
    last = next(m for m in streams if "step 3" in m["content"]["text"])

    def sent(m):
        d = m["header"]["date"]
        return d if isinstance(d, datetime) else datetime.fromisoformat(d)

    # step 1 reached the notebook about two sleeps before step 3, not all at once at the end
    assert (sent(last) - sent(first)).total_seconds() > 3


def test_dataframe_renders_as_an_html_table_with_a_text_fallback(kernel, auth_events):
    outcomes = pc.value_counts(auth_events["outcome"]).to_pylist()
    result = kernel.run('spark.table("auth_events").groupBy("outcome").count().orderBy("outcome")')
    assert result.status == "ok", result.error
    assert "<th>outcome</th><th>count</th>" in result.html
    for row in outcomes:
        assert f"<td>{row['values']}</td><td>{row['counts']}</td>" in result.html
        assert re.search(rf"\|\s*{row['values']}\|\s*{row['counts']}\|", result.text)

    long = kernel.run("spark.range(100)")
    assert long.html.count("<tr>") == 21  # header + 20 rows
    assert "only showing top 20 rows" in long.html
    assert "only showing top 20 rows" in long.text
    # a DataFrame bound to a name is echoed like spark-shell does, not run
    assert kernel.run('val events = spark.table("auth_events")').text.startswith("val events: ")


def test_compile_error_shows_the_line_and_a_caret(kernel):
    result = kernel.run('val ok = 1\nval n: Int = "five"')
    assert result.status == "error"
    assert result.error["ename"] == "CompileError"
    assert "type mismatch" in result.error["evalue"]
    trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(result.error["traceback"]))
    assert "line 2, column 14" in trace
    assert '2 | val n: Int = "five"' in trace
    assert "  |              ^" in trace  # under the opening quote

    # a one-line syntax error shows its source line too (the REPL alone prints only a caret)
    syntax = kernel.run("val x = foo bar )")
    trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(syntax.error["traceback"]))
    assert "1 | val x = foo bar )" in trace
    assert "  |                 ^" in trace


def test_runtime_exception_names_its_class_and_the_kernel_goes_on(kernel):
    assert kernel.run("val zero = 0").status == "ok"
    result = kernel.run("val ten = 10\nten / zero")
    assert result.status == "error"
    assert result.error["ename"] == "java.lang.ArithmeticException"
    assert result.error["evalue"] == "/ by zero"
    assert value(kernel.run("zero + 1")) == "1"
    # like spark-shell, a failed cell defines nothing
    assert kernel.run("ten").error["evalue"] == "not found: value ten"


def _shell_reply(kernel, send):
    return kernel.reply_to(send())["content"]


def test_is_complete_recognises_unfinished_input(kernel):
    def status(code):
        return _shell_reply(kernel, lambda: kernel.kc.is_complete(code))["status"]

    assert status("val x = (1 +") == "incomplete"
    assert status("def f(x: Int) = {\n  x * 2") == "incomplete"
    assert status('val s = """multi') == "incomplete"
    assert status("val x = 1 + 2") == "complete"
    assert status("val x = )") == "invalid"


def test_tab_completion(kernel):
    code = "val r = spark.ran"
    reply = _shell_reply(kernel, lambda: kernel.kc.complete(code, len(code)))
    assert reply["status"] == "ok"
    assert "range" in reply["matches"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (len("val r = spark."), len(code))


def test_interrupt_cancels_the_running_spark_job(kernel):
    timer = threading.Timer(8, kernel.km.interrupt_kernel)
    timer.start()
    started = time.monotonic()
    result = kernel.run("sc.parallelize(1 to 2, 2).map { x => Thread.sleep(120000); x }.count()")
    timer.cancel()
    assert result.status == "error"
    assert result.error["ename"] == "Interrupted"
    assert time.monotonic() - started < 60
    # cancellation is asynchronous in Spark: give it seconds, not the two minutes the tasks would take
    after = kernel.run(
        "var n = 0\nwhile (sc.statusTracker.getActiveJobIds.nonEmpty && n < 40) { Thread.sleep(500); n += 1 }\n"
        "sc.statusTracker.getActiveJobIds.length"
    )
    assert value(after) == "0"
    assert value(kernel.run("spark.range(5).count()")) == "5"
    # the cancelled tasks were interrupted too: the executor core was free again, not busy for two minutes
    assert time.monotonic() - started < 60


def test_add_jar_makes_its_classes_usable_in_cells_and_on_executors(kernel, tmp_path):
    src = tmp_path / "src" / "hunttools" / "Tagger.java"
    src.parent.mkdir(parents=True)
    src.write_text(
        "package hunttools;\n"
        "public class Tagger {\n"
        '  public static String tag(String host) { return host.startsWith("DC-") ? "dc:" + host : host; }\n'
        "}\n"
    )
    classes = tmp_path / "classes"
    subprocess.run(["javac", "--release", "17", "-d", str(classes), str(src)], check=True)
    jar = tmp_path / "hunttools.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)

    # the magic and code using the jar can share a cell
    added = kernel.run(f'%AddJar {jar.as_uri()}\nhunttools.Tagger.tag("DC-01")')
    assert f"Added {jar}" in added.text
    assert value(added) == "dc:DC-01"
    result = kernel.run('sc.parallelize(Seq("DC-02", "WS-0001"), 2).map(hunttools.Tagger.tag).collect()')
    assert value(result) == "Array(dc:DC-02, WS-0001)"

    missing = kernel.run("%AddJar /no/such.jar")
    assert missing.status == "error"
    assert "no such jar" in missing.error["evalue"]


def test_unreachable_cluster_gives_a_clear_error_within_seconds(spark_cluster):
    closed = free_port()
    k = Kernel(spark_cluster.kernel_env(HUNTHUB_KERNEL_SPARK_MASTER=f"spark://127.0.0.1:{closed}"), "hunthub-scala")
    try:
        started = time.monotonic()
        result = k.run("spark.range(10).count()", timeout=60)
        assert time.monotonic() - started < 15
        assert result.status == "error"
        message = "\n".join(result.error["traceback"])
        assert f"cannot reach the Spark master at spark://127.0.0.1:{closed}" in message
        assert "hunthub doctor" in message
        assert "Traceback" not in message and "at org." not in message
    finally:
        k.shutdown()


def test_shutdown_leaves_no_jvm_and_ends_the_application(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst2"), "hunthub-scala")
    assert k.run("sc.applicationId").status == "ok"
    family = descendants_of(k.km.provisioner.process.pid)
    assert family, "the driver JVM should run under the kernel"
    assert "analyst2" in [a["name"] for a in spark_cluster.master_state()["activeapps"]]
    k.shutdown()
    assert not _wait_gone(family)
    assert "analyst2" not in [a["name"] for a in spark_cluster.master_state()["activeapps"]]


def test_a_killed_kernel_takes_its_jvm_along(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst3"), "hunthub-scala")
    try:
        assert k.run("sc.applicationId").status == "ok"
        kernel_pid = k.km.provisioner.process.pid
        family = descendants_of(kernel_pid)
        assert family
        os.kill(kernel_pid, signal.SIGKILL)
        assert not _wait_gone(family), "the JVM outlived its kernel"
    finally:
        k.kc.stop_channels()
        k.km.shutdown_kernel(now=True)

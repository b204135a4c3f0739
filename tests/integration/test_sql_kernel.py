"""The Spark SQL (hunthub) kernel against a real standalone cluster, through jupyter_client."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request

import pyarrow.compute as pc
import pytest

from hunthub.kernels import spark_ui
from hunthub.processes import alive, descendants_of
from tests.harness import free_port
from tests.integration.kernel_client import Kernel
from tests.integration.test_warm_driver import start_host

pytestmark = pytest.mark.integration

ROW_LIMIT = 5


@pytest.fixture(scope="module")
def kernel(spark_cluster):
    env = spark_cluster.kernel_env(
        user="sqlanalyst",
        JUPYTERHUB_SERVICE_PREFIX="/user/sqlanalyst/",
        HUNTHUB_KERNEL_WARM_DRIVER="0",
        HUNTHUB_KERNEL_SQL_ROW_LIMIT=str(ROW_LIMIT),
    )
    k = Kernel(env, name="hunthub-sql")
    yield k
    k.shutdown()


def table_rows(text: str) -> list[list[str]]:
    """The cells of the df.show()-style tables in a result's text, header rows included."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]


def kinds(result) -> list[str]:
    return [m["msg_type"] for m in result.outputs if m["msg_type"] in ("display_data", "execute_result", "error")]


def complete(kernel, code: str, cursor: int | None = None) -> dict:
    msg_id = kernel.kc.complete(code, len(code) if cursor is None else cursor)
    return kernel.reply_to(msg_id)["content"]


def test_count_matches_the_parquet_files_and_first_cell_says_where_it_runs(kernel, auth_events):
    result = kernel.run("select count(*) as n from auth_events")

    assert result.status == "ok", result.error
    assert table_rows(result.text) == [["n"], [str(auth_events.num_rows)]]
    assert "(1 row)" in result.text
    # the first cell also says where the session runs, with a link to the Spark UI through the hub
    assert "application 'sqlanalyst'" in result.text
    assert "auth_events" in re.search(r"tables: ([^;\n]*)", result.text).group(1).split(", ")
    assert 'class="hunthub-spark-ui" href="/user/sqlanalyst/sparkui/' in result.html
    assert '<table class="hunthub-sql-result">' in result.html
    # ...and only the first
    again = kernel.run("select 1 as one")
    assert "application 'sqlanalyst'" not in again.text


def test_a_cell_of_several_statements_shows_each_result(kernel, auth_events):
    failures = pc.sum(pc.equal(auth_events["outcome"], "failure")).as_py()
    result = kernel.run(
        "create or replace temporary view failed as\n"
        "  select * from auth_events where outcome = 'failure';\n"
        "-- how many?\n"
        "select count(*) as failures from failed;\n"
        "select count(distinct user) as users from failed"
    )

    assert result.status == "ok", result.error
    assert kinds(result) == ["display_data", "display_data", "execute_result"]
    view, count, users = (m["content"]["data"]["text/plain"] for m in result.outputs if "data" in m["content"])
    assert view == "OK: create or replace temporary view failed"
    assert count.startswith("-- select count(*) as failures from failed\n")
    assert table_rows(count) == [["failures"], [str(failures)]]
    distinct = len(pc.unique(auth_events.filter(pc.equal(auth_events["outcome"], "failure"))["user"]))
    assert table_rows(users) == [["users"], [str(distinct)]]


def test_results_stop_at_the_row_limit_and_say_so(kernel):
    result = kernel.run("select event_id from auth_events order by event_time")
    assert result.status == "ok", result.error
    assert len(table_rows(result.text)) == 1 + ROW_LIMIT
    assert f"(first {ROW_LIMIT} rows shown)" in result.text
    assert f"Only the first {ROW_LIMIT} rows are shown: the result has more" in result.text
    assert 'class="hunthub-sql-truncated"' in result.html

    # exactly as many rows as the limit: nothing was cut off
    exact = kernel.run(f"select event_id from auth_events limit {ROW_LIMIT}")
    assert len(table_rows(exact.text)) == 1 + ROW_LIMIT
    assert "Only the first" not in exact.text and "truncated" not in exact.html

    # one cell may show more
    more = kernel.run("%limit 12\nselect event_id from auth_events")
    assert len(table_rows(more.text)) == 1 + 12
    assert "Only the first 12 rows are shown" in more.text


def test_limit_alone_in_a_cell_changes_it_for_later_cells(kernel):
    try:
        note = kernel.run("%limit 2")
        assert note.status == "ok"
        assert "at most 2 rows" in note.text
        assert len(table_rows(kernel.run("select * from range(10)").text)) == 1 + 2
    finally:
        kernel.run(f"%limit {ROW_LIMIT}")


def test_nested_values_read_like_df_show(kernel, auth_events):
    backup = auth_events.filter(pc.equal(auth_events["user"], "svc_backup"))
    types = sorted(set(backup["logon_type"].to_pylist()))
    result = kernel.run(
        "select user, sort_array(collect_set(logon_type)) as logon_types,\n"
        "       map('events', count(*)) as counts,\n"
        "       named_struct('first', min(date), 'last', max(date)) as seen,\n"
        "       max(failure_reason) filter (where false) as nothing\n"
        "from auth_events where user = 'svc_backup' group by user"
    )
    assert result.status == "ok", result.error
    header, row = table_rows(result.text)
    assert header == ["user", "logon_types", "counts", "seen", "nothing"]
    assert row == [
        "svc_backup",
        "[" + ", ".join(map(str, types)) + "]",
        f"{{events -> {backup.num_rows}}}",
        f"{{{min(backup['event_time'].to_pylist()).date()}, {max(backup['event_time'].to_pylist()).date()}}}",
        "NULL",
    ]
    assert 'title="array&lt;tinyint&gt;">logon_types</th>' in result.html


def test_errors_show_condition_sqlstate_and_position_without_a_stack(kernel):
    result = kernel.run("select 1 as fine;\nselect user\n  from auth_event")

    assert result.status == "error"
    assert kinds(result) == ["display_data", "error"]  # the first statement's result stays
    assert result.error["ename"] == "TABLE_OR_VIEW_NOT_FOUND"
    shown = "\n".join(result.error["traceback"])
    assert "TABLE_OR_VIEW_NOT_FOUND\x1b[0m (SQLSTATE 42P01) at line 3, column 8:" in shown
    assert "3 |   from auth_event\n  |        ^^^^^^^^^^" in shown
    assert "The table or view `auth_event` cannot be found" in shown
    for noise in ("Traceback", "org.apache", "py4j", "Py4J", ".py", "SQLSTATE: 42P01"):
        assert noise not in shown
    assert "org.apache" not in result.text  # nor on stderr

    parse = kernel.run("select user, count(*)\nfrom auth_events\ngroup user")
    assert parse.error["ename"] == "PARSE_SYNTAX_ERROR"
    shown = "\n".join(parse.error["traceback"])
    assert "(SQLSTATE 42601) at line 3, column 7:" in shown
    assert "3 | group user\n  |       ^^^^" in shown

    runtime = kernel.run("select event_id / 0 as boom from auth_events")
    assert runtime.error["ename"] == "DIVIDE_BY_ZERO"
    assert "(SQLSTATE 22012) at line 1, column 8:" in "\n".join(runtime.error["traceback"])


def test_completion_offers_tables_and_their_columns(kernel):
    found = complete(kernel, "select * from auth_")
    assert found["matches"] == ["auth_events"]
    assert (found["cursor_start"], found["cursor_end"]) == (14, 19)

    found = complete(kernel, "select us from auth_events", cursor=9)
    assert found["matches"][0] == "user"
    assert {"text": "user", "type": "column", "start": 7, "end": 9} in found["metadata"]["_jupyter_types_experimental"]

    found = complete(kernel, "select a.src from auth_events a", cursor=12)
    assert found["matches"] == ["src_host", "src_ip"]

    # views made in the notebook are tables too
    assert kernel.run("create or replace temporary view logons as select * from auth_events").status == "ok"
    assert "logons" in complete(kernel, "select * from lo")["matches"]


def test_inspecting_a_table_shows_its_columns(kernel):
    msg_id = kernel.kc.inspect("select * from auth_events", 18)
    reply = kernel.reply_to(msg_id)["content"]
    assert reply["found"]
    text = reply["data"]["text/plain"]
    assert "event_time: timestamp" in text and "logon_type: tinyint" in text and "date: date" in text


def _running_jobs(port: int, kernel) -> list:
    """Spark's own view, from the driver's REST API, signed with the key the kernel gave its server
    (hunthub.kernels.spark_ui)."""
    auth = {"Authorization": spark_ui.bearer(kernel.ui_key())}
    base = f"http://127.0.0.1:{port}/api/v1/applications"
    with urllib.request.urlopen(urllib.request.Request(base, headers=auth), timeout=10) as r:  # noqa: S310
        app = json.load(r)[0]["id"]
    running = urllib.request.Request(f"{base}/{app}/jobs?status=running", headers=auth)
    with urllib.request.urlopen(running, timeout=10) as r:  # noqa: S310
        return json.load(r)


def test_interrupt_cancels_the_running_query_and_the_kernel_stays_usable(kernel):
    port = _ui_port(kernel)
    timer = threading.Timer(6, kernel.km.interrupt_kernel)
    timer.start()
    started = time.monotonic()
    result = kernel.run("select count(*) from range(0, 200000000, 1, 1) a cross join range(0, 200000, 1, 1) b")
    timer.cancel()

    assert result.status == "error"
    assert result.error["ename"] == "KeyboardInterrupt"
    assert "\x1b[31mInterrupted\x1b[0m: the query was cancelled." in result.error["traceback"]
    assert time.monotonic() - started < 60
    # Spark's own view: the job is gone (cancellation is asynchronous: seconds, not the hours it would take)
    deadline = time.monotonic() + 30
    while _running_jobs(port, kernel) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _running_jobs(port, kernel) == []
    after = kernel.run("select count(*) as n from range(1000)")
    assert table_rows(after.text) == [["n"], ["1000"]]


def _ui_port(kernel) -> int:
    result = kernel.run("set spark.ui.port")
    return int(table_rows(result.text)[1][1])


def test_kernel_shutdown_leaves_no_jvm_and_ends_the_application(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="sqlanalyst2", HUNTHUB_KERNEL_WARM_DRIVER="0"), name="hunthub-sql")
    assert k.run("select 2").status == "ok"
    kernel_pid = k.km.provisioner.process.pid
    family = descendants_of(kernel_pid)
    assert family, "the driver JVM should run under the kernel"
    assert "sqlanalyst2" in [a["name"] for a in spark_cluster.master_state()["activeapps"]]
    k.shutdown()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in [kernel_pid, *family]):
        time.sleep(0.5)
    assert not [p for p in [kernel_pid, *family] if alive(p)]
    assert "sqlanalyst2" not in [a["name"] for a in spark_cluster.master_state()["activeapps"]]


def test_kernel_adopts_a_warm_driver(spark_cluster, tmp_path, auth_events):
    pool = tmp_path / "pool"
    pool.mkdir(mode=0o700)
    env = spark_cluster.kernel_env(
        user="sqlwarm", HUNTHUB_KERNEL_WARM_DRIVER="1", HUNTHUB_KERNEL_WARM_DRIVER_DIR=str(pool)
    )
    host, ready = start_host(env, pool)
    offer = json.loads(ready.read_text())
    k = Kernel(env, name="hunthub-sql")
    try:
        result = k.run("select count(*) as n from auth_events")
        assert result.status == "ok", result.error
        assert table_rows(result.text)[1] == [str(auth_events.num_rows)]
        assert "application 'sqlwarm'" in result.text
        assert list(pool.glob(f"{host.pid}.claimed-*.json"))  # this kernel took the offer...
        apps = [a for a in spark_cluster.master_state()["activeapps"] if a["name"] == "sqlwarm"]
        assert [a["id"] for a in apps] == [offer["app_id"]]  # ...and runs in it: no second driver
    finally:
        k.shutdown()
    assert host.wait(timeout=60) == 0  # the driver goes away with its kernel


def test_unreachable_cluster_gives_clear_error_within_seconds(spark_cluster):
    closed = free_port()
    env = spark_cluster.kernel_env(
        HUNTHUB_KERNEL_SPARK_MASTER=f"spark://127.0.0.1:{closed}", HUNTHUB_KERNEL_WARM_DRIVER="0"
    )
    k = Kernel(env, name="hunthub-sql")
    try:
        started = time.monotonic()
        result = k.run("select 1", timeout=60)
        assert time.monotonic() - started < 15
        assert result.status == "error"
        assert result.error["ename"] == "SparkUnavailableError"
        message = "\n".join(result.error["traceback"])
        assert message.startswith("\x1b[31m")
        assert f"cannot reach the Spark master at spark://127.0.0.1:{closed}" in message
        assert "hunthub doctor" in message
        assert "Traceback" not in message
        # what does not need Spark still works
        assert k.run("%limit 3").status == "ok"
    finally:
        k.shutdown()

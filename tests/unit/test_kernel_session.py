"""How an analyst's kernel builds its Spark session from what the hub put in its environment."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hunthub.kernel_env import KernelEnv
from hunthub.kernels import session
from hunthub.kernels.session import SparkUnavailableError

LOOPBACK_MASTER = "spark://127.0.0.1:7077"


def test_app_name_is_the_analyst():
    props = session.spark_properties({"JUPYTERHUB_USER": "alice", "HUNTHUB_KERNEL_SPARK_MASTER": LOOPBACK_MASTER})
    assert props["spark.app.name"] == "alice"
    assert props["spark.master"] == LOOPBACK_MASTER


@pytest.mark.parametrize("prefix", ["/user/alice/", "/user/alice"])
def test_spark_ui_is_served_under_the_analysts_server(prefix):
    env = {"JUPYTERHUB_USER": "alice", "JUPYTERHUB_SERVICE_PREFIX": prefix}
    props = session.spark_properties(env, ui_port=4051)
    assert props["spark.ui.port"] == "4051"
    assert props["spark.ui.proxyBase"] == "/user/alice/sparkui/4051"
    # these end up on a command line: the UI's key goes over py4j (kernels/spark_ui.py)
    assert not any("secretKey" in k for k in props)


def test_no_proxy_base_outside_jupyterhub():
    props = session.spark_properties({"JUPYTERHUB_USER": "alice"}, ui_port=4051)
    assert props["spark.ui.port"] == "4051"
    assert "spark.ui.proxyBase" not in props


def test_driver_binds_to_loopback_for_a_loopback_master():
    props = session.spark_properties({"HUNTHUB_KERNEL_SPARK_MASTER": LOOPBACK_MASTER})
    assert props["spark.driver.host"] == "127.0.0.1"
    assert props["spark.driver.bindAddress"] == "127.0.0.1"


def test_remote_master_leaves_driver_host_to_spark_unless_set():
    remote = {"HUNTHUB_KERNEL_SPARK_MASTER": "spark://spark-master.soc.example:7077"}
    assert "spark.driver.host" not in session.spark_properties(remote)
    props = session.spark_properties({**remote, "HUNTHUB_KERNEL_DRIVER_HOST": "10.0.0.5"})
    assert props["spark.driver.host"] == "10.0.0.5"


def test_hub_spark_conf_is_merged():
    conf = {"spark.cores.max": "2", "spark.sql.shuffle.partitions": "8"}
    props = session.spark_properties(
        {"HUNTHUB_KERNEL_SPARK_MASTER": LOOPBACK_MASTER, "HUNTHUB_KERNEL_SPARK_CONF": json.dumps(conf)}
    )
    assert props["spark.cores.max"] == "2"
    assert props["spark.sql.shuffle.partitions"] == "8"


def test_writes_keep_a_scratch_space_shared_with_the_executors():
    # what Hadoop creates is chmodded with this umask: 007 leaves the ACL mask (group bits) at rwx
    scratch = {"HUNTHUB_KERNEL_SPARK_MASTER": LOOPBACK_MASTER, "HUNTHUB_KERNEL_SCRATCH": "file:///w/users/ana"}
    assert session.spark_properties(scratch)["spark.hadoop.fs.permissions.umask-mode"] == "007"
    assert "spark.hadoop.fs.permissions.umask-mode" not in session.spark_properties({})


def test_scratch_is_where_the_hub_says_else_in_the_home(monkeypatch, tmp_path):
    assert session.scratch_uri({"HUNTHUB_KERNEL_SCRATCH": "file:///w/users/ana"}) == "file:///w/users/ana"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert session.scratch_uri({}) == (tmp_path / ".hunthub" / "scratch").as_uri()
    assert (tmp_path / ".hunthub" / "scratch").is_dir()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_preflight_fails_fast_when_the_master_is_down():
    master = f"spark://127.0.0.1:{closed_port()}"
    t0 = time.monotonic()
    with pytest.raises(SparkUnavailableError) as e:
        session.preflight(KernelEnv(spark_master=master))
    assert time.monotonic() - t0 < 5
    assert master in str(e.value)


def test_preflight_explains_a_yarn_master_without_its_configuration():
    with pytest.raises(SparkUnavailableError) as e:
        session.preflight(KernelEnv(spark_master="yarn"), env={})
    assert "yarn-site.xml" in str(e.value)


def test_preflight_accepts_yarn_with_its_configuration(monkeypatch, tmp_path):
    (tmp_path / "yarn-site.xml").write_text("<configuration/>")
    session.preflight(KernelEnv(spark_master="yarn"), env={"HADOOP_CONF_DIR": str(tmp_path)})


@pytest.fixture
def listening_master():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield f"spark://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def master_webui():
    """A stand-in for the embedded master's /json/ status page; tests set `workers`."""
    state = {"workers": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"workers": state["workers"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def test_preflight_fails_when_the_cluster_has_no_live_worker(listening_master, master_webui):
    webui, state = master_webui
    state["workers"] = [{"state": "DEAD"}]
    with pytest.raises(SparkUnavailableError) as e:
        session.preflight(KernelEnv(spark_master=listening_master, master_webui=webui))
    assert "no live workers" in str(e.value)


def test_a_session_whose_tasks_run_in_its_driver_needs_no_worker(master_webui):
    webui, state = master_webui
    state["workers"] = [{"state": "DEAD"}]
    session.preflight(KernelEnv(spark_master="local[1]", master_webui=webui))


def test_preflight_passes_with_a_live_worker(listening_master, master_webui):
    webui, state = master_webui
    state["workers"] = [{"state": "ALIVE"}]
    session.preflight(KernelEnv(spark_master=listening_master, master_webui=webui))


class NoSpark:
    """Stands in for a SparkSession where no table may be read: touching it fails the test.

    A real session needs a JVM; these tests only check what happens before any table is read.
    """

    @property
    def read(self):
        raise AssertionError("no table should be read")


class UnreadableSpark:
    """Stands in for a SparkSession whose reads never get as far as loading (see the xfail below)."""

    class _Reader:
        def format(self, _fmt):
            return self

        def schema(self, _ddl):
            return self

        def load(self, location):
            raise AssertionError(f"load({location!r}) should not be reached")

    @property
    def read(self):
        return self._Reader()


def test_malformed_catalog_is_reported_not_raised(tmp_path):
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text("{not json")
    told = KernelEnv(catalog=str(catalog_file), warehouse=tmp_path.as_uri())
    registered, problems = session.register_catalog(NoSpark(), told)
    assert registered == []
    assert len(problems) == 1
    assert str(catalog_file) in problems[0]


def test_no_catalog_configured_registers_nothing():
    assert session.register_catalog(NoSpark(), KernelEnv()) == ([], [])


def test_catalog_entry_with_a_non_string_path_is_reported_not_raised(tmp_path):
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps({"version": 1, "tables": {"auth_events": {"path": 5}}}))
    told = KernelEnv(catalog=str(catalog_file), warehouse=tmp_path.as_uri())
    registered, problems = session.register_catalog(UnreadableSpark(), told)
    assert registered == []
    assert len(problems) == 1

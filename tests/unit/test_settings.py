"""hunthub's own settings: documented defaults, HUNTHUB_* environment, then config files."""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hunthub import settings as hsettings
from hunthub.settings import HuntHub


def test_documented_defaults(settings):
    s = settings()
    assert (s.ip, s.port) == ("127.0.0.1", 8000)
    assert s.admin_user == "admin"
    assert s.demo is False
    assert s.embedded_cluster is True
    assert s.public_url == "http://localhost:8000/"


def test_environment_variables_set_settings(monkeypatch, state_dir):
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    monkeypatch.setenv("HUNTHUB_IP", "10.1.2.3")
    monkeypatch.setenv("HUNTHUB_PORT", "9100")
    monkeypatch.setenv("HUNTHUB_SPARK_MASTER", "spark://spark-master.soc.example:7077")
    monkeypatch.setenv("HUNTHUB_ADMIN_USER", "soc-lead")
    monkeypatch.setenv("HUNTHUB_DEMO", "1")
    s = HuntHub(config=hsettings.load_config([]))
    assert s.state_dir == str(state_dir)
    assert (s.ip, s.port) == ("10.1.2.3", 9100)
    assert s.spark_master == "spark://spark-master.soc.example:7077"
    assert s.embedded_cluster is False
    assert s.admin_user == "soc-lead"
    assert s.demo is True
    assert s.public_url == "http://10.1.2.3:9100/"


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_demo_flag_from_environment(value, expected):
    assert HuntHub(config=hsettings.load_config([], {"HUNTHUB_DEMO": value})).demo is expected


def test_the_environment_is_one_layer_with_clear_errors_and_the_settings_never_read_it(monkeypatch, state_dir):
    env = {"HUNTHUB_PORT": "9100", "HUNTHUB_WARM_DRIVER": "off", "HUNTHUB_CATALOG": "/srv/catalog.json",
           "HUNTHUB_ANALYST_CPU_LIMIT": "1.5", "HUNTHUB_SPARK_CONF": "{}"}  # fmt: skip
    layer = hsettings.environment_config(env)
    assert dict(layer.HuntHub) == {
        "port": 9100,
        "warm_driver": False,
        "catalog_path": "/srv/catalog.json",
        "analyst_cpu_limit": 1.5,
    }  # fmt: skip  (dicts only come from config files)
    with pytest.raises(TraitError, match="HUNTHUB_PORT='nine'"):
        hsettings.environment_config({"HUNTHUB_PORT": "nine"})
    with pytest.raises(TraitError, match="HUNTHUB_DEMO='maybe'"):
        hsettings.environment_config({"HUNTHUB_DEMO": "maybe"})
    # a HuntHub built from a Config is that Config: what a kernel's environment says does not leak in
    monkeypatch.setenv("HUNTHUB_PORT", "9100")
    assert HuntHub(config=Config({"HuntHub": {"state_dir": str(state_dir)}})).port == 8000


def test_config_file_overrides_environment(monkeypatch, tmp_path, state_dir):
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    monkeypatch.setenv("HUNTHUB_PORT", "9100")
    monkeypatch.setenv("HUNTHUB_IP", "10.1.2.3")
    config_file = tmp_path / "hunthub_config.py"
    config_file.write_text(
        "c.HuntHub.port = 9200\n"
        'c.HuntHub.warehouse = "hdfs://namenode.soc.example:8020/warehouse"\n'
        "c.HuntHub.spark_conf = {'spark.sql.shuffle.partitions': '8'}\n"
    )
    s = HuntHub(config=hsettings.load_config([config_file]))
    assert s.port == 9200
    assert s.warehouse == "hdfs://namenode.soc.example:8020/warehouse"
    assert s.spark_conf == {"spark.sql.shuffle.partitions": "8"}
    # what the file does not set still comes from the environment
    assert s.ip == "10.1.2.3"


def test_command_line_flags_beat_config_files_and_the_environment(monkeypatch, tmp_path, state_dir):
    from hunthub import cli

    monkeypatch.setenv("HUNTHUB_PORT", "9100")
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    config_file = tmp_path / "hunthub_config.py"
    config_file.write_text("c.HuntHub.port = 9200\nc.HuntHub.ip = '10.1.2.3'\n")
    monkeypatch.setenv("HUNTHUB_CONFIG", str(config_file))
    args = cli.build_parser().parse_args(["doctor", "--port", "9300", "--spark-master", "spark://m.soc.example:7077"])
    s = cli._settings(args)
    assert (s.port, s.ip, s.spark_master) == (9300, "10.1.2.3", "spark://m.soc.example:7077")
    assert "HUNTHUB_SPARK_MASTER" not in __import__("os").environ  # flags no longer travel through the environment
    with pytest.raises(SystemExit, match="no config file"):
        cli._settings(cli.build_parser().parse_args(["doctor", "--config", str(tmp_path / "missing.py")]))


def test_the_hub_started_by_up_runs_with_exactly_what_up_resolved(monkeypatch, tmp_path, state_dir):
    s = HuntHub(config=Config({"HuntHub": {"state_dir": str(state_dir), "port": 9300, "spark_conf": {"a.b": "1"}}}))
    resolved = hsettings.write_resolved(s)
    assert resolved.stat().st_mode & 0o777 == 0o600  # a database URL may hold a password
    # the hub's own environment and config files no longer count: up already weighed them
    config_file = tmp_path / "hunthub_config.py"
    config_file.write_text("c.HuntHub.port = 9200\n")
    environ = {hsettings.RESOLVED_VARIABLE: str(resolved), "HUNTHUB_PORT": "9100", "HUNTHUB_CONFIG": str(config_file)}
    hub = hsettings.load(environ=environ)
    assert (hub.port, hub.spark_conf, hub.state_dir) == (9300, {"a.b": "1"}, str(state_dir))
    assert all(getattr(hub, n) == getattr(s, n) for n in HuntHub.class_traits(config=True) if "docker_" not in n)


def test_hunthub_config_env_names_a_config_file(monkeypatch, tmp_path, state_dir):
    config_file = tmp_path / "site.py"
    config_file.write_text(f"c.HuntHub.state_dir = {str(state_dir)!r}\nc.HuntHub.admin_user = 'soc-lead'\n")
    monkeypatch.setenv("HUNTHUB_CONFIG", str(config_file))
    assert hsettings.load().admin_user == "soc-lead"


def test_proxy_and_hub_ports_follow_the_public_port(settings):
    s = settings(port=9000)
    assert s.proxy_api_port == 9001
    assert s.hub_port == 9081


def test_explicit_proxy_api_port_wins(monkeypatch, settings):
    assert settings(port=9000, proxy_api_port=9500).proxy_api_port == 9500
    monkeypatch.setenv("HUNTHUB_PROXY_API_PORT", "9600")
    assert HuntHub(config=hsettings.load_config([])).proxy_api_port == 9600


def test_worker_ui_port_follows_master_ui_port(settings):
    assert settings(spark_master_webui_port=8190).spark_worker_webui_port == 8191


def test_one_analyst_gets_half_the_machines_cores_and_the_worker_offers_twice_them(settings, monkeypatch):
    monkeypatch.setattr(hsettings, "machine_cores", lambda: 8)
    assert settings().analyst_cores == 4
    assert settings().worker_cores == 16  # slack for idle interactive sessions and warm drivers
    monkeypatch.setattr(hsettings, "machine_cores", lambda: 1)
    # never zero: a session without cores would wait forever
    assert settings().analyst_cores == 1
    assert settings(analyst_cores=6).analyst_cores == 6


def test_default_warehouse_is_a_file_uri_under_the_state_dir(tmp_path):
    state = tmp_path / "soc data"  # a space, to check the URI is escaped
    s = HuntHub(config=Config({"HuntHub": {"state_dir": str(state)}}))
    assert " " not in s.warehouse  # Spark and Hadoop parse it as a URI
    uri = urlparse(s.warehouse)
    assert uri.scheme == "file"
    assert Path(unquote(uri.path)) == state / "warehouse"


def test_default_catalog_is_in_the_state_dir(settings, state_dir):
    assert Path(settings().catalog_path) == state_dir / "catalog.json"


def test_relative_state_dir_in_config_becomes_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = HuntHub(config=Config({"HuntHub": {"state_dir": "state"}}))
    assert Path(s.state_dir) == tmp_path / "state"


def test_relative_state_dir_from_environment_becomes_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUNTHUB_STATE_DIR", "state")
    s = HuntHub(config=hsettings.load_config([]))
    assert Path(s.state_dir) == tmp_path / "state"
    assert s.warehouse.startswith("file://")


def test_invalid_username_pattern_is_rejected(state_dir):
    with pytest.raises((TraitError, re.error)):
        HuntHub(config=Config({"HuntHub": {"state_dir": str(state_dir), "username_pattern": "^[a-z"}}))

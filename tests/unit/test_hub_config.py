"""hunthub's JupyterHub configuration, applied to a bare Config as TLJH's tests do."""

import json
import os
import re
import stat
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy.engine import make_url
from traitlets.config import Config, PyFileConfigLoader

from hunthub import paths
from hunthub.hub import config as hubconfig
from hunthub.hub.auth import HuntHubNativeAuthenticator
from hunthub.kernels import session
from hunthub.spawner.local import HuntHubLocalSpawner

# --- authenticator ---------------------------------------------------------------------------------------


def test_default_authenticator_is_native_with_admin_approval(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings())
    assert c.JupyterHub.authenticator_class == "hunthub-native"
    # analysts may sign up, but only an admin's approval lets them in
    assert c.NativeAuthenticator.enable_signup is True
    assert c.NativeAuthenticator.open_signup is False
    assert c.Authenticator.allow_all is True


def test_admin_user_is_the_configured_one(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings(admin_user="soc-lead"))
    assert c.Authenticator.admin_users == {"soc-lead"}
    assert c.HuntHubNativeAuthenticator.bootstrap_admin == "soc-lead"


def test_username_pattern_reaches_the_authenticator(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings(username_pattern=r"^[a-z]{2,8}$"))
    assert c.Authenticator.username_pattern == r"^[a-z]{2,8}$"


def test_default_username_pattern_refuses_unsafe_names(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings())
    pattern = re.compile(c.Authenticator.username_pattern)
    assert pattern.fullmatch("alice")
    for bad in ("Alice", "bob smith", "../etc", "a;b", "x" * 40):
        assert not pattern.fullmatch(bad), bad


def test_bootstrap_admin_password_file_is_in_the_hub_state_dir(settings, state_dir):
    c = Config()
    hubconfig.apply_authenticator(c, settings())
    password_file = Path(c.HuntHubNativeAuthenticator.bootstrap_admin_password_file)
    assert password_file.is_absolute()
    assert password_file.parent == state_dir / "hub"


def test_demo_mode_uses_the_dummy_authenticator(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings(demo=True))
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.Authenticator.allow_all is True


def test_demo_mode_sets_no_native_authenticator_options(settings):
    c = Config()
    hubconfig.apply_authenticator(c, settings(demo=True))
    for key in (
        "NativeAuthenticator.enable_signup",
        "NativeAuthenticator.open_signup",
        "HuntHubNativeAuthenticator.bootstrap_admin",
        "HuntHubNativeAuthenticator.bootstrap_admin_password_file",
    ):
        assert key not in c, key


def test_authenticator_and_spawner_names_resolve_to_hunthub_classes():
    # JupyterHub looks the configured names up among these entry points; a typo would stop the hub
    assert entry_points(group="jupyterhub.authenticators")["hunthub-native"].load() is HuntHubNativeAuthenticator
    assert entry_points(group="jupyterhub.spawners")["hunthub-local"].load() is HuntHubLocalSpawner
    assert "dummy" in entry_points(group="jupyterhub.authenticators").names


# --- proxy -----------------------------------------------------------------------------------------------


def test_proxy_listens_on_the_configured_public_address(settings):
    c = Config()
    hubconfig.apply_proxy(c, settings(ip="0.0.0.0", port=9000, proxy_command="/opt/chp/bin/chp"))
    assert c.JupyterHub.bind_url == "http://0.0.0.0:9000/"
    # the proxy API and the hub API stay on loopback, next to the public port
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:9001"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:9081"
    assert c.ConfigurableHTTPProxy.command == ["/opt/chp/bin/chp"]


def test_proxy_api_port_follows_explicit_setting(settings):
    c = Config()
    hubconfig.apply_proxy(c, settings(port=9000, proxy_api_port=9555, hub_port=9666, proxy_command="chp"))
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:9555"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:9666"


# --- paths -----------------------------------------------------------------------------------------------


def test_default_database_is_sqlite_in_the_state_dir(settings, state_dir):
    c = Config()
    hubconfig.apply_paths(c, settings())
    url = make_url(c.JupyterHub.db_url)
    assert url.get_backend_name() == "sqlite"
    db_file = Path(url.database)
    assert db_file.is_absolute()
    assert db_file.is_relative_to(state_dir / "hub")


def test_configured_postgresql_database_is_used(settings):
    c = Config()
    hubconfig.apply_paths(c, settings(db_url="postgresql://hunthub:s%40cret@db.soc.example:5433/hunthub"))
    url = make_url(c.JupyterHub.db_url)
    # hunthub may pick the driver; the server, account, password and database are the admin's
    assert url.get_backend_name() == "postgresql"
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "db.soc.example",
        5433,
        "hunthub",
        "s@cret",
        "hunthub",
    )


def test_cookie_secret_lives_in_the_hub_dir(settings, state_dir):
    c = Config()
    hubconfig.apply_paths(c, settings())
    assert Path(c.JupyterHub.cookie_secret_file).parent == state_dir / "hub"


# --- spawner and what kernels are told -------------------------------------------------------------------


def test_spawner_is_hunthub_local_with_homes_in_the_state_dir(settings, state_dir):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    assert c.JupyterHub.spawner_class == "hunthub-local"
    assert Path(c.HuntHubLocalSpawner.home_root) == state_dir / "homes"
    assert (Path(c.HuntHubLocalSpawner.notebooks_source) / "00-start-here.ipynb").is_file()


def test_analysts_cannot_change_what_their_server_loads(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    assert c.Spawner.disable_user_config is True


def test_embedded_cluster_master_is_on_loopback(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings(spark_master_port=7177, spark_master_webui_port=8190))
    env = c.Spawner.environment
    assert env["HUNTHUB_SPARK_MASTER"] == "spark://127.0.0.1:7177"
    assert env["HUNTHUB_SPARK_MASTER_WEBUI"] == "http://127.0.0.1:8190"


def test_external_master_is_passed_on_without_embedded_web_ui(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings(spark_master="spark://x:7077"))
    env = c.Spawner.environment
    assert env["HUNTHUB_SPARK_MASTER"] == "spark://x:7077"
    assert "HUNTHUB_SPARK_MASTER_WEBUI" not in env


def test_kernels_are_told_where_catalog_and_warehouse_are(settings, state_dir):
    c = Config()
    hubconfig.apply_spawner(c, settings(warehouse="hdfs://namenode.soc.example:8020/warehouse"))
    env = c.Spawner.environment
    assert env["HUNTHUB_WAREHOUSE"] == "hdfs://namenode.soc.example:8020/warehouse"
    assert Path(env["HUNTHUB_CATALOG"]).parent == state_dir


def test_scratch_spaces_live_in_a_local_warehouse_shared_with_the_executors(settings, state_dir):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    assert Path(c.HuntHubLocalSpawner.scratch_root) == state_dir / "warehouse" / "users"
    if os.geteuid() == 0:  # the embedded cluster's executors run as their own account only under root
        assert c.HuntHubLocalSpawner.scratch_writers == ["hunthub-spark"]


def test_no_scratch_spaces_for_a_remote_warehouse_or_executors_elsewhere(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings(warehouse="hdfs://namenode.soc.example:8020/warehouse"))
    assert "scratch_root" not in c.HuntHubLocalSpawner
    c = Config()
    hubconfig.apply_spawner(c, settings(spark_master="spark://x:7077"))
    assert "scratch_writers" not in c.HuntHubLocalSpawner


def test_kernel_spark_conf_limits_cores_and_merges_extra_properties(settings):
    s = settings(
        analyst_cores=3,
        executor_memory="2g",
        spark_conf={"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "3g"},
    )
    conf = json.loads(hubconfig.kernel_environment(s)["HUNTHUB_SPARK_CONF"])
    assert conf["spark.cores.max"] == "3"
    assert conf["spark.executor.memory"] == "2g"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    # an admin's explicit spark_conf wins over hunthub's own choice
    assert conf["spark.driver.memory"] == "3g"


def test_analyst_session_gets_what_the_hub_configured(settings):
    # the hub's environment, read by the kernel: the two halves must agree
    env = hubconfig.kernel_environment(settings(spark_master_port=7177, analyst_cores=2))
    props = session.spark_properties({**env, "JUPYTERHUB_USER": "alice"})
    assert props["spark.master"] == "spark://127.0.0.1:7177"
    assert props["spark.cores.max"] == "2"
    assert props["spark.app.name"] == "alice"


# --- the whole thing -------------------------------------------------------------------------------------


def test_configure_creates_a_private_hub_dir(settings, state_dir):
    c = Config()
    hubconfig.configure(c, settings(proxy_command="chp"))
    assert stat.S_IMODE((state_dir / "hub").stat().st_mode) == 0o700
    assert c.JupyterHub.spawner_class == "hunthub-local"


def test_shipped_jupyterhub_config_applies_hunthub_settings(monkeypatch, state_dir):
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    monkeypatch.setenv("HUNTHUB_PORT", "9300")
    monkeypatch.setenv("HUNTHUB_PROXY_COMMAND", "chp")
    f = paths.jupyterhub_config()
    c = PyFileConfigLoader(f.name, path=str(f.parent)).load_config()
    assert c.JupyterHub.bind_url == "http://127.0.0.1:9300/"
    assert c.JupyterHub.authenticator_class == "hunthub-native"
    assert Path(make_url(c.JupyterHub.db_url).database).is_relative_to(state_dir)


def test_warm_driver_is_on_by_default_and_can_be_turned_off(settings):
    env = hubconfig.kernel_environment(settings())
    assert env["HUNTHUB_WARM_DRIVER"] == "1"
    assert env["HUNTHUB_WARM_DRIVER_TTL"] == "3600"
    off = hubconfig.kernel_environment(settings(warm_driver=False, warm_driver_ttl=60))
    assert off["HUNTHUB_WARM_DRIVER"] == "0"
    assert off["HUNTHUB_WARM_DRIVER_TTL"] == "60"


def test_a_hub_not_running_as_root_says_analysts_share_one_account(settings, monkeypatch):
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 1000)
    c = Config()
    hubconfig.apply_hub(c, settings())
    assert "all analysts share one OS account" in c.JupyterHub.template_vars["announcement"]
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 0)
    c = Config()
    hubconfig.apply_hub(c, settings())
    assert "announcement" not in c.JupyterHub.template_vars

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
    hubconfig.apply_spawner(c, settings(spark_master_port=7177, spark_master_webui_port=8190, analyst_tasks="cluster"))
    env = c.Spawner.environment
    assert env["HUNTHUB_KERNEL_SPARK_MASTER"] == "spark://127.0.0.1:7177"
    assert env["HUNTHUB_KERNEL_MASTER_WEBUI"] == "http://127.0.0.1:8190"


def test_external_master_is_passed_on_without_embedded_web_ui(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings(spark_master="spark://x:7077"))
    env = c.Spawner.environment
    assert env["HUNTHUB_KERNEL_SPARK_MASTER"] == "spark://x:7077"
    assert "HUNTHUB_KERNEL_MASTER_WEBUI" not in env


def test_kernels_are_told_where_catalog_and_warehouse_are(settings, state_dir):
    c = Config()
    hubconfig.apply_spawner(c, settings(warehouse="hdfs://namenode.soc.example:8020/warehouse"))
    env = c.Spawner.environment
    assert env["HUNTHUB_KERNEL_WAREHOUSE"] == "hdfs://namenode.soc.example:8020/warehouse"
    assert Path(env["HUNTHUB_KERNEL_CATALOG"]).parent == state_dir


def test_scratch_spaces_live_in_a_local_warehouse_shared_with_the_executors(settings, state_dir):
    c = Config()
    hubconfig.apply_spawner(c, settings(analyst_tasks="cluster"))
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
        analyst_tasks="cluster",
    )
    conf = json.loads(hubconfig.kernel_environment(s)["HUNTHUB_KERNEL_SPARK_CONF"])
    assert conf["spark.cores.max"] == "3"
    assert conf["spark.executor.memory"] == "2g"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    # an admin's explicit spark_conf wins over hunthub's own choice
    assert conf["spark.driver.memory"] == "3g"


def test_analyst_session_gets_what_the_hub_configured(settings):
    # the hub's environment, read by the kernel: the two halves must agree
    env = hubconfig.kernel_environment(settings(spark_master_port=7177, analyst_cores=2, analyst_tasks="cluster"))
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
    assert env["HUNTHUB_KERNEL_WARM_DRIVER"] == "1"
    assert env["HUNTHUB_KERNEL_WARM_DRIVER_TTL"] == "3600"
    off = hubconfig.kernel_environment(settings(warm_driver=False, warm_driver_ttl=60))
    assert off["HUNTHUB_KERNEL_WARM_DRIVER"] == "0"
    assert off["HUNTHUB_KERNEL_WARM_DRIVER_TTL"] == "60"


def test_a_hub_not_running_as_root_says_analysts_share_one_account(settings, monkeypatch):
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 1000)
    c = Config()
    hubconfig.apply_hub(c, settings())
    assert "all analysts share one OS account" in c.JupyterHub.template_vars["announcement"]
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 0)
    c = Config()
    hubconfig.apply_hub(c, settings())
    assert "announcement" not in c.JupyterHub.template_vars


# --- idle culling and limits -----------------------------------------------------------------------------


def culler(c):
    (service,) = [x for x in c.JupyterHub.services if x["name"] == hubconfig.CULLER_SERVICE]
    return service


def test_idle_culler_is_a_hub_service_with_only_the_scopes_it_uses(settings):
    c = Config()
    hubconfig.apply_culling(c, settings(cull_idle_timeout=1800, cull_every=60))
    service = culler(c)
    assert "admin" not in service and "api_token" not in service  # the hub starts it and gives it its token
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == [hubconfig.CULLER_SERVICE]
    # list users, read their servers' activity, stop servers; nothing that could delete an analyst
    assert sorted(role["scopes"]) == ["list:users", "read:users:activity", "servers"]


def test_idle_culler_understands_its_command_line(settings):
    from jupyterhub_idle_culler import IdleCuller

    c = Config()
    hubconfig.apply_culling(c, settings(cull_idle_timeout=1800, cull_every=60))
    command = culler(c)["command"]
    assert command[:3] == [hubconfig.sys.executable, "-m", "jupyterhub_idle_culler"]
    app = IdleCuller()
    app.initialize(command[3:])
    assert app.timeout == 1800 and app.cull_every == 60
    assert app.cull_users is False  # stop servers, keep analysts' accounts
    assert app.config_file == ""  # no idle_culler_config.py picked up from the hub's working directory


def test_cull_every_defaults_to_a_tenth_of_the_timeout(settings):
    c = Config()
    hubconfig.apply_culling(c, settings(cull_idle_timeout=3600))
    assert "--cull-every=360" in culler(c)["command"]


def test_no_culler_when_the_timeout_is_zero(settings):
    c = Config()
    c.JupyterHub.services = [{"name": "livy-gateway", "command": ["x"]}]
    hubconfig.apply_culling(c, settings(cull_idle_timeout=0))
    assert [x["name"] for x in c.JupyterHub.services] == ["livy-gateway"]
    assert c.JupyterHub.load_roles == []


def test_culler_keeps_other_services_and_roles(settings):
    c = Config()
    c.JupyterHub.services = [{"name": "livy-gateway", "command": ["x"]}]
    c.JupyterHub.load_roles = [{"name": "status-page", "scopes": ["list:users"], "services": ["status"]}]
    hubconfig.apply_culling(c, settings())
    hubconfig.apply_culling(c, settings())  # applying twice adds it once
    assert [x["name"] for x in c.JupyterHub.services] == ["livy-gateway", "idle-culler"]
    assert [x["name"] for x in c.JupyterHub.load_roles] == ["status-page", "idle-culler"]


def test_servers_report_activity_as_often_as_configured(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    hubconfig.apply_culling(c, settings(activity_interval=20, cull_idle_timeout=120))
    assert c.JupyterHub.last_activity_interval == 20
    assert c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == "20"
    assert "HUNTHUB_KERNEL_SPARK_MASTER" in c.Spawner.environment  # added to, not replaced


def test_a_cull_timeout_within_one_activity_report_is_refused(settings):
    import pytest

    with pytest.raises(hubconfig.HubConfigError, match="cull_idle_timeout.*twice.*activity_interval"):
        hubconfig.apply_culling(Config(), settings(cull_idle_timeout=500))  # activity_interval 300 by default


def test_kernel_culling_spares_busy_kernels_not_open_tabs(settings):
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    c = Config()
    hubconfig.apply_kernel_culling(c, settings(kernel_cull_idle_timeout=1200))
    app = ServerApp()
    app.parse_command_line(c.Spawner.args)  # what jupyterhub-singleuser makes of them
    km = AsyncMappingKernelManager(config=app.config)
    assert km.cull_idle_timeout == 1200
    assert km.cull_interval == 120
    assert km.cull_busy is False
    assert km.cull_connected is True


def test_no_kernel_culling_when_its_timeout_is_zero(settings):
    c = Config()
    c.Spawner.args = ["--ServerApp.some_option=1"]
    hubconfig.apply_kernel_culling(c, settings(kernel_cull_idle_timeout=600))
    hubconfig.apply_kernel_culling(c, settings(kernel_cull_idle_timeout=0))
    assert c.Spawner.args == ["--ServerApp.some_option=1"]


def test_both_spawners_pass_kernel_culling_to_the_server(settings, tmp_path):
    from types import SimpleNamespace

    from hunthub.spawner.docker import HuntHubDockerSpawner

    s = settings(kernel_cull_idle_timeout=900)
    local = Config()
    hubconfig.apply_spawner(local, s)
    hubconfig.apply_kernel_culling(local, s)
    user = SimpleNamespace(name="alice", groups=[], url="/user/alice/")
    args = HuntHubLocalSpawner(config=local, user=user, create_system_users=False).get_args()
    assert "--MappingKernelManager.cull_idle_timeout=900" in args
    docker = Config()
    hubconfig.apply_docker_spawner(docker, settings(spawner="docker"), gateway="172.17.0.1")
    hubconfig.apply_kernel_culling(docker, s)
    assert "--MappingKernelManager.cull_idle_timeout=900" in HuntHubDockerSpawner(config=docker, user=user).get_args()


def test_spawn_and_server_limits_come_from_the_settings(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    assert "concurrent_spawn_limit" not in c.JupyterHub  # one place decides it: apply_limits
    hubconfig.apply_hub(c, settings())
    hubconfig.apply_limits(c, settings(concurrent_spawn_limit=5, active_server_limit=40, cull_idle_timeout=1800))
    assert c.JupyterHub.concurrent_spawn_limit == 5
    assert c.JupyterHub.active_server_limit == 40
    # what the "hub is full" page tells the analyst, beside what apply_hub put there
    assert c.JupyterHub.template_vars["hunthub_active_server_limit"] == 40
    assert c.JupyterHub.template_vars["hunthub_concurrent_spawn_limit"] == 5
    assert c.JupyterHub.template_vars["hunthub_cull_idle_minutes"] == 30
    assert "announcement_login" in c.JupyterHub.template_vars


def test_default_limits_are_sized_from_the_machine(settings):
    from hunthub.settings import machine_cores, machine_memory_mb

    s = settings()
    assert s.concurrent_spawn_limit == max(8, 4 * machine_cores())
    assert s.active_server_limit == max(10, machine_memory_mb() // 300)


def test_configure_turns_on_culling_and_limits(settings):
    c = Config()
    hubconfig.configure(c, settings(proxy_command="chp", cull_idle_timeout=7200, active_server_limit=12))
    assert "--timeout=7200" in culler(c)["command"]
    assert "--MappingKernelManager.cull_busy=False" in c.Spawner.args
    assert c.JupyterHub.active_server_limit == 12


# --- executors follow work; driver start slots; warm driver delay ----------------------------------------


def session_props(s, **env) -> dict[str, str]:
    """The properties an analyst's session gets from what the hub gives their server."""
    return session.spark_properties({**hubconfig.kernel_environment(s), "JUPYTERHUB_USER": "alice", **env})


def test_sessions_give_back_idle_executors_and_keep_the_per_analyst_cap(settings):
    props = session_props(settings(analyst_cores=2, analyst_tasks="cluster"))
    assert props["spark.dynamicAllocation.enabled"] == "true"
    # standalone has no external shuffle service here: shuffle tracking is what makes dynamic allocation work
    assert props["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert props["spark.dynamicAllocation.minExecutors"] == "0"
    assert props["spark.dynamicAllocation.initialExecutors"] == "0"
    assert props["spark.dynamicAllocation.executorIdleTimeout"] == "30s"
    assert props["spark.dynamicAllocation.cachedExecutorIdleTimeout"] == "600s"
    assert props["spark.dynamicAllocation.shuffleTracking.timeout"] == "60s"
    cores = int(props["spark.executor.cores"]) * int(props["spark.dynamicAllocation.maxExecutors"])
    assert cores == int(props["spark.cores.max"]) == 2
    # shuffles nobody references any more are forgotten (and their executors let go) within the idle timeout
    assert props["spark.cleaner.periodicGC.interval"] == "30s"


def test_idle_timeouts_come_from_the_settings(settings):
    props = session_props(
        settings(
            executor_idle_timeout=10, cached_executor_idle_timeout=90, shuffle_idle_timeout=40, analyst_tasks="cluster"
        )
    )
    assert props["spark.dynamicAllocation.executorIdleTimeout"] == "10s"
    assert props["spark.dynamicAllocation.cachedExecutorIdleTimeout"] == "90s"
    assert props["spark.dynamicAllocation.shuffleTracking.timeout"] == "40s"


def test_smaller_executors_from_spark_conf_keep_the_cap(settings):
    props = session_props(settings(analyst_cores=4, spark_conf={"spark.executor.cores": "1"}, analyst_tasks="cluster"))
    assert props["spark.executor.cores"] == "1"
    assert props["spark.dynamicAllocation.maxExecutors"] == "4"
    assert props["spark.cores.max"] == "4"


def test_the_admins_spark_conf_wins_over_dynamic_allocation(settings):
    props = session_props(settings(spark_conf={"spark.dynamicAllocation.enabled": "false"}))
    assert props["spark.dynamicAllocation.enabled"] == "false"


def test_dynamic_allocation_can_be_turned_off(settings):
    props = session_props(settings(dynamic_allocation=False))
    assert not any(k.startswith("spark.dynamicAllocation.") for k in props)


def test_executors_larger_than_the_cap_are_refused_clearly(settings):
    import pytest

    with pytest.raises(hubconfig.HubConfigError, match=r"spark.executor.cores \(4\).*spark.cores.max \(2\)"):
        hubconfig.kernel_environment(
            settings(analyst_cores=2, spark_conf={"spark.executor.cores": "4"}, analyst_tasks="cluster")
        )
    with pytest.raises(hubconfig.HubConfigError, match="executor_idle_timeout must be at least 1"):
        hubconfig.kernel_environment(settings(executor_idle_timeout=0, analyst_tasks="cluster"))


def test_kernels_are_told_the_warm_driver_delay_and_where_the_start_slots_are(settings, monkeypatch, state_dir):
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 1000)
    env = hubconfig.kernel_environment(settings(warm_driver_delay=45))
    assert env["HUNTHUB_KERNEL_WARM_DRIVER_DELAY"] == "45"
    assert env["HUNTHUB_KERNEL_JVM_START_SLOTS_DIR"] == str(state_dir / "jvm-start-slots")
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 0)
    # as root: a root-owned directory analysts' accounts can read but not change
    assert (
        hubconfig.kernel_environment(settings())["HUNTHUB_KERNEL_JVM_START_SLOTS_DIR"] == "/run/hunthub/jvm-start-slots"
    )


def test_the_hub_prepares_as_many_start_slots_as_the_setting_says(settings, monkeypatch, state_dir):
    from hunthub import jvm_slots

    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 1000)
    d = hubconfig.prepare_jvm_start_slots(settings(jvm_start_slots=3))
    assert d == state_dir / "jvm-start-slots"
    assert len(jvm_slots.slot_files(d)) == 3
    assert str(d) == hubconfig.kernel_environment(settings())["HUNTHUB_KERNEL_JVM_START_SLOTS_DIR"]


def test_docker_mode_has_no_start_slots(settings):
    # drivers in containers do not see the host's slot directory (out of scope, see hunthub.jvm_slots)
    assert hubconfig.prepare_jvm_start_slots(settings(spawner="docker")) is None
    assert "HUNTHUB_KERNEL_JVM_START_SLOTS_DIR" not in hubconfig.kernel_environment(settings(spawner="docker"))


def test_drivers_start_small_and_with_the_hosts_class_archive_once_there_is_one(settings, tmp_path, monkeypatch):
    from hunthub import driver_jvm

    monkeypatch.setattr(driver_jvm, "cache_dir", lambda: tmp_path / "jvm")
    options = session_props(settings())["spark.driver.extraJavaOptions"].split()
    assert set(driver_jvm.DRIVER_OPTIONS) <= set(options)
    # no archive yet: a JVM told about a missing one would lose the JDK's own class sharing too
    assert not any(o.startswith("-XX:SharedArchiveFile") for o in options)
    archive = driver_jvm.archive_path()
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"")
    options = session_props(settings())["spark.driver.extraJavaOptions"].split()
    assert f"-XX:SharedArchiveFile={archive}" in options
    # drivers in containers do not see the host's file
    docker = session_props(settings(spawner="docker"))["spark.driver.extraJavaOptions"]
    assert "SharedArchiveFile" not in docker
    # the admin's own JVM options replace ours
    mine = session_props(settings(spark_conf={"spark.driver.extraJavaOptions": "-XX:+UseG1GC"}))
    assert mine["spark.driver.extraJavaOptions"] == "-XX:+UseG1GC"


def test_embedded_executors_start_with_the_hosts_class_archive_once_there_is_one(settings, tmp_path, monkeypatch):
    from hunthub import driver_jvm

    monkeypatch.setattr(driver_jvm, "cache_dir", lambda: tmp_path / "jvm")
    assert "spark.executor.extraJavaOptions" not in session_props(settings(analyst_tasks="cluster"))
    archive = driver_jvm.archive_path()
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"")
    cluster_tasks = session_props(settings(analyst_tasks="cluster"))
    assert cluster_tasks["spark.executor.extraJavaOptions"] == f"-XX:SharedArchiveFile={archive}"
    # worker containers and external clusters do not see the host's file
    assert "spark.executor.extraJavaOptions" not in session_props(settings(spawner="docker"))
    assert "spark.executor.extraJavaOptions" not in session_props(settings(spark_master="spark://elsewhere:7077"))
    mine = session_props(settings(spark_conf={"spark.executor.extraJavaOptions": "-Dx=1"}))
    assert mine["spark.executor.extraJavaOptions"] == "-Dx=1"


def test_the_class_archive_is_per_spark_and_java(monkeypatch, tmp_path):
    from hunthub import driver_jvm

    first = driver_jvm.archive_path(tmp_path)
    assert first.parent == tmp_path and first.name.endswith(".jsa")
    monkeypatch.setattr(driver_jvm.paths, "spark_version", lambda: "9.9.9")
    assert driver_jvm.archive_path(tmp_path) != first


# --- where analysts' tasks run (issue 13) ----------------------------------------------------------------


def test_on_the_embedded_default_an_analysts_tasks_run_in_their_own_driver(settings, monkeypatch):
    s = settings(analyst_cores=2, executor_memory="1500m")
    assert s.analyst_tasks == "driver"
    props = session_props(s)
    assert props["spark.master"] == "local[2]"  # the analyst's share of cores, as task threads
    assert props["spark.driver.memory"] == "1500m"  # what an executor would have had
    assert props["spark.cleaner.periodicGC.interval"] == "60s"  # an idle driver's heap shrinks back
    assert props["spark.authenticate"] == "true"  # only this driver holds its secret
    assert props["spark.ui.killEnabled"] == "false"  # other local accounts reach the UI on loopback
    assert settings(spawner="docker").analyst_tasks == "driver"  # in the analyst's own container
    assert not [k for k in props if k.startswith(("spark.dynamicAllocation.", "spark.executor.", "spark.cores."))]
    assert "HUNTHUB_KERNEL_MASTER_WEBUI" not in hubconfig.kernel_environment(s)  # the cluster is not theirs to ask
    # nobody else's account writes the analyst's scratch space
    monkeypatch.setattr(hubconfig.os, "geteuid", lambda: 0)
    c = Config()
    hubconfig.apply_spawner(c, s)
    assert "scratch_writers" not in c.HuntHubLocalSpawner
    c = Config()
    hubconfig.apply_spawner(c, settings(analyst_tasks="cluster"))
    assert c.HuntHubLocalSpawner.scratch_writers == ["hunthub-spark"]


def test_tasks_run_on_the_cluster_by_default_elsewhere_and_ingest_always_does(settings, monkeypatch):
    import pytest

    from hunthub.ingest import session as ingest_session
    from hunthub.settings import HuntHub, load_config

    assert settings(spark_master="spark://x:7077").analyst_tasks == "cluster"
    assert settings(spawner="docker", spark_master="spark://x:7077").analyst_tasks == "cluster"
    s = settings(spark_master_port=7188)
    assert ingest_session.ingest_contract(s).spark_master == "spark://127.0.0.1:7188"
    monkeypatch.setenv("HUNTHUB_ANALYST_TASKS", "everywhere")
    with pytest.raises(Exception, match="'driver', 'cluster'"):
        HuntHub(config=load_config([]))


def test_ingest_with_a_local_master_is_a_batch_jvm_not_an_analysts_small_driver(settings):
    from hunthub import driver_jvm
    from hunthub.ingest import session as ingest_session

    s = settings(ingest_memory="3g", spark_conf={"spark.driver.extraJavaOptions": "-Dsite=1 -XX:+UseSerialGC"})
    local = ingest_session.ingest_properties(ingest_session.ingest_contract(s, "local[2]"), s.ingest_memory)
    assert local["spark.driver.memory"] == "3g"
    options = local["spark.driver.extraJavaOptions"].split()
    assert "-Dsite=1" in options  # the admin's own option stays
    assert not set(options) & set(driver_jvm.DRIVER_OPTIONS)  # C1-only and serial GC slowed ingest 1.6x
    assert "-XX:-DontCompileHugeMethods" in options
    # on the cluster the executors do the work: the driver stays small, ingest's executors compile every stage
    s = settings()
    remote = ingest_session.ingest_properties(ingest_session.ingest_contract(s), s.ingest_memory)
    assert remote["spark.driver.memory"] == s.driver_memory
    assert "-XX:TieredStopAtLevel=1" in remote["spark.driver.extraJavaOptions"]
    assert "-XX:-DontCompileHugeMethods" in remote["spark.executor.extraJavaOptions"]
    assert 1024 <= int(settings().ingest_memory.removesuffix("m")) <= 8192


def test_what_one_analyst_may_use_is_one_setting_for_either_spawner(settings):
    import pytest

    s = settings(analyst_cores=2, analyst_memory_limit="2G", analyst_pids_limit=500)
    assert s.analyst_cpu_limit == 2.0  # follows the session's task threads
    for spawner in ("local", "docker"):
        c = Config()
        if spawner == "docker":
            hubconfig.apply_docker_spawner(c, settings(spawner="docker", analyst_memory_limit="2G"), gateway="10.0.0.1")
            caps = c.HuntHubDockerSpawner
        else:
            hubconfig.apply_spawner(c, s)
            caps = c.HuntHubLocalSpawner
        assert caps.mem_limit == "2G"
    assert c.HuntHubDockerSpawner.pids_limit == 2048
    with pytest.warns(DeprecationWarning, match="analyst_memory_limit"):
        old = settings(docker_mem_limit="1G")
    assert old.analyst_memory_limit == "1G"

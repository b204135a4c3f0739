"""hunthub's JupyterHub configuration, as small functions that each apply one concern to a traitlets Config.

`jupyterhub_config.py` calls `configure(c)`; tests apply the functions to a bare `Config()` and assert.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from traitlets.config import Config

from hunthub import paths
from hunthub.settings import HuntHub, load


def database_url(s: HuntHub) -> str:
    """The hub's SQLAlchemy URL. A bare postgresql:// URL gets the driver hunthub installs (psycopg 3), since
    SQLAlchemy's default driver for it differs between releases."""
    if not s.db_url:
        return f"sqlite:///{s.hub_dir / 'jupyterhub.sqlite'}"
    from sqlalchemy.engine import make_url

    url = make_url(s.db_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def apply_paths(c: Config, s: HuntHub) -> None:
    c.JupyterHub.db_url = database_url(s)
    # JupyterHub creates this file 0600 and refuses to use it if it is readable by others
    c.JupyterHub.cookie_secret_file = str(s.hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(s.run_dir / "jupyterhub.pid.info")
    c.ConfigurableHTTPProxy.pid_file = str(s.hub_dir / "proxy.pid")


def apply_proxy(c: Config, s: HuntHub) -> None:
    c.JupyterHub.bind_url = f"http://{s.ip}:{s.port}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [s.proxy_command]
    c.ConfigurableHTTPProxy.should_start = True


def apply_authenticator(c: Config, s: HuntHub) -> None:
    c.Authenticator.admin_users = {s.admin_user}
    c.Authenticator.username_pattern = s.username_pattern
    if s.demo:
        # Explicit opt-in only (`hunthub up --demo`): any name/password pair logs in.
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allow_all = True
        return
    c.JupyterHub.authenticator_class = "hunthub-native"
    # Approval by an admin is the gate: every approved, authenticated user is allowed.
    c.Authenticator.allow_all = True
    c.NativeAuthenticator.enable_signup = True
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 120
    c.HuntHubNativeAuthenticator.bootstrap_admin = s.admin_user
    c.HuntHubNativeAuthenticator.bootstrap_admin_password_file = str(s.admin_password_file)


def kernel_environment(s: HuntHub) -> dict[str, str]:
    """What every analyst's server (and so every kernel) is told about the cluster and the data."""
    conf = {
        "spark.cores.max": str(s.analyst_cores),
        "spark.executor.memory": s.executor_memory,
        "spark.driver.memory": s.driver_memory,
        **s.spark_conf,
    }
    env = {
        "HUNTHUB_SPARK_MASTER": s.master_url,
        "HUNTHUB_SPARK_CONF": json.dumps(conf, sort_keys=True),
        "HUNTHUB_WAREHOUSE": s.warehouse,
        "HUNTHUB_CATALOG": s.catalog_path,
        "HUNTHUB_WARM_DRIVER": "1" if s.warm_driver else "0",
        "HUNTHUB_WARM_DRIVER_TTL": str(s.warm_driver_ttl),
        "HUNTHUB_SQL_ROW_LIMIT": str(s.sql_row_limit),
        "SPARK_HOME": str(paths.spark_home()),
        # the same Python on the driver and on the executors
        "PYSPARK_PYTHON": sys.executable,
    }
    if s.embedded_cluster:
        env["HUNTHUB_SPARK_MASTER_WEBUI"] = f"http://127.0.0.1:{s.spark_master_webui_port}"
    java_home = paths.java_home()
    if java_home:
        env["JAVA_HOME"] = java_home
    return env


def apply_spawner(c: Config, s: HuntHub) -> None:
    c.JupyterHub.spawner_class = "hunthub-local"
    c.HuntHubLocalSpawner.home_root = str(s.homes_dir)
    c.HuntHubLocalSpawner.notebooks_source = str(paths.notebooks_dir())
    c.Spawner.cmd = [paths.venv_bin("jupyterhub-singleuser")]
    c.Spawner.default_url = "/tree"
    c.Spawner.environment = kernel_environment(s)
    # analysts must not change what their server loads (jupyterhub security model)
    c.Spawner.disable_user_config = True
    c.Spawner.http_timeout = 90
    c.Spawner.start_timeout = 120
    # on 2 cores, a burst of spawns beyond this only slows everyone down; later ones get a clear 429
    c.JupyterHub.concurrent_spawn_limit = 10


def apply_hub(c: Config, s: HuntHub) -> None:
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.template_paths = [str(Path(__file__).parent / "templates")]
    c.JupyterHub.template_vars = {"announcement_login": "hunthub — sign up, then wait for an admin's approval."}
    if not s.demo and os.geteuid() != 0:
        c.JupyterHub.template_vars["announcement"] = (
            "This hub runs as a normal user: all analysts share one OS account (demo only)."
        )


def configure(c: Config, settings: HuntHub | None = None) -> HuntHub:
    s = settings or load()
    for d in (s.state, s.hub_dir, s.run_dir):
        d.mkdir(parents=True, exist_ok=True)
    Path(s.hub_dir).chmod(0o700)
    apply_paths(c, s)
    apply_proxy(c, s)
    apply_authenticator(c, s)
    apply_spawner(c, s)
    apply_hub(c, s)
    return s

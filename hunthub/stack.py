"""`hunthub up`: the embedded stack (Spark master + worker, demo data, JupyterHub + proxy) under one supervisor."""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import sys
import time
import urllib.request
from pathlib import Path

from hunthub import (
    __version__,
    catalog,
    checks,
    cluster,
    docker_cluster,
    driver_jvm,
    hub_db,
    kernelspecs,
    master_probe,
    paths,
    tls,
)
from hunthub.data import demo
from hunthub.processes import Service, StaleRunError, Supervisor, service_env
from hunthub.settings import RESOLVED_VARIABLE, HuntHub, write_resolved

# a crashed service is restarted at most this many times within RESTART_WINDOW seconds
MAX_RESTARTS = 3
RESTART_WINDOW = 300


class StartupError(RuntimeError):
    pass


def say(msg: str = "") -> None:
    print(msg, flush=True)


def required_ports(s: HuntHub) -> dict[str, tuple[str, int]]:
    ports = {
        "hub (public)": (s.ip, s.port),
        "proxy API": ("127.0.0.1", s.proxy_api_port),
        "hub API": ("127.0.0.1", s.hub_port),
        "status page": ("127.0.0.1", s.status_port),
    }
    if s.spawner == "docker":
        ports["Spark master UI"] = ("127.0.0.1", s.spark_master_webui_port)
    elif s.embedded_cluster:
        ports["Spark master"] = ("127.0.0.1", s.spark_master_port)
        ports["Spark master UI"] = ("127.0.0.1", s.spark_master_webui_port)
        ports["Spark worker UI"] = ("127.0.0.1", s.spark_worker_webui_port)
    if s.livy_url:
        ports["Livy gateway"] = ("127.0.0.1", s.livy_gateway_port)
    return ports


def preflight(s: HuntHub, ports: dict[str, tuple[str, int]] | None = None) -> None:
    """`ports`: the ports to check, if not all of required_ports (a hub service's own Spark units hold theirs)."""
    # Java is needed even with an external cluster: analysts' drivers run in their servers, on this machine
    results = [checks.check_state_dir(s.state), checks.check_java(), checks.check_spark()]
    results += [checks.check_proxy(s.proxy_command), *checks.check_ports(required_ports(s) if ports is None else ports)]
    results.append(checks.check_login(s))
    results.append(checks.check_tls(s))
    results.append(checks.check_public_url(s))
    if s.spawner == "docker":
        results.append(checks.check_docker(s))
    failed = [c for c in results if not c.ok]
    for c in results:
        if not c.ok or c.warning:
            say("  " + c.line())
    if failed:
        raise StartupError(f"{len(failed)} check(s) failed; nothing was started.")
    for line in tls.warnings(s):
        say("  " + line)


def _secret_file(path: Path, make) -> tuple[str, bool]:
    """Read a secret, or create it 0600 (never wider, even for an instant). Returns (value, created)."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value, True


def prepare_state(s: HuntHub) -> None:
    s.state.mkdir(parents=True, exist_ok=True)
    # analysts' servers (other accounts) traverse the state dir to reach their home and the warehouse
    s.state.chmod(0o711)
    for d in (s.hub_dir, s.run_dir, s.log_dir):
        d.mkdir(exist_ok=True, mode=0o700)
        d.chmod(0o700)
    wh = catalog.local_path(s.warehouse)
    if wh is not None:
        wh.mkdir(parents=True, exist_ok=True)
        wh.chmod(0o755)


def start_cluster(sup: Supervisor, s: HuntHub) -> None:
    say(f"[2/4] Spark {paths.spark_version()} cluster: master on {s.master_url}, worker with {s.worker_cores} "
        f"cores and {s.worker_memory_mb / 1024:.1f} GiB ...")  # fmt: skip
    cluster.start(sup, s, progress=lambda msg: say(f"      {msg}"))
    say(f"      master UI http://127.0.0.1:{s.spark_master_webui_port}/")


def start_docker_cluster(s: HuntHub) -> None:
    if s.analyst_tasks == "driver":
        say(f"[2/4] Spark {paths.spark_version()} in each analyst's own container ({s.analyst_image}), within its "
            f"limits ({s.analyst_cpu_limit:g} CPU, {s.analyst_memory_limit or 'no memory limit'}): no cluster "
            "containers")  # fmt: skip
    else:
        say(f"[2/4] Spark {paths.spark_version()} as containers ({s.spark_image}): a master and {s.docker_workers} "
            f"worker(s) with {s.docker_worker_cores} core(s) each ...")  # fmt: skip
    docker_cluster.start(s, progress=lambda msg: say(f"      {msg}"))
    say(f"      master UI http://127.0.0.1:{s.spark_master_webui_port}/; analysts' servers: {s.analyst_image}")


def ensure_demo_data(s: HuntHub) -> None:
    if s.demo_data_events <= 0:
        say("[3/4] demo data: skipped (demo_data_events = 0)")
        return
    warehouse = catalog.local_path(s.warehouse)
    if warehouse is None:
        say(f"[3/4] demo data: skipped (warehouse {s.warehouse} is not a local folder)")
        return

    tty = sys.stdout.isatty()
    shown = []

    def progress(done: int, total: int) -> None:
        bar = "#" * (30 * done // total)
        line = f"      [{bar:<30}] {done:,}/{total:,} events"
        if tty:
            print("\r" + line, end="", flush=True)
        elif done == total or done * 4 // total > len(shown):  # a log gets a line per quarter, not a spinner
            shown.append(done)
            say(line)

    say(f"[3/4] demo data in {s.warehouse}:")
    key = Path(s.state_dir) / "answer-key.json"
    if demo.ensure(warehouse, Path(s.catalog_path), s.demo_data_events, progress, answer_key=key):
        say(("\n" if tty else "") + f"      written: {', '.join(demo.TABLES)}; catalog {s.catalog_path}")
        say(f"      answer key to the planted attacks (for you, not the analysts): {key}")
    else:
        say("      already there (tables " + ", ".join(demo.TABLES) + ")")


# The hub is given what it is configured by (hunthub's and JupyterHub's own variables, which include its
# secrets), how it reaches Docker, a proxy and an identity provider's TLS; JupyterHub passes only its env_keep
# (PATH, LANG, ...) on to the analysts' servers.
HUB_ENV = (
    "HUNTHUB_*", "JUPYTERHUB_*", "CONFIGPROXY_*", "DOCKER_*", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy", "JAVA_HOME", "VIRTUAL_ENV", "PYTHONPATH", "XDG_CACHE_HOME",
)  # fmt: skip


def hub_service(s: HuntHub, resolved: Path) -> Service:
    """JupyterHub with hunthub's configuration; `resolved` holds every setting as `up` resolved it (see
    hunthub.settings.write_resolved), so the hub does not read them again from the environment and files."""
    env = {RESOLVED_VARIABLE: str(resolved), "PYTHONUNBUFFERED": "1"}
    return Service(
        name="jupyterhub",
        argv=[paths.venv_bin("jupyterhub"), "-f", str(paths.jupyterhub_config())],
        env=env,
        inherit=HUB_ENV,
        log_path=s.log_dir / "jupyterhub.log",
        cwd=s.hub_dir,
    )


def upgrade_hub_database(s: HuntHub, hub: Service) -> Path | None:
    """`jupyterhub upgrade-db` (after a backup) when an older JupyterHub made the hub database: run as the hub
    would run, with its config file and environment, so it upgrades the database the hub then opens. Returns the
    backup's path, or None when the database needed nothing."""
    from hunthub.hub.config import database_url

    return hub_db.ensure_current(s, database_url(s), hub.argv, service_env(hub), say)


def upgrade_db(s: HuntHub) -> int:
    """`hunthub upgrade-db`: what `up` does to the hub database before it starts anything, for a hub started some
    other way (the hunthub-hub image runs `jupyterhub` itself). Never under a running hub."""
    from hunthub.processes import live_services

    running = live_services(s.run_dir)
    if running:
        say(f"ERROR: hunthub is running with {s.state_dir} ({', '.join(running)}): stop it first")
        return 1
    try:
        archive = upgrade_hub_database(s, hub_service(s, write_resolved(s)))
    except hub_db.HubDatabaseError as e:
        say(f"ERROR: {e}")
        return 1
    if archive is None:
        say("hub database: nothing to upgrade (no database yet, or already at the installed JupyterHub's schema)")
    return 0


def hub_ready(s: HuntHub) -> bool:
    try:
        with urllib.request.urlopen(f"{s.local_url}hub/api/", timeout=2, context=local_tls()) as r:  # noqa: S310
            return r.status == 200
    except OSError:
        return False


def local_tls() -> ssl.SSLContext:
    """For asking our own proxy on this host whether it is up: its certificate names the public host (or is a
    trial's self-signed one), not the loopback address we dial, and nothing secret is sent."""
    return ssl._create_unverified_context()  # noqa: S323


def banner(s: HuntHub, password: str | None) -> None:
    say()
    say(f"hunthub is up: {s.public_url}")
    if s.ssl_self_signed and not s.ssl_cert:
        say(f"  TRIAL CERTIFICATE: self-signed ({s.tls_dir}); browsers will warn. Use your CA's for real data.")
    if s.demo:
        say("  DEMO MODE: any user name logs in with any password. Never use it with real data.")
    elif s.auth == "ldap":
        who = ", ".join(s.ldap_allowed_groups) or "see HuntHub.ldap_allowed_users"
        say(f"  Log in with a directory account of {s.ldap_server_url} (members of: {who}).")
        if s.ldap_admin_groups or s.ldap_admin_users:
            say(f"  Admins: {', '.join([*s.ldap_admin_groups, *s.ldap_admin_users])}")
    elif s.auth != "native":
        who = ", ".join(s.oauth_allowed_groups) or "see HuntHub.oauth_allowed_users"
        say(f"  Log in through {s.oauth_issuer or s.auth} (members of: {who}).")
        if s.oauth_admin_groups or s.oauth_admin_users:
            say(f"  Admins: {', '.join([*s.oauth_admin_groups, *s.oauth_admin_users])}")
    else:
        say(f"  Admin user:  {s.admin_user}")
        if password:
            say(f"  Admin password (shown only this once): {password}")
        say(f"  The admin's first password is kept in {s.admin_password_file} (mode 0600).")
        say(f"  Analysts sign up at {s.public_url}hub/signup; approve them at {s.public_url}hub/authorize")
    if s.livy_url:
        say(f"  Livy kernels: {s.livy_url}, through the hub's Livy gateway ({s.livy_gateway_url})")
    if os.geteuid() != 0:
        say("  NOTE: running as a normal user, so all analysts share this OS account (demo only).")
    say(f"  Logs: {s.log_dir}    State: {s.state}")
    say("  Press Ctrl-C to stop everything.")


def up(s: HuntHub) -> int:
    say(f"hunthub {__version__}: state in {s.state}")
    # a shell that starts us in the background ignores SIGINT; Ctrl-C and `kill -INT` must still stop us
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    sup = Supervisor(s.run_dir) if _state_writable(s) else None
    class_dump = None
    try:
        if sup is not None:
            cleaned = sup.clean_stale()
            if cleaned:
                say("  stopped what a previous run left behind: " + ", ".join(cleaned))
        say("[1/4] checking Java, Spark, proxy, ports, state dir ...")
        preflight(s)
        assert sup is not None  # preflight fails first when the state dir is unusable
        prepare_state(s)
        kernelspecs.install()  # the kernel specs and server config always match this checkout's code
        hub = hub_service(s, write_resolved(s))
        # before anything starts: a database an older JupyterHub made is backed up and upgraded, or nothing runs
        upgrade_hub_database(s, hub)
        # drivers' class archive, once per host: dumped while the cluster and the demo data start
        class_dump = driver_jvm.start_dump() if s.spawner != "docker" else None
        password, created = (None, False)
        if not s.demo and s.auth == "native":
            password, created = _secret_file(s.admin_password_file, lambda: secrets.token_urlsafe(15))
        if s.spawner == "docker":
            start_docker_cluster(s)
        elif s.embedded_cluster:
            start_cluster(sup, s)
        else:
            problem = master_probe.master_problem(s.master_url)
            say(f"[2/4] external cluster {s.master_url}: " + (f"WARNING: {problem}" if problem else "reachable"))
        ensure_demo_data(s)
        if class_dump is not None:
            say("      class-data-sharing archive for drivers (once per host) ...")
        driver_jvm.finish_dump(class_dump, say)
        say(f"[4/4] JupyterHub on {s.public_url} ...")
        hub = sup.start(hub)
        cluster.wait_for(lambda: hub_ready(s), "JupyterHub to answer", 120, hub)
        banner(s, password if created else None)
        return supervise(sup)
    except (
        StartupError,
        cluster.ClusterError,
        StaleRunError,
        docker_cluster.DockerClusterError,
        hub_db.HubDatabaseError,
    ) as e:
        say(f"\nERROR: {e}")
        return 1
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        if class_dump is not None and class_dump.poll() is None:
            class_dump.kill()
        if sup is not None:
            # a second Ctrl-C must not abandon a half-done shutdown
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("stopping ...")
            sup.stop_all()
            if s.spawner == "docker":
                removed = docker_cluster.stop(s)
                if removed:
                    say(f"removed {len(removed)} {s.docker_prefix}-* container(s)/network(s); homes stay in volumes")
            say("stopped.")


def _state_writable(s: HuntHub) -> bool:
    return checks.check_state_dir(s.state).ok


def supervise(sup: Supervisor) -> int:
    """Wait for Ctrl-C/SIGTERM; restart a crashed service (within limits) and say so."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    restarts: dict[str, list[float]] = {}
    try:
        while not stop:
            time.sleep(0.5)
            sup.reap_orphans()
            for service in sup.exited():
                code = service.proc.returncode
                now = time.monotonic()
                recent = [t for t in restarts.get(service.name, []) if now - t < RESTART_WINDOW]
                say(f"\n{service.name} exited unexpectedly (code {code}). Last lines of {service.log_path}:")
                say(service.log_tail(10))
                if len(recent) >= MAX_RESTARTS:
                    say(f"{service.name} keeps failing ({MAX_RESTARTS} restarts in {RESTART_WINDOW} s); stopping.")
                    return 1
                restarts[service.name] = [*recent, now]
                say(f"restarting {service.name} ...")
                sup.start(service)
    except KeyboardInterrupt:
        say("\nCtrl-C")
    return 0

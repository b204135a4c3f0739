"""`hunthub install-service`: the stack as systemd services, for a machine that runs hunthub for good.

`hunthub up` stays the foreground way: one supervisor, Ctrl-C stops everything. As services, the same parts run
under systemd instead, which restarts them, starts them at boot and keeps their output in the journal:

- `hunthub-spark-master.service`, `hunthub-spark-worker.service` (embedded cluster only): the same command and
  environment as `up` gives them (hunthub.cluster's master_service/worker_service), as the `hunthub-spark` account;
- `hunthub.service`: JupyterHub, as root (the local spawner creates analysts' accounts and switches to them). Its
  `ExecStartPre=` runs `hunthub service-step prepare-hub`: the preparation `up` does (checks, state dirs, kernel
  specs, the hub database's backup and upgrade after a JupyterHub update, admin password, demo data, the drivers'
  class archive, the resolved settings the hub reads);
- `hunthub.target`: the three together (`systemctl stop hunthub.target` stops everything).

Settings are resolved at each start of the hub from the environment file (the HUNTHUB_* variables of the shell
that installed the units, mode 0600: it may hold secrets), the config files and the flags given to
install-service; the Spark units' command lines are rendered once, at install time, so `prepare-hub` refuses to
start the hub when the settings no longer match them (install-service again after changing a Spark setting).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hunthub import atomic_file, catalog, checks, cluster, docker_cluster, driver_jvm, kernelspecs, master_probe, paths
from hunthub.processes import BASE_ENV, inherited_env
from hunthub.settings import RESOLVED_VARIABLE, HuntHub, write_resolved

UNIT_DIR = "/etc/systemd/system"
ENV_DIR = "/etc/hunthub"
RESTART_SEC = 5
# as `hunthub up` (hunthub.stack.MAX_RESTARTS in RESTART_WINDOW): a service that keeps failing is left stopped
START_LIMIT_BURST = 3
START_LIMIT_INTERVAL = 300
# the hub's start includes the demo data (minutes for a large demo_data_events) and the class archive dump
HUB_START_TIMEOUT = 900
WORKER_REGISTER_TIMEOUT = 180


class ServiceError(RuntimeError):
    pass


@dataclass
class Install:
    """Where install-service writes, and the flags of its command line the units repeat to `hunthub` (so each
    start resolves the settings exactly as the installing command did: flags over config files over env file)."""

    unit_dir: Path = Path(UNIT_DIR)
    env_dir: Path = Path(ENV_DIR)
    prefix: str = "hunthub"
    flags: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", self.prefix):
            raise ServiceError(f"unit prefix {self.prefix!r}: lower-case letters, digits and '-' only")
        self.unit_dir, self.env_dir = Path(self.unit_dir).absolute(), Path(self.env_dir).absolute()

    @property
    def master(self) -> str:
        return f"{self.prefix}-spark-master.service"

    @property
    def worker(self) -> str:
        return f"{self.prefix}-spark-worker.service"

    @property
    def hub(self) -> str:
        return f"{self.prefix}.service"

    @property
    def target(self) -> str:
        return f"{self.prefix}.target"

    @property
    def env_file(self) -> Path:
        return self.env_dir / f"{self.prefix}.env"

    def step_argv(self, step: str) -> list[str]:
        """`hunthub service-step <step>` as a unit runs it: with the install's flags and where its units are."""
        return [paths.venv_bin("hunthub"), "service-step", step, *self.flags,
                "--dir", str(self.unit_dir), "--env-dir", str(self.env_dir), "--unit-prefix", self.prefix]  # fmt: skip


def has_spark_units(s: HuntHub) -> bool:
    """Only the embedded cluster is ours to run; with Docker, `prepare-hub` starts the cluster's containers as `up`
    does (and the hub's ExecStopPost removes them), and an external cluster is somebody else's."""
    return s.spawner != "docker" and s.embedded_cluster


# --- rendering -------------------------------------------------------------------------------------------------


def _quote(arg: str) -> str:
    """One command-line word in a unit file: '%' is a specifier and '$' a variable there, so both are doubled;
    words with blanks, quotes or backslashes are double-quoted."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not re.search(r'[\s"\'\\;]', arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _path(path: Path) -> str:
    """A setting that is one path (WorkingDirectory=, EnvironmentFile=): taken as it is, but for specifiers."""
    if "\n" in str(path):
        raise ServiceError(f"{path!r}: a path with a line break cannot go into a unit file")
    return str(path).replace("%", "%%")


def _exec(argv: list[str]) -> str:
    if not Path(argv[0]).is_absolute():
        raise ServiceError(f"{argv[0]} is not an absolute path: systemd needs one (is it installed?)")
    return " ".join(_quote(a) for a in argv)


def _environment(env: dict[str, str]) -> list[str]:
    lines = []
    for key, value in sorted(env.items()):
        if "\n" in value:
            raise ServiceError(f"{key} holds a line break: it cannot go into a unit file")
        text = f"{key}={value}".replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'Environment="{text}"')
    return lines


def _unit(sections: list[tuple[str, list[str]]]) -> str:
    head = "# Written by `hunthub install-service`: run it again instead of editing (drop-ins survive).\n"
    return head + "\n".join(f"[{name}]\n" + "\n".join(lines) + "\n" for name, lines in sections)


def _common_service(user: str) -> list[str]:
    return [
        f"User={user}",
        f"Group={user}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
    ]


def _spark_hardening(s: HuntHub) -> list[str]:
    """The daemons run every analyst's Spark tasks: those get no way to gain privileges (setuid binaries), a /tmp
    of their own, and a read-only /usr, /etc and homes; only the state dir (work dirs, warehouse by default) and a
    local warehouse elsewhere stay writable. ('-': a missing path is no reason to fail the start.)"""
    writable = [s.state]
    wh = catalog.local_path(s.warehouse)
    if wh is not None and not wh.is_relative_to(s.state):
        writable.append(wh)
    # a private /tmp hides the real one: only when nothing the daemons use lives there (a trial's state dir may)
    used = [*writable, paths.spark_home(), Path(paths.java_home() or "/usr")]
    in_tmp = any(p.is_relative_to(t) for p in used for t in ("/tmp", "/var/tmp"))  # noqa: S108 - compared, not written
    return [
        "NoNewPrivileges=yes",
        *([] if in_tmp else ["PrivateTmp=yes"]),
        "ProtectSystem=full",
        "ProtectHome=read-only",
        *(f"ReadWritePaths=-{_quote(str(p))}" for p in writable),
    ]


def _start_limits() -> list[str]:
    return [f"StartLimitIntervalSec={START_LIMIT_INTERVAL}", f"StartLimitBurst={START_LIMIT_BURST}"]


def spark_unit(s: HuntHub, inst: Install, role: str) -> str:
    """A unit for the embedded master or worker: the very Service `up` runs (hunthub.cluster), as its account.

    No EnvironmentFile: the worker hands its environment to every executor, where any analyst's code reads it, so
    the daemons get only their own (paths and options, no secrets), written here."""
    service = cluster.master_service(s, None) if role == "master" else cluster.worker_service(s, None)
    unit = [f"Description=hunthub: embedded Spark {role} ({s.master_url})", "After=network.target",
            f"PartOf={inst.target}", *_start_limits()]  # fmt: skip
    if role == "worker":
        unit[1:2] = [f"After=network.target {inst.master}", f"Wants={inst.master}"]
    return _unit([
        ("Unit", unit),
        ("Service", [
            "Type=simple",
            *_common_service(cluster.SPARK_USER),
            # '+': as root, whatever User= says: makes the account and hands it its work dirs (hunthub.cluster)
            f"ExecStartPre=+{_exec(inst.step_argv('prepare-spark'))}",
            f"ExecStart={_exec(service.argv)}",
            f"WorkingDirectory=-{_path(service.cwd)}",
            *_environment(service.env),
            "SuccessExitStatus=143",  # a JVM stopped by SIGTERM exits 128+15: a clean stop, not a failure
            *_spark_hardening(s),
        ]),
        ("Install", [f"WantedBy={inst.target}"]),
    ])  # fmt: skip


def hub_unit(s: HuntHub, inst: Install) -> str:
    """JupyterHub as `up` starts it (hunthub.stack.hub_service), after `prepare-hub`.

    As root, without NoNewPrivileges= or file-system sandboxing: the local spawner creates analysts' accounts
    (/etc/passwd), their homes anywhere under the state dir, and starts their servers as them; every restriction
    here would be inherited by those servers, which must see the machine as they do under `hunthub up`."""
    from hunthub.stack import hub_service

    service = hub_service(s, s.run_dir / "resolved-settings.json")
    after, wants = ["network-online.target"], ["network-online.target"]
    if has_spark_units(s):
        after += [inst.master, inst.worker]
        wants += [inst.master, inst.worker]
    requires = []
    if s.spawner == "docker":
        after.append("docker.service")
        requires.append("Requires=docker.service")
    lines = [
        "Type=simple",
        *_common_service("root"),
        f"EnvironmentFile={_path(inst.env_file)}",
        *_environment(service.env),
        f"ExecStartPre={_exec(inst.step_argv('prepare-hub'))}",
        f"ExecStart={_exec(service.argv)}",
        f"WorkingDirectory=-{_path(service.cwd)}",
        # SIGTERM to the hub alone, which stops the proxy and analysts' servers itself; whatever is left after it
        # exited gets SIGKILL (after a crash too, so a restarted hub never finds a stale proxy on its ports)
        "KillMode=mixed",
        "TimeoutStopSec=90",
        f"TimeoutStartSec={HUB_START_TIMEOUT}",
    ]
    if s.spawner == "docker":
        # as `up` on its way out: remove the cluster's and analysts' containers (homes stay in volumes)
        lines.append(f"ExecStopPost={_exec(inst.step_argv('stop-hub'))}")
    return _unit([
        ("Unit", [f"Description=hunthub: JupyterHub for security analysts ({s.public_url})",
                  f"After={' '.join(after)}", f"Wants={' '.join(wants)}", *requires, f"PartOf={inst.target}",
                  *_start_limits()]),
        ("Service", lines),
        ("Install", [f"WantedBy={inst.target}"]),
    ])  # fmt: skip


def target_unit(s: HuntHub, inst: Install) -> str:
    members = [inst.hub] + ([inst.master, inst.worker] if has_spark_units(s) else [])
    return _unit([
        ("Unit", ["Description=hunthub: JupyterHub and Spark for security analysts", f"Wants={' '.join(members)}",
                  f"After={' '.join(members)}"]),
        ("Install", ["WantedBy=multi-user.target"]),
    ])  # fmt: skip


def render(s: HuntHub, inst: Install) -> dict[str, str]:
    """Every unit's file name and text."""
    units = {inst.hub: hub_unit(s, inst), inst.target: target_unit(s, inst)}
    if has_spark_units(s):
        units[inst.master] = spark_unit(s, inst, "master")
        units[inst.worker] = spark_unit(s, inst, "worker")
    return units


# What the hub's environment file keeps of the installing shell: what `up` passes on to the hub (its HUB_ENV:
# hunthub's and JupyterHub's own variables, secrets included, proxies, TLS trust) and the basics (PATH, LANG).
def service_environment(s: HuntHub, environ=os.environ) -> dict[str, str]:
    from hunthub.stack import HUB_ENV

    env = inherited_env(tuple(n for n in BASE_ENV if n != "TERM") + HUB_ENV, environ)
    env.pop(RESOLVED_VARIABLE, None)  # the unit sets it: the file prepare-hub writes
    env["HUNTHUB_STATE_DIR"] = str(s.state)  # the flags pin it too; here for `hunthub` commands of an admin
    if env.get("HUNTHUB_CONFIG"):
        env["HUNTHUB_CONFIG"] = str(Path(env["HUNTHUB_CONFIG"]).absolute())
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def env_file_text(env: dict[str, str]) -> str:
    """KEY="value" lines as systemd's EnvironmentFile= reads them: inside double quotes, a backslash keeps the
    next character as it is (so \\, ", $ and ` are escaped), and nothing is expanded."""
    lines = ["# Written by `hunthub install-service` (mode 0600: it may hold secrets). The hub's environment."]
    for key, value in sorted(env.items()):
        if "\n" in value:
            raise ServiceError(f"{key} holds a line break: it cannot go into an environment file")
        lines.append(f'{key}="' + re.sub(r'([\\"$`])', r"\\\1", value) + '"')
    return "\n".join(lines) + "\n"


def write(s: HuntHub, inst: Install, environ=os.environ) -> list[Path]:
    """Write the units (0644) and the hub's environment file (0600, in a 0700 dir if we make it); return them."""
    units = render(s, inst)
    inst.unit_dir.mkdir(parents=True, exist_ok=True)
    if not inst.env_dir.exists():
        inst.env_dir.mkdir(parents=True, mode=0o700)
    written = [atomic_file.write_text(inst.env_file, env_file_text(service_environment(s, environ)), mode=0o600)]
    for name, text in units.items():
        written.append(atomic_file.write_text(inst.unit_dir / name, text, mode=0o644))
    # a worker unit left from an install with the embedded cluster would still be pulled in by nothing, but
    # would confuse whoever reads the directory: remove what this install no longer has
    for stale in (inst.master, inst.worker):
        if stale not in units:
            (inst.unit_dir / stale).unlink(missing_ok=True)
    return written


def stale_units(s: HuntHub, inst: Install) -> list[str]:
    """The installed units that differ from what these settings render (a Spark port or size changed since)."""
    return [
        name
        for name, text in render(s, inst).items()
        if (inst.unit_dir / name).is_file() and (inst.unit_dir / name).read_text() != text
    ]


def systemd_running() -> bool:
    """systemd is this machine's init (sd_booted()'s test): only then can units be started here."""
    return Path("/run/systemd/system").is_dir()


# --- the steps the units run ---------------------------------------------------------------------------------


def prepare_spark(s: HuntHub) -> None:
    """Before each daemon starts (as root): its account, and its work dirs handed to it (hunthub.cluster)."""
    cluster.prepare_dirs(s, cluster.ensure_spark_user() if os.geteuid() == 0 else None)


def prepare_hub(s: HuntHub, inst: Install) -> None:
    """What `hunthub up` does before it starts the hub, for the hub's unit: the same functions, in the same order.
    The Spark ports are not checked: our own Spark units hold them."""
    from hunthub import stack

    stale = stale_units(s, inst)
    if stale:
        raise ServiceError(
            f"the settings changed since `hunthub install-service` wrote {', '.join(stale)} in {inst.unit_dir}: "
            "run it again (with the same flags), then `systemctl daemon-reload` and restart "
            f"{inst.target}"
        )
    ours = {"Spark master", "Spark master UI", "Spark worker UI"} if has_spark_units(s) else set()
    stack.say(f"hunthub: preparing the hub (state in {s.state})")
    stack.say("[1/4] checking Java, Spark, proxy, ports, state dir ...")
    stack.preflight(s, ports={k: v for k, v in stack.required_ports(s).items() if k not in ours})
    stack.prepare_state(s)
    kernelspecs.install()
    # as `up`: a database an older JupyterHub made is backed up and upgraded before anything starts (the unit's
    # `jupyterhub` alone would refuse to start on it)
    stack.upgrade_hub_database(s, stack.hub_service(s, write_resolved(s)))
    class_dump = driver_jvm.start_dump() if s.spawner != "docker" else None
    try:
        if not s.demo and s.auth == "native":
            _, created = stack._secret_file(s.admin_password_file, lambda: secrets.token_urlsafe(15))
            # never into the journal: whoever may read logs is not the admin
            stack.say(f"  admin password {'created' if created else 'kept'} in {s.admin_password_file} (mode 0600)")
        if s.spawner == "docker":
            stack.start_docker_cluster(s)
        elif s.embedded_cluster:
            stack.say(f"[2/4] waiting for the embedded Spark worker ({inst.worker}) to register with {s.master_url}")
            cluster.wait_for(
                lambda: cluster.alive_workers(cluster.master_state(s.spark_master_webui_port)),
                f"the Spark worker to register (see `journalctl -u {inst.worker}`)",
                WORKER_REGISTER_TIMEOUT,
            )
        else:
            problem = master_probe.master_problem(s.master_url)
            stack.say(f"[2/4] external cluster {s.master_url}: " + (f"WARNING: {problem}" if problem else "reachable"))
        stack.ensure_demo_data(s)
        driver_jvm.finish_dump(class_dump, stack.say)
        class_dump = None
    finally:
        if class_dump is not None and class_dump.poll() is None:
            class_dump.kill()
    write_resolved(s)
    stack.say(f"[4/4] starting JupyterHub on {s.public_url}")


def stop_hub(s: HuntHub) -> None:
    if s.spawner == "docker":
        removed = docker_cluster.stop(s)
        print(f"removed {len(removed)} {s.docker_prefix}-* container(s)/network(s); homes stay in volumes")


# --- the commands ------------------------------------------------------------------------------------------------


def install_command(s: HuntHub, inst: Install, enable: bool) -> int:
    if os.geteuid() != 0:
        print("hunthub install-service: run it as root (the hub runs as root to create analysts' accounts)")
        return 1
    try:
        checks_ok = checks.check_state_dir(s.state)
        if not checks_ok.ok:
            raise ServiceError(checks_ok.line())
        if has_spark_units(s):
            # the units name the account: it must exist before systemd reads them
            cluster.ensure_spark_user()
        written = write(s, inst)
    except (ServiceError, OSError, subprocess.CalledProcessError) as e:
        print(f"hunthub install-service: {e}")
        return 1
    print(f"hunthub install-service: state in {s.state}")
    for path in written:
        print(f"  wrote {path} (mode {path.stat().st_mode & 0o777:04o})")
    start = f"systemctl daemon-reload && systemctl enable --now {inst.target}"
    if not systemd_running():
        print("systemd is not this machine's init (PID 1), so the units cannot be started here.")
        print(f"On a machine with systemd: {start}")
        return 0
    if not enable:
        print(f"Start them, and at every boot: {start}")
    else:
        for argv in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", inst.target]):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
                return 1
        print(f"enabled and started {inst.target}")
    print(f"Logs: journalctl -u '{inst.prefix}*'   Stop: systemctl stop {inst.target}")
    return 0


def step_command(s: HuntHub, inst: Install, step: str) -> int:
    from hunthub.hub_db import HubDatabaseError
    from hunthub.stack import StartupError

    try:
        if step == "prepare-spark":
            prepare_spark(s)
        elif step == "prepare-hub":
            prepare_hub(s, inst)
        else:
            stop_hub(s)
    except (ServiceError, StartupError, cluster.ClusterError, docker_cluster.DockerClusterError, HubDatabaseError) as e:
        print(f"hunthub service-step {step}: {e}", file=sys.stderr)
        return 1
    return 0

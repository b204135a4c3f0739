"""Start, watch and stop the processes of the embedded stack without leaving any behind.

Three layers make "nothing left running" hold:
- each service runs in its own process group and gets SIGTERM if `hunthub up` dies (PR_SET_PDEATHSIG);
- `hunthub up` is a child subreaper, so processes that services start and orphan (a user server whose hub
  crashed, a JVM whose launcher died) are re-parented to it and stopped with everything else;
- a pid file per service records pid and kernel start time, so a run that was SIGKILLed is cleaned up by the
  next start instead of blocking it (a recycled pid is recognised by its different start time).
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def die_with_parent() -> None:
    """Get SIGTERM when the parent dies. Call after any setuid: a credential change clears it."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from the state on (field 3), None when the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> int | None:
    """Kernel start time of a process (clock ticks since boot), None when it does not exist."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def running_since(pid: int, started: int) -> bool:
    """The process `pid` that started at `started` still runs: not gone, not another process with a reused pid,
    not a zombie (a child whose parent died first may wait, reparented, to be reaped)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == started


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_pid(int(entry.name)) == pid:
            kids.append(int(entry.name))
    return kids


def descendants_of(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for kid in children_of(todo.pop()):
            found.append(kid)
            todo.append(kid)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def terminate_tree(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM a process, its group and all its descendants; SIGKILL what is left after `timeout`."""
    victims = [pid, *descendants_of(pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        groups = set()
        for p in victims:
            try:
                groups.add(os.getpgid(p))
            except ProcessLookupError:
                pass
        for p in victims:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        for g in groups:
            if g not in (0, 1, os.getpgrp()):
                try:
                    os.killpg(g, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap()
            victims = [p for p in victims if alive(p)]
            if not victims:
                return
            time.sleep(0.1)


def _reap() -> None:
    """Collect exited children (ours and re-parented orphans) so they do not linger as zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _preexec(uid: int | None, gid: int | None, groups: list[int] | None) -> Callable[[], None]:
    parent = os.getpid()

    def run() -> None:
        if gid is not None:
            os.setgid(gid)
            os.setgroups(groups or [gid])
        if uid is not None:
            os.setuid(uid)
        die_with_parent()
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return run


# What every service inherits from the environment of `hunthub up` (root's, usually): what a program needs to
# run at all. Nothing else passes unless a service names it (Service.inherit): root's environment may hold the
# hub's secrets (HUNTHUB_OAUTH_CLIENT_SECRET, JUPYTERHUB_CRYPT_KEY, a HUNTHUB_DB_URL with a password) or any of
# the admin's own, and the Spark worker hands its environment to every executor, where any analyst's code reads it.
BASE_ENV = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TERM")


def inherited_env(names: tuple[str, ...], environ=os.environ) -> dict[str, str]:
    """The variables of `environ` named in `names`; a name ending in '*' is a prefix."""
    prefixes = tuple(n[:-1] for n in names if n.endswith("*"))
    exact = {n for n in names if not n.endswith("*")}
    return {k: v for k, v in environ.items() if k in exact or (prefixes and k.startswith(prefixes))}


def _account_env(uid: int | None) -> dict[str, str]:
    """HOME and USER of the account a service runs as (ours, when it runs as us)."""
    if uid is None:
        return inherited_env(("HOME", "USER", "LOGNAME"))
    try:
        account = pwd.getpwuid(uid)
    except KeyError:
        return {"HOME": "/nonexistent"}
    return {"HOME": account.pw_dir, "USER": account.pw_name, "LOGNAME": account.pw_name}


@dataclass
class Service:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    inherit: tuple[str, ...] = ()  # variables passed on from our own environment besides BASE_ENV
    cwd: Path | None = None
    uid: int | None = None
    gid: int | None = None
    groups: list[int] | None = None
    proc: subprocess.Popen | None = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def service_env(service: Service) -> dict[str, str]:
    """The environment a service runs with: BASE_ENV and what it inherits from ours, its account's HOME and USER,
    and its own variables. A one-off command run on a service's behalf (the hub's `upgrade-db`) gets the same."""
    return {**inherited_env(BASE_ENV + service.inherit), **_account_env(service.uid), **service.env}


class StaleRunError(RuntimeError):
    pass


def live_services(run_dir: Path) -> list[str]:
    """The services a running `hunthub up` with this run dir started that are still alive (by their pid files)."""
    alive_ones = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        try:
            info = json.loads(pid_file.read_text())
            pid, started = int(info["pid"]), int(info["start_time"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if start_time(pid) == started:
            alive_ones.append(f"{pid_file.stem} (pid {pid})")
    return alive_ones


class Supervisor:
    """Owns every process `hunthub up` starts."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.services: list[Service] = []
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        become_subreaper()

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def clean_stale(self) -> list[str]:
        """Stop what a previous, killed run left behind; return a line for each thing stopped."""
        cleaned = []
        for pid_file in sorted(self.run_dir.glob("*.pid")):
            try:
                info = json.loads(pid_file.read_text())
                pid, started = int(info["pid"]), int(info["start_time"])
            except (OSError, ValueError, KeyError, TypeError):
                pid_file.unlink(missing_ok=True)
                continue
            if start_time(pid) == started:
                if info.get("owner") and start_time(info["owner"]) == info.get("owner_start_time"):
                    raise StaleRunError(
                        f"hunthub is already running (pid {info['owner']}, state in {self.run_dir.parent}). "
                        "Stop it with Ctrl-C in its terminal, or `kill "
                        f"{info['owner']}`."
                    )
                terminate_tree(pid)
                cleaned.append(f"{pid_file.stem} (pid {pid})")
            pid_file.unlink(missing_ok=True)
        return cleaned

    def start(self, service: Service) -> Service:
        service.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = open(service.log_path, "ab")  # noqa: SIM115 - handed to the child
        env = service_env(service)
        service.proc = subprocess.Popen(
            service.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=service.cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_preexec(service.uid, service.gid, service.groups),  # noqa: PLW1509
        )
        log.close()
        pid = service.proc.pid
        me = os.getpid()
        self._pid_file(service.name).write_text(
            json.dumps(
                {
                    "pid": pid,
                    "start_time": start_time(pid),
                    "argv": service.argv[:3],
                    "owner": me,
                    "owner_start_time": start_time(me),
                }
            )
        )
        if service not in self.services:
            self.services.append(service)
        return service

    def reap_orphans(self) -> None:
        """Collect exited processes re-parented to us (we are their subreaper); our services' own exit codes
        are left for their Popen objects to collect."""
        ours = {s.proc.pid for s in self.services if s.proc is not None}
        for pid in children_of(os.getpid()):
            if pid not in ours:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    def exited(self) -> list[Service]:
        """Services whose process has ended."""
        return [s for s in self.services if s.proc is not None and s.proc.poll() is not None]

    def stop(self, service: Service, timeout: float = 15.0) -> None:
        if service.proc is not None and service.proc.poll() is None:
            terminate_tree(service.proc.pid, timeout)
            try:
                service.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._pid_file(service.name).unlink(missing_ok=True)

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop services in reverse start order, then anything else that ended up parented to us."""
        for service in reversed(self.services):
            self.stop(service, timeout)
        for pid in children_of(os.getpid()):
            terminate_tree(pid, timeout=5)
        _reap()

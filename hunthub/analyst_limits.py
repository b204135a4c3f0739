"""Caps on what one analyst's notebook server may use on the hub's host: CPU, memory and processes, by cgroup.

Why: with the local spawner every analyst's server, kernels, Spark driver JVMs and Python workers run on the hub's
host. Without caps, one runaway notebook (a collect() of a big table, a loop on every core, a fork bomb) takes the
host, and with it every other analyst's session and the hub itself.

What: under a `hunthub` group at the top of each cgroup hierarchy, one group per analyst named after their system
account (`hunthub/hunt-alice`), with cpu, memory and pids limits. The spawner creates or updates it before the server
starts (`apply`); the server process joins it between fork and exec, before it drops root (`join`); everything it
starts inherits it, and the analyst's account cannot leave it (moving a process needs write access to root-owned
cgroup.procs files) nor change its limits. Both cgroup v2 (Debian 12's default) and v1 work, and hybrids: each
controller is used in the hierarchy it is mounted in (/proc/self/mountinfo).

What it cannot do:
- cap anything without root and a writable cgroup fs with the cpu, memory and pids controllers (containers often
  have none of these): `unavailable()` says why, and the spawner then starts servers uncapped;
- cap disk or network use, or what Spark executors use on the cluster: only processes on the hub's host;
- make allocations fail: past the memory cap the kernel first reclaims the group's page cache, then kills (OOM) a
  process of the group, usually the biggest (a kernel or a driver JVM), not the server;
- shrink a group's memory cap below what it already uses when cgroup v1 cannot reclaim it (EBUSY);
- free a group while something runs in it: a kernel that outlives its server keeps the group, and its caps.
On cgroup v2 the servers leave the cgroup of the hub's systemd unit, so stopping the unit no longer kills them
(the spawner's own stop still does). Threads count as processes for the pids cap.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

PARENT = "hunthub"
CONTROLLERS = ("cpu", "memory", "pids")
CPU_PERIOD_US = 100_000  # the kernel's default period; quota = cores * period
MIN_CPU_QUOTA_US = 1_000  # the kernel refuses smaller quotas
UNLIMITED_V1_MEMORY = 1 << 62  # v1 reports "no limit" as a huge page-aligned number, not -1
# written only when the kernel has them (swap accounting on): without them a cap could be dodged through swap
OPTIONAL_FILES = frozenset({"memory.swap.max", "memory.memsw.limit_in_bytes"})

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}")
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Hierarchy:
    version: int  # 1 or 2
    mount: Path


@dataclass(frozen=True)
class Applied:
    """What holds for an analyst's group now: caps (None: no cap) and use."""

    cpu: float | None  # cores
    memory: int | None  # bytes
    pids: int | None
    memory_used: int  # bytes, page cache included
    pids_used: int


def check_name(name: str) -> str:
    """`name` if it can be a group's name: one path component made of letters, digits and `_.@+-`, not starting
    with a dot or dash (so never `.` or `..`). Raises ValueError otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name an analyst's cgroup")
    return name


def parse_mountinfo(text: str) -> list[tuple[str, Path, set[str]]]:
    """(fstype, mount point, super options) of every cgroup and cgroup2 mount in a /proc/<pid>/mountinfo text."""
    mounts = []
    for line in text.splitlines():
        fields, _, tail = line.partition(" - ")
        head, tail = fields.split(), tail.split()
        if len(head) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), head[4])  # mountinfo escapes spaces etc.
        mounts.append((tail[0], Path(point), set(tail[2].split(","))))
    return mounts


def locate(mountinfo: str | None = None) -> dict[str, Hierarchy]:
    """The hierarchy each of CONTROLLERS is mounted in, for those that are (first mount wins)."""
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    found: dict[str, Hierarchy] = {}
    for fstype, point, options in parse_mountinfo(mountinfo):
        if fstype == "cgroup2":
            try:
                options = set(_read(point / "cgroup.controllers").split())
            except OSError:
                continue
        version = 2 if fstype == "cgroup2" else 1
        for controller in CONTROLLERS:
            if controller in options:
                found.setdefault(controller, Hierarchy(version, point))
    return found


def unavailable() -> str | None:
    """None when analysts' groups can be made here, else why not, in a few words."""
    if os.geteuid() != 0:
        return "the hub does not run as root"
    try:
        found = locate()
    except OSError as e:
        return f"cannot read the mounts: {e}"
    missing = [c for c in CONTROLLERS if c not in found]
    if missing:
        return f"no cgroup hierarchy has the {', '.join(missing)} controller(s)"
    for h in set(found.values()):
        if not os.access(h.mount, os.W_OK):
            return f"the cgroup fs at {h.mount} is not writable (read-only mount?)"
    return None


def limit_values(
    controller: str, version: int, cpu: float | None = None, memory: int | None = None, pids: int | None = None
) -> list[tuple[str, str]]:
    """The (file, value) writes, in order, that put the caps on a group; None or 0 means no cap."""
    if controller == "cpu":
        quota = max(MIN_CPU_QUOTA_US, round(cpu * CPU_PERIOD_US)) if cpu else None
        if version == 2:
            return [("cpu.max", f"{quota or 'max'} {CPU_PERIOD_US}")]
        return [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", str(quota or -1))]
    if controller == "memory":
        if version == 2:
            return [("memory.max", str(memory or "max")), ("memory.swap.max", "0" if memory else "max")]
        # v1 refuses memsw < limit at every step: lift memsw first, then set the limit, then memsw to it
        value = str(memory or -1)
        return [
            ("memory.memsw.limit_in_bytes", "-1"),
            ("memory.limit_in_bytes", value),
            ("memory.memsw.limit_in_bytes", value),
        ]
    if controller == "pids":
        return [("pids.max", str(pids or "max"))]
    raise ValueError(f"unknown controller {controller!r}")


def apply(name: str, cpu: float | None = None, memory: int | None = None, pids: int | None = None) -> tuple[bytes, ...]:
    """Create (or update) the analyst's group with these caps (None or 0: no cap). Returns the cgroup.procs files
    for `join`. Raises OSError when the kernel refuses, ValueError for a bad name or no usable hierarchy."""
    check_name(name)
    found = locate()
    missing = [c for c in CONTROLLERS if c not in found]
    if missing:
        raise ValueError(f"no cgroup hierarchy has the {', '.join(missing)} controller(s)")
    for h in set(found.values()):
        if h.version == 2:  # v2: a controller works in a group only if enabled in each ancestor's subtree_control
            mine = [c for c in CONTROLLERS if found[c] == h]
            _enable(h.mount, mine)
            _mkdir(h.mount / PARENT)
            _enable(h.mount / PARENT, mine)
        else:
            _mkdir(h.mount / PARENT)
        _mkdir(h.mount / PARENT / name)
    for controller, h in found.items():
        group = h.mount / PARENT / name
        for file, value in limit_values(controller, h.version, cpu, memory, pids):
            if file in OPTIONAL_FILES and not os.path.lexists(group / file):
                continue
            _write(group / file, value)
    return tuple(bytes(h.mount / PARENT / name / "cgroup.procs") for h in sorted(set(found.values()), key=str))


def join(procs_files: tuple[bytes, ...]) -> None:
    """Move the calling process into the group whose cgroup.procs files `apply` returned. For a preexec_fn: runs
    between fork and exec, perhaps after other threads held locks, so only plain system calls; raises OSError."""
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | _OPEN_FLAGS)
        try:
            os.write(fd, b"0")  # 0: the writing process itself
        finally:
            os.close(fd)


def remove(name: str, wait: float = 1.0) -> bool:
    """Remove the analyst's group. False when processes are still in it (it is kept, caps and all). A process that
    just exited can keep a group busy a moment longer: retries for up to `wait` seconds."""
    check_name(name)
    deadline = time.monotonic() + wait
    for h in set(locate().values()):
        group = h.mount / PARENT / name
        while True:
            try:
                os.rmdir(group)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
    return True


def limits_of(name: str) -> Applied | None:
    """The caps and use of the analyst's group; None when it does not exist (or a controller is not mounted)."""
    check_name(name)
    found = locate()
    if any(c not in found for c in CONTROLLERS):
        return None

    def read(controller: str, file: str) -> str:
        return _read(found[controller].mount / PARENT / name / file).strip()

    try:
        if found["cpu"].version == 2:
            quota, period = read("cpu", "cpu.max").split()
        else:
            quota, period = read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us")
        v2_memory = found["memory"].version == 2
        memory = read("memory", "memory.max" if v2_memory else "memory.limit_in_bytes")
        used = read("memory", "memory.current" if v2_memory else "memory.usage_in_bytes")
        pids, pids_used = read("pids", "pids.max"), read("pids", "pids.current")
    except FileNotFoundError:
        return None
    memory_cap = None if memory == "max" or int(memory) >= UNLIMITED_V1_MEMORY else int(memory)
    return Applied(
        cpu=None if quota in ("max", "-1") else int(quota) / int(period),
        memory=memory_cap,
        pids=None if pids == "max" else int(pids),
        memory_used=int(used),
        pids_used=int(pids_used),
    )


def _read(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | _OPEN_FLAGS)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _mkdir(path: Path) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    # mkdir does not follow a last-component symlink, but an existing entry could be one, or a control file
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OSError(errno.ENOTDIR, "not a cgroup directory", str(path))


def _enable(group: Path, controllers: list[str]) -> None:
    """Enable `controllers` for the children of a v2 group (cgroup.subtree_control), those not enabled yet."""
    enabled = set(_read(group / "cgroup.subtree_control").split())
    wanted = [c for c in controllers if c not in enabled]
    if wanted:
        _write(group / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))

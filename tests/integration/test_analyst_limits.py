"""Per-analyst caps on the hub's host, in real kernel cgroups: a capped child really is killed, throttled and
refused processes, and the analyst's server joins its group through the spawner's preexec_fn.

Needs root and the cpu, memory and pids controllers (cgroup v1 or v2); skipped with the reason otherwise.
Group names are unique per run (`ht<hex>-...`) and removed afterwards, whatever happens.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hunthub import analyst_limits
from hunthub.spawner.local import HuntHubLocalSpawner

REASON = "needs root" if os.geteuid() != 0 else analyst_limits.unavailable()
pytestmark = pytest.mark.skipif(bool(REASON), reason=f"cannot make cgroups here: {REASON}")

MiB = 1 << 20
RUN = secrets.token_hex(2)


def _groups(name: str) -> list[Path]:
    return [h.mount / analyst_limits.PARENT / name for h in set(analyst_limits.locate().values())]


def _empty_and_remove(name: str) -> None:
    for group in _groups(name):
        if group.is_dir():
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert analyst_limits.remove(name, wait=5), f"{name}'s cgroup still has processes"


@pytest.fixture
def group(request):
    name = f"ht{RUN}-{request.node.name.removeprefix('test_')[:20].replace('[', '-').rstrip(']')}"
    yield name
    _empty_and_remove(name)


def _run_in(procs: tuple[bytes, ...] | None, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    preexec = (lambda: analyst_limits.join(procs)) if procs else None
    return subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=preexec,  # noqa: PLW1509 - single-threaded test process
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


ALLOCATE = "b = b'x' * (400 << 20); print(len(b))"  # written, so every page is really used


def test_memory_cap_kills_a_child_that_goes_past_it(group):
    procs = analyst_limits.apply(group, memory=200 * MiB)

    capped = _run_in(procs, ALLOCATE)
    uncapped = _run_in(None, ALLOCATE)

    assert capped.returncode == -signal.SIGKILL, capped
    assert uncapped.returncode == 0, uncapped.stderr


BUSY = """
import os, time
end = time.monotonic() + 3
while time.monotonic() < end:
    pass
t = os.times()
print(t.user + t.system)
"""


def test_cpu_cap_throttles_a_busy_loop(group):
    procs = analyst_limits.apply(group, cpu=0.5)

    result = _run_in(procs, BUSY)

    assert result.returncode == 0, result.stderr
    used = float(result.stdout)
    print(f"CPU time of a 3 s busy loop under a 0.5-core cap: {used:.2f} s")
    assert 0.2 < used <= 0.5 * 3 * 1.4


SPAWN = {
    "threads": """
import json, threading
done, started, failed = threading.Event(), [], 0
for _ in range(50):
    t = threading.Thread(target=done.wait)
    try:
        t.start()
        started.append(t)
    except RuntimeError:
        failed += 1
done.set()
for t in started:
    t.join()
print(json.dumps({"ok": len(started), "failed": failed}))
""",
    "processes": """
import json, os, time
children, failed = [], 0
for _ in range(50):
    try:
        pid = os.fork()
    except OSError:
        failed += 1
        continue
    if pid == 0:
        time.sleep(1)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print(json.dumps({"ok": len(children), "failed": failed}))
""",
}


@pytest.mark.parametrize("kind", sorted(SPAWN))
def test_pids_cap_refuses_more_processes_and_threads(group, kind):
    procs = analyst_limits.apply(group, pids=20)

    result = _run_in(procs, SPAWN[kind])

    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["ok"] < 20 and counts["failed"] >= 30, counts


def test_limits_read_back_and_group_is_removed_once_empty(group):
    procs = analyst_limits.apply(group, cpu=0.5, memory=200 * MiB, pids=20)
    applied = analyst_limits.limits_of(group)
    assert (applied.cpu, applied.memory, applied.pids) == (0.5, 200 * MiB, 20)

    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=lambda: analyst_limits.join(procs)
    )
    try:
        time.sleep(0.5)
        in_use = analyst_limits.limits_of(group)
        assert in_use.pids_used >= 1 and in_use.memory_used > 0
        assert analyst_limits.remove(group, wait=0.2) is False  # a process left in it (a kernel) keeps it
        assert all(g.is_dir() for g in _groups(group))
    finally:
        child.kill()
        child.wait()

    assert analyst_limits.remove(group) is True
    assert not any(g.exists() for g in _groups(group))
    assert analyst_limits.limits_of(group) is None


def test_updating_a_group_lifts_and_lowers_caps(group):
    analyst_limits.apply(group, cpu=0.5, memory=200 * MiB, pids=20)
    analyst_limits.apply(group, cpu=1.5, memory=300 * MiB, pids=0)  # v1: memsw had to be raised first
    applied = analyst_limits.limits_of(group)
    assert (applied.cpu, applied.memory, applied.pids) == (1.5, 300 * MiB, None)

    analyst_limits.apply(group)
    applied = analyst_limits.limits_of(group)
    assert (applied.cpu, applied.memory, applied.pids) == (None, None, None)


def test_a_child_that_cannot_join_its_group_does_not_start(group):
    procs = analyst_limits.apply(group, memory=200 * MiB)
    assert analyst_limits.remove(group)  # gone between apply and the spawn: fail closed, not uncapped

    with pytest.raises(subprocess.SubprocessError):
        _run_in(procs, "print('ran uncapped')")


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "../hunthub", "x\n"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ValueError):
        analyst_limits.apply(name, memory=200 * MiB)
    with pytest.raises(ValueError):
        analyst_limits.remove(name)


# --- through the spawner: its server joins the group before it drops root ----------------------------------


@pytest.fixture
def account():
    prefix = f"ht{RUN}-"
    name = f"{prefix}analyst"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
         name],
        check=True, capture_output=True,
    )  # fmt: skip
    yield prefix, name
    _empty_and_remove(name)
    subprocess.run(["userdel", name], capture_output=True)


def test_spawners_server_runs_capped_as_the_analyst_and_cannot_leave(account):
    prefix, system_user = account
    spawner = HuntHubLocalSpawner(
        user=SimpleNamespace(name="analyst", groups=[]),
        create_system_users=True,
        system_user_prefix=prefix,
        mem_limit="300M",
        cpu_limit=1.0,
        pids_limit=64,
    )
    spawner.apply_limits()
    escape = " ; ".join(f"(echo 0 > {g.parent.parent}/cgroup.procs) 2>/dev/null" for g in _groups(system_user))
    script = f"id -un; cat /proc/self/cgroup; {escape}; cat /proc/self/cgroup"

    result = subprocess.run(["sh", "-c", script], preexec_fn=spawner.make_preexec_fn("analyst"), capture_output=True,
                            text=True, timeout=30)  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == system_user
    memberships = [line for line in lines[1:] if f"/{analyst_limits.PARENT}/{system_user}" in line]
    # each hierarchy once before and once after the escape attempt: still in the group
    assert len(memberships) == 2 * len(_groups(system_user)), result.stdout
    applied = analyst_limits.limits_of(system_user)
    assert (applied.cpu, applied.memory, applied.pids) == (1.0, 300 * MiB, 64)

    spawner.release_limits()
    assert not any(g.exists() for g in _groups(system_user))

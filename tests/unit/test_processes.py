"""The supervisor of `hunthub up`: nothing left running, and a killed run cleaned up by the next one.

Supervisor() makes this pytest process a child subreaper; that only changes who reaps orphans of the tests.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hunthub import processes
from hunthub.processes import Service, StaleRunError, Supervisor


def gone(pid: int, started: int) -> bool:
    return processes.start_time(pid) != started or not processes.alive(pid)


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def dead_owner() -> tuple[int, int]:
    """pid and start time of a `hunthub up` that was SIGKILLed: a process that existed and is gone."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = processes.start_time(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, started


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path / "run"


@pytest.fixture
def stale_sleep(run_dir, tmp_path):
    """A service started the way `hunthub up` starts them, with its pid file; stopped at the end."""
    sup = Supervisor(run_dir)
    service = sup.start(Service("spark-master", ["sleep", "60"], tmp_path / "logs" / "master.log"))
    pid_file = run_dir / "spark-master.pid"
    yield service.proc, pid_file
    service.proc.kill()
    service.proc.wait()


def rewrite(pid_file, **changes):
    info = json.loads(pid_file.read_text())
    info.update(changes)
    pid_file.write_text(json.dumps(info))


def test_pid_file_records_the_service_and_its_owner(stale_sleep):
    proc, pid_file = stale_sleep
    info = json.loads(pid_file.read_text())
    assert info["pid"] == proc.pid
    assert info["start_time"] == processes.start_time(proc.pid)
    assert info["owner"] == os.getpid()


def test_clean_stale_stops_what_a_killed_run_left(stale_sleep, run_dir):
    proc, pid_file = stale_sleep
    started = processes.start_time(proc.pid)
    owner, owner_started = dead_owner()
    rewrite(pid_file, owner=owner, owner_start_time=owner_started)

    cleaned = Supervisor(run_dir).clean_stale()

    assert cleaned == [f"spark-master (pid {proc.pid})"]
    assert wait_until(lambda: gone(proc.pid, started))
    assert not pid_file.exists()


def test_clean_stale_leaves_a_recycled_pid_alone(stale_sleep, run_dir):
    proc, pid_file = stale_sleep
    started = processes.start_time(proc.pid)
    owner, owner_started = dead_owner()
    # the pid now belongs to a process that started at another time than the recorded one
    rewrite(pid_file, start_time=started - 1, owner=owner, owner_start_time=owner_started)

    assert Supervisor(run_dir).clean_stale() == []

    assert not pid_file.exists()
    assert processes.alive(proc.pid)
    assert processes.start_time(proc.pid) == started


def test_clean_stale_refuses_while_the_owner_still_runs(stale_sleep, run_dir):
    proc, pid_file = stale_sleep
    rewrite(pid_file, owner=os.getpid(), owner_start_time=processes.start_time(os.getpid()))

    with pytest.raises(StaleRunError) as e:
        Supervisor(run_dir).clean_stale()

    assert f"pid {os.getpid()}" in str(e.value)
    assert processes.alive(proc.pid)


def test_clean_stale_drops_an_unreadable_pid_file(run_dir):
    sup = Supervisor(run_dir)
    (run_dir / "jupyterhub.pid").write_text("not json")
    assert sup.clean_stale() == []
    assert not (run_dir / "jupyterhub.pid").exists()


def test_stop_all_leaves_no_process_behind(run_dir, tmp_path):
    sup = Supervisor(run_dir)
    service = sup.start(Service("svc", ["bash", "-c", "sleep 300 & sleep 300"], tmp_path / "svc.log"))

    def sleeps():
        tree = [service.proc.pid, *processes.descendants_of(service.proc.pid)]
        return [p for p in tree if processes.alive(p) and open(f"/proc/{p}/comm").read().strip() == "sleep"]

    started = {}
    try:
        assert wait_until(lambda: len(sleeps()) == 2)
        started = {p: processes.start_time(p) for p in sleeps()}

        sup.stop_all(timeout=5)

        assert all(gone(p, s) for p, s in started.items())
        assert not (run_dir / "svc.pid").exists()
    finally:
        # only what this test started, and only if it is still that very process
        for p, s in started.items():
            if not gone(p, s):
                os.kill(p, signal.SIGKILL)
        service.proc.kill()
        service.proc.wait()

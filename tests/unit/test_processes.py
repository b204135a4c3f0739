"""The supervisor of `hunthub up`: nothing left running, and a killed run cleaned up by the next one.

Supervisor() makes its process a child subreaper, stop_all() stops *every* child of its process, and the cleanup
reaps any exited child. So each `hunthub up` here is played by a Python process of its own, as in real life: the
test process (which may hold other tiers' fixtures, e.g. the e2e stack) is never the supervisor.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from hunthub import processes

NEXT_RUN = """
import json, sys
from pathlib import Path
from hunthub.processes import StaleRunError, Supervisor
try:
    print(json.dumps({"cleaned": Supervisor(Path(sys.argv[1])).clean_stale()}))
except StaleRunError as e:
    print(json.dumps({"refused": str(e)}))
"""

UP_THEN_STOP = """
import json, os, sys, time
from pathlib import Path
from hunthub import processes
from hunthub.processes import Service, Supervisor
run_dir, log = Path(sys.argv[1]), Path(sys.argv[2])
sup = Supervisor(run_dir)
service = sup.start(Service("svc", ["bash", "-c", "sleep 300 & sleep 300"], log))
pid_file = json.loads((run_dir / "svc.pid").read_text())

def sleeps():
    tree = [service.proc.pid, *processes.descendants_of(service.proc.pid)]
    return [p for p in tree if processes.alive(p) and Path(f"/proc/{p}/comm").read_text().strip() == "sleep"]

deadline = time.monotonic() + 5
while len(sleeps()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
started = {p: processes.start_time(p) for p in sleeps()}
me, pid = os.getpid(), service.proc.pid
print(json.dumps({
    "me": [me, processes.start_time(me)],
    "service": [pid, processes.start_time(pid)],
    "pid_file": pid_file,
    "sleeps": started,
}), flush=True)
sup.stop_all(timeout=5)
left = [p for p, s in started.items() if processes.start_time(p) == s and processes.alive(p)]
print(json.dumps({"left": left, "pid_file_left": (run_dir / "svc.pid").exists()}), flush=True)
"""


def run_python(script: str, *args) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def next_run(run_dir) -> dict:
    """What the next `hunthub up` does first: clean_stale(), in a process of its own."""
    [result] = run_python(NEXT_RUN, run_dir)
    return result


def gone(pid: int, started: int) -> bool:
    return processes.start_time(pid) != started or not processes.alive(pid)


def dead_owner() -> tuple[int, int]:
    """pid and start time of a `hunthub up` that was SIGKILLed: a process that existed and is gone."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = processes.start_time(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, started


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    return d


@pytest.fixture
def leftover():
    """A service a previous run started (in a session of its own, as Supervisor.start does)."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def write_pid_file(run_dir, name, **info):
    # the format Supervisor.start writes (checked in test_stop_all_leaves_no_process_behind)
    path = run_dir / f"{name}.pid"
    path.write_text(json.dumps(info))
    return path


def test_clean_stale_stops_what_a_killed_run_left(run_dir, leftover):
    owner, owner_started = dead_owner()
    pid_file = write_pid_file(
        run_dir,
        "spark-master",
        pid=leftover.pid,
        start_time=processes.start_time(leftover.pid),
        argv=["sleep", "60"],
        owner=owner,
        owner_start_time=owner_started,
    )

    assert next_run(run_dir) == {"cleaned": [f"spark-master (pid {leftover.pid})"]}

    leftover.wait(timeout=5)  # raises if it is still running
    assert not pid_file.exists()


def test_clean_stale_leaves_a_recycled_pid_alone(run_dir, leftover):
    owner, owner_started = dead_owner()
    # the recorded pid now belongs to a process that started at another time: not ours to kill
    pid_file = write_pid_file(
        run_dir,
        "spark-master",
        pid=leftover.pid,
        start_time=processes.start_time(leftover.pid) - 1,
        argv=["sleep", "60"],
        owner=owner,
        owner_start_time=owner_started,
    )

    assert next_run(run_dir) == {"cleaned": []}

    assert not pid_file.exists()
    assert leftover.poll() is None


def test_clean_stale_refuses_while_the_owner_still_runs(run_dir, leftover):
    me = os.getpid()
    pid_file = write_pid_file(
        run_dir,
        "spark-master",
        pid=leftover.pid,
        start_time=processes.start_time(leftover.pid),
        argv=["sleep", "60"],
        owner=me,
        owner_start_time=processes.start_time(me),
    )

    result = next_run(run_dir)

    assert "refused" in result
    assert f"pid {me}" in result["refused"]
    assert leftover.poll() is None
    assert pid_file.exists()


def test_clean_stale_drops_an_unreadable_pid_file(run_dir):
    pid_file = run_dir / "jupyterhub.pid"
    pid_file.write_text("not json")
    assert next_run(run_dir) == {"cleaned": []}
    assert not pid_file.exists()


def test_stop_all_leaves_no_process_behind(run_dir, tmp_path):
    started_line, stopped_line = run_python(UP_THEN_STOP, run_dir, tmp_path / "svc.log")
    sleeps = {int(p): s for p, s in started_line["sleeps"].items()}
    try:
        assert len(sleeps) == 2
        assert stopped_line == {"left": [], "pid_file_left": False}
        assert all(gone(p, s) for p, s in sleeps.items())
        # the pid file the next run relies on
        info = started_line["pid_file"]
        assert [info["pid"], info["start_time"]] == started_line["service"]
        assert [info["owner"], info["owner_start_time"]] == started_line["me"]
    finally:
        # only what this test started, and only if it is still that very process
        for p, s in sleeps.items():
            if not gone(p, s):
                os.kill(p, signal.SIGKILL)


SHOW_ENV = """
import json, os, sys, time
from pathlib import Path
from hunthub.processes import Service, Supervisor
run_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
sup = Supervisor(run_dir)
probe = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
given = {"SPARK_LOCAL_IP": "127.0.0.1"}
service = sup.start(Service("svc", [sys.executable, "-c", probe, str(out)], run_dir / "svc.log", env=given,
                            inherit=("ADMIN_TOOL_*",)))
service.proc.wait(30)
sup.stop_all(timeout=5)
"""


def test_a_service_gets_what_it_is_given_and_runs_with_not_our_secrets(tmp_path):
    out = tmp_path / "env.json"
    env = {**os.environ, "HUNTHUB_OAUTH_CLIENT_SECRET": "s3cret", "ADMIN_TOOL_HOME": "/opt/tool", "LC_TIME": "C"}
    subprocess.run([sys.executable, "-c", SHOW_ENV, tmp_path / "run", out], env=env, check=True, timeout=60)
    seen = json.loads(out.read_text())
    assert "HUNTHUB_OAUTH_CLIENT_SECRET" not in seen
    assert seen["SPARK_LOCAL_IP"] == "127.0.0.1"  # given by the service
    assert seen["ADMIN_TOOL_HOME"] == "/opt/tool"  # named by the service
    assert seen["PATH"] == os.environ["PATH"] and seen["LC_TIME"] == "C"  # what any program needs


def test_inherited_env_takes_names_and_prefixes():
    environ = {"PATH": "/bin", "LC_ALL": "C", "LCX": "no", "HUNTHUB_X": "1", "SECRET": "s"}
    assert processes.inherited_env(("PATH", "LC_*"), environ) == {"PATH": "/bin", "LC_ALL": "C"}
    assert processes.inherited_env((), environ) == {}

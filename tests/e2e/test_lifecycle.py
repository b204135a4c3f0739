"""`hunthub up` as an admin runs it: refusals with clear messages, crash recovery, Ctrl-C, a killed run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from hunthub import cluster
from hunthub.processes import alive
from tests.harness import HUNTHUB, Stack, fresh_state_dir, processes_mentioning, remove_analyst_accounts, stack_env

pytestmark = pytest.mark.e2e


def run_up(env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([HUNTHUB, "up"], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def state():
    s = fresh_state_dir()
    yield s
    remove_analyst_accounts(s)
    shutil.rmtree(s.parent, ignore_errors=True)


def bin_dir_with(tmp_path: Path, **scripts: str) -> Path:
    """A PATH entry holding node (the proxy needs it) and the given scripts, and no java."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "node").symlink_to(shutil.which("node"))
    for name, body in scripts.items():
        (d / name).write_text(body)
        (d / name).chmod(0o755)
    return d


def assert_nothing_left(state: Path):
    leftovers = processes_mentioning(str(state))
    assert not leftovers, leftovers


def test_port_in_use_is_refused_with_the_holder_named(state):
    env = stack_env(state)
    port = int(env["HUNTHUB_PORT"])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = run_up(env)
    assert result.returncode == 1
    assert f"Port {port}: needed for hub (public) on 127.0.0.1, but in use by pid {os.getpid()}" in result.stdout
    assert "bin/hunthub up --port N" in result.stdout
    assert "nothing was started" in result.stdout
    assert_nothing_left(state)


def test_java_missing_is_refused_with_how_to_install_it(state, tmp_path):
    env = stack_env(state, PATH=str(bin_dir_with(tmp_path)))
    env.pop("JAVA_HOME", None)
    result = run_up(env)
    assert result.returncode == 1
    assert "Java: not found (no `java` on PATH and JAVA_HOME is not set)" in result.stdout
    assert "apt-get install -y openjdk-17-jre-headless" in result.stdout
    assert_nothing_left(state)


def test_java_home_without_java_is_refused(state, tmp_path):
    env = stack_env(state, JAVA_HOME=str(tmp_path))
    result = run_up(env)
    assert result.returncode == 1
    assert f"JAVA_HOME={tmp_path} has no bin/java" in result.stdout
    assert_nothing_left(state)


def test_java_too_old_is_refused(state, tmp_path):
    # Stands in for a Java 11 installation, which Debian 12 does not ship: prints what Java 11 prints.
    fake_java = "#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n"
    env = stack_env(state, PATH=f"{bin_dir_with(tmp_path, java=fake_java)}:{os.environ['PATH']}")
    env.pop("JAVA_HOME", None)
    result = run_up(env)
    assert result.returncode == 1
    assert "is Java 11; Spark 4 needs Java 17 or newer" in result.stdout
    assert_nothing_left(state)


def _pid(state: Path, service: str) -> int:
    return json.loads((state / "run" / f"{service}.pid").read_text())["pid"]


def test_crashed_worker_is_restarted_and_ctrl_c_stops_everything(state):
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="1000")
    stack = Stack(env)
    try:
        stack.wait_up()
        master_ui = int(env["HUNTHUB_SPARK_MASTER_WEBUI_PORT"])
        old_worker = _pid(state, "spark-worker")
        os.kill(old_worker, signal.SIGKILL)
        stack.wait_for_output(r"spark-worker exited unexpectedly \(code -9\)")
        stack.wait_for_output(r"restarting spark-worker")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            workers = cluster.alive_workers(cluster.master_state(master_ui))
            if any(w["id"] for w in workers) and _pid(state, "spark-worker") != old_worker and workers:
                break
            time.sleep(1)
        assert _pid(state, "spark-worker") != old_worker
        assert cluster.alive_workers(cluster.master_state(master_ui))
    finally:
        code = stack.stop()
    assert code == 0, stack.dump_logs()
    assert "stopped." in stack.output
    assert not list((state / "run").glob("*.pid"))
    assert_nothing_left(state)


def test_a_killed_run_does_not_block_the_next_start(state):
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="1000")
    first = Stack(env)
    try:
        first.wait_up()
        password = first.admin_password
        hub_pid = _pid(state, "jupyterhub")
        first.proc.kill()  # no chance to clean up: SIGKILL
        first.proc.wait()
        second = Stack(env)
        try:
            second.wait_up()
            assert not alive(hub_pid)
            # the password was shown once, by the first run; the second only says where it is
            assert "shown only this once" not in second.output
            assert (state / "hub" / "admin-password").read_text().strip() == password
            assert oct((state / "hub" / "admin-password").stat().st_mode & 0o777) == "0o600"
        finally:
            assert second.stop() == 0, second.dump_logs()
    finally:
        first.stop()
    assert_nothing_left(state)

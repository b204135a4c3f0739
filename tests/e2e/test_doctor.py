"""`hunthub doctor` against a real running stack, and against what an admin typically breaks."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.harness import HUNTHUB, fresh_state_dir, stack_env

pytestmark = pytest.mark.e2e


def doctor(env) -> subprocess.CompletedProcess:
    return subprocess.run([HUNTHUB, "doctor"], env=env, capture_output=True, text=True, timeout=120)


def test_doctor_is_happy_with_a_running_stack(stack):
    result = doctor(stack.env)
    assert result.returncode == 0, result.stdout
    assert "All checks passed." in result.stdout
    assert "running: " in result.stdout and "jupyterhub (pid" in result.stdout
    assert "worker(s)" in result.stdout  # it asked the live master
    assert "table(s) in" in result.stdout
    # the embedded default: each analyst's tasks run in their own driver (issue 13)
    assert "ok  Executor accounts: each analyst's Spark tasks run in their own driver, as their own" in result.stdout


def test_doctor_names_each_problem_and_its_fix(tmp_path):
    state = fresh_state_dir()
    try:
        state.mkdir(parents=True)
        (state / "catalog.json").write_text("{not json")
        env = stack_env(state, JAVA_HOME=str(tmp_path), HUNTHUB_SPARK_MASTER="spark://127.0.0.1:9")
        result = doctor(env)
        assert result.returncode == 1
        out = result.stdout
        assert f"!!  Java: not found (JAVA_HOME={tmp_path} has no bin/java)" in out
        assert "-> Install Java 17" in out
        assert "!!  Cluster: cannot reach the Spark master at spark://127.0.0.1:9" in out
        assert "-> Check the master's host/port" in out
        # a warning, not a failure: the admin is told that analysts share the executors' account
        assert "?   Executor accounts: a standalone cluster runs every application's executors as its worker's" in out
        assert "!!  Catalog: The dataset catalog" in out and "is malformed" in out
        assert "problem(s) found." in out
    finally:
        shutil.rmtree(state.parent, ignore_errors=True)


def test_cookie_secret_and_hub_database_are_private(stack):
    hub_dir = stack.state_dir / "hub"
    assert hub_dir.stat().st_mode & 0o777 == 0o700
    assert (hub_dir / "jupyterhub_cookie_secret").stat().st_mode & 0o777 == 0o600
    assert json.loads((stack.state_dir / "catalog.json").read_text())["tables"]  # readable by analysts' kernels
    assert (stack.state_dir / "catalog.json").stat().st_mode & 0o004

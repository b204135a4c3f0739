"""The analyst's identity as kernels see it (hunthub.identity): pinned by a root-owned file, else the environment."""

import json
import os
import pwd
import subprocess
import sys

import pytest

from hunthub import identity
from tests.harness import fresh_state_dir

NOBODY = pwd.getpwnam("nobody")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="pinning needs root (per-analyst OS accounts)")


def test_queue_follows_the_admins_group_order():
    queues = {"dfir": "soc.dfir", "tier1": "soc.tier1"}
    assert identity.queue_for(["tier1", "dfir"], queues) == "soc.dfir"
    assert identity.queue_for(["tier1"], queues) == "soc.tier1"
    assert identity.queue_for(["finance"], queues, "soc.default") == "soc.default"


def test_forged_properties_are_overridden():
    forged = {"spark.app.name": "admin", "spark.yarn.queue": "root.admins", "spark.sql.shuffle.partitions": "8"}
    pinned = identity.pin_properties(forged, identity.Identity("ana", "soc.tier1", pinned=True))
    assert pinned["spark.app.name"] == "ana"
    assert pinned["spark.yarn.queue"] == "soc.tier1"
    assert pinned["spark.sql.shuffle.partitions"] == "8"  # the analyst's own tuning stays
    no_queue = identity.pin_properties(forged, identity.Identity("ana", pinned=True))
    assert "spark.yarn.queue" not in no_queue


def test_jvm_environment_is_scrubbed():
    env = {"SPARK_USER": "admin", "HADOOP_USER_NAME": "admin", "HADOOP_PROXY_USER": "admin",
           "PYSPARK_SUBMIT_ARGS": "--proxy-user admin pyspark-shell", "SPARK_CONF_DIR": "/tmp/evil",
           "JAVA_TOOL_OPTIONS": "-Dspark.app.name=admin", "SPARK_HOME": "/tmp/evil", "PATH": "/usr/bin"}  # fmt: skip
    identity.pin_jvm_environment(identity.Identity("ana"), "/opt/spark", env)
    assert env == {"SPARK_USER": "ana", "HADOOP_USER_NAME": "ana", "SPARK_HOME": "/opt/spark", "PATH": "/usr/bin"}


def test_environment_is_used_without_a_hub_file(tmp_path):
    who = identity.current({"JUPYTERHUB_USER": "ana", "HUNTHUB_KERNEL_SPARK_QUEUE": "q"}, directory=tmp_path)
    assert who == identity.Identity("ana", "q", pinned=False)


def _root_dir():
    """A root-owned place `nobody` can reach (pytest's tmp dirs are 0700), like /run/hunthub/identity."""
    base = fresh_state_dir().parent
    base.chmod(0o755)
    return base / "hunthub" / "identity"


def _current_as_nobody(directory, env):
    """identity.current() run in a child process as the `nobody` account, as an analyst's kernel would."""
    code = (
        "import json, sys; from pathlib import Path; from hunthub import identity\n"
        "try:\n"
        f"    w = identity.current({env!r}, directory=Path({str(directory)!r}))\n"
        "    print(json.dumps({'user': w.user, 'queue': w.queue, 'pinned': w.pinned}))\n"
        "except identity.IdentityError as e:\n"
        "    print(json.dumps({'error': str(e)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], user=NOBODY.pw_uid, group=NOBODY.pw_gid, capture_output=True, text=True,
        cwd="/", check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@as_root
def test_hub_file_wins_over_a_forged_environment():
    directory = _root_dir()
    identity.write("nobody", "ana", ["tier1"], "soc.tier1", directory=directory)
    forged = {"JUPYTERHUB_USER": "admin", "HUNTHUB_KERNEL_SPARK_QUEUE": "root.admins"}
    assert _current_as_nobody(directory, forged) == {"user": "ana", "queue": "soc.tier1", "pinned": True}


@as_root
def test_an_unreadable_place_is_not_taken_for_no_file(tmp_path):
    identity.write("nobody", "ana", [], "", directory=tmp_path / "identity")  # under a 0700 dir
    assert "cannot check" in _current_as_nobody(tmp_path / "identity", {"JUPYTERHUB_USER": "admin"})["error"]


@as_root
def test_a_file_the_analyst_could_write_is_refused():
    directory = _root_dir()
    path = identity.write("nobody", "ana", [], "", directory=directory)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    assert "root-owned" in _current_as_nobody(directory, {})["error"]


@as_root
def test_another_accounts_file_is_refused():
    directory = _root_dir()
    path = identity.write("hunt-admin", "admin", [], "", directory=directory)
    path.rename(directory / "nobody.json")
    assert "not 'nobody'" in _current_as_nobody(directory, {})["error"]

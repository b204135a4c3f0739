"""Analysts' homes prepared by the `hunthub-local` spawner before their server starts."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from hunthub.spawner.local import HuntHubLocalSpawner

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def tmp_path():
    # pytest's own tmp dirs are 0700 under root: the analyst's account (root tests below) could not pass through
    base = Path(tempfile.mkdtemp(prefix="hunthub-unit-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def bundled(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    (source / "00-start-here.ipynb").write_text(NOTEBOOK)
    (source / "hunts").mkdir()
    (source / "hunts" / "brute-force.ipynb").write_text(NOTEBOOK)
    return source


@pytest.fixture
def spawner(tmp_path, bundled):
    return HuntHubLocalSpawner(
        user=SimpleNamespace(name="alice", groups=[]),
        home_root=str(tmp_path / "homes"),
        notebooks_source=str(bundled),
        create_system_users=False,
    )


@pytest.fixture
def home(tmp_path):
    return tmp_path / "homes" / "alice"


def test_bundled_notebooks_are_delivered_on_first_spawn(spawner, home):
    spawner.prepare_home()
    assert (home / "00-start-here.ipynb").read_text() == NOTEBOOK
    assert (home / "hunts" / "brute-force.ipynb").read_text() == NOTEBOOK


def test_home_is_private(spawner, home, tmp_path):
    spawner.prepare_home()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    # other analysts can pass through the homes dir to their own home, but not list it
    assert stat.S_IMODE((tmp_path / "homes").stat().st_mode) == 0o711


def test_edited_notebook_is_not_overwritten(spawner, home):
    spawner.prepare_home()
    (home / "00-start-here.ipynb").write_text("my notes")
    spawner.prepare_home()
    assert (home / "00-start-here.ipynb").read_text() == "my notes"


def test_deleted_notebook_is_not_delivered_again(spawner, home):
    spawner.prepare_home()
    (home / "hunts" / "brute-force.ipynb").unlink()
    spawner.prepare_home()
    assert not (home / "hunts" / "brute-force.ipynb").exists()


def test_notebook_added_to_the_bundle_later_is_delivered(spawner, home, bundled):
    spawner.prepare_home()
    (bundled / "01-lateral-movement.ipynb").write_text(NOTEBOOK)
    spawner.prepare_home()
    assert (home / "01-lateral-movement.ipynb").read_text() == NOTEBOOK


def test_analysts_own_file_with_a_bundled_name_is_kept(spawner, home, bundled):
    home.mkdir(parents=True)
    (home / "00-start-here.ipynb").write_text("mine")
    spawner.prepare_home()
    assert (home / "00-start-here.ipynb").read_text() == "mine"


def test_server_runs_in_the_analysts_home(spawner, home):
    assert f"--ServerApp.root_dir={home}" in spawner.get_args()
    env = spawner.user_env({})
    assert env["HOME"] == str(home)


# --- as root, with an account per analyst ----------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another account needs root")


@pytest.fixture
def analyst_account():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` account to stand in for an analyst's account")


@pytest.fixture
def root_spawner(tmp_path, bundled, analyst_account, monkeypatch):
    spawner = HuntHubLocalSpawner(
        user=SimpleNamespace(name="alice", groups=[]),
        home_root=str(tmp_path / "homes"),
        notebooks_source=str(bundled),
        create_system_users=True,
    )
    # `nobody` stands in for the hunt-alice account, so the test does not create system users on this machine
    monkeypatch.setattr(spawner, "_ensure_system_user", lambda: analyst_account)
    return spawner


@needs_root
def test_delivered_notebooks_belong_to_the_analyst(root_spawner, home, analyst_account):
    root_spawner.prepare_home()
    for p in [home, home / "00-start-here.ipynb", home / "hunts", home / "hunts" / "brute-force.ipynb"]:
        assert p.stat().st_uid == analyst_account.pw_uid, p


@needs_root
def test_nested_notebook_folders_belong_to_the_analyst(root_spawner, home, bundled, analyst_account):
    (bundled / "hunts" / "advanced").mkdir()
    (bundled / "hunts" / "advanced" / "kerberoasting.ipynb").write_text(NOTEBOOK)
    (bundled / "hunts" / "brute-force.ipynb").unlink()
    root_spawner.prepare_home()
    assert (home / "hunts").stat().st_uid == analyst_account.pw_uid


@needs_root
def test_prepare_home_does_not_follow_an_analysts_symlink(root_spawner, home, tmp_path):
    root_spawner.prepare_home()
    victim = tmp_path / "root-only"
    victim.write_text("secret")
    victim.chmod(0o600)
    record = home / ".hunthub" / "seeded.json"
    record.unlink()
    record.symlink_to(victim)  # what the analyst can do: they own .hunthub

    try:
        root_spawner.prepare_home()
    except OSError:
        pass  # refusing is fine; writing through the link is not

    assert victim.read_text() == "secret"
    assert victim.stat().st_uid == 0


# --- the scratch space, shared with the Spark executors' account -----------------------------------------


def _as(user: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", "sh", "-c", script], capture_output=True, text=True)


@needs_root
def test_scratch_space_lets_executors_write_and_the_analyst_commit(root_spawner, tmp_path, analyst_account):
    # `daemon` stands in for the executors' account (hunthub-spark), `nobody` for the analyst, `games` for another
    root_spawner.scratch_root = str(tmp_path / "warehouse" / "users")
    root_spawner.scratch_writers = ["daemon"]
    root_spawner.prepare_home()
    scratch = tmp_path / "warehouse" / "users" / "alice"
    assert scratch.stat().st_uid == analyst_account.pw_uid
    assert stat.S_IMODE(scratch.stat().st_mode) & 0o007 == 0

    # what a Parquet write does: the driver creates the output dir, executors write task files into it, then
    # the driver moves them into place and removes what the executors left behind
    assert _as("nobody", f"mkdir -p {scratch}/out/_temporary").returncode == 0
    executor = _as("daemon", f"mkdir {scratch}/out/_temporary/task && echo rows > {scratch}/out/_temporary/task/part-0")
    assert executor.returncode == 0, executor.stderr
    commit = _as("nobody", f"mv {scratch}/out/_temporary/task/part-0 {scratch}/out/ && rm -r {scratch}/out/_temporary")
    assert commit.returncode == 0, commit.stderr
    assert (scratch / "out" / "part-0").read_text() == "rows\n"

    other = _as("games", f"ls {scratch}")
    assert other.returncode != 0 and "Permission denied" in other.stderr
    assert root_spawner.user_env({})["HUNTHUB_KERNEL_SCRATCH"] == scratch.as_uri()


@needs_root
def test_scratch_space_refuses_a_symlink(root_spawner, tmp_path):
    root_spawner.scratch_root = str(tmp_path / "users")
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "alice").symlink_to(tmp_path)
    with pytest.raises(RuntimeError, match="symlink"):
        root_spawner.prepare_home()


def test_no_scratch_space_without_a_local_warehouse(spawner):
    spawner.prepare_home()
    assert "HUNTHUB_KERNEL_SCRATCH" not in spawner.user_env({})


@pytest.mark.parametrize("name", ["..", "."])
def test_a_name_that_would_point_at_another_directory_gets_no_home(tmp_path, name):
    # the authenticators refuse such names whatever the site's pattern; the spawner checks again
    spawner = HuntHubLocalSpawner(user=SimpleNamespace(name=name, groups=[]), home_root=str(tmp_path / "homes"),
                                  scratch_root=str(tmp_path / "scratch"), create_system_users=False)  # fmt: skip
    with pytest.raises(ValueError, match="cannot be used as a directory name"):
        spawner.prepare_home()
    with pytest.raises(ValueError, match="cannot be used as a directory name"):
        spawner.scratch_dir  # noqa: B018 - the property is the check
    assert not (tmp_path / "homes").exists() or list((tmp_path / "homes").iterdir()) == []

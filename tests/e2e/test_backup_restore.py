"""`hunthub backup` of a running hub, `hunthub restore` into a fresh state dir, and that hub starts with its users,
approvals, admin, catalog and secrets."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile

import pytest

from hunthub import backup, catalog
from tests.harness import HUNTHUB, fresh_state_dir, running_stack, stack_env
from tests.hub_client import logs_in, sign_up_approved

pytestmark = pytest.mark.e2e

PASSWORD = "restore-me-please-7"


def hunthub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([HUNTHUB, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_backup_restored_into_a_fresh_state_dir_brings_the_hub_back(stack, tmp_path):
    # on the running hub: an analyst signs up and is approved, and the admin registers evidence of their own
    sign_up_approved(stack.url, stack.admin_password, "restorer", PASSWORD)
    assert logs_in(stack.url, "restorer", PASSWORD)
    catalog_a = stack.state_dir / "catalog.json"
    catalog.register(catalog_a, catalog.Table("case_4711", "hdfs://nn.soc.example/evidence/case_4711"))

    archive = tmp_path / "hub.tar.gz"
    done = hunthub("backup", "--to", str(archive), env=stack.env)  # while the hub runs: SQLite's backup API
    assert done.returncode == 0, done.stdout + done.stderr
    assert archive.stat().st_mode & 0o777 == 0o600
    assert str(stack.state_dir / "homes") in done.stdout  # what is not in it is named
    # a restore never writes under a running hub
    refused = hunthub("restore", str(archive), env=stack.env)
    assert refused.returncode == 1 and "running" in refused.stdout

    state_b = fresh_state_dir()
    env_b = stack_env(state_b, HUNTHUB_DEMO_DATA_EVENTS="1000")
    env_b["HUNTHUB_ACCOUNT_PREFIX"] = stack.env["HUNTHUB_ACCOUNT_PREFIX"]
    done = hunthub("restore", str(archive), env=env_b)
    assert done.returncode == 0, done.stdout + done.stderr
    hub_a, hub_b = stack.state_dir / "hub", state_b / "hub"
    kept = [name for name in backup.HUB_FILES if (hub_a / name).exists()]  # crypt_key: only with OAuth
    assert {"jupyterhub_cookie_secret", "admin-password"} <= set(kept)
    for secret in kept:
        assert (hub_b / secret).read_bytes() == (hub_a / secret).read_bytes(), secret
        assert (hub_b / secret).stat().st_mode & 0o077 == 0, secret
    # once there is a hub database, only --force replaces it
    again = hunthub("restore", str(archive), env=env_b)
    assert again.returncode == 1 and "--force" in again.stdout
    # a damaged archive is refused before anything is written
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "catalog.json":
                data = data.replace(b"case_4711", b"case_4712")
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    broken = hunthub("restore", "--force", str(damaged), env=env_b)
    assert broken.returncode == 1 and "checksum" in broken.stdout

    with running_stack(env_b) as hub:
        assert logs_in(hub.url, "restorer", PASSWORD)  # the account and its approval came back
        assert logs_in(hub.url, "admin", stack.admin_password)
        assert not logs_in(hub.url, "restorer", "not-the-password")
        assert "case_4711" in catalog.load(state_b / "catalog.json")
    shutil.rmtree(state_b.parent, ignore_errors=True)

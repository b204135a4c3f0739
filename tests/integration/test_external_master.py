"""`hunthub up` pointed at an external cluster starts none of its own, and analysts' kernels attach to it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.harness import Stack, fresh_state_dir, remove_analyst_accounts, stack_env

pytestmark = pytest.mark.integration


def test_up_with_external_master_starts_no_cluster_and_kernels_attach_to_it(spark_cluster):
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_SPARK_MASTER=spark_cluster.master_url, HUNTHUB_DEMO_DATA_EVENTS="1000")
    stack = Stack(env)
    try:
        stack.wait_up()
        assert f"external cluster {spark_cluster.master_url}: reachable" in stack.output
        assert "starting master" not in stack.output
        assert not (state / "run" / "spark-master.pid").exists()
        # the admin's server is told to use that cluster
        s = requests.Session()
        s.get(f"{stack.url}/hub/login")
        s.post(f"{stack.url}/hub/login", data={"username": "admin", "password": stack.admin_password,
                                               "_xsrf": s.cookies["_xsrf"]})  # fmt: skip
        deadline = time.monotonic() + 120
        # the login started the spawn; a page (not the API) walks the server's OAuth handshake once it is up
        while "/user/admin/tree" not in s.get(f"{stack.url}/user/admin/tree").url:
            assert time.monotonic() < deadline, "the admin's server did not come up"
            time.sleep(1)
        home = state / "homes" / "admin"
        server = next(p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_server_in(p, home))
        environ = (server / "environ").read_bytes().decode(errors="replace").split("\0")
        assert f"HUNTHUB_KERNEL_SPARK_MASTER={spark_cluster.master_url}" in environ
        assert not any(e.startswith("HUNTHUB_KERNEL_MASTER_WEBUI=") for e in environ)
    except Exception:
        print(stack.dump_logs())
        raise
    finally:
        code = stack.stop()
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)
    assert code == 0, stack.dump_logs()


def _is_server_in(proc, home: Path) -> bool:
    try:
        cmd = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    return b"hunthub.spawner.singleuser" in cmd and f"--ServerApp.root_dir={home}".encode() in cmd

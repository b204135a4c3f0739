"""A kernel started with forged identity settings still runs as the analyst the hub says it is.

The kernel runs as its own OS account, as the hub's spawner runs analysts (root-owned identity file in
/run/hunthub/identity), on the real standalone cluster; the master's own view of the application is checked.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager

from hunthub import identity
from hunthub.processes import alive
from tests.harness import fresh_state_dir
from tests.integration.kernel_client import Kernel

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="per-analyst OS accounts need root"),
]


class KernelAs(Kernel):
    """The hunthub-pyspark kernel launched as another OS account, as the analyst's server would launch it."""

    def __init__(self, account: pwd.struct_passwd, env: dict[str, str], home: Path):
        conn = home / "kernel.json"
        write_connection_file(str(conn), ip="127.0.0.1")
        os.chown(conn, account.pw_uid, account.pw_gid)
        spec = KernelSpecManager().get_kernel_spec("hunthub-pyspark")
        argv = [a.replace("{connection_file}", str(conn)) for a in spec.argv]
        argv[0] = sys.executable if argv[0] == "python" else argv[0]  # as jupyter_client resolves it
        self.proc = subprocess.Popen(
            argv, env={**env, **spec.env, "HOME": str(home)}, cwd=home,
            user=account.pw_uid, group=account.pw_gid, extra_groups=[],
        )  # fmt: skip
        self.kc = BlockingKernelClient(connection_file=str(conn))
        self.kc.load_connection_file()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def shutdown(self):
        self.kc.shutdown()
        self.kc.stop_channels()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def analyst_account():
    name = "htst-t" + uuid.uuid4().hex[:8]  # never a real install's account name
    home = fresh_state_dir().parent / "home"
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home), name], check=True
    )
    account = pwd.getpwnam(name)
    home.mkdir()
    os.chown(home, account.pw_uid, account.pw_gid)
    try:
        yield account, home
    finally:
        identity.remove(name)
        subprocess.run(["userdel", name], check=False, capture_output=True)


def test_forged_kernel_still_runs_as_the_hubs_user(spark_cluster, analyst_account):
    account, home = analyst_account
    hub_user = "ana" + uuid.uuid4().hex[:6]
    identity.write(account.pw_name, hub_user, ["tier1"], "soc.tier1")

    # what an analyst could put into a kernel spec of their own to pass as the admin
    evil_conf = home / "evil-conf"
    evil_conf.mkdir()
    (evil_conf / "spark-env.sh").write_text("export SPARK_USER=admin\n")
    (evil_conf / "spark-defaults.conf").write_text("spark.app.name admin\n")
    env = spark_cluster.kernel_env(
        user="admin", HUNTHUB_KERNEL_WARM_DRIVER="0", HUNTHUB_KERNEL_DRIVER_LOG_DIR=str(home / "logs")
    )
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    env["HUNTHUB_KERNEL_SPARK_CONF"] = json.dumps(
        {**conf, "spark.app.name": "admin", "spark.yarn.queue": "root.admins"}
    )
    env.update(
        SPARK_USER="admin", HADOOP_USER_NAME="admin", HUNTHUB_KERNEL_SPARK_QUEUE="root.admins",
        SPARK_CONF_DIR=str(evil_conf),
        PYSPARK_SUBMIT_ARGS="--conf spark.app.name=admin pyspark-shell", JAVA_TOOL_OPTIONS="-Dspark.app.name=admin",
    )  # fmt: skip

    kernel = KernelAs(account, env, home)
    try:
        result = kernel.run(
            "import os, getpass\n"
            "print(getpass.getuser(), sc.sparkUser(), sc.appName, spark.conf.get('spark.yarn.queue'),"
            " os.environ['HADOOP_USER_NAME'])"
        )
        assert result.status == "ok", (result.error, _logs(home))
        assert result.text.strip().splitlines()[-1].split() == [
            account.pw_name, hub_user, hub_user, "soc.tier1", hub_user
        ]  # fmt: skip
        # the cluster sees the hub's user as the application, run by that analyst's OS account (the standalone
        # master shows the driver JVM's OS user, which the hub's spawner chose), nothing forged
        apps = [(a["name"], a["user"]) for a in spark_cluster.master_state()["activeapps"]]
        assert (hub_user, account.pw_name) in apps, apps
        assert not [a for a in apps if "admin" in a], apps
    finally:
        pid = kernel.proc.pid
        kernel.shutdown()
        assert not alive(pid)


def test_a_kernel_refuses_spark_when_the_hub_file_was_tampered_with(spark_cluster, analyst_account):
    account, home = analyst_account
    path = identity.write(account.pw_name, "ana", [], "")
    os.chown(path, account.pw_uid, account.pw_gid)  # as if the analyst could have written it
    env = spark_cluster.kernel_env(
        user="admin", HUNTHUB_KERNEL_WARM_DRIVER="0", HUNTHUB_KERNEL_DRIVER_LOG_DIR=str(home / "logs")
    )
    kernel = KernelAs(account, env, home)
    try:
        result = kernel.run("spark")
        assert result.status == "error"
        shown = result.error.get("evalue", "") + result.text
        assert "could not confirm who you are" in shown, result
        assert not [a for a in spark_cluster.master_state()["activeapps"] if a["user"] == account.pw_name]
    finally:
        kernel.shutdown()


def _logs(home: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in (home / "logs").glob("*.log"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))

"""The embedded Spark standalone cluster: one master and one worker on loopback, from the pinned pyspark wheel.

The wheel has no start-master/start-worker scripts, so the daemons run in the foreground through
`bin/spark-class`. Their work and log dirs live in hunthub's state dir, never inside site-packages.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import time
import urllib.error
import urllib.request

from hunthub import paths
from hunthub.processes import Service
from hunthub.settings import HuntHub

SPARK_USER = "hunthub-spark"


class ClusterError(RuntimeError):
    pass


def spark_class() -> str:
    return str(paths.spark_home() / "bin" / "spark-class")


def ensure_spark_user() -> pwd.struct_passwd:
    """As root, executors (which run analysts' code) must not run as root: give the daemons their own account."""
    try:
        return pwd.getpwnam(SPARK_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--comment", "hunthub Spark daemons", SPARK_USER],
            check=True, capture_output=True,
        )  # fmt: skip
        return pwd.getpwnam(SPARK_USER)


def daemon_env(s: HuntHub) -> dict[str, str]:
    env = {
        "SPARK_HOME": str(paths.spark_home()),
        "SPARK_LOG_DIR": str(s.log_dir),
        "SPARK_WORKER_DIR": str(s.spark_dir / "work"),
        "SPARK_LOCAL_DIRS": str(s.spark_dir / "local"),
        "SPARK_PID_DIR": str(s.run_dir),
        "SPARK_NO_DAEMONIZE": "1",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false -Dspark.ui.killEnabled=false",
        # Finished applications' work dirs would otherwise pile up forever.
        "SPARK_WORKER_OPTS": "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400",
        "SPARK_DAEMON_MEMORY": "512m",
    }
    java_home = paths.java_home()
    if java_home:
        env["JAVA_HOME"] = java_home
    return env


DAEMON_DIRS = ("work", "local")  # the worker's and executors' own: application dirs, shuffle and spill files


def prepare_dirs(s: HuntHub, owner: pwd.struct_passwd | None) -> None:
    """The daemons' work and local dirs, handed to `owner`, the account that also runs every analyst's tasks.

    Root never acts through a path that account can change. The parent stays root's (0755), so no task can
    swap `work` or `local` for a symlink after they exist; and each is opened without following a symlink
    (O_NOFOLLOW) and changed through that descriptor, so one planted before (by an earlier version, which
    handed the parent to the daemons' account too) is refused instead of followed: a symlink to /etc
    would otherwise hand /etc to that account at the next start."""
    s.spark_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    parent = _open_dir(s.spark_dir)
    try:
        if owner:
            os.fchown(parent, 0, 0)
            os.fchmod(parent, 0o755)
        for name in DAEMON_DIRS:
            try:
                os.mkdir(name, 0o700, dir_fd=parent)
            except FileExistsError:
                pass
            d = _open_dir(s.spark_dir / name, dir_fd=parent)
            try:
                if owner:
                    os.fchown(d, owner.pw_uid, owner.pw_gid)
                    os.fchmod(d, 0o700)
            finally:
                os.close(d)
    finally:
        os.close(parent)


def _open_dir(path, dir_fd: int | None = None) -> int:
    """A descriptor of `path` (relative to `dir_fd` if given: its last part), never through a symlink."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path.name if dir_fd is not None else path, flags, dir_fd=dir_fd)
    except OSError as e:
        if os.path.islink(path):
            raise ClusterError(
                f"{path} is a symbolic link (to {os.readlink(path)}), not a directory: hunthub will not hand it "
                f"to the Spark daemons' account. Code run by that account (any analyst's Spark task) may have "
                f"planted it. Check what it points to, remove it, then start again."
            ) from None
        raise ClusterError(f"{path} cannot be used as a Spark directory: {e.strerror}") from None


def master_service(s: HuntHub, owner: pwd.struct_passwd | None) -> Service:
    return Service(
        name="spark-master",
        argv=[spark_class(), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
              "--port", str(s.spark_master_port), "--webui-port", str(s.spark_master_webui_port)],
        env=daemon_env(s),
        log_path=s.log_dir / "spark-master.log",
        cwd=s.spark_dir,
        **_as(owner),
    )  # fmt: skip


def worker_service(s: HuntHub, owner: pwd.struct_passwd | None) -> Service:
    return Service(
        name="spark-worker",
        argv=[spark_class(), "org.apache.spark.deploy.worker.Worker", s.master_url, "--host", "127.0.0.1",
              "--cores", str(s.worker_cores), "--memory", f"{s.worker_memory_mb}M",
              "--webui-port", str(s.spark_worker_webui_port), "--work-dir", str(s.spark_dir / "work")],
        env=daemon_env(s),
        log_path=s.log_dir / "spark-worker.log",
        cwd=s.spark_dir,
        **_as(owner),
    )  # fmt: skip


def _as(owner: pwd.struct_passwd | None) -> dict:
    if owner is None:
        return {}
    return {"uid": owner.pw_uid, "gid": owner.pw_gid, "groups": [owner.pw_gid]}


def master_state(webui_port: int, timeout: float = 2.0) -> dict | None:
    """The master's JSON status (workers, applications), None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=timeout) as r:  # noqa: S310
            return json.load(r)
    except (OSError, ValueError, urllib.error.URLError):
        return None


def alive_workers(state: dict | None) -> list[dict]:
    return [w for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE"]


def wait_for(check, what: str, timeout: float, service: Service | None = None):
    """Poll `check()` until it returns something truthy; fail clearly if the service dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if service is not None and service.proc is not None and service.proc.poll() is not None:
            raise ClusterError(
                f"{service.name} exited with code {service.proc.returncode} while waiting for {what}.\n"
                f"Last lines of {service.log_path}:\n{service.log_tail()}"
            )
        time.sleep(0.25)
    tail = f"\nLast lines of {service.log_path}:\n{service.log_tail()}" if service else ""
    raise ClusterError(f"Timed out after {timeout:.0f} s waiting for {what}.{tail}")


def start(sup, s: HuntHub, progress=lambda msg: None) -> None:
    """Start the embedded master and worker under `sup` and wait until the worker has registered."""
    owner = ensure_spark_user() if os.geteuid() == 0 else None
    prepare_dirs(s, owner)
    t0 = time.monotonic()
    master = sup.start(master_service(s, owner))
    wait_for(lambda: master_state(s.spark_master_webui_port), "the Spark master", 90, master)
    progress(f"master up ({time.monotonic() - t0:.1f} s)")
    worker = sup.start(worker_service(s, owner))
    wait_for(
        lambda: alive_workers(master_state(s.spark_master_webui_port)), "the Spark worker to register", 120, worker
    )
    progress(f"worker registered ({time.monotonic() - t0:.1f} s)")

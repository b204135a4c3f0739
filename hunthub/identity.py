"""Who an analyst's Spark driver runs as: decided by the hub, not by anything a notebook can set.

When the hub runs as root it gives every analyst an OS account, and at each server start it writes one small
root-owned file per account into IDENTITY_DIR: the hub user name, their hub groups (from the identity provider)
and the YARN queue those groups map to. A kernel finds its file from the OS account it runs as, never from a path
in its environment, and refuses files it could have written itself; so a kernel started with a forged kernel spec,
environment (JUPYTERHUB_USER, SPARK_USER, HADOOP_USER_NAME, PYSPARK_SUBMIT_ARGS...) or Spark setting
(spark.app.name, spark.yarn.queue) still runs as its real user.

Without per-analyst accounts (a hub run as a normal user: demo only) the server's environment is all there is.

What this cannot do: a standalone Spark master believes whatever user name a driver sends, so an analyst who
writes their own launcher (not a hunthub kernel) can claim another name there. A YARN cluster with Kerberos, or
Livy behind hunthub's gateway, decides identity on the cluster side.
"""

from __future__ import annotations

import getpass
import json
import os
import pwd
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hunthub import atomic_file
from hunthub.kernel_env import KernelEnv

IDENTITY_DIR = Path("/run/hunthub/identity")

# settings a kernel's environment could use to make the driver JVM claim another user or load other Spark code
FORGEABLE_ENV = (
    "HADOOP_PROXY_USER",
    "PYSPARK_SUBMIT_ARGS",
    "SPARK_SUBMIT_OPTS",
    "SPARK_CONF_DIR",  # its spark-env.sh is sourced by spark-submit
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
)


class IdentityError(RuntimeError):
    """The hub's identity file exists but cannot be trusted; Spark must not start."""


@dataclass(frozen=True)
class Identity:
    user: str
    queue: str = ""
    groups: tuple[str, ...] = ()
    pinned: bool = False  # read from the hub's root-owned file, not from the environment


def queue_for(groups: Iterable[str], queues: Mapping[str, str], default: str = "") -> str:
    """The queue of the first group, in the admin's order of `queues`, the user belongs to."""
    member = set(groups)
    return next((queue for group, queue in queues.items() if group in member), default)


def write(os_user: str, user: str, groups: Iterable[str], queue: str, directory: Path = IDENTITY_DIR) -> Path:
    """Record (as root) who the account `os_user` is, for its kernels to read."""
    directory.mkdir(parents=True, exist_ok=True)
    for d in (directory.parent, directory):
        d.chmod(0o755)
    doc = {"os_user": os_user, "user": user, "groups": sorted(groups), "queue": queue}
    return atomic_file.write_json(directory / f"{os_user}.json", doc, mode=0o644)


def remove(os_user: str, directory: Path = IDENTITY_DIR) -> None:
    (directory / f"{os_user}.json").unlink(missing_ok=True)


def _check_root_owned(path: Path) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise IdentityError(
            f"{path} must be a root-owned file or directory that only root can change; refusing to trust it"
        )


def current(env: Mapping[str, str] = os.environ, directory: Path = IDENTITY_DIR) -> Identity:
    """This process's analyst: from the hub's file for our OS account if there is one, else the environment."""
    uid = os.getuid()
    if uid != 0:
        account = pwd.getpwuid(uid).pw_name
        path = directory / f"{account}.json"
        try:
            path.lstat()
            exists = True
        except FileNotFoundError:
            exists = False
        except OSError as e:  # not "absent": a file we may not see must not turn into trusting the environment
            raise IdentityError(f"cannot check {path}: {e.strerror}") from e
        if exists:
            for p in (directory.parent, directory, path):
                _check_root_owned(p)
            data = json.loads(path.read_text())
            if data.get("os_user") != account:
                raise IdentityError(f"{path} describes the account {data.get('os_user')!r}, not {account!r}")
            return Identity(data["user"], data.get("queue", ""), tuple(data.get("groups", ())), pinned=True)
    return Identity(env.get("JUPYTERHUB_USER") or getpass.getuser(), KernelEnv.from_environ(env).spark_queue)


def pin_properties(props: dict[str, str], who: Identity) -> dict[str, str]:
    """Spark properties with the identity settings forced, whatever the analyst's configuration said."""
    props = {**props, "spark.app.name": who.user}
    if who.queue:
        props["spark.yarn.queue"] = who.queue
    elif who.pinned:
        props.pop("spark.yarn.queue", None)  # the cluster's default queue, not one the analyst picked
    return props


def pin_jvm_environment(who: Identity, spark_home: str, env: dict[str, str] | None = None) -> None:
    """Make the driver JVM about to be launched (it inherits `env`, by default os.environ) run as `who`."""
    env = os.environ if env is None else env
    for name in FORGEABLE_ENV:
        env.pop(name, None)
    # Spark takes the user from SPARK_USER first, Hadoop (without Kerberos) from HADOOP_USER_NAME
    env["SPARK_USER"] = who.user
    env["HADOOP_USER_NAME"] = who.user
    env["SPARK_HOME"] = spark_home

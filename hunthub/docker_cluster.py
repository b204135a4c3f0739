"""Spark as containers, for `hunthub up --spawner docker`: one master and N workers from the `hunthub-spark` image,
which the analyst image is built on, so drivers and executors never differ in Python or Spark. Only where analysts'
tasks run on the cluster (HuntHub.analyst_tasks = `cluster`); by default they run in each analyst's own container
and no Spark container starts.

Networks: analysts' containers get one network each (see hunthub.spawner.docker), which the master and every
worker join, so no two analysts share a network. A Spark daemon binds to the address its own name resolves to;
inside each Spark container that name is mapped to 0.0.0.0, so it listens on every network it joins while
advertising a name the others resolve (Docker's DNS) to its address on their network.

Paths: the warehouse (read-only), the catalog and the scratch spaces appear at the same paths (under MOUNT_ROOT) in
analysts' and workers' containers, because executors open the files the driver names.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hunthub import catalog
from hunthub.settings import HuntHub

MOUNT_ROOT = "/srv/hunthub"
WAREHOUSE = f"{MOUNT_ROOT}/warehouse"
SCRATCH = f"{MOUNT_ROOT}/scratch"
CATALOG = f"{MOUNT_ROOT}/catalog.json"
SPARK_UID = 1001  # the `spark` user of the hunthub-spark image (executors run as it)
ANALYST_UID = 1000  # the `analyst` user of the hunthub-analyst image
LABEL = "org.hunthub.stack"


class DockerClusterError(RuntimeError):
    """The containerised cluster could not start; the message says why and what to do."""


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def master(self) -> str:
        return f"{self.prefix}-spark-master"

    def worker(self, i: int) -> str:
        return f"{self.prefix}-spark-worker-{i}"

    @property
    def spark_network(self) -> str:
        return f"{self.prefix}-spark"

    def user_network(self, user: str) -> str:
        return f"{self.prefix}-u-{user}"

    def analyst(self, user: str) -> str:
        return f"{self.prefix}-analyst-{user}"

    def home_volume(self, user: str) -> str:
        return f"{self.prefix}-home-{user}"


def client():
    import docker

    try:
        c = docker.from_env(timeout=120)
        c.ping()
        return c
    except Exception as e:  # noqa: BLE001 - DockerException, connection errors: one clear message
        raise DockerClusterError(
            f"no Docker engine answers ({e}). Start it (as root: `dockerd &`, or `systemctl start docker`) and retry."
        ) from e


def missing_images(s: HuntHub, docker_client=None) -> list[str]:
    import docker

    c = docker_client or client()
    missing = []
    for image in (s.spark_image, s.analyst_image):
        try:
            c.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    return missing


def scratch_root(s: HuntHub) -> Path:
    return s.state / "scratch"


def _remove(c, name: str) -> None:
    import docker

    try:
        c.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def ensure_network(c, name: str, labels: dict[str, str]):
    import docker

    try:
        return c.networks.get(name)
    except docker.errors.NotFound:
        return c.networks.create(name, driver="bridge", labels=labels)


def _spark_container(c, s: HuntHub, name: str, command: list[str], environment: dict, **kwargs):
    names = Names(s.docker_prefix)
    _remove(c, name)
    return c.containers.run(
        s.spark_image, command, name=name, hostname=f"{name}-host", detach=True,
        environment=environment, network=names.spark_network, labels={LABEL: s.docker_prefix},
        # the name maps to 0.0.0.0 here only: the daemon listens on every network it joins (see module doc)
        extra_hosts={name: "0.0.0.0"},
        cap_drop=["ALL"], security_opt=["no-new-privileges"], **kwargs,
    )  # fmt: skip


def start(s: HuntHub, progress: Callable[[str], None] = lambda msg: None) -> None:
    c = client()
    missing = missing_images(s, c)
    if missing:
        raise DockerClusterError(f"missing image(s) {', '.join(missing)}: build them with `hunthub images build`")
    names = Names(s.docker_prefix)
    ensure_network(c, names.spark_network, {LABEL: s.docker_prefix})
    warehouse = catalog.local_path(s.warehouse)
    if warehouse is None:
        raise DockerClusterError(f"the docker spawner needs a local warehouse folder, not {s.warehouse}")
    scratch = scratch_root(s)
    scratch.mkdir(parents=True, exist_ok=True)
    scratch.chmod(0o711)
    if s.analyst_tasks == "driver":
        return  # every analyst's tasks run in their own container (see hunthub.spawner.docker): no shared worker
    progress(f"master container {names.master} ...")
    _spark_container(
        c, s, names.master, ["master"], {"SPARK_MASTER_HOST": names.master},
        ports={"8080/tcp": ("127.0.0.1", s.spark_master_webui_port)},
    )  # fmt: skip
    for i in range(1, s.docker_workers + 1):
        progress(f"worker container {names.worker(i)} ({s.docker_worker_cores} cores, {s.docker_worker_memory}) ...")
        _spark_container(
            c, s, names.worker(i), ["worker", f"spark://{names.master}:7077"],
            {"SPARK_WORKER_CORES": str(s.docker_worker_cores), "SPARK_WORKER_MEMORY": s.docker_worker_memory,
             "SPARK_LOCAL_HOSTNAME": names.worker(i)},
            volumes={str(warehouse): {"bind": WAREHOUSE, "mode": "ro"}, str(scratch): {"bind": SCRATCH, "mode": "rw"}},
        )  # fmt: skip
    wait_for_workers(s, s.docker_workers, progress)


def master_state(s: HuntHub) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{s.spark_master_webui_port}/json/", timeout=5) as r:  # noqa: S310
        return json.load(r)


def wait_for_workers(s: HuntHub, n: int, progress: Callable[[str], None], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    alive = 0
    while time.monotonic() < deadline:
        try:
            alive = sum(w["state"] == "ALIVE" for w in master_state(s)["workers"])
        except (OSError, ValueError, KeyError):
            alive = 0
        if alive >= n:
            progress(f"{alive} worker(s) registered with the master")
            return
        time.sleep(1)
    raise DockerClusterError(
        f"only {alive} of {n} Spark workers registered within {timeout:.0f} s; "
        f"see `docker logs {Names(s.docker_prefix).master}` and the workers' logs"
    )


def stop(s: HuntHub) -> list[str]:
    """Remove every container and network of this prefix (analysts' homes, in volumes, stay)."""
    import docker

    try:
        c = client()
    except DockerClusterError:
        return []
    removed = []
    for container in c.containers.list(all=True, filters={"label": f"{LABEL}={s.docker_prefix}"}):
        container.remove(force=True)
        removed.append(container.name)
    for network in c.networks.list(filters={"label": f"{LABEL}={s.docker_prefix}"}):
        try:
            network.remove()
            removed.append(network.name)
        except docker.errors.APIError:
            pass
    return removed


def container_logs(name: str, lines: int = 80) -> str:
    try:
        return client().containers.get(name).logs(tail=lines).decode(errors="replace")
    except Exception as e:  # noqa: BLE001 - for failure reports only
        return f"(no logs for {name}: {e})"

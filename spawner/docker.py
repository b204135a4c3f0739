"""`hunthub-docker`: each analyst's notebook server in a container of its own.

On top of DockerSpawner:
- isolation: every analyst's container sits on a network of its own, which (from the host) only the hub and
  proxy reach, and the Spark master and workers when tasks run on them; analysts never share a network, so they
  cannot reach each other's servers. The hub's database stays on the host's loopback, which containers cannot
  reach;
- hardening: the image is the admin's (a request for another one is a 400), the `analyst` user (non-root), all
  capabilities dropped, no-new-privileges, memory, CPU and process limits, no Docker socket inside;
- Spark, with `tasks_in_container` (the default of `hunthub up --spawner docker`): the analyst's tasks run in
  their driver, inside this container and its limits, and every Spark port listens on the container's loopback
  only; nothing else joins the analyst's network, and the scratch space is mounted into this container alone.
  Without it (tasks on the Spark worker containers, which every analyst's executors share), the driver advertises
  the container's name (which the workers resolve on the analyst's network), binds every interface, and uses
  fixed driver and block-manager ports;
- data: the home is a named volume per analyst (it outlives the container), the warehouse is mounted read-only
  and the analyst's scratch space read-write, at the same paths as in the workers' containers;
- identity: the hub's identity file (hunthub.identity) is mounted read-only where kernels look for it.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockerspawner import DockerSpawner
from traitlets import Bool, Dict, Integer, List, Unicode, default

from hunthub import docker_cluster, identity, kernel_env
from hunthub.hub.usernames import path_component

HOME = "/home/analyst"
CONTAINER_USER = "analyst"


class HuntHubDockerSpawner(DockerSpawner):
    name_prefix = Unicode(
        "hunthub",
        config=True,
        help="""Prefix of this hub's containers, networks and volumes: `<prefix>-analyst-<user>`,
        `<prefix>-u-<user>` (the analyst's network) and `<prefix>-home-<user>` (their home).""",
    )
    tasks_in_container = Bool(
        True,
        config=True,
        help="""Whether analysts' Spark tasks run in their own container (a local master, HuntHub.analyst_tasks =
        `driver`): then the driver listens on the container's loopback only and nobody else's executors write the
        scratch space. False: on the Spark worker containers (`spark_containers`).""",
    )
    spark_containers = List(
        Unicode(),
        config=True,
        help="""Spark master and worker containers joined to every analyst's network, so executors reach drivers
        (only when tasks do not run in the analyst's container).""",
    )
    warehouse_dir = Unicode(config=True, help="Host folder of the warehouse, mounted read-only.")
    catalog_file = Unicode(config=True, help="Host path of the dataset catalog, mounted read-only.")
    scratch_root = Unicode(
        config=True,
        help="Host folder of analysts' scratch spaces; the analyst's own one is mounted read-write.",
    )
    driver_port = Integer(40000, config=True, help="spark.driver.port inside the container (fixed, for firewalls).")
    block_manager_port = Integer(40100, config=True, help="spark.blockManager.port inside the container.")
    pids_limit = Integer(1024, config=True, help="Maximum number of processes in an analyst's container.")
    identity_root = Unicode(
        config=True,
        help="Host folder where the hub writes each analyst's identity file (mounted read-only into the container).",
    )
    spark_queues = Dict(Unicode(), config=True, help="YARN queue per hub group (see hunthub.identity).")
    spark_default_queue = Unicode("", config=True, help="Queue of analysts in none of `spark_queues`' groups.")

    def _names(self) -> docker_cluster.Names:
        return docker_cluster.Names(self.name_prefix)

    @default("name_template")
    def _default_name_template(self):
        return self._names().analyst("{username}")

    def get_env(self):
        return self.container_env(super().get_env())

    def container_env(self, env: dict[str, str]) -> dict[str, str]:
        """The hub's environment for analysts' servers, made right for inside the container: the kernel contract
        (hunthub.kernel_env) with the container's own paths and addresses."""
        changes = {
            # the image has its own Java, Spark and Python: the host's paths mean nothing in the container
            "spark_home": "",
            "java_home": "",
            "pyspark_python": "",
            "warehouse": f"file://{docker_cluster.WAREHOUSE}",
            "catalog": docker_cluster.CATALOG,
            "scratch": f"file://{docker_cluster.SCRATCH}/{self.user.name}" if self.scratch_root else "",
            "spark_queue": self.spark_queue,
        }
        contract = kernel_env.KernelEnv.from_environ(env)
        if not self.tasks_in_container:
            changes.update(
                # executors in the worker containers connect back to the driver, by the container's name
                driver_host=self.object_name,
                driver_bind_address="0.0.0.0",  # noqa: S104 - inside the container, on its own network
                master_webui=f"http://{self._names().master}:8080",
                spark_conf={
                    **contract.spark_conf,
                    "spark.driver.port": str(self.driver_port),
                    "spark.blockManager.port": str(self.block_manager_port),
                },
            )
        return {**kernel_env.amend(env, **changes), "HOME": HOME}

    @property
    def spark_queue(self) -> str:
        return identity.queue_for((g.name for g in self.user.groups), self.spark_queues, self.spark_default_queue)

    def _mounts(self) -> tuple[dict, dict]:
        """(read-write, read-only) host → container mounts; prepares the scratch space and identity file."""
        rw = {self._names().home_volume("{username}"): HOME}
        ro = {}
        if self.scratch_root:
            scratch = Path(self.scratch_root) / path_component(self.user.name)
            scratch.mkdir(parents=True, exist_ok=True)
            if self.tasks_in_container:
                os.chown(scratch, docker_cluster.ANALYST_UID, docker_cluster.ANALYST_UID)
                scratch.chmod(0o700)
            else:
                # the analyst (driver) owns it; executors (the spark user) write into it through the group
                os.chown(scratch, docker_cluster.ANALYST_UID, docker_cluster.SPARK_UID)
                scratch.chmod(0o2770)
            rw[str(scratch)] = f"{docker_cluster.SCRATCH}/{path_component(self.user.name)}"
        if self.identity_root:
            folder = Path(self.identity_root) / path_component(self.user.name)
            groups = [g.name for g in self.user.groups]
            identity.write(CONTAINER_USER, self.user.name, groups, self.spark_queue, directory=folder)
            ro[str(folder)] = str(identity.IDENTITY_DIR)
        if self.warehouse_dir:
            ro[self.warehouse_dir] = docker_cluster.WAREHOUSE
        if self.catalog_file and Path(self.catalog_file).exists():
            ro[self.catalog_file] = docker_cluster.CATALOG
        return rw, ro

    async def start(self):
        c = docker_cluster.client()
        network = self._names().user_network(self.escaped_name)
        net = docker_cluster.ensure_network(c, network, {docker_cluster.LABEL: self.name_prefix})
        net.reload()
        joined = {x["Name"] for x in net.attrs.get("Containers", {}).values()}
        for name in [] if self.tasks_in_container else self.spark_containers:
            if name not in joined:
                net.connect(name)
        self.network_name = network
        self.volumes, self.read_only_volumes = self._mounts()
        self.extra_host_config = {
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": self.pids_limit,
        }
        if not self.tasks_in_container:
            # executors (the spark user's group) write into the scratch space beside the analyst
            self.extra_host_config["group_add"] = [str(docker_cluster.SPARK_UID)]
        self.extra_create_kwargs = {
            "user": CONTAINER_USER, "working_dir": HOME, "hostname": self.object_name,
            # `hunthub up` removes whatever carries its label when it stops, even after a hub crash
            "labels": {docker_cluster.LABEL: self.name_prefix},
        }  # fmt: skip
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        if self.identity_root:
            identity.remove(CONTAINER_USER, Path(self.identity_root) / path_component(self.user.name))

"""`spawner = docker`: hunthub settings translated into the hunthub-docker spawner's config (no engine needed)."""

import json
from types import SimpleNamespace

from traitlets.config import Config

from hunthub import docker_cluster
from hunthub.hub import config as hubconfig
from hunthub.spawner.docker import HuntHubDockerSpawner


def spawner_for(c, name="alice"):
    return HuntHubDockerSpawner(config=c, user=SimpleNamespace(name=name, groups=[], url=f"/user/{name}/"))


def docker_config(settings, **traits):
    s = settings(spawner="docker", docker_prefix="hh", docker_workers=3, **traits)
    c = Config()
    hubconfig.apply_docker_spawner(c, s, gateway="172.17.0.1")
    return s, c


def test_containers_get_the_admins_image_and_limits(settings):
    s, c = docker_config(settings, analyst_memory_limit="2G", analyst_cpu_limit=0.5, analyst_pids_limit=256)
    assert c.JupyterHub.spawner_class == "hunthub-docker"
    spawner = spawner_for(c)
    assert spawner.image == s.analyst_image == f"hunthub-analyst:{s.docker_image_tag}"
    assert spawner.allowed_images == {}  # analysts cannot pick one
    assert spawner.mem_limit == 2 * 1024**3
    assert spawner.cpu_limit == 0.5
    assert spawner.pids_limit == 256
    assert spawner.remove is True and spawner.use_internal_ip is True


def test_hub_listens_where_containers_reach_it_and_nowhere_else(settings):
    s, c = docker_config(settings)
    assert c.JupyterHub.hub_bind_url == f"http://172.17.0.1:{s.hub_port}"


def test_by_default_tasks_run_in_the_analysts_own_container_on_its_loopback(settings):
    s, c = docker_config(settings, analyst_cores=1)
    assert s.analyst_tasks == "driver"
    spawner = spawner_for(c)
    assert spawner.tasks_in_container and spawner.spark_containers == []  # nothing joins the analyst's network
    env = spawner.container_env(c.Spawner.environment)
    assert env["HUNTHUB_KERNEL_SPARK_MASTER"] == "local[1]"
    # the driver binds the container's loopback (hunthub.kernels.session), so no address, port or master UI
    assert not {
        "HUNTHUB_KERNEL_DRIVER_HOST",
        "HUNTHUB_KERNEL_DRIVER_BIND_ADDRESS",
        "HUNTHUB_KERNEL_MASTER_WEBUI",
    } & set(env)
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    assert "spark.driver.port" not in conf and "spark.blockManager.port" not in conf
    assert env["HUNTHUB_KERNEL_SCRATCH"] == f"file://{docker_cluster.SCRATCH}/alice"


def test_with_tasks_on_the_cluster_spark_containers_join_every_analysts_network(settings):
    _, c = docker_config(settings, analyst_tasks="cluster")
    assert not spawner_for(c).tasks_in_container
    assert spawner_for(c).spark_containers == [
        "hh-spark-master", "hh-spark-worker-1", "hh-spark-worker-2", "hh-spark-worker-3"
    ]  # fmt: skip
    assert c.Spawner.environment["HUNTHUB_KERNEL_SPARK_MASTER"] == "spark://hh-spark-master:7077"


def test_container_environment_uses_the_images_paths_and_fixed_driver_ports(settings):
    _, c = docker_config(settings, spark_conf={"spark.sql.shuffle.partitions": "8"}, analyst_tasks="cluster")
    spawner = spawner_for(c)
    env = spawner.container_env(c.Spawner.environment)
    for host_path in ("SPARK_HOME", "JAVA_HOME", "PYSPARK_PYTHON"):
        assert host_path not in env
    assert env["HUNTHUB_KERNEL_WAREHOUSE"] == f"file://{docker_cluster.WAREHOUSE}"
    assert env["HUNTHUB_KERNEL_CATALOG"] == docker_cluster.CATALOG
    assert env["HUNTHUB_KERNEL_DRIVER_HOST"] == "hh-analyst-alice"
    assert env["HUNTHUB_KERNEL_DRIVER_BIND_ADDRESS"] == "0.0.0.0"
    assert env["HUNTHUB_KERNEL_SCRATCH"] == f"file://{docker_cluster.SCRATCH}/alice"
    conf = json.loads(env["HUNTHUB_KERNEL_SPARK_CONF"])
    assert (conf["spark.driver.port"], conf["spark.blockManager.port"]) == ("40000", "40100")
    assert conf["spark.sql.shuffle.partitions"] == "8"


def test_local_spawner_stays_the_default(settings):
    c = Config()
    hubconfig.apply_spawner(c, settings())
    assert c.JupyterHub.spawner_class == "hunthub-local"
    assert "hub_bind_url" not in c.JupyterHub

"""The hub→kernel contract (hunthub.kernel_env): what the hub builds is what a kernel reads back."""

import dataclasses
import re
from pathlib import Path

import pytest

from hunthub import kernel_env
from hunthub.hub import config as hubconfig
from hunthub.kernel_env import KernelEnv
from hunthub.settings import HuntHub, env_name


def test_what_the_hub_builds_is_what_a_kernel_reads(settings):
    for s in (settings(), settings(analyst_tasks="cluster"), settings(graphistry_server="g.soc.example")):
        told = hubconfig.kernel_contract(s)
        assert KernelEnv.from_environ(told.to_environ()) == told


def test_the_kernel_channel_has_names_of_its_own():
    # a setting's variable configures the hub; a kernel variable is what the hub told one server: never the same
    settings_variables = {env_name(name) for name in HuntHub.class_traits(config=True)}
    assert not settings_variables & kernel_env.variables()
    assert all(
        v.startswith(kernel_env.PREFIX) for v in kernel_env.variables() - set(kernel_env.UPSTREAM_NAMES.values())
    )


ROOT = Path(__file__).resolve().parents[2]
# HUNTHUB_ variables that are neither a setting's nor the kernel channel's, each with one meaning of its own
OTHER_VARIABLES = {
    "HUNTHUB_CONFIG",  # a config file read after the system-wide one
    "HUNTHUB_RESOLVED_SETTINGS",  # the settings `hunthub up` resolved, handed to the hub it starts
    "HUNTHUB_OAUTH_CLIENT_SECRET",  # the secret itself, in place of HuntHub.oauth_client_secret_file
    "HUNTHUB_EXTRA_CA_CERTS",  # CA certificates `hunthub images build` adds to the images
}


def test_every_hunthub_variable_the_code_and_docs_name_is_known():
    # a stale name (a setting's variable for what is now a kernel field, say) would send a reader to the wrong one
    files = [ROOT / "README.md", *(f for f in [*ROOT.glob("images/*/*"), *ROOT.glob("bin/*")] if f.is_file())]
    files += [f for folder in ("hunthub", "hub", "spawner", "kernels") for f in (ROOT / folder).rglob("*.py")]
    named = {m for f in files for m in re.findall(r"\bHUNTHUB_[A-Z0-9_]*[A-Z0-9]\b", f.read_text(errors="replace"))}
    settings_variables = {env_name(name) for name in HuntHub.class_traits(config=True)}
    assert named - settings_variables - kernel_env.variables() - OTHER_VARIABLES == set()


def test_a_kernel_outside_the_hub_gets_a_local_session_and_no_catalog():
    told = KernelEnv.from_environ({"PATH": "/bin", "HUNTHUB_SPARK_MASTER": "spark://configured:7077"})
    assert told == KernelEnv()
    assert told.spark_master == "local[*]" and told.catalog == ""


def test_a_value_that_does_not_parse_is_the_default_not_a_crash():
    told = KernelEnv.from_environ(
        {
            kernel_env.variable("sql_row_limit"): "lots",
            kernel_env.variable("warm_driver_ttl"): "",
            kernel_env.variable("spark_conf"): "[1, 2]",
            kernel_env.variable("warm_driver"): "0",
        }
    )
    assert (told.sql_row_limit, told.warm_driver_ttl, dict(told.spark_conf)) == (0, 3600.0, {})
    assert told.warm_driver is False


def test_it_is_frozen_and_a_spawner_changes_fields_on_a_copy():
    told = KernelEnv(spark_conf={"spark.cores.max": "2"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        told.spark_master = "spark://elsewhere:7077"
    with pytest.raises(TypeError):
        told.spark_conf["spark.cores.max"] = "200"
    wider = told.with_conf(**{"spark.driver.port": "40000"})
    assert dict(wider.spark_conf) == {"spark.cores.max": "2", "spark.driver.port": "40000"}
    assert dict(told.spark_conf) == {"spark.cores.max": "2"}


def test_amend_changes_the_contract_and_leaves_the_rest_of_the_environment():
    environ = {"PATH": "/bin", **KernelEnv(scratch="file:///s/ana", warehouse="file:///w").to_environ()}
    amended = kernel_env.amend(environ, scratch="", spark_queue="root.hunters")
    assert amended["PATH"] == "/bin"
    assert kernel_env.variable("scratch") not in amended  # an emptied field leaves the environment
    assert KernelEnv.from_environ(amended).spark_queue == "root.hunters"
    assert KernelEnv.from_environ(amended).warehouse == "file:///w"

"""Which settings a notebook's `getOrCreate()` may apply to the kernel's session, and how the rest are named."""

import threading
from types import SimpleNamespace

import pytest

from hunthub.kernels import only_session
from hunthub.kernels.session import SessionInfo

CURRENT = {
    "spark.master": "spark://10.0.0.1:7077",
    "spark.app.name": "alice",
    "spark.executor.memory": "1g",
    "spark.sql.shuffle.partitions": "8",
}


def runtime_sql(key: str) -> bool:
    """What `spark.conf.set` takes, roughly: runtime SQL settings and keys Spark does not know."""
    return key.startswith("spark.sql.") and key != "spark.sql.catalogImplementation" or not key.startswith("spark.")


@pytest.mark.parametrize(
    "key",
    [
        "spark.master",
        "spark.app.name",
        "spark.remote",
        "spark.api.mode",
        "spark.driver.memory",
        "spark.driver.host",
        "spark.executor.memory",
        "spark.executor.cores",
        "spark.executorEnv.PATH",
        "spark.cores.max",
        "spark.dynamicAllocation.enabled",
        "spark.ui.port",
        "spark.authenticate",
        "spark.authenticate.secret",
        "spark.yarn.queue",  # pinned by hunthub.identity
    ],
)
def test_cluster_and_identity_settings_are_never_the_notebooks(key):
    assert only_session.cluster_setting(key)
    # even where Spark itself would take them at run time
    applied, not_applied = only_session.split({key: "x"}, CURRENT, lambda k: True)
    assert applied == {}
    assert not_applied == {key: "x"}


@pytest.mark.parametrize("key", ["spark.sql.shuffle.partitions", "spark.sql.session.timeZone", "fs.s3a.endpoint"])
def test_other_settings_are_not_cluster_settings(key):
    assert not only_session.cluster_setting(key)


def test_runtime_sql_settings_apply_and_others_are_named():
    requested = {
        "spark.master": "local[*]",
        "spark.app.name": "x",
        "spark.sql.shuffle.partitions": "7",
        "spark.executor.memory": "4g",
        "spark.sql.catalogImplementation": "hive",  # static: fixed when the session was made
    }
    applied, not_applied = only_session.split(requested, CURRENT, runtime_sql)
    assert applied == {"spark.sql.shuffle.partitions": "7"}
    assert not_applied == {
        "spark.master": "local[*]",
        "spark.app.name": "x",
        "spark.executor.memory": "4g",
        "spark.sql.catalogImplementation": "hive",
    }


def test_what_the_session_already_has_is_not_named():
    # a conf built from the JVM's defaults repeats the session's own settings: nothing to say about those
    requested = {"spark.master": CURRENT["spark.master"], "spark.app.name": "alice", "spark.executor.memory": "1g"}
    assert only_session.split(requested, CURRENT, runtime_sql) == ({}, {})


def test_what_a_notebooks_sparkconf_holds_by_itself_is_not_named():
    # SparkConf() starts from the driver JVM's system properties, which Spark changed in the session (its own Java
    # options added): the notebook did not ask for those
    defaults = {"spark.executor.extraJavaOptions": "-Xss4m", "spark.app.name": "alice"}
    current = {**CURRENT, "spark.executor.extraJavaOptions": "--add-opens=java.base/java.lang=ALL-UNNAMED -Xss4m"}
    requested = {**defaults, "spark.app.name": "y"}
    assert only_session.split(requested, current, lambda k: False, defaults) == ({}, {"spark.app.name": "y"})


def test_nothing_applies_where_nothing_is_settable():
    # SparkContext.getOrCreate(conf): a live context takes no settings
    applied, not_applied = only_session.split({"spark.sql.shuffle.partitions": "7"}, CURRENT, lambda k: False)
    assert applied == {}
    assert not_applied == {"spark.sql.shuffle.partitions": "7"}


def test_the_notice_names_master_and_app_first_then_settings_by_key():
    not_applied = {"spark.executor.memory": "4g", "spark.app.name": "x", "spark.driver.memory": "2g"}
    not_applied["spark.master"] = "local[*]"
    assert only_session.notice("alice", "spark://10.0.0.1:7077", not_applied) == (
        "hunthub: this kernel's Spark session is hunthub's session (application 'alice' on spark://10.0.0.1:7077); "
        "not applied: master 'local[*]', app name 'x', spark.driver.memory=2g, spark.executor.memory=4g"
    )


def _hook():
    info = SessionInfo(master="spark://10.0.0.1:7077", app_name="alice", ui_port=4040, ui_path="")
    return only_session.OnlySession(SimpleNamespace(info=info), attach=lambda: None)


def test_each_set_of_settings_not_applied_is_named_once(capsys):
    hook = _hook()
    hook.tell({"spark.app.name": "x"})
    hook.tell({"spark.app.name": "x"})
    hook.tell({})
    assert capsys.readouterr().err.count("not applied") == 1
    hook.tell({"spark.app.name": "y"})
    assert "app name 'y'" in capsys.readouterr().err


def test_only_the_starters_own_calls_pass_through():
    seen = []
    starter = threading.Thread(target=lambda: seen.append(hook.passes_through()))
    hook = only_session.OnlySession(starter, attach=lambda: None)
    starter.start()
    starter.join()
    assert seen == [True]
    assert not hook.passes_through()

"""Where a kernel says its driver is, and how often its server looks (hunthub.kernels.spark_activity)."""

from pathlib import Path

from hunthub.kernels import spark_activity


def test_marker_sits_beside_the_connection_file_keyed_by_kernel_id(tmp_path):
    marker = spark_activity.marker_path(tmp_path / "kernel-7fb441ee-9f66-4e3a-8084-b5fd0ee75162.json")
    assert marker == tmp_path / "hunthub-spark-7fb441ee-9f66-4e3a-8084-b5fd0ee75162.json"


def test_no_marker_for_a_connection_file_not_named_by_jupyter(tmp_path):
    assert spark_activity.marker_path(tmp_path / "my-kernel.json") is None
    assert spark_activity.marker_path(Path("kernel-abc.txt")) is None


def test_announce_outside_a_kernel_does_nothing():
    assert spark_activity.announce(spark=None, ui_port=4040) is None


def test_server_looks_well_within_its_activity_reports():
    assert spark_activity.check_every({}) == 30  # JupyterHub's default report interval, 300 s
    assert spark_activity.check_every({"JUPYTERHUB_ACTIVITY_INTERVAL": "10"}) == 5
    assert spark_activity.check_every({"JUPYTERHUB_ACTIVITY_INTERVAL": "1"}) == 2
    assert spark_activity.check_every({"JUPYTERHUB_ACTIVITY_INTERVAL": "soon"}) == 30

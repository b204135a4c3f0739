"""The cluster probe `hunthub up`, `hunthub doctor`, kernels and ingest share (hunthub.master_probe)."""

import socket

from hunthub import master_probe


def test_master_problem_names_an_unreachable_master():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    problem = master_probe.master_problem(f"spark://127.0.0.1:{port}", timeout=2)
    assert problem is not None
    assert f"127.0.0.1:{port}" in problem


def test_master_problem_none_when_the_master_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert master_probe.master_problem(f"spark://127.0.0.1:{s.getsockname()[1]}", timeout=2) is None


def test_standby_master_is_enough():
    with socket.socket() as down, socket.socket() as up:
        down.bind(("127.0.0.1", 0))
        up.bind(("127.0.0.1", 0))
        up.listen()
        master = f"spark://127.0.0.1:{down.getsockname()[1]},127.0.0.1:{up.getsockname()[1]}"
        assert master_probe.master_problem(master, timeout=2) is None


def test_master_problem_rejects_an_unsupported_url():
    assert "unsupported" in master_probe.master_problem("mesos://x:5050")


def test_master_endpoints_of_a_standby_setup():
    assert master_probe.master_endpoints("spark://a:7077,b:7078") == [("a", 7077), ("b", 7078)]
    assert master_probe.master_endpoints("spark://[::1]:7077") == [("::1", 7077)]
    assert master_probe.master_endpoints("yarn") == []


def test_master_url_without_port_defaults_to_7077():
    # `hunthub doctor` and the kernel preflight would otherwise show a ValueError traceback
    assert master_probe.master_endpoints("spark://spark-master") == [("spark-master", 7077)]


def test_yarn_without_its_client_configuration_is_named(tmp_path):
    problem = master_probe.master_problem("yarn", env={"HADOOP_CONF_DIR": str(tmp_path)})
    assert "yarn-site.xml" in problem
    (tmp_path / "yarn-site.xml").write_text("<configuration/>")
    assert master_probe.master_problem("yarn", env={"HADOOP_CONF_DIR": str(tmp_path)}) is None

"""The pure parts of per-analyst caps: which names may become cgroups, where controllers are mounted, and what
is written to the kernel's files for cgroup v1 and v2 (the kernel's side: tests/integration/test_analyst_limits.py)."""

from types import SimpleNamespace

import pytest

from hunthub import analyst_limits
from hunthub.analyst_limits import Hierarchy, limit_values
from hunthub.spawner.local import HuntHubLocalSpawner

MiB = 1 << 20


@pytest.mark.parametrize("name", ["hunt-alice", "hunt-john.doe", "hunt-a_b", "hunt-x@corp", "ht1a2b-analyst"])
def test_account_names_are_group_names(name):
    assert analyst_limits.check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "../hunthub", ".hidden", "-x", "a\nb", "x\n", "a\0b", "a b", "x" * 129, None]
)
def test_names_that_are_not_one_safe_path_component_are_refused(name):
    with pytest.raises(ValueError):
        analyst_limits.check_name(name)


# --- what is written ---------------------------------------------------------------------------------------


def test_v2_caps():
    assert limit_values("cpu", 2, cpu=0.5) == [("cpu.max", "50000 100000")]
    assert limit_values("memory", 2, memory=200 * MiB) == [("memory.max", "209715200"), ("memory.swap.max", "0")]
    assert limit_values("pids", 2, pids=20) == [("pids.max", "20")]


def test_v2_no_caps():
    assert limit_values("cpu", 2) == [("cpu.max", "max 100000")]
    assert limit_values("memory", 2) == [("memory.max", "max"), ("memory.swap.max", "max")]
    assert limit_values("pids", 2, pids=0) == [("pids.max", "max")]


def test_v1_caps():
    assert limit_values("cpu", 1, cpu=2.5) == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "250000")]
    assert limit_values("memory", 1, memory=200 * MiB) == [
        ("memory.memsw.limit_in_bytes", "-1"),  # first, so the limit may rise above the old memsw
        ("memory.limit_in_bytes", "209715200"),
        ("memory.memsw.limit_in_bytes", "209715200"),
    ]
    assert limit_values("pids", 1, pids=20) == [("pids.max", "20")]


def test_v1_no_caps():
    assert limit_values("cpu", 1, cpu=0.0) == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "-1")]
    assert [v for _, v in limit_values("memory", 1, memory=None)] == ["-1", "-1", "-1"]
    assert limit_values("pids", 1) == [("pids.max", "max")]


def test_tiny_cpu_caps_are_raised_to_the_kernels_minimum_quota():
    assert limit_values("cpu", 2, cpu=0.001) == [("cpu.max", "1000 100000")]


def test_unknown_controller_is_refused():
    with pytest.raises(ValueError):
        limit_values("io", 2)


# --- where the controllers are -----------------------------------------------------------------------------

V1_SYSTEMD = """\
24 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
25 24 0:22 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
26 24 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
29 24 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
30 24 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
31 24 0:28 / /sys/fs/cgroup/pids rw,nosuid shared:16 - cgroup cgroup rw,pids
32 24 0:29 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,freezer
40 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
"""


def test_mountinfo_lists_cgroup_mounts_with_their_options():
    mounts = analyst_limits.parse_mountinfo(V1_SYSTEMD)
    assert [(t, str(p)) for t, p, _ in mounts] == [
        ("cgroup2", "/sys/fs/cgroup/unified"),
        ("cgroup", "/sys/fs/cgroup/systemd"),
        ("cgroup", "/sys/fs/cgroup/cpu,cpuacct"),
        ("cgroup", "/sys/fs/cgroup/memory"),
        ("cgroup", "/sys/fs/cgroup/pids"),
        ("cgroup", "/sys/fs/cgroup/my dir"),  # \040 unescaped
    ]
    assert {"cpu", "cpuacct"} <= mounts[2][2]


def test_v1_controllers_are_found_in_their_own_hierarchies():
    found = analyst_limits.locate(V1_SYSTEMD.replace("/sys/fs/cgroup/unified", "/nonexistent/unified"))
    assert found == {
        "cpu": Hierarchy(1, analyst_limits.Path("/sys/fs/cgroup/cpu,cpuacct")),
        "memory": Hierarchy(1, analyst_limits.Path("/sys/fs/cgroup/memory")),
        "pids": Hierarchy(1, analyst_limits.Path("/sys/fs/cgroup/pids")),
    }


def test_v2_controllers_are_those_its_root_lists(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    found = analyst_limits.locate(f"25 24 0:22 / {tmp_path} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    assert found == {c: Hierarchy(2, tmp_path) for c in ("cpu", "memory", "pids")}


def test_hybrid_uses_each_controller_where_it_is_mounted(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("pids\n")
    mountinfo = f"25 24 0:22 / {tmp_path} rw - cgroup2 cgroup2 rw\n" + "\n".join(
        line for line in V1_SYSTEMD.splitlines() if "pids" not in line and "unified" not in line
    )
    found = analyst_limits.locate(mountinfo)
    assert found["pids"] == Hierarchy(2, tmp_path)
    assert found["memory"].version == 1


# --- the spawner -------------------------------------------------------------------------------------------


def test_pids_limit_is_configurable_and_off_by_default():
    spawner = HuntHubLocalSpawner(user=SimpleNamespace(name="alice", groups=[]), create_system_users=False)
    assert spawner.pids_limit == 0
    assert HuntHubLocalSpawner(user=spawner.user, pids_limit=500).pids_limit == 500


def test_without_per_analyst_accounts_no_group_is_made():
    spawner = HuntHubLocalSpawner(
        user=SimpleNamespace(name="alice", groups=[]), create_system_users=False, mem_limit="1G", pids_limit=100
    )
    spawner.apply_limits()
    assert spawner._cgroup_procs == ()
    assert not spawner.caps_enforced

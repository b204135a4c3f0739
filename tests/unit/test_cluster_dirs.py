"""Root prepares the Spark daemons' dirs without acting through a path their account can change (issue 13).

The daemons' account also runs every analyst's Spark tasks, so these tests run the attack as that real account:
a task replaces `work` with a symlink to a root-owned directory (a stand-in for /etc) and waits for the next
`hunthub up`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hunthub import cluster
from hunthub.settings import HuntHub

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attack needs the daemons' real OS account")


def as_spark(code: str) -> subprocess.CompletedProcess:
    account = cluster.ensure_spark_user()

    def become():
        os.setgroups([account.pw_gid])
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)

    return subprocess.run(
        [sys.executable, "-c", code], preexec_fn=become, capture_output=True, text=True, timeout=60, cwd="/"
    )


@pytest.fixture
def state():
    # the daemons' account must reach the state dir, as in a real install (pytest's tmp_path is root's alone)
    tmp_path = Path(tempfile.mkdtemp(prefix="hunthub-dirs-"))
    tmp_path.chmod(0o755)
    s = HuntHub(state_dir=str(tmp_path / "state"))
    s.state.mkdir()
    s.state.chmod(0o711)
    victim = tmp_path / "etc"  # root's, like /etc
    victim.mkdir(mode=0o755)
    (victim / "passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    yield s, victim
    shutil.rmtree(tmp_path)


def test_the_daemons_get_their_dirs_and_cannot_swap_them(state):
    s, victim = state
    owner = cluster.ensure_spark_user()
    cluster.prepare_dirs(s, owner)
    assert (s.spark_dir.stat().st_uid, s.spark_dir.stat().st_mode & 0o777) == (0, 0o755)
    for name in cluster.DAEMON_DIRS:
        st = (s.spark_dir / name).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (owner.pw_uid, 0o700)
    work = s.spark_dir / "work"
    attack = as_spark(f"import os, shutil; shutil.rmtree({str(work)!r}); os.symlink({str(victim)!r}, {str(work)!r})")
    assert attack.returncode != 0 and "Permission denied" in attack.stderr
    assert work.is_dir() and not work.is_symlink()


def test_a_symlink_planted_under_the_old_layout_is_refused_not_followed(state):
    s, victim = state
    owner = cluster.ensure_spark_user()
    # the layout before this fix: the parent belonged to the daemons' account too
    s.spark_dir.mkdir(mode=0o700)
    os.chown(s.spark_dir, owner.pw_uid, owner.pw_gid)
    attack = as_spark(f"import os; os.symlink({str(victim)!r}, {str(s.spark_dir / 'work')!r})")
    assert attack.returncode == 0, attack.stderr

    with pytest.raises(cluster.ClusterError, match=r"work is a symbolic link \(to .*etc\).*remove it"):
        cluster.prepare_dirs(s, owner)
    assert victim.stat().st_uid == 0 and (victim / "passwd").stat().st_uid == 0
    assert victim.stat().st_mode & 0o777 == 0o755
    # and the parent is root's again, so the account cannot plant another one
    assert s.spark_dir.stat().st_uid == 0
    again = as_spark(f"import os; os.symlink({str(victim)!r}, {str(s.spark_dir / 'local')!r})")
    assert again.returncode != 0 and "Permission denied" in again.stderr


def test_without_root_the_dirs_are_the_callers(tmp_path):
    s = HuntHub(state_dir=str(tmp_path / "state"))
    cluster.prepare_dirs(s, None)
    assert all(Path(s.spark_dir / name).is_dir() for name in cluster.DAEMON_DIRS)

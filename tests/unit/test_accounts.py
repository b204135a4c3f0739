"""Analysts' system accounts belong to one install and keep their uid (issue 13): real accounts, made and removed
by these tests only (names `htst-<random>`, never a real install's `hunt-`)."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from hunthub.spawner import accounts

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="system accounts need root")


class Install:
    """One hunthub install's view: its ledger and its homes."""

    def __init__(self, base: Path, label: str):
        self.ledger = base / label / "hub" / "accounts.json"
        self.homes = base / label / "homes"
        self.homes.mkdir(parents=True)

    def home(self, name: str) -> Path:
        return self.homes / name

    def ensure(self, name: str, account_name: str) -> pwd.struct_passwd:
        account = accounts.ensure(self.ledger, name, account_name, self.home(name), self.homes)
        home = self.home(name)
        if not home.exists():  # what the spawner does next: the home is the analyst's
            home.mkdir(mode=0o700)
            os.chown(home, account.pw_uid, account.pw_gid)
        return account


@pytest.fixture
def world():
    base = Path(tempfile.mkdtemp(prefix="hunthub-accounts-"))
    base.chmod(0o711)
    tag = uuid.uuid4().hex[:6]
    made: list[str] = []

    def name(label: str) -> str:
        account_name = f"htst-{label}{tag}"
        made.append(account_name)
        return account_name

    yield base, name
    for account_name in made:
        subprocess.run(["userdel", account_name], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def owned_file(home: Path, account: pwd.struct_passwd, text: str = "notes") -> Path:
    f = home / "notes.txt"
    f.write_text(text)
    os.chown(f, account.pw_uid, account.pw_gid)
    return f


def test_an_account_of_another_install_is_refused_and_left_alone(world):
    base, name = world
    real, test_run = Install(base, "real"), Install(base, "test-run")
    alice = name("alice")
    before = real.ensure("alice", alice)

    with pytest.raises(accounts.AccountError, match="belongs to another hunthub install"):
        test_run.ensure("alice", alice)
    after = pwd.getpwnam(alice)
    assert (after.pw_uid, after.pw_dir, after.pw_gecos) == (before.pw_uid, before.pw_dir, before.pw_gecos)
    assert after.pw_dir == str(real.home("alice"))


def test_a_recreated_account_never_gets_a_deleted_analysts_uid_and_gets_its_files_back(world):
    base, name = world
    install = Install(base, "real")
    adm, bob = name("adm"), name("bob")
    adm_uid = install.ensure("adm", adm).pw_uid
    owned_file(install.home("adm"), pwd.getpwnam(adm), "admin's secrets")
    old_bob = install.ensure("bob", bob)
    bobs = owned_file(install.home("bob"), old_bob)
    # both accounts deleted (the admin's by hand, say), their homes stay
    subprocess.run(["userdel", adm], check=True)
    subprocess.run(["userdel", bob], check=True)

    new_bob = install.ensure("bob", bob)
    assert new_bob.pw_uid not in (adm_uid, old_bob.pw_uid)  # no uid is given out twice
    assert install.home("adm").stat().st_uid == adm_uid != new_bob.pw_uid
    assert bobs.stat().st_uid == new_bob.pw_uid  # bob's own files followed him to his new uid


def test_a_uid_changed_outside_hunthub_is_noticed_and_the_home_handed_over_without_following_symlinks(world):
    base, name = world
    install = Install(base, "real")
    carol = name("carol")
    account = install.ensure("carol", carol)
    home = install.home("carol")
    notes = owned_file(home, account)
    (home / "sub").mkdir()
    os.chown(home / "sub", account.pw_uid, account.pw_gid)
    victim = base / "victim"  # root's, like /etc/shadow
    victim.write_text("root only")
    os.symlink(victim, home / "sub" / "link")
    os.lchown(home / "sub" / "link", account.pw_uid, account.pw_gid)
    # the admin deletes the account and makes it again by hand, with the same comment but another uid
    subprocess.run(["userdel", carol], check=True)
    new_uid = accounts.free_uid({account.pw_uid})
    subprocess.run(
        ["useradd", "--system", "--uid", str(new_uid), "--user-group", "--no-create-home", "--home-dir", str(home),
         "--comment", account.pw_gecos, carol],
        check=True,
    )  # fmt: skip

    again = install.ensure("carol", carol)
    assert again.pw_uid == new_uid
    for path in (home, notes, home / "sub"):
        assert path.stat().st_uid == new_uid, path
    assert (home / "sub" / "link").lstat().st_uid == new_uid  # the link itself
    assert victim.stat().st_uid == 0  # not its target


def test_an_account_made_again_with_another_analysts_uid_is_refused(world):
    base, name = world
    install = Install(base, "real")
    dave, erin = name("dave"), name("erin")
    dave_account = install.ensure("dave", dave)
    install.ensure("erin", erin)
    subprocess.run(["userdel", dave], check=True)  # dave's home stays, owned by his uid
    subprocess.run(["userdel", erin], check=True)
    # erin's account made again by hand, and given dave's old uid
    subprocess.run(
        ["useradd", "--system", "--uid", str(dave_account.pw_uid), "--no-create-home", "--home-dir",
         str(install.home("erin")), "--comment", dave_account.pw_gecos.replace("dave", "erin"), erin],
        check=True,
    )  # fmt: skip
    with pytest.raises(accounts.AccountError, match="which hunthub gave to analyst 'dave'|owns the home"):
        install.ensure("erin", erin)
    assert install.home("dave").stat().st_uid == dave_account.pw_uid  # nothing handed to erin


def test_an_account_of_an_earlier_hunthub_is_adopted_only_for_its_own_home(world, caplog):
    base, name = world
    install = Install(base, "real")
    old, other = name("old"), name("other")
    for account_name, home in ((old, install.home("old")), (other, base / "elsewhere")):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", str(home), "--comment", "hunthub analyst x",
             account_name],
            check=True,
        )  # fmt: skip
    with caplog.at_level(logging.INFO):
        adopted = install.ensure("old", old)
    assert accounts.install_of(adopted) == accounts.Ledger(install.ledger).install
    with pytest.raises(accounts.AccountError, match="was not created by this hunthub install"):
        install.ensure("other", other)
    assert pwd.getpwnam(other).pw_dir == str(base / "elsewhere")


def test_the_ledger_is_roots_alone(world):
    base, name = world
    install = Install(base, "real")
    install.ensure("fay", name("fay"))
    assert install.ledger.stat().st_mode & 0o777 == 0o600

"""Analysts' system accounts that belong to one hunthub install, bound to their uid.

The local spawner, as root, gives each analyst a system account (`<prefix><name>`). Keyed by name alone, two
installs on one machine (a real one, and a test run or a second state dir) took each other's accounts over, and an
account deleted and created again could get the uid of another analyst, whose files then became its files. So this
module keeps two records and checks them at every spawn:

- the account's comment names the install that created it (`hunthub analyst alice [install 3f2a...]`): an account
  of another install is never adopted, re-pointed or changed;
- the install's ledger (`<state>/hub/accounts.json`, 0600) holds each analyst's uid and every uid this install
  ever gave out. A new account gets a uid that no account of the ledger ever had and that owns no home of this
  install, so it never inherits anyone's files. An account whose uid changed (deleted and created again outside
  hunthub) is noticed: the analyst's home and scratch space are handed to the new uid, walking them through
  directory descriptors that never follow a symlink; a new uid that owns another analyst's home is refused.

What it cannot see: uids that another install (or the admin) gave to files outside this install's homes. An
account made by hunthub before the ledger (no install in its comment) is adopted only when its home is this
install's home for that analyst.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path

from hunthub import atomic_file

COMMENT = "hunthub analyst"
_INSTALL = re.compile(r"\[install ([0-9a-f]+)\]")


class AccountError(RuntimeError):
    """An analyst's account cannot be used safely; the message says why and what the admin can do."""


class Ledger:
    """This install's id, each analyst's account and uid, and every uid it ever gave out (JSON, 0600, root's)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            doc = {"install": secrets.token_hex(8), "analysts": {}, "uids": []}
        except (OSError, ValueError) as e:
            raise AccountError(f"cannot read the accounts ledger {path}: {e}; restore it from a backup") from e
        self.install: str = doc["install"]
        self.analysts: dict[str, dict] = doc["analysts"]
        self.uids: set[int] = set(doc["uids"])

    @property
    def tag(self) -> str:
        return f"[install {self.install}]"

    def record(self, name: str, account: pwd.struct_passwd) -> None:
        self.analysts[name] = {"account": account.pw_name, "uid": account.pw_uid, "gid": account.pw_gid}
        self.uids.add(account.pw_uid)
        self.save()

    def save(self) -> None:
        doc = {"install": self.install, "analysts": self.analysts, "uids": sorted(self.uids)}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_file.write_json(self.path, doc, durable=True, indent=1, sort_keys=True)

    def analyst_of_uid(self, uid: int) -> str | None:
        return next((name for name, a in self.analysts.items() if a["uid"] == uid), None)


def install_of(account: pwd.struct_passwd) -> str | None:
    """The install named in the account's comment, None for an account without one."""
    m = _INSTALL.search(account.pw_gecos)
    return m.group(1) if m else None


def ensure(
    ledger_path: Path,
    name: str,
    account_name: str,
    home: Path,
    homes_root: Path,
    also_owned: Iterable[Path] = (),
    log: logging.Logger | None = None,
) -> pwd.struct_passwd:
    """The system account of hub user `name`, created if missing; raises AccountError when it belongs to another
    install or a uid would pass from one analyst to another. `also_owned` (the scratch space) is handed over with
    the home when the account's uid changed."""
    log = log or logging.getLogger(__name__)
    ledger = Ledger(ledger_path)
    account = _existing(account_name)
    if account is None:
        account = _create(ledger, name, account_name, home, homes_root)
        log.info("Created system account %s (uid %d) for analyst %s", account_name, account.pw_uid, name)
    else:
        account = _claim(ledger, name, account, home, log)
    recorded = ledger.analysts.get(name)
    if recorded and recorded["uid"] != account.pw_uid:
        _hand_over(ledger, name, recorded, account, [home, *also_owned], homes_root, log)
    other = ledger.analyst_of_uid(account.pw_uid)
    if other not in (None, name):
        raise AccountError(
            f"the system account {account_name} has uid {account.pw_uid}, which hunthub gave to analyst "
            f"'{other}': it would own {other}'s files. Delete the account {account_name} (`userdel "
            f"{account_name}`); hunthub creates it again with a uid of its own at the next login."
        )
    ledger.record(name, account)
    return account


def _existing(account_name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(account_name)
    except KeyError:
        return None


def _claim(ledger: Ledger, name: str, account: pwd.struct_passwd, home: Path, log) -> pwd.struct_passwd:
    """An existing account: this install's (its home follows a moved state dir), or one made by hunthub before
    the ledger for this very home (adopted); anything else is refused."""
    owner = install_of(account)
    if owner is not None and owner != ledger.install:
        raise AccountError(
            f"the system account {account.pw_name} belongs to another hunthub install on this machine (install "
            f"{owner}, home {account.pw_dir}); hunthub will not take it over. Give this install other account "
            f"names (HuntHub.account_prefix), or remove the other install's accounts."
        )
    if owner is None:
        if not account.pw_gecos.startswith(COMMENT) or account.pw_dir != str(home):
            raise AccountError(
                f"the system account {account.pw_name} exists but was not created by this hunthub install "
                f"(comment {account.pw_gecos!r}, home {account.pw_dir}); hunthub will not take it over. Give this "
                f"install other account names (HuntHub.account_prefix), or remove that account."
            )
        _usermod(account.pw_name, "--comment", f"{COMMENT} {name} {ledger.tag}")
        log.info("Adopted %s (an earlier hunthub made it for %s) into this install", account.pw_name, home)
    elif account.pw_dir != str(home):
        # this install's state dir moved: keep the account's home in step (the server is told its home
        # explicitly, so this is tidiness, and usermod refuses while the account runs a process)
        try:
            _usermod(account.pw_name, "--home", str(home))
        except AccountError as e:
            log.warning("%s", e)
    return pwd.getpwnam(account.pw_name)


def _create(ledger: Ledger, name: str, account_name: str, home: Path, homes_root: Path) -> pwd.struct_passwd:
    uid = free_uid(ledger.uids | _home_owners(homes_root))
    ledger.uids.add(uid)
    ledger.save()  # given out, whatever happens next: never given to anyone else
    done = subprocess.run(
        ["useradd", "--system", "--uid", str(uid), "--user-group", "--no-create-home", "--home-dir", str(home),
         "--shell", "/usr/sbin/nologin", "--comment", f"{COMMENT} {name} {ledger.tag}", account_name],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise AccountError(f"could not create the system account {account_name}: {done.stderr.strip()}")
    return pwd.getpwnam(account_name)


def free_uid(taken: set[int]) -> int:
    """The highest system uid (as useradd --system picks) used by no account or group and not in `taken`."""
    low, high = _system_uid_range()
    used = taken | {a.pw_uid for a in pwd.getpwall()} | _group_ids()
    for uid in range(high, low - 1, -1):
        if uid not in used:
            return uid
    raise AccountError(f"no free system uid left between {low} and {high} (/etc/login.defs SYS_UID_MIN/MAX)")


def _system_uid_range() -> tuple[int, int]:
    found = {"SYS_UID_MIN": 100, "SYS_UID_MAX": 999}
    try:
        for line in Path("/etc/login.defs").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in found and parts[1].isdigit():
                found[parts[0]] = int(parts[1])
    except OSError:
        pass
    return found["SYS_UID_MIN"], found["SYS_UID_MAX"]


def _group_ids() -> set[int]:
    import grp

    return {g.gr_gid for g in grp.getgrall()}


def _home_owners(homes_root: Path) -> set[int]:
    try:
        return {entry.stat(follow_symlinks=False).st_uid for entry in os.scandir(homes_root)}
    except FileNotFoundError:
        return set()


def _hand_over(ledger, name, recorded, account, paths, homes_root, log) -> None:
    """The account was created again with another uid: give it the analyst's files, unless that uid already
    owns another analyst's home (then the account would see that analyst's files: refused)."""
    home = Path(paths[0])
    for entry in os.scandir(homes_root) if homes_root.is_dir() else ():
        if entry.stat(follow_symlinks=False).st_uid == account.pw_uid and Path(entry.path) != home:
            raise AccountError(
                f"the system account {account.pw_name} was created again with uid {account.pw_uid}, which owns "
                f"the home {entry.path}: it would read another analyst's files. Delete the account "
                f"{account.pw_name}; hunthub creates it again with a uid of its own at the next login."
            )
    old, new = (recorded["uid"], recorded["gid"]), (account.pw_uid, account.pw_gid)
    changed = sum(hand_over(Path(p), old, new) for p in paths if p)
    log.warning(
        "The system account %s of analyst %s changed uid (%d -> %d): handed %d files over to the new uid",
        account.pw_name, name, old[0], new[0], changed,
    )  # fmt: skip


def hand_over(top: Path, old: tuple[int, int], new: tuple[int, int]) -> int:
    """Give what the old (uid, gid) own under `top` to the new ones; never follows a symlink (the walk holds each
    directory by descriptor, and a symlink itself is changed, not its target). Returns how many entries changed."""
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return 0  # missing, or not a plain directory: nothing of the analyst's to hand over there

    def change(st) -> tuple[int, int] | None:
        uid = new[0] if st.st_uid == old[0] else -1
        gid = new[1] if st.st_gid == old[1] else -1
        return (uid, gid) if (uid, gid) != (-1, -1) else None

    changed = 0
    try:
        ids = change(os.fstat(fd))
        if ids:
            os.fchown(fd, *ids)
            changed += 1
        for _, dirs, files, dir_fd in os.fwalk(dir_fd=fd, follow_symlinks=False):
            for entry in (*dirs, *files):
                ids = change(os.stat(entry, dir_fd=dir_fd, follow_symlinks=False))
                if ids:
                    os.chown(entry, *ids, dir_fd=dir_fd, follow_symlinks=False)
                    changed += 1
    finally:
        os.close(fd)
    return changed


def _usermod(account_name: str, *args: str) -> None:
    done = subprocess.run(["usermod", *args, account_name], capture_output=True, text=True)
    if done.returncode != 0:
        raise AccountError(f"could not update the system account {account_name}: {done.stderr.strip()}")

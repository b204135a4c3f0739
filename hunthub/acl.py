"""Let other accounts write into a directory through POSIX ACLs (Debian `acl`): how Spark's executors, which run as
their own account, write into analysts' scratch spaces and ingest's tables.

Default entries are set on the directory only, not recursively: what is created inside inherits them, so nothing
has to walk a big tree on every spawn or ingest run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class ACLError(RuntimeError):
    """The ACL could not be set; the message says why."""


def grant_rwx(path: Path, users: list[str], rest: str = "---") -> None:
    """rwx for `users` on `path` and, by default, on everything later created in it; `rest` ("---" or "r-x") is
    what the owning group and others get on new entries."""
    entries = [f"u:{user}:rwx" for user in users] + ["m::rwx"]
    spec = ",".join(entries + [f"d:{e}" for e in entries] + ["d:u::rwx", f"d:g::{rest}", f"d:o::{rest}"])
    try:
        done = subprocess.run(["setfacl", "-m", spec, str(path)], capture_output=True, text=True)
    except FileNotFoundError:
        raise ACLError("setfacl is missing (Debian: apt-get install acl); bin/hunthub installs it") from None
    if done.returncode != 0:
        raise ACLError(f"could not let {', '.join(users)} write {path}: {done.stderr.strip()}")

"""Advisory file locks for work that must not run twice at once: image builds from one checkout, ingest writes into
one table. A holder that dies releases its lock with its file descriptor, so no stale lock is ever left behind."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path, busy: str, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created when missing); say `busy` once if another holder makes us wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(busy)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

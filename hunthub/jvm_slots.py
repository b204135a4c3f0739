"""A host-wide limit on Spark driver JVMs starting at the same time.

A driver start (JVM, Spark's classes, SparkContext, registering with the master) is seconds of CPU. When 25
analysts log in within a minute, 25 of them at once take a two-core machine to a load of 90 and every one of them
takes minutes; started a few at a time, each takes seconds and the last is done sooner.

The hub prepares a directory of N empty slot files (N = `HuntHub.jvm_start_slots`), owned by the hub's account
and readable by everyone: `/run/hunthub/jvm-start-slots` as root, else `<state>/jvm-start-slots` (then every
analyst is the hub's own account anyway). Kernels learn it from the kernel contract (hunthub.kernel_env). A driver
start holds one slot with `flock` on a file descriptor opened read-only, so analysts' accounts need no write
access, and lets it go once its SparkContext is up or has failed. The kernel releases the lock with the
descriptor, so a kernel that crashes mid-start (or is killed) frees its slot at once; nothing is ever left to
clean up.

Nothing here can be enforced: any analyst may start a JVM without asking, or hold slots with their own `flock`.
This is cooperation between hunthub's own kernels and warm drivers; a wait is therefore bounded (`max_wait`), after
which a driver starts anyway rather than wait for a slot someone never gives back.

Docker mode (analysts' servers, and so their drivers, in containers) is out of scope: the containers do not see
the host's slot directory, and their CPU limits are Docker's job. Without a directory there is no limit.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HOST_DIR = Path("/run/hunthub/jvm-start-slots")
PREFIX = "slot-"
POLL = 0.25


def prepare(directory: Path, slots: int) -> Path:
    """Make `directory` hold exactly `slots` slot files, readable by every account and writable by ours only."""
    if slots < 1:
        raise ValueError(f"jvm_start_slots must be at least 1, not {slots}")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    wanted = {f"{PREFIX}{i:03d}" for i in range(slots)}
    for old in directory.glob(f"{PREFIX}*"):
        if old.name not in wanted:
            old.unlink(missing_ok=True)  # a driver holding it keeps its lock on the unlinked file; harmless
    for name in wanted:
        path = directory / name
        path.touch(exist_ok=True)
        path.chmod(0o644)
    return directory


def slot_files(directory: Path | str | None) -> list[Path]:
    """The slots of `directory`; none (no limit) when it is not set or not there."""
    if not directory:
        return []
    try:
        return sorted(p for p in Path(directory).iterdir() if p.name.startswith(PREFIX))
    except OSError:
        return []


def waiting_message(slots: int, waited: float) -> str:
    return (
        f"waiting for one of {slots} driver start slots on this host ({waited:.0f} s so far): other Spark drivers "
        "are starting, and starting them all at once would slow every one of them down"
    )


def _try_lock(path: Path) -> int | None:
    """A read-only descriptor holding `path`'s exclusive flock, or None when another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # removed by a smaller `prepare` meanwhile, or not ours to read
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


@contextlib.contextmanager
def start_slot(
    directory: Path | str | None,
    on_wait: Callable[[int, float], None] | None = None,
    max_wait: float = 300.0,
    report_every: float = 5.0,
) -> Iterator[Path | None]:
    """Hold one start slot for the duration of the block: yields the slot held, or None when there is no limit
    (no slot directory) or `max_wait` seconds passed without a free slot. While waiting, `on_wait(slots, waited)`
    is called at once and then every `report_every` seconds."""
    slots = slot_files(directory)
    if not slots:
        yield None
        return
    start = time.monotonic()
    next_report = start
    fd = held = None
    while True:
        # from a random slot on: no slot is everyone's first choice
        offset = random.randrange(len(slots))  # noqa: S311 - spreading load, not a secret
        for path in slots[offset:] + slots[:offset]:
            fd = _try_lock(path)
            if fd is not None:
                held = path
                break
        if fd is not None:
            break
        waited = time.monotonic() - start
        if waited >= max_wait:
            break
        if on_wait is not None and time.monotonic() >= next_report:
            on_wait(len(slots), waited)
            next_report += report_every
        time.sleep(POLL)
        slots = slot_files(directory) or slots
    try:
        yield held
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

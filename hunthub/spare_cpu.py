"""Spark work started on a bet waits for a spare core, unless someone waits for it.

A kernel starts its driver JVM the moment it starts (the analyst is still reading the notebook), and a server
starts a warm driver for an analyst who used Spark before: both bet that Spark is wanted soon. A driver start
costs some 5 s of CPU. When 50 analysts log in within a minute on 2 cores, those bets compete with the notebook
servers the analysts are waiting for: measured, 85 of the burst's 310 CPU-seconds went to driver JVMs of kernels
that only ran `1+1`. So a bet first waits until the host has at least one idle core (measured over half a second from
/proc/stat), or until someone waits for it (a cell needs Spark, a kernel wants the warm driver), whichever comes
first. On a quiet machine that costs half a second; on a busy one the bet yields, and an analyst who does need
Spark meanwhile starts it at once, as if there had been no bet.

Why not a lower nice value instead: an unprivileged process may not raise its priority again (RLIMIT_NICE, which
root can only grant with CAP_SYS_RESOURCE, absent on our own machines and in containers), so a niced driver
would stay slow exactly when an analyst comes to wait for it.

/proc/stat counts the whole host's CPUs, also from a container: that is the contention that matters.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

POLL = 0.5
NEEDED = 1.0  # idle cores over the last POLL seconds (half the host, on a host of one core)


def _times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return idle, total


def wait(wanted: Callable[[], bool], needed: float = NEEDED, poll: float = POLL) -> str:
    """Block until `needed` cores were idle over the last `poll` seconds ("spare") or `wanted()` is true
    ("wanted"); checks `wanted` about ten times per poll so a waiting analyst is never held up by it."""
    if wanted():
        return "wanted"
    ncpu = os.cpu_count() or 1
    needed = min(needed, ncpu / 2)  # a one-core host is never idle as a whole while its own kernel polls
    idle, total = _times()
    while True:
        for _ in range(10):
            time.sleep(poll / 10)
            if wanted():
                return "wanted"
        idle2, total2 = _times()
        if total2 > total and (idle2 - idle) / (total2 - total) * ncpu >= needed:
            return "spare"
        idle, total = idle2, total2

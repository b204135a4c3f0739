"""An idle session gives its executors back at once when another application waits for cores.

Dynamic allocation returns an idle executor after `executor_idle_timeout` (30 s), or `shuffle_idle_timeout` (60 s)
while it keeps shuffle files. On a full cluster that is up to a minute in which an analyst who ran one query holds
cores the next analyst waits for: measured with 20 analysts arriving within a minute on 4 cores, half of them
waited more than 2 minutes for their first answer. So a `CoreYielder` per session watches: when this application
has executors, has run no job for `spark.hunthub.executorYieldTimeout` (`HuntHub.executor_yield_timeout`, 10 s),
holds no cached data, and the master lists another application waiting for its first executor, it gives its
executors back. The next query here asks for new ones (an executor start, a few seconds); shuffle files on the
executors given back are gone, so a query reusing them recomputes them. Sessions with cached data
(`cache()`, `CACHE TABLE`) never yield: they keep `cached_executor_idle_timeout`.

How: dynamic allocation refuses `SparkContext.killExecutors`, so this makes the call dynamic allocation itself makes
on idle timeout: the scheduler backend's `killExecutors`, never forcing one that runs a task. With no task
pending, dynamic allocation's target is already 0, so nothing asks for a replacement until the next job.

What it cannot do: only a standalone master whose web UI is known (the embedded cluster) says who waits; on YARN,
the scheduler's own queues and preemption decide. An application that already has some executors and wants more
is not "waiting" in the master's eyes, so it gets cores only as they come back by timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hunthub import spark_share

TIMEOUT_CONF = "spark.hunthub.executorYieldTimeout"
POLL = 2.0


def timeout_seconds(jsc) -> float | None:
    """The session's yield timeout from its Spark conf (set by the hub); None: it never yields."""
    value = jsc.conf().get(TIMEOUT_CONF, "")
    if not value:
        return None
    number = value[:-1] if value.endswith("s") else value
    try:
        seconds = float(number)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def holds_cached_data(jsc) -> bool:
    return any(info.numCachedPartitions() > 0 for info in jsc.getRDDStorageInfo())


def someone_waits(url: str, app_id: str) -> bool:
    try:
        share = spark_share.fetch(url)
    except spark_share.MasterUnavailable:
        return False
    return any(a.waiting and a.id != app_id for a in share.apps)


def give_back(jsc) -> int:
    """Give every executor of this application that runs no task back to the cluster; how many were asked."""
    executors = jsc.getExecutorIds()
    if executors.size() == 0:
        return 0
    # (ids, adjustTargetNumExecutors, countFailures, force): lower the target as dynamic allocation does, do not
    # count it as a failure, never kill an executor that is running a task
    return jsc.schedulerBackend().killExecutors(executors, True, False, False).size()


class CoreYielder(threading.Thread):
    """Watches one session; `context()` gives its JVM SparkContext, or None while there is none (yet)."""

    def __init__(self, context: Callable[[], object | None], url: str, poll: float = POLL, log=None):
        super().__init__(name="hunthub-core-yield", daemon=True)
        self._context = context
        self._url = url
        self._poll = poll
        self._log = log
        self.given_back = 0  # executors given back so far

    def run(self) -> None:
        from py4j.protocol import Py4JJavaError, Py4JNetworkError

        while (jsc := self._context()) is None:
            time.sleep(self._poll)
        try:
            timeout = timeout_seconds(jsc)
            if timeout is None or jsc.isLocal():
                return
            idle_since = None
            while not jsc.isStopped():
                time.sleep(self._poll)
                try:
                    idle_since = self._look(jsc, timeout, idle_since)
                except Py4JJavaError:  # the session is being stopped: the next look says so
                    idle_since = None
        except Py4JNetworkError:
            return  # the driver is gone

    def _look(self, jsc, timeout: float, idle_since: float | None) -> float | None:
        """One look at the session; returns since when it has been idle holding executors (None: it is not)."""
        if jsc.getExecutorIds().size() == 0 or len(jsc.statusTracker().getActiveJobIds()) > 0:
            return None  # most looks end here: an idle session holds no executor
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since < timeout or holds_cached_data(jsc):
            return idle_since
        if not someone_waits(self._url, jsc.applicationId()):
            return idle_since
        n = give_back(jsc)
        self.given_back += n
        if n and self._log:
            self._log(f"gave {spark_share.plural(n, 'idle executor')} back: another application waits")
        return None


def start(context: Callable[[], object | None], url: str, log=None) -> CoreYielder | None:
    """A running yielder for a session, or None where who waits is not known (no master web UI)."""
    if not url:
        return None
    yielder = CoreYielder(context, url, log=log)
    yielder.start()
    return yielder

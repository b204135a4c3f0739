"""Jupyter server extension: keep one warmed-up Spark driver ready for the analyst's next kernel, where it pays off.

Loaded into analysts' servers started by hunthub (it does nothing elsewhere). A warm driver is a JVM of a few
hundred MB per analyst, so the server keeps one only:

- from warm_driver_delay seconds (the hub's, see hunthub.kernel_env; plus a little random jitter) after the
  server starts, never in the second of a login: a burst of logins must not be a burst of JVM starts;
- for an analyst whose kernels have used Spark before (a marker file a kernel writes, see
  warm_driver.remember_spark_use): someone who never touches Spark never pays for a driver;
- while the analyst has no live Spark session of their own: a kernel holding a driver (its own, or a warm one it
  claimed) is what the warm driver would replace. When the last one is gone the next warm driver starts at once,
  so a kernel restart finds one already starting. An unclaimed one is stopped when a session of their own appears.
  Kernels record the drivers they start in ~/.hunthub/drivers (warm_driver.register_driver): cheaper to look at
  every few seconds, in every analyst's server, than the whole process table.

A driver that fails to start (cluster down) is retried with growing pauses; kernels then start their own driver and
say what is wrong. An unclaimed driver holds no executor cores (dynamic allocation), only its own memory, and exits
after the hub's warm_driver_ttl seconds (default 3600) without a kernel.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tornado.ioloop import PeriodicCallback

from hunthub.kernel_env import KernelEnv
from hunthub.kernels import warm_driver

CHECK_EVERY_MS = 2000
MAX_BACKOFF = 600


class WarmDriverPool:
    def __init__(
        self,
        log,
        directory: Path | None = None,
        ttl: float | None = None,
        delay: float | None = None,
        marker: Path | None = None,
        jitter: float | None = None,
    ):
        self.log = log
        self.directory = directory or warm_driver.pool_dir()
        told = KernelEnv.from_environ(os.environ)
        self.ttl = ttl if ttl is not None else told.warm_driver_ttl
        self.delay = delay if delay is not None else told.warm_driver_delay
        # servers starting together must not all start their drivers in the same second after the delay either
        self.jitter = jitter if jitter is not None else max(1.0, self.delay / 4)
        self.marker = marker or warm_driver.spark_use_marker()
        self.hosts: list[subprocess.Popen] = []
        self.failures = 0
        self.paused_until = 0.0
        self.not_before = float("inf")
        self._callback = PeriodicCallback(self.tick, CHECK_EVERY_MS)

    def arm(self) -> None:
        """Forget what an earlier server left behind; the first warm driver may start after the delay."""
        for stale in [*self.directory.glob("*.json"), *self.directory.glob("*.wanted")]:
            stale.unlink(missing_ok=True)
        self.not_before = time.monotonic() + self.delay + random.uniform(0, self.jitter)  # noqa: S311 - not a secret

    def start(self) -> None:
        self.arm()
        self._callback.start()

    def _claimed(self, proc: subprocess.Popen) -> bool:
        return bool(list(self.directory.glob(f"{proc.pid}.claimed-*.json")))

    def _unclaimed(self) -> list[subprocess.Popen]:
        """Hosts offering a driver or starting one."""
        return [p for p in self.hosts if p.poll() is None and not self._claimed(p)]

    def live_sessions(self) -> int:
        """The analyst's Spark sessions: warm drivers a kernel claimed, and drivers their kernels started themselves
        (recorded by session.start, see warm_driver.register_driver), not counting the ones our hosts started."""
        live = [p for p in self.hosts if p.poll() is None]
        claimed = sum(1 for p in live if self._claimed(p))
        return claimed + len(warm_driver.live_drivers(exclude_starters={p.pid for p in live}))

    def tick(self) -> None:
        for proc in [p for p in self.hosts if p.poll() is not None]:
            self.hosts.remove(proc)
            if proc.returncode != 0:
                self.failures += 1
                pause = min(MAX_BACKOFF, 15 * 2**self.failures)
                self.paused_until = time.monotonic() + pause
                self.log.warning(
                    "hunthub: warm Spark driver failed (exit %s); retrying in %d s", proc.returncode, pause
                )
            else:
                self.failures = 0
        if time.monotonic() < self.not_before or not self.marker.exists():
            return
        unclaimed = self._unclaimed()
        if self.live_sessions():
            for proc in unclaimed:  # the analyst has a session of their own: a spare would only hold memory
                self.log.info("hunthub: stopping the unclaimed warm Spark driver (pid %d): a session is live", proc.pid)
                proc.terminate()
            return
        if not unclaimed and time.monotonic() >= self.paused_until:
            self._spawn()

    def _spawn(self) -> None:
        log_dir = Path.home() / ".hunthub" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "warm-driver.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hunthub.kernels.warm_driver", "--dir", str(self.directory),
                 "--ttl", str(self.ttl)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        self.hosts.append(proc)
        self.log.info("hunthub: starting a warm Spark driver (pid %d)", proc.pid)

    def stop(self) -> None:
        self._callback.stop()
        for proc in self.hosts:
            if proc.poll() is None and not self._claimed(proc):
                proc.terminate()


def _jupyter_server_extension_points():
    return [{"module": "hunthub.kernels.warm_pool"}]


_pool: WarmDriverPool | None = None


def _load_jupyter_server_extension(serverapp):
    global _pool
    if not warm_driver.enabled():
        serverapp.log.info("hunthub: warm Spark driver disabled")
        return
    _pool = WarmDriverPool(serverapp.log)
    _pool.start()


def _unload_jupyter_server_extension(serverapp):
    if _pool is not None:
        _pool.stop()

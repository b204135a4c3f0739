"""Jupyter server extension: keep one warmed-up Spark driver ready for the analyst's next kernel.

Loaded into analysts' servers started by hunthub (it does nothing elsewhere). When a kernel claims the ready
driver, the next one starts, so a kernel restart is warm too. A driver that fails to start (cluster down) is
retried with growing pauses; kernels then start their own driver and say what is wrong.

Cost: while ready, the driver is a registered Spark application holding its executor cores; it gives them
back after HUNTHUB_WARM_DRIVER_TTL seconds (default 3600) without a kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tornado.ioloop import PeriodicCallback

from hunthub.kernels import warm_driver

CHECK_EVERY_MS = 3000
MAX_BACKOFF = 600


class WarmDriverPool:
    def __init__(self, log, directory: Path | None = None, ttl: float | None = None):
        self.log = log
        self.directory = directory or warm_driver.pool_dir()
        self.ttl = ttl if ttl is not None else float(os.environ.get("HUNTHUB_WARM_DRIVER_TTL", "3600"))
        self.hosts: list[subprocess.Popen] = []
        self.failures = 0
        self.paused_until = 0.0
        self._callback = PeriodicCallback(self.tick, CHECK_EVERY_MS)

    def start(self) -> None:
        for stale in [*self.directory.glob("*.json"), *self.directory.glob("*.wanted")]:
            stale.unlink(missing_ok=True)
        self.tick()
        self._callback.start()

    def _offered_or_starting(self) -> int:
        count = 0
        for proc in self.hosts:
            if proc.poll() is None and not list(self.directory.glob(f"{proc.pid}.claimed-*.json")):
                count += 1
        return count

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
        if self._offered_or_starting() == 0 and time.monotonic() >= self.paused_until:
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
            claimed = list(self.directory.glob(f"{proc.pid}.claimed-*.json"))
            if proc.poll() is None and not claimed:
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

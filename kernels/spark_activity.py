"""Jupyter server extension: a server whose kernels run a cell or a Spark job counts as active, so neither the hub's
idle culler nor the server's own kernel culler stops it in the middle of the work.

Why it is needed: the hub learns a server's activity from jupyterhub-singleuser's reports of jupyter_server's
`last_activity()`, which moves on HTTP requests and kernel messages only. A cell running a long Spark job sends no
message for as long as the job runs, and a job can also run while its kernel is idle (a streaming query, a
thread): both would look idle for the whole job.

How:
- kernel side (`announce`): once its session is up, each hunthub kernel writes `hunthub-spark-<kernel id>.json`
  (0600) beside its connection file in the Jupyter runtime dir, saying where its driver's UI listens, with the key
  its UI asks for (hunthub.kernels.spark_ui), and which application it runs, and removes it when it exits;
- server side (this extension): every few seconds it looks at each kernel's execution state and asks each
  driver's REST API for running jobs. If a kernel is busy or has a running job, it touches that kernel's
  `last_activity` (what the kernel culler reads) and the server setting `hunthub_spark_last_activity`, which
  jupyter_server counts in `last_activity()` (it takes every web app setting whose name ends with
  `_last_activity`).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
from pathlib import Path

from tornado.ioloop import PeriodicCallback

from hunthub import atomic_file

MARKER_PREFIX = "hunthub-spark-"
SETTING = "hunthub_spark_last_activity"
REST_TIMEOUT = 5.0


def marker_path(connection_file: str | os.PathLike) -> Path | None:
    """Where the kernel with this connection file (`kernel-<id>.json`) says where its driver is."""
    path = Path(connection_file)
    if not (path.name.startswith("kernel-") and path.suffix == ".json"):
        return None
    kernel_id = path.name.removeprefix("kernel-").removesuffix(".json")
    return path.parent / f"{MARKER_PREFIX}{kernel_id}.json"


# --- kernel side -----------------------------------------------------------------------------------------


def _ui_host(spark) -> str:
    """The driver's UI listens on SPARK_LOCAL_IP when set (in the driver JVM's environment, which for an adopted
    warm driver is not this process's), otherwise on every interface, loopback included."""
    try:
        local_ip = spark.sparkContext._jvm.java.lang.System.getenv("SPARK_LOCAL_IP")
    except Exception:  # noqa: BLE001 - a driver we cannot ask has the default
        local_ip = None
    return local_ip if local_ip and local_ip != "0.0.0.0" else "127.0.0.1"  # noqa: S104 - a value, not a bind


def announce(spark, ui_port: int, ui_key: str = "", connection_file: str | None = None) -> Path | None:
    """Tell this kernel's server where its driver's UI is and its key, so the server can see the driver's running
    jobs and serve its UI to the analyst. Does nothing outside a Jupyter kernel. Never raises: the kernel works
    without it, only less well guarded."""
    try:
        if connection_file is None:
            from ipykernel.kernelapp import IPKernelApp

            if not IPKernelApp.initialized():
                return None
            connection_file = IPKernelApp.instance().abs_connection_file
        target = marker_path(connection_file)
        if target is None or not ui_port:
            return None
        doc = {
            "ui_url": f"http://{_ui_host(spark)}:{ui_port}",
            "ui_port": ui_port,
            "ui_key": ui_key,
            "app_id": spark.sparkContext.applicationId,
        }
        atomic_file.write_json(target, doc)
        atexit.register(target.unlink, missing_ok=True)
        return target
    except Exception:  # noqa: BLE001
        return None


# --- server side -----------------------------------------------------------------------------------------


def check_every(env=os.environ) -> float:
    """Seconds between two looks: well within the server's activity reports to the hub, at most 30."""
    try:
        interval = float(env.get("JUPYTERHUB_ACTIVITY_INTERVAL") or 300)
    except ValueError:
        interval = 300.0
    return max(2.0, min(30.0, interval / 2))


async def running_jobs(ui_url: str, app_id: str, ui_key: str = "", timeout: float = REST_TIMEOUT) -> int:
    """How many jobs the driver is running now (its REST API); 0 when it does not answer."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    from hunthub.kernels.spark_ui import bearer

    url = f"{ui_url.rstrip('/')}/api/v1/applications/{app_id}/jobs?status=running"
    headers = {"Authorization": bearer(ui_key)} if ui_key else {}
    try:
        response = await AsyncHTTPClient().fetch(url, headers=headers, request_timeout=timeout, follow_redirects=False)
        return len(json.loads(response.body))
    except (HTTPClientError, OSError, ValueError, TypeError):  # OSError covers timeouts
        return 0


def read_marker(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("ui_url"), str) and isinstance(doc.get("app_id"), str):
        return doc
    return None


class SparkActivity:
    """Marks the server and its kernels active while any of them is busy or its driver runs a job."""

    def __init__(self, serverapp, every: float | None = None):
        self.log = serverapp.log
        self.kernel_manager = serverapp.kernel_manager
        self.settings = serverapp.web_app.settings
        self.every = every or check_every()
        self.known: dict[str, Path] = {}  # kernel id -> its marker, to clean up after kernels that died hard
        # tornado waits for one round to end before it schedules the next: a slow driver never piles up requests
        self._callback = PeriodicCallback(self._round, self.every * 1000)

    def start(self) -> None:
        self._callback.start()

    def stop(self) -> None:
        self._callback.stop()

    async def _round(self) -> None:
        try:
            await self.tick()
        except Exception:  # noqa: BLE001 - one bad round must not end the guard
            self.log.exception("hunthub: checking kernels for Spark activity failed")

    async def _kernel_active(self, kernel_id: str) -> bool:
        try:
            kernel = self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return False
        marker = marker_path(kernel.connection_file) if kernel.connection_file else None
        if marker is not None:
            self.known[kernel_id] = marker
        if getattr(kernel, "execution_state", None) == "busy":
            return True
        doc = read_marker(marker) if marker is not None else None
        return bool(doc) and await running_jobs(doc["ui_url"], doc["app_id"], doc.get("ui_key") or "") > 0

    async def tick(self) -> list[str]:
        """One look at every kernel; returns the ids of those found active."""
        from jupyter_server._tz import utcnow

        ids = list(self.kernel_manager.list_kernel_ids())
        found = await asyncio.gather(*(self._kernel_active(k) for k in ids))
        active = [k for k, yes in zip(ids, found, strict=True) if yes]
        now = utcnow()
        for kernel_id in active:
            try:
                self.kernel_manager.get_kernel(kernel_id).last_activity = now
            except KeyError:
                continue
        if active:
            self.settings[SETTING] = now
            self.log.debug("hunthub: kernels busy or running Spark jobs: %s", ", ".join(active))
        for gone in set(self.known) - set(ids):
            # a kernel that exited cleanly removed its marker; one killed hard could not
            self.known.pop(gone).unlink(missing_ok=True)
        return active


def _jupyter_server_extension_points():
    return [{"module": "hunthub.kernels.spark_activity"}]


_guard: SparkActivity | None = None


def _load_jupyter_server_extension(serverapp):
    global _guard
    _guard = SparkActivity(serverapp)
    _guard.start()
    serverapp.log.info("hunthub: kernels running cells or Spark jobs count as activity (checked every %g s)",
                       _guard.every)  # fmt: skip


def _unload_jupyter_server_extension(serverapp):
    if _guard is not None:
        _guard.stop()

"""A real PySpark kernel on the real standalone cluster, under jupyter_server's own kernel manager, watched by
hunthub.kernels.spark_activity: it counts as active while it runs a cell or a Spark job (also one on a thread of
an idle kernel), and not otherwise; its note about its driver is private and gone with the kernel."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace

import pytest

from hunthub.kernels import spark_activity

pytestmark = pytest.mark.integration

JOB = "sc.parallelize(range(1), 1).map(lambda x: __import__('time').sleep(25) or x + 7).sum()"
THREAD_JOB = f"import threading\nresult = []\njob = threading.Thread(target=lambda: result.append({JOB}))\njob.start()"


async def run(kc, code: str, timeout: float = 300) -> dict:
    """One cell through the kernel manager's own (async) client; returns the reply's status and the text shown."""
    shown = []
    reply = await kc.execute_interactive(
        code, timeout=timeout, output_hook=lambda m: shown.append(m["content"].get("text", "")), store_history=False
    )
    return {"status": reply["content"]["status"], "text": "".join(shown), "reply": reply["content"]}


async def active_within(guard, kernel_id: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kernel_id in await guard.tick():
            return True
        await asyncio.sleep(1)
    return False


def test_a_kernel_with_a_running_job_or_cell_is_active_and_otherwise_not(spark_cluster, tmp_path):
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    async def scenario():
        km = AsyncMappingKernelManager(connection_dir=str(tmp_path))
        env = spark_cluster.kernel_env(user="activity1", HUNTHUB_KERNEL_WARM_DRIVER="0")
        kernel_id = await km.start_kernel(kernel_name="hunthub-pyspark", env=env)
        settings = {}
        server = SimpleNamespace(
            log=logging.getLogger("test"), kernel_manager=km, web_app=SimpleNamespace(settings=settings)
        )
        guard = spark_activity.SparkActivity(server, every=1)
        kernel = km.get_kernel(kernel_id)
        kc = kernel.client()
        kc.start_channels()
        marker = spark_activity.marker_path(kernel.connection_file)
        try:
            await kc.wait_for_ready(timeout=120)
            first = await run(kc, "spark.range(3).count()")
            assert first["status"] == "ok", first

            # the kernel said where its driver is, readable by its own account only
            assert marker.parent == tmp_path and marker.stat().st_mode & 0o777 == 0o600
            doc = json.loads(marker.read_text())
            app_id = await run(kc, "print(sc.applicationId)")
            assert doc["app_id"] == app_id["text"].strip()
            assert doc["ui_url"].startswith("http://127.0.0.1:")

            # idle, no job: not active
            await asyncio.sleep(2)
            assert await guard.tick() == []
            assert spark_activity.SETTING not in settings

            # a job on a thread of an idle kernel: active, and the kernel's own last_activity moves
            assert (await run(kc, THREAD_JOB))["status"] == "ok"
            before = kernel.last_activity
            assert await active_within(guard, kernel_id, 60), "a running Spark job did not count"
            # the kernel manager learns the kernel went idle from its own iopub stream, which on a loaded host can
            # come after the cell's reply: it must be idle (while the job runs on), not at the same instant
            deadline = time.monotonic() + 15
            while kernel.execution_state != "idle" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert kernel.execution_state == "idle"
            assert kernel.last_activity > before and settings[spark_activity.SETTING] >= kernel.last_activity
            joined = await run(kc, "job.join()\nprint(result)")
            assert joined["text"].strip() == "[7]", joined
            await asyncio.sleep(2)
            assert await guard.tick() == []  # the job is over

            # a cell running without any Spark job: busy, so active
            sleeping = asyncio.ensure_future(run(kc, "import time; time.sleep(15)"))
            assert await active_within(guard, kernel_id, 12), "a busy kernel did not count"
            await sleeping
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(kernel_id)
        # the kernel removed its note as it exited; one killed hard is cleaned up by the next look
        await guard.tick()
        assert not marker.exists()

    asyncio.run(scenario())

"""Who holds what, on a real `hunthub up --demo` with two analysts: one running a Spark job in a PySpark kernel, one
idle. `hunthub status --json` as the admin runs it, the admins' page in Chromium, and an analyst refused there."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.browser import browser, screenshot
from tests.harness import HUNTHUB, free_port, fresh_state_dir, running_stack, stack_env
from tests.hub_client import HubUser

pytestmark = pytest.mark.e2e

# holds its executor for minutes: the job is what the snapshot must show
JOB = "import time\nsc.parallelize(range(2), 2).map(lambda x: time.sleep(240) or x).count()"


@pytest.fixture(scope="module")
def hub():
    # on the cluster: the status shows who holds the cluster's cores
    env = stack_env(
        fresh_state_dir(), HUNTHUB_STATUS_PORT=str(free_port()), HUNTHUB_DEMO_DATA_EVENTS="5000",
        HUNTHUB_ANALYST_TASKS="cluster",
    )  # fmt: skip
    with running_stack(env, ["--demo"]) as stack:
        yield stack


def hunthub_status(stack, *args) -> subprocess.CompletedProcess:
    return subprocess.run([HUNTHUB, "status", *args], env=stack.env, capture_output=True, text=True, timeout=120)


def start_job(user: HubUser) -> str:
    """A PySpark kernel that stays, running JOB; returns its id once the job runs (the cell does not return)."""
    r = user.server("POST", "/kernels", json={"name": "hunthub-pyspark"})
    assert r.status_code == 201, r.text
    kernel_id = r.json()["id"]
    threading.Thread(target=lambda: _run(user, kernel_id), daemon=True).start()
    return kernel_id


def _run(user, kernel_id):
    try:
        asyncio.run(user._execute(kernel_id, JOB, 600))
    except Exception:  # noqa: BLE001 - the kernel is shut down under it at the end of the test
        pass


def test_status_and_the_admin_page_show_who_holds_what(hub):
    busy, idle = HubUser(hub.url, "hunter"), HubUser(hub.url, "watcher")
    busy.start_server()
    idle.start_server()
    kernel_id = start_job(busy)
    try:
        # `hunthub status --json`, as root with the stack's settings, until the job holds executors
        deadline, snap, row = time.monotonic() + 300, None, {}
        while time.monotonic() < deadline:
            result = hunthub_status(hub, "--json")
            assert result.returncode == 0, result.stderr
            snap = json.loads(result.stdout)
            row = next((a for a in snap["analysts"] if a["name"] == "hunter"), {})
            # the master grants cores a moment before the worker lists the executor it launches for them
            running = row.get("executor_memory_mb", 0) > 0 and row.get("pss_by_kind", {}).get("executor", 0) > 0
            if row.get("cores", 0) > 0 and row["kernels"]["busy"] == 1 and running:
                break
            time.sleep(3)
        rows = {a["name"]: a for a in snap["analysts"]}
        assert {"hunter", "watcher"} <= set(rows), snap
        hunter, watcher = rows["hunter"], rows["watcher"]
        assert hunter["cores"] > 0, snap
        assert hunter["servers"][0]["state"] == "running" and watcher["servers"][0]["state"] == "running"
        [kernel] = hunter["servers"][0]["kernels"]
        assert kernel["id"] == kernel_id and kernel["name"] == "hunthub-pyspark"
        assert kernel["execution_state"] == "busy"
        # at the server's own address: through the proxy, looking would count as the analyst's activity
        assert hunter["servers"][0]["kernels_asked"] == "directly"
        print(f"PSS: hunter (kernel, driver, executor) {hunter['pss_by_kind']}; watcher (server only) "
              f"{watcher['pss_by_kind']}")  # fmt: skip
        assert [a["name"] for a in hunter["apps"]] == ["hunter"] and hunter["apps"][0]["state"] == "RUNNING"
        assert hunter["executor_memory_mb"] > 0
        assert watcher["kernels"]["total"] == 0 and watcher["apps"] == []
        assert watcher["pss_bytes"] > 0 and watcher["pss_by_kind"]["server"] > 0
        assert hunter["pss_bytes"] > watcher["pss_bytes"]
        assert hunter["pss_by_kind"]["driver"] > 0 and hunter["pss_by_kind"]["executor"] > 0
        assert snap["cluster"]["cores_used"] >= hunter["cores"]
        # each analyst's caps, and what they use against them, where the hub caps them (hunthub.analyst_limits)
        from hunthub import analyst_limits

        if analyst_limits.unavailable() is None:
            for row in (hunter, watcher):
                assert row["limits"]["memory"] == 4 * 1024**3 and row["limits"]["cpu"] >= 1, row["limits"]
            assert hunter["limits"]["memory_used"] > watcher["limits"]["memory_used"] > 0

        # the table says the same in words
        text = hunthub_status(hub).stdout
        assert re.search(r"^hunter\s+running.*1 \(1 busy, 0 idle\)", text, re.M), text
        assert re.search(r"^watcher\s+running", text, re.M), text
        if analyst_limits.unavailable() is None:
            assert re.search(r"^hunter\s.*CPU, [\d.]+ [MG]iB of 4\.0 GiB$", text, re.M), text

        with browser() as b:
            admin_ctx, analyst_ctx = b.new_context(), b.new_context()
            admin, analyst = admin_ctx.new_page(), analyst_ctx.new_page()
            try:
                # the admin finds the page from the admin page and sees both analysts, live
                login(admin, hub.url, "admin")
                admin.goto(f"{hub.url}/hub/admin")
                admin.locator("#hunthub-status-link").click()
                admin.wait_for_url(f"{hub.url}/services/hunthub-status/", timeout=60_000)
                expect(admin.locator('tr[data-analyst="hunter"]')).to_be_visible(timeout=60_000)
                expect(admin.locator('tr[data-analyst="watcher"]')).to_be_visible()
                expect(admin.locator('tr[data-analyst="hunter"] td.kernels')).to_contain_text("1 busy")
                if analyst_limits.unavailable() is None:
                    expect(admin.locator('tr[data-analyst="hunter"] td.caps')).to_contain_text("of 4.0 GiB")
                taken = admin.locator("#taken").inner_text()
                expect(admin.locator("#taken")).not_to_have_text(taken, timeout=60_000)  # it refreshed itself

                # an analyst is refused, in the browser and with their token
                login(analyst, hub.url, "watcher")
                response = analyst.goto(f"{hub.url}/services/hunthub-status/")
                assert response.status == 403, (response.status, analyst.content()[:500])
                assert not analyst.locator("tr[data-analyst]").count()
                r = requests.get(
                    f"{hub.url}/services/hunthub-status/snapshot.json",
                    headers={"Authorization": f"token {idle.token}"},
                    timeout=60,
                )
                assert r.status_code == 403
            except Exception:
                screenshot(admin, "status-admin")
                screenshot(analyst, "status-analyst")
                raise
    except Exception:
        print(hub.dump_logs())
        raise
    finally:
        busy.server("DELETE", f"/kernels/{kernel_id}")


def login(page, base, user):
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", "any-password-demo")
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{user}/.*|.*/hub/.*"), timeout=180_000)

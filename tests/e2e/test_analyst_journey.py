"""The whole front door, in a real headless Chromium against a real `hunthub up`.

admin logs in -> analyst signs up, is refused until approved -> admin approves -> analyst's server spawns ->
the bundled notebook counts a Parquet table through the PySpark kernel -> the Spark UI loads through the hub ->
the analyst cannot reach another user's server -> the admin stops the analyst's server from the admin page ->
the analyst's saved work is still there after the next spawn.
"""

from __future__ import annotations

import re
import uuid

import pyarrow.dataset as ds
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import browser, run_all_cells, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "Tr0ub4dor-and-3"
NOTEBOOK = "00-start-here.ipynb"


def login(page, base, user, password):
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")


def signup(page, base, user, password):
    page.goto(f"{base}/hub/signup")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.fill("#password_confirmation_input", password)
    page.click("#signup_submit")


def expected_auth_events(stack) -> int:
    return ds.dataset(stack.state_dir / "warehouse" / "auth_events", format="parquet", partitioning="hive").count_rows()


def test_admin_approves_analyst_who_counts_events_in_notebook(stack):
    base = stack.url
    analyst = "ana" + uuid.uuid4().hex[:6]
    expected = expected_auth_events(stack)
    with browser() as b:
        admin_ctx, analyst_ctx = b.new_context(), b.new_context()
        admin, page = admin_ctx.new_page(), analyst_ctx.new_page()
        try:
            # the admin logs in with the bootstrap password
            login(admin, base, "admin", stack.admin_password)
            admin.wait_for_url(re.compile(r".*/user/admin/tree.*"), timeout=180_000)

            # a bad user name is refused with a reason
            signup(page, base, "bad name", PASSWORD)
            expect(page.locator(".alert")).to_contain_text("cannot contain spaces")

            # the analyst signs up and cannot log in before approval
            signup(page, base, analyst, PASSWORD)
            expect(page.locator(".alert")).to_contain_text("sent to the admin")
            login(page, base, analyst, PASSWORD)
            expect(page.locator("body")).to_contain_text("has not been authorized by an administrator")

            # the admin approves on the authorization page
            admin.goto(f"{base}/hub/authorize")
            approve = admin.locator(f"form[action$='/authorize/{analyst}'] button")
            expect(approve).to_have_text("Approve")
            # a plain link (what another site could plant) changes nothing
            assert admin.request.get(f"{base}/hub/authorize/{analyst}").status == 405
            # and so does a cross-site form post, which cannot carry the page's XSRF token
            assert admin.request.post(f"{base}/hub/authorize/{analyst}").status == 403
            approve.click()
            expect(admin.locator(f"form[action$='/authorize/{analyst}'] button")).to_have_text("Revoke")

            # the analyst logs in; their server spawns and shows the bundled notebook
            login(page, base, analyst, PASSWORD)
            page.wait_for_url(re.compile(rf".*/user/{analyst}/tree.*"), timeout=180_000)
            page.get_by_text(NOTEBOOK).first.wait_for(timeout=60_000)
            # the three hunthub kernels are on offer (what the New menu lists); Livy's are not, with no Livy URL
            specs = page.request.get(f"{base}/user/{analyst}/api/kernelspecs").json()["kernelspecs"]
            offered = {spec["spec"]["display_name"] for spec in specs.values()}
            assert {"PySpark (hunthub)", "Scala (Spark, hunthub)", "Spark SQL (hunthub)"} <= offered, offered
            assert not any("Livy" in name for name in offered), offered

            page.goto(f"{base}/user/{analyst}/notebooks/{NOTEBOOK}")
            run_all_cells(page, f"{base}/user/{analyst}/")
            count_output = page.get_by_text(re.compile(r"auth_events: \d+ events"))
            count_output.wait_for(timeout=240_000)
            assert count_output.inner_text().strip() == f"auth_events: {expected} events"
            # the analyst's Spark job (its tasks in their own driver, as their account) writes to their scratch space
            saved = page.get_by_text(re.compile(r"saved \d+ rows to file:"))
            saved.wait_for(timeout=240_000)
            scratch = stack.state_dir / "warehouse" / "users" / analyst / "failures_by_user"
            assert list(scratch.glob("part-*.parquet")), f"nothing written to {scratch}"
            rows = ds.dataset(scratch, format="parquet").count_rows()
            assert saved.inner_text().strip() == f"saved {rows} rows to {scratch.as_uri()}"

            # the Spark UI of the analyst's driver, through the hub
            link = page.locator("a.hunthub-spark-ui").first
            href = link.get_attribute("href")
            assert href.startswith(f"/user/{analyst}/sparkui/")
            with analyst_ctx.expect_page() as ui_info:
                link.click()
            ui = ui_info.value
            expect(ui.locator("body")).to_contain_text("Spark Jobs", timeout=30_000)
            assert ui.url.startswith(f"{base}/user/{analyst}/sparkui/")
            ui.close()

            # the analyst leaves a mark and saves
            marker = f"# saved by {analyst}"
            page.locator(".jp-Cell").last.click()
            page.keyboard.press("Escape")
            page.keyboard.press("b")
            page.keyboard.press("Enter")
            page.keyboard.type(marker)
            page.keyboard.press("Escape")
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)

            # another user's server is off limits (the admin's server runs: the admin was sent to spawn it)
            other = page.request.get(f"{base}/user/admin/api/contents")
            assert other.status == 403, other.status

            # the admin stops the analyst's server from the admin page
            admin.goto(f"{base}/hub/admin")
            row = admin.locator("tr", has_text=analyst).first
            row.get_by_role("button", name=re.compile("Stop Server", re.I)).click()
            row.get_by_role("button", name=re.compile("Start Server", re.I)).wait_for(timeout=60_000)

            # the next spawn brings back the analyst's saved notebook, not a fresh copy
            page.goto(f"{base}/hub/spawn")
            # the hub's own /hub/user/... hop also contains /user/<name>/: wait for the server's file list itself
            page.wait_for_url(re.compile(rf"{re.escape(base)}/user/{analyst}/tree.*"), timeout=180_000)
            expect(page.get_by_text(NOTEBOOK).first).to_be_visible(timeout=60_000)
            saved = page.request.get(f"{base}/user/{analyst}/api/contents/{NOTEBOOK}")
            assert saved.status == 200
            sources = ["".join(c["source"]) for c in saved.json()["content"]["cells"]]
            assert marker in sources
        except Exception:
            screenshot(admin, "journey-admin")
            screenshot(page, "journey-analyst")
            print(stack.dump_logs())
            raise

"""Headless Debian Chromium driven by Playwright (its own browser downloads cannot run here)."""

from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError(
            "Debian chromium is not installed: run bin/test, which installs it (apt-get install chromium)"
        )
    return path


@contextmanager
def browser(extra_args: list[str] | None = None):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        args = [*CHROMIUM_ARGS, *(extra_args or [])]
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception:  # noqa: BLE001 - best effort, for the failure report
        pass
    return path


def run_all_cells(page, server_url: str) -> None:
    """Run All on the open notebook, as an analyst would, once its kernel is connected and idle.

    A Run All issued while the notebook is still connecting to its kernel is either dropped or answered with
    JupyterLab's "Select Kernel" dialog (whose default is the notebook's kernel), so both are retried.
    `server_url` is the single-user server's base URL, ending in "/".
    """
    from playwright.sync_api import expect

    page.locator(".jp-Notebook").wait_for(timeout=60_000)
    for _ in range(120):
        reply = page.request.get(f"{server_url}api/kernels")
        # jupyter_server answers 500 for the instant between adding a new kernel to its table and stamping its
        # last_activity (the race of enterprise_gateway#1395); JupyterLab's own poll just asks again, and so do we
        kernels = reply.json() if reply.ok else []
        if any(k["connections"] > 0 and k["execution_state"] == "idle" for k in kernels):
            break
        page.wait_for_timeout(500)
    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    dialog_accept = page.locator(".jp-Dialog .jp-mod-accept")
    for _ in range(12):
        if dialog_accept.is_visible():
            dialog_accept.click()
        else:
            page.get_by_role("menuitem", name="Run").click()
            page.locator("li[data-command='runmenu:run-all']").click()
        try:
            expect(first_prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=10_000)
            return
        except AssertionError:
            if not dialog_accept.is_visible():
                page.keyboard.press("Escape")  # close a menu left open
    raise AssertionError("Run All never started the first cell")

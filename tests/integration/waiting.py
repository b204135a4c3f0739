"""What integration tests wait for and look up on the real cluster: an application on the master, a condition."""

from __future__ import annotations

import time


def app(spark_cluster, name: str) -> dict | None:
    """The master's entry (JSON API) for the active application named `name`, None when there is none."""
    return next((a for a in spark_cluster.master_state()["activeapps"] if a["name"] == name), None)


def wait_for(check, what: str, timeout: float = 240, every: float = 0.5):
    """The first result of `check()` that is neither None nor False; fails saying `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (result := check()) is not None and result is not False:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")

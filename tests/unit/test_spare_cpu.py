"""A driver started on a bet waits for a spare core, unless someone waits for it (hunthub.spare_cpu).

Real load: one busy process per CPU of this machine, measured through /proc/stat as the kernels do.
"""

import os
import subprocess
import sys
import threading
import time

import pytest

from hunthub import spare_cpu


@pytest.fixture
def busy_host():
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    time.sleep(0.5)
    yield spinners
    for p in spinners:
        p.kill()
        p.wait()


def in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("result", fn()), daemon=True)
    t.start()
    return t, out


def test_a_bet_someone_already_waits_for_starts_at_once():
    started = time.monotonic()
    assert spare_cpu.wait(lambda: True) == "wanted"
    assert time.monotonic() - started < 0.1


def test_on_a_busy_host_the_bet_waits_until_someone_wants_it(busy_host):
    wanted = threading.Event()
    t, out = in_thread(lambda: spare_cpu.wait(wanted.is_set, poll=0.5))
    t.join(3)
    assert t.is_alive(), "a bet started while every core was busy"
    wanted.set()
    asked = time.monotonic()
    t.join(5)
    assert out.get("result") == "wanted"
    assert time.monotonic() - asked < 0.5  # a waiting analyst is not held up by the poll


def test_the_bet_goes_ahead_once_the_host_is_idle_again(busy_host):
    t, out = in_thread(lambda: spare_cpu.wait(lambda: False, poll=0.5))
    t.join(2)
    assert t.is_alive()
    for p in busy_host:
        p.kill()
    t.join(30)
    assert out.get("result") == "spare"

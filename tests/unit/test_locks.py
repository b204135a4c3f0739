"""Two ingests into one table (or two image builds from one checkout) take turns, and the second says it waits."""

from __future__ import annotations

import threading

from hunthub import locks


def test_second_holder_waits_and_says_so(tmp_path):
    lock = tmp_path / "sub" / ".ingest-auth_events.lock"
    said, order = [], []
    first_in, release = threading.Event(), threading.Event()

    def first():
        with locks.exclusive(lock, "unused", said.append):
            order.append("first in")
            first_in.set()
            release.wait(10)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(10)
    threading.Timer(0.3, release.set).start()
    with locks.exclusive(lock, "waiting for another ingest into auth_events to finish ...", said.append):
        order.append("second in")
    t.join(10)
    assert order == ["first in", "first out", "second in"]
    assert said == ["waiting for another ingest into auth_events to finish ..."]


def test_a_free_lock_is_taken_silently_and_released(tmp_path):
    lock, said = tmp_path / "free.lock", []
    for _ in range(2):  # released on exit, so the second round does not wait either
        with locks.exclusive(lock, "busy", said.append):
            pass
    assert said == []

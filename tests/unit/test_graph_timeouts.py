"""hunthub.graph.timeouts: every HTTP request of pygraphistry's modules gets a timeout, and nobody else's does."""

from __future__ import annotations

import sys
import time

import pytest
import requests

from hunthub.graph import timeouts
from tests.graphistry_standin import NonAnsweringListener

MARGIN = 1.5  # seconds beyond the configured timeout that a bounded call may take on a loaded 2-core box


def test_timeouts_apply_to_pygraphistry_modules_only():
    real_get = requests.get
    timeouts.install_timeouts(1)
    for name in ("graphistry.arrow_uploader", "graphistry.ArrowFileUploader", "graphistry.pygraphistry"):
        assert isinstance(sys.modules[name].requests, timeouts._BoundedRequests), name
    # the requests module and everyone else's use of it are untouched
    assert sys.modules["requests"] is requests and requests.get is real_get
    bounded = sys.modules["graphistry.arrow_uploader"].requests
    assert bounded.codes.ok == 200 and bounded.exceptions is requests.exceptions  # the rest passes through
    assert timeouts.install_timeouts(1) == []  # idempotent

    with NonAnsweringListener() as silent:
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.get(f"http://{silent.server}/")  # no timeout given: the default applies
        assert time.monotonic() - started < 1 + MARGIN
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.post(f"http://{silent.server}/", json={}, timeout=0.3)  # one given: it wins
        assert time.monotonic() - started < 0.3 + MARGIN
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.Session().get(f"http://{silent.server}/")


def test_uploads_get_a_longer_read_timeout_by_size(monkeypatch):
    timeouts.install_timeouts(10)
    assert timeouts.default_timeout({"json": {"a": 1}}) == (10.0, 10.0)
    assert timeouts.default_timeout({"data": b"x" * (5 << 20)}) == (10.0, 15.0)  # a second more per MiB
    monkeypatch.setattr(timeouts, "UPLOAD_BYTES_PER_EXTRA_SECOND", 1)
    assert timeouts.default_timeout({"data": b"x" * 5000}) == (10.0, timeouts.UPLOAD_READ_TIMEOUT_CAP)


def test_the_first_failure_ends_the_operation():
    """Within one operation a request after a failed one is not sent: pygraphistry's retries cannot add waits."""
    timeouts.install_timeouts(1)
    bounded = sys.modules["graphistry.arrow_uploader"].requests
    with NonAnsweringListener() as silent, timeouts.operation() as op:
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.get(f"http://{silent.server}/login")
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout, match="not sent, the server already failed to answer"):
            bounded.get(f"http://{silent.server}/login-again")
        assert time.monotonic() - started < 0.5
        assert op.failure[1:3] == ("GET", "/login")
    with NonAnsweringListener() as silent:  # outside an operation every request gets its own chance
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.get(f"http://{silent.server}/")
        with pytest.raises(requests.exceptions.ReadTimeout):
            bounded.get(f"http://{silent.server}/")

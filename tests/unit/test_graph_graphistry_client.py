"""hunthub.graph.graphistry_client: real pygraphistry talking real HTTP to a stand-in Graphistry server on loopback.

The stand-in helpers here (CLIENT_URL, write_key, env_for, EVENTS, ENTITIES) are shared with test_graph_notebook.py."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from hunthub.graph import graphistry_client as client
from tests.graphistry_standin import GraphistryStandIn, NonAnsweringListener
from tests.harness import free_port

CLIENT_URL = "https://graphs.soc.example"
MARGIN = 1.5  # seconds beyond the configured timeout that a bounded call may take on a loaded 2-core box


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts as a fresh kernel would: nothing registered yet."""
    monkeypatch.setattr(client, "_state", client._State())


@pytest.fixture
def standin():
    with GraphistryStandIn() as s:
        yield s


def write_key(tmp_path, key_id, secret):
    path = tmp_path / "graphistry.json"
    path.write_text(json.dumps({"personal_key_id": key_id, "personal_key_secret": secret}))
    path.chmod(0o600)
    return str(path)


def env_for(server, credentials, **extra):
    env = {
        "HUNTHUB_KERNEL_GRAPHISTRY_SERVER": server,
        "HUNTHUB_KERNEL_GRAPHISTRY_PROTOCOL": "http",
        "HUNTHUB_KERNEL_GRAPHISTRY_CLIENT_URL": CLIENT_URL,
        "HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY": "organization",
        "HUNTHUB_KERNEL_GRAPHISTRY_TIMEOUT": "2",
        "HUNTHUB_KERNEL_GRAPHISTRY_CREDENTIALS": credentials,
    }
    env.update(extra)
    return env


@pytest.fixture
def env(standin, tmp_path):
    return env_for(standin.server, write_key(tmp_path, standin.key_id, standin.key_secret))


EVENTS = pd.DataFrame(
    {
        "user": ["alice", "bob", "alice", "carol", "bob"],
        "host": ["ws-1", "ws-1", "srv-db", "srv-db", "ws-2"],
        "src_ip": ["10.0.0.5", "10.0.0.6", "10.0.0.5", "10.0.0.9", "10.0.0.6"],
        "outcome": ["failure", "success", "failure", "failure", "success"],
    }
)
ENTITIES = ["user", "host", "src_ip"]


def hypergraph(events, entities):
    """What hunthub.graph.hypergraph_from_spark builds from a small frame, straight from pygraphistry."""
    import graphistry

    return graphistry.hypergraph(events, entities, direct=True, verbose=False)["graph"]


# --- settings ------------------------------------------------------------------------------------------------


def test_settings_absent_without_server():
    assert client.settings_from_env({}) is None
    assert (
        client.settings_from_env(
            {"HUNTHUB_KERNEL_GRAPHISTRY_PROTOCOL": "http", "HUNTHUB_KERNEL_GRAPHISTRY_SERVER": " "}
        )
        is None
    )


def test_settings_from_the_hub_environment():
    s = client.settings_from_env(
        {
            "HUNTHUB_KERNEL_GRAPHISTRY_SERVER": "g.soc.example:8443",
            "HUNTHUB_KERNEL_GRAPHISTRY_PROTOCOL": "https",
            "HUNTHUB_KERNEL_GRAPHISTRY_CLIENT_URL": "https://graphs.soc.example/",
            "HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY": "private",
            "HUNTHUB_KERNEL_GRAPHISTRY_TIMEOUT": "7",
            "HUNTHUB_KERNEL_GRAPHISTRY_CREDENTIALS": "/home/a/.hunthub/graphistry.json",
        }
    )
    assert s == client.GraphistrySettings(
        "g.soc.example:8443", "https", "https://graphs.soc.example", "private", 7.0, "/home/a/.hunthub/graphistry.json"
    )
    assert s.url == "https://g.soc.example:8443"
    # defaults: client URL = what the kernel uses; unknown privacy never widens sharing; bad timeout -> 10 s
    d = client.settings_from_env(
        {
            "HUNTHUB_KERNEL_GRAPHISTRY_SERVER": "g",
            "HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY": "everyone",
            "HUNTHUB_KERNEL_GRAPHISTRY_TIMEOUT": "x",
        }
    )
    assert (d.client_url, d.privacy, d.timeout, d.protocol) == ("https://g", "private", 10.0, "https")


# --- without a server, without a key ------------------------------------------------------------------------


def test_upload_without_a_server_is_refused_and_sends_nothing(standin):
    with pytest.raises(client.GraphistryError, match="no Graphistry server is configured"):
        client.upload(hypergraph(EVENTS, ENTITIES), env={})
    assert client.status() is None  # not even a registration was attempted
    assert standin.requests == []


def test_configured_but_no_key_sends_nothing(standin, tmp_path):
    env = env_for(standin.server, str(tmp_path / "missing.json"))
    status = client.register_from_env(env)
    assert not status.ok and status.reachable is None
    assert f"Graphistry at {standin.url}: no personal key file at {tmp_path / 'missing.json'}" in status.message
    assert standin.requests == []


# --- login ---------------------------------------------------------------------------------------------------


def test_register_logs_in_with_the_personal_key_and_sets_privacy(standin, env):
    status = client.register_from_env(env)

    assert status.ok, status.message
    assert status.message == f"Graphistry at {standin.url}: registered (uploads visible to: organization)"
    assert client.status() is status
    assert standin.routes() == [
        ("GET", "/"),  # our reachability probe, before any credential leaves the kernel
        ("GET", "/api/v2/auth/pkey/jwt/"),
        ("POST", "/api/v2/auth/token/refresh"),
    ]
    assert standin.requests[1].headers["Authorization"] == "PersonalKey <redacted>"
    import graphistry

    assert graphistry.PyGraphistry.session.privacy["mode"] == "organization"


def test_wrong_key_is_a_clear_message(standin, tmp_path):
    env = env_for(standin.server, write_key(tmp_path, standin.key_id, "wrong-secret"))

    status = client.register_from_env(env)

    assert not status.ok and status.reachable is True
    assert status.message == (
        f"Graphistry at {standin.url}: personal key rejected (HTTP 401); ask an admin to check this account's "
        "Graphistry key; graphs render offline"
    )
    assert ("GET", "/api/v2/auth/pkey/jwt/") in standin.routes()
    with pytest.raises(client.GraphistryError) as caught:  # refused, not unavailable: no retry after RETRY_AFTER
        client.upload(hypergraph(EVENTS, ENTITIES), env=env)
    assert not isinstance(caught.value, client.GraphistryUnavailable) and str(caught.value) == status.message
    assert standin.datasets == {}


# --- unreachable and non-answering servers -------------------------------------------------------------------


def test_server_that_accepts_but_never_answers_is_reported_within_the_timeout(tmp_path):
    with NonAnsweringListener() as silent:
        env = env_for(silent.server, write_key(tmp_path, "id", "secret"))
        started = time.monotonic()
        status = client.register_from_env(env)
        elapsed = time.monotonic() - started
        assert not status.ok and status.reachable is False
        server = env["HUNTHUB_KERNEL_GRAPHISTRY_SERVER"]
        assert status.message == (
            f"Graphistry at http://{server}: not reachable within 2 s (no answer); graphs render offline"
        )
        assert elapsed < 2 + MARGIN, elapsed

        started = time.monotonic()
        assert client.ensure_registered(env) is status  # the known status, until RETRY_AFTER: no new wait
        assert time.monotonic() - started < 1


def test_closed_port_is_reported_at_once(tmp_path):
    port = free_port()
    env = env_for(f"127.0.0.1:{port}", write_key(tmp_path, "id", "secret"))
    started = time.monotonic()
    status = client.register_from_env(env)
    assert time.monotonic() - started < 1
    assert status.message == f"Graphistry at http://127.0.0.1:{port}: not reachable (connection refused); " + (
        "graphs render offline"
    )


def test_upload_to_a_server_that_stops_answering_raises_within_the_bound(standin, env):
    assert client.register_from_env(env).ok
    g = hypergraph(EVENTS, ENTITIES)
    standin.hang = {"/edges/arrow"}  # logs in, creates the dataset, then never answers the Arrow upload

    started = time.monotonic()
    with pytest.raises(client.GraphistryUnavailable) as caught:
        client.upload(g, env=env)
    elapsed = time.monotonic() - started

    assert elapsed < 2 + MARGIN, elapsed
    message = str(caught.value)
    assert message.startswith(f"Graphistry at {standin.url} did not answer within 2 s (POST /api/v2/upload/datasets/")
    assert message.endswith("/edges/arrow); the graph was not uploaded")
    assert ("POST", "/api/v2/upload/datasets/") in standin.routes()

    # the kernel now knows the server is unreachable: the next upload fails at once, without a request
    assert client.status().reachable is False and client.status().message == f"{message}; graphs render offline"
    sent = len(standin.requests)
    started = time.monotonic()
    with pytest.raises(client.GraphistryUnavailable):
        client.upload(g, env=env)
    assert time.monotonic() - started < 1 and len(standin.requests) == sent


def test_login_that_stops_answering_does_not_wait_twice(standin, env):
    """pygraphistry retries a failed token refresh with a fresh login; the first timeout ends the operation."""
    standin.hang = {"/api/v2/auth/pkey/jwt/"}
    started = time.monotonic()
    status = client.register_from_env(env)
    elapsed = time.monotonic() - started
    assert elapsed < 2 + MARGIN, elapsed
    assert status.message == (
        f"Graphistry at {standin.url}: did not answer GET /api/v2/auth/pkey/jwt/ within 2 s; graphs render offline"
    )
    assert standin.routes().count(("GET", "/api/v2/auth/pkey/jwt/")) == 1

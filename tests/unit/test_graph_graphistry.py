"""hunthub.graph.graphistry: real pygraphistry talking real HTTP to a stand-in Graphistry server on loopback."""

from __future__ import annotations

import html
import json
import sys
import threading
import time

import pandas as pd
import pytest
import requests

from hunthub.graph import graphistry as hg
from tests.graphistry_standin import GraphistryStandIn, NonAnsweringListener
from tests.harness import free_port

CLIENT_URL = "https://graphs.soc.example"
MARGIN = 1.5  # seconds beyond the configured timeout that a bounded call may take on a loaded 2-core box

# Every outgoing socket connection of this process while `_connects.on` is set; audit hooks cannot be removed, so
# this one stays installed and records only when switched on.
_connects = threading.local()
_connect_log: list = []


def _audit(event, args):
    if event == "socket.connect" and getattr(_connects, "on", False):
        _connect_log.append(args[1])


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts as a fresh kernel would: nothing registered yet, no note shown yet."""
    monkeypatch.setattr(hg, "_state", hg._State())


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
        "HUNTHUB_GRAPHISTRY_SERVER": server,
        "HUNTHUB_GRAPHISTRY_PROTOCOL": "http",
        "HUNTHUB_GRAPHISTRY_CLIENT_URL": CLIENT_URL,
        "HUNTHUB_GRAPHISTRY_PRIVACY": "organization",
        "HUNTHUB_GRAPHISTRY_TIMEOUT": "2",
        "HUNTHUB_GRAPHISTRY_CREDENTIALS": credentials,
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


def expected_hyperedges(events, entities):
    """direct=True: per event, one edge from each entity to each later one in `entities`, named '<column>::<value>'."""
    pairs = []
    for _, row in events.iterrows():
        for i, a in enumerate(entities):
            for b in entities[i + 1 :]:
                pairs.append((f"{a}::{row[a]}", f"{b}::{row[b]}"))
    return sorted(pairs)


# --- settings ------------------------------------------------------------------------------------------------


def test_settings_absent_without_server():
    assert hg.settings_from_env({}) is None
    assert hg.settings_from_env({"HUNTHUB_GRAPHISTRY_PROTOCOL": "http", "HUNTHUB_GRAPHISTRY_SERVER": " "}) is None


def test_settings_from_the_hub_environment():
    s = hg.settings_from_env(
        {
            "HUNTHUB_GRAPHISTRY_SERVER": "g.soc.example:8443",
            "HUNTHUB_GRAPHISTRY_PROTOCOL": "https",
            "HUNTHUB_GRAPHISTRY_CLIENT_URL": "https://graphs.soc.example/",
            "HUNTHUB_GRAPHISTRY_PRIVACY": "private",
            "HUNTHUB_GRAPHISTRY_TIMEOUT": "7",
            "HUNTHUB_GRAPHISTRY_CREDENTIALS": "/home/a/.hunthub/graphistry.json",
        }
    )
    assert s == hg.GraphistrySettings(
        "g.soc.example:8443", "https", "https://graphs.soc.example", "private", 7.0, "/home/a/.hunthub/graphistry.json"
    )
    assert s.url == "https://g.soc.example:8443"
    # defaults: client URL = what the kernel uses; unknown privacy never widens sharing; bad timeout -> 10 s
    d = hg.settings_from_env(
        {"HUNTHUB_GRAPHISTRY_SERVER": "g", "HUNTHUB_GRAPHISTRY_PRIVACY": "everyone", "HUNTHUB_GRAPHISTRY_TIMEOUT": "x"}
    )
    assert (d.client_url, d.privacy, d.timeout, d.protocol) == ("https://g", "private", 10.0, "https")


# --- no server: nothing on the network -----------------------------------------------------------------------


def test_without_server_nothing_is_sent_anywhere(standin):
    g = hg.hypergraph_from_spark(EVENTS, ENTITIES)
    _connect_log.clear()
    _connects.on = True
    try:
        status = hg.register_from_env({})
        out = hg.show(g, env={})
        page = out._repr_html_()
    finally:
        _connects.on = False
    assert not status.ok and not status.configured
    assert status.message == "Graphistry: no server configured; graphs render offline in the notebook"
    assert "<iframe" not in page and "hunthub-graphistry-note" not in page
    assert page  # the offline view
    assert _connect_log == []  # no socket connected, to any address
    assert standin.requests == []


def test_configured_but_no_key_sends_nothing(standin, tmp_path):
    env = env_for(standin.server, str(tmp_path / "missing.json"))
    status = hg.register_from_env(env)
    assert not status.ok and status.reachable is None
    assert f"Graphistry at {standin.url}: no personal key file at {tmp_path / 'missing.json'}" in status.message
    assert standin.requests == []


# --- login, upload, privacy ----------------------------------------------------------------------------------


def test_register_logs_in_with_the_personal_key_and_sets_privacy(standin, env):
    status = hg.register_from_env(env)

    assert status.ok, status.message
    assert status.message == f"Graphistry at {standin.url}: registered (uploads visible to: organization)"
    assert standin.routes() == [
        ("GET", "/"),  # our reachability probe, before any credential leaves the kernel
        ("GET", "/api/v2/auth/pkey/jwt/"),
        ("POST", "/api/v2/auth/token/refresh"),
    ]
    assert standin.requests[1].headers["Authorization"] == "PersonalKey <redacted>"
    import graphistry

    assert graphistry.PyGraphistry.session.privacy["mode"] == "organization"


@pytest.mark.parametrize("privacy", ["organization", "private"])
def test_show_uploads_the_analysts_graph_with_the_configured_privacy(standin, env, privacy):
    env["HUNTHUB_GRAPHISTRY_PRIVACY"] = privacy
    g = hg.hypergraph_from_spark(EVENTS, ENTITIES)  # built before registration, as in a notebook

    out = hg.show(g, env=env)

    assert len(standin.datasets) == 1
    (dataset,) = standin.datasets.values()
    edges, nodes = dataset.edges.to_pandas(), dataset.nodes.to_pandas()
    # the uploaded Arrow tables are the analyst's graph
    assert len(edges) == len(g._edges) == 15
    assert sorted(zip(edges["src"], edges["dst"], strict=True)) == expected_hyperedges(EVENTS, ENTITIES)
    assert sorted(zip(edges["src"], edges["dst"], strict=True)) == sorted(
        zip(g._edges["src"], g._edges["dst"], strict=True)
    )
    expected_nodes = {f"{c}::{v}" for c in ENTITIES for v in EVENTS[c]}
    assert set(nodes["nodeID"]) == expected_nodes and len(nodes) == len(expected_nodes)
    assert dataset.spec["edge_encodings"]["bindings"] == {"source": "src", "destination": "dst"}
    # shared as configured, never left at the server's default
    assert [(s["obj_pk"], s["mode"]) for s in dataset.shares] == [(dataset.id, privacy)]
    # every upload carried the bearer token from the personal-key login
    uploads = [r for r in standin.requests if r.route.startswith("/api/v2/upload/")]
    assert len(uploads) == 3 and all(r.headers["Authorization"] == "Bearer <redacted>" for r in uploads)
    # the notebook output points the analyst's browser at the client URL, not at the kernel-side address
    assert isinstance(out, hg.GraphistryGraph)
    assert out.url.startswith(f"{CLIENT_URL}/graph/graph.html?dataset={dataset.id}&")
    page = out._repr_html_()
    assert f'<iframe src="{CLIENT_URL}/graph/graph.html?dataset={dataset.id}&amp;' in page
    assert standin.server not in page
    # the URL is one the server serves
    path = out.url[len(CLIENT_URL) :]
    assert requests.get(standin.url + path, timeout=5).status_code == 200


def test_show_takes_an_edge_table_too(standin, env):
    pairs = EVENTS.groupby(["user", "host"]).size().reset_index(name="events")
    out = hg.show(pairs, source="user", destination="host", env=env)
    (dataset,) = standin.datasets.values()
    assert isinstance(out, hg.GraphistryGraph)
    assert dataset.edges.to_pandas().equals(pairs)


def test_wrong_key_is_a_clear_message_and_the_graph_renders_offline(standin, tmp_path):
    env = env_for(standin.server, write_key(tmp_path, standin.key_id, "wrong-secret"))

    status = hg.register_from_env(env)

    assert not status.ok and status.reachable is True
    assert status.message == (
        f"Graphistry at {standin.url}: personal key rejected (HTTP 401); ask an admin to check this account's "
        "Graphistry key; graphs render offline"
    )
    g = hg.hypergraph_from_spark(EVENTS, ENTITIES)
    first, second = hg.show(g, env=env), hg.show(g, env=env)
    assert html.escape(status.message) in first._repr_html_() and "<iframe" not in first._repr_html_()
    assert "hunthub-graphistry-note" not in second._repr_html_()  # said once
    assert standin.datasets == {}
    assert ("GET", "/api/v2/auth/pkey/jwt/") in standin.routes()


# --- unreachable and non-answering servers -------------------------------------------------------------------


def test_server_that_accepts_but_never_answers_is_reported_within_the_timeout(tmp_path):
    with NonAnsweringListener() as silent:
        env = env_for(silent.server, write_key(tmp_path, "id", "secret"))
        started = time.monotonic()
        status = hg.register_from_env(env)
        elapsed = time.monotonic() - started
    assert not status.ok and status.reachable is False
    server = env["HUNTHUB_GRAPHISTRY_SERVER"]
    assert (
        status.message == f"Graphistry at http://{server}: not reachable within 2 s (no answer); graphs render offline"
    )
    assert elapsed < 2 + MARGIN, elapsed

    started = time.monotonic()
    out = hg.show(hg.hypergraph_from_spark(EVENTS, ENTITIES), env=env)  # uses the known status: no new wait
    assert time.monotonic() - started < 1
    assert status.message in out._repr_html_()


def test_closed_port_is_reported_at_once(tmp_path):
    port = free_port()
    env = env_for(f"127.0.0.1:{port}", write_key(tmp_path, "id", "secret"))
    started = time.monotonic()
    status = hg.register_from_env(env)
    assert time.monotonic() - started < 1
    assert status.message == f"Graphistry at http://127.0.0.1:{port}: not reachable (connection refused); " + (
        "graphs render offline"
    )


def test_upload_to_a_server_that_stops_answering_raises_within_the_bound(standin, env):
    assert hg.register_from_env(env).ok
    g = hg.hypergraph_from_spark(EVENTS, ENTITIES)
    standin.hang = {"/edges/arrow"}  # logs in, creates the dataset, then never answers the Arrow upload

    started = time.monotonic()
    with pytest.raises(hg.GraphistryUnavailable) as caught:
        hg.upload(g, env=env)
    elapsed = time.monotonic() - started

    assert elapsed < 2 + MARGIN, elapsed
    message = str(caught.value)
    assert message.startswith(f"Graphistry at {standin.url} did not answer within 2 s (POST /api/v2/upload/datasets/")
    assert message.endswith("/edges/arrow); the graph was not uploaded")
    assert ("POST", "/api/v2/upload/datasets/") in standin.routes()

    # show() now goes offline at once, saying why once
    started = time.monotonic()
    out = hg.show(g, env=env)
    assert time.monotonic() - started < 1
    assert "did not answer within 2 s" in out._repr_html_() and "<iframe" not in out._repr_html_()


def test_login_that_stops_answering_does_not_wait_twice(standin, env):
    """pygraphistry retries a failed token refresh with a fresh login; the first timeout ends the operation."""
    standin.hang = {"/api/v2/auth/pkey/jwt/"}
    started = time.monotonic()
    status = hg.register_from_env(env)
    elapsed = time.monotonic() - started
    assert elapsed < 2 + MARGIN, elapsed
    assert status.message == (
        f"Graphistry at {standin.url}: did not answer GET /api/v2/auth/pkey/jwt/ within 2 s; graphs render offline"
    )
    assert standin.routes().count(("GET", "/api/v2/auth/pkey/jwt/")) == 1


# --- the timeout wrapper's scope -----------------------------------------------------------------------------


def test_timeouts_apply_to_pygraphistry_modules_only():
    real_get = requests.get
    hg.install_timeouts(1)
    for name in ("graphistry.arrow_uploader", "graphistry.ArrowFileUploader", "graphistry.pygraphistry"):
        assert isinstance(sys.modules[name].requests, hg._BoundedRequests), name
    # the requests module and everyone else's use of it are untouched
    assert sys.modules["requests"] is requests and requests.get is real_get
    bounded = sys.modules["graphistry.arrow_uploader"].requests
    assert bounded.codes.ok == 200 and bounded.exceptions is requests.exceptions  # the rest passes through
    assert hg.install_timeouts(1) == []  # idempotent

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
    hg.install_timeouts(10)
    assert hg.default_timeout({"json": {"a": 1}}) == (10.0, 10.0)
    assert hg.default_timeout({"data": b"x" * (5 << 20)}) == (10.0, 15.0)  # a second more per MiB
    monkeypatch.setattr(hg, "UPLOAD_BYTES_PER_EXTRA_SECOND", 1)
    assert hg.default_timeout({"data": b"x" * 5000}) == (10.0, hg.UPLOAD_READ_TIMEOUT_CAP)


# --- bounds and GFQL -----------------------------------------------------------------------------------------


def test_pandas_frames_pass_under_the_same_bound():
    assert hg.to_pandas_bounded(EVENTS, max_rows=5) is EVENTS
    with pytest.raises(hg.GraphTooLarge, match="more than 4 rows"):
        hg.to_pandas_bounded(EVENTS, max_rows=4)
    with pytest.raises(hg.GraphTooLarge, match=r"df.groupBy\('user', 'host'\).count\(\)"):
        hg.edges_from_spark(EVENTS, "user", "host", max_edges=2)
    with pytest.raises(TypeError):
        hg.to_pandas_bounded([1, 2, 3])


def test_gfql_runs_offline():
    from graphistry import e_forward, n

    g = hg.hypergraph_from_spark(EVENTS, ENTITIES)
    sub = hg.gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=1), n()])
    assert set(sub._nodes["nodeID"]) == {"user::alice", "host::ws-1", "host::srv-db", "src_ip::10.0.0.5"}

"""hunthub.graph.notebook, the functions analysts call: show() uploads to a (stand-in) Graphistry server when one is
configured and answers, and otherwise draws offline, saying why once; Spark frames come in bounded."""

from __future__ import annotations

import html
import sys
import threading
import time

import pytest
import requests

from hunthub.graph import graphistry_client, notebook
from hunthub.graph.bounds import GraphTooLarge
from tests.graphistry_standin import GraphistryStandIn
from tests.harness import free_port
from tests.unit.test_graph_graphistry_client import CLIENT_URL, ENTITIES, EVENTS, MARGIN, env_for, write_key

# Every outgoing socket connection of this process while `_connects.on` is set; audit hooks cannot be removed, so
# this one stays installed and records only when switched on.
_connects = threading.local()
_connect_log: list = []


def _audit(event, args):
    if event == "socket.connect" and getattr(_connects, "on", False):
        _connect_log.append(args[1])


sys.addaudithook(_audit)


class connections_made:
    """The socket connections this thread makes within the block."""

    def __enter__(self):
        _connect_log.clear()
        _connects.on = True
        return _connect_log

    def __exit__(self, *exc):
        _connects.on = False


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts as a fresh kernel would: nothing registered yet, no note shown yet."""
    monkeypatch.setattr(graphistry_client, "_state", graphistry_client._State())
    monkeypatch.setattr(notebook, "_noted", set())


@pytest.fixture
def standin():
    with GraphistryStandIn() as s:
        yield s


@pytest.fixture
def env(standin, tmp_path):
    return env_for(standin.server, write_key(tmp_path, standin.key_id, standin.key_secret))


def expected_hyperedges(events, entities):
    """direct=True: per event, one edge from each entity to each later one in `entities`, named '<column>::<value>'."""
    pairs = []
    for _, row in events.iterrows():
        for i, a in enumerate(entities):
            for b in entities[i + 1 :]:
                pairs.append((f"{a}::{row[a]}", f"{b}::{row[b]}"))
    return sorted(pairs)


# --- no server: nothing on the network -----------------------------------------------------------------------


def test_without_server_nothing_is_sent_anywhere(standin):
    g = notebook.hypergraph_from_spark(EVENTS, ENTITIES)
    with connections_made() as connections:
        status = graphistry_client.register_from_env({})
        out = notebook.show(g, env={})
        page = out._repr_html_()
    assert not status.ok and not status.configured
    assert status.message == "Graphistry: no server configured; graphs render offline in the notebook"
    assert "<iframe" not in page and "hunthub-graphistry-note" not in page
    assert page  # the offline view
    assert connections == []  # no socket connected, to any address
    assert standin.requests == []


# --- upload and privacy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("privacy", ["organization", "private"])
def test_show_uploads_the_analysts_graph_with_the_configured_privacy(standin, env, privacy):
    env["HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY"] = privacy
    g = notebook.hypergraph_from_spark(EVENTS, ENTITIES)  # built before registration, as in a notebook

    out = notebook.show(g, env=env)

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
    assert isinstance(out, notebook.GraphistryGraph)
    assert out.url.startswith(f"{CLIENT_URL}/graph/graph.html?dataset={dataset.id}&")
    page = out._repr_html_()
    assert f'<iframe src="{CLIENT_URL}/graph/graph.html?dataset={dataset.id}&amp;' in page
    assert standin.server not in page
    # the URL is one the server serves
    path = out.url[len(CLIENT_URL) :]
    assert requests.get(standin.url + path, timeout=5).status_code == 200


def test_show_takes_an_edge_table_too(standin, env):
    pairs = EVENTS.groupby(["user", "host"]).size().reset_index(name="events")
    out = notebook.show(pairs, source="user", destination="host", env=env)
    (dataset,) = standin.datasets.values()
    assert isinstance(out, notebook.GraphistryGraph)
    assert dataset.edges.to_pandas().equals(pairs)


# --- a server that refuses or does not answer: offline, said once -------------------------------------------


def test_a_rejected_key_draws_offline_and_says_why_once(standin, tmp_path):
    env = env_for(standin.server, write_key(tmp_path, standin.key_id, "wrong-secret"))
    status = graphistry_client.register_from_env(env)
    assert not status.ok and status.reachable is True

    g = notebook.hypergraph_from_spark(EVENTS, ENTITIES)
    first, second = notebook.show(g, env=env), notebook.show(g, env=env)
    assert html.escape(status.message) in first._repr_html_() and "<iframe" not in first._repr_html_()
    assert "hunthub-graphistry-note" not in second._repr_html_()  # said once
    assert standin.datasets == {}


def test_a_server_found_unreachable_is_not_tried_again_by_show(tmp_path):
    env = env_for(f"127.0.0.1:{free_port()}", write_key(tmp_path, "id", "secret"))  # a closed port
    status = graphistry_client.register_from_env(env)
    assert not status.ok and status.reachable is False

    with connections_made() as connections:
        out = notebook.show(notebook.hypergraph_from_spark(EVENTS, ENTITIES), env=env)
    assert connections == []  # the known status, until RETRY_AFTER: no new attempt, so no new wait
    assert status.message in out._repr_html_() and "<iframe" not in out._repr_html_()


def test_after_an_upload_timed_out_show_goes_offline_at_once(standin, env):
    assert graphistry_client.register_from_env(env).ok
    g = notebook.hypergraph_from_spark(EVENTS, ENTITIES)
    standin.hang = {"/edges/arrow"}  # logs in, creates the dataset, then never answers the Arrow upload
    started = time.monotonic()
    with pytest.raises(graphistry_client.GraphistryUnavailable):
        notebook.upload(g, env=env)
    assert time.monotonic() - started < 2 + MARGIN

    started = time.monotonic()
    out = notebook.show(g, env=env)
    assert time.monotonic() - started < 1
    assert "did not answer within 2 s" in out._repr_html_() and "<iframe" not in out._repr_html_()


# --- Spark frames and GFQL -----------------------------------------------------------------------------------


def test_edges_from_spark_says_how_to_aggregate():
    assert len(notebook.edges_from_spark(EVENTS, "user", "host", max_edges=5)._edges) == 5
    with pytest.raises(GraphTooLarge, match=r"df.groupBy\('user', 'host'\).count\(\)"):
        notebook.edges_from_spark(EVENTS, "user", "host", max_edges=2)
    with pytest.raises(GraphTooLarge, match=r"more than 4 rows.*\.where\(\.\.\.\)"):
        notebook.hypergraph_from_spark(EVENTS, ENTITIES, max_events=4)


def test_gfql_runs_offline():
    from graphistry import e_forward, n

    g = notebook.hypergraph_from_spark(EVENTS, ENTITIES)
    sub = notebook.gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=1), n()])
    assert set(sub._nodes["nodeID"]) == {"user::alice", "host::ws-1", "host::srv-db", "src_ip::10.0.0.5"}

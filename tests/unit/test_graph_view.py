"""The graph view's Python side: what view() accepts, the HTML it emits, where big graphs' data goes, and the server
extension's route. Which names the extension serves, and pruning: test_graph_store.py."""

import json
import re

import graphistry
import numpy as np
import pandas as pd
import pytest

from hunthub.graph import server, store
from hunthub.graph import view as view_module
from hunthub.graph.view import INLINE_MAX_EDGES, GraphView, view

EVENTS = pd.DataFrame(
    {
        "user": ["alice", "bob", "alice", "carol", "</script><script>alert(1)</script>"],
        "host": ["ws-01", "ws-02", "dc-01", "ws-01", "ws-02"],
        "process": ["cmd.exe", "ssh", "powershell.exe", "cmd.exe", "evil.exe"],
    }
)


@pytest.fixture(autouse=True)
def graph_dir(tmp_path, monkeypatch):
    directory = tmp_path / "graphs"
    monkeypatch.setenv("HUNTHUB_KERNEL_GRAPH_DIR", str(directory))
    return directory


@pytest.fixture
def hypergraph():
    return graphistry.hypergraph(EVENTS, ["user", "host", "process"], direct=True, verbose=False)["graph"]


def random_edges(m: int, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"src": rng.integers(0, n, m), "dst": rng.integers(0, n, m)})


def test_a_plottable_brings_its_bindings_labels_and_types(hypergraph):
    shown = view(hypergraph)
    g = shown.graph
    assert isinstance(shown, GraphView) and shown.mode == "inline"
    assert g.n == 11 and g.edge_count == 15  # 4 users, 3 hosts, 4 processes; 3 edges per event
    assert {t["name"]: t["count"] for t in g.types} == {"user": 4, "host": 3, "process": 4}
    assert "alice" in g.labels.tolist() and "user::alice" not in g.labels.tolist()  # nodeTitle, not nodeID
    assert shown.positions.shape == (g.n, 2) and np.isfinite(shown.positions).all()
    assert "11 nodes, 15 edges, inline" in repr(shown)


def test_too_many_edges_says_how_many_and_what_to_do():
    with pytest.raises(ValueError) as e:
        view(random_edges(1200, 50), max_edges=1000)
    message = str(e.value)
    assert "1,200 edges" in message and "max_edges=1,000" in message
    assert "groupby(['src', 'dst']).size()" in message and "Aggregate" in message


def test_html_reaches_nothing_outside_and_escapes_names(hypergraph):
    html = view(hypergraph)._repr_html_()
    assert "http://" not in html and "https://" not in html
    assert "//cdn" not in html and "<link" not in html and "src=" not in html  # no script or style from anywhere
    assert html.count("</script>") == 2  # ours: the inlined viewer and the mount call; node names are escaped
    assert "\\u003c/script>\\u003cscript>alert(1)" in html
    assert "WebGL is not available" in html  # the message for browsers without it is in the viewer
    assert "If this text stays" in html  # shown until the script runs: untrusted output, JavaScript off


def test_static_assets_have_no_urls():
    for name in ("graphview.js", "graphview.css"):
        text = view_module._asset(name)
        assert "http://" not in text and "https://" not in text and "</" not in text.replace("<\\/", "")


def test_each_display_gets_its_own_dom_id(hypergraph):
    shown = view(hypergraph)
    ids = {re.search(r'id="(hh-graph-[0-9a-f]+)"', shown._repr_html_()).group(1) for _ in range(3)}
    assert len(ids) == 3
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}


def test_small_graphs_go_inline_and_write_no_files(graph_dir):
    shown = view(random_edges(2000, 500))
    spec = json.loads(shown.spec_json().replace("\\u003c", "<"))
    assert shown.mode == "inline" and not graph_dir.exists()
    assert {"pos.f32", "edges.u32", "types.u8", "degree.u32"} == set(spec["data"])
    assert len(spec["chunks"]) == 1 and len(spec["chunks"][0]["labels"]) == shown.graph.n


def test_big_graphs_go_to_private_files_named_by_id(graph_dir):
    shown = view(random_edges(INLINE_MAX_EDGES + 5000, 20_000))
    assert shown.mode == "file"
    spec = json.loads(shown.spec_json())
    assert spec["id"] == shown.graph_id and "data" not in spec and "chunks" not in spec
    files = graph_dir / shown.graph_id
    n, drawn = shown.graph.n, spec["meta"]["drawn"]
    assert (files / "pos.f32").stat().st_size == 8 * n and (files / "edges.u32").stat().st_size == 8 * drawn
    assert (files / "types.u8").stat().st_size == n and (files / "degree.u32").stat().st_size == 4 * n
    chunks = sorted(files.glob("nodes-*.json"))
    assert len(chunks) == 2 and sum(len(json.loads(c.read_text())["labels"]) for c in chunks) == n
    assert {store.valid_part(p.name) for p in files.iterdir()} == {True}
    assert files.stat().st_mode & 0o777 == 0o700 and (files / "pos.f32").stat().st_mode & 0o777 == 0o600
    assert not [p for p in graph_dir.iterdir() if p.name.startswith(".tmp-")]
    positions = np.fromfile(files / "pos.f32", "<f4").reshape(-1, 2)
    assert np.array_equal(positions, shown.positions)


def test_mode_can_be_forced(graph_dir):
    assert view(random_edges(100, 30), mode="file").mode == "file"
    assert view(random_edges(INLINE_MAX_EDGES + 5000, 20_000), mode="inline").mode == "inline"
    with pytest.raises(ValueError, match="mode must be"):
        view(random_edges(10, 5), mode="cdn")


def test_plain_tables_columns_and_missing_nodes():
    edges = pd.DataFrame({"account": ["a", "b", "c"], "target": ["h1", "h1", "h2"], "n": [1, 2, 3]})
    nodes = pd.DataFrame({"name": ["a", "b", "h1"], "kind": ["user", "user", "host"], "risk": [0.1, None, 0.9]})
    shown = view(edges, nodes, source="account", destination="target", node_id="name", node_type="kind")
    g = shown.graph
    assert g.n == 5  # c and h2 appear only in edges: drawn anyway, with their id
    assert g.labels.tolist() == ["a", "b", "h1", "c", "h2"]
    assert {t["name"] for t in g.types} == {"user", "host", "(none)"}
    with pytest.raises(ValueError, match="source column 'from'"):
        view(edges, source="from", destination="target")
    with pytest.raises(ValueError, match="Node type column 'colour'"):
        view(edges, nodes, source="account", destination="target", node_id="name", node_type="colour")


def test_many_types_share_other():
    edges = pd.DataFrame({"src": np.arange(60), "dst": np.arange(1, 61)})
    nodes = pd.DataFrame({"id": np.arange(61), "type": [f"t{i}" for i in range(61)]})
    types = view(edges, nodes).graph.types
    assert len(types) == 21 and types[-1]["name"] == "other (41 types)" and types[-1]["count"] == 41


def test_the_route_sits_under_the_base_url():
    ((pattern, handler),) = server.handlers("/user/alice/")
    assert pattern == "/user/alice/hunthub/graphs/([^/]+)/([^/]+)" and handler is server.GraphPartHandler
    assert server._jupyter_server_extension_points() == [{"module": "hunthub.graph.server"}]


def test_a_node_table_needs_to_say_which_column_is_the_id():
    edges = pd.DataFrame({"src": ["a"], "dst": ["b"]})
    with pytest.raises(ValueError, match="Pass node_id="):
        view(edges, pd.DataFrame({"who": ["a", "b"]}))
    assert view(edges, pd.DataFrame({"id": ["a", "b"], "type": ["user", "host"]})).graph.n == 2

"""An interactive WebGL view of a graph in a notebook output, without Graphistry's server and without internet.

    from hunthub.graph.view import view
    view(g)                                   # a pygraphistry Plottable, e.g. graphistry.hypergraph(...)["graph"]
    view(edges_df, source="user", destination="host")

Positions are computed here (hunthub.graph.layout); the browser only draws. Small graphs travel inside the output
as base64 typed arrays. Big ones would exceed the kernel's output rate limit and bloat the notebook, so their data
goes to files under hunthub.graph.store.graph_dir(), which the hunthub.graph.server extension serves to the page.

What this cannot do: draw past max_edges (it raises, saying how to aggregate, rather than lay out for minutes),
tell more than MAX_TYPES node types apart by colour (the rest share "other"), or draw in an untrusted notebook or
with JavaScript off (the output then says so).
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
import uuid
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from hunthub.graph import store
from hunthub.graph.layout import layout_unique, unique_edges

MAX_EDGES = 1_000_000
INLINE_MAX_EDGES = 20_000
INLINE_MAX_BYTES = 2_000_000  # about what the server passes in one burst under its 1 MB/s output rate limit
CHUNK_NODES = 16_384  # labels and attributes load per chunk, when the pointer first reaches one of its nodes
MAX_TYPES = 20  # the rest share "other": more colours would not be told apart
OTHER_COLOR = "#9a9aa2"
PALETTE = [
    "#2f6fd0", "#e8552a", "#23a26b", "#9a4fd0", "#d9a400", "#d6407e", "#1aa3b8", "#8a5a2b", "#6f8f1f", "#5560e6",
    "#b8262e", "#00897b", "#f08c00", "#7b1fa2", "#3d7f3d", "#c2185b", "#0277bd", "#a1887f", "#9e9d24", "#ff7066",
]  # fmt: skip
LABEL_COLUMNS = ("nodeTitle", "title", "label", "name")
# a hypergraph's "category" merges columns of one kind (src_host, dst_host: host); "type" is the source column
TYPE_COLUMNS = ("category", "type")


def view(
    edges,
    nodes: pd.DataFrame | None = None,
    source: str | None = None,
    destination: str | None = None,
    node_id: str | None = None,
    node_type: str | None = None,
    node_label: str | None = None,
    max_edges: int = MAX_EDGES,
    mode: str = "auto",
    height: int = 600,
    seed: int = 0,
) -> GraphView:
    """Lay out and show a graph given as an edge table (and optionally a node table), or as a pygraphistry Plottable
    whose bindings fill in whatever is not given.

    Nodes are coloured by node_type (default: a "category" or else "type" column) and named by node_label (default: the
    Plottable's point title, or a "nodeTitle"/"title"/"label"/"name" column, or the id). Above max_edges edges this
    raises instead of computing for minutes. mode: "auto" (inline up to INLINE_MAX_EDGES drawn edges), "inline"
    (data inside the output) or "file" (data served by the hunthub.graph.server extension)."""
    if hasattr(edges, "_edges"):  # a pygraphistry Plottable
        g = edges
        edges, nodes = g._edges, g._nodes if nodes is None else nodes
        source, destination = source or g._source, destination or g._destination
        node_id = node_id or g._node
        node_label = node_label or getattr(g, "_point_title", None) or getattr(g, "_point_label", None)
    if not isinstance(edges, pd.DataFrame):
        raise TypeError(f"view() needs a pandas DataFrame of edges or a pygraphistry Plottable, not {type(edges)}")
    source, destination = _endpoints(edges, source, destination)
    if len(edges) > max_edges:
        raise ValueError(
            f"This graph has {len(edges):,} edges, more than max_edges={max_edges:,}. Aggregate first: one edge per "
            f"pair, e.g. edges.groupby([{source!r}, {destination!r}]).size().reset_index(name='events'), or narrow "
            "it to a time window or the entities of interest. view(..., max_edges=...) raises the limit; the view "
            f"stays interactive up to about {MAX_EDGES:,} edges."
        )
    if mode not in ("auto", "inline", "file"):
        raise ValueError(f"mode must be 'auto', 'inline' or 'file', not {mode!r}")
    started = time.perf_counter()
    graph = _Graph(edges, nodes, source, destination, node_id, node_type, node_label)
    return GraphView(graph, mode=mode, height=height, seed=seed, prepared=time.perf_counter() - started)


def _endpoints(edges: pd.DataFrame, source, destination) -> tuple[str, str]:
    if source is None and destination is None:
        for pair in (("src", "dst"), ("source", "destination"), ("source", "target")):
            if set(pair) <= set(edges.columns):
                return pair
    for role, column in (("source", source), ("destination", destination)):
        if column is None or column not in edges.columns:
            raise ValueError(
                f"Edge {role} column {column!r} is not among the edge columns {list(edges.columns)}: "
                "pass source=... and destination=..."
            )
    return source, destination


class _Graph:
    """Edges as node indexes, plus each node's label, type and attributes, from the tables an analyst has."""

    def __init__(self, edges, nodes, source, destination, node_id, node_type, node_label):
        ends = pd.concat([edges[source], edges[destination]], ignore_index=True)
        if nodes is not None and node_id is None:
            node_id = next((c for c in ("nodeID", "id", "node") if c in nodes.columns), None)
            if node_id is None:
                raise ValueError(
                    f"Which node column holds the ids the edges refer to? Pass node_id=, one of {list(nodes.columns)}"
                )
        if nodes is not None:
            if node_id not in nodes.columns:
                raise ValueError(f"Node id column {node_id!r} is not among the node columns {list(nodes.columns)}")
            nodes = nodes.drop_duplicates(subset=node_id).reset_index(drop=True)
            known = pd.Index(nodes[node_id])
            codes = known.get_indexer(ends)
            unknown = pd.unique(ends[codes < 0])
            if len(unknown):  # endpoints missing from the node table still get drawn, with their id only
                nodes = pd.concat([nodes, pd.DataFrame({node_id: unknown})], ignore_index=True)
                codes = pd.Index(nodes[node_id]).get_indexer(ends)
            ids = nodes[node_id]
        else:
            codes, uniques = pd.factorize(ends)
            node_id = node_id or "id"
            ids = pd.Series(uniques, name=node_id)
            nodes = pd.DataFrame({node_id: ids})
        m = len(edges)
        self.n = len(nodes)
        self.src, self.dst = codes[:m].astype(np.int64), codes[m:].astype(np.int64)
        self.edge_count = m
        self.nodes = nodes
        label_col = node_label or next((c for c in LABEL_COLUMNS if c in nodes.columns), node_id)
        self.labels = nodes[label_col].where(nodes[label_col].notna(), ids).astype(str)
        type_col = node_type or next((c for c in TYPE_COLUMNS if c in nodes.columns), None)
        if type_col is not None and type_col not in nodes.columns:
            raise ValueError(f"Node type column {type_col!r} is not among the node columns {list(nodes.columns)}")
        raw_types = nodes[type_col].fillna("(none)").astype(str) if type_col else pd.Series(["node"] * self.n)
        self.type_codes, self.types = _type_table(raw_types)


def _type_table(raw: pd.Series) -> tuple[np.ndarray, list[dict]]:
    """Type index per node (most frequent type first) and the legend: name, colour, count."""
    counts = raw.value_counts(sort=True)
    names = list(counts.index[:MAX_TYPES])
    codes = pd.Index(names).get_indexer(raw)
    legend = [{"name": str(t), "color": PALETTE[i], "count": int(counts[t])} for i, t in enumerate(names)]
    if (codes < 0).any():
        rest = len(counts) - MAX_TYPES
        legend.append({"name": f"other ({rest} types)", "color": OTHER_COLOR, "count": int((codes < 0).sum())})
        codes[codes < 0] = MAX_TYPES
    return codes.astype(np.uint8), legend


class GraphView:
    """A laid-out graph that shows itself as an interactive view in Jupyter; .positions holds the layout."""

    def __init__(self, graph: _Graph, mode: str = "auto", height: int = 600, seed: int = 0, prepared: float = 0.0):
        self.graph = graph
        self.height = height
        t0 = time.perf_counter()
        a, b, counts = unique_edges(graph.n, graph.src, graph.dst)
        self.positions = layout_unique(graph.n, a, b, counts, seed=seed)
        t1 = time.perf_counter()
        self.pairs = np.column_stack([a, b]).astype(np.uint32)
        self.degree = (np.bincount(graph.src, minlength=graph.n) + np.bincount(graph.dst, minlength=graph.n)).astype(
            np.uint32
        )
        self.chunks = [self._chunk(k) for k in range(0, graph.n, CHUNK_NODES)]
        size = self.positions.nbytes + self.pairs.nbytes + self.degree.nbytes + sum(len(c) for c in self.chunks)
        if mode == "auto":
            mode = "inline" if len(self.pairs) <= INLINE_MAX_EDGES and size * 4 / 3 <= INLINE_MAX_BYTES else "file"
        self.mode = mode
        self.graph_id = uuid.uuid4().hex
        if mode == "file":
            self._write()
        # seconds per step, for "why is this slow": tables to indexes, layout, node chunks (and files in file mode)
        self.timings = {"prepare": prepared, "layout": t1 - t0, "data": time.perf_counter() - t1}

    @property
    def meta(self) -> dict:
        g = self.graph
        return {
            "nodes": g.n,
            "edges": g.edge_count,
            "drawn": len(self.pairs),
            "types": g.types,
            "columns": [str(c) for c in g.nodes.columns],
            "chunkNodes": CHUNK_NODES,
        }

    def _chunk(self, start: int) -> str:
        """Labels and attribute rows of nodes start.. as JSON; nulls are dropped in the browser."""
        rows = self.graph.nodes.iloc[start : start + CHUNK_NODES]
        values = rows.to_json(orient="values", date_format="iso", default_handler=str)
        labels = json.dumps(self.graph.labels.iloc[start : start + CHUNK_NODES].tolist())
        return f'{{"labels":{labels},"rows":{values}}}'

    def _parts(self) -> dict[str, bytes]:
        return {
            "pos.f32": self.positions.astype("<f4").tobytes(),
            "edges.u32": self.pairs.astype("<u4").tobytes(),
            "types.u8": self.graph.type_codes.tobytes(),
            "degree.u32": self.degree.astype("<u4").tobytes(),
        }

    def _write(self) -> None:
        """Into a temporary directory renamed into place: the server never serves half a graph."""
        root = store.graph_dir()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        store.prune(root)
        tmp = root / f".tmp-{self.graph_id}"
        tmp.mkdir(mode=0o700)
        files = self._parts() | {f"nodes-{k}.json": c.encode() for k, c in enumerate(self.chunks)}
        for name, data in files.items():
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        tmp.rename(root / self.graph_id)

    def spec_json(self) -> str:
        """What the page needs to draw this graph, as JSON safe inside a <script> element."""
        spec = {"meta": self.meta, "id": self.graph_id, "mode": self.mode}
        if self.mode == "file":
            return _script_json(spec)
        spec["data"] = {k: base64.b64encode(v).decode() for k, v in self._parts().items()}
        text = json.dumps(spec, separators=(",", ":"))
        return _script_json(text[:-1] + ',"chunks":[' + ",".join(self.chunks) + "]}")

    def _repr_html_(self) -> str:
        dom_id = f"hh-graph-{uuid.uuid4().hex[:12]}"  # per display: one view shown twice is two views
        g = self.graph
        summary = f"{g.n:,} nodes, {g.edge_count:,} edges"
        spec = self.spec_json()
        return (
            f'<div class="hh-graph" id="{dom_id}" style="height:{int(self.height)}px" data-state="waiting">'
            f"<style>{_asset('graphview.css')}</style>"
            f'<div class="hh-graph-msg">Interactive graph view ({html.escape(summary)}). If this text stays, the '
            "output is not trusted or JavaScript is off: run the cell again.</div></div>"
            f"<script>{_asset('graphview.js')}</script>"
            f'<script>window.HunthubGraph.mount(document.getElementById("{dom_id}"), {spec});</script>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        g = self.graph
        types = ", ".join(f"{t['name']}: {t['count']:,}" for t in g.types)
        return f"GraphView({g.n:,} nodes, {g.edge_count:,} edges, {self.mode}; {types})"


def _script_json(value: dict | str) -> str:
    # "<" escaped: neither "</script>" nor "<!--" in node names can end or confuse the script element.
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c")


@cache
def _asset(name: str) -> str:
    text = resources.files("hunthub.graph").joinpath("static", name).read_text(encoding="utf-8")
    return text.replace("</", "<\\/")

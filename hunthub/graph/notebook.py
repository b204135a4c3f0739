"""The graph functions analysts call in notebooks, as `hunthub.graph.<name>`: build a graph from Spark, show it.

    from hunthub import graph

    failures = spark.table("auth_events").where("outcome = 'failure'")
    g = graph.hypergraph_from_spark(failures, ["user", "src_ip", "dst_host"])   # bounded collect, then pandas
    graph.show(g)                                           # Graphistry iframe, or the offline WebGL view

    pairs = spark.table("auth_events").groupBy("user", "dst_host").count()   # aggregate in Spark first
    graph.show(graph.edges_from_spark(pairs, "user", "dst_host"))

    from graphistry import e_forward, n
    graph.show(graph.gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=2), n()]))   # GFQL, in pandas, no server

show() is where the choice is made: with a Graphistry server configured and answering, the graph is uploaded
(hunthub.graph.graphistry_client) and the output is an iframe of it; otherwise it is drawn by hunthub.graph.view,
without calling into pygraphistry's login or upload code at all. A configured server that is down, slow or refuses
the graph never fails the cell: the graph is drawn offline, and the first such output says why. Collecting from
Spark goes through hunthub.graph.bounds.

What this cannot do: draw more than the bounds (aggregate in Spark, or raise max_edges=/max_events= if the kernel
has the memory), or send a graph drawn offline to the server later: re-run show() once the server is back (an
unreachable server is tried again after graphistry_client.RETRY_AFTER seconds).
"""

from __future__ import annotations

import html
import threading

from hunthub.graph.bounds import MAX_EDGES, MAX_EVENTS, is_spark, pair_hint, to_pandas_bounded
from hunthub.graph.graphistry_client import (
    VISIBLE_TO,
    GraphistryError,
    GraphistryUnavailable,
    ensure_registered,
    settings_from_env,
    status,
    upload,
)

# what `from hunthub import graph` offers (hunthub.graph loads this module on first use of one of these)
__all__ = ["show", "upload", "edges_from_spark", "hypergraph_from_spark", "to_pandas_bounded", "gfql", "status"]


class GraphistryGraph:
    """A graph uploaded to Graphistry: shows as an iframe of it in the notebook (the browser loads it from the
    server's client URL), with a link to open it in its own tab."""

    def __init__(self, url: str, height: int = 600, privacy: str = "organization"):
        self.url = url
        self.height = height
        self.privacy = privacy

    def __repr__(self) -> str:
        return f"Graphistry graph: {self.url}"

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        visible = html.escape(VISIBLE_TO.get(self.privacy, self.privacy))
        return (
            f'<div class="hunthub-graphistry"><iframe src="{url}" style="width:100%;height:{int(self.height)}px;'
            'border:1px solid #d8d8de;border-radius:4px" allowfullscreen referrerpolicy="no-referrer"></iframe>'
            f'<div style="font:12px/1.4 system-ui,sans-serif;color:#555"><a href="{url}" target="_blank" '
            f'rel="noopener noreferrer">Open in Graphistry</a> · visible to: {visible}</div></div>'
        )


class _Noted:
    """The offline view with a one-line note above it saying why Graphistry was not used."""

    def __init__(self, inner, note: str):
        self.inner = inner
        self.note = note

    def __getattr__(self, name):
        if name.startswith("_"):  # keep IPython's _repr_*_ lookups on this object, so the note is shown
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"{self.note}\n{self.inner!r}"

    def _repr_html_(self) -> str:
        return (
            '<div class="hunthub-graphistry-note" style="font:12px/1.4 system-ui,sans-serif;color:#8a5a00;'
            f'margin:0 0 4px">{html.escape(self.note)}</div>' + self.inner._repr_html_()
        )


# why Graphistry was not used is said once per kernel and reason, not above every graph
_noted: set[str] = set()
_noted_lock = threading.Lock()


def _note_once(key: str, note: str) -> str | None:
    with _noted_lock:
        if key in _noted:
            return None
        _noted.add(key)
        return note


def _as_plottable(g, nodes, source, destination, node_id, max_edges):
    import graphistry

    if hasattr(g, "_edges") and hasattr(g, "plot"):
        return g
    if is_spark(g):
        g = to_pandas_bounded(g, max_edges, hint=pair_hint(source, destination))
    if source is None or destination is None:
        raise TypeError("show(edges_frame, ...) needs source= and destination= column names")
    plottable = graphistry.edges(g, source, destination)
    if nodes is not None:
        plottable = plottable.nodes(nodes, node_id)
    return plottable


def _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs):
    # imported on the first offline draw: the view brings numpy, pandas and the layout, which neither an upload nor
    # the kernel's start (it loads this module through hunthub.graph.graphistry to log in) needs
    from hunthub.graph.view import view

    if is_spark(g):
        g = to_pandas_bounded(g, max_edges, hint=pair_hint(source, destination))
    if height is not None:
        view_kwargs = {**view_kwargs, "height": height}
    return view(
        g, nodes=nodes, source=source, destination=destination, node_id=node_id, max_edges=max_edges, **view_kwargs
    )


def show(
    g,
    *,
    nodes=None,
    source: str | None = None,
    destination: str | None = None,
    node_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    height: int | None = None,
    max_edges: int = MAX_EDGES,
    env=None,
    **view_kwargs,
):
    """Show a graph in the notebook: uploaded to Graphistry when a server is configured and answers, otherwise the
    offline view. `g` is a pygraphistry Plottable, or an edge table (pandas or Spark, with source=/destination=).
    A configured server that is down or does not answer in time never hangs the cell: the graph is drawn offline
    and the first such output says why. Other keyword arguments go to hunthub.graph.view.view."""
    s = settings_from_env(env)
    if s is None:
        return _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs)
    current = ensure_registered(env)
    if current.ok:
        plottable = _as_plottable(g, nodes, source, destination, node_id, max_edges)
        try:
            url = upload(plottable, name=name, description=description, env=env)
        except GraphistryError as e:
            key = f"unreachable:{s.url}" if isinstance(e, GraphistryUnavailable) else f"refused:{s.url}"
            note = _note_once(key, f"{e}. This graph is drawn offline in the notebook instead.")
            g = plottable
        else:
            return GraphistryGraph(url, height or 600, s.privacy)
    else:
        note = _note_once(f"unreachable:{s.url}" if current.reachable is False else current.message, current.message)
    view = _offline(g, nodes, source, destination, node_id, max_edges, height, view_kwargs)
    return view if note is None else _Noted(view, note)


def edges_from_spark(df, source: str, destination: str, max_edges: int = MAX_EDGES):
    """A pygraphistry Plottable of the edges in a Spark (or pandas) DataFrame, collected under max_edges rows."""
    import graphistry

    pdf = to_pandas_bounded(df, max_edges, hint=pair_hint(source, destination))
    return graphistry.edges(pdf, source, destination)


def hypergraph_from_spark(df, entity_types: list[str], max_events: int = MAX_EVENTS, direct: bool = True, **opts):
    """pygraphistry's hypergraph of an events DataFrame (one node per entity value in the entity_types columns;
    direct=True links entities of the same event to each other), collected under max_events rows. opts go to
    graphistry.hypergraph (opts=, drop_na=, verbose=...); returns the graph (a Plottable)."""
    import graphistry

    pdf = to_pandas_bounded(df, max_events, hint="select the events of interest (.where(...)) or a shorter window")
    opts.setdefault("verbose", False)
    return graphistry.hypergraph(pdf, entity_types, direct=direct, **opts)["graph"]


def gfql(g, ops, **kwargs):
    """pygraphistry's GFQL graph query (`g.gfql(ops)`), run in the kernel on pandas, no server involved. E.g. the
    hosts and addresses within two hops of one user in a hypergraph:

        from graphistry import n, e_forward
        sub = gfql(g, [n({"nodeID": "user::alice"}), e_forward(hops=2), n()])
        show(sub)

    kwargs go to g.gfql (e.g. engine="polars" for big multi-hop queries)."""
    return g.gfql(ops, **kwargs)

"""Graph investigation in notebooks.

    from hunthub import graph
    g = graph.hypergraph_from_spark(spark.table("auth_events").where("event_id = 4625"), ["user", "src_ip", "host"])
    graph.show(g)  # Graphistry when the hub configured a server, else the offline WebGL view; nothing sent then

This package offers the notebook API (`show`, `upload`, `edges_from_spark`, `hypergraph_from_spark`,
`to_pandas_bounded`, `gfql`, `status`), loaded from hunthub.graph.notebook on first use of one of these names, so
that importing any module of the package (the Jupyter server extension, say) loads no more than that module needs.

Modules, one job each:

    notebook           the functions above; show() picks Graphistry or the offline view
    bounds             how many rows come from a Spark DataFrame into the kernel, and the message past that
    graphistry_client  the hub's Graphistry settings, personal-key login, uploads, each failure in one line
    timeouts           a timeout on each of pygraphistry's HTTP requests; one failure ends the operation
    view               the offline WebGL view: positions, packaging, the HTML output
    layout             node positions, numpy only
    store              where big graphs' data lives on disk and which names may be served (stdlib only)
    server             Jupyter server extension serving that data to the analyst's page
    graphistry         the earlier import path (`from hunthub.graph import graphistry as hg`): names only

Who imports whom (arrows point to the module imported; none points back, and nothing imports this file's names):

    hunthub.graph ··(first use of a name)··> notebook
    graphistry ──> notebook, graphistry_client, bounds, timeouts
    notebook ──> graphistry_client ──> timeouts
    notebook ──> bounds
    notebook ··(first offline draw)··> view ──> layout
                                       view ──> store <── server

Dotted arrows are imports inside a function: the notebook API is loaded only when a notebook uses it (the Jupyter
server, which imports server and store, never does), and the view with numpy and pandas only for the first offline
draw (not when the kernel logs in to Graphistry at start). tests/unit/test_graph_package.py holds all of this.

What this file cannot do: list the notebook API in dir(hunthub.graph); the names are looked up when used.
"""

from __future__ import annotations

_NOTEBOOK_API = ("show", "upload", "edges_from_spark", "hypergraph_from_spark", "to_pandas_bounded", "gfql", "status")


def __getattr__(name: str):
    if name in _NOTEBOOK_API:
        from hunthub.graph import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'hunthub.graph' has no attribute {name!r}")

"""The earlier import path of hunthub's graph functions: `from hunthub.graph import graphistry as hg`, then
`hg.show(...)`, `hg.hypergraph_from_spark(...)`, `hg.register_from_env()`.

Notebooks written against it, and the kernel's background login (kernels/pyspark_kernel.py), keep working: every
public name this module had is here, and is the same object as in the module that now owns it. New code uses
`from hunthub import graph` (hunthub.graph.notebook), or hunthub.graph.graphistry_client for the server itself.
Nothing in hunthub.graph imports this module.

What this cannot do: change behaviour by assigning to it. `hg.RETRY_AFTER = 5` or a patched `hg.upload` rebinds a
name here only; the modules that own them (graphistry_client, timeouts, bounds, notebook) do not see it.
"""

from __future__ import annotations

from hunthub.graph.bounds import MAX_EDGES, MAX_EVENTS, GraphTooLarge, to_pandas_bounded
from hunthub.graph.graphistry_client import (
    PRIVACY_MODES,
    RETRY_AFTER,
    VISIBLE_TO,
    GraphistryError,
    GraphistrySettings,
    GraphistryUnavailable,
    Status,
    register_from_env,
    settings_from_env,
    status,
    upload,
)
from hunthub.graph.notebook import GraphistryGraph, edges_from_spark, gfql, hypergraph_from_spark, show
from hunthub.graph.timeouts import (
    DEFAULT_TIMEOUT,
    UPLOAD_BYTES_PER_EXTRA_SECOND,
    UPLOAD_READ_TIMEOUT_CAP,
    default_timeout,
    install_timeouts,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_EDGES",
    "MAX_EVENTS",
    "PRIVACY_MODES",
    "RETRY_AFTER",
    "UPLOAD_BYTES_PER_EXTRA_SECOND",
    "UPLOAD_READ_TIMEOUT_CAP",
    "VISIBLE_TO",
    "GraphTooLarge",
    "GraphistryError",
    "GraphistryGraph",
    "GraphistrySettings",
    "GraphistryUnavailable",
    "Status",
    "default_timeout",
    "edges_from_spark",
    "gfql",
    "hypergraph_from_spark",
    "install_timeouts",
    "register_from_env",
    "settings_from_env",
    "show",
    "status",
    "to_pandas_bounded",
    "upload",
]

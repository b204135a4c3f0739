"""How much of a Spark DataFrame a graph may bring into the kernel, and what the analyst reads when it is too much.

A graph is built in pandas in the kernel (pygraphistry's hypergraph, the offline view's layout), and a `toPandas()`
of an unfiltered event table would take the driver's memory down with it. to_pandas_bounded() collects at most
max_rows + 1 rows (`df.limit(max_rows + 1).toPandas()`), so a frame over the bound costs no more than one at it,
and raises GraphTooLarge saying how to aggregate or filter in Spark first. The bounds are what stays usable:
MAX_EDGES edges for the offline view, MAX_EVENTS events for a hypergraph (1M events take ~7 s and ~3 GB in pandas).

What this cannot do: know a frame's size without running its query (the limited job still runs, up to the bound),
bound bytes rather than rows (wide rows cost more), or sample: past the bound it refuses, because which rows to
leave out (an aggregate, a time window, fewer entities) is the analyst's choice, not an arbitrary subset.
"""

from __future__ import annotations

MAX_EDGES = 1_000_000  # what the offline view stays interactive with; Graphistry copes with more
MAX_EVENTS = 200_000  # hypergraph of 1M events: ~7 s and ~3 GB of kernel memory in pandas


class GraphTooLarge(ValueError):
    """More rows than the bound for collecting a DataFrame into the kernel: aggregate or filter in Spark first."""


def is_spark(df) -> bool:
    """A Spark DataFrame, told by its methods so that pyspark need not be imported to check."""
    return hasattr(df, "toPandas") and hasattr(df, "limit")


def pair_hint(source, destination) -> str:
    """The aggregation to suggest for an edge table: one edge per (source, destination) pair."""
    if source and destination:
        return f"df.groupBy({source!r}, {destination!r}).count() for one edge per pair"
    return "df.groupBy('src', 'dst').count() for one edge per pair"


def to_pandas_bounded(df, max_rows: int = MAX_EDGES, *, hint: str | None = None):
    """Collect a Spark DataFrame into pandas, refusing (GraphTooLarge) when it holds more than max_rows rows:
    only max_rows + 1 rows ever leave the cluster. A pandas DataFrame passes through, under the same bound."""
    import pandas as pd

    if isinstance(df, pd.DataFrame):
        rows = len(df)
        pdf = df
    elif is_spark(df):
        pdf = df.limit(max_rows + 1).toPandas()
        rows = len(pdf)
    else:
        raise TypeError(f"expected a Spark or pandas DataFrame, not {type(df).__name__}")
    if rows > max_rows:
        raise GraphTooLarge(
            f"This DataFrame has more than {max_rows:,} rows, the bound for bringing it into the notebook. Aggregate "
            f"or filter it in Spark first, e.g. {hint or pair_hint(None, None)}, or a narrower time window or set "
            "of entities; pass max_rows= (max_edges=, max_events=) to raise the bound if the kernel has the memory."
        )
    return pdf

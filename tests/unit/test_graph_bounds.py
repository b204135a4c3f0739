"""hunthub.graph.bounds: a frame comes into the kernel only under the bound, else a message saying what to do."""

from __future__ import annotations

import pandas as pd
import pytest

from hunthub.graph.bounds import GraphTooLarge, pair_hint, to_pandas_bounded

EVENTS = pd.DataFrame({"user": ["alice", "bob", "alice", "carol", "bob"], "host": ["ws-1", "ws-1", "db", "db", "ws-2"]})


def test_pandas_frames_pass_under_the_same_bound():
    assert to_pandas_bounded(EVENTS, max_rows=5) is EVENTS
    with pytest.raises(GraphTooLarge, match="more than 4 rows"):
        to_pandas_bounded(EVENTS, max_rows=4)
    with pytest.raises(TypeError):
        to_pandas_bounded([1, 2, 3])


def test_the_message_says_how_to_aggregate_and_how_to_raise_the_bound():
    with pytest.raises(GraphTooLarge) as caught:
        to_pandas_bounded(EVENTS, max_rows=4, hint=pair_hint("user", "host"))
    message = str(caught.value)
    assert "df.groupBy('user', 'host').count() for one edge per pair" in message
    assert "max_rows= (max_edges=, max_events=)" in message
    with pytest.raises(GraphTooLarge, match=r"df.groupBy\('src', 'dst'\)"):  # no columns known: the generic hint
        to_pandas_bounded(EVENTS, max_rows=4)

"""Graph layout (hunthub.graph.layout): deterministic, finite, and it puts connected nodes near each other."""

import numpy as np
import pytest

from hunthub.graph.layout import layout, unique_edges


def communities(k: int, size: int, inside: int, across: int, seed: int = 1):
    """k groups of `size` nodes, `inside` random edges per group, `across` random edges between any nodes."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, k, inside * k)
    src = group * size + rng.integers(0, size, group.size)
    dst = group * size + rng.integers(0, size, group.size)
    src = np.r_[src, rng.integers(0, k * size, across)]
    dst = np.r_[dst, rng.integers(0, k * size, across)]
    return k * size, src, dst


def mean_distance(pos, a, b) -> float:
    return float(np.hypot(*(pos[a] - pos[b]).T).mean())


def test_same_seed_same_layout_other_seed_other_layout():
    n, src, dst = communities(5, 40, 150, 30)
    first = layout(n, src, dst, seed=3)
    assert np.array_equal(first, layout(n, src, dst, seed=3))
    assert not np.allclose(first, layout(n, src, dst, seed=4))


@pytest.mark.parametrize(("k", "size"), [(4, 25), (40, 250)])  # exact repulsion, and the multilevel mesh path
def test_positions_are_finite_and_connected_nodes_are_close(k, size):
    n, src, dst = communities(k, size, inside=3 * size, across=k * size // 10)
    pos = layout(n, src, dst)
    assert pos.shape == (n, 2) and pos.dtype == np.float32
    assert np.isfinite(pos).all()
    rng = np.random.default_rng(0)
    random_pairs = rng.integers(0, n, (2, 5000))
    edge_length = mean_distance(pos, src, dst)
    assert edge_length < 0.5 * mean_distance(pos, *random_pairs)
    # members of a community end up nearer each other than nodes in general
    a = rng.integers(0, n, 5000)
    same = (a // size) * size + rng.integers(0, size, a.size)
    assert mean_distance(pos, a, same) < 0.6 * mean_distance(pos, *random_pairs)


def test_leaves_sit_around_their_hub_each_on_its_own_spot():
    hubs = np.repeat([0, 1], 60)
    leaves = np.arange(2, 122)
    src, dst = np.r_[hubs, 0], np.r_[leaves, 1]  # two stars, hubs joined
    pos = layout(122, src, dst)
    assert len({tuple(p) for p in pos.round(5)}) == 122
    near_own = np.hypot(*(pos[leaves] - pos[hubs]).T)
    near_other = np.hypot(*(pos[leaves] - pos[1 - hubs]).T)
    assert (near_own < near_other).all()


def test_nodes_with_the_same_neighbours_are_spread_not_stacked():
    # 40 processes each seen with the same user and host only: forces alone put them on one spot
    procs = np.arange(2, 42)
    src = np.r_[np.zeros(40, int), np.ones(40, int), 0]
    dst = np.r_[procs, procs, 1]
    pos = layout(42, src, dst)
    assert len({tuple(p) for p in pos[procs].round(5)}) == 40


def test_nodes_without_edges_go_beside_the_graph():
    n, src, dst = communities(3, 30, 80, 10)
    pos = layout(n + 25, src, dst)  # 25 extra nodes that no edge touches
    assert np.isfinite(pos).all()
    assert pos[n:, 0].min() > pos[:n, 0].max()


@pytest.mark.parametrize(
    ("n", "src", "dst"),
    [(0, [], []), (1, [], []), (1, [0], [0]), (3, [], []), (2, [0, 0, 1], [1, 1, 0]), (5, [2, 2], [2, 2])],
)
def test_degenerate_graphs(n, src, dst):
    pos = layout(n, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64))
    assert pos.shape == (n, 2) and np.isfinite(pos).all()


def test_unique_edges_are_undirected_without_loops_and_counted():
    a, b, counts = unique_edges(4, np.array([0, 1, 2, 2, 3]), np.array([1, 0, 2, 3, 2]))
    assert a.tolist() == [0, 2] and b.tolist() == [1, 3] and counts.tolist() == [2, 2]

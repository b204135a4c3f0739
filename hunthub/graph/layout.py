"""Node positions for the graph view, computed in the kernel with numpy alone.

A force layout in the spirit of ForceAtlas2 (linear springs on edges, repulsion proportional to the product of
the nodes' masses, mass = 1 + degree), made cheap enough for 10^6 edges:

- Repulsion is a particle-mesh field: node masses are spread onto a grid, convolved with the 2-D 1/r force
  kernel by FFT and read back at the nodes, so one iteration costs O(nodes + edges + grid^2 log grid) instead of
  O(nodes^2). Nodes closer than a grid cell barely push each other apart; at screen resolution that is a few
  pixels.
- Multilevel: hubs absorb their neighbours into ever coarser graphs; the coarsest is laid out from random
  positions, then each finer level starts from its coarser one. The global shape costs little, and the
  iterations over all edges only sort out neighbourhoods.
- Leaves (degree 1, e.g. a domain seen from one host only) take no part in the iterations: their hub carries
  their mass, and at the end they are set on a sunflower spiral around it. Nodes the forces left on one spot
  (the same neighbours) are spread the same way.

What this cannot do: use edge direction (edges count as undirected pairs; repeats only make a spring stiffer), or
place nodes closer than a grid cell apart by their forces alone, as said above.
"""

from __future__ import annotations

import numpy as np

GRID = 512  # mesh cells per side at most; fewer for small graphs
REPULSION = 1.0
GRAVITY = 0.05  # a spring to the centre: keeps disconnected components in view
EXACT_BELOW = 300  # nodes: below this, repulsion is summed pair by pair
LEAF_SPACING = 0.2  # of the median edge length
_kernels: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def unique_edges(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected node pairs without self-loops, each once (lower index first), with how often each occurred."""
    lo = np.minimum(src, dst).astype(np.int64)
    hi = np.maximum(src, dst).astype(np.int64)
    keep = lo != hi
    keys, counts = np.unique(lo[keep] * n + hi[keep], return_counts=True)
    return (keys // n).astype(np.int64), (keys % n).astype(np.int64), counts


def default_iterations(edges: int) -> int:
    # At the finest level, where an iteration costs about a pass over the edges; the coarse levels did the rest.
    return int(np.clip(4e6 / max(edges, 1), 30, 100))


def layout(n: int, src: np.ndarray, dst: np.ndarray, *, seed: int = 0, iterations: int | None = None) -> np.ndarray:
    """(n, 2) float32 positions for nodes 0..n-1 joined by edges src[k]-dst[k]; the same seed, the same layout."""
    a, b, counts = unique_edges(n, np.asarray(src), np.asarray(dst))
    return layout_unique(n, a, b, counts, seed=seed, iterations=iterations)


def layout_unique(
    n: int, a: np.ndarray, b: np.ndarray, counts: np.ndarray, *, seed: int = 0, iterations: int | None = None
) -> np.ndarray:
    """layout() for edges already reduced by unique_edges()."""
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    degree = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    leaf_a = degree[a] == 1
    leaf_b = (degree[b] == 1) & ~leaf_a  # of a pair joined only to each other, one stays in the core
    leaf = np.zeros(n, bool)
    leaf[a[leaf_a]] = True
    leaf[b[leaf_b]] = True
    leaves = np.concatenate([a[leaf_a], b[leaf_b]])
    hubs = np.concatenate([b[leaf_a], a[leaf_b]])

    lonely = degree == 0
    core = np.flatnonzero(~leaf & ~lonely)
    index = np.full(n, -1, np.int64)
    index[core] = np.arange(core.size)
    inner = ~leaf[a] & ~leaf[b]
    graph = Level(index[a[inner]], index[b[inner]], 1.0 + np.log(counts[inner]), 1.0 + degree[core])
    iterations = default_iterations(a.size) if iterations is None else iterations
    core_pos = _multilevel(graph, iterations, rng)

    # Stacked nodes and leaves sit a fraction of a typical edge apart: a tidy blob at any zoom.
    spacing = LEAF_SPACING * (np.median(np.hypot(*(core_pos[graph.a] - core_pos[graph.b]).T)) if graph.a.size else 1.0)
    if core.size > 1:  # in dense graphs, edges are long compared to the room each node has
        spacing = min(spacing, 0.5 * np.ptp(core_pos, axis=0).max() / np.sqrt(n))
    spacing = spacing if spacing > 0 else 1.0
    pos = np.zeros((n, 2))
    pos[core] = _unstack(core_pos, spacing)
    if leaves.size:
        pos[leaves] = pos[hubs] + spacing * _sunflower(hubs)
    if lonely.any():
        pos[lonely] = _beside(pos[~lonely], np.flatnonzero(lonely).size, spacing)
    pos -= pos.mean(axis=0)
    return pos.astype(np.float32)


class Level:
    """A graph for the force iterations: edges a-b (each pair once) with weights, node masses."""

    def __init__(self, a: np.ndarray, b: np.ndarray, weight: np.ndarray, mass: np.ndarray):
        self.a, self.b, self.weight, self.mass = a, b, weight.astype(np.float64), mass.astype(np.float64)
        self.n = mass.size

    def coarsen(self, rng) -> tuple[Level, np.ndarray] | None:
        """Merge every node into its heaviest neighbour, if heavier than itself (hubs absorb their surroundings);
        the coarser graph and each node's cluster there, or None when that no longer shrinks the graph much."""
        if self.a.size == 0:
            return None
        priority = self.mass + rng.uniform(0, 0.5, self.n)  # random tie-break among equal masses
        parent = np.arange(self.n)
        best = priority.copy()
        for u, v in ((self.a, self.b), (self.b, self.a)):
            order = np.lexsort((priority[v], u))  # per u, its neighbours by rising priority: the last wins
            last = np.r_[u[order][1:] != u[order][:-1], True]
            cand_u, cand_v = u[order][last], v[order][last]
            better = priority[cand_v] > best[cand_u]
            parent[cand_u[better]] = cand_v[better]
            best[cand_u[better]] = priority[cand_v[better]]
        labels, cluster = np.unique(parent, return_inverse=True)
        if labels.size > 0.8 * self.n:
            return None
        ca, cb = cluster[self.a], cluster[self.b]
        keep = ca != cb
        lo, hi = np.minimum(ca[keep], cb[keep]), np.maximum(ca[keep], cb[keep])
        keys, inverse = np.unique(lo * labels.size + hi, return_inverse=True)
        weight = np.bincount(inverse, self.weight[keep], keys.size)
        mass = np.bincount(cluster, self.mass, labels.size)
        return Level(keys // labels.size, keys % labels.size, weight, mass), cluster


def _multilevel(graph: Level, iterations: int, rng) -> np.ndarray:
    """Lay out ever coarser versions of the graph first: the coarse ones fix the global shape cheaply, each finer one
    only has to sort out its neighbourhoods (random starts at 10^5 nodes end tangled after any affordable number of
    iterations)."""
    levels, maps = [graph], []
    while levels[-1].n > 200 and (step := levels[-1].coarsen(rng)) is not None:
        levels.append(step[0])
        maps.append(step[1])
    radius = np.sqrt(graph.mass.sum() / GRAVITY)  # where gravity and the whole graph's repulsion balance
    angle = rng.uniform(0, 2 * np.pi, levels[-1].n)
    r = radius * np.sqrt(rng.uniform(0, 1, levels[-1].n))
    pos = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    pos = _forces(levels[-1], pos, max(iterations, 200), 0.1)
    for level, cluster in zip(levels[-2::-1], maps[::-1], strict=True):
        spread = np.sqrt(level.mass)[:, None] * rng.normal(0, 0.5, (level.n, 2))  # members start around their cluster
        its = iterations if level is graph else default_iterations(level.a.size)
        pos = _forces(level, pos[cluster] + spread, its, 0.02)
    return pos


def _forces(g: Level, pos: np.ndarray, iterations: int, heat0: float) -> np.ndarray:
    n, a, b, mass = g.n, g.a, g.b, g.mass
    if n < 2:
        return pos * 0
    grid = int(np.clip(2 ** np.ceil(np.log2(2 * np.sqrt(n))), 32, GRID))
    field = _exact_field if n <= EXACT_BELOW else lambda p, m: _field(p, m, grid)
    for it in range(iterations):
        heat = heat0 * (1 - it / iterations) ** 2 + 0.002  # cooling: big moves first, then settle
        extent = np.ptp(pos, axis=0).max()
        pull = np.zeros_like(pos)
        if a.size:
            delta = (pos[b] - pos[a]) * g.weight[:, None]
            for k in (0, 1):
                pull[:, k] = np.bincount(a, delta[:, k], n) - np.bincount(b, delta[:, k], n)
        center = np.average(pos, axis=0, weights=mass)
        move = REPULSION * field(pos, mass) + pull / mass[:, None] - GRAVITY * (pos - center)
        length = np.hypot(move[:, 0], move[:, 1])
        limit = heat * extent
        move *= np.minimum(1.0, limit / np.maximum(length, 1e-12))[:, None]
        pos += move
    return pos


def _exact_field(pos: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """_field() summed over all pairs: affordable for small graphs, where the mesh would be too coarse."""
    dx = pos[:, 0, None] - pos[None, :, 0]
    dy = pos[:, 1, None] - pos[None, :, 1]
    r2 = dx * dx + dy * dy
    r2[r2 == 0] = np.inf  # itself, and nodes on the very same spot: no direction to push
    inv = mass[None, :] / r2
    return np.column_stack([(dx * inv).sum(axis=1), (dy * inv).sum(axis=1)])


def _field(pos: np.ndarray, mass: np.ndarray, g: int) -> np.ndarray:
    """Sum over j of mass_j * (x - x_j) / |x - x_j|^2 at every node, on a g x g mesh (cloud-in-cell)."""
    lo = pos.min(axis=0)
    cell = max(np.ptp(pos, axis=0).max(), 1e-9) / (g - 2)
    grid_pos = (pos - lo) / cell
    i = np.minimum(grid_pos.astype(np.int64), g - 2)
    f = grid_pos - i
    corners = [(0, 0, (1 - f[:, 0]) * (1 - f[:, 1])), (1, 0, f[:, 0] * (1 - f[:, 1])),
               (0, 1, (1 - f[:, 0]) * f[:, 1]), (1, 1, f[:, 0] * f[:, 1])]  # fmt: skip
    flat = [(i[:, 0] + dx) * g + (i[:, 1] + dy) for dx, dy, _ in corners]
    rho = np.zeros(g * g)
    for idx, (_, _, w) in zip(flat, corners, strict=True):
        rho += np.bincount(idx, w * mass, g * g)
    kx, ky = _kernel(g)
    spectrum = np.fft.rfft2(rho.reshape(g, g), s=(2 * g, 2 * g))
    out = np.empty_like(pos)
    for k, kernel in enumerate((kx, ky)):
        field = np.fft.irfft2(spectrum * kernel, s=(2 * g, 2 * g))[:g, :g].ravel()
        out[:, k] = sum(field[idx] * w for idx, (_, _, w) in zip(flat, corners, strict=True))
    return out / cell


def _kernel(g: int) -> tuple[np.ndarray, np.ndarray]:
    """FFTs of the 2-D repulsion kernel r / |r|^2 (softened within a cell) on the zero-padded 2g x 2g mesh."""
    if g not in _kernels:
        d = np.fft.fftfreq(2 * g, 1 / (2 * g))  # offsets 0, 1, ..., g-1, -g, ..., -1: circular layout
        dx, dy = np.meshgrid(d, d, indexing="ij")
        r2 = dx**2 + dy**2 + 0.5
        _kernels[g] = (np.fft.rfft2(dx / r2), np.fft.rfft2(dy / r2))
    return _kernels[g]


def _unstack(pos: np.ndarray, spacing: float) -> np.ndarray:
    """Spread nodes that ended up on one spot (e.g. processes seen with the same user and host only: the mesh cannot
    push apart nodes within one of its cells) on a sunflower around that spot."""
    if pos.shape[0] < 2:
        return pos
    cells = np.floor((pos - pos.min(axis=0)) / spacing).astype(np.int64)
    _, group = np.unique(cells[:, 0] * (cells[:, 1].max() + 1) + cells[:, 1], return_inverse=True)
    sizes = np.bincount(group)
    if sizes.max() < 2:
        return pos
    centre = np.column_stack([np.bincount(group, pos[:, k]) for k in (0, 1)]) / sizes[:, None]
    offsets = spacing * _sunflower(group) * (sizes[group] > 1)[:, None]
    return centre[group] + offsets


def _beside(placed: np.ndarray, k: int, spacing: float) -> np.ndarray:
    """Nodes without edges on a disc to the right of the rest: repulsion alone would scatter them around it."""
    offsets = spacing * _sunflower(np.zeros(k, np.int64))
    if not placed.size:
        return offsets
    radius = spacing * np.sqrt(k)
    right = placed[:, 0].max() + radius + 4 * spacing
    return offsets + [right, (placed[:, 1].min() + placed[:, 1].max()) / 2]


def _sunflower(hubs: np.ndarray) -> np.ndarray:
    """Unit-spaced offsets placing each hub's leaves on an evenly filled disc around it (rank k at radius sqrt(k))."""
    order = np.argsort(hubs, kind="stable")
    sorted_hubs = hubs[order]
    starts = np.flatnonzero(np.r_[True, sorted_hubs[1:] != sorted_hubs[:-1]])
    sizes = np.diff(np.r_[starts, sorted_hubs.size])
    rank = np.empty(hubs.size, np.int64)
    rank[order] = np.arange(hubs.size) - np.repeat(starts, sizes)
    r = np.sqrt(rank + 1.0)
    theta = rank * (np.pi * (3 - np.sqrt(5)))  # the golden angle: no two leaves line up
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])

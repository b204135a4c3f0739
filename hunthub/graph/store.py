"""Where the offline view's big graphs live on disk, and which names in there may be served.

A graph past the inline size would exceed the kernel's output rate limit and bloat the notebook, so the kernel
(hunthub.graph.view) writes its data under graph_dir() and the Jupyter server extension (hunthub.graph.server)
serves it to the analyst's page. This module is what the two agree on: the directory, the shape of a graph id, the
part names, and when old graphs go (prune()). Both ends import it; it imports nothing but the standard library, so
the Jupyter server does not load pandas or numpy just to serve files.

What this cannot do: protect the data from other accounts by itself (it relies on the directory being the
analyst's own: the view creates it 0700, its files 0600), or bring back a pruned graph; a notebook showing one says
so and asks to re-run its cell.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from hunthub.kernel_env import KernelEnv

GRAPH_ID = re.compile(r"[0-9a-f]{32}")
# The fixed binary parts and the lazily loaded node label/attribute chunks: nothing else is ever served.
BINARY_PARTS = ("pos.f32", "edges.u32", "types.u8", "degree.u32")
CHUNK_PART = re.compile(r"nodes-(0|[1-9][0-9]{0,5})\.json")
MAX_AGE_DAYS = 14
MAX_BYTES = 2 << 30


def graph_dir(env=os.environ) -> Path:
    """Where big graphs' data goes: private to the analyst, outside the notebook tree (not synced, not listed)."""
    return Path(KernelEnv.from_environ(env).graph_dir or Path.home() / ".hunthub" / "graphs")


def valid_id(graph_id: str) -> bool:
    return bool(GRAPH_ID.fullmatch(graph_id))


def valid_part(part: str) -> bool:
    return part in BINARY_PARTS or bool(CHUNK_PART.fullmatch(part))


def prune(directory: Path, max_age_days: float = MAX_AGE_DAYS, max_bytes: int = MAX_BYTES) -> list[str]:
    """Remove graphs older than max_age_days, then the oldest until the rest fit in max_bytes. Returns the ids removed.

    A notebook showing a removed graph says so and asks to re-run its cell."""
    if not directory.is_dir():
        return []
    graphs = []
    for entry in directory.iterdir():
        if entry.name.startswith(".tmp-") and entry.stat().st_mtime < time.time() - 3600:
            shutil.rmtree(entry, ignore_errors=True)  # a kernel died while writing it
        elif entry.is_dir() and not entry.is_symlink() and valid_id(entry.name):
            files = [f for f in entry.iterdir() if f.is_file()]
            graphs.append((entry.stat().st_mtime, sum(f.stat().st_size for f in files), entry))
    graphs.sort()
    total = sum(size for _, size, _ in graphs)
    cutoff = time.time() - max_age_days * 86400
    removed = []
    for mtime, size, path in graphs:
        if mtime >= cutoff and total <= max_bytes:
            break
        shutil.rmtree(path, ignore_errors=True)
        total -= size
        removed.append(path.name)
    return removed

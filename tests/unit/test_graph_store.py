"""hunthub.graph.store: which graph ids and part names are ever served, where graphs live, and how old ones go."""

import os
import time

import pytest

from hunthub.graph import store


@pytest.fixture
def graph_dir(tmp_path, monkeypatch):
    directory = tmp_path / "graphs"
    monkeypatch.setenv("HUNTHUB_KERNEL_GRAPH_DIR", str(directory))
    return directory


@pytest.mark.parametrize(
    ("graph_id", "ok"),
    [("0123456789abcdef0123456789abcdef", True), ("0123456789ABCDEF0123456789abcdef", False),
     ("0123456789abcdef0123456789abcde", False), ("../../etc", False), ("", False),
     ("0123456789abcdef0123456789abcdef\n", False)],
)  # fmt: skip
def test_graph_ids_are_32_lowercase_hex_digits(graph_id, ok):
    assert store.valid_id(graph_id) is ok


@pytest.mark.parametrize(
    ("part", "ok"),
    [("pos.f32", True), ("edges.u32", True), ("nodes-0.json", True), ("nodes-12.json", True),
     ("nodes-01.json", False), ("nodes-.json", False), ("nodes-1.json/..", False), ("../pos.f32", False),
     ("pos.f32 ", False), ("meta.json", False), (".bashrc", False)],
)  # fmt: skip
def test_only_the_known_parts_are_served(part, ok):
    assert store.valid_part(part) is ok


def test_prune_removes_old_graphs_then_the_oldest_beyond_the_size_cap(graph_dir):
    graph_dir.mkdir()
    now = time.time()
    ages = {"a" * 32: 20, "b" * 32: 3, "c" * 32: 2, "d" * 32: 1}  # days
    for graph_id, days in ages.items():
        (graph_dir / graph_id).mkdir()
        (graph_dir / graph_id / "pos.f32").write_bytes(b"x" * 1000)
        os.utime(graph_dir / graph_id, (now - days * 86400,) * 2)
    (graph_dir / "notes").mkdir()  # not ours: never touched
    os.utime(graph_dir / "notes", (now - 100 * 86400,) * 2)
    stale = graph_dir / (".tmp-" + "e" * 32)
    stale.mkdir()
    os.utime(stale, (now - 7200,) * 2)
    assert store.prune(graph_dir, max_age_days=14, max_bytes=2500) == ["a" * 32, "b" * 32]
    assert sorted(p.name for p in graph_dir.iterdir()) == ["c" * 32, "d" * 32, "notes"]


def test_graph_dir_defaults_to_the_analysts_home(monkeypatch, tmp_path):
    monkeypatch.delenv("HUNTHUB_KERNEL_GRAPH_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert store.graph_dir() == tmp_path / ".hunthub" / "graphs"

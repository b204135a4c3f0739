"""hunthub.graph's modules import each other in one direction only (no circle), each can be imported alone, the
light ones stay light, and every public name of the earlier layout is still where notebooks and the kernel find it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import hunthub.graph
from hunthub.graph import bounds, graphistry, graphistry_client, notebook, timeouts

PACKAGE = Path(hunthub.graph.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# Each module imports only modules after it, as the dependency drawing in hunthub/graph/__init__.py shows.
LAYERS = [
    "__init__",
    "graphistry",
    "notebook",
    "graphistry_client",
    "timeouts",
    "bounds",
    "server",
    "view",
    "layout",
    "store",
]


def graph_imports(module: str) -> set[str]:
    """The hunthub.graph modules `module` imports, at the top or inside a function; "__init__" stands for a name
    taken from the package itself (`from hunthub import graph`, `from hunthub.graph import show`)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hunthub.graph."):
                    found.add(alias.name.split(".")[2])
                elif alias.name == "hunthub.graph":
                    found.add("__init__")
        elif isinstance(node, ast.ImportFrom):
            base = "hunthub.graph" if node.level == 1 else node.module or ""
            if node.level == 1 and node.module:
                base = f"hunthub.graph.{node.module}"
            if base.startswith("hunthub.graph."):
                found.add(base.split(".")[2])
            elif base == "hunthub.graph":
                found |= {a.name if a.name in MODULES else "__init__" for a in node.names}
            elif base == "hunthub" and any(a.name == "graph" for a in node.names):
                found.add("__init__")
    found.discard(module)
    return found


def test_every_module_has_a_place_in_the_layers():
    assert sorted(LAYERS) == sorted([*MODULES, "__init__"])


@pytest.mark.parametrize("module", LAYERS)
def test_imports_point_one_way_only(module):
    below = LAYERS[LAYERS.index(module) + 1 :]
    assert graph_imports(module) <= set(below), f"{module} imports {graph_imports(module) - set(below)}"


def test_the_package_hands_out_the_notebook_api_only():
    assert graph_imports("__init__") == {"notebook"}
    assert set(hunthub.graph._NOTEBOOK_API) == set(notebook.__all__)
    for name in notebook.__all__:
        assert getattr(hunthub.graph, name) is getattr(notebook, name)
    from hunthub.graph import show

    assert show is notebook.show
    with pytest.raises(AttributeError):
        _ = hunthub.graph.graph_dir  # the view's file store is hunthub.graph.store, not notebook API


def test_the_earlier_import_path_has_every_name_it_had():
    """`from hunthub.graph import graphistry as hg` in older notebooks and in the kernel: the same objects."""
    owners = (notebook, graphistry_client, timeouts, bounds)
    for name in graphistry.__all__:
        owner = next(m for m in owners if name in vars(m))
        assert getattr(graphistry, name) is getattr(owner, name), name
    assert {"show", "upload", "register_from_env", "hypergraph_from_spark", "GraphTooLarge", "install_timeouts"} <= set(
        graphistry.__all__
    )


HEAVY = ("pandas", "numpy", "graphistry", "requests", "pyspark")


@pytest.mark.parametrize("module", ["hunthub.graph", *(f"hunthub.graph.{m}" for m in MODULES)])
def test_each_module_imports_alone_in_a_fresh_interpreter(module):
    code = f"import sys, json, {module}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    if module in ("hunthub.graph", "hunthub.graph.store", "hunthub.graph.server"):
        # the Jupyter server serves graph files without loading the data stack
        assert not loaded & {"pandas", "numpy", "graphistry"}, loaded
    if module in ("hunthub.graph.graphistry", "hunthub.graph.notebook", "hunthub.graph.graphistry_client"):
        # the kernel imports these at start to log in: pygraphistry and pandas come only when a graph is made
        assert not loaded, loaded

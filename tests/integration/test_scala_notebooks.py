"""The Scala tutorial notebooks run top to bottom on the Scala kernel, and their answers match the data."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from hunthub import catalog
from tests.integration.notebooks import cell_text, run_notebook, tagged

pytestmark = pytest.mark.integration


def _table_rows(text: str) -> list[list[str]]:
    """Data rows of the text fallback of a table output (`|a|b|` lines after the header)."""
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in text.splitlines() if ln.startswith("|")]
    return rows[1:]


def _components(edges: set[tuple[str, str]]) -> list[int]:
    parent: dict[tuple, tuple] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for user, host in edges:
        parent[find(("user", user))] = find(("host", host))
    return sorted(Counter(find(v) for v in list(parent)).values(), reverse=True)


def test_graphx_authentication_graph(spark_cluster, tmp_path):
    table = ds.dataset(
        catalog.local_path(spark_cluster.settings.warehouse) / "auth_events", format="parquet", partitioning="hive"
    ).to_table()
    logons = table.filter(pc.equal(table["event_id"], 4624))
    edges = set(zip(logons["user"].to_pylist(), logons["dst_host"].to_pylist(), strict=True))
    users = {u for u, _ in edges}
    hosts = {h for _, h in edges}
    hosts_of = defaultdict(set)
    for user, host in edges:
        hosts_of[user].add(host)

    nb = run_notebook("08-scala-graphx-authentication-graph.ipynb", spark_cluster.kernel_env(user="analyst1"), tmp_path)

    size = re.search(r"(\d+) vertices .*, (\d+) edges", cell_text(tagged(nb, "graph-size")[0]))
    assert (int(size.group(1)), int(size.group(2))) == (len(users) + len(hosts), len(edges))

    # fan-out: the account that reached the most distinct hosts (ties broken by name, as the notebook sorts)
    top_account, top_hosts = _table_rows(cell_text(tagged(nb, "fan-out")[0]))[0]
    expected = min(hosts_of, key=lambda u: (-len(hosts_of[u]), u))
    assert (top_account, int(top_hosts)) == (expected, len(hosts_of[expected]))

    # PageRank on account -> host edges: accounts have no in-links, so a host's rank grows with the sum of
    # 1/out-degree over the accounts logging on to it; the top host must have the largest such sum
    score = defaultdict(float)
    for user, host in edges:
        score[host] += 1 / len(hosts_of[user])
    rows = _table_rows(cell_text(tagged(nb, "pagerank")[0]))
    assert len(rows) == 10 and all(kind == "host" for _, kind, _ in rows)
    assert score[rows[0][0]] == pytest.approx(max(score.values()), rel=1e-9)

    sizes = _components(edges)
    components = re.search(
        r"(\d+) connected components; the largest has (\d+) of (\d+)", cell_text(tagged(nb, "components")[0])
    )
    assert tuple(int(g) for g in components.groups()) == (len(sizes), sizes[0], len(users) + len(hosts))

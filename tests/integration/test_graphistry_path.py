"""The Graphistry path from a real PySpark kernel on the real cluster: Spark events collected under a bound,
turned into a hypergraph, uploaded by pygraphistry to the stand-in Graphistry server on loopback."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from tests.graphistry_standin import GraphistryStandIn
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration

CLIENT_URL = "https://graphs.soc.example"


@pytest.fixture(scope="module")
def standin():
    with GraphistryStandIn() as s:
        yield s


@pytest.fixture(scope="module")
def kernel(spark_cluster, standin, tmp_path_factory):
    key = tmp_path_factory.mktemp("home") / "graphistry.json"
    key.write_text(json.dumps({"personal_key_id": standin.key_id, "personal_key_secret": standin.key_secret}))
    key.chmod(0o600)
    env = spark_cluster.kernel_env(
        user="analyst1",
        # what hub/config.py::graphistry_environment and the spawner give an analyst's server
        HUNTHUB_KERNEL_GRAPHISTRY_SERVER=standin.server,
        HUNTHUB_KERNEL_GRAPHISTRY_PROTOCOL="http",
        HUNTHUB_KERNEL_GRAPHISTRY_CLIENT_URL=CLIENT_URL,
        HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY="organization",
        HUNTHUB_KERNEL_GRAPHISTRY_TIMEOUT="10",
        HUNTHUB_KERNEL_GRAPHISTRY_CREDENTIALS=str(key),
    )
    k = Kernel(env)
    yield k
    k.shutdown()


def run(kernel, code):
    result = kernel.run(code)
    assert result.status == "ok", "\n".join(result.error.get("traceback", []))
    return result


def test_spark_events_become_a_hypergraph_uploaded_to_graphistry(kernel, standin, auth_events):
    result = run(
        kernel,
        "from hunthub.graph import graphistry as hg\n"
        "failures = spark.table('auth_events').where(\"outcome = 'failure'\")\n"
        "g = hg.hypergraph_from_spark(failures, ['user', 'src_ip'], max_events=100_000)\n"
        "hg.show(g)",
    )

    failures = auth_events.filter(pc.equal(auth_events["outcome"], "failure"))
    expected = sorted(
        (f"user::{u}", f"src_ip::{ip}")
        for u, ip in zip(failures["user"].to_pylist(), failures["src_ip"].to_pylist(), strict=True)
    )
    assert expected, "the demo data has failed logons"
    assert len(standin.datasets) == 1
    (dataset,) = standin.datasets.values()
    edges = dataset.edges.to_pandas()
    assert len(edges) == len(expected)
    assert sorted(zip(edges["src"], edges["dst"], strict=True)) == expected
    assert set(dataset.nodes.to_pandas()["nodeID"]) == {n for pair in expected for n in pair}
    assert [s["mode"] for s in dataset.shares] == ["organization"]
    # the kernel logged in with the analyst's personal key before uploading
    routes = standin.routes()
    assert routes.index(("GET", "/api/v2/auth/pkey/jwt/")) < routes.index(("POST", "/api/v2/upload/datasets/"))
    assert f'<iframe src="{CLIENT_URL}/graph/graph.html?dataset={dataset.id}&amp;' in result.html


def test_collecting_more_than_the_bound_is_refused_with_advice(kernel, auth_events):
    result = run(
        kernel,
        "from hunthub.graph import graphistry as hg\n"
        "try:\n"
        "    hg.edges_from_spark(spark.table('auth_events'), 'user', 'dst_host', max_edges=100)\n"
        "except hg.GraphTooLarge as e:\n"
        "    print('REFUSED', e)\n",
    )
    assert "REFUSED This DataFrame has more than 100 rows" in result.text
    assert "df.groupBy('user', 'dst_host').count()" in result.text

    # under the bound every row comes back; the aggregate the advice suggests fits
    pairs = {(u, h) for u, h in zip(auth_events["user"].to_pylist(), auth_events["dst_host"].to_pylist(), strict=True)}
    result = run(
        kernel,
        "pairs = spark.table('auth_events').groupBy('user', 'dst_host').count()\n"
        f"pdf = hg.to_pandas_bounded(pairs, max_rows={len(pairs)})\n"
        "print('ROWS', len(pdf), int(pdf['count'].sum()))",
    )
    assert f"ROWS {len(pairs)} {auth_events.num_rows}" in result.text

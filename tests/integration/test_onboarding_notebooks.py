"""The onboarding notebooks (RDDs, DataFrames, Parquet vs CSV, SQL views, MLlib) run top to bottom on the PySpark
kernel against the real cluster, and what they print is what the data holds (computed here with pandas)."""

from __future__ import annotations

import json
import pwd
import re
from types import SimpleNamespace

import pytest

from hunthub import catalog, cluster
from hunthub.spawner.local import HuntHubLocalSpawner
from tests.integration.notebooks import NOTEBOOKS, cell_text, run_notebook, tagged

pytestmark = pytest.mark.integration

ONBOARDING = [
    "01-rdds-raw-log-lines.ipynb",
    "02-dataframes-with-a-schema.ipynb",
    "03-parquet-and-csv.ipynb",
    "04-spark-sql-and-views.ipynb",
    "05-pandas-and-a-logon-hypergraph.ipynb",
    "06-streaming-ingest.ipynb",
    "07-mllib-anomalous-hosts.ipynb",
]


@pytest.fixture(scope="module")
def events(auth_events):
    return auth_events.to_pandas()


@pytest.fixture(scope="module")
def scratch(spark_cluster):
    """A scratch space prepared as the spawner prepares an analyst's: the executors' account may write there."""
    root = catalog.local_path(spark_cluster.settings.warehouse) / "users"
    spawner = HuntHubLocalSpawner(
        user=SimpleNamespace(name="learner"), scratch_root=str(root), scratch_writers=[cluster.SPARK_USER]
    )
    spawner.prepare_scratch(pwd.getpwuid(0))
    return spawner.scratch_dir


@pytest.fixture(scope="module")
def run(spark_cluster, scratch, tmp_path_factory):
    env = spark_cluster.kernel_env(
        user="learner", HUNTHUB_KERNEL_WARM_DRIVER="0", HUNTHUB_KERNEL_SCRATCH=scratch.as_uri()
    )
    done = {}

    def execute(name: str):
        if name not in done:
            done[name] = run_notebook(name, env, tmp_path_factory.mktemp(name.split("-")[0]))
        return done[name]

    return execute


def text(nb, tag: str) -> str:
    (cell,) = tagged(nb, tag)
    return "\n".join(line for line in cell_text(cell).splitlines() if line.strip())


@pytest.mark.parametrize("name", ONBOARDING)
def test_stored_for_the_pyspark_kernel_without_outputs(name):
    raw = json.loads((NOTEBOOKS / name).read_text())
    assert raw["metadata"]["kernelspec"]["name"] == "hunthub-pyspark"
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_rdds_parse_raw_lines_with_a_python_function(run, events, scratch):
    nb = run("01-rdds-raw-log-lines.ipynb")
    assert (scratch / "raw" / "auth_log").is_dir()
    assert f"lines: {len(events)}" in text(nb, "lines")

    failures = events[events.event_id == 4625].groupby("user").size().reset_index(name="n")
    top = failures.sort_values(["n", "user"], ascending=[False, True]).head(5)
    assert text(nb, "top-failures").splitlines() == [f"{u}: {n} failures" for u, n in zip(top.user, top.n, strict=True)]

    spread = events.groupby("dst_host").user.nunique().reset_index(name="n")
    busiest = spread.sort_values(["n", "dst_host"], ascending=[False, True]).head(3)
    assert text(nb, "busiest-hosts").splitlines() == [
        f"{h}: {n} accounts" for h, n in zip(busiest.dst_host, busiest.n, strict=True)
    ]


def test_dataframes_join_a_hand_made_watch_list(run, events):
    nb = run("02-dataframes-with-a-schema.ipynb")
    by_type = events.groupby("logon_type").agg(
        events=("event_id", "size"), failures=("outcome", lambda o: (o == "failure").sum())
    )
    assert text(nb, "by-type").splitlines() == [
        f"logon_type {t}: {r.events} events, {r.failures} failures" for t, r in by_type.iterrows()
    ]
    failed = events[events.event_id == 4625].groupby("src_ip").size().reset_index(name="n")
    watched = failed.sort_values(["n", "src_ip"], ascending=[False, True]).src_ip.head(3)
    hits = events[events.src_ip.isin(watched)].groupby("src_ip").agg(n=("user", "size"), accounts=("user", "nunique"))
    hits = hits.reset_index().sort_values(["n", "src_ip"], ascending=[False, True])
    lines = text(nb, "watch-hits").splitlines()
    assert lines[:-1] == [
        f"{ip}: {n} events, {a} accounts" for ip, n, a in zip(hits.src_ip, hits.n, hits.accounts, strict=True)
    ]
    assert lines[-1] == "unmatched watch-list IPs: 1"


def test_parquet_is_smaller_and_answers_the_same(run, events):
    nb = run("03-parquet-and-csv.ipynb")
    sizes = dict(re.findall(r"^(CSV|Parquet): ([\d,]+) bytes", text(nb, "sizes"), re.M))
    assert int(sizes["CSV"].replace(",", "")) > 2 * int(sizes["Parquet"].replace(",", ""))
    read_back = text(nb, "read-back")
    assert f"CSV rows: {len(events)}" in read_back and f"Parquet rows: {len(events)}" in read_back
    assert "same rows: True" in read_back
    assert "same answer: True" in text(nb, "query")


def test_sql_views_find_failure_bursts_and_spread(run, events):
    nb = run("04-spark-sql-and-views.ipynb")
    spread = events[events.event_id == 4625].groupby("user").dst_host.nunique()
    assert f"accounts failing on 5+ hosts: {(spread >= 5).sum()}" in text(nb, "spread")

    auth = events[events.event_id.isin([4624, 4625])].sort_values(["user", "src_ip", "event_time", "event_id"])
    failed = (auth.event_id == 4625).astype(int)
    before = failed.groupby([auth.user, auth.src_ip]).transform(lambda s: s.shift(1).rolling(5, min_periods=1).sum())
    expected = ((auth.event_id == 4624) & (before.fillna(0) >= 3)).sum()
    assert f"successes after 3+ failures: {expected}" in text(nb, "guessed")


def test_hypergraph_of_logons_has_every_account_and_host(run, events):
    nb = run("05-pandas-and-a-logon-hypergraph.ipynb")
    logons = events[(events.event_id == 4624) & (events.src_host != events.dst_host)]
    pairs = logons.groupby(["user", "src_host", "dst_host"]).size()
    assert f"{len(pairs)} account/source/target combinations, {len(logons)} logons" in text(nb, "to-pandas")

    reach = logons.groupby("user").dst_host.nunique().reset_index(name="n")
    top = reach.sort_values("n", ascending=False).head(5)
    shown = re.findall(r"^(\S+) logs on to (\d+) hosts$", text(nb, "reach"), re.M)
    assert [int(n) for _, n in shown] == list(top.n)  # ties may list other accounts with the same count
    assert all(int(n) == reach.set_index("user").n[u] for u, n in shown)

    users, hosts = logons.user.nunique(), len(set(logons.src_host) | set(logons.dst_host))
    graph = text(nb, "hypergraph")
    assert f"nodes: {users + hosts} ({users} accounts, {hosts} hosts)" in graph
    assert f"edges: {2 * len(pairs)}" in graph  # account -> source and source -> target, per combination

    degree = (pairs.reset_index().src_host.value_counts() * 2).add(
        pairs.reset_index().dst_host.value_counts(), fill_value=0
    )
    shown = re.findall(r"^(\S+): (\d+) edges$", text(nb, "degree"), re.M)
    assert len(shown) == 5 and all(degree[h] == int(n) for h, n in shown)
    assert int(shown[0][1]) == degree.max()

    # no Graphistry server here: the graph is drawn by the offline view, with every account and host in it
    drawn = text(nb, "show")
    assert f"GraphView({users + hosts:,} nodes" in drawn
    assert f"user: {users:,}" in drawn and f"host: {hosts:,}" in drawn
    shown_html = "".join(o.data.get("text/html", "") for o in tagged(nb, "show")[0].outputs if "data" in o)
    assert "HunthubGraph.mount" in shown_html


def test_stream_resumes_from_its_checkpoint_without_loss_or_repeats(run, events):
    nb = run("06-streaming-ingest.ipynb")
    per_day = events.groupby("date").size().sort_index()
    first, second = per_day.iloc[0], per_day.iloc[1] + per_day.iloc[2]
    assert text(nb, "first") == f"delivered {first} events, the stream read {first}, the table holds {first}"
    total = first + second
    assert text(nb, "second") == f"delivered {second} events, the stream read {second}, the table holds {total}"
    assert text(nb, "again") == f"nothing new: the stream read 0, the table holds {total}"


def test_mllib_scores_every_host(run, events):
    nb = run("07-mllib-anomalous-hosts.ipynb")
    hosts = events.dst_host.nunique()
    assert f"hosts: {hosts}" in text(nb, "features")
    model = text(nb, "model")
    assert "clusters: [0, 1, 2]" in model and f"scored hosts: {hosts}" in model
    unusual = re.findall(r"^unusual: (\S+) \(score ([\d.]+)\)", text(nb, "top"), re.M)
    assert len(unusual) == 5 and {h for h, _ in unusual} <= set(events.dst_host)
    scores = [float(s) for _, s in unusual]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0

"""The SQL tutorial notebook runs top to bottom on the Spark SQL kernel and shows what the data really holds."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from hunthub import catalog
from tests.integration.notebooks import NOTEBOOKS, cell_text, run_notebook, tagged

pytestmark = pytest.mark.integration

NAME = "09-sql-first-hunt.ipynb"


def table_rows(text: str) -> list[list[str]]:
    """The data rows of the df.show()-style tables in a cell's text: between each table's second and third rule."""
    rows, rules = [], 0
    for line in text.splitlines():
        if line.startswith("+"):
            rules = rules % 3 + 1
        elif line.startswith("|") and rules == 2:
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def rows_of(nb, tag: str) -> list[list[str]]:
    (cell,) = tagged(nb, tag)
    return table_rows(cell_text(cell))


@pytest.fixture(scope="module")
def events(spark_cluster):
    warehouse = catalog.local_path(spark_cluster.settings.warehouse)
    return ds.dataset(warehouse / "auth_events", format="parquet", partitioning="hive").to_table().to_pandas()


@pytest.fixture(scope="module")
def executed(spark_cluster, tmp_path_factory):
    env = spark_cluster.kernel_env(user="sqlhunter", HUNTHUB_KERNEL_WARM_DRIVER="0")
    return run_notebook(NAME, env, tmp_path_factory.mktemp("sql-notebook"))


def test_notebook_is_stored_for_the_sql_kernel_without_outputs():
    raw = json.loads(Path(NOTEBOOKS / NAME).read_text())
    assert raw["metadata"]["kernelspec"] == {
        "name": "hunthub-sql",
        "display_name": "Spark SQL (hunthub)",
        "language": "sql",
    }
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_every_cell_runs_without_error(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    first = next(c for c in executed.cells if c.cell_type == "code")
    assert "application 'sqlhunter'" in cell_text(first)
    assert "auth_events" in cell_text(first)


def test_event_count_and_ids(executed, events):
    ((count, first, last),) = rows_of(executed, "count")
    assert int(count) == len(events)
    assert first.startswith(str(events.event_time.min().date()))
    assert last.startswith(str(events.event_time.max().date()))

    expected = events.groupby(["event_id", "outcome"]).size()
    assert [(int(i), o, int(n)) for i, o, n in rows_of(executed, "event-ids")] == [
        (i, o, n) for (i, o), n in sorted(expected.items())
    ]


def test_logon_types_are_counted_and_named(executed, events):
    names = {2: "interactive", 3: "network", 5: "service", 10: "remote interactive (RDP)"}
    expected = [
        [str(t), names[t], str(len(g)), str(int((g.outcome == "failure").sum()))]
        for t, g in sorted(events.groupby("logon_type"))
    ]
    assert rows_of(executed, "logon-types") == expected


def test_failures_by_user_are_the_top_ten(executed, events):
    failed = events[events.event_id == 4625]
    per_user = (
        failed.groupby("user")
        .agg(
            failures=("user", "size"),
            from_hosts=("src_host", "nunique"),
            against_hosts=("dst_host", "nunique"),
            unknown_user=("failure_reason", lambda r: int((r == "unknown user").sum())),
        )
        .reset_index()
        .sort_values(["failures", "user"], ascending=[False, True])
        .head(10)
    )
    expected = [[str(v) for v in row] for row in per_user.itertuples(index=False)]
    assert rows_of(executed, "failures-by-user") == expected


def test_failing_sources_use_the_cells_own_limit(executed, events):
    failed = events[events.event_id == 4625]
    per_source = (
        failed.groupby(["src_host", "src_ip"])
        .agg(failures=("user", "size"), accounts=("user", "nunique"))
        .reset_index()
        .sort_values(["accounts", "failures", "src_host"], ascending=[False, False, True])
    )
    rows = rows_of(executed, "failures-by-source")
    expected = [[str(v) for v in row] for row in per_source.head(20).itertuples(index=False)]
    assert rows == expected
    (cell,) = tagged(executed, "failures-by-source")
    if len(per_source) > 20:
        assert "Only the first 20 rows are shown" in cell_text(cell)


def test_accounts_failing_against_many_hosts(executed, events):
    failed = events[events.event_id == 4625]
    expected = []
    for user, g in failed.groupby("user"):
        hosts = sorted(set(g.dst_host))
        if len(hosts) >= 6:
            expected.append([user, str(len(hosts)), str(len(g)), "[" + ", ".join(hosts) + "]"])
    expected.sort(key=lambda r: (-int(r[1]), r[0]))
    assert expected, "the demo data should have accounts failing against many hosts"
    (cell,) = tagged(executed, "many-hosts")
    text = cell_text(cell)
    assert "OK: create or replace temporary view failed_logons" in text
    assert table_rows(text) == expected


def test_service_account_failures(executed, events):
    failed = events[(events.event_id == 4625) & events.user.str.startswith("svc_")]
    per = (
        failed.groupby(["user", "logon_type", "dst_host"])
        .size()
        .reset_index(name="failures")
        .sort_values(["user", "failures", "dst_host"], ascending=[True, False, True])
    )
    expected = [[str(v) for v in row] for row in per.itertuples(index=False)]
    assert expected
    assert rows_of(executed, "service-accounts") == expected

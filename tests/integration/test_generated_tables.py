"""The generated security tables as an analyst's kernel sees them: all registered, documented, and joinable in
Spark to the answers the answer key states."""

from __future__ import annotations

import json

import pytest

from hunthub.data import generate
from hunthub.data.tables import ALL
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration

EVENTS = 5000  # as tests/integration/conftest.py writes them


@pytest.fixture(scope="module")
def kernel(spark_cluster):
    k = Kernel(spark_cluster.kernel_env(user="analyst1"))
    yield k
    k.shutdown()


def value(kernel: Kernel, code: str):
    result = kernel.run(f"import json\nprint('@@' + json.dumps({code}))")
    assert result.status == "ok", result.error
    return json.loads(result.text.split("@@", 1)[1])


def test_every_table_is_registered_with_its_column_comments(kernel):
    tables = value(kernel, "sorted(t.name for t in spark.catalog.listTables())")
    assert set(ALL) <= set(tables)
    comments = value(kernel, "{r.col_name: r.comment for r in spark.sql('describe zeek_conn').collect()}")
    assert comments["orig_h"] == "originator address (Zeek id.orig_h)"


def test_threat_intel_matches_in_their_validity_window_find_the_beaconing_host(kernel):
    key = generate.answer_key(events=EVENTS)["scenarios"]["c2_beaconing"]
    rows = value(
        kernel,
        """[list(r) for r in spark.sql('''
            select a.host, d.query, count(*) as lookups
            from zeek_dns d
            join threat_intel ti on d.query = ti.indicator and d.ts between ti.valid_from and ti.valid_until
            join assets a on a.ip = d.orig_h
            group by a.host, d.query''').collect()]""",
    )
    assert rows == [[key["host"], key["domain"], key["dns_lookups"]]]


def test_the_exploited_host_joins_scans_traffic_and_processes(kernel):
    key = generate.answer_key(events=EVENTS)["scenarios"]["exploitation"]
    rows = value(
        kernel,
        """[list(r) for r in spark.sql('''
            select distinct v.host, v.cve, h.orig_h
            from vuln_findings v
            join zeek_http h on h.resp_h = v.ip and h.resp_p = v.port and h.user_agent like '%jndi:%'
            join process_events p on p.host = v.host and p.parent_process_name = 'java.exe'
            where v.cvss >= 9 and v.state = 'open' ''').collect()]""",
    )
    assert rows == [[key["host"], key["cve"], key["attacker_ip"]]]

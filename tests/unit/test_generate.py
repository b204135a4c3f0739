"""The synthetic security dataset: exact sizes, determinism, schemas, joins across sources, and every planted
scenario findable in the data the way its answer key says."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from hunthub.data import generate
from hunthub.data.tables import ALL, EVENT_TABLES, SPARK_TYPES

EVENTS = 20_000


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return generate.generate(tmp_path_factory.mktemp("warehouse"), EVENTS)


@pytest.fixture(scope="module")
def t(result):
    """Every table as a DataFrame, read back from the Parquet."""
    return {name: generate.read_table(path).to_pandas() for name, path in result.paths.items()}


@pytest.fixture(scope="module")
def key(result):
    return result.key["scenarios"]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))


def in_window(df: pd.DataFrame, column: str, window: dict) -> pd.DataFrame:
    return df[(df[column] >= ts(window["start"])) & (df[column] <= ts(window["end"]))]


def entropy(s: str) -> float:
    return -sum(n / len(s) * math.log2(n / len(s)) for n in Counter(s).values())


# --- sizes, determinism, schemas ---------------------------------------------------------------------------


def test_event_tables_hold_exactly_the_requested_events(result):
    assert sum(result.rows[t.name] for t in EVENT_TABLES) == EVENTS
    assert all(result.rows[name] > 0 for name in ALL)


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(result, tmp_path):
    again = generate.generate(tmp_path / "a", EVENTS)
    for name, path in result.paths.items():
        assert generate.read_table(again.paths[name]).equals(generate.read_table(path)), name
    other = generate.generate(tmp_path / "b", EVENTS, seed=7, tables=["auth_events"])
    assert not generate.read_table(other.paths["auth_events"]).equals(generate.read_table(result.paths["auth_events"]))


def test_answer_key_is_recomputed_from_the_seed_alone(result):
    assert generate.answer_key(events=EVENTS) == result.key
    assert generate.answer_key(seed=7, events=EVENTS) != result.key
    json.dumps(result.key)  # plain JSON


def test_planted_rows_do_not_grow_with_the_dataset():
    small, large = generate.plan(10_000).planted.counts(), generate.plan(10**8).planted.counts()
    assert small == large
    assert sum(small.values()) < generate.MIN_EVENTS / 2


def test_plan_is_exact_at_large_sizes_without_generating():
    for events in (10**5 + 1, 10**7 + 3, 10**8):
        p = generate.plan(events)
        planted = sum(p.planted.counts().values())
        assert (
            p.background_rows("auth") + p.background_rows("process") + p.background_rows("network") + planted == events
        )
        # bounded memory: no chunk above the limit
        assert max(n * 1.55 for day in p.chunks["network"] for n in day) <= generate.CHUNK_ROWS + 1
        assert max(n for day in p.chunks["auth"] for n in day) <= generate.CHUNK_ROWS


@pytest.mark.parametrize("events, days", [(4_999, 7), (10_000, 0), (10_000, 400)])
def test_bad_sizes_are_refused(events, days):
    with pytest.raises(ValueError):
        generate.plan(events, days=days)


@pytest.mark.parametrize("days", [1, 2])
def test_short_windows_hold_every_scenario(tmp_path, days):
    r = generate.generate(tmp_path, 6_000, days=days)
    assert sum(r.rows[t.name] for t in EVENT_TABLES) == 6_000
    auth = generate.read_table(r.paths["auth_events"]).to_pandas()
    assert auth["date"].nunique() == days
    spray = r.key["scenarios"]["password_spraying"]
    assert (auth.src_ip == spray["source_ip"]).sum() >= spray["failures"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_parquet_matches_the_spec_and_the_ddl(result, name):
    spec = ALL[name]
    files = sorted(result.paths[name].rglob("*.parquet"))
    assert files
    for f in files:
        assert pq.read_schema(f).remove_metadata() == spec.schema
        assert pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "ZSTD"
    ddl = re.findall(r"(?:^|, )(\w+) (\w+) COMMENT '([^']*)'", spec.ddl)
    names = [c.name for c in spec.columns] + (["date"] if spec.partitioned else [])
    assert [n for n, _, _ in ddl] == names
    for c, (_, spark_type, comment) in zip(spec.columns, ddl, strict=False):
        assert spark_type == SPARK_TYPES[c.type] and comment
    assert (
        all(re.fullmatch(r"date=\d{4}-\d{2}-\d{2}", p.name) for p in result.paths[name].iterdir()) == spec.partitioned
    )


def test_auth_events_keeps_the_demo_columns_first(t):
    assert list(t["auth_events"].columns)[:11] == [
        "event_time", "event_id", "outcome", "user", "domain", "logon_type", "auth_package", "src_host", "src_ip",
        "dst_host", "failure_reason",
    ]  # fmt: skip
    auth = t["auth_events"]
    assert set(auth.event_id) == {4624, 4625, 4634, 4672}
    assert set(auth.logon_type) <= {2, 3, 5, 10}  # the notebooks name exactly these


# --- the sources join ------------------------------------------------------------------------------------


def test_every_host_and_internal_address_is_in_the_asset_inventory(t):
    hosts, ips = set(t["assets"].host), set(t["assets"].ip)
    auth = t["auth_events"]
    assert set(auth.src_host) | set(auth.dst_host) | set(t["process_events"].host) <= hosts
    assert set(auth.src_ip) | set(auth.dst_ip) <= ips
    assert (
        dict(zip(t["assets"].host, t["assets"].ip, strict=True))["DC-01"]
        == auth[auth.dst_host == "DC-01"].dst_ip.iloc[0]
    )
    for name in ("zeek_conn", "zeek_dns", "zeek_http"):
        addresses = set(t[name].orig_h) | set(t[name].resp_h)
        internal = {a for a in addresses if a.startswith("10.")}
        assert internal <= ips and internal, name
    assert set(t["vuln_findings"].host) <= hosts


def test_dns_and_http_rows_are_connections_in_conn(t):
    conn = t["zeek_conn"].set_index("uid")
    assert conn.index.is_unique
    for name, service in (("zeek_dns", "dns"), ("zeek_http", "http")):
        rows = t[name]
        assert rows.uid.isin(conn.index).all()
        joined = conn.loc[rows.uid]
        assert (joined.service.values == service).all()
        assert (joined.orig_h.values == rows.orig_h.values).all()


def test_workstation_owners_are_real_accounts(t):
    people = set(t["auth_events"].user)
    owners = t["assets"][t["assets"].kind == "workstation"].owner
    assert (owners.isin(people) | (owners == "svc_desktop")).all()


# --- the planted scenarios, as a hunter would find them --------------------------------------------------


def test_password_spraying(t, key):
    k = key["password_spraying"]
    assert k["technique"] == "T1110.003"
    failed = t["auth_events"][t["auth_events"].event_id == 4625]
    per_source = failed.groupby("src_ip").user.nunique().sort_values(ascending=False)
    assert per_source.index[0] == k["source_ip"]  # the top source by accounts failed
    mine = in_window(failed[failed.src_ip == k["source_ip"]], "event_time", k["window"])
    assert mine.user.nunique() >= 30 and len(mine) == k["failures"]
    assert mine.groupby("user").size().max() <= k["attempts_per_account"]
    assert set(mine.user) == set(k["sprayed_accounts"]) | set(k["unknown_accounts"])
    assert set(mine[mine.failure_reason == "unknown user"].user) == set(k["unknown_accounts"])
    auth = t["auth_events"]
    success = auth[(auth.event_id == 4624) & (auth.src_ip == k["source_ip"]) & (auth.dst_host == k["target_host"])]
    assert k["compromised_account"] in set(in_window(success, "event_time", k["window"]).user)


def test_lateral_movement(t, key):
    k = key["lateral_movement"]
    auth, conn, procs = t["auth_events"], t["zeek_conn"], t["process_events"]
    hops = k["path"]
    assert hops[0]["src_host"] == k["compromised_workstation"]
    assert [h["dst_host"] for h in hops[:-1]] == [h["src_host"] for h in hops[1:]]  # a chain
    for hop in hops:
        logons = auth[(auth.event_id == 4624) & (auth.user == k["account"]) & (auth.src_host == hop["src_host"])
                      & (auth.dst_host == hop["dst_host"]) & (auth.logon_type == hop["logon_type"])]  # fmt: skip
        assert len(in_window(logons, "event_time", k["window"])) == 1
        c = conn[conn.uid == hop["uid"]].iloc[0]
        assert (c.orig_h, c.resp_h, c.resp_p) == (hop["src_ip"], hop["dst_ip"], hop["port"])
        assert {3: 445, 10: 3389}[hop["logon_type"]] == hop["port"]
        assert len(in_window(procs[procs.host == hop["dst_host"]], "event_time", k["window"])) >= 2
    # workstation to workstation logons happen only here: the hunt's tell
    ws = auth[(auth.event_id == 4624) & auth.src_host.str.startswith("WS-") & auth.dst_host.str.startswith("WS-")
              & (auth.src_host != auth.dst_host)]  # fmt: skip
    assert set(zip(ws.src_host, ws.dst_host, strict=True)) == {(hops[0]["src_host"], hops[0]["dst_host"])}
    assert {"PSEXESVC.exe", "ntdsutil.exe"} <= set(procs[procs.user.isin([k["account"], "SYSTEM"])].process_name)


def test_c2_beaconing(t, key):
    k = key["c2_beaconing"]
    http = t["zeek_http"]
    beacons = http[(http.host == k["domain"]) & (http.orig_h == k["host_ip"])].sort_values("ts")
    assert len(beacons) == k["beacons"] == len(http[http.host == k["domain"]])
    gaps = beacons.ts.diff().dt.total_seconds().dropna()
    assert abs(gaps.mean() - k["interval_seconds"]) < 5
    assert gaps.std() < 0.05 * k["interval_seconds"] and gaps.max() <= k["interval_seconds"] + k["jitter_seconds"]
    assert (beacons.resp_h == k["ip"]).all() and (beacons.user_agent == k["user_agent"]).all()
    dns = t["zeek_dns"]
    lookups = dns[(dns["query"] == k["domain"]) & (dns.orig_h == k["host_ip"])]
    assert len(lookups) == k["dns_lookups"] and (lookups.answers == k["ip"]).all()
    ti = t["threat_intel"].set_index("indicator")
    listed = ti.loc[k["domain"]]
    assert listed.valid_from <= ts(k["window"]["start"]) and listed.valid_until >= ts(k["window"]["end"])
    implant = t["process_events"][t["process_events"].sha256 == k["implant"]["sha256"]]
    assert list(implant.host) == [k["host"]] and k["implant"]["sha256"] in ti.index
    # the regularity is the tell: no other (host, site) pair is as regular with as many requests
    for (host, site), g in http.groupby(["orig_h", "host"]):
        if (host, site) != (k["host_ip"], k["domain"]) and len(g) >= 20:
            assert g.ts.sort_values().diff().dt.total_seconds().std() > 0.2 * k["interval_seconds"]


def test_dns_tunnelling(t, key):
    k = key["dns_tunnelling"]
    dns = t["zeek_dns"]
    mine = dns[dns["query"].str.endswith("." + k["domain"])]
    assert len(mine) == k["queries"] and set(mine.orig_h) == {k["host_ip"]} and set(mine.qtype_name) == {"TXT"}
    labels = mine["query"].str.split(".").str[0]
    assert (labels.str.len() == k["label_length"]).all() and labels.str.len().sum() == k["subdomain_chars"]
    assert labels.map(entropy).mean() > 4.0  # base32 of random bytes: near log2(32) = 5 bits per character
    assert len(in_window(mine, "ts", k["window"])) == k["queries"]
    assert k["domain"] not in set(t["threat_intel"].indicator)  # found by hunting, not by a feed
    # the tell: no other registered domain has anywhere near as many distinct names queried
    registered = dns["query"].str.split(".").str[-2:].str.join(".")
    distinct = dns.groupby(registered)["query"].nunique().sort_values(ascending=False)
    assert distinct.index[0] == k["domain"] and distinct.iloc[1] < distinct.iloc[0] / 10


def test_exploitation_of_a_host_with_a_critical_cve(t, key):
    k = key["exploitation"]
    assert k["technique"] == "T1190" and k["cvss"] >= 9
    vulns = t["vuln_findings"]
    found = vulns[(vulns.host == k["host"]) & (vulns.cve == k["cve"])]
    assert len(found) == vulns.scan_time.nunique() and (found.state == "open").all()
    assert (found.ip == k["ip"]).all() and (found.severity == "critical").all()
    http, conn = t["zeek_http"], t["zeek_conn"]
    exploit = http[http.uid == k["exploit_uid"]].iloc[0]
    assert (exploit.orig_h, exploit.resp_h, exploit.resp_p) == (k["attacker_ip"], k["ip"], k["port"])
    assert "${jndi:ldap://" in exploit.user_agent
    assert len(http[http.user_agent.str.contains("jndi", regex=False)]) == 1
    callback = conn[conn.uid == k["callback"]["uid"]].iloc[0]
    assert (callback.orig_h, callback.resp_h, callback.resp_p) == (k["ip"], k["attacker_ip"], k["callback"]["port"])
    assert callback.ts > exploit.ts
    procs = t["process_events"]
    spawned = procs[(procs.host == k["host"]) & (procs.parent_process_name == "java.exe")]
    assert list(spawned.process_name) == ["cmd.exe"]
    assert k["payload"]["sha256"] in set(t["threat_intel"].indicator)
    assert list(procs[procs.sha256 == k["payload"]["sha256"]].host) == [k["host"]]
    # the same CVE sits on another server nobody attacked: the scan alone is not the finding
    decoy = vulns[(vulns.cve == k["cve"]) & (vulns.host != k["host"])]
    assert set(decoy.host) == {"WEB-01"}
    assert not ((conn.orig_h == k["attacker_ip"]) & (conn.resp_h.isin(decoy.ip))).any()


def test_benign_look_alikes_the_notebooks_rely_on(t, result):
    benign = result.key["benign"]
    failed = t["auth_events"][t["auth_events"].event_id == 4625]
    stale = failed[failed.user == benign["stale_password"]["user"]]
    assert stale.dst_host.nunique() >= 6  # 09-sql-first-hunt: accounts failing against many hosts
    svc = failed[failed.user == "svc_backup"]
    assert len(svc) >= benign["service_account"]["failures"]
    queried = set(t["zeek_dns"]["query"])
    ti = t["threat_intel"].set_index("indicator")
    for expired in benign["expired_indicators"]:
        assert expired["indicator"] in queried
        assert ti.loc[expired["indicator"]].valid_until < t["zeek_dns"].ts.min()

"""Everyday network traffic as a Zeek sensor logs it: one draw of connections gives zeek_conn, and the DNS and
HTTP ones among them also give their zeek_dns / zeek_http rows with the same uid, so the logs join on uid."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from hunthub.data import draw
from hunthub.data.population import Population
from hunthub.data.tables import CONN, DNS, HTTP

DNS_SHARE, HTTP_SHARE = 0.35, 0.20  # of connections; the rest is TLS and internal (SMB, LDAP, Kerberos, RDP)
# service code -> (service, proto, port); 0 and 1 are the exact-count shares above
SERVICES = [("dns", "udp", 53), ("http", "tcp", 80), ("ssl", "tcp", 443), ("smb", "tcp", 445), ("ldap", "tcp", 389),
            ("krb", "tcp", 88), ("rdp", "tcp", 3389)]  # fmt: skip
OTHER_WEIGHTS = [75, 9, 7, 7, 2]  # ssl, smb, ldap, krb, rdp
URIS = ["/", "/index.html", "/favicon.ico", "/static/app.js", "/static/site.css", "/api/v1/status", "/images/logo.png",
        "/msdownload/update/v3/static/trustedr/en/authrootstl.cab", "/ocsp", "/connecttest.txt"]  # fmt: skip
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 "
    "Edg/130.0.0.0",
    "Microsoft-CryptoAPI/10.0",
    "Microsoft NCSI",
    "Microsoft-Delivery-Optimization/10.0",
]
STATUS = [200, 304, 302, 404]
QTYPES = ["A", "AAAA", "HTTPS"]
RCODES = ["NOERROR", "NXDOMAIN"]
NX_NAME = "wpad.corp.example"  # the classic: clients asking for a proxy config nobody publishes


def rows_for(connections: int) -> int:
    """Rows in zeek_conn + zeek_dns + zeek_http for a chunk of `connections` connections."""
    return connections + round(connections * DNS_SHARE) + round(connections * HTTP_SHARE)


def connections_for(rows: int) -> int:
    """The most connections whose rows fit in `rows`."""
    n = int(rows / (1 + DNS_SHARE + HTTP_SHARE))
    while rows_for(n + 1) <= rows:
        n += 1
    while n and rows_for(n) > rows:
        n -= 1
    return n


def background(pop: Population, rng: np.random.Generator, n: int, day: int) -> dict[str, pa.Table]:
    k_dns, k_http = round(n * DNS_SHARE), round(n * HTTP_SHARE)
    other = 2 + draw.choose(rng, n - k_dns - k_http, OTHER_WEIGHTS)
    service = rng.permutation(np.concatenate([np.zeros(k_dns, int), np.ones(k_http, int), other]))
    n_hosts = len(pop.hosts)
    ts = draw.office_hours(rng, n, day)
    orig = np.where(
        rng.random(n) < 0.92, rng.integers(0, pop.n_workstations, n), pop.servers[rng.integers(0, len(pop.servers), n)]
    )
    # Popular sites get most of the traffic (Zipf-like over the name list).
    name_w = 1 / np.arange(1, len(pop.names) + 1) ** 0.8
    name = draw.choose(rng, n, name_w)
    dc = np.where(rng.random(n) < 0.6, pop.host("DC-01"), pop.host("DC-02"))
    other_server = pop.servers[rng.integers(0, len(pop.servers), n)]
    resp = np.select(
        [service == 0, service <= 2, service == 3, service <= 5],
        [dc, n_hosts + name, np.where(rng.random(n) < 0.7, pop.host("FS-01"), other_server), dc],
        np.where(rng.random(n) < 0.8, pop.host("JUMP-01"), other_server),
    )
    addresses = pa.concat_arrays([pop.arrays["host_ip"], pop.arrays["name_ip"]])
    svc_names = [s for s, _, _ in SERVICES]
    # Some TLS attempts go unanswered: no service recognised, S0 / REJ.
    failed = (service == 2) & (rng.random(n) < 0.02)
    state = np.where(failed, np.where(rng.random(n) < 0.5, 1, 2), np.where(rng.random(n) < 0.01, 3, 0))
    size_scale = np.array([4.0, 6.5, 8.5, 9.0, 7.0, 7.0, 11.0])[service]
    uid = draw.uids(rng, n)
    orig_h = draw.take(pop.arrays["host_ip"], orig)
    orig_p = rng.integers(49152, 65536, n)
    resp_h = draw.take(addresses, resp)
    resp_p = np.array([p for *_, p in SERVICES])[service]
    conn = pa.table(
        {
            "ts": draw.times(ts),
            "uid": uid,
            "orig_h": orig_h,
            "orig_p": pa.array(orig_p, pa.int32()),
            "resp_h": resp_h,
            "resp_p": pa.array(resp_p, pa.int32()),
            "proto": draw.take([p for _, p, _ in SERVICES], service),
            "service": draw.take([*svc_names, None], np.where(failed, len(svc_names), service)),
            "duration": np.where(failed, 0.0, rng.lognormal(np.where(service == 6, 6.5, -1.0), 1.2)).round(6),
            "orig_bytes": np.where(failed, 0, rng.lognormal(size_scale - 1.5, 1.0)).astype(np.int64),
            "resp_bytes": np.where(failed, 0, rng.lognormal(size_scale, 1.5)).astype(np.int64),
            "conn_state": draw.take(["SF", "S0", "REJ", "RSTO"], state),
        },
        schema=CONN.schema,
    )

    d = np.flatnonzero(service == 0)
    qtype = draw.choose(rng, len(d), [80, 15, 5])
    nx = rng.random(len(d)) < 0.03
    answered = (qtype == 0) & ~nx
    query = pa.array(np.where(nx, NX_NAME, np.asarray(pop.names, object)[name[d]]), pa.string())
    dns = pa.table(
        {
            "ts": conn["ts"].take(d),
            "uid": uid.take(d),
            "orig_h": orig_h.take(d),
            "orig_p": pa.array(orig_p[d], pa.int32()),
            "resp_h": resp_h.take(d),
            "resp_p": pa.array(resp_p[d], pa.int32()),
            "proto": draw.const("udp", len(d)),
            "query": query,
            "qtype_name": draw.take(QTYPES, qtype),
            "rcode_name": draw.take(RCODES, nx.astype(np.int64)),
            "answers": draw.take(
                pa.concat_arrays([pop.arrays["name_ip"], pa.array([None], pa.string())]),
                np.where(answered, name[d], len(pop.names)),
            ),  # fmt: skip
        },
        schema=DNS.schema,
    )

    h = np.flatnonzero(service == 1)
    post = rng.random(len(h)) < 0.08
    http = pa.table(
        {
            "ts": conn["ts"].take(h),
            "uid": uid.take(h),
            "orig_h": orig_h.take(h),
            "orig_p": pa.array(orig_p[h], pa.int32()),
            "resp_h": resp_h.take(h),
            "resp_p": pa.array(resp_p[h], pa.int32()),
            "method": draw.take(["GET", "POST"], post.astype(np.int64)),
            "host": draw.take(pop.arrays["names"], name[h]),
            "uri": draw.take(URIS, rng.integers(0, len(URIS), len(h))),
            "user_agent": draw.take(AGENTS, draw.choose(rng, len(h), [50, 20, 12, 10, 8])),
            "status_code": pa.array(np.array(STATUS)[draw.choose(rng, len(h), [75, 10, 8, 7])], pa.int32()),
            "request_body_len": np.where(post, rng.lognormal(7, 1, len(h)), 0).astype(np.int64),
            "response_body_len": rng.lognormal(8, 1.5, len(h)).astype(np.int64),
        },
        schema=HTTP.schema,
    )
    return {CONN.name: conn, DNS.name: dns, HTTP.name: http}

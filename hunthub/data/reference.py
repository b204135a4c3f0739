"""The reference tables: asset inventory, vulnerability scan findings, threat-intel indicators. Small (they grow
with the number of hosts, not of events) and built whole."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from hunthub.data import draw
from hunthub.data.population import Population
from hunthub.data.scenarios import SEC, Planted, to_table
from hunthub.data.tables import ASSETS, INTEL, VULNS

DAY = 86_400 * SEC
# (cve, cvss, title, port, on servers)
CVES = [
    ("CVE-2023-36884", 8.8, "Microsoft Office and Windows HTML remote code execution", 0, False),
    ("CVE-2024-21412", 8.1, "Internet Shortcut files security feature bypass", 0, False),
    ("CVE-2023-4863", 8.8, "Chrome heap buffer overflow in WebP", 0, False),
    ("CVE-2024-38063", 9.8, "Windows TCP/IP IPv6 remote code execution", 0, False),
    ("CVE-2023-35311", 8.8, "Microsoft Outlook security feature bypass", 0, False),
    ("CVE-2024-21338", 7.8, "Windows kernel elevation of privilege", 0, False),
    ("CVE-2022-30190", 7.8, "Microsoft Support Diagnostic Tool (Follina) remote code execution", 0, False),
    ("CVE-2023-24932", 6.7, "Secure Boot security feature bypass", 0, False),
    ("CVE-2024-43451", 6.5, "NTLM hash disclosure spoofing", 0, False),
    ("CVE-2023-21554", 9.8, "Microsoft Message Queuing remote code execution", 1801, True),
    ("CVE-2024-38077", 9.8, "Windows Remote Desktop Licensing Service remote code execution", 3389, True),
    ("CVE-2023-23397", 9.8, "Microsoft Outlook elevation of privilege", 0, True),
    ("CVE-2022-26923", 8.8, "Active Directory Certificate Services elevation of privilege", 0, True),
    ("CVE-2024-21413", 9.8, "Microsoft Outlook remote code execution (MonikerLink)", 0, True),
    ("CVE-2023-44487", 7.5, "HTTP/2 rapid reset denial of service", 443, True),
    ("CVE-2016-2183", 7.5, "SSL/TLS 64-bit block cipher (SWEET32)", 443, True),
    ("CVE-2024-6387", 8.1, "OpenSSH regreSSHion race condition", 22, True),
    ("CVE-2023-48795", 5.9, "SSH Terrapin prefix truncation", 22, True),
]
OS_WS = ["Windows 11 23H2", "Windows 10 22H2"]
OS_SRV = ["Windows Server 2022", "Windows Server 2019"]
SOURCES = ["isac-share", "feodo-tracker", "urlhaus", "otx-pulse", "vendor-av", "internal"]
THREATS = ["phishing", "C2", "malware download", "scanner", "botnet", "ransomware"]


def severity(cvss: float) -> str:
    return "critical" if cvss >= 9 else "high" if cvss >= 7 else "medium" if cvss >= 4 else "low"


def assets(pop: Population, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, 11])
    ws = [str(rng.choice(OS_WS, p=[0.7, 0.3])) for _ in range(pop.n_workstations)]
    srv = [str(rng.choice(OS_SRV)) for _ in pop.servers]
    crit = ["medium" if d in ("finance", "it", "legal") else "low" for d in pop.host_department[: pop.n_workstations]]
    crit += ["critical" if k == "domain controller" else "high" for k in pop.host_kind[pop.n_workstations :]]
    return pa.table(
        {"host": pop.hosts, "ip": pop.host_ip, "kind": pop.host_kind, "os": ws + srv, "owner": pop.host_owner,
         "department": pop.host_department, "criticality": crit},
        schema=ASSETS.schema,
    )  # fmt: skip


def scan_days(days: int) -> list[int]:
    """A scan at the start of the window and, in windows of four days or more, one half-way."""
    return [0, days // 2] if days >= 4 else [0]


def vuln_findings(pop: Population, seed: int, days: int, planted: Planted) -> dict[int, pa.Table]:
    """Findings per scan day; a finding keeps its first_seen across scans, a few get fixed between scans."""
    rng = np.random.default_rng([seed, 12])
    ws_cves = [c for c in CVES if not c[4]]
    srv_cves = [c for c in CVES if c[4]]
    base: list[dict] = []
    for h, name in enumerate(pop.hosts):
        pool = srv_cves if h >= pop.n_workstations else ws_cves
        for i in rng.choice(len(pool), int(rng.integers(1, 5)), replace=False):
            cve, cvss, title, port, _ = pool[i]
            first = draw.day_start_us(0) - int(rng.integers(1, 120)) * DAY
            base.append(dict(host=name, ip=pop.host_ip[h], cve=cve, cvss=cvss, title=title, port=port,
                             first_seen=first, fixed=bool(rng.random() < 0.1)))  # fmt: skip
    base += [dict(f, fixed=False) for f in planted.findings]
    out = {}
    for n, day in enumerate(scan_days(days)):
        scan = draw.day_start_us(day) + 7 * 3600 * SEC
        rows = [
            dict(f, scan_time=scan, severity=severity(f["cvss"]), last_seen=scan,
                 state="fixed" if f["fixed"] and n > 0 else "open")
            for f in base
        ]  # fmt: skip
        table = to_table(VULNS.name, rows)
        out[day] = draw.sort(table, VULNS.sort_by)
    return out


def threat_intel(pop: Population, seed: int, planted: Planted) -> tuple[pa.Table, list[dict]]:
    """The feed: the scenarios' indicators, a few hundred that match nothing, and two expired ones that match
    everyday traffic (a validity window ignored is a false positive)."""
    rng = np.random.default_rng([seed, 13])
    start = draw.day_start_us(0)
    rows = list(planted.indicators)
    taken = {r["indicator"] for r in rows} | set(pop.names) | set(pop.name_ip)
    for _ in range(300):
        kind = str(rng.choice(["ip", "domain", "sha256"], p=[0.4, 0.35, 0.25]))
        if kind == "ip":
            a, b, c = (int(x) for x in rng.integers(1, 255, 3))
            value = f"{rng.choice([5, 37, 77, 94, 103, 176, 193])}.{a}.{b}.{c}"
        elif kind == "domain":
            value = f"{''.join(rng.choice(list('abcdefghijklmnopqrstuvwxyz'), int(rng.integers(6, 12))))}." + str(
                rng.choice(["com", "net", "ru", "top", "xyz", "info"])
            )
        else:
            value = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
        if value in taken:
            continue
        taken.add(value)
        valid_from = start - int(rng.integers(1, 120)) * DAY
        rows.append(dict(indicator=value, indicator_type=kind, threat=str(rng.choice(THREATS)),
                         source=str(rng.choice(SOURCES)), confidence=int(rng.integers(30, 96)),
                         valid_from=valid_from, valid_until=valid_from + int(rng.integers(30, 180)) * DAY))  # fmt: skip
    expired = []
    for name in (pop.names[2 * 6 + 4], pop.names[5 * 6 + 4]):  # cdn.<a popular site>: seen every day
        valid_from = start - 200 * DAY
        row = dict(indicator=name, indicator_type="domain", threat="phishing (historic)", source="otx-pulse",
                   confidence=40, valid_from=valid_from, valid_until=start - 30 * DAY)  # fmt: skip
        rows.append(row)
        expired.append({"indicator": name, "valid_until": draw.iso(row["valid_until"])})
    return draw.sort(to_table(INTEL.name, rows), INTEL.sort_by), expired

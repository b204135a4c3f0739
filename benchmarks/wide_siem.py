"""A wide, sparse, deterministic SIEM export: 450+ normalised columns, each event type filling only its own.

What a SIEM's "export all fields" gives a hunter: one flat schema (common, host, user, process, network, DNS,
file, registry, HTTP/proxy, TLS, e-mail, cloud audit, Kerberos, services/tasks, IDS alerts, DHCP, VPN, account
management, enrichment, vendor custom fields), where a DNS query fills ~35 columns and leaves the other ~420
empty. Values repeat the way they do in a real estate: a fixed population of hosts (IPs within site subnets),
users tied to their workstations, a catalogue of binaries with their hashes, a Zipf-shaped set of external
domains, and timestamps increasing over the export window. Per-event values that do not repeat (times, ports,
byte counts, PIDs, record ids) are there too; there is no random per-row UUID (see benchmarks/README.md).

`chunks(rows, seed)` yields, in time order, one `Chunk` per CHUNK_ROWS rows: per event type, an Arrow table
of only that type's columns. `expand` gives those rows in the full schema (absent columns all null), so
the memory a chunk needs is bounded by its populated cells. Same (rows, seed) -> same rows.
"""

from __future__ import annotations

import hashlib
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def words(text: str) -> list[str]:
    return text.split()


START = datetime(2026, 11, 2, tzinfo=UTC)
SPAN_MS = 24 * 3600 * 1000  # one day of events, whatever --rows is: a busier or a quieter estate
CHUNK_ROWS = 100_000
SEED = 20261102
TS = pa.timestamp("ms", tz="UTC")

# --- the population: hosts, users, binaries, external destinations ------------------------------------------

FIRST = words("anna ben carla david eva felix grace hugo ines jonas karen liam mia noah olga paul rosa sam tina uwe")
LAST = words("smith nguyen garcia mueller rossi kim ivanov silva cohen okafor berg novak tanaka dubois weber")
DEPTS = ["FIN", "HR", "ENG", "OPS", "SAL", "MKT", "LEG", "IT"]
SITES = ["FRA", "LON", "NYC", "SGP"]
DEVICES = {  # reporting devices of the non-endpoint sources
    "fw": ["FW-EDGE-01", "FW-EDGE-02", "FW-DC-01", "FW-DC-02"],
    "proxy": ["PROXY-01", "PROXY-02"],
    "mail": ["MAILGW-01", "MAILGW-02"],
    "cloud": ["aws-cloudtrail", "azure-activity"],
    "dhcp": ["DHCP-01", "DHCP-02"],
    "vpn": ["VPN-GW-01", "VPN-GW-02"],
    "ids": ["IDS-SENSOR-01", "IDS-SENSOR-02", "IDS-SENSOR-03"],
    "dc": ["DC-01", "DC-02", "DC-03", "DC-04"],
}
BINARIES = [  # (name, directory, company, description), most common first
    ("svchost.exe", r"C:\Windows\System32", "Microsoft Corporation", "Host Process for Windows Services"),
    ("chrome.exe", r"C:\Program Files\Google\Chrome\Application", "Google LLC", "Google Chrome"),
    ("msedge.exe", r"C:\Program Files (x86)\Microsoft\Edge\Application", "Microsoft Corporation", "Microsoft Edge"),
    ("OUTLOOK.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation", "Outlook"),
    ("Teams.exe", r"C:\Program Files\WindowsApps\MSTeams", "Microsoft Corporation", "Microsoft Teams"),
    ("explorer.exe", r"C:\Windows", "Microsoft Corporation", "Windows Explorer"),
    ("conhost.exe", r"C:\Windows\System32", "Microsoft Corporation", "Console Window Host"),
    ("RuntimeBroker.exe", r"C:\Windows\System32", "Microsoft Corporation", "Runtime Broker"),
    ("OneDrive.exe", r"C:\Program Files\Microsoft OneDrive", "Microsoft Corporation", "Microsoft OneDrive"),
    ("WINWORD.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation", "Microsoft Word"),
    ("EXCEL.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation", "Microsoft Excel"),
    ("MsMpEng.exe", r"C:\ProgramData\Microsoft\Windows Defender\Platform", "Microsoft Corporation", "Defender"),
    ("taskhostw.exe", r"C:\Windows\System32", "Microsoft Corporation", "Host Process for Windows Tasks"),
    ("powershell.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0", "Microsoft Corporation", "Windows PowerShell"),
    ("cmd.exe", r"C:\Windows\System32", "Microsoft Corporation", "Windows Command Processor"),
    ("lsass.exe", r"C:\Windows\System32", "Microsoft Corporation", "Local Security Authority Process"),
    ("services.exe", r"C:\Windows\System32", "Microsoft Corporation", "Services and Controller app"),
    ("wmiprvse.exe", r"C:\Windows\System32\wbem", "Microsoft Corporation", "WMI Provider Host"),
    ("SearchIndexer.exe", r"C:\Windows\System32", "Microsoft Corporation", "Microsoft Windows Search Indexer"),
    ("sqlservr.exe", r"C:\Program Files\Microsoft SQL Server\MSSQL15\Binn", "Microsoft Corporation", "SQL Server"),
    ("w3wp.exe", r"C:\Windows\System32\inetsrv", "Microsoft Corporation", "IIS Worker Process"),
    ("java.exe", r"C:\Program Files\Java\jre1.8.0_381\bin", "Oracle Corporation", "Java Platform SE binary"),
    ("python.exe", r"C:\Python311", "Python Software Foundation", "Python"),
    ("git.exe", r"C:\Program Files\Git\cmd", "The Git Development Community", "Git for Windows"),
    ("Code.exe", r"C:\Program Files\Microsoft VS Code", "Microsoft Corporation", "Visual Studio Code"),
    ("rundll32.exe", r"C:\Windows\System32", "Microsoft Corporation", "Windows host process (Rundll32)"),
    ("schtasks.exe", r"C:\Windows\System32", "Microsoft Corporation", "Task Scheduler Configuration Tool"),
    ("reg.exe", r"C:\Windows\System32", "Microsoft Corporation", "Registry Console Tool"),
    ("net.exe", r"C:\Windows\System32", "Microsoft Corporation", "Net Command"),
    ("whoami.exe", r"C:\Windows\System32", "Microsoft Corporation", "whoami - displays logged on user information"),
    ("certutil.exe", r"C:\Windows\System32", "Microsoft Corporation", "CertUtil.exe"),
    ("mshta.exe", r"C:\Windows\System32", "Microsoft Corporation", "Microsoft (R) HTML Application host"),
    ("wscript.exe", r"C:\Windows\System32", "Microsoft Corporation", "Microsoft (R) Windows Based Script Host"),
    ("AcroRd32.exe", r"C:\Program Files (x86)\Adobe\Acrobat Reader DC\Reader", "Adobe Inc.", "Adobe Acrobat Reader"),
    ("zoom.exe", r"C:\Program Files\Zoom\bin", "Zoom Video Communications, Inc.", "Zoom Meetings"),
    ("update.exe", r"C:\Users\Public\Downloads", "", ""),  # the unsigned oddity a hunter looks for
]
DLLS = words("ntdll kernel32 kernelbase user32 advapi32 combase ole32 rpcrt4 sechost ws2_32 crypt32 wininet bcrypt")
TLDS = ["com", "com", "com", "net", "org", "io", "de", "co.uk", "ru", "cn", "xyz", "top"]
KNOWN = words("microsoft.com office.com google.com windowsupdate.com live.com github.com amazonaws.com slack.com")
CLOUD_EVENTS = words(
    "AssumeRole GetObject PutObject ListBuckets DescribeInstances ConsoleLogin GetCallerIdentity CreateAccessKey "
    "AttachRolePolicy RunInstances StopInstances DeleteBucket UpdateFunctionCode Decrypt GenerateDataKey "
    "ListUsers GetSecretValue CreateUser PutBucketPolicy AuthorizeSecurityGroupIngress"
)
ALERTS = [
    ("ET POLICY PE EXE or DLL Windows file download HTTP", "policy-violation", "T1105"),
    ("ET SCAN Suspicious inbound to MSSQL port 1433", "attempted-recon", "T1046"),
    ("ET MALWARE Possible Cobalt Strike Beacon", "trojan-activity", "T1071"),
    ("ET INFO DNS Query to .top TLD", "bad-unknown", "T1071.004"),
    ("GPL ATTACK_RESPONSE id check returned root", "bad-unknown", "T1059"),
    ("ET HUNTING Suspicious PowerShell UserAgent", "misc-activity", "T1059.001"),
    ("ET EXPLOIT Possible Log4j RCE attempt", "attempted-admin", "T1190"),
    ("ET TROJAN Generic .bin download from dotted quad", "trojan-activity", "T1105"),
]
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Edg/130.0.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "Microsoft-CryptoAPI/10.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.71",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605",
    "python-requests/2.32.3",
    "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.5007",
    "aws-cli/2.17.0 Python/3.11.9 Linux/6.1.0 exe/x86_64",
    "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1 lang/python#3.11",
]


def _zipf(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    """Indices into a population of `size`, rank-frequency ~ 1/rank^a: a few values dominate, a long tail."""
    return np.minimum(rng.zipf(a + 0.0001, n) - 1, size - 1) if a > 1 else rng.integers(0, size, n)


def _hex(seed: str, chars: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:chars]


@cache
def _file_hashes(chars: int) -> pa.Array:
    return pa.array([_hex(f"f{i}", chars) for i in range(3000)])


def _guid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4)).upper()


def _words(rng: np.random.Generator, k: int, lo: int = 4, hi: int = 10) -> list[str]:
    letters = np.array(list(string.ascii_lowercase))
    return ["".join(rng.choice(letters, rng.integers(lo, hi))) for _ in range(k)]


def _table(rows: list[dict]) -> dict[str, pa.Array]:
    return {k: pa.array([r[k] for r in rows]) for k in rows[0]}


@cache
def population(seed: int = SEED) -> dict[str, dict[str, pa.Array]]:
    """Attribute tables (column name -> Arrow array) of hosts, users, binaries, domains, and value pools."""
    rng = np.random.default_rng([seed, 0])
    hosts = []
    for i in range(900):
        site, dept = SITES[i % 4], DEPTS[i % 8]
        server = i >= 840
        name = (
            f"SRV-{site}-{['APP', 'SQL', 'FS', 'WEB', 'EXCH'][i % 5]}{i - 839:02d}" if server else f"WS-{dept}-{i:04d}"
        )
        os_ver = "Windows Server 2022" if server else ("Windows 11" if i % 3 else "Windows 10")
        hosts.append(
            {
                "name": name,
                "fqdn": f"{name.lower()}.corp.example.com",
                "ip": f"10.{10 + i % 4}.{i // 250 + (20 if server else 1)}.{10 + i % 240}",
                "mac": ":".join(f"{b:02x}" for b in rng.bytes(6)),
                "os": os_ver,
                "os_version": "10.0",
                "os_build": ["19045", "22631", "20348"][0 if "10" in os_ver and not server else (2 if server else 1)],
                "type": "server" if server else "workstation",
                "site": site,
                "ou": f"OU={'Servers' if server else dept},OU={site},DC=corp,DC=example,DC=com",
                "agent_id": _guid(rng),
                "agent_version": ["8.15.3", "8.15.3", "8.14.1"][i % 3],
                "criticality": "high" if server else ["low", "medium"][i % 2],
                "owner_dept": dept,
            }
        )
    for kind, names in DEVICES.items():
        for j, name in enumerate(names):
            hosts.append(
                {
                    **hosts[-1],
                    "name": name,
                    "fqdn": f"{name.lower()}.corp.example.com",
                    "ip": f"10.0.{j}.{1 + len(hosts) % 200}",
                    "os": {"fw": "PAN-OS 11.1", "cloud": "", "dc": "Windows Server 2022"}.get(kind, "Linux"),
                    "type": kind,
                    "agent_id": _guid(rng),
                    "criticality": "high",
                }
            )
    users = []
    for i in range(700):
        f, la = FIRST[i % 20], LAST[(i // 20) % 15]
        sam = f"{f[0]}{la}{i // 300 or ''}"
        users.append(
            {
                "sam": sam,
                "full": f"{f.title()} {la.title()}",
                "email": f"{f}.{la}{i // 300 or ''}@example.com",
                "sid": f"S-1-5-21-3623811015-3361044348-30300820-{1105 + i}",
                "dept": DEPTS[i % 8],
                "title": ["Analyst", "Engineer", "Manager", "Director", "Associate"][i % 5],
                "upn": f"{sam}@corp.example.com",
                "arn": f"arn:aws:iam::123456789012:user/{sam}",
                "risk": ["low", "low", "low", "medium", "high"][i % 5],
                "privileged": i % 50 == 0,
            }
        )
    for sam in ["svc_backup", "svc_sql", "svc_web", "svc_scan", "adm_jsmith", "adm_kcohen", "SYSTEM", "LOCAL SERVICE"]:
        users.append(
            {
                **users[0],
                "sam": sam,
                "full": "",
                "email": "",
                "sid": f"S-1-5-21-3623811015-{len(users)}",
                "upn": f"{sam}@corp.example.com",
                "arn": f"arn:aws:iam::123456789012:role/{sam}",
                "privileged": True,
                "title": "service",
                "dept": "IT",
            }
        )
    binaries = [
        {
            "name": n,
            "dir": d,
            "path": f"{d}\\{n}",
            "company": c,
            "description": desc,
            "product": desc or n,
            "version": f"10.0.{19041 + k}.{k * 37 % 1000}",
            "original": n.lower(),
            "md5": _hex(f"md5{n}", 32),
            "sha1": _hex(f"sha1{n}", 40),
            "sha256": _hex(f"sha256{n}", 64),
            "imphash": _hex(f"imp{n}", 32),
            "signed": bool(c),
            "signer": c or "",
            "status": "Valid" if c else "Unsigned",
            "integrity": ["System", "Medium", "High"][k % 3],
        }
        for k, (n, d, c, desc) in enumerate(BINARIES)
    ]
    stems = KNOWN + [f"{w}.{TLDS[k % len(TLDS)]}" for k, w in enumerate(_words(rng, 4000))]
    domains = [
        {
            "name": (f"www.{s}" if k % 3 == 0 else f"{_words(rng, 1, 2, 6)[0]}.{s}") if k > 7 else s,
            "registered": s,
            "tld": s.split(".", 1)[1],
            "ip": f"{[13, 20, 34, 52, 104, 142, 151, 185][k % 8]}.{k % 251}.{k * 7 % 253}.{k * 13 % 254 + 1}",
            "country": ["US", "US", "IE", "DE", "NL", "GB", "RU", "CN", "SG"][k % 9],
            "asn": 8075 + k % 40,
            "as_org": ["MICROSOFT-CORP", "GOOGLE", "AMAZON-02", "CLOUDFLARENET", "AKAMAI", "HETZNER", "OVH"][k % 7],
            "category": ["business", "technology", "cdn", "news", "social", "uncategorized", "malicious"][
                k % 7 if k % 97 else 6
            ],
            "issuer": ["DigiCert TLS RSA SHA256 2020 CA1", "R11", "GTS CA 1C3", "Amazon RSA 2048 M02"][k % 4],
            "ja3s": _hex(f"ja3s{k % 40}", 32),
            "cert_sha1": _hex(f"cert{s}", 40),
            "lat": round(float(rng.uniform(-50, 65)), 4),
            "lon": round(float(rng.uniform(-120, 140)), 4),
        }
        for k, s in enumerate(stems)
    ]
    pools = {
        "session": pa.array([f"0x{v:x}" for v in rng.integers(0x10000, 0xFFFFFFF, 60_000)]),
        "guid": pa.array([_guid(rng) for _ in range(80_000)]),
        "file": pa.array(
            [
                f"{w}.{e}"
                for w, e in zip(
                    _words(rng, 6000, 3, 12),
                    rng.choice(
                        ["docx", "xlsx", "pdf", "tmp", "log", "dll", "exe", "ps1", "zip", "png", "json", "lnk"], 6000
                    ),
                    strict=True,
                )
            ]
        ),
        "url_path": pa.array([f"/{'/'.join(_words(rng, int(rng.integers(1, 4)), 3, 9))}" for _ in range(5000)]),
        "query": pa.array([""] * 5 + [f"?id={v}&v={v % 97}" for v in rng.integers(1000, 99999, 3000)]),
        "subject": pa.array(
            [
                f"{p} {w}"
                for p, w in zip(
                    rng.choice(
                        ["RE:", "FW:", "Invoice", "Meeting:", "Your", "Action required:", "Q4", "Update:"], 3000
                    ),
                    _words(rng, 3000, 4, 12),
                    strict=True,
                )
            ]
        ),
        "reg_key": pa.array(
            [
                f"HKLM\\SOFTWARE\\{a}\\{b}" if k % 3 else f"HKU\\S-1-5-21-3623811015\\Software\\{a}\\{b}"
                for k, (a, b) in enumerate(zip(_words(rng, 900, 4, 10), _words(rng, 900, 4, 10), strict=True))
            ]
        ),
        "reg_value": pa.array(_words(rng, 400, 3, 12)),
        "task": pa.array(
            [f"\\Microsoft\\Windows\\{w}\\{v}" for w, v in zip(_words(rng, 300), _words(rng, 300), strict=True)]
        ),
        "ua": pa.array(UAS),
        "cloud_event": pa.array(CLOUD_EVENTS),
        "alert": pa.array([a[0] for a in ALERTS]),
        "alert_class": pa.array([a[1] for a in ALERTS]),
        "technique": pa.array([a[2] for a in ALERTS]),
        "dll": pa.array([f"C:\\Windows\\System32\\{d}.dll" for d in DLLS]),
        "country": pa.array(["DE", "GB", "US", "SG", "FR", "NL", "IN", "BR"]),
    }
    return {
        "host": _table(hosts),
        "user": _table(users),
        "bin": _table(binaries),
        "dom": _table(domains),
        "pool": pools,
    }


# --- the schema: field name -> how its value is drawn -------------------------------------------------------
# kind: "<entity>.<attribute>" (the row's host/actor/user/target user/binary/parent/domain), "pool.<name>"
# (Zipf over a value pool), "enum:a|b|c" (first most common), "int:lo:hi", "log:mu" (lognormal count),
# "const:value", "float:lo:hi", "bool:p", "time"/"lag" (timestamps), "seq" (per-host record id).

COMMON = {
    "timestamp": "time",
    "ingest_time": "ingest",
    "event_category": "type",
    "event_type": "enum:info",
    "event_action": "enum:",
    "event_code": "enum:",
    "event_outcome": "enum:success",
    "event_severity": "enum:informational|low",
    "event_provider": "enum:",
    "event_dataset": "type",
    "event_record_id": "seq",
    "event_message": "enum:",
    "log_source": "enum:",
    "vendor": "enum:",
    "product": "enum:",
    "index": "enum:main",
    "sourcetype": "enum:",
    "collector": "enum:collector-01|collector-02",
    "tags": "enum:|prod|pci|crown-jewel",
    "host_name": "host.name",
    "host_fqdn": "host.fqdn",
    "host_ip": "host.ip",
    "host_mac": "host.mac",
    "host_os_name": "host.os",
    "host_os_version": "host.os_version",
    "host_os_build": "host.os_build",
    "host_type": "host.type",
    "host_site": "host.site",
    "host_ou": "host.ou",
    "host_domain": "const:CORP",
    "agent_id": "host.agent_id",
    "agent_version": "host.agent_version",
    "agent_type": "enum:",
    "asset_criticality": "host.criticality",
    "asset_business_unit": "host.owner_dept",
}
GROUPS: dict[str, dict[str, str]] = {
    "user": {
        "user_name": "user.sam",
        "user_domain": "const:CORP",
        "user_sid": "user.sid",
        "user_email": "user.email",
        "user_full_name": "user.full",
        "user_department": "user.dept",
        "user_title": "user.title",
        "user_upn": "user.upn",
        "user_risk_level": "user.risk",
        "user_is_privileged": "user.privileged",
    },
    "logon": {
        "target_user_name": "user.sam",
        "target_user_domain": "const:CORP",
        "target_user_sid": "user.sid",
        "subject_user_name": "enum:SYSTEM|-",
        "subject_user_sid": "enum:S-1-5-18|S-1-0-0",
        "subject_logon_id": "enum:0x3e7|0x0",
        "target_logon_id": "sess.id",
        "logon_type": "enum:3|2|10|5|11",
        "logon_process": "enum:Kerberos|NtLmSsp|User32|Advapi",
        "auth_package": "enum:Kerberos|NTLM|Negotiate",
        "workstation_name": "actor.name",
        "logon_guid": "sess.guid",
        "elevated_token": "enum:%%1843|%%1842",
        "impersonation_level": "enum:%%1833|%%1832",
        "key_length": "enum:0|128",
        "lm_package": "enum:-|NTLM V2",
        "src_ip": "actor.ip",
        "src_port": "int:49152:65535",
        "process_name": "bin.name",
        "process_pid": "inst.pid",
    },
    "logon_fail": {
        "failure_reason": "enum:%%2313|%%2304|%%2310",
        "failure_status": "enum:0xc000006d|0xc0000234",
        "failure_sub_status": "enum:0xc000006a|0xc0000064|0xc0000072",
    },
    "privileges": {"privilege_list": "enum:SeSecurityPrivilege SeBackupPrivilege SeRestorePrivilege|SeDebugPrivilege"},
    "process": {
        "process_name": "bin.name",
        "process_path": "bin.path",
        "process_pid": "inst.pid",
        "process_guid": "inst.guid",
        "process_command_line": "cmd",
        "process_current_dir": "bin.dir",
        "process_integrity_level": "bin.integrity",
        "process_user": "user.sam",
        "process_hash_md5": "bin.md5",
        "process_hash_sha1": "bin.sha1",
        "process_hash_sha256": "bin.sha256",
        "process_imphash": "bin.imphash",
        "process_company": "bin.company",
        "process_product": "bin.product",
        "process_description": "bin.description",
        "process_file_version": "bin.version",
        "process_original_file_name": "bin.original",
        "process_signed": "bin.signed",
        "process_signer": "bin.signer",
        "process_signature_status": "bin.status",
        "process_logon_id": "sess.id",
        "process_terminal_session_id": "enum:1|0|2",
    },
    "parent": {
        "parent_process_name": "parent.name",
        "parent_process_path": "parent.path",
        "parent_process_pid": "pinst.pid",
        "parent_process_guid": "pinst.guid",
        "parent_process_command_line": "parent.path",
    },
    "exit": {"process_exit_code": "enum:0|1|3221225786"},
    "net": {
        "src_ip": "actor.ip",
        "src_port": "int:49152:65535",
        "src_host": "actor.name",
        "dst_ip": "dom.ip",
        "dst_port": "enum:443|80|53|445|3389|22|8080|1433",
        "dst_host": "dom.name",
        "network_protocol": "enum:tcp|udp",
        "network_transport": "enum:tcp|udp",
        "network_direction": "enum:outbound|inbound|internal",
        "network_community_id": "pool.guid",
        "dst_geo_country": "dom.country",
        "dst_asn": "dom.asn",
        "dst_as_org": "dom.as_org",
    },
    "flow": {
        "bytes_in": "log:8",
        "bytes_out": "log:7",
        "packets_in": "log:3",
        "packets_out": "log:3",
        "duration_ms": "log:6",
        "src_zone": "enum:trust|dmz|vpn",
        "dst_zone": "enum:untrust|trust|dmz",
        "src_nat_ip": "enum:203.0.113.10|203.0.113.11",
        "src_nat_port": "int:1024:65535",
        "fw_action": "enum:allow|deny|drop|reset-both",
        "fw_rule_name": "enum:allow-web|allow-dns|default-deny|allow-o365|block-tor",
        "fw_rule_id": "int:1:40",
        "fw_policy": "enum:outbound-std|dc-core",
        "interface_in": "enum:ethernet1/2|ethernet1/3",
        "interface_out": "enum:ethernet1/1|ethernet1/4",
        "vlan_id": "enum:110|120|130|200",
        "fw_app": "enum:ssl|web-browsing|dns|ms-office365|ms-rdp",
        "fw_session_id": "seq",
        "fw_session_end_reason": "enum:tcp-fin|aged-out|tcp-rst-from-client|policy-deny",
        "tcp_flags": "enum:SA|S|FA|R",
        "src_geo_country": "const:DE",
        "threat_category": "enum:|spyware|vulnerability",
    },
    "dns": {
        "dns_query_name": "dom.name",
        "dns_query_type": "enum:A|AAAA|CNAME|TXT|SRV|PTR",
        "dns_query_class": "const:IN",
        "dns_response_code": "enum:NOERROR|NXDOMAIN|SERVFAIL",
        "dns_answers": "dom.ip",
        "dns_answer_ttl": "enum:300|60|3600|30",
        "dns_resolver_ip": "enum:10.0.0.53|10.0.1.53",
        "dns_registered_domain": "dom.registered",
        "dns_tld": "dom.tld",
        "dns_status": "enum:0|9003",
        "dns_flags": "enum:RD RA|RD",
        "dns_category": "dom.category",
    },
    "file": {
        "file_name": "pool.file",
        "file_path": "filepath",
        "file_directory": "user.sam",
        "file_extension": "enum:tmp|docx|pdf|dll|exe|ps1",
        "file_size": "log:10",
        "file_hash_md5": "filehash:32",
        "file_hash_sha1": "filehash:40",
        "file_hash_sha256": "filehash:64",
        "file_created": "lag",
        "file_owner": "user.sam",
        "file_mime_type": "enum:application/octet-stream|application/pdf|text/plain",
        "file_attributes": "enum:Archive|Hidden|ReadOnly",
        "file_zone_id": "enum:|3|2",
        "file_is_executable": "bool:0.1",
    },
    "file_rename": {"file_previous_path": "filepath", "file_target_path": "filepath"},
    "registry": {
        "registry_key": "pool.reg_key",
        "registry_path": "pool.reg_key",
        "registry_value_name": "pool.reg_value",
        "registry_value_data": "enum:1|0|DWORD (0x00000001)|C:\\Program Files\\Common Files\\x.dll",
        "registry_value_type": "enum:REG_DWORD|REG_SZ|REG_BINARY|REG_EXPAND_SZ",
        "registry_hive": "enum:HKLM|HKU",
        "registry_action": "enum:SetValue|CreateKey|DeleteValue",
        "registry_old_data": "enum:|0|1",
    },
    "image": {
        "module_path": "pool.dll",
        "module_name": "pool.dll",
        "module_hash_sha256": "pool.dll",
        "module_signed": "bool:0.98",
        "module_signer": "enum:Microsoft Windows|",
        "module_signature_status": "enum:Valid|Unsigned",
    },
    "http": {
        "url_full": "url",
        "url_domain": "dom.name",
        "url_path": "pool.url_path",
        "url_query": "pool.query",
        "url_scheme": "enum:https|http",
        "url_port": "enum:443|80|8080",
        "http_method": "enum:GET|POST|CONNECT|PUT|HEAD",
        "http_status": "enum:200|304|302|404|403|500|407",
        "http_user_agent": "pool.ua",
        "http_referrer": "dom.name",
        "http_content_type": "enum:text/html|application/json|image/png|application/octet-stream|text/javascript",
        "http_request_bytes": "log:6",
        "http_response_bytes": "log:9",
        "http_version": "enum:HTTP/1.1|HTTP/2",
        "proxy_action": "enum:allowed|blocked|observed",
        "proxy_category": "dom.category",
        "proxy_policy": "enum:default|strict|exec",
        "proxy_cache_status": "enum:MISS|HIT|",
        "url_risk_score": "int:0:100",
        "user_agent_browser": "enum:Chrome|Edge|Other",
        "user_agent_os": "enum:Windows|macOS|Linux",
    },
    "tls": {
        "tls_sni": "dom.name",
        "tls_version": "enum:TLSv1.3|TLSv1.2",
        "tls_cipher": "enum:TLS_AES_128_GCM_SHA256|TLS_AES_256_GCM_SHA384|ECDHE-RSA-AES128-GCM-SHA256",
        "tls_issuer": "dom.issuer",
        "tls_subject": "dom.registered",
        "tls_ja3": "enum:773906b0efdefa24a7f2b8eb6985bf37|a0e9f5d64349fb13191bc781f81f42e1",
        "tls_ja3s": "dom.ja3s",
        "tls_cert_sha1": "dom.cert_sha1",
        "tls_not_after": "enum:2027-01-15|2026-12-30|2027-03-02",
    },
    "email": {
        "email_from": "mailfrom",
        "email_to": "user.email",
        "email_cc": "enum:|||team@example.com",
        "email_subject": "pool.subject",
        "email_message_id": "uuid",
        "email_sender_ip": "dom.ip",
        "email_sender_domain": "dom.registered",
        "email_recipient_domain": "const:example.com",
        "email_direction": "enum:inbound|outbound|internal",
        "email_spf": "enum:pass|softfail|fail|none",
        "email_dkim": "enum:pass|none|fail",
        "email_dmarc": "enum:pass|none|fail",
        "email_verdict": "enum:clean|spam|bulk|phish|malware",
        "email_spam_score": "int:0:10",
        "email_size": "log:10",
        "email_delivery_action": "enum:delivered|junked|quarantined|blocked",
        "email_return_path": "mailfrom",
        "email_reply_to": "enum:|",
        "email_x_mailer": "enum:|Microsoft Outlook 16.0|PHPMailer 6.9",
        "email_url_count": "enum:0|1|2|5",
        "email_attachment_count": "enum:0|1|2",
        "email_language": "enum:en|de|fr",
        "email_thread_id": "pool.guid",
    },
    "attachment": {
        "email_attachment_name": "pool.file",
        "email_attachment_type": "enum:pdf|docx|xlsx|zip|html|iso",
        "email_attachment_size": "log:11",
        "email_attachment_sha256": "filehash:64",
        "email_threat_name": "enum:|Trojan:Win32/Wacatac|HTML/Phish",
    },
    "cloud": {
        "cloud_provider": "enum:aws|azure",
        "cloud_account_id": "enum:123456789012|210987654321|555566667777",
        "cloud_account_name": "enum:prod|dev|security",
        "cloud_region": "enum:eu-central-1|us-east-1|eu-west-1|westeurope",
        "cloud_service": "enum:s3.amazonaws.com|ec2.amazonaws.com|iam.amazonaws.com|sts.amazonaws.com"
        "|kms.amazonaws.com",
        "cloud_event_name": "pool.cloud_event",
        "cloud_event_source": "enum:s3.amazonaws.com|ec2.amazonaws.com|sts.amazonaws.com",
        "cloud_event_type": "enum:AwsApiCall|AwsServiceEvent|AwsConsoleSignIn",
        "cloud_request_id": "uuid",
        "cloud_event_id": "uuid",
        "cloud_user_type": "enum:AssumedRole|IAMUser|AWSService|Root",
        "cloud_user_arn": "user.arn",
        "cloud_access_key_id": "enum:ASIAXXXXEXAMPLE1|ASIAXXXXEXAMPLE2|AKIAXXXXEXAMPLE3",
        "cloud_session_mfa": "bool:0.7",
        "cloud_session_issuer": "enum:arn:aws:iam::123456789012:role/Admin|arn:aws:iam::123456789012:role/ReadOnly",
        "cloud_source_ip": "dom.ip",
        "cloud_user_agent": "pool.ua",
        "cloud_error_code": "enum:|||AccessDenied|NoSuchKey",
        "cloud_resource_type": "enum:AWS::S3::Object|AWS::EC2::Instance|AWS::IAM::Role",
        "cloud_resource_name": "pool.file",
        "cloud_read_only": "bool:0.8",
        "cloud_management_event": "bool:0.6",
        "cloud_recipient_account_id": "enum:123456789012",
        "cloud_vpc_id": "enum:vpc-0a1b2c3d|vpc-0f9e8d7c|",
        "cloud_instance_id": "enum:|i-0abc123|i-0def456|i-0123abc",
        "cloud_bucket_name": "enum:|corp-logs|corp-backups|public-web",
        "cloud_tls_version": "enum:TLSv1.3|TLSv1.2",
        "cloud_api_version": "enum:|2016-11-15|2006-03-01",
        "cloud_tenant_id": "enum:|72f988bf-86f1-41af-91ab-2d7cd011db47",
    },
    "kerberos": {
        "kerberos_service_name": "enum:krbtgt|cifs/fs01|http/web01|mssqlsvc/sql01:1433|ldap/dc-01",
        "kerberos_service_sid": "enum:S-1-5-21-3623811015-502|S-1-5-21-3623811015-1301",
        "kerberos_ticket_options": "enum:0x40810010|0x40810000|0x60810010",
        "kerberos_ticket_encryption": "enum:0x12|0x17|0x11",
        "kerberos_status": "enum:0x0|0x18|0x6|0x12",
        "kerberos_pre_auth_type": "enum:2|0|15",
        "kerberos_transited_services": "enum:-",
    },
    "service": {
        "service_name": "pool.reg_value",
        "service_file_name": "bin.path",
        "service_type": "enum:user mode service|kernel mode driver",
        "service_start_type": "enum:auto start|demand start|disabled",
        "service_account": "enum:LocalSystem|NT AUTHORITY\\LocalService",
    },
    "task": {
        "task_name": "pool.task",
        "task_author": "user.sam",
        "task_action": "cmd",
        "task_trigger": "enum:Logon|Daily|Boot|Idle",
        "task_content_hash": "filehash:64",
        "task_enabled": "bool:0.9",
    },
    "alert": {
        "alert_name": "pool.alert",
        "alert_signature_id": "int:2000000:2040000",
        "alert_severity": "enum:3|2|1",
        "alert_category": "pool.alert_class",
        "alert_rule_id": "int:1:500",
        "alert_mitre_technique": "pool.technique",
        "alert_mitre_tactic": "enum:command-and-control|execution|discovery|initial-access",
        "alert_confidence": "enum:medium|low|high",
        "alert_status": "enum:new|closed|in-progress",
        "alert_vendor": "enum:Suricata|Zeek",
        "ids_rev": "int:1:12",
        "ids_gid": "const:1",
        "alert_flow_id": "int:1000000:999999999",
        "alert_payload_printable": "enum:|GET / HTTP/1.1",
    },
    "dhcp": {
        "dhcp_lease_ip": "actor.ip",
        "dhcp_mac": "actor.mac",
        "dhcp_hostname": "actor.name",
        "dhcp_lease_duration": "enum:86400|28800",
        "dhcp_message_type": "enum:ACK|REQUEST|RENEW|RELEASE",
        "dhcp_server": "enum:10.0.0.5|10.0.1.5",
        "dhcp_vendor_class": "enum:MSFT 5.0|android-dhcp-14|",
        "dhcp_relay_ip": "enum:10.10.1.1|10.11.1.1|10.12.1.1|10.13.1.1",
    },
    "vpn": {
        "vpn_user": "user.upn",
        "vpn_assigned_ip": "actor.ip",
        "vpn_client_ip": "dom.ip",
        "vpn_gateway": "host.name",
        "vpn_tunnel_type": "enum:SSL|IPSec",
        "vpn_session_id": "sess.id",
        "vpn_duration_s": "log:8",
        "vpn_bytes_in": "log:14",
        "vpn_bytes_out": "log:12",
        "vpn_client_version": "enum:6.1.2|6.0.8",
        "vpn_client_os": "enum:Windows|macOS|iOS|Android",
        "vpn_auth_method": "enum:SAML|RADIUS|certificate",
        "vpn_mfa_result": "enum:success|timeout|denied",
        "vpn_geo_country": "pool.country",
        "vpn_geo_city": "enum:Frankfurt|London|New York|Singapore|Berlin|Paris",
        "vpn_action": "enum:connect|disconnect|reauth",
    },
    "account": {
        "target_user_name": "user.sam",
        "target_user_sid": "user.sid",
        "subject_user_name": "enum:adm_jsmith|adm_kcohen",
        "group_name": "enum:Domain Admins|Remote Desktop Users|Backup Operators|VPN-Users|Finance-RW",
        "group_sid": "enum:S-1-5-21-3623811015-512|S-1-5-32-555|S-1-5-32-551",
        "group_domain": "const:CORP",
        "member_name": "user.full",
        "member_sid": "user.sid",
        "account_sam_name": "user.sam",
        "account_display_name": "user.full",
        "account_upn": "user.upn",
        "account_password_last_set": "lag",
        "account_expires": "enum:%%1794|never",
        "account_uac": "enum:0x210|0x10|0x200",
        "account_old_uac": "enum:0x211|0x15|0x0",
        "account_privileges": "enum:-",
    },
    "ti": {
        "ti_matched": "const:true",
        "ti_indicator": "dom.name",
        "ti_indicator_type": "enum:domain|ip|url|hash",
        "ti_feed": "enum:abuse.ch|otx|misp-internal|cisa-ais",
        "ti_confidence": "int:30:100",
        "ti_threat_actor": "enum:|FIN7|APT29|TA505",
        "ti_first_seen": "lag",
        "ti_last_seen": "lag",
        "ti_tags": "enum:c2|phishing|malware-distribution|scanner",
    },
    "geo": {
        "dst_geo_city": "enum:Dublin|Ashburn|Frankfurt|Amsterdam|Moscow",
        "dst_geo_lat": "dom.lat",
        "dst_geo_lon": "dom.lon",
        "dst_geo_region": "enum:Leinster|Virginia|Hesse|North Holland",
        "dst_geo_continent": "enum:EU|NA|AS",
    },
}
# The long tail: per-source vendor fields the normalisation keeps as they came (CEF custom fields, the raw
# fields of each product, the parsers' leftovers). Each type fills a few of them; most rows none.
TAIL = {
    **{f"cef_cs{i}": "pool.reg_value" for i in range(1, 7)},
    **{f"cef_cs{i}_label": "enum:policy|rule|zone" for i in range(1, 7)},
    **{f"cef_cn{i}": "int:0:1000" for i in range(1, 4)},
    **{f"cef_cn{i}_label": "enum:score|count" for i in range(1, 4)},
    **{f"cef_flex_string{i}": "enum:a|b|c" for i in range(1, 3)},
    **{f"cef_device_custom_date{i}": "lag" for i in range(1, 3)},
    **{
        f"pan_{f}": "enum:x|y|z"
        for f in words(
            "actionflags cat contentver devicegroup logset parent_session_id pcap_id repeatcnt seqno "
            "sessionid tunnel tunnelid vsys vsys_name subtype url_idx http2_connection dg_hier_level_1 dg_hier_level_2"
        )
    },
    **{
        f"sysmon_{f}": "enum:1|0"
        for f in words(
            "rule_name archived is_executable hashes_raw image_loaded_signed user_sid "
            "terminal_session_id tlsh source_is_ipv6 destination_is_ipv6 initiated source_port_name "
            "destination_port_name"
        )
    },
    **{
        f"winlog_{f}": "enum:Security|Microsoft-Windows-Sysmon/Operational"
        for f in words(
            "channel computer_name keywords "
            "opcode task version process_thread_id activity_id related_activity_id provider_guid record_number"
        )
    },
    **{
        f"o365_{f}": "enum:a|b"
        for f in words(
            "workload operation record_type organization_id user_type client_ip object_id "
            "site_url source_file_name source_relative_url item_type application_id correlation_id"
        )
    },
    **{
        f"aad_{f}": "enum:a|b"
        for f in words(
            "app_display_name client_app_used conditional_access_status device_detail "
            "ip_address location mfa_detail resource_display_name risk_level_aggregated risk_state status_error_code "
            "token_issuer_type authentication_requirement"
        )
    },
    **{
        f"edr_{f}": "enum:low|medium"
        for f in words(
            "detection_id severity confidence tactic technique scenario pattern_id "
            "sensor_version cid aid machine_domain local_ip external_ip platform_name product_type_desc"
        )
    },
    **{
        f"zeek_{f}": "enum:S0|SF|REJ"
        for f in words(
            "uid conn_state history local_orig local_resp missed_bytes orig_ip_bytes "
            "resp_ip_bytes tunnel_parents service ts_rcvd"
        )
    },
    **{
        f"k8s_{f}": "enum:a|b"
        for f in words(
            "namespace pod_name container_name container_image node_name verb resource "
            "subresource request_uri response_code user_agent source_ip audit_id stage"
        )
    },
    **{
        f"linux_{f}": "enum:a|b"
        for f in words(
            "auid uid gid euid suid fsuid egid tty ses comm exe key syscall arch a0 a1 success items ppid pid"
        )
    },
    **{
        f"enrich_{f}": "enum:a|b"
        for f in words(
            "asset_owner asset_tags asset_location asset_cmdb_id asset_lifecycle "
            "user_manager user_location user_cost_center user_hire_date user_status geo_src_city geo_src_lat "
            "geo_src_lon "
            "geo_src_asn geo_src_as_org"
        )
    },
    **{
        f"soar_{f}": "enum:a|b"
        for f in words("case_id case_status playbook playbook_run_id analyst verdict disposition ticket_id")
    },
}


@dataclass(frozen=True, eq=False)  # hashed by identity (for @cache)
class EventType:
    name: str
    weight: float
    device: str  # who reports it: "endpoint" (a workstation/server) or a DEVICES key
    groups: tuple[str, ...]
    fixed: dict  # per-type values of COMMON fields (and group-field overrides)
    optional: dict  # group -> share of this type's rows that fill it
    tail: int = 0  # how many vendor long-tail columns this source fills


def _win(code: int, action: str, msg: str, provider: str = "Microsoft-Windows-Security-Auditing") -> dict:
    return {
        "event_code": f"const:{code}",
        "event_action": f"const:{action}",
        "event_message": f"const:{msg}",
        "event_provider": f"const:{provider}",
        "log_source": "const:WinEventLog:Security",
        "vendor": "const:Microsoft",
        "product": "const:Windows",
        "sourcetype": "const:XmlWinEventLog",
        "agent_type": "const:winlogbeat",
    }


def _sysmon(code: int, action: str, msg: str) -> dict:
    return {
        **_win(code, action, msg, "Microsoft-Windows-Sysmon"),
        "log_source": "const:Sysmon",
        "product": "const:Sysmon",
    }


def _src(action: str, vendor: str, product: str, code: str = "") -> dict:
    return {
        "event_action": f"enum:{action}",
        "vendor": f"const:{vendor}",
        "product": f"const:{product}",
        "event_code": f"const:{code}" if code else "enum:",
        "log_source": f"const:{product}",
        "sourcetype": f"const:{vendor.lower()}:{product.lower()}",
        "agent_type": "const:syslog",
    }


EVENT_TYPES = [
    EventType(
        "network_connection",
        20,
        "endpoint",
        ("user", "process", "net"),
        _sysmon(3, "connection", "Network connection detected"),
        {"geo": 0.3},
        4,
    ),
    EventType("dns_query", 15, "endpoint", ("user", "process", "dns"), _sysmon(22, "dns-query", "DNS query"), {}, 3),
    EventType(
        "process_creation",
        10,
        "endpoint",
        ("user", "process", "parent"),
        _sysmon(1, "process-created", "Process Create"),
        {},
        5,
    ),
    EventType(
        "firewall",
        9,
        "fw",
        ("net", "flow"),
        _src("allow|deny|drop", "Palo Alto Networks", "PAN-OS", "TRAFFIC"),
        {"geo": 0.5, "ti": 0.01},
        12,
    ),
    EventType(
        "file_create", 8, "endpoint", ("user", "process", "file"), _sysmon(11, "file-created", "File created"), {}, 3
    ),
    EventType(
        "process_termination",
        7,
        "endpoint",
        ("user", "process", "exit"),
        _sysmon(5, "process-terminated", "Process terminated"),
        {},
        2,
    ),
    EventType(
        "registry_set",
        6,
        "endpoint",
        ("user", "process", "registry"),
        _sysmon(13, "registry-value-set", "Registry value set"),
        {},
        2,
    ),
    EventType(
        "http_proxy",
        6,
        "proxy",
        ("user", "net", "http", "tls"),
        _src("allowed|blocked", "Zscaler", "ZIA"),
        {"ti": 0.01},
        6,
    ),
    EventType(
        "logon_success",
        5,
        "endpoint",
        ("logon",),
        _win(4624, "logged-in", "An account was successfully logged on."),
        {},
        2,
    ),
    EventType(
        "image_load", 4, "endpoint", ("user", "process", "image"), _sysmon(7, "image-loaded", "Image loaded"), {}, 2
    ),
    EventType("logoff", 4, "endpoint", ("logon",), _win(4634, "logged-out", "An account was logged off."), {}, 1),
    EventType(
        "special_privileges",
        1.5,
        "endpoint",
        ("logon", "privileges"),
        _win(4672, "special-logon", "Special privileges assigned to new logon."),
        {},
        1,
    ),
    EventType(
        "logon_failure",
        1,
        "endpoint",
        ("logon", "logon_fail"),
        _win(4625, "logon-failed", "An account failed to log on."),
        {},
        2,
    ),
    EventType(
        "kerberos",
        1.2,
        "dc",
        ("logon", "kerberos"),
        _win(4769, "kerberos-service-ticket-requested", "A Kerberos service ticket was requested."),
        {},
        2,
    ),
    EventType(
        "email",
        0.8,
        "mail",
        ("user", "email"),
        _src("delivered|junked|quarantined", "Proofpoint", "PPS"),
        {"attachment": 0.2, "ti": 0.02},
        6,
    ),
    EventType(
        "cloud_audit",
        1.0,
        "cloud",
        ("user", "cloud"),
        _src("api-call|console-login", "AWS", "CloudTrail"),
        {"geo": 0.3},
        8,
    ),
    EventType("dhcp", 0.4, "dhcp", ("dhcp",), _src("assign|renew|release", "Microsoft", "DHCP", "10"), {}, 2),
    EventType(
        "vpn",
        0.3,
        "vpn",
        ("user", "vpn"),
        _src("connect|disconnect", "Palo Alto Networks", "GlobalProtect"),
        {"geo": 1.0},
        6,
    ),
    EventType(
        "ids_alert",
        0.2,
        "ids",
        ("net", "alert"),
        _src("alert", "OISF", "Suricata", "alert"),
        {"ti": 0.2, "geo": 1.0},
        10,
    ),
    EventType(
        "file_rename",
        0.5,
        "endpoint",
        ("user", "process", "file", "file_rename"),
        _sysmon(2, "file-renamed", "File creation time changed"),
        {},
        2,
    ),
    EventType(
        "account_management",
        0.05,
        "dc",
        ("account",),
        _win(4732, "added-member-to-group", "A member was added to a security-enabled local group."),
        {},
        3,
    ),
    EventType(
        "service_install",
        0.03,
        "endpoint",
        ("user", "service"),
        _win(7045, "service-installed", "A service was installed in the system.", "Service Control Manager"),
        {},
        2,
    ),
    EventType(
        "scheduled_task",
        0.03,
        "endpoint",
        ("user", "task"),
        _win(4698, "scheduled-task-created", "A scheduled task was created."),
        {},
        2,
    ),
]


@cache
def fields() -> dict[str, str]:
    """Every column, in export order, with its default kind."""
    out = dict(COMMON)
    for group in GROUPS.values():
        for name, kind in group.items():
            out.setdefault(name, kind)
    out.update({name: kind for name, kind in TAIL.items() if name not in out})
    return out


_TYPES = {
    "int": pa.int32(),
    "log": pa.int64(),
    "seq": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "time": TS,
    "lag": TS,
    "ingest": TS,
}


_ATTR_TYPES = {
    "dom.asn": pa.int32(),
    "dom.lat": pa.float64(),
    "dom.lon": pa.float64(),
    "inst.pid": pa.int32(),
    "pinst.pid": pa.int32(),
    "user.privileged": pa.bool_(),
    "bin.signed": pa.bool_(),
}


@cache
def schema() -> pa.Schema:
    """The full export schema: timestamps, integers, floats, booleans and (mostly) strings."""
    out = []
    for name, kind in fields().items():
        head = kind.split(":")[0].split(".")[0]
        t = _TYPES.get(head, pa.string())
        out.append(pa.field(name, _ATTR_TYPES.get(kind, t)))
    return pa.schema(out)


@cache
def type_columns(et: EventType) -> tuple[str, ...]:
    """The columns this event type fills (COMMON + its groups + optional groups + its long-tail share)."""
    names = list(COMMON)
    for g in et.groups + tuple(et.optional):
        names += [n for n in GROUPS[g] if n not in names]
    k = EVENT_TYPES.index(et)
    tail = list(TAIL)
    names += [tail[(k * 7 + i) % len(tail)] for i in range(et.tail) if tail[(k * 7 + i) % len(tail)] not in names]
    order = list(fields())
    return tuple(sorted(names, key=order.index))


# --- generating rows ---------------------------------------------------------------------------------------


@dataclass
class Rows:
    """Who and what the rows of one type in one chunk are about: indices into the population tables."""

    rng: np.random.Generator
    times: np.ndarray  # ms since epoch, increasing
    row0: np.ndarray  # global row numbers
    host: np.ndarray
    actor: np.ndarray
    user: np.ndarray
    bin: np.ndarray
    parent: np.ndarray
    dom: np.ndarray
    inst: np.ndarray  # process instance: (host, binary, one of a few runs that day)
    pinst: np.ndarray  # its parent's
    sess: np.ndarray  # logon session: (host, user, one of a few logons that day)


def _rows(et: EventType, rng: np.random.Generator, times: np.ndarray, row0: np.ndarray) -> Rows:
    pop = population()
    n, n_hosts, n_users = len(times), len(pop["host"]["name"]), len(pop["user"]["sam"])
    names = pop["host"]["name"].to_pylist()
    actor = np.where(rng.random(n) < 0.9, _zipf(rng, n, 840, 1.05) * 7 % 840, rng.integers(0, 900, n))
    if et.device == "endpoint":
        host = actor
    else:
        devs = [names.index(d) for d in DEVICES[et.device]]
        host = np.array(devs)[_zipf(rng, n, len(devs), 1.5)]
    # a workstation's primary user (sometimes someone else; service accounts on servers)
    user = np.where(rng.random(n) < 0.85, actor % 700, rng.integers(0, n_users, n))
    user = np.where(actor >= 840, 700 + rng.integers(0, n_users - 700, n), user)
    n_bins = len(pop["bin"]["name"])
    binary, parent = _zipf(rng, n, n_bins, 1.3), _zipf(rng, n, n_bins, 2.0)
    runs = rng.integers(0, 4, (3, n))
    inst, pinst = (actor * 64 + binary) * 4 + runs[0], (actor * 64 + parent) * 4 + runs[1]
    sess = (actor * 1000 + user) * 4 + runs[2]
    dom = _zipf(rng, n, len(pop["dom"]["name"]), 1.15)
    return Rows(rng, times, row0, host % n_hosts, actor, user, binary, parent, dom, inst, pinst, sess)


def _enum(values: list[str], rng: np.random.Generator, n: int) -> pa.Array:
    return pa.array(values).take(pa.array(_zipf(rng, n, len(values), 1.6)))


def _value(name: str, kind: str, r: Rows, et: EventType) -> pa.Array:
    """One column for the rows `r`, drawn per `kind` (see the comment above COMMON)."""
    pop, rng, n = population(), r.rng, len(r.times)
    head, _, arg = kind.partition(":")
    entity, _, attr = head.partition(".")
    if attr and entity in ("host", "actor", "user", "bin", "parent", "dom"):
        table = pop[{"actor": "host", "parent": "bin"}.get(entity, entity)]
        return table[attr].take(pa.array(getattr(r, entity)))
    if entity in ("inst", "pinst", "sess"):  # one process / logon session: the same id in all its events
        ids = getattr(r, entity)
        if attr == "pid":  # Windows PIDs: multiples of 4
            return pa.array((4 * (100 + ids * 2654435761 % 9000)).astype(np.int32))
        values = pop["pool"]["session" if attr == "id" else "guid"]
        return values.take(pa.array(ids % len(values)))
    if entity == "pool":
        values = pop["pool"][attr]
        return values.take(pa.array(_zipf(rng, n, len(values), 1.02)))
    match head:
        case "type":
            return pa.array([et.name] * n)
        case "const":
            return pa.array([arg] * n)
        case "enum":
            return _enum(arg.split("|"), rng, n) if arg else pa.array([name] * n)
        case "int":
            lo, hi = map(int, arg.split(":"))
            return pa.array(rng.integers(lo, hi + 1, n).astype(np.int32))
        case "log":
            return pa.array(rng.lognormal(float(arg), 1.5, n).astype(np.int64))
        case "float":
            lo, hi = map(float, arg.split(":"))
            return pa.array(np.round(rng.uniform(lo, hi, n), 4))
        case "bool":
            return pa.array(rng.random(n) < float(arg))
        case "time":
            return pa.array(r.times, TS)
        case "ingest":  # the collector's clock, a few seconds later
            return pa.array((r.times + rng.integers(1_000, 6_000, n)) // 1000 * 1000, TS)  # indexers stamp seconds
        case "lag":
            return pa.array(r.times - rng.integers(200, 30_000, n), TS)
        case "seq":  # per-host EventRecordID: increases on each host
            return pa.array(r.host.astype(np.int64) * 10_000_000 + r.row0 // 100)
        case "uuid":  # unique per event (request ids, message ids)
            return pa.array([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)])
        case "filehash":  # files repeat (the same DLLs, installers, documents): a pool of hashes
            return _file_hashes(int(arg)).take(pa.array(_zipf(rng, n, 3000, 1.05)))
        case "filepath":
            base = pa.array([r"C:\Users\{}\AppData\Local\Temp", r"C:\Users\{}\Downloads", r"C:\Users\{}\Documents"])
            dirs = pc.replace_substring(base.take(pa.array(_zipf(rng, n, 3, 1.5))), "{}", "")
            dirs = pc.binary_join_element_wise(dirs, pop["user"]["sam"].take(pa.array(r.user)), "")
            return pc.binary_join_element_wise(dirs, _value(name, "pool.file", r, et), "\\")
        case "cmd":
            path = pop["bin"]["path"].take(pa.array(r.bin))
            args = _enum(
                [
                    "",
                    "",
                    "--type=renderer --lang=en-US",
                    "-k netsvcs -p",
                    "/c whoami",
                    "-nop -w hidden -enc",
                    "/S /D /c",
                    "--profile-directory=Default",
                ],
                rng,
                n,
            )
            return pc.binary_join_element_wise(pc.binary_join_element_wise('"', path, '"', ""), args, " ")
        case "url":
            return pc.binary_join_element_wise(
                "https://", _value(name, "dom.name", r, et), _value(name, "pool.url_path", r, et), ""
            )
        case "mailfrom":
            local = _enum(["noreply", "info", "billing", "support", "newsletter", "hr", "ceo"], rng, n)
            return pc.binary_join_element_wise(local, _value(name, "dom.registered", r, et), "@")
    raise ValueError(f"unknown kind {kind!r} of {name}")


def _typed(arr: pa.Array, t: pa.DataType) -> pa.Array:
    return arr if arr.type == t else arr.cast(t)


def generate(et: EventType, rng: np.random.Generator, times: np.ndarray, row0: np.ndarray) -> pa.Table:
    """The rows of one event type: only its own columns."""
    r = _rows(et, rng, times, row0)
    sch, cols = schema(), {}
    for name in type_columns(et):
        group = next((g for g in et.groups + tuple(et.optional) if name in GROUPS[g]), None)
        kind = et.fixed.get(name) or (GROUPS[group][name] if group else fields()[name])
        arr = _typed(_value(name, kind, r, et), sch.field(name).type)
        if group in et.optional:  # an enrichment or part that only some of this type's rows have
            arr = pc.if_else(pa.array(rng.random(len(times)) < et.optional[group]), arr, None)
        cols[name] = arr
    return pa.table(cols)


@dataclass
class Chunk:
    index: int
    rows: int
    order: np.ndarray  # for each row of the concatenated per-type tables, its position in time order
    parts: dict[str, pa.Table]  # event type -> its rows (its own columns), in time order


def chunk(index: int, rows: int, seed: int = SEED) -> Chunk:
    """Chunk `index` of an export of `rows` rows; deterministic in (index, rows, seed)."""
    lo, hi = index * CHUNK_ROWS, min(rows, (index + 1) * CHUNK_ROWS)
    n = hi - lo
    rng = np.random.default_rng([seed, 1, index])
    t0, t1 = START.timestamp() * 1000 + SPAN_MS * lo / rows, START.timestamp() * 1000 + SPAN_MS * hi / rows
    times = np.sort(rng.uniform(t0, t1, n)).astype(np.int64)
    weights = np.array([et.weight for et in EVENT_TYPES])
    kind = rng.choice(len(EVENT_TYPES), n, p=weights / weights.sum())
    parts, positions = {}, []
    for k, et in enumerate(EVENT_TYPES):
        at = np.flatnonzero(kind == k)
        if len(at):
            parts[et.name] = generate(et, np.random.default_rng([seed, 2, index, k]), times[at], lo + at)
            positions.append(at)
    return Chunk(index, n, np.concatenate(positions), parts)


def chunks(rows: int, seed: int = SEED) -> Iterator[Chunk]:
    for i in range(-(-rows // CHUNK_ROWS)):
        yield chunk(i, rows, seed)


def expand(table: pa.Table) -> pa.Table:
    """`table`'s rows in the full schema: the columns it lacks are all null, as in the export."""
    n, have = table.num_rows, set(table.column_names)
    return pa.table(
        [table[f.name] if f.name in have else pa.nulls(n, f.type) for f in schema()],
        schema=schema(),
    )


def in_time_order(c: Chunk) -> pa.Table:
    """The chunk as the SIEM exports it: all columns, rows in time order."""
    full = pa.concat_tables([expand(t) for t in c.parts.values()])
    return full.take(pa.array(np.argsort(c.order, kind="stable")))

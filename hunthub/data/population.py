"""The one population every source draws from, so the tables join: the same accounts, host names, addresses and
external domains appear in auth_events, process_events, the Zeek logs, the scans and the asset inventory.

Its size grows with the dataset (more events, more hosts) but it depends only on (seed, events), never on how
the rows are later chunked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

DOMAIN = "CORP"
FIRST = ["a", "b", "c", "d", "e", "j", "k", "l", "m", "p", "r", "s", "t"]
LAST = ["smith", "nguyen", "garcia", "mueller", "rossi", "kim", "ivanov", "silva", "cohen", "okafor"]
MORE_LAST = ["brown", "lee", "patel", "santos", "novak", "larsen", "yamada", "dubois", "costa", "haddad"]
DEPARTMENTS = ["finance", "engineering", "sales", "hr", "legal", "operations", "it", "marketing"]
SERVICE_ACCOUNTS = ["svc_backup", "svc_sql", "svc_web"]
ADMINS = ["adm_jsmith", "adm_kcohen"]
# (name, role); DCs first: they answer DNS and Kerberos. WEB-02 is the internet-facing Java app server.
SERVERS = [
    ("DC-01", "domain controller"),
    ("DC-02", "domain controller"),
    ("FS-01", "server"),
    ("SQL-01", "server"),
    ("WEB-01", "server"),
    ("WEB-02", "server"),
    ("EXCH-01", "server"),
    ("JUMP-01", "server"),
]
# Where each service account runs (logon type 5 on that server).
SERVICE_HOME = {"svc_backup": "FS-01", "svc_sql": "SQL-01", "svc_web": "WEB-01"}

# Benign sites: everyday traffic. Real, well-known names so the data reads naturally; never in the TI feed
# except as deliberately expired indicators.
SITES = [
    "microsoft.com", "windowsupdate.com", "office.com", "office365.com", "live.com", "bing.com", "google.com",
    "gstatic.com", "googleapis.com", "youtube.com", "github.com", "githubusercontent.com", "slack.com",
    "zoom.us", "salesforce.com", "okta.com", "amazonaws.com", "cloudfront.net", "akamaihd.net", "apple.com",
    "icloud.com", "linkedin.com", "wikipedia.org", "stackoverflow.com", "python.org", "pypi.org",
    "adobe.com", "dropbox.com", "box.com", "atlassian.net", "docker.io", "ubuntu.com", "mozilla.org",
    "digicert.com", "letsencrypt.org", "cnn.com", "bbc.co.uk", "reuters.com", "nytimes.com", "weather.com",
]  # fmt: skip
HOST_PREFIXES = ["", "www.", "api.", "login.", "cdn.", "static."]


@dataclass(frozen=True)
class Population:
    users: list[str]
    user_department: list[str]
    user_workstation: list[int]  # host index of each user's own workstation (-1: none)
    hosts: list[str]
    host_ip: list[str]
    host_kind: list[str]
    host_owner: list[str]
    host_department: list[str]
    n_workstations: int  # hosts[:n_workstations] are workstations, the rest servers
    names: list[str]  # external DNS names clients look up / browse (host prefix + site)
    name_ip: list[str]

    def host(self, name: str) -> int:
        return self.hosts.index(name)

    def ip_of(self, name: str) -> str:
        return self.host_ip[self.host(name)]

    @cached_property
    def arrays(self) -> dict[str, pa.Array]:
        """Arrow arrays to `take` from: strings for millions of rows without building Python objects."""
        return {k: pa.array(getattr(self, k), pa.string()) for k in ("users", "hosts", "host_ip", "names", "name_ip")}

    @cached_property
    def servers(self) -> np.ndarray:
        return np.arange(self.n_workstations, len(self.hosts))

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.users)}


def size_for(events: int) -> int:
    """Workstations for a dataset of `events` events: 90 for the demo sizes, up to 20,000 at 10^8."""
    return int(np.clip(events // 600, 90, 20_000))


def build(seed: int, events: int) -> Population:
    rng = np.random.default_rng([seed, 1])
    n_ws = size_for(events)
    lasts = LAST if n_ws <= 90 else LAST + MORE_LAST
    combos = [f + last for f in FIRST for last in lasts]
    target = int(n_ws * 1.3)
    if target <= len(combos):
        people = sorted(str(p) for p in rng.choice(combos, target, replace=False))
    else:  # beyond the few hundred name combinations, numbered as a real directory does
        people = list(combos)
        k = 2
        while len(people) < target:
            people += [f"{c}{k}" for c in combos[: target - len(people)]]
            k += 1
        people.sort()
    users = people + SERVICE_ACCOUNTS + ADMINS
    department = [str(rng.choice(DEPARTMENTS)) for _ in people] + ["it"] * (len(SERVICE_ACCOUNTS) + len(ADMINS))

    workstations = [f"WS-{i:05d}" if n_ws > 9999 else f"WS-{i:04d}" for i in range(1, n_ws + 1)]
    hosts = workstations + [name for name, _ in SERVERS]
    kind = ["workstation"] * n_ws + [role for _, role in SERVERS]
    # Workstations in 10.10.0.0/16 upwards, servers in their own 10.0.1.0/24: an analyst can tell them apart.
    ips = [f"10.{10 + i // 250}.{i // 250 % 250}.{10 + i % 250}" for i in range(n_ws)]
    ips += [f"10.0.1.{10 + i}" for i in range(len(SERVERS))]

    # Most people get their own workstation; spare workstations are shared (owned by IT).
    user_ws = [-1] * len(users)
    owner = ["svc_desktop"] * n_ws + ["adm_jsmith" if k == "domain controller" else "adm_kcohen" for k in kind[n_ws:]]
    host_dept = ["it"] * len(hosts)
    for ui, ws in enumerate(rng.permutation(n_ws)[: len(people)]):
        user_ws[ui] = int(ws)
        owner[ws] = people[ui]
        host_dept[ws] = department[ui]

    names = [p + s for s in SITES for p in HOST_PREFIXES]
    name_ip = _external_ips(rng, len(names))
    return Population(users, department, user_ws, hosts, ips, kind, owner, host_dept, n_ws, names, name_ip)


def _external_ips(rng: np.random.Generator, n: int) -> list[str]:
    # Public-looking, outside the ranges the scenarios use for attackers (185.x, 45.x).
    firsts = np.array([13, 20, 23, 31, 52, 104, 142, 151, 172, 199])
    out = set()
    while len(out) < n:
        a = int(rng.choice(firsts))
        b, c, d = (int(x) for x in rng.integers(1, 255, 3))
        if a == 172 and 16 <= b < 32:
            continue
        out.add(f"{a}.{b}.{c}.{d}")
    return sorted(out)

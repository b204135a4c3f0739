"""Everyday Windows logons (auth_events): people on their own workstations, network and RDP logons to servers,
service accounts on their servers; a few percent failures."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from hunthub.data import draw
from hunthub.data.population import DOMAIN, SERVICE_HOME, Population
from hunthub.data.tables import AUTH

FAILURE_REASONS = ["bad password", "unknown user", None]
OUTCOMES = ["success", "failure"]
PACKAGES = ["Kerberos", "NTLM", "Negotiate"]


def background(pop: Population, rng: np.random.Generator, n: int, day: int) -> pa.Table:
    user = rng.integers(0, len(pop.users), n)
    own = np.asarray(pop.user_workstation)[user]
    anywhere = rng.integers(0, pop.n_workstations, n)
    src = np.where((own >= 0) & (rng.random(n) < 0.8), own, anywhere)
    # Domain controllers take the most logons; every other server an equal share.
    server_weights = [4 if k == "domain controller" else 1 for k in pop.host_kind[pop.n_workstations :]]
    server = pop.servers[draw.choose(rng, n, server_weights)]
    to_server = rng.random(n) < 0.7
    dst = np.where(to_server, server, src)
    logon_type = np.where(to_server, np.where(rng.random(n) < 0.9, 3, 10), 2)

    # Service accounts log on as services on their own server, and fail more (stale passwords in configs).
    service = np.zeros(n, bool)
    for name, home in SERVICE_HOME.items():
        mine = user == pop.user_index[name]
        src[mine] = dst[mine] = pop.host(home)
        service |= mine
    logon_type = np.where(service, 5, logon_type).astype(np.int8)

    kind = rng.random(n)
    fail = np.where(service, 0.12, 0.06)
    event_id = np.select([kind < fail, kind < fail + 0.24, kind < fail + 0.28], [4625, 4634, 4672], 4624)
    failed = event_id == 4625
    reason = np.where(failed, np.where(rng.random(n) < 0.8, 0, 1), 2)
    package = np.where(logon_type == 3, np.where(rng.random(n) < 0.8, 0, 1), 2)
    return rows(
        pop,
        time_us=draw.office_hours(rng, n, day),
        event_id=event_id,
        user=draw.take(pop.arrays["users"], user),
        logon_type=logon_type,
        package=package,
        src=src,
        dst=dst,
        reason=reason,
    )


def rows(pop, *, time_us, event_id, user, logon_type, package, src, dst, reason) -> pa.Table:
    """An auth_events table from per-row indexes (hosts into pop.hosts, package/reason into the lists above)."""
    n = len(time_us)
    return pa.table(
        {
            "event_time": draw.times(time_us),
            "event_id": pa.array(event_id, pa.int32()),
            "outcome": draw.take(OUTCOMES, (np.asarray(event_id) == 4625).astype(np.int64)),
            "user": user,
            "domain": draw.const(DOMAIN, n),
            "logon_type": pa.array(logon_type, pa.int8()),
            "auth_package": draw.take(PACKAGES, package),
            "src_host": draw.take(pop.arrays["hosts"], src),
            "src_ip": draw.take(pop.arrays["host_ip"], src),
            "dst_host": draw.take(pop.arrays["hosts"], dst),
            "failure_reason": draw.take(FAILURE_REASONS, reason),
            "dst_ip": draw.take(pop.arrays["host_ip"], dst),
        },
        schema=AUTH.schema,
    )

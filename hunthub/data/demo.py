"""A small, deterministic authentication dataset so a fresh stack has something to hunt in.

Windows-style logon events (4624 success, 4625 failure, 4634 logoff, 4672 special privileges) over one week,
written as Parquet partitioned by date. The same seed always gives the same rows, so tests and tutorials can
state their answers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hunthub import catalog

TABLE = "auth_events"
DAYS = 7
START = datetime(2026, 11, 2, tzinfo=UTC)

SCHEMA = pa.schema(
    [
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("event_id", pa.int32(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("user", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("logon_type", pa.int8(), nullable=False),
        pa.field("auth_package", pa.string(), nullable=False),
        pa.field("src_host", pa.string(), nullable=False),
        pa.field("src_ip", pa.string(), nullable=False),
        pa.field("dst_host", pa.string(), nullable=False),
        pa.field("failure_reason", pa.string()),
    ]
)
# Spark DDL of the same table (with the partition column), so kernels need not read footers at start.
DDL = (
    "event_time TIMESTAMP, event_id INT, outcome STRING, user STRING, domain STRING, logon_type TINYINT, "
    "auth_package STRING, src_host STRING, src_ip STRING, dst_host STRING, failure_reason STRING, date DATE"
)
DESCRIPTION = "Windows logon events (4624/4625/4634/4672), one week, demo data"

Progress = Callable[[int, int], None]


def _population(rng: np.random.Generator):
    first = ["a", "b", "c", "d", "e", "j", "k", "l", "m", "p", "r", "s", "t"]
    last = ["smith", "nguyen", "garcia", "mueller", "rossi", "kim", "ivanov", "silva", "cohen", "okafor"]
    users = sorted({f"{rng.choice(first)}{rng.choice(last)}" for _ in range(120)})
    users += ["svc_backup", "svc_sql", "svc_web", "adm_jsmith", "adm_kcohen"]
    workstations = [f"WS-{i:04d}" for i in range(1, 91)]
    servers = ["DC-01", "DC-02", "FS-01", "SQL-01", "WEB-01", "WEB-02", "EXCH-01", "JUMP-01"]
    ips = {h: f"10.{10 + i // 250}.{i % 250}.{10 + i % 200}" for i, h in enumerate(workstations + servers)}
    return users, workstations, servers, ips


def generate_day(day: int, events: int, seed: int = 20261102) -> pa.Table:
    """One day's events, sorted by time. Deterministic in (day, events, seed)."""
    rng = np.random.default_rng([seed, day])
    users, workstations, servers, ips = _population(np.random.default_rng(seed))
    n = events
    # Office hours dominate; a thin tail at night.
    hours = np.where(rng.random(n) < 0.85, rng.normal(13, 2.5, n), rng.uniform(0, 24, n)).clip(0, 23.999)
    micros = (hours * 3600e6).astype(np.int64) + rng.integers(0, 1_000_000, n)
    base = int((START + timedelta(days=day)).timestamp() * 1e6)
    times = np.sort(base + micros)

    user = np.array(users)[rng.integers(0, len(users), n)]
    src = np.array(workstations)[rng.integers(0, len(workstations), n)]
    is_server_target = rng.random(n) < 0.7
    dst = np.where(is_server_target, np.array(servers)[rng.integers(0, len(servers), n)], src)
    logon_type = np.where(is_server_target, np.where(rng.random(n) < 0.9, 3, 10), 2).astype(np.int8)
    service = np.char.startswith(user.astype(str), "svc_")
    logon_type = np.where(service, 5, logon_type).astype(np.int8)

    kind = rng.random(n)
    event_id = np.select([kind < 0.06, kind < 0.30, kind < 0.34], [4625, 4634, 4672], 4624).astype(np.int32)
    outcome = np.where(event_id == 4625, "failure", "success")
    reason = np.where(event_id == 4625, np.where(rng.random(n) < 0.8, "bad password", "unknown user"), None)
    package = np.where(logon_type == 3, np.where(rng.random(n) < 0.8, "Kerberos", "NTLM"), "Negotiate")

    return pa.table(
        {
            "event_time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "event_id": event_id,
            "outcome": outcome,
            "user": user,
            "domain": np.full(n, "CORP"),
            "logon_type": logon_type,
            "auth_package": package,
            "src_host": src,
            "src_ip": np.vectorize(ips.get)(src),
            "dst_host": dst,
            "failure_reason": pa.array(reason, pa.string()),
        },
        schema=SCHEMA,
    )


def write(warehouse_dir: Path, events: int, progress: Progress | None = None) -> Path:
    """Write `events` events spread over a week; returns the table's directory.

    Written into a temporary sibling and renamed at the end, so an interrupted run leaves nothing half-done.
    """
    if events <= 0:
        raise ValueError("events must be positive")
    target = warehouse_dir / TABLE
    tmp = warehouse_dir / f".{TABLE}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    per_day = [events // DAYS + (1 if d < events % DAYS else 0) for d in range(DAYS)]
    done = 0
    for day, count in enumerate(per_day):
        if count == 0:
            continue
        part = tmp / f"date={(START + timedelta(days=day)).date().isoformat()}"
        part.mkdir(parents=True)
        pq.write_table(generate_day(day, count), part / "part-00000.parquet", compression="zstd")
        done += count
        if progress:
            progress(done, events)
    for p in [tmp, *tmp.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def write_and_register(warehouse_dir: Path, catalog_path: Path, events: int, progress: Progress | None = None):
    write(warehouse_dir, events, progress)
    catalog.register(catalog_path, catalog.Table(TABLE, TABLE, description=DESCRIPTION, schema=DDL))


def ensure(warehouse_dir: Path, catalog_path: Path, events: int, progress: Progress | None = None) -> bool:
    """Write the demo table and catalog entry unless they exist. True when it wrote them."""
    tables = catalog.load(catalog_path)
    if TABLE in tables and (tables[TABLE].path != TABLE or (warehouse_dir / TABLE).is_dir()):
        return False  # never replace an admin's own auth_events, wherever it lives
    write_and_register(warehouse_dir, catalog_path, events, progress)
    return True

"""The synthetic security dataset: every table, written day by day in bounded chunks, plus its answer key.

`--events N` is the number of rows over the five event tables (auth_events, process_events, zeek_conn,
zeek_dns, zeek_http), exactly; the reference tables (assets, vuln_findings, threat_intel) come on top and grow
with the number of hosts. The same (seed, events, days) always gives the same rows: every chunk has its own
random stream, so nothing depends on the order chunks are made in, and memory holds one chunk at a time.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hunthub import atomic_file, catalog
from hunthub.data import auth, draw, network, population, process, reference, scenarios
from hunthub.data.tables import ALL, AUTH, INTEL, PROCESS, VULNS, TableSpec

DEFAULT_SEED = 20261102
DEFAULT_DAYS = 7
MIN_EVENTS = 5_000  # the planted scenarios alone take about 1,200 rows
MAX_DAYS = 366
CHUNK_ROWS = 1_000_000  # rows per file and per chunk in memory (a few hundred MB at most)
ROW_GROUP_ROWS = 512 * 1024
AUTH_SHARE, PROCESS_SHARE = 0.35, 0.10  # the rest is network (zeek_conn + zeek_dns + zeek_http)
VERSION = 1  # of the generator: bump when rows change for the same seed, so old answer keys are not trusted

Progress = Callable[[int, int], None]


@dataclass
class Plan:
    """What will be written: the population, the planted rows, and background rows per source, day and chunk."""

    seed: int
    events: int
    days: int
    pop: population.Population
    planted: scenarios.Planted
    chunks: dict[str, list[list[int]]] = field(default_factory=dict)  # source -> day -> chunk sizes

    def background_rows(self, source: str) -> int:
        if source == "network":
            return sum(network.rows_for(n) for day in self.chunks[source] for n in day)
        return sum(sum(day) for day in self.chunks[source])


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _chunked(per_day: list[int], rows_per_unit: float) -> list[list[int]]:
    return [split(n, max(1, math.ceil(n * rows_per_unit / CHUNK_ROWS))) for n in per_day]


def check(events: int, days: int) -> None:
    if events < MIN_EVENTS:
        raise ValueError(
            f"events must be at least {MIN_EVENTS:,} (the planted attack scenarios need room), not {events:,}"
        )
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")


def plan(events: int, seed: int = DEFAULT_SEED, days: int = DEFAULT_DAYS) -> Plan:
    check(events, days)
    pop = population.build(seed, events)
    planted = scenarios.plant(pop, seed, days)
    p = Plan(seed, events, days, pop, planted)
    background = events - sum(planted.counts().values())
    connections = network.connections_for(round(background * (1 - AUTH_SHARE - PROCESS_SHARE)))
    p.chunks["network"] = _chunked(split(connections, days), 1 + network.DNS_SHARE + network.HTTP_SHARE)
    rest = background - p.background_rows("network")  # whatever the network rounding left: totals stay exact
    n_auth = round(rest * AUTH_SHARE / (AUTH_SHARE + PROCESS_SHARE))
    p.chunks["auth"] = _chunked(split(n_auth, days), 1)
    p.chunks["process"] = _chunked(split(rest - n_auth, days), 1)
    return p


SOURCES = {  # source -> (random stream id, generator of one chunk's tables)
    "auth": (2, lambda pop, rng, n, day: {AUTH.name: auth.background(pop, rng, n, day)}),
    "process": (3, lambda pop, rng, n, day: {PROCESS.name: process.background(pop, rng, n, day)}),
    "network": (4, network.background),
}


def answer_key(seed: int = DEFAULT_SEED, events: int = 50_000, days: int = DEFAULT_DAYS) -> dict:
    """The answer key of the dataset (seed, events, days), recomputed without generating or reading it."""
    p = plan(events, seed, days)
    _, expired = reference.threat_intel(p.pop, seed, p.planted)
    return _key(p, expired)


def _key(p: Plan, expired: list[dict]) -> dict:
    key = {
        "generator_version": VERSION,
        "seed": p.seed,
        "events": p.events,
        "days": p.days,
        "start": draw.iso(draw.day_start_us(0)),
        "end": draw.iso(draw.day_start_us(p.days)),
        "scenarios": {k: v for k, v in p.planted.key.items() if k != "benign"},
        "benign": {**p.planted.key["benign"], "expired_indicators": expired},
    }
    return json.loads(json.dumps(key))  # plain JSON types only, as a reader of the file gets them


@dataclass
class Result:
    paths: dict[str, Path]
    rows: dict[str, int]
    bytes: int
    key: dict
    skipped: list[str] = field(default_factory=list)


def generate(
    out_dir: Path,
    events: int,
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    progress: Progress | None = None,
    tables: Iterable[str] | None = None,
) -> Result:
    """Write the tables (all, or those named) under out_dir/<table>; returns where, how much, and the key.

    Each table is written into a hidden sibling and renamed when complete, so an interrupted run leaves the
    previous tables (or none) rather than half of one.
    """
    p = plan(events, seed, days)
    wanted = set(ALL) if tables is None else set(tables)
    tmp = {name: out_dir / f".{name}.tmp" for name in ALL if name in wanted}
    for d in tmp.values():
        shutil.rmtree(d, ignore_errors=True)
    rows = dict.fromkeys(ALL, 0)
    planted = p.planted.tables()
    planted_day = {name: _day_of(t, ALL[name]) for name, t in planted.items()}
    done = 0
    try:
        for day in range(days):
            for source, (stream, make) in SOURCES.items():
                for c, n in enumerate(p.chunks[source][day]):
                    chunk = make(p.pop, np.random.default_rng([seed, stream, day, c]), n, day)
                    for name, table in chunk.items():
                        if c == 0 and name in planted:  # needles go into the day's first file, sorted in
                            mask = pa.array(planted_day[name] == day)
                            table = pa.concat_tables([table, planted[name].filter(mask)])
                        rows[name] += table.num_rows
                        done += table.num_rows
                        if name in wanted and table.num_rows:
                            _write(draw.sort(table, ALL[name].sort_by), tmp[name] / _partition(day), c)
                    if progress:
                        progress(done, events)
        intel, expired = reference.threat_intel(p.pop, seed, p.planted)
        for day, table in reference.vuln_findings(p.pop, seed, days, p.planted).items():
            rows[VULNS.name] += table.num_rows
            if VULNS.name in wanted:
                _write(table, tmp[VULNS.name] / _partition(day), 0)
        for spec, table in ((INTEL, intel), (ALL["assets"], reference.assets(p.pop, seed))):
            rows[spec.name] = table.num_rows
            if spec.name in wanted:
                _write(table, tmp[spec.name], 0)
        assert done == events, (done, events)  # the table sizes are exact by construction
        paths, size = {}, 0
        for name, d in tmp.items():
            d.mkdir(parents=True, exist_ok=True)
            for f in [d, *d.rglob("*")]:
                f.chmod(0o755 if f.is_dir() else 0o644)
                size += f.stat().st_size if f.is_file() else 0
            target = out_dir / name
            if target.exists():
                shutil.rmtree(target)
            d.rename(target)
            paths[name] = target
    finally:
        for d in tmp.values():
            shutil.rmtree(d, ignore_errors=True)
    return Result(paths, {n: rows[n] for n in ALL}, size, _key(p, expired))


def _day_of(table: pa.Table, spec: TableSpec) -> np.ndarray:
    ts = table[spec.columns[0].name].cast(pa.int64()).to_numpy()
    return (ts - draw.day_start_us(0)) // draw.DAY_US


def _partition(day: int) -> str:
    return f"date={(draw.START + timedelta(days=day)).date().isoformat()}"


def _write(table: pa.Table, directory: Path, n: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / f"part-{n:05d}.parquet", compression="zstd", row_group_size=ROW_GROUP_ROWS)


def register(catalog_path: Path, names: Iterable[str]) -> None:
    """Catalog entries (relative to the warehouse) with their DDL, in one atomic catalog write."""
    tables = catalog.load(catalog_path)
    for name in names:
        spec = ALL[name]
        tables[name] = catalog.Table(name, name, description=spec.description, schema=spec.ddl)
    catalog.save(catalog_path, tables)


def not_ours(catalog_path: Path) -> list[str]:
    """Generated table names the catalog points elsewhere: an admin's own data, never to be replaced."""
    tables = catalog.load(catalog_path)
    return sorted(n for n in ALL if n in tables and tables[n].path != n)


def write_key(path: Path, key: dict) -> None:
    """The answer key, readable by its owner only: analysts are meant to hunt, not to look it up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_file.write_json(path, key, indent=2)


def read_table(path: Path) -> pa.Table:
    """A written table as analysts' Spark sees it (with the date partition column), for tests and checks."""
    import pyarrow.dataset as ds

    partitioning = "hive" if any(path.glob("date=*")) else None
    return ds.dataset(path, format="parquet", partitioning=partitioning).to_table()

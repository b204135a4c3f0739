"""The demo dataset a fresh stack gets on first `hunthub up`: the synthetic generator (hunthub.data.generate) at
the configured size, every table registered in the catalog.

Kept as the entry point `hunthub up`, the test harness and the benchmarks call; `auth_events` (TABLE) is the
table they look at first.
"""

from __future__ import annotations

from pathlib import Path

from hunthub import catalog
from hunthub.data import generate
from hunthub.data.draw import START  # noqa: F401 - the first day of the data, for callers
from hunthub.data.tables import ALL, AUTH

TABLE = AUTH.name
SCHEMA = AUTH.schema
DDL = AUTH.ddl
DESCRIPTION = AUTH.description
DAYS = generate.DEFAULT_DAYS
TABLES = tuple(ALL)

Progress = generate.Progress


def write(warehouse_dir: Path, events: int, progress: Progress | None = None) -> Path:
    """Write every table (`events` event rows in all); returns auth_events' directory."""
    return generate.generate(warehouse_dir, events, progress=progress).paths[TABLE]


def write_and_register(
    warehouse_dir: Path,
    catalog_path: Path,
    events: int,
    progress: Progress | None = None,
    answer_key: Path | None = None,
    *,
    seed: int = generate.DEFAULT_SEED,
    days: int = generate.DEFAULT_DAYS,
) -> generate.Result:
    """(Re)write and register the generated tables, except those the catalog points elsewhere (an admin's)."""
    keep = generate.not_ours(catalog_path)
    names = [n for n in ALL if n not in keep]
    result = generate.generate(warehouse_dir, events, seed, days, progress, tables=names)
    generate.register(catalog_path, names)
    if answer_key is not None:
        generate.write_key(answer_key, result.key)
    result.skipped = keep
    return result


def ensure(
    warehouse_dir: Path,
    catalog_path: Path,
    events: int,
    progress: Progress | None = None,
    answer_key: Path | None = None,
) -> bool:
    """Write the demo tables and catalog entries unless they exist. True when it wrote them.

    A table the catalog points elsewhere is an admin's and is never replaced; ours are rewritten together when
    any is missing, so the sources always come from one generation and join. Sizes below the generator's
    minimum are raised to it.
    """
    tables = catalog.load(catalog_path)
    missing = [n for n in ALL if n not in tables or (tables[n].path == n and not (warehouse_dir / n).is_dir())]
    if not missing:
        return False
    write_and_register(warehouse_dir, catalog_path, max(events, generate.MIN_EVENTS), progress, answer_key)
    return True

"""The dataset catalog: which warehouse tables exist and where their Parquet lives.

A JSON file every kernel reads at start, so `spark.sql("select ... from auth_events")` works everywhere::

    {"version": 1,
     "tables": {"auth_events": {"path": "auth_events", "format": "parquet",
                                "description": "...", "schema": "event_time TIMESTAMP, ..."}}}

`path` is relative to the warehouse root (file:// by default, hdfs:// by config) or an absolute URI.
`schema` (a Spark DDL string) is optional; when present, kernels skip reading Parquet footers at start.
`sources` (optional, written by `hunthub ingest`) maps a column to the source keys it holds, e.g.
{"subject_user_name": ["SubjectUserName"], "subject_user_name__9c1f0e": ["subjectUserName"]}: where each field of
the raw events went, and where the next ingest puts it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from hunthub import atomic_file, locks

TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class Table:
    name: str
    path: str
    format: str = "parquet"
    description: str = ""
    schema: str = ""
    sources: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=True)

    def location(self, warehouse: str) -> str:
        if "://" in self.path:
            return self.path
        return warehouse.rstrip("/") + "/" + self.path.lstrip("/")


def local_path(uri: str) -> Path | None:
    """The local directory of a file:// URI (percent-decoded), None for any other scheme."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def load(path: str | os.PathLike) -> dict[str, Table]:
    """Tables in the catalog file; an absent file is an empty catalog, a malformed one a clear error."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        doc = json.loads(p.read_text())
        entries = doc["tables"]
        if not isinstance(entries, dict):
            raise TypeError("'tables' must be an object")
        tables = {}
        for name, entry in entries.items():
            if not TABLE_NAME.fullmatch(name):
                raise CatalogError(f"{p}: table name {name!r} is not a valid SQL identifier")
            if not isinstance(entry, dict):
                raise CatalogError(f"{p}: table {name}: every field must be a string")
            sources = entry.get("sources", {})
            if not _is_sources(sources):
                raise CatalogError(f"{p}: table {name}: 'sources' must map column names to lists of strings")
            if not all(isinstance(v, str) for k, v in entry.items() if k != "sources"):
                raise CatalogError(f"{p}: table {name}: every field must be a string")
            tables[name] = Table(name=name, **{**entry, "sources": sources})
        return tables
    except CatalogError:
        raise
    except OSError as e:
        raise CatalogError(f"The dataset catalog {p} cannot be read ({e.strerror}).") from e
    except (ValueError, KeyError, TypeError) as e:
        raise CatalogError(f"The dataset catalog {p} is malformed ({e}); fix or remove it.") from e


def _is_sources(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in value.items()
    )


def save(path: str | os.PathLike, tables: dict[str, Table]) -> None:
    """Write atomically: kernels read this file while ingest updates it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "version": 1,
        "tables": {
            n: {k: v for k, v in asdict(t).items() if k != "name" and not (k == "sources" and not v)}
            for n, t in tables.items()
        },
    }
    # 0644: kernels read it under the analysts' own accounts.
    atomic_file.write_json(p, body, mode=0o644, indent=2, sort_keys=True)


def register(path: str | os.PathLike, table: Table) -> None:
    if not TABLE_NAME.fullmatch(table.name):
        raise CatalogError(f"table name {table.name!r} is not a valid SQL identifier")
    p = Path(path)
    # load, change, save as one step: two ingests into different tables finishing together would otherwise each
    # write back the catalog they loaded, and the later one would drop the other's table
    with locks.exclusive(p.parent / f".{p.name}.lock", "", say=lambda _: None):
        tables = load(p)
        tables[table.name] = table
        save(p, tables)

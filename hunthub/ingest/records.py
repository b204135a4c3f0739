"""Column types, coercion to a table's types, record ids and catalog DDL. Pure Python (runs on executors).

Types are Spark's simple type strings ("bigint", "array<string>"), so they go straight into DDL.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime

from hunthub.ingest.readers import RecordError, parse_time

INTEGRAL = {"tinyint": 2**7, "smallint": 2**15, "int": 2**31, "bigint": 2**63}


def kind_of(value) -> str | None:
    """The Spark type a Python value asks for; None for a null (it asks for nothing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, list):
        inner = None
        for item in value:
            inner = merge_kinds(inner, kind_of(item))
        return f"array<{inner}>" if inner else "array"
    return "string"  # str, and dicts/lists of mixed things are kept as JSON text


def merge_kinds(a: str | None, b: str | None) -> str | None:
    """The narrowest type both fit: bigint and double widen to double; anything else that disagrees is text."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    if a == "array" and b.startswith("array<"):
        return b
    if b == "array" and a.startswith("array<"):
        return a
    if a.startswith("array<") and b.startswith("array<"):
        inner = merge_kinds(a[6:-1], b[6:-1])
        return f"array<{inner}>" if not inner.startswith("array") else "string"
    return "string"


def resolved(kind: str | None) -> bool:
    """A column is created only once its type is known; an all-null column loses nothing by waiting."""
    return kind is not None and kind != "array"


def coerce(value, spark_type: str):
    """The value as the table column's type, or RecordError: a table's types never change once written, so a
    later file with text in a number column quarantines those records instead of breaking older partitions."""
    if value is None:
        return None
    t = spark_type.lower()
    if t == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, default=str)
        return str(value)
    if t in INTEGRAL:
        n = _integral(value, t)
        if not -INTEGRAL[t] <= n < INTEGRAL[t]:
            raise RecordError(f"{value!r} is out of range for {t.upper()}")
        return n
    if t in ("double", "float"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise RecordError(f"{_short(value)} is not a {t.upper()}") from None
    if t == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "t", "yes", "1"):
            return True
        if text in ("false", "f", "no", "0"):
            return False
        raise RecordError(f"{_short(value)} is not a BOOLEAN")
    if t == "timestamp":
        return parse_time(value)
    if t == "date":
        return value.date() if isinstance(value, datetime) else parse_time(value).date()
    m = re.fullmatch(r"array<(.+)>", t)
    if m:
        if not isinstance(value, list):
            raise RecordError(f"{_short(value)} is not an {t.upper()}")
        return [coerce(v, m.group(1)) for v in value]
    raise RecordError(f"column type {t} is not supported by ingest")


def _integral(value, t: str) -> int:
    if isinstance(value, bool):
        raise RecordError(f"{value!r} is not a {t.upper()}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise RecordError(f"{_short(value)} is not a {t.upper()}") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def record_id(record: dict) -> str:
    """Identity of an event by its content, not by where it came from: the same event ingested again - the same
    file twice, a renamed copy, an overlapping export of the last seven days - is recognised and skipped."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def quarantine_id(source: str, line: int, raw: str | None) -> str:
    """A bad record is identified by where it is: the analyst fixes it there, and a rerun must not repeat it."""
    return hashlib.sha256(json.dumps([source, line, raw]).encode()).hexdigest()[:32]


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def ddl(columns: list[tuple[str, str]]) -> str:
    """Catalog schema string; names quoted because Zeek and CSV headers bring names like `from` or `user`."""
    return ", ".join(f"`{name}` {spark_type.upper()}" for name, spark_type in columns)


def split_top_level(text: str) -> list[str]:
    parts, depth, start, quoted = [], 0, 0, False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_ddl(text: str) -> list[tuple[str, str]]:
    """(name, type) pairs of a catalog DDL string like "event_time TIMESTAMP, `from` STRING"."""
    columns = []
    for part in split_top_level(text):
        m = re.fullmatch(r"(`[^`]+`|\S+)\s+(.+?)(?:\s+NOT\s+NULL)?(?:\s+COMMENT\s+'.*')?", part, re.I | re.S)
        if not m:
            raise ValueError(f"cannot read column {part!r} of the catalog schema")
        columns.append((m.group(1).strip("`"), re.sub(r"\s+", "", m.group(2)).lower()))
    return columns

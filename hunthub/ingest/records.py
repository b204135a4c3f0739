"""Column types, coercion to a table's types, record ids and catalog DDL. Pure Python (runs on executors).

Types are Spark's simple type strings ("bigint", "array<string>"), so they go straight into DDL.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime

from hunthub.ingest.readers import FIELDS, KEY, ORIGINS, RESERVED, RecordError, column_name, parse_time

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


def event_id(record: dict, raw: str) -> str:
    """The _record_id of a parsed entry. A CSV or Zeek row is all columns, so its content is the whole event. A
    record keyed by source names (JSON lines, Windows events) is identified by the source's own unique key when it
    has one (a Windows event's channel, computer, record number and time: the same event from an EVTX file, XML
    or a forwarder), else by its whole raw text - never by the columns kept, so two events that differ in a field
    no column holds are two rows, and exact copies are one."""
    if FIELDS not in record:
        return record_id(record)
    key = record.get(KEY)
    text = json.dumps(["key", *key], separators=(",", ":"), default=_canonical) if key else raw
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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


# --- which column each source key lands in --------------------------------------------------------------------


def _preference(key: str, count: int) -> tuple:
    """Of new keys competing for one column name, a key that starts with a letter wins it (Windows' Version over
    Logstash's @version, which forwarders add to every event), then the most frequent (Sysmon's ProcessId over
    WFP's ProcessID), then the name itself."""
    return (not key[:1].isalnum(), -count, key)


def suffixed(base: str, key: str, taken) -> str:
    """The column of a key that lost `base` to another: base__ and a hash of its exact spelling, the same for this
    key in every table and run (lengthened in the unlikely case that it is taken)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    for n in range(6, len(digest) + 1, 2):
        name = f"{base}__{digest[:n]}"
        if name not in taken:
            return name
    raise ValueError(f"no free column name for {key!r}")  # pragma: no cover - 2**256 names


def assign_columns(keys: dict[str, int], sources: dict[str, list[str]], columns, reserved) -> dict[str, str]:
    """{source key: column} for the keys of one ingest (key -> how many events have it).

    - A key the table has seen keeps its column (the catalog's `sources`: column -> source keys).
    - A new key gets column_name(key), with src_ before a name the table uses itself (event_time, date, the
      columns a reader fills, such as computer), if no other key has that column: `reserved` columns never go to
      a key, nor do columns whose sources are other keys. An existing column with no recorded sources (a table
      ingested before sources were kept) goes to the first key that asks for it, as it did then.
    - Of new keys that want the same column (`Image` and `image`), the one _preference picks gets it; each other
      one gets `suffixed`. Never a quarantine, and the same key lands in the same column in every later ingest.
    """
    mapping = {key: column for column, ks in sources.items() for key in ks if key in keys}
    owned = {column for column, ks in sources.items() if ks} | set(reserved)
    taken = set(columns) | owned
    claimable = set(columns) - owned
    wanted: dict[str, list[str]] = {}
    for key in keys:
        if key not in mapping:
            base = column_name(key)
            wanted.setdefault(f"src_{base}" if base in reserved else base, []).append(key)
    for base in sorted(wanted):
        for key in sorted(wanted[base], key=lambda k: _preference(k, keys[k])):
            if base in claimable or base not in taken:
                mapping[key] = base
                claimable.discard(base)
            else:
                mapping[key] = suffixed(base, key, taken)
            taken.add(mapping[key])
    return mapping


def columns_of(record: dict, sources: dict | None = None) -> dict:
    """One record as a row of a new table would hold it ({column: value}; or of a table with these catalog
    `sources`): to look at a parsed event by hand, and in tests."""
    fields = record.get(FIELDS)
    if fields is None:
        return dict(record)
    own = {k: v for k, v in record.items() if k not in (FIELDS, ORIGINS, KEY)}
    mapping = assign_columns(dict.fromkeys(fields, 1), sources or {}, (), RESERVED | set(own))
    return {**own, **{mapping[k]: v for k, v in fields.items()}}

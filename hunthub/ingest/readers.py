"""Turn raw lines of each supported format into flat records: {column: Python value}, always with `event_time`.

Pure Python, so the same code runs on executors (batch and streaming) and in unit tests. A record that cannot be
used raises RecordError (it is quarantined with that reason); a file that cannot be read at all (a Zeek log
without `#fields`, a CSV without a timestamp column) raises FormatError, which names the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FORMATS = ("csv", "jsonl", "zeek", "winevent")

# Columns every ingested table has; a source field of the same name is kept as src_<name>.
EVENT_TIME = "event_time"
PARTITION = "date"
LINEAGE = ("_record_id", "_source_file", "_source_line")
RESERVED = {EVENT_TIME, PARTITION, *LINEAGE}
# Zeek tables keep Zeek's names, as the demo zeek_* tables do: the event time is `ts`, id.orig_h is orig_h.
ZEEK_TIME = "ts"


def time_column(fmt: str) -> str:
    """The column a new table of this format keeps its event time in (records carry it as `event_time`)."""
    return ZEEK_TIME if fmt == "zeek" else EVENT_TIME


# Where the event time usually is, after column_name(); the first one a record has wins.
TIME_CANDIDATES = (
    "event_time", "timestamp", "ts", "time", "datetime", "time_created", "time_generated", "eventtime",
    "created_at", "date",
)  # fmt: skip


class RecordError(ValueError):
    """This record goes to quarantine; the message is the reason."""


class FormatError(ValueError):
    """The whole file cannot be read in this format."""


def column_name(name: str) -> str:
    """A Spark/Parquet-friendly column: snake_case, [a-z0-9_] only, so `IpAddress`, `id.orig_h` and `@timestamp`
    become ip_address, id_orig_h and timestamp. Lower case because Spark resolves columns case-insensitively
    while Parquet does not: `User` and `user` in two files would otherwise be two columns Spark cannot tell apart."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip())
    s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
    if not s:
        return "field"
    return f"f_{s}" if s[0].isdigit() else s


def _put(record: dict, name: str, value) -> None:
    col = column_name(name)
    if col in record:
        raise RecordError(f"fields map to the same column {col!r}; rename one in the source")
    record[col] = value


# --- time ------------------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOWEST, _HIGHEST = datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")  # PowerShell 5 ConvertTo-Json
_US_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M")  # Excel / Event Viewer CSV


def parse_time(value) -> datetime:
    """An aware UTC datetime from epoch seconds/ms/us, ISO 8601, /Date(ms)/ or US-style text. Times without a
    zone are taken as UTC: security logs are written in UTC far more often than not, and guessing the ingest
    host's zone would make the same file land differently on different machines."""
    if isinstance(value, bool) or value is None or value == "":
        raise RecordError(f"no usable timestamp ({value!r})")
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, int | float):
        t = _from_epoch(float(value))
    else:
        text = str(value).strip()
        m = _DOTNET_DATE.match(text)
        if m:
            t = _from_epoch(int(m.group(1)) / 1000)
        else:
            try:
                t = _from_epoch(float(text))
            except ValueError:
                t = _from_text(text)
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if not _LOWEST <= t < _HIGHEST:
        raise RecordError(f"timestamp {value!r} is out of range (1990-2100)")
    return t


def _from_epoch(x: float) -> datetime:
    if x != x or abs(x) > 1e19:  # NaN / absurd
        raise RecordError(f"timestamp {x!r} is not a time")
    # seconds until 5138, milliseconds until 5138, then microseconds: how Zeek, JS and Java write epochs
    scale = 1 if abs(x) < 1e11 else 1e3 if abs(x) < 1e14 else 1e6
    return _EPOCH + timedelta(microseconds=round(x / scale * 1e6))


def _from_text(text: str) -> datetime:
    iso = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Windows writes 7 fractional digits; Python takes 6
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    for fmt in _US_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RecordError(f"timestamp {text[:80]!r} is not in a known format")


def with_event_time(fields: dict, time_field: str | None, reserved=frozenset(RESERVED)) -> dict:
    """The record with its time field moved to `event_time` (parsed) and reserved names renamed."""
    candidates = (time_field,) if time_field else TIME_CANDIDATES
    name = next((c for c in candidates if fields.get(c) not in (None, "")), None)
    if name is None:
        looked = time_field or ", ".join(TIME_CANDIDATES)
        raise RecordError(f"no timestamp (looked for {looked})")
    record = {EVENT_TIME: parse_time(fields[name])}
    for key, value in fields.items():
        if key != name:
            record[f"src_{key}" if key in reserved else key] = value
    return record


# --- CSV ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvHeader:
    columns: tuple[str, ...]
    line: int  # the header's line number, so the body starts after it
    delimiter: str = ","


def csv_header(lines: list[str], source: str, time_field: str | None = None, delimiter: str = ",") -> CsvHeader:
    for number, line in enumerate(lines, 1):
        line = line.lstrip("\ufeff")
        if line.strip():
            names = next(csv.reader([line], delimiter=delimiter))
            columns = tuple(column_name(n) for n in names)
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            if dupes:
                raise FormatError(f"{source}: header columns {dupes} appear twice (after normalising names)")
            wanted = (column_name(time_field),) if time_field else TIME_CANDIDATES
            if not any(c in columns for c in wanted):
                raise FormatError(
                    f"{source}: no timestamp column in the header {list(names)[:12]}; "
                    f"name it with --time-field (looked for {', '.join(wanted)})"
                )
            return CsvHeader(columns, number, delimiter)
    raise FormatError(f"{source}: empty file, no CSV header")


_INT = re.compile(r"-?(0|[1-9]\d{0,17})")  # no leading zeros: "007" is an identifier, not the number 7
_FLOAT = re.compile(r"-?\d+\.\d+([eE][-+]?\d+)?")


def csv_value(text: str):
    """CSV has no types; numbers and booleans are recognised so ports compare as numbers. A column's type is
    then the widest its values need (records.merge_kinds): one 'N/A' keeps the whole column text."""
    if text == "":
        return None  # an empty cell is a missing value: that is what the exporting tool meant
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def csv_record(header: CsvHeader, raw: str, time_field: str | None = None) -> dict:
    try:
        values = next(csv.reader(io.StringIO(raw), delimiter=header.delimiter, strict=True))
    except (csv.Error, StopIteration) as e:
        raise RecordError(f"not CSV: {e}") from None
    if len(values) != len(header.columns):
        raise RecordError(f"expected {len(header.columns)} fields, got {len(values)}")
    fields = {c: csv_value(v) for c, v in zip(header.columns, values, strict=True)}
    return with_event_time(fields, column_name(time_field) if time_field else None)


# --- JSON lines --------------------------------------------------------------------------------------------------


def flatten(obj: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Nested objects become prefix_key columns (Suricata's alert.signature -> alert_signature): hunting queries
    filter on them, and flat columns keep the table readable from SQL."""
    out = {} if out is None else out
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flatten(value, name, out)
        else:
            _put(out, name, value)
    return out


def json_object(raw: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise RecordError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RecordError(f"not a JSON object but {type(doc).__name__}")
    return doc


def jsonl_record(raw: str, time_field: str | None = None) -> dict:
    return with_event_time(flatten(json_object(raw)), column_name(time_field) if time_field else None)


# --- Zeek TSV ----------------------------------------------------------------------------------------------------

_ZEEK_SCALARS = {
    "time": "timestamp",
    "interval": "double",
    "double": "double",
    "count": "bigint",
    "int": "bigint",
    "port": "bigint",
    "bool": "boolean",
}


def zeek_type(t: str) -> str:
    """Spark type of a Zeek `#types` entry: addr/subnet/enum/string/pattern are text, containers are arrays."""
    m = re.fullmatch(r"(set|vector|table)\[(.+)\]", t)
    if m:
        return f"array<{zeek_type(m.group(2))}>"
    return _ZEEK_SCALARS.get(t, "string")


@dataclass(frozen=True)
class ZeekHeader:
    fields: tuple[str, ...]
    types: tuple[str, ...]
    separator: str = "\t"
    set_separator: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str = ""


def _unescape(s: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


def zeek_header(lines: list[str], source: str) -> ZeekHeader:
    """Read the `#` header Zeek's ASCII writer puts at the top of every log."""
    sep = "\t"
    meta: dict[str, list[str]] = {}
    for line in lines:
        line = line.lstrip("\ufeff").rstrip("\r\n")
        if not line.startswith("#"):
            break
        if line.startswith("#separator"):
            sep = _unescape(line[len("#separator") :].strip())
            continue
        key, *values = line[1:].split(sep)
        meta[key] = values
    if "fields" not in meta:
        raise FormatError(f"{source}: not a Zeek TSV log (no #fields line); for Zeek JSON logs use --format jsonl")
    fields = tuple(meta["fields"])
    types = tuple(meta.get("types", ["string"] * len(fields)))
    if len(types) != len(fields):
        raise FormatError(f"{source}: #types has {len(types)} entries for {len(fields)} #fields")
    return ZeekHeader(
        fields=fields,
        types=types,
        separator=sep,
        set_separator=_unescape(meta.get("set_separator", [","])[0]),
        empty=meta.get("empty_field", ["(empty)"])[0],
        unset=meta.get("unset_field", ["-"])[0],
        path=meta.get("path", [""])[0],
    )


def _zeek_value(text: str, ztype: str, h: ZeekHeader):
    m = re.fullmatch(r"(set|vector|table)\[(.+)\]", ztype)
    if m:
        if text == h.empty:
            return []
        return [_zeek_value(part, m.group(2), h) for part in text.split(h.set_separator)]
    if text == h.empty:
        return ""
    spark_type = _ZEEK_SCALARS.get(ztype, "string")
    try:
        if spark_type == "timestamp":
            return parse_time(float(text))
        if spark_type == "double":
            return float(text)
        if spark_type == "bigint":
            return int(text)
    except ValueError:
        raise RecordError(f"{text[:40]!r} is not a Zeek {ztype}") from None
    if spark_type == "boolean":
        if text not in ("T", "F"):
            raise RecordError(f"{text[:40]!r} is not a Zeek bool (T/F)")
        return text == "T"
    return _unescape(text)


def zeek_record(h: ZeekHeader, raw: str, time_field: str | None = None) -> dict:
    values = raw.rstrip("\r\n").split(h.separator)
    if len(values) != len(h.fields):
        raise RecordError(f"expected {len(h.fields)} Zeek fields, got {len(values)}")
    fields: dict = {}
    for name, ztype, text in zip(h.fields, h.types, values, strict=True):
        try:
            _put(fields, name.removeprefix("id."), None if text == h.unset else _zeek_value(text, ztype, h))
        except RecordError as e:
            raise RecordError(f"field {name}: {e}") from None
    time_field = column_name(time_field) if time_field else ZEEK_TIME
    return with_event_time(fields, time_field, RESERVED | {ZEEK_TIME})


# --- Windows events as JSON --------------------------------------------------------------------------------------

# The same attribute under the names of the common exporters: Get-WinEvent | ConvertTo-Json, the event XML
# converted to JSON (Event.System.*), and winlogbeat (winlog.*).
_WIN_ATTRS = {
    "event_id": ("EventID", "EventId", "Id", "winlog.event_id", "System.EventID"),
    "computer": ("Computer", "MachineName", "winlog.computer_name", "System.Computer"),
    "channel": ("Channel", "LogName", "winlog.channel", "System.Channel"),
    "provider": ("ProviderName", "Provider", "winlog.provider_name", "System.Provider"),
    "record_id": ("EventRecordID", "RecordId", "winlog.record_id", "System.EventRecordID"),
    "message": ("Message", "message"),
}
_WIN_TIME = ("TimeCreated", "TimeGenerated", "@timestamp", "System.TimeCreated", "winlog.time_created")
_WIN_DATA = ("EventData", "winlog.event_data", "System.EventData", "UserData")


def _lookup(doc: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _scalar(value):
    """XML-to-JSON converters wrap values: {"#text": "4624"}, {"SystemTime": "..."}, {"Name": "..."}."""
    if isinstance(value, dict):
        for key in ("#text", "SystemTime", "Name", "@Name", "Value", "value"):
            if key in value:
                return value[key]
    return value


def _event_data(data) -> dict:
    """EventData as name -> value, from a dict, a list of {Name, #text|Value}, or {"Data": [...]}."""
    if isinstance(data, dict) and "Data" in data and len(data) <= 2:
        data = data["Data"]
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        out = {}
        for i, item in enumerate(data):
            if isinstance(item, dict) and ("Name" in item or "@Name" in item):
                out[item.get("Name", item.get("@Name"))] = item.get("#text", item.get("Value", item.get("value")))
            else:
                out[f"data{i}"] = item
        return out
    return {}


def winevent_record(doc: dict, time_field: str | None = None) -> dict:
    if "Event" in doc and isinstance(doc["Event"], dict):
        doc = doc["Event"]
    if time_field:
        when = _lookup(doc, time_field)
    else:
        when = next((v for v in (_scalar(_lookup(doc, p)) for p in _WIN_TIME) if v not in (None, "")), None)
    if when in (None, ""):
        raise RecordError(f"no timestamp (looked for {time_field or ', '.join(_WIN_TIME)})")
    record: dict = {EVENT_TIME: parse_time(_scalar(when))}
    for column, paths in _WIN_ATTRS.items():
        value = next((v for v in (_scalar(_lookup(doc, p)) for p in paths) if v is not None), None)
        record[column] = value
    if record["event_id"] is None:
        raise RecordError("no EventID: not a Windows event")
    for number in ("event_id", "record_id"):
        try:
            record[number] = None if record[number] is None else int(record[number])
        except (TypeError, ValueError):
            raise RecordError(f"{number} {record[number]!r} is not a number") from None
    data = next((d for d in (_lookup(doc, p) for p in _WIN_DATA) if d), None)
    for name, value in _event_data(data).items():
        col = column_name(str(name))
        col = f"src_{col}" if col in record or col in RESERVED else col
        if col in record:
            raise RecordError(f"EventData field {name!r} appears twice")
        # EventData values are text in the event itself; keep them so (LogonType "3" compares fine with 3 in SQL)
        record[col] = value if value is None or isinstance(value, str) else json.dumps(value)
    return record


def winevent_line(raw: str, time_field: str | None = None) -> dict:
    return winevent_record(json_object(raw), time_field)


def json_array_elements(text: str, source: str) -> list:
    """`Get-WinEvent | ConvertTo-Json` writes one pretty-printed array, not JSON lines."""
    try:
        doc = json.loads(text.lstrip("\ufeff"))
    except ValueError as e:
        raise FormatError(f"{source}: starts like a JSON array but is not valid JSON ({e})") from None
    if isinstance(doc, dict):
        return [doc]
    if not isinstance(doc, list):
        raise FormatError(f"{source}: JSON document is neither an array nor an object")
    return doc


# --- one line of any format ---------------------------------------------------------------------------------------


def parse_line(fmt: str, header, raw: str, time_field: str | None = None) -> dict:
    """The record of one raw line; `header` is the file's CsvHeader/ZeekHeader (None for JSON formats)."""
    if fmt == "csv":
        return csv_record(header, raw, time_field)
    if fmt == "zeek":
        return zeek_record(header, raw, time_field)
    if fmt == "jsonl":
        return jsonl_record(raw, time_field)
    if fmt == "winevent":
        return winevent_line(raw, time_field)
    raise ValueError(f"unknown format {fmt!r}")


def is_body_line(fmt: str, header, number: int, raw: str) -> bool:
    """Blank lines, Zeek `#` lines and the CSV header are not records."""
    if not raw.strip():
        return False
    if fmt == "zeek":
        return not raw.startswith("#")
    if fmt == "csv":
        return number > header.line
    return True


def file_header(fmt: str, head: list[str], source: str, time_field: str | None = None, delimiter: str = ","):
    if fmt == "csv":
        return csv_header(head, source, time_field, delimiter)
    if fmt == "zeek":
        return zeek_header(head, source)
    return None

"""Turn raw lines of each supported format into flat records, always with `event_time`.

A CSV or Zeek record is {column: Python value}: the file's header names every field once. A JSON lines or Windows
event record keeps the source's own names instead, because only the table can decide their columns (two keys of
one event may differ only in case, `Image` and `image`): {`event_time` and the other columns the reader fills
itself, FIELDS: {source key: value}, ORIGINS: {column: source key it came from}, KEY: the source's own unique key
when it has one}. write maps source keys to columns once per table (records.assign_columns), so the same key always
lands in the same column.

Pure Python, so the same code runs on executors (batch and streaming) and in unit tests. A record that cannot be
used raises RecordError (it is quarantined with that reason); a file that cannot be read at all (a Zeek log
without `#fields`, a CSV without a timestamp column) raises FormatError, which names the file.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from defusedxml.ElementTree import fromstring as _xml_fromstring  # no DTDs, no entity expansion in event XML

FORMATS = ("csv", "jsonl", "zeek", "winevent", "evtx")

# Columns every ingested table has; a source field of the same name is kept as src_<name>.
EVENT_TIME = "event_time"
PARTITION = "date"
LINEAGE = ("_record_id", "_source_file", "_source_line")
# The event as it came (the line, the array element, the XML element), beside the columns of a JSON lines or
# Windows event table: whatever a column cannot say - a key a reader does not know, the spelling of a time, an
# empty list - is still there. Plain text: Parquet's zstd pages compress it across rows (43 MB of a real recording
# became 0.3 MB), far better than compressing each event alone (16 MB), and SQL can search it.
RAW = "_raw"
RESERVED = {EVENT_TIME, PARTITION, *LINEAGE, RAW}
# Parts of a record keyed by the source's names (see the module docstring); never column names, which do not
# start with "_" (column_name strips it).
FIELDS, ORIGINS, KEY = "_fields", "_origins", "_key"
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


@functools.lru_cache(maxsize=65536)  # the same few hundred keys in every event of a file
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
    """Nested objects become dotted source keys (Suricata's alert.signature, column alert_signature): hunting
    queries filter on them, and flat columns keep the table readable from SQL. A dotted key that is there already
    (a literal "a.b" beside {"a": {"b": ...}}) is kept as "a.b#2": nothing is overwritten."""
    out = {} if out is None else out
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flatten(value, name, out)
        else:
            out[unused_key(out, name)] = value
    return out


def unused_key(taken: dict, name: str) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}#{n}" in taken:
        n += 1
    return f"{name}#{n}"


def time_key(fields: dict, time_field: str | None = None, candidates=TIME_CANDIDATES) -> str | None:
    """The source key holding the event time: --time-field as spelled or as its column, else the first of the
    usual names (compared as columns, so `@timestamp` is `timestamp`) that has a value."""
    if time_field:
        if fields.get(time_field) not in (None, ""):
            return time_field
        candidates = (column_name(time_field),)
    by_column: dict[str, str] = {}
    for key, value in fields.items():
        if value not in (None, ""):
            by_column.setdefault(column_name(key), key)
    return next((by_column[c] for c in candidates if c in by_column), None)


def timed(fields: dict, time_field: str | None = None) -> dict:
    """A record keyed by source names: the time field moves out of the fields into `event_time`, parsed (its text
    as written stays in `_raw`)."""
    key = time_key(fields, time_field)
    if key is None:
        raise RecordError(f"no timestamp (looked for {time_field or ', '.join(TIME_CANDIDATES)})")
    when = parse_time(fields.pop(key))
    return {EVENT_TIME: when, FIELDS: fields, ORIGINS: {EVENT_TIME: key}}


def json_object(raw: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise RecordError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RecordError(f"not a JSON object but {type(doc).__name__}")
    return doc


def jsonl_doc(doc: dict, time_field: str | None = None) -> dict:
    """Every key of the object is a field, under its own name; values keep their JSON types."""
    return timed(flatten(doc), time_field)


def jsonl_record(raw: str, time_field: str | None = None) -> dict:
    return jsonl_doc(json_object(raw), time_field)


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


# --- Windows events: flat forwarder JSON, winlogbeat, Get-WinEvent, event XML and XML as JSON --------------------

# Columns every Windows event table has, whatever the shape: each from the first of these source keys an event has,
# once windows_fields has put the shapes' names side by side. Flat forwarder JSON (NXLog, Logstash, winlogbeat
# flattened) says EventID, Hostname, Channel, SourceName, RecordNumber; winlogbeat winlog.*; Get-WinEvent |
# ConvertTo-Json Id, MachineName, LogName, ProviderName, RecordId; event XML (and XML as JSON, as EVTX parsers
# write it) System.*, named as NXLog names it (_SYSTEM_ATTRS).
WIN_COLUMNS = {
    "event_id": ("EventID", "EventId", "Id", "winlog.event_id"),
    "computer": ("Computer", "Hostname", "MachineName", "winlog.computer_name"),
    "channel": ("Channel", "LogName", "winlog.channel"),
    "provider": ("ProviderName", "SourceName", "Provider", "Provider.Name", "winlog.provider_name"),
    "record_id": ("EventRecordID", "RecordNumber", "RecordId", "winlog.record_id"),
    "message": ("Message", "message"),
}
# The event's time. NXLog's EventTime is the host's local time without a zone: only when nothing else is there.
WIN_TIME = ("TimeCreated", "TimeGenerated", "@timestamp", "winlog.time_created", "TimeCreated.SystemTime", "EventTime")
# System attributes under the names flat forwarders give them, so the same field is one column in every shape.
_SYSTEM_ATTRS = {
    ("Provider", "Name"): "ProviderName",
    ("Provider", "Guid"): "ProviderGuid",
    ("Provider", "EventSourceName"): "EventSourceName",
    ("TimeCreated", "SystemTime"): "TimeCreated",
    ("EventID", "Qualifiers"): "Qualifiers",
    ("Correlation", "ActivityID"): "ActivityID",
    ("Correlation", "RelatedActivityID"): "RelatedActivityID",
    ("Execution", "ProcessID"): "ExecutionProcessID",
    ("Execution", "ThreadID"): "ThreadID",
    ("Security", "UserID"): "UserID",
}


def _lookup(doc: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _xml_parts(value) -> tuple:
    """(text, attributes) of one XML element as the converters write it: a bare value; {"#text", "#attributes"}
    (evtx); {"#text", "@Name"} (xmltodict); attributes as plain keys (golang-evtx); {"Qualifiers", "Value"}."""
    if not isinstance(value, dict):
        return value, {}
    text, attrs = None, {}
    for key, v in value.items():
        if key == "#text":
            text = v
        elif key == "#attributes" and isinstance(v, dict):
            attrs.update(v)
        elif key.startswith("@"):
            attrs[key[1:]] = v
        elif key == "Value" and "#text" not in value:
            text = v
        else:
            attrs[key] = v
    return text, {k: v for k, v in attrs.items() if not k.startswith("xmlns")}


def _put_field(out: dict, name: str, value, part: str) -> None:
    """A Data name as its own key; one the event has already (EventData Version beside System Version) is kept
    under its part's path instead, EventData.Version: distinct, and the same in every event."""
    key = str(name) if str(name) not in out else f"{part}.{name}"
    out[unused_key(out, key)] = value


def _name_of(item):
    if not isinstance(item, dict):
        return None
    attrs = item.get("#attributes")
    return item.get("Name", item.get("@Name", attrs.get("Name") if isinstance(attrs, dict) else None))


def _data_fields(data, out: dict, part: str) -> None:
    """EventData items under their Data names (TargetUserName); unnamed ones, as classic providers write them,
    as Data[0], Data[1], ... in order. From a dict (evtx, golang-evtx), a list of {Name, #text|Value}, or
    {"Data": [...]} (xmltodict, event XML)."""
    if data is None or data == "":
        return
    items, extra = None, {}
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        if "Data" in data:
            items, extra = data["Data"], {k: v for k, v in data.items() if k != "Data"}
        else:
            extra = data
    else:
        out[unused_key(out, part)] = data
        return
    if isinstance(items, dict) and isinstance(items.get("#text"), list) and _name_of(items) is None:
        items = items["#text"]  # evtx: unnamed Data as {"#text": [...]}
    if items is not None and not isinstance(items, list):
        items = [items]
    for i, item in enumerate(items or ()):
        name = _name_of(item)
        if name is None:
            _put_field(out, f"Data[{i}]", _xml_parts(item)[0], part)
        else:
            _put_field(out, name, item.get("#text", item.get("Value", item.get("value"))), part)
    for name, value in extra.items():
        if name == "#attributes" or name.startswith("@"):
            continue  # EventData's own attributes (a namespace): in _raw
        _put_field(out, name, _xml_parts(value)[0] if isinstance(value, dict) else value, part)


def _xml_flatten(value, prefix: str, out: dict) -> None:
    """Any other XML part (UserData's fields, RenderingInfo, ProcessingErrorData) as dotted keys."""
    if not isinstance(value, dict):
        out[unused_key(out, prefix)] = value
        return
    for key, v in value.items():
        if key == "#text":
            out[unused_key(out, prefix)] = v
        elif key == "#attributes" and isinstance(v, dict):
            for attr, av in v.items():
                if not attr.startswith("xmlns"):
                    out[unused_key(out, f"{prefix}.{attr}")] = av
        elif not key.startswith("@xmlns"):
            _xml_flatten(v, f"{prefix}.{key.lstrip('@')}" if prefix else key.lstrip("@"), out)


def _user_data_fields(data, out: dict) -> None:
    """UserData holds one element of the provider's own (LogFileCleared ...): its fields by their names."""
    if not isinstance(data, dict):
        _data_fields(data, out, "UserData")
        return
    for element, body in data.items():
        if element == "#attributes" or element.startswith("@"):
            continue
        if not isinstance(body, dict):
            _put_field(out, element, body, "UserData")
            continue
        for name, value in body.items():
            if name == "#attributes" or name.startswith("@"):
                continue
            key = name if name not in out else f"UserData.{element}.{name}"
            _xml_flatten(value, key, out)


def _xml_event_fields(event: dict, out: dict) -> None:
    for name, value in event["System"].items():
        text, attrs = _xml_parts(value)
        for attr, v in attrs.items():
            out[unused_key(out, _SYSTEM_ATTRS.get((name, attr), name + attr))] = v
        if text is not None or not attrs:
            out[unused_key(out, name)] = text
    for part, value in event.items():
        if part == "System" or part == "#attributes" or part.startswith("@"):
            continue
        if part == "EventData":
            _data_fields(value, out, part)
        elif part == "UserData":
            _user_data_fields(value, out)
        elif part == "RenderingInfo" and isinstance(value, dict):
            for name, v in value.items():
                if name == "Message" and "Message" not in out:
                    out["Message"] = _xml_parts(v)[0]
                elif name != "#attributes":
                    _xml_flatten(v, f"RenderingInfo.{name}", out)
        else:
            _xml_flatten(value, part, out)


def _winlogbeat_fields(event: dict, out: dict) -> None:
    """winlog.event_data under its Data names, the rest (winlog.opcode, host.name, event.code) as dotted keys."""
    meta: dict = {}
    for key, value in event.items():
        if key == "winlog":
            continue
        if isinstance(value, dict) and value:
            flatten(value, key, meta)
        else:
            meta[unused_key(meta, key)] = value
    data: dict = {}
    for key, value in event["winlog"].items():
        if key in ("event_data", "user_data") and isinstance(value, dict):
            for name, v in value.items():
                name = str(name)
                data[name if name not in meta else f"winlog.{key}.{name}"] = v
        elif isinstance(value, dict) and value:
            flatten(value, f"winlog.{key}", meta)
        else:
            meta[unused_key(meta, f"winlog.{key}")] = value
    out.update(data)
    for key, value in meta.items():
        out[unused_key(out, key)] = value


def _flat_fields(event: dict, out: dict) -> None:
    """Forwarder JSON: EventData fields at the top level beside Hostname, EventID, ...; Get-WinEvent objects with
    their positional Properties (Properties[0] is $_.Properties[0] in PowerShell)."""
    parts = {}
    for key, value in event.items():
        if key in ("EventData", "UserData") and isinstance(value, dict | list):
            parts[key] = value
        elif key == "Properties" and isinstance(value, list):
            for i, item in enumerate(value):
                single = isinstance(item, dict) and set(item) == {"Value"}
                out[unused_key(out, f"Properties[{i}]")] = item["Value"] if single else item
        elif isinstance(value, dict) and value:
            flatten(value, key, out)
        else:
            out[unused_key(out, key)] = value
    for key, value in parts.items():
        _data_fields(value, out, key) if key == "EventData" else _user_data_fields(value, out)


def windows_fields(doc: dict) -> dict:
    """Every field of one Windows event as {source key: value}, whatever its shape: EventData under its Data names
    (TargetUserName), System under the names flat forwarders use (ProviderGuid, ExecutionProcessID), anything else
    as a dotted path (host.name, winlog.opcode). Nothing is left out: what has no name of its own gets one."""
    event, rest = doc, {}
    if isinstance(doc.get("Event"), dict):
        event, rest = doc["Event"], {k: v for k, v in doc.items() if k != "Event"}
    out: dict = {}
    if isinstance(event.get("System"), dict):
        _xml_event_fields(event, out)
    elif isinstance(event.get("winlog"), dict):
        _winlogbeat_fields(event, out)
    else:
        _flat_fields(event, out)
    if rest:
        flatten(rest, "", out)
    return out


def _text(value):
    """Values are text in the Windows event itself (LogonType "3"): forwarders that typed some of them are turned
    back, so a column is never a number in one recording and text in the next, which would quarantine events."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _windows_time_key(fields: dict, doc: dict, time_field: str | None):
    if time_field:
        key = time_key(fields, time_field)
        if key is not None:
            return key, fields.pop(key)
        event = doc["Event"] if isinstance(doc.get("Event"), dict) else doc
        return time_field, _xml_parts(_lookup(event, time_field))[0]  # a path in the document, e.g. System.X
    key = next((k for k in WIN_TIME if fields.get(k) not in (None, "")), None)
    return key, None if key is None else fields.pop(key)


def winevent_record(doc: dict, time_field: str | None = None) -> dict:
    """One Windows event in any of the shapes windows_fields reads. Every field is kept: event_id, computer,
    channel, provider, record_id and message are columns of every table; all others are FIELDS under their own
    names. KEY is the event's own identity - channel, computer, record number and time - when it has all of them:
    two events that differ only in their record number are two events."""
    fields = windows_fields(doc)
    key, when = _windows_time_key(fields, doc, time_field)
    if when in (None, ""):
        raise RecordError(f"no timestamp (looked for {time_field or ', '.join(WIN_TIME)})")
    record: dict = {EVENT_TIME: parse_time(when)}
    origins = {EVENT_TIME: key}
    for column, names in WIN_COLUMNS.items():
        name = next((n for n in names if fields.get(n) is not None), None)
        record[column] = None if name is None else fields.pop(name)
        if name is not None:
            origins[column] = name
    if record["event_id"] is None:
        raise RecordError("no EventID: not a Windows event")
    for number in ("event_id", "record_id"):
        try:
            record[number] = None if record[number] is None else int(record[number])
        except (TypeError, ValueError):
            raise RecordError(f"{number} {record[number]!r} is not a number") from None
    for column in ("computer", "channel", "provider", "message"):
        record[column] = _text(record[column])
    record[FIELDS] = {name: _text(value) for name, value in fields.items()}
    record[ORIGINS] = origins
    if record["channel"] and record["computer"] and record["record_id"] is not None:
        record[KEY] = [record["channel"], record["computer"], record["record_id"], record[EVENT_TIME].isoformat()]
    return record


# Event XML, as `wevtutil qe ... /f:xml` and `Get-WinEvent ... | % { $_.ToXml() }` write it: <Event> elements one
# after another, maybe inside <Events>. Events do not nest, so each is cut out as it is written (its `_raw`) and
# parsed alone: one broken event is one quarantined record, not a broken file.
_XML_EVENT = re.compile(r"<(?:[\w.-]+:)?Event\b[^>]*?(?:/>|>.*?</(?:[\w.-]+:)?Event\s*>)", re.S)
_XML_TAGS = r"<\?xml[^>]*\?>|<!--.*?-->|</?(?:[\w.-]+:)?Events\b[^>]*>"  # declaration, comments, <Events>
_XML_SCAFFOLD = re.compile(rf"(?:\s|{_XML_TAGS})*", re.S)


def xml_events(text: str) -> list[tuple[bool, str]]:
    """(True, element text) for each <Event> of an event XML document, in order; anything else but the XML
    declaration, comments and an <Events> wrapper as (False, text), so it is quarantined, not skipped."""
    text = text.lstrip("\ufeff")
    found, pos = [], 0
    for m in _XML_EVENT.finditer(text):
        if not _XML_SCAFFOLD.fullmatch(text, pos, m.start()):
            found.append((False, re.sub(_XML_TAGS, "", text[pos : m.start()], flags=re.S).strip()))
        found.append((True, m.group(0)))
        pos = m.end()
    if not _XML_SCAFFOLD.fullmatch(text, pos):
        found.append((False, re.sub(_XML_TAGS, "", text[pos:], flags=re.S).strip()))
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_element(el):
    """An element as the evtx parsers write it in JSON: text; {"#attributes", "#text"}; or {child: ...} with
    repeated children as a list."""
    attrs = {_local(k): v for k, v in el.attrib.items()}
    children = list(el)
    if not children:
        return {"#attributes": attrs, "#text": el.text} if attrs else el.text
    grouped: dict[str, list] = {}
    for child in children:
        grouped.setdefault(_local(child.tag), []).append(_xml_element(child))
    node = {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}
    if attrs:
        node["#attributes"] = attrs
    return node


def xml_event_doc(raw: str) -> dict:
    """{"Event": {"System": ..., "EventData": ...}} from one <Event> element. defusedxml refuses DTDs and
    entities: an event never has them, and a file that does is an attack on the parser."""
    try:
        root = _xml_fromstring(raw)
    except Exception as e:  # noqa: BLE001 - ParseError or defusedxml's refusal: the record is quarantined
        raise RecordError(f"not event XML: {type(e).__name__}: {e}") from None
    return {_local(root.tag): _xml_element(root)}


def winevent_line(raw: str, time_field: str | None = None) -> dict:
    """One event per line (or Kafka message): JSON in any of the shapes, or one <Event> element."""
    if raw.lstrip().startswith("<"):
        return winevent_record(xml_event_doc(raw), time_field)
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

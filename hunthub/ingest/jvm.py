"""Lines of JSON parsed by Spark's own JSON reader (the JVM), not by Python, with the same results (issue 14).

`hunthub ingest batch` takes this path for `--format jsonl` and for `--format winevent` in the flat JSON that
forwarders write (NXLog, Logstash, winlogbeat flattened: EventData at the top level); see batch.JVM_READERS and
the figures in benchmarks/README.md. The JVM does the work: spark.read.text (the lines; their numbers from the file
blocks), Spark's JSON schema inference (case-sensitive, so `Image` and `image` are two keys), from_json, the event
time, sha2 for the record id, and the duplicate check. What stays in Python is what needs Python's exact answer and
is rare: the reason of a line Spark's parser refuses (json.loads says why), the quarantine ids, and the positions
of keys in the line where each was first seen (column order).

Windows events are read as readers.winevent_record reads them: every value as text (readers._text), the columns
of readers.WIN_COLUMNS each from the first of its keys an event has, and the record id from the event's own key
(channel, computer, record number, time) where it has one, written as records.event_id writes it.

Every guarantee of the Python path holds, because this path only takes an input it reads exactly as Python would.
Anything it cannot decide the same way sends the whole input back to the Python path (`Fallback`, with the reason
in the log line): a time Spark does not parse the way readers.parse_time does (an unusual format, out of range), a
key Python would name differently (a literal "a.b" beside {"a": {"b": ...}}, two spellings of the time field), an
object in one event where another has text, a number Java writes otherwise than Python (1e21), a number beyond
BIGINT, an array of objects, a value the table's column type would need readers' coercion for, a line Spark
refuses that Python reads, and Windows events in any shape but flat JSON (XML, arrays, nested winlogbeat, EventData
objects) or with an EventID that only int() reads.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlparse

from hunthub.ingest.parse import parse_one
from hunthub.ingest.readers import (
    EVENT_TIME,
    FIELDS,
    KEY,
    ORIGINS,
    TIME_CANDIDATES,
    WIN_COLUMNS,
    WIN_TIME,
    column_name,
    jsonl_doc,
    winevent_record,
)

CORRUPT = "_hunthub_corrupt_line"  # Spark's column for lines it cannot parse; not a key of any real log
LINE_BITS = 40  # a line's position: file number << 40 | line number (a trillion lines a file)
LOW_US = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000  # readers.parse_time's range, in µs
HIGH_US = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
# Times Spark parses exactly as datetime.fromisoformat does (date, T or space, minutes or seconds, up to 6
# fractional digits, Z or ±hh:mm): anything else (7 digits, /Date()/, US style) is left to Python.
ISO = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"  # what float() reads, without its extras (1_000, inf)
# A number written as Python writes a float (repr) and as Java does (Double.toString, which is how Spark's JSON
# reader gives a number token read into a text column): no exponent, no trailing zero but in X.0, at most 15
# digits. Within those, the two agree: a decimal of 15 digits or fewer is the shortest that reads back.
PLAIN_DECIMAL = r"^-?(?:0|[1-9]\d*)\.(?:0|\d*[1-9])$"
JAVA_EXPONENT = r"^-?[1-9]\.\d+E-?\d+$"  # how Double.toString writes what is under 10^-3 or from 10^7
# An array of printable-ASCII strings without quotes or backslashes, or of integers, as Spark's JSON reader
# writes it into a text column (compact): json.dumps writes the same with ", " between items (_as_python), so
# Logstash's `tags: ["..."]` on every event keeps an input in the JVM
TEXT_ARRAY = r'^\[(?:"[ !#-\[\]-~]*"(?:,"[ !#-\[\]-~]*")*)?\]$'
INTEGER_ARRAY = r"^\[-?(?:0|[1-9]\d{0,17})(?:,-?(?:0|[1-9]\d{0,17}))*\]$"
ID_NUMBER = r"^-?\d{1,18}$"  # int() of Windows' EventID and RecordNumber as text, within BIGINT
# Shapes of Windows events other than flat forwarder JSON (readers.windows_fields): the Python path reads them
OTHER_WINDOWS_SHAPES = ("Event", "System", "winlog", "EventData", "UserData")
TEXT_COLUMNS = ("computer", "channel", "provider", "message")  # of WIN_COLUMNS; event_id and record_id are numbers
SIMPLE = {"bigint": "bigint", "double": "double", "boolean": "boolean", "string": "string"}
# An existing column's type a value of this kind goes into unchanged by records.coerce (Spark's cast agrees)
SAFE_CASTS = {("bigint", "double"), ("bigint", "string"), ("boolean", "string")}
DUPLICATES_BROADCAST = 200_000  # duplicate ids joined back by broadcast up to this many


class Fallback(Exception):  # noqa: N818 - not an error: the Python path reads this input
    """This input is read by the Python path; the message says why."""


@dataclass(frozen=True)
class Key:
    key: str  # the source key as readers.flatten names it: "alert.signature"
    path: tuple[str, ...]  # its field in the parsed struct
    kind: str  # its hunthub type (records.kind_of's names)


def kind_of_type(dt) -> str:
    from pyspark.sql import types as T

    simple = {T.LongType: "bigint", T.DoubleType: "double", T.BooleanType: "boolean", T.StringType: "string"}
    for cls, kind in simple.items():
        if isinstance(dt, cls):
            return kind
    if isinstance(dt, T.ArrayType) and type(dt.elementType) in simple:
        return f"array<{simple[type(dt.elementType)]}>"
    raise Fallback(f"values of type {dt.simpleString()} (Python keeps them differently)")


def schema_keys(schema, prefix: tuple[str, ...] = ()) -> list[Key]:
    """The source keys of an inferred schema, named as readers.flatten names them."""
    from pyspark.sql import types as T

    keys = []
    for f in schema.fields:
        if not prefix and f.name == CORRUPT:
            continue
        path = (*prefix, f.name)
        if isinstance(f.dataType, T.StructType):
            if not f.dataType.fields:
                raise Fallback(f"empty object {'.'.join(path)!r}")
            keys += schema_keys(f.dataType, path)
        else:
            keys.append(Key(".".join(path), path, kind_of_type(f.dataType)))
    if not prefix:
        names = Counter(k.key for k in keys)
        if clash := sorted(n for n, c in names.items() if c > 1):
            raise Fallback(f"keys spelled alike {clash[:3]}")
    return keys


def time_keys(keys: list[Key], time_field: str | None) -> tuple[list[Key], list[list[Key]]]:
    """The keys readers.time_key may pick, in its order, and the groups of keys that are one candidate
    (`@timestamp` and `timestamp`): where two of a group have a value in one event, Python picks the one the event
    has first, an order Spark does not keep, so those events are left to Python."""
    by_key = {k.key: k for k in keys}
    order, groups = [], []
    if time_field and time_field in by_key:
        order.append(by_key[time_field])
    candidates = (column_name(time_field),) if time_field else TIME_CANDIDATES
    for c in candidates:
        matching = [k for k in keys if column_name(k.key) == c and k.key != time_field]
        if len(matching) > 1:
            groups.append(matching)
        order += matching
    for k in order:
        if k.kind not in ("bigint", "double", "string"):
            raise Fallback(f"time field {k.key!r} holds {k.kind}")
    return order, groups


def _field(parsed, key: Key):
    col = parsed
    for part in key.path:
        col = col.getField(part)
    return col


def _epoch(x):
    """(timestamp, ok) of epoch seconds/ms/µs as readers._from_epoch reads them; not ok: Python decides."""
    from pyspark.sql import functions as F

    ax = F.abs(x)
    scale = F.when(ax < 1e11, F.lit(1.0)).when(ax < 1e14, F.lit(1e3)).otherwise(F.lit(1e6))
    micros = x / scale * F.lit(1e6)
    ok = ~F.isnan(x) & (micros >= F.lit(float(LOW_US))) & (micros < F.lit(float(HIGH_US - 1)))
    return F.timestamp_micros(F.bround(F.when(ok, micros), 0).cast("bigint")), ok


def _event_time(value, kind: str):
    """(timestamp, ok) of one time key's value, the same instant readers.parse_time gives, or not ok."""
    from pyspark.sql import functions as F

    if kind != "string":
        return _epoch(value.cast("double"))
    numeric, numeric_ok = _epoch(value.try_cast("double"))  # try_: ANSI mode fails a job on a bad cast
    # try_cast: with ANSI on (Spark 4's default) a plain cast of an impossible date (02-30) would fail the job
    parsed = F.when(value.rlike(ISO), value).try_cast("timestamp")
    micros = F.unix_micros(parsed)
    in_range = F.coalesce((micros >= F.lit(LOW_US)) & (micros < F.lit(HIGH_US)), F.lit(False))
    is_number = value.rlike(NUMBER)
    return F.when(is_number, numeric).otherwise(F.when(in_range, parsed)), F.when(is_number, numeric_ok).otherwise(
        in_range
    )


# --- reading ------------------------------------------------------------------------------------------------------


def local_path(file_path: str) -> str:
    return unquote(urlparse(file_path).path)


def numbered_lines(spark, files):
    """(source, line, raw, utf8) of every line of the files, numbered from 1 per file as textFile().zipWithIndex()
    numbers them. Spark's text reader splits a big file into blocks read by different tasks, so a line's number is
    the lines of the file's earlier blocks (counted once, here) plus its place in its block."""
    from pyspark.sql import functions as F

    sources = {local_path(f.uri): f.source for f in files}
    text = spark.read.text([f.uri for f in files]).select(
        F.col("value").alias("raw"),
        F.col("_metadata.file_path").alias("file"),
        F.col("_metadata.file_block_start").alias("block"),
        F.monotonically_increasing_id().alias("row"),
    )
    blocks = text.groupBy("file", "block").agg(F.count("*").alias("n"), F.min("row").alias("first")).collect()
    names = sorted(set(sources.values()))
    bases, before = [], Counter()
    for b in sorted(blocks, key=lambda b: (b.file, b.block)):
        source = sources.get(local_path(b.file))
        if source is None:
            raise Fallback(f"Spark read a file not asked for: {b.file}")
        bases.append((b.file, b.block, source, before[b.file] - b.first + 1, names.index(source) << LINE_BITS))
        before[b.file] += b.n
    base = spark.createDataFrame(bases, "file string, block bigint, source string, base bigint, fileno bigint")
    line = F.col("row") + F.col("base")
    # (file, line) as one number in file-name order: min() of a number needs no sort, min() of a struct does
    lines = text.join(F.broadcast(base), ["file", "block"]).select(
        "source", line.alias("line"), (F.col("fileno") + line).alias("pos"), "raw"
    )
    # the Python path: rstrip("\r") (Hadoop's reader already split at \r\n) and a byte-order mark off line 1;
    # the regexes only where they can apply, as they cost more per line than parsing it
    raw = F.col("raw")
    raw = F.when((F.col("line") == 1) & raw.startswith("\ufeff"), F.regexp_replace(raw, "^\ufeff", "")).otherwise(raw)
    raw = F.when(raw.endswith("\r"), F.regexp_replace(raw, "\r+$", "")).otherwise(raw)
    lines = lines.select("source", "line", "pos", raw.alias("raw"), F.expr("is_valid_utf8(raw)").alias("utf8"))
    return lines, names


def infer_schema(spark, lines):
    """Spark's schema of the JSON lines: case-sensitive keys, keys null everywhere left out (they fill nothing in
    the Python path either), single quotes refused as json.loads refuses them."""
    from pyspark.sql.types import StructType

    reader = spark._jsparkSession.read()
    for k, v in JSON_OPTIONS.items():
        reader = reader.option(k, v)
    reader = reader.option("dropFieldIfAllNull", "true")
    if isinstance(lines, list):  # file URIs
        schema = reader.json(spark._jvm.PythonUtils.toSeq(lines)).schema()
    else:
        schema = reader.json(
            getattr(lines.select("raw")._jdf, "as")(spark._jvm.org.apache.spark.sql.Encoders.STRING())
        ).schema()
    return StructType.fromJson(json.loads(schema.json()))


JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "allowSingleQuotes": "false"}


def _nonempty(value, kind: str):
    return value.isNotNull() & (value != "") if kind == "string" else value.isNotNull()


def _no_time_reason(time_field: str | None) -> str:
    return f"no timestamp (looked for {time_field or ', '.join(TIME_CANDIDATES)})"  # readers.timed's words


def as_text(schema):
    """The schema with every value read as text, as readers._text keeps a Windows event's values: Spark then gives
    a number's or true/false's text (Java's), and an object's or array's JSON text (which _unlike_python finds)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType(
        [StructField(f.name, as_text(f.dataType) if isinstance(f.dataType, StructType) else StringType())
         for f in schema.fields]
    )  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What the format's reader takes from the keys before the rest are fields: the event time (the keys it may
    come from, in the reader's order, and groups of keys that are one candidate) and, for Windows events, the
    columns of readers.WIN_COLUMNS (each from the first of its keys an event has)."""

    keys: list[Key]
    time: list[Key]
    groups: list[list[Key]]
    columns: dict[str, list[Key]]


def plan(fmt: str, schema, time_field: str | None) -> Plan:
    """The reader's Plan for this schema; Fallback for what only the Python path reads (winevent: the shapes of
    windows_fields other than flat forwarder JSON)."""
    from pyspark.sql.types import StructType

    if fmt != "winevent":
        keys = schema_keys(schema)
        return Plan(keys, *time_keys(keys, time_field), {})
    for f in schema.fields:
        if f.name in OTHER_WINDOWS_SHAPES and isinstance(f.dataType, StructType):
            raise Fallback(f"{f.name} objects (a Windows event shape other than flat forwarder JSON)")
    keys = schema_keys(as_text(schema))
    by_key = {k.key: k for k in keys}
    if time_field:
        tkeys, groups = time_keys(keys, time_field)  # readers._windows_time_key asks readers.time_key
    else:
        tkeys, groups = [by_key[n] for n in WIN_TIME if n in by_key], []
    columns = {c: [by_key[n] for n in names if n in by_key] for c, names in WIN_COLUMNS.items()}
    if {k.key for k in tkeys} & {k.key for ks in columns.values() for k in ks}:
        raise Fallback("the time field is one of the keys of Windows' own columns")
    return Plan(keys, tkeys, groups, columns)


def _unlike_python(v, raw=None, leaf: str | None = None):
    """Where a text value may differ from what the Python path keeps. Spark's reader gives a string token and the
    same JSON written as an object or array token the same text, so where the line itself (`raw`) does not tell
    which key `leaf` held, the value is unlike:
    - the JSON text of an object or array token (Python has a dict or list, written with other spacing), but for
      the plain arrays _as_python rewrites, which must be array tokens (Logstash's `tags`);
    - a number token as Java writes it (Double.toString) where Python's repr differs: an exponent, or more than
      15 digits. Text Java never writes for a number ("0.000000" in a Sysmon registry event, "1.50", "1e5") was a
      string in the event, which both paths keep as it is.
    A GUID's braces or an IPv6 address's brackets are text. Values of an object's JSON text in a string token
    (Sysmon 13's registry Details) are like Python's: both keep the string."""
    from pyspark.sql import functions as F

    digits = F.length(F.regexp_replace(v, "[-.]", ""))
    number = v.rlike(JAVA_EXPONENT) | (v.rlike(PLAIN_DECIMAL) & (digits > 15))
    array = v.startswith("[") & v.endswith("]") & F.json_array_length(v).isNotNull()
    plain = array & (v.rlike(TEXT_ARRAY) | v.rlike(INTEGER_ARRAY))
    container = (v.startswith('{"') & v.endswith("}")) | (v == "{}") | (array & ~plain)
    if raw is None or not re.fullmatch(r"[ !#-\[\]-~]+", leaf or ""):  # printable ASCII but for " and \
        unlike = plain | container
    else:
        # the key as it is in the line: JSON may write a key's letters as \uXXXX, so any such escape leaves it open
        escaped = raw.rlike(r"(?<!\\)(?:\\\\)*\\u[0-9a-fA-F]{4}")
        named = f'"\\Q{leaf}\\E"\\s*:'
        token = raw.rlike(named + r"\s*[\[{]")  # some key of this name holds an object or array in this line
        once = F.regexp_count(raw, F.lit(named)) == 1
        unlike = F.when(plain, escaped | ~token | ~once).when(container, escaped | token).otherwise(False)
    # text from '-' to '9' (digits, a sign) is all a number can start with: most values skip the regexes
    return F.coalesce(F.when((v >= "-") & (v < ":"), number).otherwise(unlike), F.lit(False))


def _as_python(v):
    """A text value as the Python path keeps it: the arrays _unlike_python lets through with json.dumps's ", "
    between items (no item holds a quote, so '","' is only ever between two: see TEXT_ARRAY), anything else as
    it is."""
    from pyspark.sql import functions as F

    texts = F.when(v.rlike(TEXT_ARRAY), F.replace(v, F.lit('","'), F.lit('", "')))
    integers = F.when(v.rlike(INTEGER_ARRAY), F.replace(v, F.lit(","), F.lit(", ")))
    return F.when(v.startswith("[") & v.endswith("]"), F.coalesce(texts, integers, v)).otherwise(v)


def _json_text(text):
    """json.dumps(text) of printable ASCII text (the caller checks that it is)."""
    from pyspark.sql import functions as F

    escaped = F.replace(F.replace(text, F.lit("\\"), F.lit("\\\\")), F.lit('"'), F.lit('\\"'))
    return F.concat(F.lit('"'), escaped, F.lit('"'))


def _isoformat(ts):
    """datetime.isoformat() of a UTC time: microseconds only when there are some (the session's zone is UTC)."""
    from pyspark.sql import functions as F

    micros = F.unix_micros(ts) % 1_000_000
    fraction = F.when(micros != 0, F.concat(F.lit("."), F.lpad(micros.cast("string"), 6, "0"))).otherwise("")
    return F.concat(F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss"), fraction, F.lit("+00:00"))


def parsed_lines(spark, files, time_field: str | None, bom: bool = True, fmt: str = "jsonl"):
    """(frame, plan, lines, names): a row per record line with its status - ok; no_time (quarantined: no time
    field); python (Python says why it is quarantined, or reads it, and then the whole input: Spark's parser
    refused it, a Windows event without a time or a usable EventID); fallback (the whole input goes to Python: a
    time Python may read differently; survey finds values Python keeps otherwise) - its event time, and the value of
    each key in column k<i> (null where the key was the event's time or a Windows column: the Python path moves
    those out of the fields). Windows events also have each WIN_COLUMNS column (w_<column>), the key it came from
    (c_<column>), and `_key`, the JSON text records.event_id hashes when the event has its own identity."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    blank = F.when(F.col("raw").startswith("{"), F.lit(False)).otherwise(F.col("raw").rlike(r"(?U)^\s*$"))
    lines, names = numbered_lines(spark, files)
    lines = lines.where(~F.col("utf8") | ~blank)
    # Spark infers from the files as spark.read.json would (the fastest way), unless a file starts with a
    # byte-order mark, which its JSON reader would take for a broken line, and miss that line's keys
    schema = infer_schema(spark, lines.where("utf8") if bom else [f.uri for f in files])
    pl = plan(fmt, schema, time_field)
    windows = fmt == "winevent"
    if windows:
        schema = as_text(schema)
    keys, tkeys = pl.keys, pl.time
    full = StructType([f for f in schema.fields if f.name != CORRUPT] + [StructField(CORRUPT, StringType())])
    p = F.from_json("raw", full, JSON_OPTIONS)
    framed = lines.select("source", "line", "pos", "raw", "utf8", p.alias("p"))
    p = F.col("p")  # (each projection below refers to the parsed struct by name)
    # exactly one JSON object and nothing after it: from_json alone ignores what follows the first value
    whole = F.expr("json_array_length('[' || raw || ',0]')") == 2
    is_json = (
        F.col("utf8") & p.getField(CORRUPT).isNull() & F.ltrim("raw").startswith("{") & F.coalesce(whole, F.lit(False))
    )
    # In three projections, each referring to the one before by name: Spark keeps a projection of its own where
    # a costly expression (the chosen time key, a Windows column's key) is used more than once, instead of
    # writing it out at each use. (The driver running out of memory on Windows events was constraint
    # propagation, turned off in ingest.)
    chosen = F.lit(None).cast("string")
    if tkeys:
        chosen = F.coalesce(*[F.when(_nonempty(_field(p, k), k.kind), F.lit(k.key)) for k in tkeys])
    names_of = {}  # a Windows column -> the key each event's value comes from (the first it has)
    for column, candidates in pl.columns.items():
        found = [F.when(_field(p, k).isNotNull(), F.lit(k.key)) for k in candidates]
        names_of[column] = F.coalesce(*found, F.lit(None)).cast("string")
    framed = framed.select(
        "source", "line", "pos", "raw", "utf8", "p", is_json.alias("is_json"), chosen.alias("chosen"),
        *[name.alias(f"c_{column}") for column, name in names_of.items()],
    )  # fmt: skip
    chosen = F.col("chosen")

    when = ok = F.lit(None)
    for k in tkeys:
        ts, ts_ok = _event_time(_field(p, k), k.kind)
        when = F.when(chosen == k.key, ts) if k is tkeys[0] else when.when(chosen == k.key, ts)
        ok = F.when(chosen == k.key, ts_ok) if k is tkeys[0] else ok.when(chosen == k.key, ts_ok)
    ambiguous = F.lit(False)
    for group in pl.groups:
        n = sum(F.when(_nonempty(_field(p, k), k.kind), 1).otherwise(0) for k in group)
        ambiguous = ambiguous | (n > 1)
    taken = {k.key: chosen for k in tkeys}  # key -> the name of the key whose value each event moved out
    wins = []
    for column, candidates in pl.columns.items():
        taken.update({k.key: F.col(f"c_{column}") for k in candidates})
        value = F.coalesce(*[_field(p, k) for k in candidates], F.lit(None).cast("string"))
        wins += [value.alias(f"w_{column}"), f"c_{column}"]
    values = []
    for i, k in enumerate(keys):
        v = _field(p, k)
        if k.key in taken:
            v = F.when(taken[k.key] == k.key, F.lit(None)).otherwise(v)
        values.append(v.alias(f"k{i}"))
    framed = framed.select(
        "source", "line", "pos", "raw", "utf8", "is_json", "chosen", when.cast("timestamp").alias(EVENT_TIME),
        F.coalesce(ok, F.lit(False)).alias("time_ok"), ambiguous.alias("ambiguous"), *wins, *values,
    )  # fmt: skip

    status = F.when(~F.col("is_json"), "python").when(F.col("ambiguous"), "fallback")
    extra = []
    if windows:
        event_id, record_id = F.col("w_event_id"), F.col("w_record_id")
        channel, computer = F.col("w_channel"), F.col("w_computer")
        printable = r"^[\x20-\x7e]*$"
        keyed = (channel != "") & (computer != "") & record_id.isNotNull()
        key_text = F.concat(
            F.lit('["key",'), _json_text(channel), F.lit(","), _json_text(computer), F.lit(","),
            record_id.try_cast("bigint").cast("string"), F.lit(',"'), _isoformat(F.col(EVENT_TIME)), F.lit('"]'),
        )  # fmt: skip
        status = (
            status.when(chosen.isNull(), "python")  # Python looks further (a path in the document) or says why
            .when(~F.col("time_ok"), "fallback")
            .when(event_id.isNull() | ~event_id.rlike(ID_NUMBER), "python")  # no EventID, or int() decides
            .when(record_id.isNotNull() & ~record_id.rlike(ID_NUMBER), "python")
            .when(keyed & ~(channel.rlike(printable) & computer.rlike(printable)), "fallback")  # json.dumps escapes
        )
        extra = [F.when(keyed, key_text).alias("_key")]
        for column in ("event_id", "record_id"):
            value = F.col(f"w_{column}")
            extra.append(F.when(value.rlike(ID_NUMBER), value.try_cast("bigint")).alias(f"n_{column}"))
    else:
        status = status.when(chosen.isNull(), "no_time").when(~F.col("time_ok"), "fallback")
    status = status.otherwise("ok")
    frame = framed.select(
        "source", "line", "pos", "raw", "utf8", status.alias("status"), EVENT_TIME, "chosen", *extra,
        *[c for column in pl.columns for c in (f"w_{column}", f"c_{column}")], *[f"k{i}" for i in range(len(keys))],
    )  # fmt: skip
    if windows:  # the numbers under their columns' names
        frame = frame.drop("w_event_id", "w_record_id")
        frame = frame.withColumnsRenamed({"n_event_id": "w_event_id", "n_record_id": "w_record_id"})
    return parsed_once(frame), pl, lines, names


def parsed_once(frame):
    """The same rows, where no filter can be pushed beneath the projection that parses the lines. Spark's optimizer
    pushes a filter on `status` down to the lines and inlines the parse into each reference: 30 JSON parses of
    every line instead of one, measured. A filter on a generator's output stays above it, so the rows pass
    through explode() of a one-element array."""
    from pyspark.sql import functions as F

    return frame.select(F.explode(F.array(F.struct(*frame.columns))).alias("_row")).select("_row.*")


def _python_entry(row, time_field, fmt):
    """The Python path's entry for a line Spark refused: its own reason, or "ok" (then this input is Python's)."""
    if not row.utf8:
        return ("bad", row.source, row.line, row.raw, "not UTF-8 text (re-export as UTF-8)")
    return parse_one(fmt, None, row.source, row.line, row.raw, time_field)


def survey(spark, frame, pl: Plan, time_field: str | None, lines, names: list[str], fmt: str = "jsonl"):
    """write.Survey of the input as the Python path would build it, plus the RDD of its bad entries (persisted:
    unpersist it when written). One pass over the input (a group per file and status), and one more for the
    unusable lines, if any (Python gives the reasons of those Spark's parser refused)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from hunthub.ingest.write import Survey, _reason_class

    keys = pl.keys
    where = F.col("pos")
    # grouped by date and chosen keys rather than collect_set of them: collect_set would take the whole
    # aggregation out of generated code (several times slower per key)
    aggs = [F.count("*").alias("count"), F.min(where).alias("first")]
    for i, k in enumerate(keys):
        v = F.col(f"k{i}")
        aggs += [F.count(v).alias(f"n{i}"), F.min(F.when(v.isNotNull(), where)).alias(f"f{i}")]
        if k.kind == "string":
            aggs.append(F.count_if(_unlike_python(v, F.col("raw"), k.path[-1])).alias(f"o{i}"))
    aggs += [F.count(f"w_{c}").alias(f"w_{c}") for c in pl.columns]
    # an aggregate of its own per value checked: Spark compiles each alone, where one expression over every key
    # outgrew the JVM's 64 KB method limit and ran uncompiled, at a third of the speed (measured)
    aggs += [F.count_if(_unlike_python(F.col(f"w_{c}"))).alias(f"o_{c}") for c in pl.columns if c in TEXT_COLUMNS]
    day = F.to_date(EVENT_TIME).alias("day")
    by = ["source", "status", day, "chosen", *[f"c_{c}" for c in pl.columns]]
    groups = frame.groupBy(*by).agg(*aggs).collect()
    if any(r.status == "fallback" for r in groups):
        raise Fallback("event times Spark does not read the way Python does (format or range)")
    ok = [r for r in groups if r.status == "ok"]
    checked_values = [f"o{i}" for i, k in enumerate(keys) if k.kind == "string"]
    checked_values += [f"o_{c}" for c in pl.columns if c in TEXT_COLUMNS]
    if any(r[o] for r in ok for o in checked_values):
        raise Fallback("values Python keeps otherwise (an object or array where others have text, a number Java "
                       "writes otherwise than Python)")  # fmt: skip
    reason = _no_time_reason(time_field)
    bad, checked = spark.sparkContext.emptyRDD(), {}
    if any(r.status in ("python", "no_time") for r in groups):
        # every unusable line in one pass over the input (each pass parses every line again), kept for the
        # quarantine's write: the reasons of those Spark refused from json.loads, the others have no time
        raw = F.when(F.col("utf8"), F.col("raw")).otherwise(F.expr("make_valid_utf8(raw)"))
        unusable = frame.where(F.col("status").isin("python", "no_time"))
        unusable = unusable.select("source", "line", raw.alias("raw"), "utf8", "status")
        bad = unusable.rdd.map(
            lambda r: _python_entry(r, time_field, fmt) if r.status == "python"
            else ("bad", r.source, r.line, r.raw, reason)
        ).persist(StorageLevel.MEMORY_AND_DISK)  # fmt: skip
        checked = bad.map(lambda e: (e[0], e[1], _reason_class(e[4]) if e[0] != "ok" else "")).countByValue()
    if any(status == "ok" for status, _, _ in checked):
        bad.unpersist()
        raise Fallback("lines Spark's JSON reader refuses and Python reads")

    s = Survey(raw=False)
    for r in groups:
        s.counts["ok" if r.status == "ok" else "bad"] += r["count"]
        per_file = s.files.setdefault(r.source, Counter())
        per_file["records"] += r["count"]
        if r.status != "ok":
            per_file["quarantined"] += r["count"]
    for (_, _, reason_class), n in checked.items():
        s.reasons[reason_class] += n
    if not ok:
        return s, bad
    s.raw = True
    s.dates = {r.day.isoformat() for r in ok}
    s.origins = {EVENT_TIME: {r.chosen for r in ok}}
    mask = (1 << LINE_BITS) - 1
    first = min(r.first for r in ok)
    first = (names[first >> LINE_BITS], first & mask)
    s.columns = {EVENT_TIME: ("timestamp", (*first, 0))}
    # a Windows event's own columns, as readers.winevent_record adds them: every one in every record, in order
    for position, column in enumerate(pl.columns, 1):
        kind = "bigint" if column in ("event_id", "record_id") else "string"
        s.columns[column] = (kind if any(r[f"w_{column}"] for r in ok) else None, (*first, position))
        if origins := {r[f"c_{column}"] for r in ok if r[f"c_{column}"] is not None}:
            s.origins[column] = origins
    firsts_of = {}
    for i in range(len(keys)):
        seen = [r[f"f{i}"] for r in ok if r[f"n{i}"]]
        if seen:
            firsts_of[i] = ((names[min(seen) >> LINE_BITS], min(seen) & mask), sum(r[f"n{i}"] for r in ok))
    positions = first_positions(spark, lines, {first} | {f for f, _ in firsts_of.values()}, time_field, fmt)
    for i, (seen, n) in firsts_of.items():
        # keys never seen outside the event time or quarantined lines are left out (no column), as in Python
        k = keys[i]
        position = positions.get(seen, {}).get(k.key)
        if position is None:
            raise Fallback(f"key {k.key!r} is not where Spark saw it first")
        s.keys[k.key] = (k.kind, (*seen, position), n)
    return s, bad


def first_positions(spark, lines, firsts: set, time_field: str | None, fmt: str = "jsonl") -> dict:
    """{(source, line): {key: position}} for the lines where keys were first seen, as write._survey numbers them
    (the reader's columns from 0, then the fields in the order the record has them): new columns come in that
    order."""
    from functools import reduce

    from pyspark.sql import functions as F

    match = reduce(lambda a, b: a | b, [(F.col("source") == s) & (F.col("line") == n) for s, n in firsts])
    out = {}
    for r in lines.where(match).select("source", "line", "raw").collect():
        doc = json.loads(r.raw)
        record = winevent_record(doc, time_field) if fmt == "winevent" else jsonl_doc(doc, time_field)
        start = sum(1 for name in record if name not in (FIELDS, ORIGINS, KEY))
        out[(r.source, r.line)] = {key: i for i, key in enumerate(record[FIELDS], start)}
    return out


# --- writing ------------------------------------------------------------------------------------------------------


def _value(keys_here: list[int], kinds: list[str], spark_type: str):
    """A column's value from the keys mapped to it, as records.coerce would make it, or Fallback."""
    from pyspark.sql import functions as F

    if not keys_here:
        return F.lit(None).cast(spark_type)
    if len(keys_here) > 1:
        raise Fallback("two keys of this input go to one column (Python keeps the one later in each event)")
    i = keys_here[0]
    kind = kinds[i]
    if kind == spark_type:
        return _as_python(F.col(f"k{i}")) if kind == "string" else F.col(f"k{i}")
    if (kind, spark_type) in SAFE_CASTS:
        return F.col(f"k{i}").cast(spark_type)
    raise Fallback(f"{kind} values for a {spark_type} column (records.coerce decides each)")


def typed_rows(frame, pl: Plan, columns, time_col: str, mapping: dict):
    """The table's rows of the good records, in the order of its columns, plus the partition date and `pos`."""
    from pyspark.sql import functions as F

    from hunthub.ingest.readers import PARTITION, RAW

    index = {k.key: i for i, k in enumerate(pl.keys)}
    by_column: dict[str, list[int]] = {}
    for key, column in mapping.items():
        by_column.setdefault(column, []).append(index[key])
    kinds = [k.kind for k in pl.keys]
    out = []
    for name, spark_type in columns:
        if name == "_record_id":
            # records.event_id: sha256 of the event's own key when it has one (Windows), else of the raw line
            text = F.coalesce(F.col("_key"), F.col("raw")) if pl.columns else F.col("raw")
            col = F.substring(F.sha2(text, 256), 1, 32)
        elif name == "_source_file":
            col = F.col("source")
        elif name == "_source_line":
            col = F.col("line")
        elif name == RAW:
            col = F.col("raw")
        elif name == time_col:
            if spark_type != "timestamp":
                raise Fallback(f"the table's {time_col} is {spark_type}")
            col = F.col(EVENT_TIME)
        elif name in pl.columns:
            kind = "bigint" if name in ("event_id", "record_id") else "string"
            if kind != spark_type and (kind, spark_type) not in SAFE_CASTS:
                raise Fallback(f"the table's {name} is {spark_type}")
            col = F.col(f"w_{name}").cast(spark_type)  # an array here sent the input to Python (survey)
        else:
            col = _value(by_column.get(name, []), kinds, spark_type)
        out.append(col.alias(name))
    out += [F.to_date(EVENT_TIME).alias(PARTITION), F.col("pos")]
    return frame.where(F.col("status") == "ok").select(*out)


def line_ids(lines):
    """(_record_id, pos) of every line, for inputs whose ids are hashes of the line (JSON lines): copies are then
    found in the text alone (identical lines parse alike), without parsing it."""
    from pyspark.sql import functions as F

    return lines.select(F.substring(F.sha2("raw", 256), 1, 32).alias("_record_id"), "pos")


def first_copies(rows, ids):
    """(rows without later copies of an event, duplicates found, what to unpersist): the copy kept is the first by
    (file, line), as write._first keeps it. A pass over the ids (_record_id, pos) and a shuffle of them, and of the
    rows only when there are copies."""
    from pyspark.sql import functions as F

    dups = ids.groupBy("_record_id").agg(F.count("*").alias("_n"), F.min("pos").alias("_first")).where("_n > 1")
    dups = dups.select("_record_id", "_first").persist()
    n = dups.count()
    if not n:
        dups.unpersist()
        return rows, 0, None
    joined = rows.join(F.broadcast(dups) if n <= DUPLICATES_BROADCAST else dups, "_record_id", "left")
    kept = joined.where(F.col("_first").isNull() | (F.col("_first") == F.col("pos"))).select(*rows.columns)
    return kept, n, dups


def usable(files, heads, fmt: str = "jsonl") -> str | None:
    """Why these files are not for this path (None: they are): it reads local files of JSON lines."""
    from hunthub.ingest.parse import reads_whole

    for f, head in zip(files, heads, strict=True):
        if not f.uri.startswith("file:"):
            return f"{f.source} is not a local file"
        if reads_whole(fmt, head):
            return f"{f.source} is not JSON lines (a JSON array or event XML)"
    return None


def ingest(spark, files, target, fmt: str, time_field=None, say=print, dedup: bool = True, heads=None, delimiter=","):
    """write.write_entries' work for files of JSON lines (jsonl, winevent), in the JVM; Fallback when the Python
    path must read them. `delimiter` is CSV's, unused here (batch.jvm_ingest calls every JVM reader alike)."""
    conf = spark.conf
    # case-sensitive: `Image` and `image` are two keys, as for json.loads; times without a zone are UTC
    # constraint propagation off: over a Windows event's filters and CASE WHENs it grew the plan past a 2 GB
    # driver's memory (a filter on the status of 13 lines); its inferred filters have nothing to skip here
    wanted = {
        "spark.sql.caseSensitive": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.constraintPropagation.enabled": "false",
    }
    saved = {k: conf.get(k, None) for k in wanted}
    for k, v in wanted.items():
        conf.set(k, v)
    try:
        return _ingest(spark, files, target, fmt, time_field, say, dedup, heads)
    finally:
        for k, v in saved.items():
            conf.unset(k) if v is None else conf.set(k, v)


def _ingest(spark, files, target, fmt, time_field, say, dedup, heads):
    bom = heads is None or any(h and h[0].startswith("\ufeff") for h in heads)
    frame, pl, lines, names = parsed_lines(spark, files, time_field, bom, fmt)
    # not persisted: caching the parsed columns of every line cost three times more than parsing them again in
    # the few jobs that read them (1 GB small driver); in the batch JVM it measured within the noise (10^6 lines)
    bad = None
    try:
        s, bad = survey(spark, frame, pl, time_field, lines, names, fmt)
        return _write(spark, frame, pl, s, bad, target, fmt, say, dedup, lines)
    finally:
        if bad is not None:
            bad.unpersist()


def _write(spark, frame, pl, s, bad, target, fmt, say, dedup, lines):
    from hunthub.ingest.write import (
        Stats,
        _append,
        _quarantine,
        _register,
        plan_table,
        updated_sources,
    )

    stats = Stats(reasons=s.reasons)
    stats.records = s.counts["ok"] + s.counts["bad"]
    stats.quarantined = s.counts["bad"]
    stats.files = {src: Counter(records=c["records"], quarantined=c["quarantined"]) for src, c in s.files.items()}
    existing, sources, time_col, mapping, columns, new = plan_table(spark, target, s, fmt)
    rows = typed_rows(frame, pl, columns, time_col, mapping) if s.counts["ok"] else None  # Fallback: before writing
    say(f"{target.table}: parsed {s.counts['ok']:,} records, {s.counts['bad']:,} unusable (Spark's JSON reader); "
        "writing ...")  # fmt: skip
    stats.new_columns = new if existing else []
    if s.raw:
        sources = updated_sources(sources, s, mapping, columns)
    if rows is not None:
        ok_by_file = {src: c["records"] - c["quarantined"] for src, c in s.files.items()}
        # Windows events are identified by their own key where they have one: the ids need the parsed rows
        ids = rows.select("_record_id", "pos") if pl.columns else line_ids(lines)
        kept, duplicates, dups = first_copies(rows, ids) if dedup else (rows, 0, None)
        try:
            if duplicates:
                kept_by_file = Counter({r[0]: r[1] for r in kept.groupBy("_source_file").count().collect()})
            else:
                kept_by_file = Counter(ok_by_file)
            for src, n in ok_by_file.items():
                stats.files[src]["duplicates"] += n - kept_by_file.get(src, 0)
            unique = sum(kept_by_file.values())
            stats.duplicates = s.counts["ok"] - unique
            if unique:
                written = Counter()
                ids_at = target.location if dedup else None
                stats.written = _append(spark, kept, columns, target.location, ids_at, s.dates,
                                        writers=target.writers, by_file=written, known=kept_by_file)  # fmt: skip
                stats.already_present = unique - stats.written
                stats.dates = sorted(s.dates)
                for src, n in kept_by_file.items():
                    stats.files[src]["written"] += written.get(src, 0)
                    stats.files[src]["already_present"] += n - written.get(src, 0)
        finally:
            if dups is not None:
                dups.unpersist()
    if stats.quarantined:
        stats.quarantine_written = _quarantine(spark, bad, target, fmt)
    _register(target, fmt, columns, stats, sources)
    return stats

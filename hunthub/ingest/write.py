"""Parsed entries -> the table's Parquet, its quarantine, and the catalog. Shared by batch and streaming.

No duplicates: every record has a content id (records.record_id). Rows whose id is already in the touched date
partitions, or earlier in the same input, are skipped; only new rows are appended. A rerun - or a streaming
micro-batch replayed after a crash between writing and committing its offsets - therefore adds nothing, and an
interrupted write is repaired by the next run instead of being doubled.

Schema evolution: a table's columns only grow. New fields become new nullable columns (appended to the catalog
DDL, which kernels read with, so older partitions show them as NULL); an existing column keeps its type, and a
value that does not fit it sends that record to quarantine.

Records keyed by the source's names (JSON lines, Windows events) get their columns here, for the whole table at
once (records.assign_columns): keys that differ only in case or punctuation get distinct columns, the catalog
remembers which key went where (`sources`), and the raw event is kept in `_raw`.

Nothing is dropped without a count: for every file, records read = written + quarantined + duplicates in the
input + already in the table (Stats.files), and the summary says each.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hunthub import acl, catalog, locks
from hunthub.ingest import IngestError
from hunthub.ingest.readers import (
    EVENT_TIME,
    FIELDS,
    KEY,
    LINEAGE,
    ORIGINS,
    PARTITION,
    RAW,
    RESERVED,
    RecordError,
    time_column,
)
from hunthub.ingest.records import (
    assign_columns,
    coerce,
    ddl,
    event_id,
    kind_of,
    merge_kinds,
    parse_ddl,
    quarantine_id,
    resolved,
    split_top_level,
)

QUARANTINE_COLUMNS = [
    ("_record_id", "string"),
    ("source_file", "string"),
    ("line", "bigint"),
    ("reason", "string"),
    ("raw", "string"),
    ("format", "string"),
    ("quarantined_at", "timestamp"),
]
LINEAGE_TYPES = {"_record_id": "string", "_source_file": "string", "_source_line": "bigint"}
DESCRIPTIONS = {
    "csv": "CSV",
    "jsonl": "JSON lines",
    "zeek": "Zeek logs",
    "winevent": "Windows events",
    "evtx": "Windows events (EVTX)",
}
_RECORD_PARTS = (FIELDS, ORIGINS, KEY)
FILE_LINES = 20  # files listed one by one in the summary


@dataclass
class Target:
    table: str
    warehouse: str
    catalog_path: str
    # accounts other than this process that write the Parquet files: the executors' account of the embedded
    # cluster when ingest runs as root (see hunthub.cluster.SPARK_USER)
    writers: tuple[str, ...] = ()

    def entry(self) -> catalog.Table | None:
        return catalog.load(self.catalog_path).get(self.table)

    @property
    def location(self) -> str:
        existing = self.entry()
        if existing:
            if existing.format != "parquet":
                raise IngestError(f"table {self.table} is {existing.format} in the catalog; ingest writes Parquet")
            return existing.location(self.warehouse)
        return self.warehouse.rstrip("/") + "/" + self.table

    @property
    def quarantine_location(self) -> str:
        return self.warehouse.rstrip("/") + "/_quarantine/" + self.table

    @property
    def quarantine_table(self) -> str:
        return f"{self.table}_quarantine"


@dataclass
class Stats:
    records: int = 0  # entries read (good + bad)
    quarantined: int = 0  # bad entries in this input
    quarantine_written: int = 0  # ... of which new in the quarantine (a rerun writes none)
    duplicates: int = 0  # the same event more than once in this input
    already_present: int = 0  # events the table already had
    written: int = 0
    new_columns: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    # per source file: records, written, quarantined, duplicates, already_present (the same counts, file by file)
    files: dict[str, Counter] = field(default_factory=dict)

    def add(self, other: Stats) -> None:
        for name in ("records", "quarantined", "quarantine_written", "duplicates", "already_present", "written"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_columns += [c for c in other.new_columns if c not in self.new_columns]
        self.dates = sorted(set(self.dates) | set(other.dates))
        self.reasons.update(other.reasons)
        for source, counts in other.files.items():
            self.files.setdefault(source, Counter()).update(counts)

    def unaccounted(self) -> int:
        """Records neither written, quarantined nor skipped as duplicates: 0, or ingest has a bug."""
        return self.records - self.written - self.quarantined - self.duplicates - self.already_present

    def summary(self, table: str) -> str:
        lines = [
            f"{table}: read {self.records:,}, written {self.written:,}, quarantined {self.quarantined:,} "
            f"({self.quarantine_written:,} new in quarantine), duplicates skipped "
            f"{self.duplicates + self.already_present:,} ({self.already_present:,} already in the table)"
        ]
        if len(self.files) > 1:
            for source, c in sorted(self.files.items())[:FILE_LINES]:
                lines.append(
                    f"  {source}: read {c['records']:,}, written {c['written']:,}, quarantined {c['quarantined']:,}"
                    f", duplicates skipped {c['duplicates'] + c['already_present']:,}"
                    f" ({c['already_present']:,} already in the table)"
                )
            if len(self.files) > FILE_LINES:
                lines.append(f"  ... and {len(self.files) - FILE_LINES:,} more files")
        if self.unaccounted():
            lines.append(f"  WARNING: {self.unaccounted():,} records are not accounted for; please report this bug")
        return "\n".join(lines)


# --- executor-side functions (top level: pickled by reference) -----------------------------------------------


@dataclass
class Survey:
    """One pass over the parsed entries (Spark aggregate: _survey per entry, _merge_survey per partition)."""

    counts: Counter = field(default_factory=Counter)  # ok / bad / fatal
    columns: dict = field(default_factory=dict)  # column a reader named -> (kind, first seen)
    keys: dict = field(default_factory=dict)  # source key -> (kind, first seen, events that have it)
    origins: dict = field(default_factory=dict)  # column a reader filled -> source keys it came from
    dates: set = field(default_factory=set)
    reasons: Counter = field(default_factory=Counter)
    files: dict = field(default_factory=dict)  # source file -> Counter(records, quarantined)
    raw: bool = False  # records keyed by source names: the table keeps `_raw`


def _survey(acc: Survey, entry) -> Survey:
    status, source, line = entry[0], entry[1], entry[2]
    acc.counts[status] += 1
    per_file = acc.files.get(source)
    if per_file is None:
        per_file = acc.files[source] = Counter()
    per_file["records"] += 1
    if status != "ok":
        per_file["quarantined"] += 1
        acc.reasons[_reason_class(entry[4])] += 1
        return acc
    record = entry[4]
    position = 0
    for name, value in record.items():
        if name not in _RECORD_PARTS:
            kind, seen = acc.columns.get(name, (None, None))
            order = (source, line, position)
            acc.columns[name] = (merge_kinds(kind, kind_of(value)), order if seen is None or order < seen else seen)
            position += 1
    fields = record.get(FIELDS)
    if fields is not None:
        acc.raw = True
        keys = acc.keys
        for name, value in fields.items():
            known = keys.get(name)
            if known is None:
                # entries of a partition come in file order: the first sight is the partition's earliest
                keys[name] = (kind_of(value), (source, line, position), 1)
            else:
                keys[name] = (merge_kinds(known[0], kind_of(value)), known[1], known[2] + 1)
            position += 1
        for column, key in record.get(ORIGINS, {}).items():
            acc.origins.setdefault(column, set()).add(key)
    acc.dates.add(record[EVENT_TIME].date().isoformat())
    return acc


def _earlier(a, b):
    return b if a is None or (b is not None and b < a) else a


def _merge_survey(a: Survey, b: Survey) -> Survey:
    a.counts.update(b.counts)
    for name, (kind, seen) in b.columns.items():
        k, s = a.columns.get(name, (None, None))
        a.columns[name] = (merge_kinds(k, kind), _earlier(s, seen))
    for name, (kind, seen, n) in b.keys.items():
        k, s, m = a.keys.get(name, (None, None, 0))
        a.keys[name] = (merge_kinds(k, kind), _earlier(s, seen), m + n)
    for column, keys in b.origins.items():
        a.origins.setdefault(column, set()).update(keys)
    a.dates.update(b.dates)
    a.reasons.update(b.reasons)
    for source, counts in b.files.items():
        a.files.setdefault(source, Counter()).update(counts)
    a.raw = a.raw or b.raw
    return a


def _reason_class(reason: str) -> str:
    """Reasons grouped for the summary: the same problem with different values is one line."""
    return re.sub(r"got \d+", "got N", re.sub(r"'[^']*'", "'...'", reason))[:120]


def _typed(entry, columns, time_col, mapping=None):
    """("ok", id, (source, line), row) or ("bad", entry-with-reason) for one good parsed entry; `mapping` is
    {source key: column} for records keyed by source names."""
    _, source, line, raw, record = entry
    rid = event_id(record, raw)
    fields = record.get(FIELDS)
    if fields is None:
        values, raw_text = record, None
    else:
        mapping = mapping or {}
        values = {mapping[k]: v for k, v in fields.items() if k in mapping}  # unmapped: null in every event
        values.update((k, v) for k, v in record.items() if k not in _RECORD_PARTS)
        raw_text = raw
    try:
        row = []
        for name, spark_type in columns:
            if name == "_record_id":
                row.append(rid)
            elif name == "_source_file":
                row.append(source)
            elif name == "_source_line":
                row.append(line)
            elif name == RAW:
                row.append(raw_text)
            elif name == time_col:
                row.append(coerce(record[EVENT_TIME], spark_type))
            else:
                try:
                    row.append(coerce(values.get(name), spark_type))
                except RecordError as e:
                    raise RecordError(f"column {name}: {e}") from None
        row.append(record[EVENT_TIME].date())
        return ("ok", rid, (source, line), tuple(row))
    except RecordError as e:
        return ("bad", ("bad", source, line, raw, str(e)))


def _first(a, b):
    return a if a[0] <= b[0] else b


def _quarantine_row(entry, fmt, now):
    _, source, line, raw, reason = entry
    return (quarantine_id(source, line, raw), ((source, line), (source, line, reason, raw, fmt, now)))


# --- driver side ---------------------------------------------------------------------------------------------


def table_lock(target: Target, say=print):
    """One writer per table at a time: two concurrent ingests could both find an event missing and both add it."""
    lock = Path(target.catalog_path).parent / f".ingest-{target.table}.lock"
    return locks.exclusive(lock, f"waiting for another ingest into {target.table} to finish ...", say)


def path_exists(spark, uri: str) -> bool:
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return bool(path.getFileSystem(spark._jsc.hadoopConfiguration()).exists(path))


def existing_columns(spark, target: Target) -> list[tuple[str, str]]:
    """The table's columns without the partition column: from the catalog DDL, else from the Parquet footers."""
    entry = target.entry()
    if entry and entry.schema:
        try:
            return [c for c in parse_ddl(entry.schema) if c[0] != PARTITION]
        except ValueError as e:
            raise IngestError(f"catalog entry of {target.table}: {e}") from e
    if path_exists(spark, target.location):
        schema = spark.read.option("mergeSchema", "true").parquet(target.location).schema
        return [(f.name, f.dataType.simpleString()) for f in schema.fields if f.name != PARTITION]
    return []


def choose_time_column(existing: list[tuple[str, str]], fmt: str) -> str:
    """The format's time column, unless the table already keeps its time in the other one."""
    known = {name for name, _ in existing}
    preferred = time_column(fmt)
    other = EVENT_TIME if preferred != EVENT_TIME else time_column("zeek")
    return other if other in known and preferred not in known else preferred


def table_columns(
    existing: list[tuple[str, str]], kinds: dict, time_col: str = EVENT_TIME, raw: bool = False
) -> tuple[list[tuple[str, str]], list[str]]:
    """(all columns in order, names of the new ones): existing columns keep place and type; new ones follow in
    the order they first appeared in the input; lineage, then `_raw` (when kept), last."""
    known = {name for name, _ in existing}
    fresh = sorted((seen, name, kind) for name, (kind, seen) in kinds.items() if name not in known and resolved(kind))
    fresh_cols = [(name, kind) for _, name, kind in fresh if name not in (EVENT_TIME, time_col)]
    tail = [(n, LINEAGE_TYPES[n]) for n in LINEAGE] + ([(RAW, "string")] if raw else [])
    if not existing:
        columns = [(time_col, "timestamp"), *fresh_cols, *tail]
        return columns, [n for n, _ in columns]
    columns = list(existing) + fresh_cols
    columns += [c for c in tail if c[0] not in known]
    if time_col not in known:
        columns.insert(0, (time_col, "timestamp"))
    return columns, [n for n, _ in columns if n not in known]


def key_columns(survey: Survey, sources: dict, existing: list[tuple[str, str]], time_col: str) -> dict[str, str]:
    """{source key: column} for this input's keys that have a value somewhere (a key that is null in every event
    fills nothing; it gets its column when it has a value)."""
    keys = {k: n for k, (kind, _, n) in survey.keys.items() if resolved(kind)}
    reserved = RESERVED | {time_col} | set(survey.columns)
    return assign_columns(keys, sources, [c for c, _ in existing], reserved)


def merged_kinds(survey: Survey, mapping: dict[str, str]) -> dict:
    """Column -> (kind, first seen), for the columns readers named and those source keys landed in."""
    kinds = dict(survey.columns)
    for key, column in mapping.items():
        kind, seen, _ = survey.keys[key]
        k, s = kinds.get(column, (None, None))
        kinds[column] = (merge_kinds(k, kind), _earlier(s, seen))
    return kinds


def updated_sources(sources: dict, survey: Survey, mapping: dict[str, str], columns) -> dict[str, list[str]]:
    """The catalog's column -> source keys, with this input's: each key once, in the order it came."""
    present = {name for name, _ in columns}
    out = {column: list(keys) for column, keys in sources.items()}
    pairs = [(column, key) for key, column in mapping.items()]
    pairs += [(column, key) for column, keys in survey.origins.items() for key in sorted(keys)]
    for column, key in pairs:
        if column in present and key not in out.setdefault(column, []):
            out[column].append(key)
    return {column: keys for column, keys in out.items() if keys}


def struct(columns: list[tuple[str, str]]):
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(ddl(columns))


def share_directory(uri: str, writers) -> None:
    """Let the executors' account write into a local table directory, as the spawner does for analysts' scratch
    spaces: default ACLs, which Spark's _temporary dirs inherit; analysts keep read access through `other`."""
    path = catalog.local_path(uri)
    if path is None or not writers:
        return
    path.mkdir(parents=True, exist_ok=True)
    try:
        acl.grant_rwx(path, list(writers), rest="r-x")
    except acl.ACLError as e:
        raise IngestError(str(e)) from None


def _append(spark, rows_rdd, columns, location: str, existing_ids_at: str | None, dates=None, partitioned=True,
            writers=(), by_file=None, known=None):  # fmt: skip
    """Append rows (an RDD of tuples, or a DataFrame) whose _record_id is not in the table yet; returns how many
    were written (and puts how many of each _source_file into `by_file`, when given). `known`: the rows of each
    _source_file, when the caller has counted them: a new table then needs no count before the write."""
    from pyspark import StorageLevel
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if isinstance(rows_rdd, DataFrame):
        df = rows_rdd  # rows made in the JVM (hunthub.ingest.jvm), already in the table's columns and types
    else:
        schema = struct([*columns, (PARTITION, "date")] if partitioned else columns)
        df = spark.createDataFrame(rows_rdd, schema, verifySchema=False)
    if known is not None and not (existing_ids_at and path_exists(spark, existing_ids_at)):
        # nothing to compare with: every row is written, and how many of each file is known
        by_file = Counter() if by_file is None else by_file
        by_file.update(known)
        if sum(known.values()):
            _write_rows(df, columns, location, partitioned, writers)
        return sum(known.values())
    if existing_ids_at and path_exists(spark, existing_ids_at):
        id_schema = "_record_id STRING" + (f", {PARTITION} DATE" if partitioned else "")
        ids = spark.read.schema(id_schema).parquet(existing_ids_at)
        if partitioned:
            ids = ids.where(F.col(PARTITION).isin(list(dates)))
        df = df.join(ids.select("_record_id").where(F.col("_record_id").isNotNull()), "_record_id", "left_anti")
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if by_file is None:
            written = df.count()
        else:
            by_file.update({r[0]: r[1] for r in df.groupBy("_source_file").count().collect()})
            written = sum(by_file.values())
        if written:
            _write_rows(df, columns, location, partitioned, writers)
        return written
    finally:
        df.unpersist()


def _write_rows(df, columns, location: str, partitioned: bool, writers) -> None:
    share_directory(location, writers)
    writer = df.repartition(PARTITION) if partitioned else df.coalesce(1)
    writer = writer.select(*[c for c, _ in columns], *([PARTITION] if partitioned else [])).write.mode("append")
    if partitioned:
        writer = writer.partitionBy(PARTITION)
    writer.option("compression", "zstd").parquet(location)


def plan_table(spark, target, survey, fmt: str):
    """The table's columns for what a survey saw: (existing columns, catalog sources, time column, key → column
    mapping, columns, new columns). One function for the Python and the JVM parsers (hunthub.ingest.jvm), so a
    key gets the same column whichever read it."""
    existing = existing_columns(spark, target)
    entry = target.entry()
    sources = dict(entry.sources) if entry else {}
    time_col = choose_time_column(existing, fmt)
    mapping = key_columns(survey, sources, existing, time_col) if survey.raw else {}
    columns, new = table_columns(existing, merged_kinds(survey, mapping), time_col, raw=survey.raw)
    return existing, sources, time_col, mapping, columns, new


def write_entries(spark, parsed, target: Target, fmt: str, on_fatal: str = "raise", say=print, dedup=True) -> Stats:
    """Write one input's parsed entries (an RDD). on_fatal='raise' stops before writing anything when a file is
    unreadable (batch: the analyst fixes the command); 'quarantine' keeps the whole file in the quarantine
    (streaming: a stuck file must not stop the stream forever). dedup=False skips removing duplicates, only so
    benchmarks/bench_ingest.py can measure what it costs: no command turns it off."""
    from pyspark import StorageLevel

    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _write(spark, parsed, target, fmt, on_fatal, say, dedup)
    finally:
        parsed.unpersist()


def _write(spark, parsed, target: Target, fmt: str, on_fatal: str, say, dedup=True) -> Stats:
    survey = parsed.aggregate(Survey(), _survey, _merge_survey)
    counts = survey.counts
    stats = Stats(reasons=survey.reasons)
    if counts["fatal"] and on_fatal == "raise":
        problems = [e[4] for e in parsed.filter(lambda e: e[0] == "fatal").take(10)]
        raise IngestError("nothing was written; these files cannot be read:\n  " + "\n  ".join(problems))
    stats.records = counts["ok"] + counts["bad"] + counts["fatal"]
    stats.files = {source: Counter(records=c["records"], quarantined=c["quarantined"])
                   for source, c in survey.files.items()}  # fmt: skip
    say(f"{target.table}: parsed {counts['ok']:,} records, {counts['bad'] + counts['fatal']:,} unusable; writing ...")
    existing, sources, time_col, mapping, columns, new = plan_table(spark, target, survey, fmt)
    stats.new_columns = new if existing else []
    if survey.raw:
        sources = updated_sources(sources, survey, mapping, columns)

    typed = parsed.filter(lambda e: e[0] == "ok").map(lambda e: _typed(e, columns, time_col, mapping))
    typed = typed.persist()
    try:
        good = typed.filter(lambda t: t[0] == "ok").map(lambda t: (t[1], (t[2], t[3])))
        good = (good.reduceByKey(_first) if dedup else good).persist()
        kept = good.map(lambda kv: kv[1][0][0]).countByValue()  # per file: the copy of each event that is kept
        typed_ok = typed.filter(lambda t: t[0] == "ok").map(lambda t: t[2][0]).countByValue()
        typed_bad = typed.filter(lambda t: t[0] == "bad").map(lambda t: (t[1][1], _reason_class(t[1][4])))
        typed_bad = typed_bad.countByValue()
        unique, ok_count = sum(kept.values()), sum(typed_ok.values())
        stats.duplicates = ok_count - unique
        bad = parsed.filter(lambda e: e[0] != "ok").union(typed.filter(lambda t: t[0] == "bad").map(lambda t: t[1]))
        stats.quarantined = counts["bad"] + counts["fatal"] + (counts["ok"] - ok_count)
        for (source, reason), n in typed_bad.items():
            stats.reasons[reason] += n
            stats.files[source]["quarantined"] += n
        for source, n in typed_ok.items():
            stats.files[source]["duplicates"] += n - kept.get(source, 0)
        if unique:
            rows = good.map(lambda kv: kv[1][1])
            written = Counter()
            stats.written = _append(spark, rows, columns, target.location, target.location if dedup else None,
                                    survey.dates, writers=target.writers, by_file=written)  # fmt: skip
            stats.already_present = unique - stats.written
            stats.dates = sorted(survey.dates)
            for source, n in kept.items():
                stats.files[source]["written"] += written.get(source, 0)
                stats.files[source]["already_present"] += n - written.get(source, 0)
        good.unpersist()
        if stats.quarantined:
            stats.quarantine_written = _quarantine(spark, bad, target, fmt)
    finally:
        typed.unpersist()
    _register(target, fmt, columns, stats, sources)
    return stats


def _quarantine(spark, bad, target: Target, fmt: str) -> int:
    now = datetime.now(UTC)
    rows = bad.map(lambda e: _quarantine_row(e, fmt, now)).reduceByKey(_first).map(lambda kv: (kv[0], *kv[1][1]))
    return _append(spark, rows, QUARANTINE_COLUMNS, target.quarantine_location, target.quarantine_location,
                   partitioned=False, writers=target.writers)  # fmt: skip


def extended_ddl(old: str, columns: list[tuple[str, str]]) -> str:
    """The catalog schema with the new columns before the partition column; existing column definitions (with
    their comments) are kept as written."""
    parts = split_top_level(old) if old else []
    names = [n for n, _ in parse_ddl(old)] if old else []
    kept = [p for p, n in zip(parts, names, strict=True) if n != PARTITION]
    partition = next((p for p, n in zip(parts, names, strict=True) if n == PARTITION), f"`{PARTITION}` DATE")
    added = [c for c in columns if c[0] not in names]
    return ", ".join([*kept, *([ddl(added)] if added else []), partition])


def _register(target: Target, fmt: str, columns, stats: Stats, sources: dict | None = None) -> None:
    """Kernels read the catalog at start: after this, every new kernel sees the table with its new columns.
    Only a table with data is registered: an empty location would be an error in every kernel's banner. `sources`
    (column -> source keys) is what the next ingest into this table assigns columns by."""
    entry = target.entry()
    if stats.written:
        location = target.location
        default = target.warehouse.rstrip("/") + "/" + target.table
        description = entry.description if entry and entry.description else ""
        catalog.register(
            target.catalog_path,
            catalog.Table(
                name=target.table,
                path=target.table if location == default else location,
                description=description or f"{DESCRIPTIONS[fmt]} ingested by `hunthub ingest`",
                schema=extended_ddl(entry.schema if entry else "", columns),
                sources=sources if sources is not None else (entry.sources if entry else {}),
            ),
        )
    if stats.quarantine_written and catalog.TABLE_NAME.fullmatch(target.quarantine_table):
        catalog.register(
            target.catalog_path,
            catalog.Table(
                name=target.quarantine_table,
                path=f"_quarantine/{target.table}",
                description=f"records of {target.table} that ingest could not use, with the reason",
                schema=ddl(QUARANTINE_COLUMNS),
            ),
        )

"""Parsed entries -> the table's Parquet, its quarantine, and the catalog. Shared by batch and streaming.

No duplicates: every record has a content id (records.record_id). Rows whose id is already in the touched date
partitions, or earlier in the same input, are skipped; only new rows are appended. A rerun - or a streaming
micro-batch replayed after a crash between writing and committing its offsets - therefore adds nothing, and an
interrupted write is repaired by the next run instead of being doubled.

Schema evolution: a table's columns only grow. New fields become new nullable columns (appended to the catalog
DDL, which kernels read with, so older partitions show them as NULL); an existing column keeps its type, and a
value that does not fit it sends that record to quarantine.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hunthub import acl, catalog, locks
from hunthub.ingest import IngestError
from hunthub.ingest.readers import EVENT_TIME, LINEAGE, PARTITION, RecordError, time_column
from hunthub.ingest.records import (
    coerce,
    ddl,
    kind_of,
    merge_kinds,
    parse_ddl,
    quarantine_id,
    record_id,
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
}


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

    def add(self, other: Stats) -> None:
        for name in ("records", "quarantined", "quarantine_written", "duplicates", "already_present", "written"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_columns += [c for c in other.new_columns if c not in self.new_columns]
        self.dates = sorted(set(self.dates) | set(other.dates))
        self.reasons.update(other.reasons)

    def summary(self, table: str) -> str:
        return (
            f"{table}: read {self.records:,}, written {self.written:,}, quarantined {self.quarantined:,} "
            f"({self.quarantine_written:,} new in quarantine), duplicates skipped "
            f"{self.duplicates + self.already_present:,} ({self.already_present:,} already in the table)"
        )


# --- executor-side functions (top level: pickled by reference) -----------------------------------------------


def _survey(acc, entry):
    counts, kinds, dates, reasons = acc
    status = entry[0]
    counts[status] += 1
    if status == "ok":
        for position, (name, value) in enumerate(entry[4].items()):
            kind, seen = kinds.get(name, (None, None))
            order = (entry[1], entry[2], position)
            kinds[name] = (merge_kinds(kind, kind_of(value)), order if seen is None or order < seen else seen)
        dates.add(entry[4][EVENT_TIME].date().isoformat())
    else:
        reasons[_reason_class(entry[4])] += 1
    return acc


def _merge_survey(a, b):
    a[0].update(b[0])
    for name, (kind, seen) in b[1].items():
        k, s = a[1].get(name, (None, None))
        a[1][name] = (merge_kinds(k, kind), seen if s is None or (seen is not None and seen < s) else s)
    a[2].update(b[2])
    a[3].update(b[3])
    return a


def _reason_class(reason: str) -> str:
    """Reasons grouped for the summary: the same problem with different values is one line."""
    return re.sub(r"got \d+", "got N", re.sub(r"'[^']*'", "'...'", reason))[:120]


def _typed(entry, columns, time_col):
    """("ok", id, (source, line), row) or ("bad", entry-with-reason) for one good parsed entry."""
    _, source, line, raw, record = entry
    rid = record_id(record)
    try:
        row = []
        for name, spark_type in columns:
            if name == "_record_id":
                row.append(rid)
            elif name == "_source_file":
                row.append(source)
            elif name == "_source_line":
                row.append(line)
            elif name == time_col:
                row.append(coerce(record[EVENT_TIME], spark_type))
            else:
                try:
                    row.append(coerce(record.get(name), spark_type))
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
    existing: list[tuple[str, str]], kinds: dict, time_col: str = EVENT_TIME
) -> tuple[list[tuple[str, str]], list[str]]:
    """(all columns in order, names of the new ones): existing columns keep place and type; new ones follow in
    the order they first appeared in the input."""
    known = {name for name, _ in existing}
    fresh = sorted((seen, name, kind) for name, (kind, seen) in kinds.items() if name not in known and resolved(kind))
    fresh_cols = [(name, kind) for _, name, kind in fresh if name not in (EVENT_TIME, time_col)]
    if not existing:
        columns = [(time_col, "timestamp"), *fresh_cols, *((n, LINEAGE_TYPES[n]) for n in LINEAGE)]
        return columns, [n for n, _ in columns]
    columns = list(existing) + fresh_cols
    columns += [(n, LINEAGE_TYPES[n]) for n in LINEAGE if n not in known]
    if time_col not in known:
        columns.insert(0, (time_col, "timestamp"))
    return columns, [n for n, _ in columns if n not in known]


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
            writers=()):  # fmt: skip
    """Append rows whose _record_id is not in the table yet; returns how many were written."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    schema = struct([*columns, (PARTITION, "date")] if partitioned else columns)
    df = spark.createDataFrame(rows_rdd, schema, verifySchema=False)
    if existing_ids_at and path_exists(spark, existing_ids_at):
        id_schema = "_record_id STRING" + (f", {PARTITION} DATE" if partitioned else "")
        ids = spark.read.schema(id_schema).parquet(existing_ids_at)
        if partitioned:
            ids = ids.where(F.col(PARTITION).isin(list(dates)))
        df = df.join(ids.select("_record_id").where(F.col("_record_id").isNotNull()), "_record_id", "left_anti")
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        written = df.count()
        if written:
            share_directory(location, writers)
            writer = df.repartition(PARTITION) if partitioned else df.coalesce(1)
            writer = writer.select(*[c for c, _ in columns], *([PARTITION] if partitioned else [])).write.mode("append")
            if partitioned:
                writer = writer.partitionBy(PARTITION)
            writer.option("compression", "zstd").parquet(location)
        return written
    finally:
        df.unpersist()


def write_entries(spark, parsed, target: Target, fmt: str, on_fatal: str = "raise", say=print) -> Stats:
    """Write one input's parsed entries (an RDD). on_fatal='raise' stops before writing anything when a file is
    unreadable (batch: the analyst fixes the command); 'quarantine' keeps the whole file in the quarantine
    (streaming: a stuck file must not stop the stream forever)."""
    from pyspark import StorageLevel

    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return _write(spark, parsed, target, fmt, on_fatal, say)
    finally:
        parsed.unpersist()


def _write(spark, parsed, target: Target, fmt: str, on_fatal: str, say) -> Stats:
    counts, kinds, dates, reasons = parsed.aggregate((Counter(), {}, set(), Counter()), _survey, _merge_survey)
    stats = Stats(reasons=reasons)
    if counts["fatal"] and on_fatal == "raise":
        problems = [e[4] for e in parsed.filter(lambda e: e[0] == "fatal").take(10)]
        raise IngestError("nothing was written; these files cannot be read:\n  " + "\n  ".join(problems))
    stats.records = counts["ok"] + counts["bad"] + counts["fatal"]
    say(f"{target.table}: parsed {counts['ok']:,} records, {counts['bad'] + counts['fatal']:,} unusable; writing ...")
    existing = existing_columns(spark, target)
    time_col = choose_time_column(existing, fmt)
    columns, new = table_columns(existing, kinds, time_col)
    stats.new_columns = new if existing else []

    typed = parsed.filter(lambda e: e[0] == "ok").map(lambda e: _typed(e, columns, time_col))
    typed = typed.persist()
    try:
        good = typed.filter(lambda t: t[0] == "ok").map(lambda t: (t[1], (t[2], t[3]))).reduceByKey(_first)
        good = good.persist()
        unique = good.count()
        ok_count = typed.filter(lambda t: t[0] == "ok").count()
        stats.duplicates = ok_count - unique
        bad = parsed.filter(lambda e: e[0] != "ok").union(typed.filter(lambda t: t[0] == "bad").map(lambda t: t[1]))
        stats.quarantined = counts["bad"] + counts["fatal"] + (counts["ok"] - ok_count)
        if counts["ok"] - ok_count:
            stats.reasons.update(
                typed.filter(lambda t: t[0] == "bad").map(lambda t: _reason_class(t[1][4])).countByValue()
            )
        if unique:
            rows = good.map(lambda kv: kv[1][1])
            stats.written = _append(spark, rows, columns, target.location, target.location, dates,
                                    writers=target.writers)  # fmt: skip
            stats.already_present = unique - stats.written
            stats.dates = sorted(dates)
        good.unpersist()
        if stats.quarantined:
            stats.quarantine_written = _quarantine(spark, bad, target, fmt)
    finally:
        typed.unpersist()
    _register(target, fmt, columns, stats)
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


def _register(target: Target, fmt: str, columns, stats: Stats) -> None:
    """Kernels read the catalog at start: after this, every new kernel sees the table with its new columns.
    Only a table with data is registered: an empty location would be an error in every kernel's banner."""
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

"""`hunthub ingest batch`: raw files -> parsed entries (Spark, one task per file split) -> write.write_entries.

Every file is checked (exists, readable encoding, header of its format) before Spark reads anything, so a bad
command fails in seconds, names the file, and writes nothing.

EVTX files are binary, so lines do not apply: one task per file parses it whole (hunthub.ingest.evtx), local files
opened by path on the executors, others (hdfs://) read by sc.binaryFiles.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hunthub.ingest import IngestError, jvm
from hunthub.ingest import evtx as evtx_format
from hunthub.ingest.parse import HEAD_LINES, parse_numbered_lines, parse_text, reads_whole
from hunthub.ingest.readers import FormatError, file_header
from hunthub.ingest.write import Stats, Target, table_lock, write_entries


@dataclass(frozen=True)
class InputFile:
    source: str  # what _source_file and the quarantine say: the absolute path, or the URI
    uri: str


def input_files(paths: list[str]) -> list[InputFile]:
    """Files named, and files under directories named (hidden and _-prefixed ones skipped, as Spark does)."""
    found: list[InputFile] = []
    for p in paths:
        if "://" in p and not p.startswith("file://"):
            found.append(InputFile(p, p))  # hdfs:// etc.: Spark lists and reads it
            continue
        path = Path(p[len("file://") :] if p.startswith("file://") else p).expanduser().absolute()
        if path.is_dir():
            files = sorted(
                f
                for f in path.rglob("*")
                if f.is_file() and not any(part.startswith((".", "_")) for part in f.relative_to(path).parts)
            )
            if not files:
                raise IngestError(f"{path}: no files in this directory")
            found += [InputFile(str(f), f"file://{f}") for f in files]
        elif path.is_file():
            found.append(InputFile(str(path), f"file://{path}"))  # as Hadoop reads it: not percent-encoded
        else:
            raise IngestError(f"{path}: no such file or directory")
    return list(dict.fromkeys(found))


def head(sc, f: InputFile) -> list[str]:
    """The first lines of a file: read here for local files (fast, and the encoding can be checked)."""
    if not f.uri.startswith("file:"):
        return [b.decode("utf-8", "replace") for b in sc.textFile(f.uri, use_unicode=False).take(HEAD_LINES)]
    path = Path(f.source)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            start = fh.read(65536)
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from e
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        # what PowerShell 5's `>` and Out-File write by default
        raise IngestError(f"{path}: UTF-16 text; re-export it as UTF-8 (PowerShell: Out-File -Encoding utf8)")
    return start.decode("utf-8", "replace").split("\n")[:HEAD_LINES]


# Hadoop's Path cannot hold ':' in a file name (HADOOP-3257), splits input lists at ',' and expands glob
# characters - and Zeek names rotated logs conn.00:00:00-01:00:00.log.gz.
_HADOOP_HOSTILE = re.compile(r"[:,*?\[\]{}\\%]")
_CODECS = (".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate")


@contextmanager
def hadoop_readable(files: list[InputFile]):
    """The files with a URI Hadoop can read: local names it cannot parse are read through a symlink with a plain
    name (lineage keeps the real path). The links live in a temporary directory the executors can traverse."""
    links = None
    readable = []
    try:
        for i, f in enumerate(files):
            if not f.uri.startswith("file:") or not _HADOOP_HOSTILE.search(f.source):
                readable.append(f)
                continue
            if links is None:
                links = Path(tempfile.mkdtemp(prefix="hunthub-ingest-"))
                links.chmod(0o755)
            suffix = Path(f.source).suffix if Path(f.source).suffix in _CODECS else ".txt"
            link = links / f"{i:06d}{suffix}"
            link.symlink_to(f.source)
            readable.append(InputFile(f.source, f"file://{link}"))
        yield readable
    finally:
        if links is not None:
            shutil.rmtree(links, ignore_errors=True)


EVTX_RECORDS_PER_PARTITION = 200_000  # of parsed entries, for the write's jobs
EVTX_RECORDS_GUESS = 20_000  # records in a file only Spark can read (a 20 MB Security.evtx holds about 20,000)


def remote_evtx_headers(spark, uri: str) -> list[tuple[str, bytes, int]]:
    """(URI, first 4 KiB, size) of each file at a URI executors read through Hadoop (hdfs://, a file or a directory,
    hidden and _-prefixed names skipped as sc.binaryFiles skips them): its EVTX header, checked before any task."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(path):
        raise IngestError(f"{uri}: no such file or directory")
    root = fs.getFileStatus(path).getPath().toUri().getPath().rstrip("/")
    found = []
    listing = fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        name = status.getPath().toString()
        relative = status.getPath().toUri().getPath()[len(root) :].strip("/")
        if relative and any(part.startswith((".", "_")) for part in relative.split("/")):
            continue
        stream = fs.open(status.getPath())
        try:
            size = status.getLen()
            head = jvm.org.apache.commons.io.IOUtils.toByteArray(stream, min(size, evtx_format.HEADER_BLOCK))
        finally:
            stream.close()
        found.append((name, bytes(head), size))
    if not found:
        raise IngestError(f"{uri}: no files here")
    return found


def local_evtx(files: list[InputFile]) -> tuple[list[tuple[int, str]], list[str]]:
    """(records listed, path) of the local EVTX files that are whole, and what is wrong with the others."""
    local, problems = [], []
    for f in files:
        if not f.uri.startswith("file:"):
            continue
        try:
            local.append((evtx_format.check(f.source).records, f.source))
        except FormatError as e:
            problems.append(str(e))
        except OSError as e:
            problems.append(f"{f.source}: cannot be read ({e.strerror or e})")
    return local, problems


def evtx_files(spark, files: list[InputFile], time_field: str | None = None):
    """One RDD of parsed entries for EVTX files, one task per file; IngestError naming every file that is not a
    whole EVTX file (checked here: local files whole, others by their file header)."""
    sc = spark.sparkContext
    local, problems = local_evtx(files)
    remote = []
    for f in files:
        if f.uri.startswith("file:"):
            continue
        heads = remote_evtx_headers(spark, f.uri)
        problems += [p for p in (evtx_format.header_problem(h, n, u) for u, h, n in heads) if p]
        remote.append((f.uri, len(heads)))
    if problems:
        raise IngestError("nothing was written; these files cannot be read:\n  " + "\n  ".join(problems))
    rdds = []
    if local:
        # the largest first, so the last task to start is a short one; a task per file, whatever the cores
        items = [(source, source) for _, source in sorted(local, key=lambda t: -t[0])]
        rdds.append(sc.parallelize(items, len(items)).flatMap(lambda item: evtx_format.path_entries(item, time_field)))
    for uri, count in remote:
        rdds.append(
            sc.binaryFiles(uri, minPartitions=count).flatMap(lambda kv: evtx_format.bytes_entries(kv, time_field))
        )
    parsed = sc.union(rdds) if len(rdds) > 1 else rdds[0]
    # Writing runs several jobs over the entries; at a task per file, many small files would pay Spark's per-task
    # cost (~0.1 s here) in each of them. So the parsed entries move into a few partitions sized by records.
    records = sum(n for n, _ in local) + sum(count for _, count in remote) * EVTX_RECORDS_GUESS
    partitions = max(2 * sc.defaultParallelism, -(-records // EVTX_RECORDS_PER_PARTITION))
    if parsed.getNumPartitions() > partitions:
        parsed = parsed.repartition(partitions)
    return parsed


def parse_files(spark, files: list[InputFile], fmt: str, time_field: str | None = None, delimiter: str = ","):
    """One RDD of parsed entries for all files; raises IngestError for a file unreadable in this format."""
    sc = spark.sparkContext
    if fmt == "evtx":
        return evtx_files(spark, files, time_field)
    rdds, problems = [], []
    for f in files:
        lines = head(sc, f)
        if reads_whole(fmt, lines):
            # a JSON array (ConvertTo-Json) or event XML cannot be split at line ends: one task for the file
            rdds.append(
                sc.wholeTextFiles(f.uri, use_unicode=False).flatMap(
                    lambda kv, src=f.source: parse_text(fmt, src, kv[1], time_field, delimiter)
                )
            )
            continue
        try:
            header = file_header(fmt, lines, f.source, time_field, delimiter)
        except FormatError as e:
            problems.append(str(e))
            continue
        numbered = sc.textFile(f.uri, use_unicode=False).zipWithIndex()
        rdds.append(
            numbered.mapPartitions(
                lambda pairs, h=header, src=f.source: parse_numbered_lines(fmt, h, src, time_field, pairs)
            )
        )
    if problems:
        raise IngestError("nothing was written; these files cannot be read:\n  " + "\n  ".join(problems))
    return sc.union(rdds)


# Formats a JVM reader parses with the Python path's exact results (each module says how): the module, and the
# input size from which it is the faster path. Under it the JVM path's fixed cost (a schema pass, a survey, and
# planning expressions over every key, 10-45 s) outweighs what it saves an event (benchmarks/README.md, "Spark's
# JSON reader or Python"); real recordings of attacks are mostly well under it.
JVM_READERS = {"jsonl": (jvm, 128 * 2**20), "winevent": (jvm, 1024 * 2**20)}
# "auto": a JVM reader where it pays; "jvm": wherever it can (tests comparing the two); "python": never
READERS = ("auto", "jvm", "python")


def jvm_ingest(spark, files: list[InputFile], target: Target, fmt: str, time_field, say, dedup, delimiter=",",
               readers="auto") -> Stats | None:  # fmt: skip
    """The ingest done by Spark's own readers (JVM_READERS), or None when the Python path must (or should) do it."""
    reader, pays_from = JVM_READERS[fmt]
    heads = [head(spark.sparkContext, f) if f.uri.startswith("file:") else [] for f in files]
    reason = reader.usable(files, heads, fmt)
    if reason is None and readers == "auto":
        size = sum(Path(jvm.local_path(f.uri)).stat().st_size for f in files)
        if size < pays_from:
            reason = f"{size / 2**20:,.1f} MiB; Spark's reader is the faster from {pays_from / 2**20:,.0f} MiB"
    if reason is None:
        try:
            return reader.ingest(spark, files, target, fmt, time_field, say, dedup, heads, delimiter=delimiter)
        except jvm.Fallback as e:
            reason = str(e)
    say(f"{target.table}: parsing in Python ({reason})")
    return None


def ingest_files(
    spark,
    paths: list[str],
    fmt: str,
    target: Target,
    time_field=None,
    delimiter=",",
    say=print,
    dedup=True,
    readers="auto",
) -> Stats:
    """`readers` (READERS): whether the formats of JVM_READERS go through Spark's own readers, which give the Python
    path's results; other than "auto" only for tests and benchmarks that compare the two, as `dedup` only for
    benchmarks/bench_ingest.py."""
    if readers not in READERS:
        raise ValueError(f"readers={readers!r}: one of {READERS}")
    files = input_files(paths)
    say(f"{target.table}: reading {len(files)} file(s) as {fmt} with Spark ({spark.sparkContext.master})")
    with table_lock(target, say), hadoop_readable(files) as readable:
        if fmt in JVM_READERS and readers != "python":
            stats = jvm_ingest(spark, readable, target, fmt, time_field, say, dedup, delimiter, readers)
            if stats is not None:
                return stats
        parsed = parse_files(spark, readable, fmt, time_field, delimiter)
        return write_entries(spark, parsed, target, fmt, on_fatal="raise", say=say, dedup=dedup)

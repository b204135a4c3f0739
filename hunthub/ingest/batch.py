"""`hunthub ingest batch`: raw files -> parsed entries (Spark, one task per file split) -> write.write_entries.

Every file is checked (exists, readable encoding, header of its format) before Spark reads anything, so a bad
command fails in seconds, names the file, and writes nothing.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hunthub.ingest import IngestError
from hunthub.ingest.parse import HEAD_LINES, looks_like_json_array, parse_numbered_lines, parse_text
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


def parse_files(spark, files: list[InputFile], fmt: str, time_field: str | None = None, delimiter: str = ","):
    """One RDD of parsed entries for all files; raises IngestError for a file unreadable in this format."""
    sc = spark.sparkContext
    rdds, problems = [], []
    for f in files:
        lines = head(sc, f)
        if fmt in ("winevent", "jsonl") and looks_like_json_array(lines):
            # a pretty-printed JSON array (ConvertTo-Json) cannot be split at line ends: one task for the file
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


def ingest_files(spark, paths: list[str], fmt: str, target: Target, time_field=None, delimiter=",", say=print) -> Stats:
    files = input_files(paths)
    say(f"{target.table}: reading {len(files)} file(s) as {fmt} with Spark ({spark.sparkContext.master})")
    with table_lock(target, say), hadoop_readable(files) as readable:
        parsed = parse_files(spark, readable, fmt, time_field, delimiter)
        return write_entries(spark, parsed, target, fmt, on_fatal="raise", say=say)

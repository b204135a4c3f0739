"""EVTX, the files Windows keeps its event logs in (`C:\\Windows\\System32\\winevt\\Logs\\*.evtx`, `wevtutil epl`,
Event Viewer's "Save All Events As"), read directly: each record becomes the event XML as nested JSON,
`{"Event": {"System": {...}, "EventData": {...}}}`, and goes through readers.winevent_record like every other shape
of Windows event.

The parser is `evtx` (PyPI; pyevtx-rs, Python bindings of the Rust `evtx` crate; MIT/Apache-2.0; manylinux wheels,
nothing to compile), chosen by `benchmarks/bench_evtx.py` on the 277 files of EVTX-ATTACK-SAMPLES (8,255 events),
one thread, median of 3 runs:

    evtx 0.14.0 (Rust)                  67,377 events/s to the nested dict (190,316 to its JSON text)
    libevtx-python 20260705 (libyal)    15,523 events/s to XML text only   0.23x   LGPL-3.0, compiled from its sdist
    dissect.eventlog 3.11                1,923 events/s to a flat dict     0.03x   AGPL-3.0
    python-evtx 0.8.1                      213 events/s to XML text only   0.0032x  Apache-2.0, pure Python

The others give XML text or flat dicts (turning XML into the nested dict would cost them more still). evtx is also
maintained (0.14.0: October 2026), its JSON is already the nested shape winevent_record reads (values typed:
ProcessId is a number, Initiated a boolean), and its errors name the record or chunk. dissect.eventlog also gets
GUIDs wrong (Sysmon's provider {5770385F-C22A-...} comes out {5F387057-2AC2-...}). evtx writes attributes as
`"#attributes"` (`"TimeCreated": {"#attributes": {"SystemTime": ...}}`), unnamed EventData as `{"Data": {"#text":
[...]}}`. hunthub's whole Python side of a file (checks, parser, json.loads, winevent_record, accounting) ran at
13,760 events/s per core.

What the parser does not promise, this module adds:
- The file is checked before Spark starts (`check`): "ElfFile\\0" signature, a whole file header, every chunk the
  header counts present with its "ElfChnk\\0" signature. An empty, truncated or corrupt file, or one that is not
  EVTX (.evt, JSON, XML), fails the ingest naming the file; nothing is written.
- Nothing is dropped silently (`entries`): every chunk header lists the record ids it holds; a record the parser
  reports as unreadable, or leaves out without a word (it skips the rest of a chunk after a broken record header),
  becomes a quarantined entry with its record number. Records in file = rows + quarantined.
- Lineage: `_source_line` is the record's number in the file (its record header's id: 1..N in a file saved with
  Event Viewer or wevtutil, where the event's own EventRecordID keeps its number in the original log).
- One Spark task per file (batch.py); the parser runs single-threaded in it, so tasks use one core each. The parsed
  entries then move into a few partitions for the write (Spark's per-task cost, paid in each of the write's jobs,
  made 277 small files take 300 s instead of 50 s).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from hunthub.ingest.readers import FormatError, RecordError, winevent_record

MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_BLOCK = 4096  # the file header's block; the first chunk starts after it
CHUNK_SIZE = 65536
CHUNK_HEADER = 128
# a record is at least its 24-byte header, a little binary XML and its 4-byte size copy: far fewer than this per chunk
MAX_RECORDS_PER_CHUNK = CHUNK_SIZE // 24


@dataclass(frozen=True)
class Chunk:
    index: int
    first_record: int  # record ids (the record header's, as the parser reports them), inclusive
    last_record: int

    @property
    def count(self) -> int:
        return max(0, self.last_record - self.first_record + 1)


@dataclass(frozen=True)
class Layout:
    """What the file and chunk headers say the file holds."""

    chunks: tuple[Chunk, ...]
    dirty: bool  # the log was not closed cleanly (copied while in use): the last chunk may hold more than it says

    @property
    def records(self) -> int:
        return sum(c.count for c in self.chunks)


def not_evtx(start: bytes, source: str) -> str:
    """Why a file that does not start with the EVTX signature is not EVTX, with what to do."""
    if not start:
        return f"{source}: empty file (0 bytes), not an EVTX event log"
    if start[4:8] == b"LfLe":
        return (
            f"{source}: a Windows XP/2003 .evt event log, not EVTX; convert it on Windows with "
            "`wevtutil epl <file>.evt <file>.evtx /lf:true`"
        )
    text = start.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if text[:1] in (b"{", b"[", b"<"):
        return (
            f"{source}: text (JSON or XML), not an EVTX event log (which starts with ElfFile); "
            "for Windows events as JSON use --format winevent"
        )
    return f"{source}: not an EVTX event log (it does not start with the signature ElfFile, but with {start[:8]!r})"


def header_problem(header: bytes, size: int, source: str) -> str | None:
    """Checks the file header alone (the first 4096 bytes) against the file's size: the problem, or None."""
    if not header.startswith(MAGIC):
        return not_evtx(header, source)
    if len(header) < HEADER_BLOCK or size < HEADER_BLOCK:
        return f"{source}: truncated EVTX file: {size:,} bytes, less than its {HEADER_BLOCK:,}-byte file header"
    count = struct.unpack_from("<H", header, 42)[0]
    need = HEADER_BLOCK + count * CHUNK_SIZE
    if size < need:
        whole = (size - HEADER_BLOCK) // CHUNK_SIZE
        return (
            f"{source}: truncated EVTX file: its header counts {count} chunk(s) of 64 KiB ({need:,} bytes), "
            f"the file has {size:,} bytes ({whole} whole chunk(s)); copy it again from the source"
        )
    return None


def read_layout(fh, source: str) -> Layout:
    """The file's layout from its headers (reads 4 KiB plus 128 bytes per chunk); FormatError naming the file
    when it is empty, not EVTX, truncated or has a corrupt chunk header."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    header = fh.read(HEADER_BLOCK)
    problem = header_problem(header, size, source)
    if problem:
        raise FormatError(problem)
    count = struct.unpack_from("<H", header, 42)[0]
    flags = struct.unpack_from("<I", header, 120)[0]
    chunks = []
    for index in range(count):
        offset = HEADER_BLOCK + index * CHUNK_SIZE
        fh.seek(offset)
        head = fh.read(CHUNK_HEADER)
        if not head.startswith(CHUNK_MAGIC) or len(head) < CHUNK_HEADER:
            raise FormatError(
                f"{source}: corrupt EVTX file: chunk {index} of {count} (at byte {offset:,}) has no ElfChnk "
                f"signature but {head[:8]!r}"
            )
        first, last = struct.unpack_from("<QQ", head, 24)
        if last + 1 < first or last - first >= MAX_RECORDS_PER_CHUNK:
            raise FormatError(
                f"{source}: corrupt EVTX file: chunk {index} (at byte {offset:,}) claims records {first}..{last}"
            )
        chunks.append(Chunk(index, first, last))
    return Layout(tuple(chunks), dirty=bool(flags & 1))


def check(path: str) -> Layout:
    """A local file's layout, or FormatError saying what is wrong with it (OSError when it cannot be read)."""
    with open(path, "rb") as fh:
        return read_layout(fh, path)


# --- records -----------------------------------------------------------------------------------------------------

SKIPPED = "listed in its chunk's header, but the parser did not return it (a damaged record header?)"
_RECORD_ERROR = re.compile(r"record number (\d+)")
_CHUNK_ERROR = re.compile(r"chunk number (\d+)")


def parser(file):
    """The evtx parser of a path or a binary file object, single-threaded: Spark runs one task per core."""
    import evtx

    return evtx.PyEvtxParser(file, number_of_threads=1)


def event(record: dict) -> tuple[str, dict]:
    """(raw JSON text, the event as a nested dict) of one record as evtx's records_json() yields it."""
    raw = record["data"]
    return raw, json.loads(raw)


def records(file) -> Iterator[tuple[int, str | None, str | None]]:
    """(record number, raw JSON, None) for each record the parser reads and (record number or 0, None, error) for
    each it reports as unreadable, in file order. Iterating goes on past an error, as the parser does."""
    it = iter(parser(file).records_json())
    while True:
        try:
            r = next(it)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - the parser raises RuntimeError/OSError per bad record or chunk
            yield 0, None, str(e).strip() or type(e).__name__
            continue
        yield r["event_record_id"], r["data"], None


def entries(source: str, file, time_field: str | None = None, layout: Layout | None = None):
    """The parse entries (see parse.py) of one EVTX file, a path or a seekable binary file object."""
    try:
        if layout is None:
            if isinstance(file, str):
                layout = check(file)
            else:
                layout = read_layout(file, source)
                file.seek(0)
    except FormatError as e:
        yield ("fatal", source, 0, "", str(e))
        return
    except OSError as e:
        yield ("fatal", source, 0, "", f"{source}: cannot be read ({e.strerror or e})")
        return
    seen: set[int] = set()
    chunk_errors: dict[int, str] = {}
    errors = 0
    limit = 2 * layout.records + 1000  # a parser that fails on and on must not hold the task forever
    try:
        for number, raw, error in records(file):
            if error is not None:
                errors += 1
                chunk = _CHUNK_ERROR.search(error)
                record = _RECORD_ERROR.search(error)
                if chunk and not record:
                    # its records are counted below, each with this reason
                    chunk_errors[int(chunk.group(1))] = error
                else:
                    number = int(record.group(1)) if record else 0
                    seen.add(number)
                    yield ("bad", source, number, "", f"EVTX record unreadable: {error}")
                if errors > limit:
                    yield ("bad", source, 0, "", f"EVTX parser stopped after {errors} errors; last: {error}")
                    break
                continue
            seen.add(number)
            try:
                yield ("ok", source, number, raw, winevent_record(json.loads(raw), time_field))
            except RecordError as e:
                yield ("bad", source, number, raw, str(e))
            except Exception as e:  # noqa: BLE001 - one odd record must not fail the job: quarantined with the reason
                yield ("bad", source, number, raw, f"unreadable: {type(e).__name__}: {e}")
    except OSError as e:  # the file went away or became unreadable mid-way
        yield ("fatal", source, 0, "", f"{source}: cannot be read ({e.strerror or e})")
        return
    for chunk in layout.chunks:
        why = chunk_errors.get(chunk.index) or SKIPPED
        for number in range(chunk.first_record, chunk.last_record + 1):
            if number not in seen:
                yield ("bad", source, number, "", f"EVTX record {number} (chunk {chunk.index}) not read: {why}")


def path_entries(item, time_field: str | None = None):
    """Entries of a local file given as (source, path), as batch.py parallelizes them: one task per file."""
    source, path = item
    yield from entries(source, path, time_field)


def bytes_entries(item, time_field: str | None = None):
    """Entries of a file read by sc.binaryFiles, (URI, content): for files executors cannot open by path (hdfs://)."""
    import io

    uri, content = item
    yield from entries(uri, io.BytesIO(content), time_field)

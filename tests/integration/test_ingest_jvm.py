"""JSON lines parsed by Spark's JSON reader (hunthub.ingest.jvm) give exactly what the Python path gives.

Each case ingests the same files twice, into two tables: once through `batch.ingest_files` (which takes the JVM path
for JSON lines) and once through the Python path (parse_files + write_entries, what ingest_files did before). The
tables' rows, the catalog entries (schema, `sources`), the quarantine and every count of the summary must be equal;
and the JVM path must have been taken where it should (or left where it must not be).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hunthub import catalog
from hunthub.ingest import batch, write

pytestmark = pytest.mark.integration

T = "2026-11-02T08:{:02d}:{:02d}Z"
MIXED = [  # Suricata-like nesting, keys differing in case or only by '@', arrays, numbers that widen, nulls
    {"@timestamp": T.format(0, 1), "Image": "C:\\a.exe", "image": "a", "Version": "1", "@version": "1",
     "alert": {"signature": "ET X", "severity": 2}, "ports": [80, 443], "tags": ["a", "b"], "bytes": 10,
     "ratio": 1, "ok": True, "gone": None},
    {"@timestamp": T.format(0, 2), "image": "b", "alert": {"signature": "ET Y", "severity": 3}, "ports": [],
     "bytes": 11, "ratio": 0.5, "ok": False, "gone": None, "date": "local date field"},
    {"timestamp": 1793606400123, "Image": "C:\\b.exe", "flow": {"state": "closed", "pkts": 4}, "bytes": 12},
    {"ts": "1793606401.5", "user": "alice"},
    {"ts": "2026-11-03 10:00:00", "user": "bob", "tags": ["c"]},
    {"ts": "2026-11-03T10:00:00.123456+01:00", "user": "carol"},
    {"ts": "2026-11-03", "user": "dave", "n": 7},
]  # fmt: skip
BAD = [
    '{"@timestamp": "2026-11-02T09:00:00Z", "cut": "off',  # torn write
    '{"user": "no time at all"}',
    '[1, 2]',  # not an object
    '{"@timestamp": "2026-11-02T09:00:01Z"} trailing',  # Spark's from_json would take it; json.loads does not
    '{"@timestamp": "2026-11-02T09:00:02Z"}{"a": 1}',  # two events on one line
    "{'single': 'quotes'}",
]  # fmt: skip


def _lines(*events) -> list[str]:
    return [e if isinstance(e, str) else json.dumps(e) for e in events]


def _write(path: Path, lines: list[str], newline="\n", bom=False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" if bom else "").encode() + newline.join(lines).encode() + newline.encode())
    path.chmod(0o644)
    return path


def _python_path(spark, paths, target, time_field=None, fmt="jsonl", delimiter=","):
    files = batch.input_files(paths)
    with batch.hadoop_readable(files) as readable:
        parsed = batch.parse_files(spark, readable, fmt, time_field, delimiter)
        return write.write_entries(spark, parsed, target, fmt, say=lambda _: None)


def _table(spark, target, quarantine=False) -> list[tuple]:
    location = target.quarantine_location if quarantine else target.location
    df = spark.read.option("mergeSchema", "true").parquet(location)  # every file: columns only grow
    if quarantine:
        df = df.drop("quarantined_at", "format")
    order = ["source_file", "line"] if quarantine else ["_source_file", "_source_line"]
    return [repr(tuple(r)) for r in df.orderBy(*order).collect()]  # repr: NaN equals NaN


def _summary(stats) -> dict:
    keep = ("records", "quarantined", "quarantine_written", "duplicates", "already_present", "written")
    return {**{k: getattr(stats, k) for k in keep}, "reasons": dict(stats.reasons), "files": stats.files,
            "dates": stats.dates, "new_columns": stats.new_columns}  # fmt: skip


def same_as_python(spark, target, name: str, runs: list[list[str]], time_field=None, jvm_taken=True, fmt="jsonl",
                   delimiter=","):  # fmt: skip
    """Ingest each run's paths into `<name>_jvm` by ingest_files and into `<name>_py` by the Python path; assert
    that every summary, both tables, both quarantines and both catalog entries are equal."""
    j, p = target(f"{name}_jvm"), target(f"{name}_py")
    for paths in runs:
        said = []
        got = batch.ingest_files(spark, paths, fmt, j, time_field, delimiter, say=said.append, readers="jvm")
        want = _python_path(spark, paths, p, time_field, fmt, delimiter)
        took_python = any("parsing in Python" in line for line in said)
        assert took_python != jvm_taken, said
        assert _summary(got) == _summary(want)
        assert got.unaccounted() == 0
    cat = catalog.load(j.catalog_path)
    assert cat[j.table].schema == cat[p.table].schema
    assert cat[j.table].sources == cat[p.table].sources
    assert _table(spark, j) == _table(spark, p), (_table(spark, j), _table(spark, p))
    if want.quarantined:
        assert _table(spark, j, quarantine=True) == _table(spark, p, quarantine=True)
    return got


def test_json_lines_as_the_python_path_reads_them(spark, raw, target):
    first = _write(raw / "jvm" / "a.jsonl", _lines(*MIXED[:4], *BAD, "", "   ", MIXED[0]), newline="\r\n", bom=True)
    second = _write(raw / "jvm" / "b.jsonl", _lines(*MIXED[3:], MIXED[1]))
    got = same_as_python(spark, target, "jvm_mixed", [[str(first)], [str(first), str(second)]])
    assert (got.already_present, got.duplicates, got.written) == (4, 3, 3), _summary(got)


def test_inputs_under_the_size_where_spark_pays_go_the_python_path_and_say_so(spark, raw, target, monkeypatch):
    path = _write(raw / "jvm" / "small.jsonl", _lines(*MIXED[:3]))
    said = []
    stats = batch.ingest_files(spark, [str(path)], "jsonl", target("jvm_small"), say=said.append)
    assert stats.written == 3 and stats.unaccounted() == 0
    assert any(m.startswith("jvm_small: parsing in Python (0.0 MiB; Spark's reader is the faster from 128 MiB)")
               for m in said), said  # fmt: skip
    monkeypatch.setitem(batch.JVM_READERS, "jsonl", (batch.JVM_READERS["jsonl"][0], path.stat().st_size))
    said.clear()
    stats = batch.ingest_files(spark, [str(path)], "jsonl", target("jvm_small_at_size"), say=said.append)
    assert stats.written == 3 and not any("parsing in Python" in m for m in said), said


def test_line_numbers_across_file_blocks(spark, raw, target):
    """A file Spark splits into blocks read by different tasks: lines still numbered as in the file."""
    events = [{"@timestamp": T.format(i // 60 % 60, i % 60), "n": i, "pad": "x" * (i % 50)} for i in range(30_000)]
    lines = _lines(*events)
    for i in range(0, len(lines), 997):
        lines[i] = lines[i][:20]  # broken lines spread over the blocks: their numbers must be right
    path = _write(raw / "jvm" / "big.jsonl", lines)
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(256 * 1024))
    try:
        same_as_python(spark, target, "jvm_blocks", [[str(path)]])
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


@pytest.mark.parametrize(
    "case, line",
    [
        ("nan", '{"@timestamp": "2026-11-02T09:00:00Z", "x": NaN}'),  # json.loads reads NaN, Spark refuses
        ("windows_time", '{"@timestamp": "2026-11-02T09:00:00.1234567Z"}'),  # 7 digits: Python's parse
        ("object_or_text", '{"@timestamp": "2026-11-02T09:00:00Z", "alert": "text"}'),
        ("dotted_clash", '{"@timestamp": "2026-11-02T09:00:00Z", "alert.signature": "literal"}'),
        ("out_of_range", '{"@timestamp": "1980-01-01T00:00:00Z"}'),
        ("two_time_keys", '{"@timestamp": "2026-11-02T09:00:00Z", "timestamp": "2026-11-02T09:00:01Z"}'),
    ],
)
def test_what_spark_may_read_differently_goes_to_the_python_path(spark, raw, target, case, line):
    path = _write(raw / "jvm" / f"{case}.jsonl", [*_lines(*MIXED[:2]), line])
    same_as_python(spark, target, f"jvm_{case}", [[str(path)]], jvm_taken=False)


def test_time_field_and_a_table_with_older_columns(spark, raw, target):
    one = _write(raw / "jvm" / "t1.jsonl", _lines({"seen": "2026-11-05T01:00:00Z", "n": 1, "s": "a"}))
    two = _write(raw / "jvm" / "t2.jsonl", _lines({"seen": "2026-11-05T02:00:00Z", "n": 2, "s": "b", "m": 1.5}))
    same_as_python(spark, target, "jvm_seen", [[str(one)], [str(two)]], time_field="seen")


# --- Windows events in flat forwarder JSON (NXLog, Logstash, winlogbeat flattened) ---------------------------------

W = "2026-11-04T10:{:02d}:{:02d}.{:03d}Z"
LOGON = {"@timestamp": W.format(0, 0, 0), "EventTime": "2026-11-04 11:00:00", "Hostname": "DC-01.corp.example",
         "EventID": 4624, "Channel": "Security", "SourceName": "Microsoft-Windows-Security-Auditing",
         "RecordNumber": 1001, "TargetUserName": "svc_backup", "IpAddress": "203.0.113.50", "LogonType": "3",
         "Keywords": -9214364837600034816, "Version": 2, "@version": "1", "ProcessGuid": "{8a1b-00}",
         "port": 60737, "Opcode": "Info", "flag": True, "host": {"name": "dc-01", "ip": "10.0.0.5"}}  # fmt: skip
WINDOWS = [
    LOGON,
    {**LOGON, "RecordNumber": 1002},  # differs only in its record number: another event
    LOGON,  # an exact copy
    {**LOGON, "Message": "A copy with a message"},  # the same key (channel, computer, record number, time): a copy
    {**LOGON, "RecordNumber": "1004", "EventID": "1", "Channel": "Microsoft-Windows-Sysmon/Operational",
     "Image": "C:\\Windows\\System32\\cmd.exe", "image": "a twin key", "ParentImage": "C:\\Windows\\explorer.exe",
     "date": "a field named like a column", "Computer": "WS-7", "Message": "", "ratio": 0.25},
    {"TimeCreated": W.format(1, 2, 3), "EventId": 4688, "MachineName": "WS-8", "LogName": "Security",
     "ProviderName": "Microsoft-Windows-Security-Auditing", "NewProcessName": "C:\\x.exe", "Version": "2.0"},
    {"@timestamp": W.format(2, 0, 0), "EventID": 4625, "Hostname": "DC-01.corp.example", "TargetUserName": None},
    {"@timestamp": W.format(2, 0, 1), "EventID": 4625, "Hostname": "DC-01", "Channel": "", "RecordNumber": 9},
]  # fmt: skip
WINDOWS_BAD = [
    '{"@timestamp": "2026-11-04T10:05:00Z", "Hostname": "x", "Channel": "Security"}',  # no EventID
    '{"EventID": 4624, "Hostname": "x"}',  # no time
    '{"@timestamp": "2026-11-04T10:05:01Z", "EventID": "four", "Channel": "Security"}',  # not a number
    '{"@timestamp": "2026-11-04T10:05:02Z", "EventID": 1, "RecordNumber": "n/a"}',
    '{"@timestamp": "2026-11-04T10:05:03Z", "EventID": 1, "cut": "off',
]  # fmt: skip


def test_windows_forwarder_json_as_the_python_path_reads_it(spark, raw, target):
    first = _write(raw / "jvm" / "win1.json", _lines(*WINDOWS, *WINDOWS_BAD), newline="\r\n")
    second = _write(raw / "jvm" / "win2.json", _lines(*WINDOWS[4:], {**LOGON, "RecordNumber": 1005}))
    got = same_as_python(spark, target, "jvm_win", [[str(first)], [str(first), str(second)]], fmt="winevent")
    assert got.unaccounted() == 0
    assert (got.written, got.already_present, got.duplicates, got.quarantined) == (1, 6, 6, 5), _summary(got)


def test_windows_time_field(spark, raw, target):
    path = _write(
        raw / "jvm" / "win_seen.json", _lines({**LOGON, "seen": "2026-11-05T01:00:00Z"}, {**LOGON, "seen": 1793606400})
    )
    same_as_python(spark, target, "jvm_win_seen", [[str(path)]], time_field="seen", fmt="winevent")


def test_logstash_tags_plain_arrays_and_number_like_text_stay_in_the_jvm(spark, raw, target):
    """Logstash adds `tags: [...]` to every event it ships (59 of OTRF Security-Datasets' 112 host recordings):
    arrays of plain text or of integers are written as json.dumps writes them, without sending the input to Python;
    so is text that looks like a number Java would not write (a Sysmon registry value "0.000000")."""
    events = [{**e, "tags": ["mordorDataset"]} for e in WINDOWS[:5]]
    events += [{**LOGON, "RecordNumber": 2001, "tags": ["beats_input", "win 10, x64"], "Ports": [445, -1]},
               {**LOGON, "RecordNumber": 2002, "tags": [], "Ports": "none"},
               # text that Java never writes for a number: it was text in the event (Sysmon 13's registry value)
               {**LOGON, "RecordNumber": 2003, "Details": "0.000000", "Scale": "1.50", "Exp": "1e5"},
               # an object's JSON in a string (Sysmon 13: a registry value), and an object token under another name
               {**LOGON, "RecordNumber": 2004, "Details": '{"id":"ms-browser-extension://x","n":[1,2]}',
                "host": {"Details": "nested, not the key above"}}]  # fmt: skip
    path = _write(raw / "jvm" / "win_tags.json", _lines(*events))
    same_as_python(spark, target, "jvm_win_tags", [[str(path)]], fmt="winevent")
    mixed = _write(raw / "jvm" / "tags.jsonl", _lines(MIXED[0], {**MIXED[1], "ratio": "text", "tags": "one"}))
    same_as_python(spark, target, "jvm_tags", [[str(mixed)]])  # `tags` text in one event, an array in the other


@pytest.mark.parametrize(
    "case, line",
    [
        ("nested", '{"Event": {"System": {"EventID": 1}}, "@timestamp": "2026-11-04T10:00:00Z"}'),
        ("winlogbeat", '{"@timestamp": "2026-11-04T10:00:00Z", "winlog": {"event_id": 1, "channel": "Security"}}'),
        ("event_data", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "EventData": {"User": "a"}}'),
        ("properties", '{"TimeCreated": "2026-11-04T10:00:00Z", "Id": 1, "Properties": [{"Value": "a"}]}'),
        ("float_id", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 4624.0}'),
        ("exponent", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Size": 1e21}'),
        # text here, an object token in the events before it: their `host` is its JSON text, spaced otherwise
        ("object_or_text", json.dumps({"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "host": "text"})),
        ("array_text", json.dumps({"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Note": '["a","b"]'})),
        ("unicode_escape", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "tags": ["a"], "x": "\\u0041"}'),
        ("small", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Size": 0.0001}'),  # Java: 1.0E-4
        ("long_decimal", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Size": 0.12345678901234567}'),
        ("list", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Tags": ["a, \\"b\\"", "c"]}'),
        ("mixed_list", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Tags": ["a", 1]}'),
        ("nested_list", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Tags": [["a"], {"b": 1}]}'),
        ("non_ascii_key", '{"@timestamp": "2026-11-04T10:00:00Z", "EventID": 1, "Channel": "S", "Hostname": "Zürich", '
         '"RecordNumber": 1}'),
        ("xml_line", "<Event><System><EventID>1</EventID><TimeCreated SystemTime='2026-11-04T10:00:00Z'/></System>"
         "</Event>"),
    ],
)  # fmt: skip
def test_windows_events_python_may_read_differently_go_to_the_python_path(spark, raw, target, case, line):
    path = _write(raw / "jvm" / f"win_{case}.json", [*_lines(*WINDOWS[:2]), line])
    same_as_python(spark, target, f"jvm_win_{case}", [[str(path)]], jvm_taken=False, fmt="winevent")

"""Parsing raw security records: Zeek headers and types, Windows event JSON, CSV, JSON lines, timestamps."""

from datetime import UTC, datetime

import pytest

from hunthub.ingest import parse, readers
from hunthub.ingest.readers import FormatError, RecordError
from hunthub.ingest.records import columns_of

ZEEK_CONN = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
    "#open\t2026-11-02-00-00-00",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tlocal_orig\ttunnel_parents",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tbool\tset[string]",
]


def test_zeek_header_gives_fields_types_and_separators():
    h = readers.zeek_header(ZEEK_CONN + ["1793577600.5\tC1\t..."], "conn.log")
    assert h.separator == "\t" and h.set_separator == ","
    assert h.unset == "-" and h.empty == "(empty)" and h.path == "conn"
    assert h.fields[:3] == ("ts", "uid", "id.orig_h")
    assert h.types[-1] == "set[string]"


def test_zeek_without_fields_line_is_a_format_error_naming_the_file():
    with pytest.raises(FormatError, match=r"dns\.log: not a Zeek TSV log \(no #fields"):
        readers.zeek_header(["1793577600.5\tC1\tx"], "dns.log")


@pytest.mark.parametrize(
    ("zeek", "spark"),
    [
        ("time", "timestamp"),
        ("interval", "double"),
        ("count", "bigint"),
        ("port", "bigint"),
        ("int", "bigint"),
        ("double", "double"),
        ("bool", "boolean"),
        ("addr", "string"),
        ("subnet", "string"),
        ("enum", "string"),
        ("string", "string"),
        ("set[string]", "array<string>"),
        ("vector[count]", "array<bigint>"),
        ("vector[interval]", "array<double>"),
    ],
)
def test_zeek_types_map_to_spark_types(zeek, spark):
    assert readers.zeek_type(zeek) == spark


def test_zeek_record_converts_values_unset_and_empty_fields():
    h = readers.zeek_header(ZEEK_CONN, "conn.log")
    line = "1793577600.25\tC1\t10.0.0.5\t51234\t8.8.8.8\t53\tudp\t-\t40\tT\t(empty)"
    record = readers.zeek_record(h, line)
    assert record["event_time"] == datetime(2026, 11, 2, 0, 0, 0, 250000, tzinfo=UTC)
    assert "ts" not in record  # parsed into event_time; Zeek tables keep it in column ts (write.choose_time_column)
    assert record["orig_h"] == "10.0.0.5" and record["orig_p"] == 51234  # Zeek's id. prefix dropped
    assert record["duration"] is None  # '-' is unset
    assert record["orig_bytes"] == 40 and record["local_orig"] is True
    assert record["tunnel_parents"] == []  # '(empty)' set
    set_line = line.replace("(empty)", "A,B\\x09C")
    assert readers.zeek_record(h, set_line)["tunnel_parents"] == ["A", "B\tC"]  # escapes decoded


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("garbage", "expected 11 Zeek fields, got 1"),
        ("1793577600.25\tC1\t10.0.0.5\tnotaport\t8.8.8.8\t53\tudp\t-\t40\tT\t-", "field id.orig_p: 'notaport'"),
        ("-\tC1\t10.0.0.5\t1\t8.8.8.8\t53\tudp\t-\t40\tT\t-", "no timestamp"),
    ],
)
def test_bad_zeek_records_say_why(line, reason):
    h = readers.zeek_header(ZEEK_CONN, "conn.log")
    with pytest.raises(RecordError, match=reason):
        readers.zeek_record(h, line)


def test_windows_event_from_get_winevent_convertto_json_is_flattened():
    doc = {
        "Id": 4624,
        "TimeCreated": "/Date(1793606400000)/",
        "MachineName": "DC-01.corp",
        "LogName": "Security",
        "ProviderName": "Microsoft-Windows-Security-Auditing",
        "RecordId": 1001,
        "EventData": {"TargetUserName": "alice", "LogonType": "3", "IpAddress": "10.0.0.5"},
    }
    record = columns_of(readers.winevent_record(doc))
    assert record == {
        "event_time": datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
        "event_id": 4624,
        "computer": "DC-01.corp",
        "channel": "Security",
        "provider": "Microsoft-Windows-Security-Auditing",
        "record_id": 1001,
        "message": None,
        "target_user_name": "alice",
        "logon_type": "3",
        "ip_address": "10.0.0.5",
    }


def test_windows_event_xml_as_json_and_winlogbeat_shapes():
    xml_json = {
        "Event": {
            "System": {
                "EventID": {"#text": "4625"},
                "TimeCreated": {"SystemTime": "2026-11-02T09:00:00.1234567Z"},
                "Computer": "DC-01",
                "EventRecordID": "77",
                "Provider": {"@Name": "Microsoft-Windows-Security-Auditing"},
            },
            "EventData": {"Data": [{"Name": "TargetUserName", "#text": "bob"}, {"Name": "LogonType", "#text": "10"}]},
        }
    }
    r = columns_of(readers.winevent_record(xml_json))
    assert r["event_id"] == 4625 and r["record_id"] == 77 and r["computer"] == "DC-01"
    assert r["event_time"] == datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC)
    assert r["provider"] == "Microsoft-Windows-Security-Auditing"
    assert r["target_user_name"] == "bob" and r["logon_type"] == "10"

    beat = {
        "@timestamp": "2026-11-02T10:00:00Z",
        "winlog": {"event_id": 4672, "computer_name": "WS-0001", "event_data": {"SubjectUserName": "svc_sql"}},
    }
    r = columns_of(readers.winevent_record(beat))
    assert r["event_id"] == 4672 and r["computer"] == "WS-0001" and r["subject_user_name"] == "svc_sql"


def test_windows_event_without_event_id_is_bad():
    with pytest.raises(RecordError, match="no EventID"):
        readers.winevent_record({"TimeCreated": "2026-11-02T09:00:00Z"})


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("TargetUserName", "target_user_name"),
        ("IpAddress", "ip_address"),
        ("IPAddress", "ip_address"),
        ("EventID", "event_id"),
        ("id.orig_h", "id_orig_h"),
        ("@timestamp", "timestamp"),
        ("Src IP", "src_ip"),
        ("4624", "f_4624"),
    ],
)
def test_column_names_are_snake_case(name, column):
    assert readers.column_name(name) == column


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1793577600, datetime(2026, 11, 2, tzinfo=UTC)),
        (1793577600123, datetime(2026, 11, 2, 0, 0, 0, 123000, tzinfo=UTC)),
        ("1793577600.5", datetime(2026, 11, 2, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-02T01:00:00+01:00", datetime(2026, 11, 2, tzinfo=UTC)),
        ("2026-11-02 00:00:00", datetime(2026, 11, 2, tzinfo=UTC)),  # no zone: UTC
        ("/Date(1793577600000)/", datetime(2026, 11, 2, tzinfo=UTC)),
        ("11/02/2026 1:30:00 PM", datetime(2026, 11, 2, 13, 30, tzinfo=UTC)),
    ],
)
def test_time_formats(value, expected):
    assert readers.parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", None, "1800-01-01T00:00:00", True])
def test_unusable_times_are_record_errors(value):
    with pytest.raises(RecordError):
        readers.parse_time(value)


def test_csv_header_and_typed_values():
    h = readers.csv_header(["", "\ufefftimestamp,User,dst_port,ratio,ok,zip"], "a.csv")
    assert h.columns == ("timestamp", "user", "dst_port", "ratio", "ok", "zip") and h.line == 2
    r = readers.csv_record(h, "2026-11-02T00:00:00Z,alice,443,0.5,true,007")
    assert r == {
        "event_time": datetime(2026, 11, 2, tzinfo=UTC),
        "user": "alice",
        "dst_port": 443,
        "ratio": 0.5,
        "ok": True,
        "zip": "007",
    }
    with pytest.raises(RecordError, match="expected 6 fields, got 2"):
        readers.csv_record(h, "2026-11-02T00:00:00Z,alice")


def test_csv_without_a_time_column_is_a_format_error():
    with pytest.raises(FormatError, match="x.csv: no timestamp column.*--time-field"):
        readers.csv_header(["user,host"], "x.csv")
    assert readers.csv_header(["user,seen"], "x.csv", time_field="seen").columns == ("user", "seen")


def test_jsonl_nested_objects_become_columns_and_reserved_names_are_kept():
    r = columns_of(
        readers.jsonl_record('{"ts": 1793577600, "alert": {"signature": "ET X", "severity": 2}, "date": "monday"}')
    )
    assert r["alert_signature"] == "ET X" and r["alert_severity"] == 2
    assert r["src_date"] == "monday"  # `date` is the partition column
    with pytest.raises(RecordError, match="not JSON"):
        readers.jsonl_record("{not json")


def test_parse_text_yields_one_entry_per_record_and_fatal_for_unreadable_files():
    text = "\n".join(ZEEK_CONN + ["1793577600.25\tC1\t10.0.0.5\t1\t8.8.8.8\t53\tudp\t-\t40\tT\t-", "junk", "#close\tx"])
    entries = list(parse.parse_text("zeek", "/l/conn.log", text))
    assert [(e[0], e[2]) for e in entries] == [("ok", 9), ("bad", 10)]
    fatal = list(parse.parse_text("zeek", "/l/x.log", "no header\n"))
    assert fatal[0][0] == "fatal" and "x.log" in fatal[0][4]


def test_json_array_files_are_split_into_records():
    text = '[\n {"Id": 4624, "TimeCreated": "2026-11-02T00:00:00Z"},\n {"Id": 1}\n]\n'
    entries = list(parse.parse_text("winevent", "/e.json", text))
    assert [(e[0], e[2]) for e in entries] == [("ok", 1), ("bad", 2)]
    assert list(parse.parse_text("winevent", "/e.json", "[ {broken"))[0][0] == "fatal"


def test_invalid_utf8_lines_are_quarantined_not_dropped():
    entries = list(parse.parse_numbered_lines("jsonl", None, "/x", None, [(b'{"ts": 1}\xff', 0)]))
    assert entries[0][0] == "bad" and "UTF-8" in entries[0][4]

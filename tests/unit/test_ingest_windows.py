"""Windows events in every common shape, and ingest's lossless rules: every field a column, `_raw`, record ids that
cover the whole event or its own key, and column names for colliding keys that are distinct and stay put."""

import json
from collections import Counter
from datetime import UTC, datetime
from functools import reduce

import pytest

from hunthub import catalog
from hunthub.ingest import parse, readers, records, write
from hunthub.ingest.readers import FIELDS, ORIGINS, RecordError
from hunthub.ingest.records import assign_columns, columns_of

# As NXLog/Logstash forward them (Security-Datasets' recordings): EventData fields at the top level.
FLAT = {
    "@timestamp": "2020-08-07T14:32:25.358Z",
    "@version": "1",
    "EventTime": "2020-08-07 10:32:22",
    "Hostname": "WORKSTATION5.theshire.local",
    "EventID": 1,
    "Channel": "Microsoft-Windows-Sysmon/Operational",
    "SourceName": "Microsoft-Windows-Sysmon",
    "ProviderGuid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
    "RecordNumber": 757026,
    "Version": 5,
    "ThreadID": 4208,
    "port": 60122,
    "tags": ["mordorDataset"],
    "Image": "C:\\Windows\\System32\\cmd.exe",
    "image": "lowercase twin",
    "CommandLine": "cmd.exe /c whoami",
    "ParentImage": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "ProcessId": "4052",
    "User": "THESHIRE\\pgustavo",
    "Message": "Process Create:\r\nRuleName: -",
}

SECURITY_4624 = {
    "@timestamp": "2020-10-19T12:28:44.333Z",
    "Hostname": "WORKSTATION5",
    "EventID": 4624,
    "Channel": "Security",
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "RecordNumber": 1001,
    "TargetUserName": "pgustavo",
    "TargetDomainName": "THESHIRE",
    "IpAddress": "172.18.39.5",
    "LogonType": "3",
}

EVTX_JSON = {  # what the Rust `evtx` parser writes for one record (hunthub.ingest.evtx hands it over as is)
    "Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {
                "#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "54849625-5478-4994-A5BA"}
            },
            "EventID": {"#text": 4624, "#attributes": {"Qualifiers": 0}},
            "Version": 2,
            "Level": 0,
            "Task": 12544,
            "Opcode": 0,
            "Keywords": "0x8020000000000000",
            "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:34:01.123456Z"}},
            "EventRecordID": 5037,
            "Correlation": {"#attributes": {"ActivityID": "{B8C0A1F2}"}},
            "Execution": {"#attributes": {"ProcessID": 640, "ThreadID": 700}},
            "Channel": "Security",
            "Computer": "DC1.insecurebank.local",
            "Security": None,
        },
        "EventData": {
            "SubjectUserSid": "S-1-0-0",
            "TargetUserName": "bob",
            "LogonType": 3,
            "IpAddress": "10.0.0.5",
            "IpPort": "49710",
            "Version": "from EventData",
        },
    }
}

# The same event as wevtutil / Get-WinEvent ... .ToXml() write it
EVENT_XML = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Microsoft-Windows-Security-Auditing' Guid='54849625-5478-4994-A5BA'/>"
    "<EventID Qualifiers='0'>4624</EventID><Version>2</Version><Level>0</Level><Task>12544</Task>"
    "<Opcode>0</Opcode><Keywords>0x8020000000000000</Keywords>"
    "<TimeCreated SystemTime='2019-03-19T23:34:01.123456Z'/><EventRecordID>5037</EventRecordID>"
    "<Correlation ActivityID='{B8C0A1F2}'/><Execution ProcessID='640' ThreadID='700'/><Channel>Security</Channel>"
    "<Computer>DC1.insecurebank.local</Computer><Security/></System><EventData>"
    "<Data Name='SubjectUserSid'>S-1-0-0</Data><Data Name='TargetUserName'>bob</Data>"
    "<Data Name='LogonType'>3</Data><Data Name='IpAddress'>10.0.0.5</Data><Data Name='IpPort'>49710</Data>"
    "<Data Name='Version'>from EventData</Data></EventData></Event>"
)

WINLOGBEAT = {
    "@timestamp": "2026-11-02T10:00:00.000Z",
    "message": "An account was successfully logged on.",
    "host": {"name": "ws-0001"},
    "event": {"code": "4624", "action": "logged-in", "provider": "Microsoft-Windows-Security-Auditing"},
    "winlog": {
        "event_id": "4624",
        "computer_name": "WS-0001.corp.example",
        "channel": "Security",
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "record_id": 88231,
        "opcode": "Info",
        "process": {"pid": 640, "thread": {"id": 700}},
        "event_data": {"TargetUserName": "alice", "IpAddress": "10.0.0.9", "LogonType": "3"},
    },
}

GET_WINEVENT = {  # Get-WinEvent -LogName Security | ConvertTo-Json (PowerShell 5)
    "Id": 4624,
    "Version": 2,
    "Qualifiers": None,
    "Level": 0,
    "RecordId": 1001,
    "ProviderName": "Microsoft-Windows-Security-Auditing",
    "LogName": "Security",
    "MachineName": "DC-01.corp",
    "UserId": None,
    "TimeCreated": "/Date(1793606400000)/",
    "KeywordsDisplayNames": ["Audit Success"],
    "Properties": [{"Value": "S-1-5-18"}, {"Value": "DC-01$"}, {"Value": "CORP"}],
    "Message": "An account was successfully logged on.",
}


def cols(doc) -> dict:
    return columns_of(readers.winevent_record(doc))


def source_keys(record) -> set:
    """Every source key a record keeps: as a field, or as the key a reader's own column came from."""
    return set(record[FIELDS]) | set(record[ORIGINS].values())


def test_flat_forwarder_json_keeps_every_field_and_finds_computer_provider_and_record_number():
    record = readers.winevent_record(FLAT)
    assert source_keys(record) == set(FLAT)  # nothing left out
    r = columns_of(record)
    assert (r["computer"], r["provider"], r["record_id"], r["event_id"]) == (
        "WORKSTATION5.theshire.local", "Microsoft-Windows-Sysmon", 757026, 1)  # fmt: skip
    assert r["channel"] == "Microsoft-Windows-Sysmon/Operational" and r["message"].startswith("Process Create")
    assert r["event_time"] == datetime(2020, 8, 7, 14, 32, 25, 358000, tzinfo=UTC)  # @timestamp, UTC
    assert (r["command_line"], r["parent_image"], r["user"]) == (FLAT["CommandLine"], FLAT["ParentImage"], FLAT["User"])
    # values are text, as in the event itself, whatever the forwarder typed
    assert (r["thread_id"], r["version"], r["tags"]) == ("4208", "5", '["mordorDataset"]')
    # NXLog's EventTime (the host's local time, no zone) is not the event time while @timestamp is there; its
    # column name is the table's own event_time, so it is kept as src_event_time
    assert r["src_event_time"] == "2020-08-07 10:32:22"


def test_keys_that_collide_in_one_event_get_distinct_columns_not_quarantine():
    r = cols(FLAT)
    # Image/image and Version/@version map to one snake_case name: the plain key keeps it, the other is suffixed
    assert r["image"] == FLAT["Image"] and r["version"] == "5"
    twins = {k: v for k, v in r.items() if k.startswith(("image__", "version__"))}
    assert sorted(twins.values()) == ["1", "lowercase twin"]
    assert len(twins) == 2 and all(len(k.rsplit("__", 1)[1]) == 6 for k in twins)
    # jsonl: the same rule
    j = columns_of(readers.jsonl_record(json.dumps(FLAT)))
    assert j["image"] == FLAT["Image"] and "lowercase twin" in j.values() and j["version"] == 5


def test_winlogbeat_nested_shape():
    record = readers.winevent_record(WINLOGBEAT)
    r = columns_of(record)
    assert (r["event_id"], r["computer"], r["channel"], r["record_id"]) == (4624, "WS-0001.corp.example", "Security",
                                                                           88231)  # fmt: skip
    assert r["provider"] == "Microsoft-Windows-Security-Auditing" and r["message"].startswith("An account")
    assert (r["target_user_name"], r["ip_address"], r["logon_type"]) == ("alice", "10.0.0.9", "3")
    assert (r["host_name"], r["event_code"], r["winlog_opcode"], r["winlog_process_pid"]) == (
        "ws-0001", "4624", "Info", "640")  # fmt: skip
    assert record[ORIGINS]["computer"] == "winlog.computer_name"


def test_get_winevent_convertto_json_with_positional_properties():
    r = cols(GET_WINEVENT)
    assert (r["event_id"], r["computer"], r["channel"], r["provider"], r["record_id"]) == (
        4624, "DC-01.corp", "Security", "Microsoft-Windows-Security-Auditing", 1001)  # fmt: skip
    assert r["event_time"] == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    # $_.Properties[1] in PowerShell is properties_1 here
    assert (r["properties_0"], r["properties_1"], r["properties_2"]) == ("S-1-5-18", "DC-01$", "CORP")
    assert r["keywords_display_names"] == '["Audit Success"]' and r["qualifiers"] is None


def test_evtx_json_and_event_xml_are_the_same_event():
    from_json = readers.winevent_record(EVTX_JSON)
    from_xml = readers.winevent_record(readers.xml_event_doc(EVENT_XML))
    a, b = columns_of(from_json), columns_of(from_xml)
    assert (a["event_id"], a["computer"], a["channel"], a["provider"], a["record_id"]) == (
        4624, "DC1.insecurebank.local", "Security", "Microsoft-Windows-Security-Auditing", 5037)  # fmt: skip
    assert a["event_time"] == datetime(2019, 3, 19, 23, 34, 1, 123456, tzinfo=UTC)
    assert (a["target_user_name"], a["ip_address"], a["logon_type"]) == ("bob", "10.0.0.5", "3")
    # System attributes under the names flat forwarders use, so each is one column across shapes
    assert (a["provider_guid"], a["execution_process_id"], a["thread_id"], a["activity_id"]) == (
        "54849625-5478-4994-A5BA", "640", "700", "{B8C0A1F2}")  # fmt: skip
    # EventData's Version beside System's Version: both kept, EventData's under its path
    assert (a["version"], a["event_data_version"]) == ("2", "from EventData")
    assert a == b
    assert records.event_id(from_json, json.dumps(EVTX_JSON)) == records.event_id(from_xml, EVENT_XML)


def test_userdata_and_unnamed_eventdata():
    cleared = {"Event": {"System": {"EventID": 1102, "Channel": "Security", "Computer": "DC1", "EventRecordID": 7,
                                    "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:34:01Z"}},
                                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog"}}},
                         "UserData": {"LogFileCleared": {
                             "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
                             "SubjectUserSid": "S-1-5-21-1", "SubjectUserName": "admin"}}}}  # fmt: skip
    r = cols(cleared)
    assert (r["event_id"], r["subject_user_name"], r["subject_user_sid"]) == (1102, "admin", "S-1-5-21-1")
    created = {"#attributes": {"SystemTime": "2019-03-19T23:34:01Z"}}
    classic = {"Event": {"System": {"EventID": 400, "Channel": "Windows PowerShell", "Computer": "WS1",
                                    "EventRecordID": 9, "TimeCreated": created},
                         "EventData": {"Data": {"#text": ["Available", "None", "NewEngineState=Available"]},
                                       "Binary": None}}}  # fmt: skip
    r = cols(classic)
    assert (r["data_0"], r["data_1"], r["data_2"]) == ("Available", "None", "NewEngineState=Available")


def test_event_xml_files_wevtutil_style_with_a_wrapper_and_junk_between():
    second = EVENT_XML.replace("5037", "5038").replace(">bob<", ">carol<")
    text = f"<?xml version='1.0' encoding='utf-8'?>\n<Events>{EVENT_XML}{second}\nnot an event\n</Events>\n"
    entries = list(parse.parse_text("winevent", "/logs/security.xml", text))
    assert [(e[0], e[2]) for e in entries] == [("ok", 1), ("ok", 2), ("bad", 3)]
    assert entries[0][3] == EVENT_XML  # the element as written is the entry's raw text
    assert columns_of(entries[1][4])["target_user_name"] == "carol"
    assert entries[2][3] == "not an event" and entries[2][4] == "not an <Event> element"
    # one event per line (or per Kafka message) works too
    assert columns_of(readers.winevent_line(EVENT_XML))["record_id"] == 5037
    assert parse.reads_whole("winevent", ["", "<Events>"]) and not parse.reads_whole("winevent", ['{"EventID": 1}'])


def test_xml_entities_are_refused_not_expanded():
    bomb = (
        '<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<Event><System><EventID>1</EventID></System><EventData><Data Name='x'>&b;</Data></EventData></Event>"
    )
    with pytest.raises(RecordError, match="not event XML"):
        readers.xml_event_doc(bomb)


def test_record_ids_use_the_events_own_key_or_the_whole_raw_event():
    line = json.dumps(SECURITY_4624)
    same = readers.winevent_line(line)
    renumbered = json.dumps({**SECURITY_4624, "RecordNumber": 1002})
    a, b = records.event_id(same, line), records.event_id(readers.winevent_line(renumbered), renumbered)
    assert a != b  # differ only in the record number: two events
    assert a == records.event_id(readers.winevent_line(line), line)  # exact copies: one
    # the same event forwarded with other forwarder metadata is still that event
    forwarded = json.dumps({**SECURITY_4624, "EventReceivedTime": "2020-10-19 08:28:50"})
    assert records.event_id(readers.winevent_line(forwarded), forwarded) == a
    # without a record number, the whole raw event is the identity
    bare = {k: v for k, v in SECURITY_4624.items() if k != "RecordNumber"}
    x, y = json.dumps(bare), json.dumps({**bare, "IpPort": "49710"})
    assert records.event_id(readers.winevent_line(x), x) != records.event_id(readers.winevent_line(y), y)
    assert records.event_id(readers.jsonl_record(x), x) == records.event_id(readers.jsonl_record(x), x)


@pytest.mark.parametrize("doc", [FLAT, SECURITY_4624, WINLOGBEAT, GET_WINEVENT, EVTX_JSON])
def test_raw_round_trip_through_a_row(doc):
    line = json.dumps(doc)
    entry = ("ok", "/l/events.json", 1, line, readers.winevent_line(line))
    survey = write._survey(write.Survey(), entry)
    mapping = write.key_columns(survey, {}, [], "event_time")
    columns, _ = write.table_columns([], write.merged_kinds(survey, mapping), "event_time", raw=True)
    status, rid, _, row = write._typed(entry, columns, "event_time", mapping)
    names = [c for c, _ in columns]
    assert status == "ok" and names[-4:] == ["_record_id", "_source_file", "_source_line", "_raw"]
    assert json.loads(row[names.index("_raw")]) == doc and row[names.index("_record_id")] == rid


def _pipeline(lines: list[str], fmt: str = "winevent", sources=None):
    """parse -> survey -> columns -> typed rows, as write does it on Spark."""
    entries = list(parse.parse_numbered_lines(fmt, None, "/l/x.json", None, ((s, i) for i, s in enumerate(lines))))
    survey = reduce(write._survey, entries, write.Survey())
    mapping = write.key_columns(survey, sources or {}, [], "event_time")
    columns, _ = write.table_columns([], write.merged_kinds(survey, mapping), "event_time", raw=survey.raw)
    typed = [write._typed(e, columns, "event_time", mapping) for e in entries if e[0] == "ok"]
    return entries, survey, mapping, columns, typed


def test_every_key_of_every_event_is_a_column_and_nothing_is_quarantined():
    events = [FLAT, SECURITY_4624, {**SECURITY_4624, "RecordNumber": 1002, "subjectUserName": "x",
                                    "SubjectUserName": "y"}]  # fmt: skip
    entries, survey, mapping, columns, typed = _pipeline([json.dumps(e) for e in events])
    assert {t[0] for t in typed} == {"ok"} and len({t[1] for t in typed}) == 3
    names = {c for c, _ in columns}
    consumed = {"@timestamp", "Hostname", "EventID", "Channel", "SourceName", "RecordNumber", "Message"}
    for event in events:
        assert set(event) - consumed <= set(mapping)
    assert {mapping[k] for k in mapping} <= names
    assert mapping["SubjectUserName"] == "subject_user_name" and mapping["subjectUserName"].startswith(
        "subject_user_name__")  # fmt: skip
    sources = write.updated_sources({}, survey, mapping, columns)
    assert sources["computer"] == ["Hostname"] and sources["event_time"] == ["@timestamp"]
    assert sources[mapping["subjectUserName"]] == ["subjectUserName"]


def test_the_same_key_keeps_its_column_in_later_ingests():
    first = ["ProcessID"] * 1 + ["ProcessId"] * 5  # WFP events say ProcessID, Sysmon ProcessId
    mapping = assign_columns(Counter(first), {}, [], readers.RESERVED)
    assert mapping["ProcessId"] == "process_id" and mapping["ProcessID"].startswith("process_id__")
    sources = {column: [key] for key, column in mapping.items()}
    # a later file where ProcessID is the more frequent one: the table's columns stay as they were
    later = assign_columns(Counter(["ProcessID"] * 9 + ["ProcessId"]), sources, list(sources), readers.RESERVED)
    assert later == mapping
    # and the suffix is a function of the key alone: another table gets the same name for it
    assert records.suffixed("process_id", "ProcessID", set()) == mapping["ProcessID"]


def test_forwarder_metadata_never_takes_a_name_from_an_event_field():
    mapping = assign_columns({"@version": 900, "Version": 3}, {}, [], readers.RESERVED)
    assert mapping["Version"] == "version" and mapping["@version"].startswith("version__")


def test_time_field_names_a_source_key_in_any_shape():
    r = readers.winevent_record(FLAT, time_field="EventTime")  # NXLog's local time, when the analyst says so
    assert r["event_time"] == datetime(2020, 8, 7, 10, 32, 22, tzinfo=UTC) and "@timestamp" in r[FIELDS]
    assert readers.winevent_record(EVTX_JSON, time_field="TimeCreated")["event_time"].year == 2019
    with pytest.raises(RecordError, match="no timestamp"):
        readers.winevent_record(FLAT, time_field="NoSuchField")


def test_reserved_names_are_kept_as_src_and_legacy_columns_are_reused():
    mapping = assign_columns({"date": 1, "event_time": 1, "computer": 1, "user": 1}, {}, ["user"],
                             readers.RESERVED | {"computer"})  # fmt: skip
    assert mapping == {"date": "src_date", "event_time": "src_event_time", "computer": "src_computer", "user": "user"}


def test_stats_count_every_file_and_flag_what_is_unaccounted():
    stats = write.Stats(records=5, written=2, quarantined=1, duplicates=1, already_present=1)
    stats.files = {
        "/a.json": Counter(records=3, written=2, quarantined=1),
        "/b.json": Counter(records=2, duplicates=1, already_present=1),
    }
    text = stats.summary("win")
    assert text.splitlines()[0].startswith("win: read 5, written 2, quarantined 1")
    assert "  /b.json: read 2, written 0, quarantined 0, duplicates skipped 2 (1 already in the table)" in text
    assert "WARNING" not in text
    stats.records = 6
    assert "WARNING: 1 records are not accounted for" in stats.summary("win")


def test_catalog_keeps_column_sources(tmp_path):
    path = tmp_path / "catalog.json"
    table = catalog.Table("win", "win", schema="`event_time` TIMESTAMP", sources={"image": ["Image"]})
    catalog.save(path, {"win": table, "plain": catalog.Table("plain", "plain")})
    assert catalog.load(path) == {"win": table, "plain": catalog.Table("plain", "plain")}
    assert "sources" not in json.loads(path.read_text())["tables"]["plain"]  # older catalogs stay as they were
    path.write_text(json.dumps({"tables": {"t": {"path": "t", "sources": {"image": "Image"}}}}))
    with pytest.raises(catalog.CatalogError, match="sources"):
        catalog.load(path)

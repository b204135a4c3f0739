"""Windows events from public recordings of real attacks, through the real ingest on the real cluster and a real
kernel: every event stored once (exact copies counted), every field a column, `_raw` beside them.

The recordings (OTRF Security-Datasets, see tests/real_logs.py) are Security and Sysmon events in the flat JSON that
NXLog/Logstash forwarders write:
- covenant_sharpwmi_create_dcerpc_wmi: lateral movement with SharpWMI, 2,343 events with RecordNumber. The
  earlier 7-column reader dropped 279 of them as duplicates (they differ from kept ones only in fields it did not
  keep), and `--format jsonl` quarantined all of them (`Version` and `@version` are one snake_case name).
- cmd_dumping_ntds_dit_file_ntdsutil: NTDS.dit dumped with ntdsutil, 11,184 events without a record number,
  421 of them exact copies of another line.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from hunthub import catalog
from hunthub.ingest import batch
from tests.integration.kernel_client import Kernel
from tests.integration.test_ingest_jvm import same_as_python
from tests.real_logs import unzipped

pytestmark = pytest.mark.integration

RECORDINGS = (
    "security-datasets/datasets/atomic/windows/lateral_movement/host/covenant_sharpwmi_create_dcerpc_wmi.zip",
    "security-datasets/datasets/atomic/windows/credential_access/host/cmd_dumping_ntds_dit_file_ntdsutil.zip",
)
SYSMON = "Microsoft-Windows-Sysmon/Operational"
LOCAL = (None, "-", "::1", "127.0.0.1")

LOGON = {"@timestamp": "2026-11-02T08:00:00.000Z", "Hostname": "DC-01.corp.example", "EventID": 4624,
         "Channel": "Security", "SourceName": "Microsoft-Windows-Security-Auditing", "RecordNumber": 1001,
         "TargetUserName": "svc_backup", "IpAddress": "203.0.113.50", "LogonType": "3"}  # fmt: skip
SYNTHETIC = [
    LOGON,
    {**LOGON, "RecordNumber": 1002},  # differs only in its record number: another event
    LOGON,  # an exact copy: skipped, and counted
    {**LOGON, "RecordNumber": 1003, "EventID": 1, "Channel": SYSMON, "Image": "C:\\Windows\\System32\\cmd.exe",
     "image": "a twin key", "ParentImage": "C:\\Windows\\explorer.exe", "date": "a field named like a column"},
]  # fmt: skip
EVENT_XML = (
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    "<Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4624</EventID>"
    "<TimeCreated SystemTime='2026-11-02T09:00:00.1234567Z'/><EventRecordID>{n}</EventRecordID>"
    "<Channel>Security</Channel><Computer>DC-02.corp.example</Computer></System><EventData>"
    "<Data Name='TargetUserName'>xml_user</Data><Data Name='IpAddress'>198.51.100.{n}</Data></EventData></Event>"
)


def _lines(path: Path) -> list[str]:
    return [line.rstrip("\r") for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


@pytest.fixture(scope="module")
def files(raw) -> list[Path]:
    """The recordings and the synthetic files where the executors' account can read them."""
    d = raw
    found = []
    for recording in RECORDINGS:
        found += unzipped(recording, d)
    synthetic = d / "synthetic.json"
    synthetic.write_text("".join(json.dumps(e) + "\n" for e in SYNTHETIC))
    xml = d / "security.xml"  # as wevtutil qe /f:xml writes it: no line breaks between events
    xml.write_text(EVENT_XML.replace("{n}", "7") + EVENT_XML.replace("{n}", "8"))
    for f in [*found, synthetic, xml]:
        f.chmod(0o644)
    return [*found, synthetic, xml]


def _rows(spark_cluster, table: str) -> list[dict]:
    path = catalog.local_path(spark_cluster.settings.warehouse) / table
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def ingested(spark, target, files):
    first = batch.ingest_files(spark, [str(f) for f in files], "winevent", target("win_attacks"))
    again = batch.ingest_files(spark, [str(f) for f in files], "winevent", target("win_attacks"))
    return first, again


def test_every_file_adds_up_and_only_exact_copies_are_skipped(ingested, files):
    first, again = ingested
    print(first.summary("win_attacks"))
    for f in files[:2]:  # the recordings
        lines = _lines(f)
        c = first.files[str(f)]
        assert c["records"] == len(lines), f
        assert c["records"] == c["written"] + c["quarantined"] + c["duplicates"] + c["already_present"], f
        assert (c["quarantined"], c["duplicates"]) == (0, len(lines) - len(set(lines))), f
    synthetic = first.files[str(files[2])]
    assert (synthetic["records"], synthetic["written"], synthetic["duplicates"]) == (4, 3, 1)
    assert first.files[str(files[3])]["written"] == 2
    assert first.unaccounted() == 0 and first.quarantined == 0
    assert first.written == sum(len(set(_lines(f))) for f in files[:3]) + 2
    # the same files again: nothing new, everything counted as already there
    assert (again.written, again.already_present, again.duplicates) == (0, first.written, first.duplicates)
    for c in again.files.values():
        assert c["records"] == c["already_present"] + c["duplicates"] and c["written"] == 0


def test_every_key_of_the_source_is_a_column_and_raw_is_the_line(ingested, files, spark_cluster):
    rows = _rows(spark_cluster, "win_attacks")
    entry = catalog.load(spark_cluster.settings.catalog_path)["win_attacks"]
    kept_keys = {key for keys in entry.sources.values() for key in keys}
    columns = set(rows[0])
    assert set(entry.sources) <= columns
    json_rows = [r for r in rows if not r["_raw"].startswith("<")]
    assert {r["_raw"] for r in json_rows} == {line for f in files[:3] for line in _lines(f)}  # each line once
    for f in files[:3]:
        docs = [json.loads(line) for line in set(_lines(f))]
        with_value = {k for d in docs for k, v in d.items() if v is not None}
        assert with_value <= kept_keys, sorted(with_value - kept_keys)[:10]
        # a key that is null in every event has no column yet: it is in _raw (the line itself, checked above)
    by_key = {key: column for column, keys in entry.sources.items() for key in keys}
    for name in ("CommandLine", "TargetUserName", "IpAddress", "Image", "ParentImage", "ProcessGuid"):
        assert name in by_key, name
    assert (by_key["Hostname"], by_key["SourceName"], by_key["RecordNumber"]) == ("computer", "provider", "record_id")
    assert by_key["Image"] == "image" and by_key["image"].startswith("image__")  # a collision, no quarantine
    assert by_key["date"] == "src_date"
    assert len(columns) > 150  # the old reader kept 7
    # the computer, provider and record number of every recorded event are found
    recorded = [r for r in json_rows if r["_source_file"] == str(files[0])]
    assert all(r["computer"] and r["provider"] and r["record_id"] for r in recorded)


def test_two_events_that_differ_only_in_their_record_number_are_both_stored(ingested, spark_cluster):
    rows = _rows(spark_cluster, "win_attacks")
    synthetic = {r["record_id"]: r for r in rows if r["computer"] == "DC-01.corp.example"}
    assert sorted(synthetic) == [1001, 1002, 1003]
    assert synthetic[1001]["target_user_name"] == synthetic[1002]["target_user_name"] == "svc_backup"
    twin = next(c for c in synthetic[1003] if c.startswith("image__"))
    assert (synthetic[1003]["image"], synthetic[1003][twin]) == ("C:\\Windows\\System32\\cmd.exe", "a twin key")
    xml = sorted((r["record_id"], r["ip_address"]) for r in rows if r["computer"] == "DC-02.corp.example")
    assert xml == [(7, "198.51.100.7"), (8, "198.51.100.8")]


def test_spark_reader_gives_the_python_path_tables_on_the_recordings(spark, target, files):
    """Spark's JSON reader (taken for inputs of a GiB and more) on the real recordings: the same rows, catalog,
    and counts as the Python path, without falling back to it (Logstash's `tags` is on every event)."""
    got = same_as_python(spark, target, "win_attacks_by_spark", [[str(f) for f in files[:2]]], fmt="winevent")
    assert got.quarantined == 0 and got.written == sum(len(set(_lines(f))) for f in files[:2])


def test_jsonl_keeps_the_colliding_keys_instead_of_quarantining(spark, target, files, spark_cluster):
    stats = batch.ingest_files(spark, [str(f) for f in files[:2]], "jsonl", target("json_attacks"))
    assert stats.quarantined == 0 and stats.unaccounted() == 0
    assert stats.written == sum(len(set(_lines(f))) for f in files[:2])
    sources = catalog.load(spark_cluster.settings.catalog_path)["json_attacks"].sources
    assert sources["version"] == ["Version"] and any(ks == ["@version"] for c, ks in sources.items() if "__" in c)


def test_hunting_questions_in_a_kernel(ingested, files, spark_cluster):
    """Network logons by account and source address, and process creations by parent: the answer key is the
    recordings read with plain json."""
    docs = [json.loads(line) for f in files[:2] for line in set(_lines(f))]
    logons = Counter(
        (d["TargetUserName"], d["IpAddress"]) for d in docs if d["EventID"] == 4624 and d.get("IpAddress") not in LOCAL
    )
    parents = Counter(d["ParentImage"] for d in docs if d["EventID"] == 1 and d.get("Channel") == SYSMON)
    assert logons and parents
    recorded = ", ".join(f"'{f}'" for f in files[:2])
    logons_sql = (
        "select target_user_name, ip_address, count(*) n from win_attacks where event_id = 4624 "
        f"and ip_address not in ('-', '::1', '127.0.0.1') and _source_file in ({recorded}) group by 1, 2"
    )
    parents_sql = (
        "select parent_image, count(*) n from win_attacks "
        f"where event_id = 1 and channel = '{SYSMON}' and _source_file in ({recorded}) group by 1"
    )
    kernel = Kernel(spark_cluster.kernel_env(user="analyst1", HUNTHUB_KERNEL_WARM_DRIVER="0"), name="hunthub-pyspark")
    try:
        result = kernel.run(
            "import json\n"
            f"logons = [list(r) for r in spark.sql({logons_sql!r}).collect()]\n"
            f"parents = [list(r) for r in spark.sql({parents_sql!r}).collect()]\n"
            "print(json.dumps([logons, parents]))"
        )
        assert result.status == "ok", result.error
        got_logons, got_parents = json.loads(result.text.strip().splitlines()[-1])
    finally:
        kernel.shutdown()
    assert {(u, ip): n for u, ip, n in got_logons} == dict(logons)
    assert {p: n for p, n in got_parents} == dict(parents)

"""`hunthub ingest` against the real standalone cluster: raw files in, partitioned Parquet out, nothing lost.

The ingest session is the one the CLI builds (analysts' cluster and properties, app "hunthub-ingest"); as root
its executors run as hunthub-spark, so the raw files live in a directory that account can read.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hunthub import catalog
from hunthub.ingest import IngestError, batch, stream
from tests.harness import HUNTHUB, fresh_state_dir
from tests.integration.kernel_client import Kernel

pytestmark = pytest.mark.integration

ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2026-11-02-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tset[string]\n"
)
ZEEK_ROWS = [
    "1793577600.123456\tC1\t10.10.0.5\t51234\t10.20.0.53\t53\tudp\tdns\t0.010\t40\t(empty)",
    "1793581200.5\tC2\t10.10.0.6\t51235\t203.0.113.9\t443\ttcp\tssl\t12.5\t5120\t-",
    "1793584800.0\tC3\t10.10.0.6\t51236\t203.0.113.9\t443\ttcp\t-\t-\t-\tA,B",
    "1793664000.25\tC4\t10.10.0.7\t40000\t198.51.100.7\t22\ttcp\tssh\t300.0\t99999\t(empty)",  # 2026-11-03
    "1793667600.75\tC5\t10.10.0.8\t40001\t198.51.100.7\t22\ttcp\tssh\t1.0\t10\t(empty)",
    "1793671200.0\tC6\t10.10.0.9\t40002\t10.20.0.53\t53\tudp\tdns\t0.002\t38\t(empty)",
]
ZEEK_BAD = [
    "this line was cut off",  # line 15: wrong number of fields
    "1793671300.0\tC7\t10.10.0.9\tHTTP\t10.20.0.53\t53\tudp\tdns\t0.002\t38\t(empty)",  # line 16: port is not a port
]


def _jsonl(*events) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


PROC_DAY1 = [
    {"@timestamp": "2026-11-02T08:00:00Z", "host": "WS-0001", "user": "alice", "process": "powershell.exe", "pid": 4},
    {"@timestamp": "2026-11-02T08:05:00Z", "host": "WS-0001", "user": "alice", "process": "cmd.exe", "pid": 5},
    {"@timestamp": "2026-11-02T09:00:00Z", "host": "WS-0002", "user": "bob", "process": "excel.exe", "pid": 6},
]
PROC_DAY2 = [  # a new field, and one event the first export already had
    PROC_DAY1[2],
    {
        "@timestamp": "2026-11-04T10:00:00Z",
        "host": "WS-0002",
        "user": "bob",
        "process": "rundll32.exe",
        "pid": 7,
        "parent_process": "excel.exe",
    },  # fmt: skip
    {
        "@timestamp": "2026-11-04T10:01:00Z",
        "host": "WS-0002",
        "user": "bob",
        "process": "whoami.exe",
        "pid": 8,
        "parent_process": "rundll32.exe",
    },  # fmt: skip
]

AUTH_CSV = """timestamp,user,src_ip,logon_type,success
2026-11-02T08:00:01Z,alice,10.10.0.5,3,true
2026-11-02T08:00:02Z,bob,10.10.0.6,10,false
last tuesday,carol,10.10.0.7,3,true
2026-11-03 09:15:00,dave,10.10.0.8,2,true
2026-11-03T09:16:00Z,eve,10.10.0.9
"""

WINEVENTS = [  # as `Get-WinEvent ... | ConvertTo-Json` writes them (PowerShell 5 dates), and one XML-shaped event
    {"Id": 4624, "TimeCreated": "/Date(1793606400000)/", "MachineName": "DC-01.corp.example", "LogName": "Security",
     "ProviderName": "Microsoft-Windows-Security-Auditing", "RecordId": 1001,
     "EventData": {"TargetUserName": "alice", "LogonType": "3", "IpAddress": "10.10.0.5"}},
    {"Event": {"System": {"EventID": {"#text": "4625"}, "TimeCreated": {"SystemTime": "2026-11-02T09:00:00.1234567Z"},
                          "Computer": "DC-01.corp.example", "Channel": "Security", "EventRecordID": "1002"},
               "EventData": {"Data": [{"Name": "TargetUserName", "#text": "admin"},
                                      {"Name": "LogonType", "#text": "10"},
                                      {"Name": "IpAddress", "#text": "203.0.113.9"}]}}},
    {"TimeCreated": "2026-11-02T09:30:00Z", "Message": "no event id"},
]  # fmt: skip


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path


def rows(spark_cluster, location: str) -> list[dict]:
    """The table as pyarrow reads it: an answer key independent of Spark."""
    path = catalog.local_path(spark_cluster.settings.warehouse) / location
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


@pytest.fixture(scope="module")
def zeek_runs(spark, raw, target):
    log = _write(raw / "zeek" / "conn.00:00:00-01:00:00.log", ZEEK_HEADER + "\n".join(ZEEK_ROWS + ZEEK_BAD) + "\n")
    first = batch.ingest_files(spark, [str(log)], "zeek", target("raw_conn"))
    second = batch.ingest_files(spark, [str(log.parent)], "zeek", target("raw_conn"))  # the directory: same file
    return log, first, second


def test_zeek_log_lands_as_date_partitioned_zstd_parquet(zeek_runs, spark_cluster):
    log, first, _ = zeek_runs
    assert (first.records, first.written, first.quarantined) == (8, 6, 2)
    table = catalog.local_path(spark_cluster.settings.warehouse) / "raw_conn"
    assert sorted(p.name for p in table.glob("date=*")) == ["date=2026-11-02", "date=2026-11-03"]
    parquet_file = next(table.glob("date=*/*.parquet"))
    assert pq.ParquetFile(parquet_file).metadata.row_group(0).column(0).compression == "ZSTD"

    got = sorted(rows(spark_cluster, "raw_conn"), key=lambda r: r["uid"])
    assert [r["uid"] for r in got] == ["C1", "C2", "C3", "C4", "C5", "C6"]
    c1, c3 = got[0], got[2]
    assert c1["ts"].isoformat().startswith("2026-11-02T00:00:00.123456")  # Zeek's names, as in the demo tables
    assert (c1["orig_h"], c1["resp_p"], c1["duration"], c1["tunnel_parents"]) == ("10.10.0.5", 53, 0.01, [])
    assert (c3["service"], c3["orig_bytes"], c3["tunnel_parents"]) == (None, None, ["A", "B"])
    assert (c1["_source_file"], c1["_source_line"]) == (str(log), 9)

    entry = catalog.load(spark_cluster.settings.catalog_path)["raw_conn"]
    assert entry.path == "raw_conn" and entry.format == "parquet"
    assert entry.schema.startswith("`ts` TIMESTAMP, `uid` STRING, `orig_h` STRING, `orig_p` BIGINT")
    assert entry.schema.endswith("`date` DATE")


def test_rerun_of_the_same_input_adds_nothing(zeek_runs, spark_cluster):
    _, _, second = zeek_runs
    assert (second.records, second.written, second.already_present) == (8, 0, 6)
    assert (second.quarantined, second.quarantine_written) == (2, 0)
    assert len(rows(spark_cluster, "raw_conn")) == 6
    assert len(rows(spark_cluster, "_quarantine/raw_conn")) == 2


def test_bad_records_are_quarantined_with_line_and_reason(zeek_runs, spark_cluster):
    log, first, _ = zeek_runs
    bad = sorted(rows(spark_cluster, "_quarantine/raw_conn"), key=lambda r: r["line"])
    assert [(r["source_file"], r["line"], r["raw"]) for r in bad] == [
        (str(log), 15, ZEEK_BAD[0]),
        (str(log), 16, ZEEK_BAD[1]),
    ]
    assert bad[0]["reason"] == "expected 11 Zeek fields, got 1"
    assert bad[1]["reason"] == "field id.orig_p: 'HTTP' is not a Zeek port"
    assert sum(first.reasons.values()) == first.quarantined == 2
    assert "raw_conn_quarantine" in catalog.load(spark_cluster.settings.catalog_path)


def test_csv_and_windows_event_json(spark, raw, target, spark_cluster):
    csv_stats = batch.ingest_files(spark, [str(_write(raw / "auth.csv", AUTH_CSV))], "csv", target("raw_auth"))
    assert (csv_stats.written, csv_stats.quarantined) == (3, 2)
    got = {r["user"]: r for r in rows(spark_cluster, "raw_auth")}
    assert sorted(got) == ["alice", "bob", "dave"]
    assert (got["bob"]["logon_type"], got["bob"]["success"]) == (10, False)  # typed from the values
    assert str(got["dave"]["date"]) == "2026-11-03"
    reasons = {r["line"]: r["reason"] for r in rows(spark_cluster, "_quarantine/raw_auth")}
    assert reasons == {4: "timestamp 'last tuesday' is not in a known format", 6: "expected 5 fields, got 3"}

    pretty = json.dumps(WINEVENTS, indent=2)  # one JSON array over many lines, as ConvertTo-Json writes
    ev_stats = batch.ingest_files(spark, [str(_write(raw / "security.json", pretty))], "winevent", target("raw_win"))
    assert (ev_stats.written, ev_stats.quarantined) == (2, 1)
    events = sorted(rows(spark_cluster, "raw_win"), key=lambda r: r["event_id"])
    assert [(e["event_id"], e["target_user_name"], e["logon_type"], e["ip_address"]) for e in events] == [
        (4624, "alice", "3", "10.10.0.5"),
        (4625, "admin", "10", "203.0.113.9"),
    ]
    assert events[0]["computer"] == "DC-01.corp.example" and events[1]["record_id"] == 1002
    assert rows(spark_cluster, "_quarantine/raw_win")[0]["reason"] == "no EventID: not a Windows event"


@pytest.fixture(scope="module")
def proc_runs(spark, raw, target):
    first = batch.ingest_files(spark, [str(_write(raw / "proc" / "1.jsonl", _jsonl(*PROC_DAY1)))], "jsonl",
                               target("raw_proc"))  # fmt: skip
    second = batch.ingest_files(spark, [str(_write(raw / "proc" / "2.jsonl", _jsonl(*PROC_DAY2)))], "jsonl",
                                target("raw_proc"))  # fmt: skip
    return first, second


def test_a_new_field_becomes_a_column_and_older_partitions_still_read(proc_runs, spark, spark_cluster):
    first, second = proc_runs
    assert first.written == 3
    assert (second.written, second.already_present, second.new_columns) == (2, 1, ["parent_process"])
    entry = catalog.load(spark_cluster.settings.catalog_path)["raw_proc"]
    assert "`parent_process` STRING" in entry.schema

    # as kernels read it: with the catalog DDL, every partition, old rows NULL in the new column
    df = spark.read.schema(entry.schema).parquet(entry.location(spark_cluster.settings.warehouse))
    got = {r["process"]: r for r in df.collect()}
    assert len(got) == 5
    assert got["cmd.exe"]["parent_process"] is None and got["whoami.exe"]["parent_process"] == "rundll32.exe"
    old_partition = df.where("date = DATE'2026-11-02'").select("process", "parent_process").collect()
    assert sorted(r.process for r in old_partition) == ["cmd.exe", "excel.exe", "powershell.exe"]


def test_real_zeek_logs_extend_the_demo_zeek_conn_table(zeek_runs, spark, target, spark_cluster):
    log = zeek_runs[0]
    before = catalog.load(spark_cluster.settings.catalog_path)["zeek_conn"]
    stats = batch.ingest_files(spark, [str(log)], "zeek", target("zeek_conn"))
    assert stats.written == 6
    assert stats.new_columns == ["tunnel_parents", "_record_id", "_source_file", "_source_line"]
    after = catalog.load(spark_cluster.settings.catalog_path)["zeek_conn"]
    assert after.description == before.description
    old_definitions = before.schema.rsplit(", date DATE", 1)[0]
    assert after.schema.startswith(old_definitions)  # the demo's columns, types and comments stay as they were

    df = spark.read.schema(after.schema).parquet(after.location(spark_cluster.settings.warehouse))
    c1 = df.where("uid = 'C1'").first()
    assert (c1.orig_p, c1.resp_p, c1.tunnel_parents, c1.conn_state) == (51234, 53, [], None)  # INT, as the demo
    assert df.where("_record_id IS NULL").count() > 0  # demo rows still read, NULL in the new columns


def test_an_unreadable_file_fails_clearly_and_writes_nothing(spark, raw, target, spark_cluster):
    good = _write(raw / "mixed" / "conn.log", ZEEK_HEADER + ZEEK_ROWS[0] + "\n")
    headless = _write(raw / "mixed" / "dns.log", "1793577600.1\tCx\t10.0.0.1\n")
    with pytest.raises(IngestError, match=rf"(?s)nothing was written.*{headless}: not a Zeek TSV log \(no #fields"):
        batch.ingest_files(spark, [str(good), str(headless)], "zeek", target("mixed_conn"))
    assert "mixed_conn" not in catalog.load(spark_cluster.settings.catalog_path)
    assert not (catalog.local_path(spark_cluster.settings.warehouse) / "mixed_conn").exists()


def test_a_kernel_sees_the_ingested_tables(zeek_runs, proc_runs, spark_cluster):
    kernel = Kernel(spark_cluster.kernel_env(user="analyst1", HUNTHUB_KERNEL_WARM_DRIVER="0"), name="hunthub-pyspark")
    try:
        result = kernel.run(
            "print(spark.sql('select count(*) n from raw_conn').first().n, "
            "spark.sql('select count(parent_process) n from raw_proc').first().n, "
            "spark.sql('select count(*) n from raw_conn_quarantine').first().n)"
        )
        assert result.status == "ok", result.error
        assert result.text.strip().splitlines()[-1] == "6 2 2"
    finally:
        kernel.shutdown()


def test_stream_from_a_landing_dir_resumes_from_its_checkpoint(spark, spark_cluster, target):
    landing = spark_cluster.settings.state / "landing"
    landing.mkdir(mode=0o755)
    checkpoint = str(spark_cluster.settings.state / "ingest" / "checkpoints" / "stream_proc-files")

    def run():
        spec = stream.StreamSpec(source="files", fmt="jsonl", target=target("stream_proc"), checkpoint=checkpoint,
                                 landing=str(landing), available_now=True)  # fmt: skip
        return stream.run(spark, spec, say=lambda _: None)

    def drop(name, text):  # written under a hidden name, then moved in: the stream never sees half a file
        _write(landing / f".{name}", text).rename(landing / name)

    drop("a.jsonl", _jsonl(*PROC_DAY1) + "{broken\n")
    first = run()
    assert (first.written, first.quarantined) == (3, 1)

    drop("b.jsonl", _jsonl(*PROC_DAY2))
    drop("a-again.jsonl", _jsonl(*PROC_DAY1))  # the same events under another name
    second = run()  # a new query on the same checkpoint: only the new files
    assert (second.records, second.written, second.already_present, second.duplicates) == (6, 2, 3, 1)
    third = run()
    assert third.records == 0

    got = rows(spark_cluster, "stream_proc")
    assert len(got) == 5 and len({r["_record_id"] for r in got}) == 5
    assert len(rows(spark_cluster, "_quarantine/stream_proc")) == 1
    assert "stream_proc" in catalog.load(spark_cluster.settings.catalog_path)


def test_kafka_without_connector_fails_fast_and_clearly(spark, spark_cluster, target):
    # Config-level only: no Kafka broker or connector jar is available here. The options are those the config
    # gives; the run must stop at the connector check, before Spark tries to reach the (absent) broker.
    options = stream.kafka_options("kafka-1.soc.example:9092,kafka-2.soc.example:9092", "winlogbeat")
    assert options["kafka.bootstrap.servers"] == "kafka-1.soc.example:9092,kafka-2.soc.example:9092"
    assert options["subscribe"] == "winlogbeat"
    spec = stream.StreamSpec(source="kafka", fmt="winevent", target=target("kafka_win"), kafka=options,
                             checkpoint=str(spark_cluster.settings.state / "ck-kafka"))  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(IngestError) as e:
        stream.run(spark, spec)
    assert time.monotonic() - t0 < 10
    message = str(e.value)
    assert "spark-sql-kafka-0-10_2.13" in message and "spark.jars.packages" in message
    assert stream.KAFKA_PROVIDER in message


def test_cli_batch_with_a_local_master_prints_counts(raw):
    state = fresh_state_dir()
    try:
        env = {**os.environ, "HUNTHUB_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1"}
        env.pop("HUNTHUB_CONFIG", None)
        csv = _write(raw / "cli" / "auth.csv", AUTH_CSV)
        argv = [HUNTHUB, "ingest", "batch", str(csv), "--format", "csv", "--table", "auth_csv", "--master", "local[1]"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        out = done.stdout
        assert "auth_csv: read 5, written 3, quarantined 2 (2 new in quarantine)" in out
        assert "quarantined 1 x expected 5 fields, got N" in out
        assert "auth_csv" in catalog.load(state / "catalog.json")
    finally:
        import shutil

        shutil.rmtree(state.parent, ignore_errors=True)

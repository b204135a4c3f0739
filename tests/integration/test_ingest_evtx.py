"""`hunthub ingest batch --format evtx` against the real standalone cluster: real .evtx recordings of attacks in,
one Spark task per file, every record a row or a quarantined record, Sysmon and Security fields as columns, and a
kernel asking the hunting questions of the table.

Recordings: EVTX-ATTACK-SAMPLES (tests/real_logs.py; skipped where absent); TestLogX.evtx from PyPI (see
tests/unit/test_ingest_evtx.py) where that folder is not.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from hunthub import catalog
from hunthub.ingest import IngestError, batch, evtx
from tests.integration.kernel_client import Kernel
from tests.real_logs import recording, root
from tests.unit.test_ingest_evtx import DCSYNC, SECURITY, SYSMON, pypi_sample

pytestmark = pytest.mark.integration

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"


def copy(files: list[Path], into: Path) -> list[str]:
    into.mkdir(mode=0o755, parents=True, exist_ok=True)
    out = []
    for f in files:
        dest = into / f.name
        shutil.copy(f, dest)
        dest.chmod(0o644)
        out.append(str(dest))
    return out


def rows(spark_cluster, location: str) -> list[dict]:
    """The table as pyarrow reads it: an answer key independent of Spark."""
    path = catalog.local_path(spark_cluster.settings.warehouse) / location
    if not path.exists():
        return []
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


def per_file(spark_cluster, table: str) -> tuple[Counter, Counter]:
    stored = Counter(r["_source_file"] for r in rows(spark_cluster, table))
    quarantined = Counter(r["source_file"] for r in rows(spark_cluster, f"_quarantine/{table}"))
    return stored, quarantined


@pytest.fixture(scope="module")
def attack_logs(spark, raw, target):
    files = copy([recording(SECURITY), recording(DCSYNC), recording(SYSMON)], raw / "attack")
    stats = batch.ingest_files(spark, [str(raw / "attack")], "evtx", target("win_evtx"))
    return files, stats


def test_every_record_of_every_file_is_a_row_or_quarantined(attack_logs, spark_cluster):
    files, stats = attack_logs
    listed = {f: evtx.check(f).records for f in files}
    assert listed == {files[0]: 8, files[1]: 3, files[2]: 17}
    assert stats.records == sum(listed.values()) == 28
    assert stats.duplicates == stats.already_present == 0
    assert stats.written + stats.quarantined == 28
    assert {f: c["records"] for f, c in stats.files.items()} == listed
    stored, quarantined = per_file(spark_cluster, "win_evtx")
    assert {f: stored[f] + quarantined[f] for f in files} == listed
    lines = sorted((r["_source_file"], r["_source_line"]) for r in rows(spark_cluster, "win_evtx"))
    assert lines == sorted((f, n) for f in files for n in range(1, listed[f] + 1))  # the records' numbers


def test_sysmon_and_security_fields_are_columns(attack_logs, spark_cluster):
    _, stats = attack_logs
    assert (stats.written, stats.quarantined) == (28, 0), stats.reasons
    got = rows(spark_cluster, "win_evtx")
    for column in ("channel", "computer", "record_id", "event_id", "provider"):
        assert all(r[column] is not None for r in got), column
    sysmon = [r for r in got if r["channel"] == SYSMON_CHANNEL and r["event_id"] == 1]
    assert len(sysmon) == 16
    assert all(r["image"] and r["parent_image"] and r["command_line"] for r in sysmon)
    logons = [r for r in got if r["channel"] == "Security" and r["event_id"] == 4624]
    assert logons and all(r["target_user_name"] for r in logons)
    assert any(r["ip_address"] not in (None, "-") for r in logons)
    entry = catalog.load(spark_cluster.settings.catalog_path)["win_evtx"]
    for column in ("image", "parent_image", "command_line", "target_user_name", "ip_address"):
        assert f"`{column}` STRING" in entry.schema


def test_rerun_adds_nothing(attack_logs, spark, raw, target, spark_cluster):
    files, first = attack_logs
    again = batch.ingest_files(spark, files, "evtx", target("win_evtx"))
    assert (again.records, again.written) == (28, 0)
    assert again.already_present == first.written
    assert len(rows(spark_cluster, "win_evtx")) == first.written


def test_a_kernel_asks_for_process_trees_and_logons(attack_logs, spark_cluster):
    kernel = Kernel(spark_cluster.kernel_env(user="analyst1", HUNTHUB_KERNEL_WARM_DRIVER="0"), name="hunthub-pyspark")
    try:
        result = kernel.run(
            'trees = spark.sql("select parent_image, count(*) n from win_evtx where event_id = 1 '
            "and channel = 'Microsoft-Windows-Sysmon/Operational' group by parent_image\").collect()\n"
            'logons = spark.sql("select target_user_name, ip_address, count(*) n from win_evtx '
            'where event_id = 4624 group by target_user_name, ip_address").collect()\n'
            "print(sum(r.n for r in trees), len(trees) > 0, sum(r.n for r in logons) > 0, "
            "all(r.target_user_name for r in logons))"
        )
        assert result.status == "ok", result.error
        assert result.text.strip().splitlines()[-1] == "16 True True True"
    finally:
        kernel.shutdown()


def test_files_that_are_not_whole_evtx_fail_naming_them_and_write_nothing(spark, raw, target, spark_cluster):
    good = recording(DCSYNC)
    d = raw / "broken"
    copy([good], d)
    (d / "cut.evtx").write_bytes(good.read_bytes()[:10000])
    (d / "export.evtx").write_text('{"EventID": 4624}\n')
    for f in d.iterdir():
        f.chmod(0o644)
    with pytest.raises(IngestError) as e:
        batch.ingest_files(spark, [str(d)], "evtx", target("broken_evtx"))
    message = str(e.value)
    assert message.startswith("nothing was written; these files cannot be read:")
    assert f"{d / 'cut.evtx'}: truncated EVTX file" in message
    assert f"{d / 'export.evtx'}: text (JSON or XML), not an EVTX event log" in message
    assert good.name not in message
    assert "broken_evtx" not in catalog.load(spark_cluster.settings.catalog_path)
    assert not (catalog.local_path(spark_cluster.settings.warehouse) / "broken_evtx").exists()


def test_damaged_records_are_quarantined_with_file_and_number(spark, raw, target, spark_cluster):
    from tests.unit.test_ingest_evtx import record_offsets

    data = bytearray(recording(SYSMON).read_bytes())
    offsets = record_offsets(data)
    data[offsets[3][0] + 24 : offsets[3][0] + 64] = b"\xff" * 40  # record 4: binary XML the parser rejects
    data[offsets[10][0] : offsets[10][0] + 4] = bytes(4)  # record 11: its header, so the parser skips 11..17
    d = raw / "damaged"
    d.mkdir(mode=0o755)
    path = d / "sysmon.evtx"
    path.write_bytes(bytes(data))
    path.chmod(0o644)
    stats = batch.ingest_files(spark, [str(path)], "evtx", target("damaged_evtx"))
    assert stats.records == 17 and stats.quarantined >= 8
    bad = {r["line"]: r for r in rows(spark_cluster, "_quarantine/damaged_evtx")}
    assert {4, *range(11, 18)} <= set(bad)
    assert bad[4]["reason"].startswith("EVTX record unreadable: Failed to parse record number 4")
    assert bad[11]["reason"] == f"EVTX record 11 (chunk 0) not read: {evtx.SKIPPED}"
    assert {r["source_file"] for r in bad.values()} == {str(path)}
    stored, quarantined = per_file(spark_cluster, "damaged_evtx")
    assert stored[str(path)] + quarantined[str(path)] == 17


def test_the_pypi_sample_goes_in_whole(spark, raw, target, spark_cluster):
    """On machines without the attack recordings (CI has PyPI): a small real log of a test application."""
    files = copy([pypi_sample()], raw / "pypi")
    stats = batch.ingest_files(spark, files, "evtx", target("testlogx"))
    assert stats.records == 5 and stats.written + stats.quarantined == 5
    assert stats.written == 5, stats.reasons
    got = sorted(rows(spark_cluster, "testlogx"), key=lambda r: r["_source_line"])
    assert [(r["_source_line"], r["record_id"], r["channel"]) for r in got] == [(n, n, "TestLogX") for n in range(1, 6)]
    assert {r["computer"] for r in got} == {"DESKTOP-PJOQLJS"}


def test_all_recordings_one_task_per_file(spark, raw, target, spark_cluster):
    """The whole EVTX-ATTACK-SAMPLES collection (277 files, Sysmon, Security and 13 other channels)."""
    collection = root() / "evtx-attack-samples"
    if not collection.is_dir():
        pytest.skip(f"{collection} not found (see tests/real_logs.py)")
    files = sorted(collection.rglob("*.evtx"))
    d = raw / "collection"
    for f in files:
        dest = d / f.relative_to(collection)
        dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.copy(f, dest)
        dest.chmod(0o644)
    for sub in [d, *d.rglob("*")]:
        if sub.is_dir():
            sub.chmod(0o755)
    inputs = batch.input_files([str(d)])
    lineage = batch.parse_files(spark, inputs, "evtx").toDebugString().decode()
    assert f"+-({len(files)}) " in lineage  # parsed a task per file, then gathered into a few partitions to write
    listed = {i.source: evtx.check(i.source).records for i in inputs}
    stats = batch.ingest_files(spark, [str(d)], "evtx", target("evtx_collection"))
    assert stats.records == sum(listed.values())
    assert stats.written + stats.quarantined + stats.duplicates + stats.already_present == stats.records
    assert {f: c["records"] for f, c in stats.files.items()} == listed
    stored, quarantined = per_file(spark_cluster, "evtx_collection")
    for f, c in stats.files.items():  # an event in two recordings (UACME_59_Sysmon.evtx is twice) is stored once
        assert c["written"] + c["quarantined"] + c["duplicates"] + c["already_present"] == c["records"], f
        assert (stored[f], quarantined[f]) == (c["written"], c["quarantined"]), f
    assert sum(stored.values()) == stats.written and sum(quarantined.values()) == stats.quarantined
    channels = Counter(r["channel"] for r in rows(spark_cluster, "evtx_collection"))
    assert channels[SYSMON_CHANNEL] > 3000 and channels["Security"] > 1000, channels


def test_files_only_spark_can_read_are_checked_and_parsed_the_same(spark, raw):
    """hdfs:// and other Hadoop URIs: headers read through Hadoop's FileSystem before any task, contents by
    sc.binaryFiles; shown here with file:// URIs, which go the same way."""
    d = raw / "by-uri"
    files = copy([recording(DCSYNC), recording(SYSMON)], d)
    (d / "_SUCCESS").write_text("")
    (d / ".hidden.evtx").write_text("not read")
    heads = batch.remote_evtx_headers(spark, f"file://{d}")
    assert sorted(Path(u.removeprefix("file:")).name for u, _, _ in heads) == sorted(Path(f).name for f in files)
    assert all(evtx.header_problem(h, n, u) is None and n == Path(u.removeprefix("file:")).stat().st_size
               for u, h, n in heads)  # fmt: skip
    (d / "_SUCCESS").unlink()
    (d / ".hidden.evtx").unlink()
    by_uri = spark.sparkContext.binaryFiles(f"file://{d}", minPartitions=2).flatMap(evtx.bytes_entries).collect()
    by_path = [e for f in files for e in evtx.path_entries((f, f))]
    strip = sorted((Path(e[1].removeprefix("file:")).name, *e[2:4]) for e in by_uri)
    assert strip == sorted((Path(e[1]).name, *e[2:4]) for e in by_path) and len(strip) == 20

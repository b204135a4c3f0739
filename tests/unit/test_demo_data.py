"""The demo dataset written on first `hunthub up` (the synthetic generator at the configured size)."""

import re
import shutil
import stat
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hunthub import catalog
from hunthub.data import demo, generate
from hunthub.data.tables import ALL, EVENT_TABLES

EVENTS = 5003  # not a multiple of 7: the remainder must not get lost


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("warehouse")
    table_dir = demo.write(warehouse, EVENTS)
    return warehouse, table_dir


@pytest.fixture(scope="module")
def rows(written):
    return ds.dataset(written[1], format="parquet", partitioning="hive").to_table()


def event_rows(warehouse) -> int:
    return sum(generate.read_table(warehouse / t.name).num_rows for t in EVENT_TABLES)


def test_the_same_size_gives_the_same_rows(tmp_path, rows):
    again = demo.write(tmp_path, EVENTS)
    assert ds.dataset(again, format="parquet", partitioning="hive").to_table().equals(rows)


def test_different_days_differ(rows):
    day0 = rows.filter(pc.equal(rows["date"], "2026-11-02"))
    day1 = rows.filter(pc.equal(rows["date"], "2026-11-03"))
    n = min(day0.num_rows, day1.num_rows)
    # not the same events shifted by a day
    assert (
        not day0.slice(0, n)
        .drop_columns(["event_time", "date"])
        .equals(day1.slice(0, n).drop_columns(["event_time", "date"]))
    )
    assert pc.max(day0["event_time"]).as_py() < pc.min(day1["event_time"]).as_py()


def test_events_of_a_partition_are_within_that_day_and_sorted_by_host_and_time(written):
    _, table_dir = written
    for part in table_dir.iterdir():
        day = date.fromisoformat(part.name.removeprefix("date="))
        for f in part.iterdir():
            t = pq.read_table(f)
            assert {x.date() for x in t["event_time"].to_pylist()} == {day}
            keys = list(zip(t["dst_host"].to_pylist(), t["event_time"].to_pylist(), strict=True))
            assert keys == sorted(keys)
    assert demo.START.date() == date(2026, 11, 2)


def test_write_produces_exactly_the_requested_rows(written):
    assert event_rows(written[0]) == EVENTS


def test_write_partitions_by_seven_consecutive_dates(written, rows):
    _, table_dir = written
    dirs = sorted(p.name for p in table_dir.iterdir())
    assert len(dirs) == 7
    assert all(re.fullmatch(r"date=\d{4}-\d{2}-\d{2}", d) for d in dirs)
    days = sorted(date.fromisoformat(d.removeprefix("date=")) for d in dirs)
    assert [(d - days[0]).days for d in days] == list(range(7))
    assert len(set(rows["date"].to_pylist())) == 7


def test_write_leaves_only_the_tables(written):
    warehouse, table_dir = written
    assert sorted(p.name for p in warehouse.iterdir()) == sorted(ALL)
    assert table_dir == warehouse / "auth_events"


def test_written_files_are_readable_by_analysts(written):
    _, table_dir = written
    for p in table_dir.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) & 0o004, p


def test_only_logon_event_ids(rows):
    assert set(rows["event_id"].to_pylist()) == {4624, 4625, 4634, 4672}


def test_failure_outcome_exactly_for_failed_logons(rows):
    for event_id, outcome, reason in zip(
        rows["event_id"].to_pylist(), rows["outcome"].to_pylist(), rows["failure_reason"].to_pylist(), strict=True
    ):
        assert (outcome == "failure") == (event_id == 4625)
        assert (reason is not None) == (event_id == 4625)


def test_ddl_names_the_parquet_columns_plus_the_date_partition(written):
    _, table_dir = written
    parquet = pq.read_schema(next(table_dir.rglob("*.parquet")))
    ddl = re.findall(r"(?:^|,)\s*(\w+)\s+(\w+)", demo.DDL)
    assert [name for name, _ in ddl] == [*parquet.names, "date"]


def test_ddl_types_match_the_parquet_types(written):
    # Spark refuses to read a Parquet column with a schema of another type
    _, table_dir = written
    parquet = pq.read_schema(next(table_dir.rglob("*.parquet")))
    spark_type = {pa.int32(): "INT", pa.int8(): "TINYINT", pa.string(): "STRING"}
    ddl = dict(re.findall(r"(?:^|,)\s*(\w+)\s+(\w+)", demo.DDL))
    for f in parquet:
        expected = "TIMESTAMP" if pa.types.is_timestamp(f.type) else spark_type[f.type]
        assert ddl[f.name] == expected, f.name
    assert ddl["date"] == "DATE"


def test_rewrite_replaces_the_table(tmp_path):
    demo.write(tmp_path, 7000)
    demo.write(tmp_path, 5000)
    assert event_rows(tmp_path) == 5000


def test_ensure_writes_once_and_registers_the_table(tmp_path):
    warehouse, catalog_path = tmp_path / "warehouse", tmp_path / "catalog.json"
    warehouse.mkdir()
    assert demo.ensure(warehouse, catalog_path, 5000) is True
    table = catalog.load(catalog_path)["auth_events"]
    location = table.location(warehouse.as_uri())
    assert ds.dataset(location.removeprefix("file://"), format="parquet", partitioning="hive").count_rows() > 1000
    assert table.schema == demo.DDL
    assert event_rows(warehouse) == 5000
    assert set(catalog.load(catalog_path)) == set(ALL)

    first_file = next((warehouse / "auth_events").rglob("*.parquet"))
    written_at = first_file.stat().st_mtime_ns
    assert demo.ensure(warehouse, catalog_path, 5000) is False
    assert first_file.stat().st_mtime_ns == written_at


def test_ensure_rewrites_a_table_whose_data_was_removed(tmp_path):
    warehouse, catalog_path = tmp_path / "warehouse", tmp_path / "catalog.json"
    warehouse.mkdir()
    demo.ensure(warehouse, catalog_path, 5000)
    shutil.rmtree(warehouse / "auth_events")
    assert demo.ensure(warehouse, catalog_path, 5000) is True
    assert (warehouse / "auth_events").is_dir()


def test_ensure_keeps_other_catalog_tables(tmp_path):
    warehouse, catalog_path = tmp_path / "warehouse", tmp_path / "catalog.json"
    warehouse.mkdir()
    dns = catalog.Table("dns", "hdfs://namenode.soc.example:8020/logs/dns")
    catalog.register(catalog_path, dns)
    demo.ensure(warehouse, catalog_path, 5000)
    assert catalog.load(catalog_path)["dns"] == dns


def test_ensure_does_not_replace_an_admins_own_auth_events_table(tmp_path):
    warehouse, catalog_path = tmp_path / "warehouse", tmp_path / "catalog.json"
    warehouse.mkdir()
    real = catalog.Table("auth_events", (tmp_path / "real_auth").as_uri(), description="our domain controllers")
    catalog.register(catalog_path, real)
    demo.ensure(warehouse, catalog_path, 5000)
    assert catalog.load(catalog_path)["auth_events"] == real
    assert not (warehouse / "auth_events").exists()
    assert (warehouse / "zeek_conn").is_dir()
    assert demo.ensure(warehouse, catalog_path, 5000) is False


def test_ensure_raises_tiny_sizes_to_the_minimum(tmp_path):
    warehouse, catalog_path = tmp_path / "warehouse", tmp_path / "catalog.json"
    warehouse.mkdir()
    assert demo.ensure(warehouse, catalog_path, 70) is True
    assert event_rows(warehouse) == generate.MIN_EVENTS

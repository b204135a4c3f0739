"""Record ids, column types and coercion, catalog DDL, how a table's columns grow, Kafka reader options."""

from datetime import UTC, datetime

import pytest

from hunthub.ingest import IngestError, records, stream, write
from hunthub.ingest.readers import RecordError


def test_record_id_is_deterministic_and_ignores_key_order():
    t = datetime(2026, 11, 2, tzinfo=UTC)
    a = records.record_id({"event_time": t, "user": "alice", "port": 443})
    assert a == records.record_id({"port": 443, "user": "alice", "event_time": t})
    assert a != records.record_id({"event_time": t, "user": "alice", "port": 444})
    assert len(a) == 32 and set(a) <= set("0123456789abcdef")


def test_record_id_does_not_depend_on_the_source_file():
    # the same event from a renamed copy or an overlapping export is the same row
    rec = {"event_time": datetime(2026, 11, 2, tzinfo=UTC), "uid": "C1"}
    assert records.record_id(dict(rec)) == records.record_id(dict(rec))
    assert records.quarantine_id("/a.log", 3, "x") != records.quarantine_id("/b.log", 3, "x")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1, 2], "bigint"),
        ([1, 2.5], "double"),
        ([True, None], "boolean"),
        ([1, "x"], "string"),
        ([["a"], []], "array<string>"),
        ([[], None], "array"),
        ([None], None),
        ([{"a": 1}], "string"),
    ],
)
def test_kinds_merge_to_the_narrowest_common_type(values, kind):
    merged = None
    for v in values:
        merged = records.merge_kinds(merged, records.kind_of(v))
    assert merged == kind


@pytest.mark.parametrize(
    ("value", "spark_type", "expected"),
    [
        ("443", "bigint", 443),
        (3.0, "int", 3),
        (5, "string", "5"),
        ({"b": 1}, "string", '{"b": 1}'),
        ("yes", "boolean", True),
        ("1.5", "double", 1.5),
        (["1", 2], "array<bigint>", [1, 2]),
        ("2026-11-02T00:00:00Z", "timestamp", datetime(2026, 11, 2, tzinfo=UTC)),
        (None, "bigint", None),
    ],
)
def test_coerce_to_the_table_type(value, spark_type, expected):
    assert records.coerce(value, spark_type) == expected


@pytest.mark.parametrize(
    ("value", "spark_type"), [("abc", "bigint"), (300, "tinyint"), ("maybe", "boolean"), ("x", "array<string>")]
)
def test_values_that_do_not_fit_are_record_errors(value, spark_type):
    with pytest.raises(RecordError, match="not a|out of range"):
        records.coerce(value, spark_type)


def test_ddl_round_trip_with_quoted_names_and_nested_types():
    cols = [("event_time", "timestamp"), ("from", "string"), ("ports", "array<bigint>"), ("date", "date")]
    text = records.ddl(cols)
    assert text == "`event_time` TIMESTAMP, `from` STRING, `ports` ARRAY<BIGINT>, `date` DATE"
    assert records.parse_ddl(text) == cols
    # the demo table's hand-written DDL reads too
    assert records.parse_ddl("event_time TIMESTAMP, logon_type TINYINT, m MAP<STRING, INT>")[2] == (
        "m",
        "map<string,int>",
    )


def test_new_table_columns_event_time_first_lineage_last():
    kinds = {
        "event_time": ("timestamp", ("/a", 1, 0)),
        "user": ("string", ("/a", 1, 1)),
        "port": ("bigint", ("/a", 1, 2)),
        "empty": (None, ("/a", 1, 3)),  # all null so far: waits until a value says its type
    }
    columns, new = write.table_columns([], kinds)
    assert columns == [
        ("event_time", "timestamp"),
        ("user", "string"),
        ("port", "bigint"),
        ("_record_id", "string"),
        ("_source_file", "string"),
        ("_source_line", "bigint"),
    ]
    assert new == [c for c, _ in columns]


def test_existing_columns_keep_type_and_place_new_ones_follow():
    existing = [("event_time", "timestamp"), ("port", "int"), ("_record_id", "string"), ("_source_file", "string"),
                ("_source_line", "bigint")]  # fmt: skip
    kinds = {"port": ("string", ("/b", 1, 1)), "process": ("string", ("/b", 1, 2)), "pid": ("bigint", ("/b", 1, 3))}
    columns, new = write.table_columns(existing, kinds)
    assert columns == existing + [("process", "string"), ("pid", "bigint")]
    assert new == ["process", "pid"]


def test_kafka_options_from_config():
    # Config-level only: no Kafka broker or connector exists in this environment.
    opts = stream.kafka_options(" kafka1:9092, kafka2:9093 ", "zeek-conn", {"kafka.security.protocol": "SSL"})
    assert opts == {
        "kafka.bootstrap.servers": "kafka1:9092,kafka2:9093",
        "subscribe": "zeek-conn",
        "startingOffsets": "earliest",
        "kafka.security.protocol": "SSL",
    }


@pytest.mark.parametrize(
    ("servers", "topic", "extra", "message"),
    [
        ("", "t", {}, "no bootstrap servers"),
        ("kafka1", "t", {}, "not host:port"),
        ("kafka1:9092", "", {}, "not a Kafka topic name"),
        ("kafka1:9092", "bad topic", {}, "not a Kafka topic name"),
        ("kafka1:9092", "t", {"subscribe": "other"}, "set subscribe with --kafka-bootstrap/--topic"),
    ],
)
def test_kafka_options_errors(servers, topic, extra, message):
    with pytest.raises(IngestError, match=message):
        stream.kafka_options(servers, topic, extra)


def test_kafka_package_names_the_connector_for_this_spark():
    import pyspark

    assert stream.kafka_package() == f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}"


def test_zeek_tables_keep_time_in_ts_unless_the_table_says_otherwise():
    assert write.choose_time_column([], "zeek") == "ts"
    assert write.choose_time_column([], "jsonl") == "event_time"
    assert write.choose_time_column([("event_time", "timestamp")], "zeek") == "event_time"
    assert write.choose_time_column([("ts", "timestamp")], "jsonl") == "ts"
    columns, _ = write.table_columns([], {"event_time": ("timestamp", ("/a", 1, 0))}, "ts")
    assert columns[0] == ("ts", "timestamp")


def test_extended_ddl_keeps_existing_definitions_and_puts_new_columns_before_the_partition():
    old = "ts TIMESTAMP COMMENT 'first packet, UTC', orig_p INT, date DATE COMMENT 'partition: UTC day'"
    columns = [("ts", "timestamp"), ("orig_p", "int"), ("tunnel_parents", "array<string>"), ("_record_id", "string")]
    assert write.extended_ddl(old, columns) == (
        "ts TIMESTAMP COMMENT 'first packet, UTC', orig_p INT, `tunnel_parents` ARRAY<STRING>, `_record_id` STRING, "
        "date DATE COMMENT 'partition: UTC day'"
    )
    assert write.extended_ddl("", [("event_time", "timestamp")]) == "`event_time` TIMESTAMP, `date` DATE"

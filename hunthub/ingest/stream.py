"""`hunthub ingest stream`: Spark Structured Streaming into the same tables, with the same parsing and writing.

Sources:
- files: a landing directory. Each new file is read whole (its Zeek/CSV header is part of it) and parsed like a
  batch file. Write files elsewhere and move them in: Spark skips names starting with `.` or `_`, so
  `cp x /landing/.x && mv /landing/.x /landing/x` never lets the stream see half a file.
- kafka: one record per message (JSON lines or Windows events as JSON), lineage kafka:<topic>/<partition> and
  the message offset.

The checkpoint records which files/offsets are done, so a restart resumes where the last run stopped. Each
micro-batch goes through write.write_entries, which skips records the table already has: a batch replayed after
a crash between its write and its checkpoint commit adds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from hunthub.ingest import IngestError
from hunthub.ingest.parse import parse_one, parse_text
from hunthub.ingest.write import Stats, Target, table_lock, write_entries

KAFKA_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider"
KAFKA_ARTIFACT = "spark-sql-kafka-0-10_2.13"
KAFKA_FORMATS = ("jsonl", "winevent")
_SERVER = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


def kafka_package() -> str:
    import pyspark

    return f"org.apache.spark:{KAFKA_ARTIFACT}:{pyspark.__version__}"


def kafka_options(bootstrap_servers: str, topic: str, extra: dict | None = None) -> dict[str, str]:
    """The Kafka source's reader options; checked here so a typo fails before Spark starts."""
    servers = [s.strip() for s in (bootstrap_servers or "").split(",") if s.strip()]
    if not servers:
        raise IngestError("Kafka source: no bootstrap servers (--kafka-bootstrap or HuntHub.kafka_bootstrap_servers)")
    bad = [s for s in servers if not _SERVER.match(s)]
    if bad:
        raise IngestError(f"Kafka source: bootstrap server(s) {bad} are not host:port")
    if not topic or not re.fullmatch(r"[A-Za-z0-9._\-]{1,249}", topic):
        raise IngestError(f"Kafka source: topic {topic!r} is not a Kafka topic name (--topic or HuntHub.kafka_topic)")
    options = {
        "kafka.bootstrap.servers": ",".join(servers),
        "subscribe": topic,
        # a new table wants the topic's history; later runs continue from the checkpoint, not from here
        "startingOffsets": "earliest",
    }
    for key, value in (extra or {}).items():
        if key in ("subscribe", "subscribePattern", "assign", "kafka.bootstrap.servers"):
            raise IngestError(f"Kafka source: set {key} with --kafka-bootstrap/--topic, not in kafka_options")
        options[str(key)] = str(value)
    return options


def kafka_connector_problem(spark) -> str | None:
    """None when Spark can load its Kafka source, else what to do. Asked of the driver's JVM before the stream
    starts: without the connector Spark fails only inside readStream, with a message that names no package."""
    loadable = spark._jvm.org.apache.spark.util.Utils.classIsLoadable(KAFKA_PROVIDER)
    if loadable:
        return None
    from hunthub import paths

    return (
        f"The Kafka source needs Spark's Kafka connector ({KAFKA_ARTIFACT}), and {KAFKA_PROVIDER} is not on "
        f"Spark's classpath. Add it either way:\n"
        f"  - HuntHub.spark_conf = {{'spark.jars.packages': '{kafka_package()}'}} (Spark downloads it and "
        f"kafka-clients from Maven Central when the session starts), or\n"
        f"  - copy {KAFKA_ARTIFACT}-<spark version>.jar, spark-token-provider-kafka-0-10_2.13, kafka-clients and "
        f"commons-pool2 jars into {paths.spark_home() / 'jars'} on the driver and every worker."
    )


def default_checkpoint(state_dir: Path, table: str, source: str) -> Path:
    return Path(state_dir) / "ingest" / "checkpoints" / f"{table}-{source}"


def source_name(uri: str) -> str:
    """The same lineage as batch ingest: a local file by its path."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


@dataclass
class StreamSpec:
    source: str  # files | kafka
    fmt: str
    target: Target
    checkpoint: str
    landing: str = ""
    glob: str = ""
    kafka: dict = field(default_factory=dict)
    available_now: bool = False
    interval: str = "30 seconds"
    max_files_per_trigger: int = 100
    time_field: str | None = None
    delimiter: str = ","


def _check_names(landing: Path) -> None:
    """Hadoop cannot list a directory holding a name with ':' (HADOOP-3257): the stream would die on it."""
    bad = sorted(str(p.relative_to(landing)) for p in landing.rglob("*:*"))
    if bad:
        raise IngestError(
            f"{landing}: Spark cannot read file names with ':' ({', '.join(bad[:5])}); rename them as you move "
            "them in, e.g. conn.00:00:00-01:00:00.log -> conn.000000-010000.log"
        )


def _reader(spark, spec: StreamSpec):
    from pyspark.sql import functions as F

    if spec.source == "files":
        landing = spec.landing
        if "://" not in landing:
            Path(landing).mkdir(parents=True, exist_ok=True)
            _check_names(Path(landing))
            landing = Path(landing).absolute().as_uri()
        reader = spark.readStream.format("text").option("wholetext", "true")
        reader = reader.option("maxFilesPerTrigger", str(spec.max_files_per_trigger))
        if spec.glob:
            reader = reader.option("pathGlobFilter", spec.glob)
        return reader.load(landing).select(F.col("_metadata.file_path").alias("path"), "value")
    if spec.source == "kafka":
        if spec.fmt not in KAFKA_FORMATS:
            raise IngestError(
                f"Kafka messages are single records: use --format jsonl (e.g. Zeek's JSON writer) or winevent, "
                f"not {spec.fmt} (its header is not in the messages)"
            )
        problem = kafka_connector_problem(spark)
        if problem:
            raise IngestError(problem)
        df = spark.readStream.format("kafka").options(**spec.kafka).load()
        return df.selectExpr("topic", "partition", "offset", "CAST(value AS STRING) AS value")
    raise IngestError(f"unknown stream source {spec.source!r} (files or kafka)")


def _parsed(spec: StreamSpec, batch_df):
    fmt, time_field, delimiter = spec.fmt, spec.time_field, spec.delimiter
    if spec.source == "files":
        return batch_df.rdd.flatMap(lambda r: parse_text(fmt, source_name(r.path), r.value, time_field, delimiter))
    return batch_df.rdd.map(
        lambda r: parse_one(fmt, None, f"kafka:{r.topic}/{r.partition}", r.offset, r.value or "", time_field)
    )


def run(spark, spec: StreamSpec, say=print) -> Stats:
    """Run the stream: until the landing dir/topic is drained (available_now), else until Ctrl-C."""
    df = _reader(spark, spec)
    totals = Stats()

    def on_batch(batch_df, batch_id):
        with table_lock(spec.target, say):
            # one line per micro-batch (below) is enough progress for a stream
            stats = write_entries(
                spark, _parsed(spec, batch_df), spec.target, spec.fmt, on_fatal="quarantine", say=lambda _: None
            )
        totals.add(stats)
        if stats.records:
            say(f"batch {batch_id}: {stats.summary(spec.target.table)}")

    writer = df.writeStream.foreachBatch(on_batch).option("checkpointLocation", spec.checkpoint)
    writer = writer.trigger(availableNow=True) if spec.available_now else writer.trigger(processingTime=spec.interval)
    query = writer.queryName(f"hunthub-ingest-{spec.target.table}").start()
    origin = spec.landing or f"Kafka topic {spec.kafka.get('subscribe')}"
    say(f"{spec.target.table}: streaming from {origin} (checkpoint {spec.checkpoint})")
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        say("stopping after the current batch ...")
        query.stop()
    return totals

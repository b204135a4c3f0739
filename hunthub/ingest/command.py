"""`hunthub ingest batch|stream`: arguments, checks that need no Spark, and the progress the admin sees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hunthub import catalog
from hunthub.ingest import IngestError
from hunthub.ingest.readers import FORMATS

FORMAT_HELP = (
    "csv (with a header line), jsonl (JSON object per line), zeek (Zeek TSV), winevent (Windows events as JSON or "
    "XML), evtx (Windows event log files, .evtx as Windows stores them; batch only)"
)


def table_name(text: str) -> str:
    if not catalog.TABLE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table name (letters, digits and _, not starting with a digit)"
        )
    return text


def max_wait(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    ingest = sub.add_parser("ingest", help="raw security logs into warehouse Parquet, with Spark")
    ingest_sub = ingest.add_subparsers(dest="ingest_command", required=True)

    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--format", required=True, choices=FORMATS, help=FORMAT_HELP)
    shared.add_argument("--table", required=True, type=table_name, help="warehouse table (created or extended)")
    shared.add_argument("--time-field", help="field with the event time (default: ts, timestamp, TimeCreated, ...)")
    shared.add_argument("--delimiter", default=",", help="CSV field separator (default ,)")
    shared.add_argument("--master", help="Spark master for this ingest, e.g. local[2] (default: the analysts' cluster)")
    shared.add_argument(
        "--max-wait", type=max_wait, default=600, metavar="SECONDS",
        help="how long to wait for executor cores when the cluster is full (default 600; 0: no limit). While "
        "waiting, stderr says who holds the cores; past the limit the ingest stops before writing anything and "
        "exits with code 75 (try again later)",
    )  # fmt: skip

    batch = ingest_sub.add_parser(
        "batch", parents=[common, shared], help="ingest files or directories once",
        description="Ingest raw files into a warehouse table: new events appended, events already there skipped, "
        "bad records quarantined with the reason.",
    )  # fmt: skip
    batch.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (hdfs:// URIs too)")

    stream = ingest_sub.add_parser(
        "stream", parents=[common, shared], help="ingest continuously from a landing directory or Kafka",
        description="Spark Structured Streaming into a warehouse table, resuming from its checkpoint.",
    )  # fmt: skip
    stream.add_argument("--source", choices=["files", "kafka"], default="files")
    stream.add_argument("--landing", help="landing directory (--source files); move complete files into it")
    stream.add_argument("--glob", default="", help="only landing files matching this pattern, e.g. '*.log'")
    stream.add_argument(
        "--kafka-bootstrap", help="Kafka brokers host:port[,...] (default: HuntHub.kafka_bootstrap_servers)"
    )
    stream.add_argument("--topic", help="Kafka topic (default HuntHub.kafka_topic)")
    stream.add_argument("--checkpoint", help="checkpoint dir (default <state dir>/ingest/checkpoints/<table>-<source>)")
    stream.add_argument("--available-now", "--once", dest="available_now", action="store_true",
                        help="ingest what is there now, then stop (for cron and tests)")  # fmt: skip
    stream.add_argument("--interval", default="30 seconds", help="micro-batch interval when running continuously")
    stream.add_argument("--max-files-per-trigger", type=int, default=100, help="landing files per micro-batch")


def _say(text: str) -> None:
    print(text, flush=True)


def stream_spec(s, args, target):
    """Everything the stream needs, checked before Spark starts (so a typo costs no JVM start)."""
    from hunthub.ingest.stream import StreamSpec, default_checkpoint, kafka_options

    if args.format == "evtx":
        raise IngestError(
            "--format evtx is for `hunthub ingest batch`: EVTX files are binary and read whole, one task per file; "
            "stream Windows events as JSON (--format winevent), or ingest .evtx files with `ingest batch`"
        )
    checkpoint = args.checkpoint or str(default_checkpoint(s.state, args.table, args.source))
    spec = StreamSpec(
        source=args.source,
        fmt=args.format,
        target=target,
        checkpoint=checkpoint,
        available_now=args.available_now,
        interval=args.interval,
        max_files_per_trigger=args.max_files_per_trigger,
        time_field=args.time_field,
        delimiter=args.delimiter,
    )
    if args.source == "files":
        if not args.landing:
            raise IngestError("--source files needs --landing DIR")
        spec.landing = args.landing
        spec.glob = args.glob
    else:
        spec.kafka = kafka_options(
            args.kafka_bootstrap or s.kafka_bootstrap_servers, args.topic or s.kafka_topic, s.kafka_options
        )
    return spec


def run(s, args) -> int:
    from hunthub.ingest.session import executor_writers
    from hunthub.ingest.write import Stats, Target

    target = Target(args.table, s.warehouse, s.catalog_path, executor_writers(s, args.master))
    try:
        if args.ingest_command == "stream":
            spec = stream_spec(s, args, target)
        elif args.ingest_command == "batch":
            from hunthub.ingest.batch import input_files, local_evtx

            files = input_files(args.paths)  # missing files fail here, before a JVM starts
            if args.format == "evtx":
                problems = local_evtx(files)[1]  # and local files that are not whole EVTX files
                if problems:
                    raise IngestError("nothing was written; these files cannot be read:\n  " + "\n  ".join(problems))
    except IngestError as e:
        print(f"hunthub ingest: error: {e}", file=sys.stderr)
        return 2
    spark = watcher = waiting = None
    try:
        from hunthub.ingest import session

        spark = session.start(s, args.master)
        watcher, waiting = session.watch_cores(spark, s, args.master, args.max_wait)
        if args.ingest_command == "batch":
            from hunthub.ingest.batch import ingest_files

            stats = ingest_files(spark, args.paths, args.format, target, args.time_field, args.delimiter, _say)
        else:
            from hunthub.ingest import stream

            stats = stream.run(spark, spec, _say)
    except Exception as e:  # noqa: BLE001 - every failure ends in one clear message
        if watcher is not None:
            watcher.end()
        if waiting is not None and waiting.limit_passed:
            # its jobs were cancelled because no executor came: that, not the cancellation, is the story
            print(f"hunthub ingest: {session.no_cores_error(waiting)}", file=sys.stderr)
            return session.EX_TEMPFAIL
        if isinstance(e, IngestError):
            print(f"hunthub ingest: {e}", file=sys.stderr)
            return 1
        # StreamingQueryException etc.: the first line says what, the rest is Java
        text = str(e).strip()
        print(f"hunthub ingest: failed: {text.splitlines()[0] if text else type(e).__name__}", file=sys.stderr)
        return 1
    finally:
        if watcher is not None:
            watcher.end()
        if spark is not None:
            spark.stop()
    report(stats if isinstance(stats, Stats) else Stats(), target, s.catalog_path)
    return 0


def report(stats, target, catalog_path: str) -> None:
    _say(stats.summary(target.table))
    for reason, n in stats.reasons.most_common(10):
        _say(f"  quarantined {n:,} x {reason}")
    if stats.new_columns:
        _say(f"  new columns: {', '.join(stats.new_columns)}")
    if stats.dates:
        _say(f"  partitions touched: {stats.dates[0]} .. {stats.dates[-1]} ({len(stats.dates)} day(s))")
    if stats.written or stats.quarantine_written:
        extra = f"; bad records in {target.quarantine_table}" if stats.quarantined else ""
        _say(f"  catalog {Path(catalog_path)}: table {target.table}{extra} (new kernels see it)")

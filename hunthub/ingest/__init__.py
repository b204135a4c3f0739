"""`hunthub ingest`: raw security logs (CSV, JSON lines, Zeek TSV, Windows events as JSON) into warehouse Parquet.

- readers: one raw line (or JSON document) -> a flat record {column: Python value}, or the reason it is unusable
- parse: lines and whole files -> entries ("ok" record / "bad" reason / "fatal" file), on the executors
- records: column types, coercion to a table's types, record ids, catalog DDL (pure Python)
- write: entries -> new rows appended to the table, bad ones to its quarantine, the catalog updated
- batch: files -> entries with Spark; stream: the same under Structured Streaming (landing dir or Kafka)
- jvm: JSON lines and Windows forwarder JSON parsed by Spark's own JSON reader with the Python path's exact results
- session: the SparkSession (analysts' cluster, app "hunthub-ingest"); command: the CLI
"""


class IngestError(RuntimeError):
    """A problem that stops an ingest (before writing, where it can be known then); the message says what to do."""

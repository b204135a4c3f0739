"""Parquet vs. CSV on a wide, sparse SIEM export: bytes on disk, count(), a filtered group-by. See README.md.

The same rows (benchmarks/wide_siem.py: 514 columns, each event type filling its own ~45-100) written as
(a) the CSV a SIEM exports (header, every column, empty fields for nulls, uncompressed), (b) Parquet with our
writer's choices (pyarrow: sorted by event type/host/user/binary/time, dictionaries, delta-encoded timestamps,
zstd 19, large row groups), (c) Parquet the plain Spark way (`spark.read.csv(...).write.parquet(...)`: snappy,
unsorted). Every query runs on cold data: a fresh JVM (local[2]) per measurement, the measured files evicted
from the page cache."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wide_siem  # noqa: E402 - sibling modules, not a package
from bench_startup import ROOT, _terminate, git_state, log, summary  # noqa: E402

FORMATS = {"csv": "CSV (SIEM export)", "ours": "Parquet (ours)", "spark": "Parquet (Spark defaults)"}
SEED_CLAIM = {"bytes": 45.0, "count": 29.0}  # CSV / Parquet, as the seed states them
WINDOW = (wide_siem.START + timedelta(hours=8), wide_siem.START + timedelta(hours=14))  # the hunt's time window
QUERIES = {
    "count": "count()",
    "groupby": f"4625 failures by user, {WINDOW[0]:%H}-{WINDOW[1]:%H} h",
}
# Our writer's choices (pyarrow.parquet.ParquetWriter); see writer_options() for why each.
WRITER = {
    "sort": ["event_category", "host_name", "user_name", "process_name", "timestamp"],
    "compression": "zstd",
    "compression_level": 19,  # slower to write, as fast to read as level 3
    "row_group_rows": 1_000_000,
    "data_page_size": 1 << 20,
    "dictionary_pagesize_limit": 8 << 20,
    "delta_columns": ["timestamp", "ingest_time", "event_record_id"],
    "data_page_version": "1.0",
    "write_statistics": True,
}
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",  # 2 cores; the default 200 would time task scheduling, not the formats
}


# --- writing the three copies --------------------------------------------------------------------------------


class Progress:
    """`what: done/total` on stderr, at most every few seconds."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.done, self.t0, self.last = what, total, 0, time.monotonic(), 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last > 5 or self.done >= self.total:
            self.last = now
            log(f"  {self.what}: {self.done:,}/{self.total:,} rows ({now - self.t0:.0f} s)")


def write_csv_and_spill(rows: int, csv_path: Path, spill: Path) -> None:
    """One pass over the generator: the CSV export in time order, and each event type's rows spilled as Arrow
    (only its own columns), so the sorted Parquet can be written type by type with bounded memory."""
    progress = Progress("CSV export", rows)
    spill.mkdir(parents=True, exist_ok=True)
    writers: dict[str, ipc.RecordBatchStreamWriter] = {}
    # pyarrow writes nulls as empty fields and quotes strings (doubling inner quotes), as SIEM exports do
    with pacsv.CSVWriter(csv_path, wide_siem.schema()) as out:
        for c in wide_siem.chunks(rows):
            out.write_table(wide_siem.in_time_order(c))
            for name, table in c.parts.items():
                if name not in writers:
                    writers[name] = ipc.new_stream(spill / f"{name}.arrow", table.schema)
                writers[name].write_table(table)
            progress.add(c.rows)
    for w in writers.values():
        w.close()


def writer_options() -> dict:
    sch = wide_siem.schema()
    delta = set(WRITER["delta_columns"])
    return dict(
        compression=WRITER["compression"],
        compression_level=WRITER["compression_level"],
        # dictionaries for every string/low-cardinality column; a larger dictionary page limit keeps the
        # high-cardinality ones (GUID pools, URLs) dictionary-encoded instead of falling back to plain
        use_dictionary=[f.name for f in sch if f.name not in delta],
        dictionary_pagesize_limit=WRITER["dictionary_pagesize_limit"],
        # increasing integers (times within a host, per-host record ids): deltas of a few bits each
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
        data_page_size=WRITER["data_page_size"],
        data_page_version=WRITER["data_page_version"],
        write_statistics=WRITER["write_statistics"],
    )


def write_parquet_ours(spill: Path, path: Path, rows: int) -> None:
    """Sorted by event type, host, user, binary, time: each type's empty columns become one long null run per
    row group; host, user and binary attributes (and their process/logon ids) repeat in runs.

    Row groups of exactly WRITER['row_group_rows'] rows (the remainder of one type carries over into the next),
    so small types do not each cost a row group: 514 column chunks of metadata and statistics each."""
    progress, per_group = Progress("Parquet (ours)", rows), WRITER["row_group_rows"]
    carry: pa.Table | None = None
    with pq.ParquetWriter(path, wide_siem.schema(), **writer_options()) as out:
        for name in sorted(p.stem for p in spill.glob("*.arrow")):
            with ipc.open_stream(spill / f"{name}.arrow") as f:
                table = f.read_all()
            # a type without users or processes (firewall, DHCP, ...) sorts by the keys it has
            table = table.sort_by([(k, "ascending") for k in WRITER["sort"][1:] if k in table.column_names])
            for i in range(0, table.num_rows, per_group):
                part = wide_siem.expand(table.slice(i, per_group))
                carry = part if carry is None else pa.concat_tables([carry, part])
                while carry.num_rows >= per_group:
                    out.write_table(carry.slice(0, per_group), row_group_size=per_group)
                    carry = carry.slice(per_group)
                    progress.add(per_group)
            (spill / f"{name}.arrow").unlink()
        if carry is not None and carry.num_rows:
            out.write_table(carry, row_group_size=per_group)
            progress.add(carry.num_rows)


SAMPLES = {"csv": "sample.csv", "ours": "sample.parquet"}


def write_samples(work: Path) -> None:
    """Tiny files of both formats (other rows) for the untimed warm-up of each measurement's JVM."""
    table = wide_siem.expand(wide_siem.generate(wide_siem.EVENT_TYPES[12], np.random.default_rng(1),
                                                np.arange(1000) + int(WINDOW[0].timestamp() * 1000),
                                                np.arange(1000)))  # fmt: skip
    pacsv.write_csv(table, work / SAMPLES["csv"])
    pq.write_table(table, work / SAMPLES["ours"], **writer_options())


def spark_ddl() -> str:
    types = {pa.string(): "STRING", pa.int32(): "INT", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
             pa.bool_(): "BOOLEAN", wide_siem.TS: "TIMESTAMP"}  # fmt: skip
    return ", ".join(f"`{f.name}` {types[f.type]}" for f in wide_siem.schema())


def size(path: Path) -> int:
    """Bytes on disk of a file or a Spark output directory (data files only: no _SUCCESS/.crc)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


# --- measuring, each in a fresh JVM --------------------------------------------------------------------------


def spark_session():
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("bench-parquet-csv")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def read(spark, fmt: str, path: str):
    """Both formats with the table's schema given, as hunthub's catalog reads tables: no inferSchema pass over
    the CSV, no footer-reading job for the Parquet schema."""
    reader = spark.read.schema(spark_ddl())
    if fmt == "csv":
        return reader.options(header=True, escape='"', multiLine=False).csv(path)  # RFC 4180 quoting, as written
    return reader.parquet(path)


def query(df, name: str):
    from pyspark.sql import functions as F

    if name == "count":
        return df.count()
    failed = df.where((F.col("event_code") == "4625") & F.col("timestamp").between(*WINDOW))
    rows = failed.groupBy("target_user_name").count().orderBy(F.desc("count"), "target_user_name").collect()
    return [[r[0], r[1]] for r in rows]


def measure_here(fmt: str, name: str, path: str, samples: str) -> None:
    """In the child: one query in a fresh JVM, on cold data; prints its seconds and answer.

    Not timed, and the same for every format: the session start, then both queries on tiny samples of both
    formats (other files), twice. That is the state of an analyst's kernel that has run a query or two: Spark's and
    the readers' code loaded and compiled (a fresh JVM's first read of a format costs seconds of class loading,
    which says nothing about the format). Then the measured files are evicted from the page cache: this JVM has
    not read them, and none of them is in memory."""
    t0 = time.perf_counter()
    spark = spark_session()
    t1 = time.perf_counter()
    for _ in range(2):  # twice: the second round is where the JIT has compiled the readers' hot paths
        for sample_fmt in ("csv", "ours"):
            for q in QUERIES:
                query(read(spark, sample_fmt, str(Path(samples) / SAMPLES[sample_fmt])), q)
    t2 = time.perf_counter()
    cached = evict(Path(path))
    answer = query(read(spark, fmt, path), name)
    t3 = time.perf_counter()
    spark.stop()
    print(json.dumps({"session": t1 - t0, "warm_up": t2 - t1, "seconds": t3 - t2, "answer": answer,
                      "cached_bytes": cached}))  # fmt: skip


def evict(path: Path) -> int | None:
    """Drop the measured files (only them) from the page cache, so the query reads them from disk; returns the
    bytes of them still cached (fincore), None if that cannot be checked.

    Not `echo 3 > /proc/sys/vm/drop_caches`: that also evicts the JVM's and Python's own code, mapped from
    files, and the query would then time page faults of the running programs, not the formats."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fdatasync(fd)  # only clean pages can be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *map(str, files)],
                         capture_output=True, text=True)  # fmt: skip
    return sum(int(v) for v in out.stdout.split()) if out.returncode == 0 else None


def measure(fmt: str, name: str, path: Path, work: Path) -> dict:
    log_path = work / "spark.log"
    with open(log_path, "ab") as err:  # Spark's chatter
        out = subprocess.run(
            [sys.executable, __file__, "--measure", fmt, name, str(path), str(work)],
            stdout=subprocess.PIPE, stderr=err, text=True, timeout=3600,
        )  # fmt: skip
    if out.returncode:
        log("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]))
        raise RuntimeError(f"{fmt} {name} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def convert_spark_defaults(csv_path: Path, out: Path, log_path: Path) -> float:
    """What an analyst would do without our writer: let Spark convert the CSV, all its defaults."""
    code = (
        "import sys, bench_parquet_csv as b; s = b.spark_session(); "
        "b.read(s, 'csv', sys.argv[1]).write.parquet(sys.argv[2]); s.stop()"
    )
    t0 = time.monotonic()
    with open(log_path, "ab") as err:
        subprocess.run([sys.executable, "-c", code, str(csv_path), str(out)], cwd=Path(__file__).parent,
                       stderr=err, check=True)  # fmt: skip
    return time.monotonic() - t0


def run_all(args, work: Path, results: dict) -> None:
    csv_path, ours, spark_pq = work / "export.csv", work / "events.parquet", work / "spark-defaults"
    paths = {"csv": csv_path, "ours": ours, "spark": spark_pq}
    if not (args.reuse and csv_path.exists() and ours.exists()):
        log(f"generating {args.rows:,} events x {len(wide_siem.schema())} columns ...")
        t0 = time.monotonic()
        write_csv_and_spill(args.rows, csv_path, work / "spill")
        results["seconds_write"] = {"csv+generate": time.monotonic() - t0}
        t0 = time.monotonic()
        write_parquet_ours(work / "spill", ours, args.rows)
        results["seconds_write"]["ours"] = time.monotonic() - t0
    write_samples(work)
    formats = ["csv", "ours"]
    if not args.no_spark_defaults:
        if not (args.reuse and spark_pq.exists()):
            log("converting the CSV with Spark's defaults ...")
            shutil.rmtree(spark_pq, ignore_errors=True)
            results.setdefault("seconds_write", {})["spark"] = convert_spark_defaults(
                csv_path, spark_pq, work / "spark.log"
            )
        formats.append("spark")
    results["bytes"] = {f: size(paths[f]) for f in formats}
    results["parquet_meta"] = parquet_meta(ours)
    log("bytes on disk: " + ", ".join(f"{f} {human(b)}" for f, b in results["bytes"].items()))
    for i in range(args.runs):
        for name in QUERIES:
            for fmt in formats[:: 1 if i % 2 == 0 else -1]:  # alternating, so no format always goes first
                m = measure(fmt, name, paths[fmt], work)
                results.setdefault("runs", {}).setdefault(fmt, {}).setdefault(name, []).append(m)
                log(f"  run {i + 1}/{args.runs} {name:7} {fmt:5}: {m['seconds']:6.2f} s (session {m['session']:.1f} s)")
    check_answers(results["runs"], args.rows)


def check_answers(runs: dict, rows: int) -> None:
    """Every format, every run, the same answer (and count() = rows): else a ratio would compare apples to pears."""
    for name in QUERIES:
        answers = {json.dumps(m["answer"]) for fmt in runs for m in runs[fmt][name]}
        if len(answers) != 1:
            raise RuntimeError(f"{name}: the formats disagree: {sorted(answers)[:3]}")
    first = next(iter(runs.values()))
    if first["count"][0]["answer"] != rows or not first["groupby"][0]["answer"]:
        raise RuntimeError(f"unexpected answers: count {first['count'][0]['answer']}, group-by empty?")


def parquet_meta(path: Path) -> dict:
    md = pq.ParquetFile(path).metadata
    return {"row_groups": md.num_row_groups, "columns": md.num_columns, "footer_bytes": md.serialized_size}


# --- report --------------------------------------------------------------------------------------------------


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def figures(results: dict) -> dict:
    """metric -> format -> {median/min/max/runs} (bytes: a single value)."""
    out = {"bytes": {f: {"median": b} for f, b in results.get("bytes", {}).items()}}
    for fmt, by_query in results.get("runs", {}).items():
        for name, ms in by_query.items():
            out.setdefault(name, {})[fmt] = summary([m["seconds"] for m in ms])
    return out


def table(figs: dict) -> list[str]:
    formats = [f for f in FORMATS if any(f in figs[m] for m in figs)]
    cols = [FORMATS[f] for f in formats] + ["CSV/ours", "CSV/Spark-def"][: len(formats) - 1] + ["seed", "met?"]
    lines = [f"{'metric (median [min-max])':<44}" + "".join(f"{c:<26}" if i < len(formats) else f"{c:<15}"
                                                           for i, c in enumerate(cols))]  # fmt: skip
    labels = {"bytes": "bytes on disk", **QUERIES}
    for metric, by_fmt in figs.items():
        if "csv" not in by_fmt:
            continue
        cells = [fmt_cell(metric, by_fmt.get(f)) for f in formats]
        ratios = [by_fmt["csv"]["median"] / by_fmt[f]["median"] for f in formats[1:] if f in by_fmt]
        claim = SEED_CLAIM.get(metric)
        met = "-" if claim is None or not ratios else ("yes" if ratios[0] >= claim else "NO")
        row = f"{labels[metric]:<44}" + "".join(f"{c:<26}" for c in cells)
        row += "".join(f"{f'{r:.1f}x':<15}" for r in ratios) + f"{(f'{claim:.0f}x' if claim else '-'):<15}{met}"
        lines.append(row)
    return lines


def fmt_cell(metric: str, stats: dict | None) -> str:
    if not stats:
        return "-"
    if metric == "bytes":
        return human(stats["median"])
    return f"{stats['median']:.2f} s [{stats['min']:.2f}-{stats['max']:.2f}]"


def report(results: dict, args, elapsed: float, complete: bool, git: dict) -> None:
    figs = figures(results)
    print()
    print("\n".join(table(figs)))
    meta = results.get("parquet_meta", {})
    print(f"\n{args.rows:,} events x {len(wide_siem.schema())} columns; {args.runs} cold runs per query "
          f"(fresh JVM, local[2]); data {cache_note(results)}")  # fmt: skip
    print(
        "both read with the explicit schema (CSV: header, no inferSchema, escape '\"'); timed: the query only,"
        " after the session start and both queries, twice, on tiny samples of both formats"
    )
    print("our writer: pyarrow " + pa.__version__ + ", " + ", ".join(f"{k}={v}" for k, v in WRITER.items())
          + (f"; {meta['row_groups']} row groups, footer {human(meta['footer_bytes'])}" if meta else ""))  # fmt: skip
    if "seconds_write" in results:
        print("written in: " + ", ".join(f"{k} {v:.0f} s" for k, v in results["seconds_write"].items()))
    count = figs.get("count", {})
    if "csv" in count and "ours" in count and count["csv"]["median"] / count["ours"]["median"] < SEED_CLAIM["count"]:
        print("count() short of the claim: Parquet answers it from the footers (a fixed cost, Spark's job overhead),"
              " CSV reads every byte: the ratio grows with the export's size (see benchmarks/README.md)")  # fmt: skip
    print(f"total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = Path(__file__).parent / "results" / f"parquet-csv-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "rows": args.rows, "columns": len(wide_siem.schema()), "runs": args.runs,
           "seconds_total": elapsed, "cores": os.cpu_count(), "git": git, "writer": WRITER, "spark_conf": SPARK_CONF,
           "queries": QUERIES, "seed_claim": SEED_CLAIM, "figures": figs, **results}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def cache_note(results: dict) -> str:
    cached = [m["cached_bytes"] for q in results.get("runs", {}).values() for ms in q.values() for m in ms]
    if cached and all(c is not None for c in cached):
        return f"evicted before every query (at most {human(max(cached))} of the measured files left in memory)"
    return "evicted before every query (posix_fadvise; fincore missing, so not checked)"


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--measure":
        measure_here(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="events to generate (default 2,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="cold runs per query and format (default 3)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a fresh one under /tmp, removed)")
    parser.add_argument("--reuse", action="store_true", help="reuse the files already in --dir")
    parser.add_argument("--no-spark-defaults", action="store_true", help="skip Parquet with Spark's defaults")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-parquet-csv-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        run_all(args, work, results)
        complete = True
    finally:
        if results:
            report(results, args, time.monotonic() - t0, complete, git)
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

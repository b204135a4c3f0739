"""benchmarks/bench_parquet_csv.py must not rot: its generator and writers on a few thousand rows (no Spark)."""

import json
import sys
from argparse import Namespace
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_parquet_csv as bench  # noqa: E402
import wide_siem  # noqa: E402

ROWS = 5_000


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    bench.write_csv_and_spill(ROWS, work / "export.csv", work / "spill")
    bench.write_parquet_ours(work / "spill", work / "events.parquet", ROWS)
    return work


def test_wide_and_sparse_like_a_siem_export():
    c = wide_siem.chunk(0, ROWS)
    full = wide_siem.in_time_order(c)
    assert full.num_rows == ROWS and full.num_columns >= 450
    times = full["timestamp"].to_numpy().tolist()
    assert None not in times and times == sorted(times)  # exported in time order
    filled = sum(full[name].null_count < ROWS for name in full.column_names)
    assert 0.1 < sum(t.num_columns * t.num_rows for t in c.parts.values()) / (ROWS * full.num_columns) < 0.3
    assert filled > 300  # every type fills its own columns: together most of the schema
    assert wide_siem.in_time_order(wide_siem.chunk(0, ROWS)).equals(full)  # deterministic


def test_csv_and_parquet_hold_the_same_rows(written):
    # as Spark reads it: only empty fields are null ("NA" is North America, in dst_geo_continent)
    options = pacsv.ConvertOptions(column_types=wide_siem.schema(), strings_can_be_null=True, null_values=[""])
    csv = pacsv.read_csv(written / "export.csv", convert_options=options)
    parquet = pq.read_table(written / "events.parquet")
    assert parquet.schema.equals(wide_siem.schema())
    # CSV cannot tell an empty string from a null: compare with empty strings as nulls; in any order
    in_csv, in_parquet = (
        sorted(json.dumps({k: None if v == "" else v for k, v in row.items()}, default=str) for row in t.to_pylist())
        for t in (csv, parquet)
    )
    assert in_csv == in_parquet
    assert parquet.column("event_category").to_pylist() == sorted(parquet.column("event_category").to_pylist())
    assert not list((written / "spill").glob("*.arrow"))
    assert bench.size(written / "export.csv") > 10 * bench.size(written / "events.parquet")  # 45x+ needs ~1 M rows


def test_spark_ddl_names_every_column():
    assert bench.spark_ddl().count("`") == 2 * len(wide_siem.schema())


def test_report_table(tmp_path, monkeypatch, capsys):
    def runs(seconds, answer):
        return [{"seconds": s, "answer": answer, "cached_bytes": 0, "session": 1.0, "warm_up": 1.0} for s in seconds]

    results = {
        "bytes": {"csv": 1_000_000, "ours": 20_000, "spark": 100_000},
        "runs": {fmt: {"count": runs(c, ROWS), "groupby": runs(g, [["x", 1]])}
                 for fmt, c, g in [("csv", [30, 31, 29], [60, 62, 61]), ("ours", [1, 1, 1], [2, 2, 2]),
                                   ("spark", [2, 2, 2], [4, 4, 4])]},
    }  # fmt: skip
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "bench_parquet_csv.py"))
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    bench.report(results, Namespace(rows=ROWS, runs=3), 60.0, True, {"commit": "abc", "modified": []})
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("metric") and "Parquet (ours)" in lines[1]
    assert lines[2].startswith("bytes on disk") and "50.0x" in lines[2] and lines[2].endswith("yes")
    assert lines[3].startswith("count()") and "30.0x" in lines[3] and lines[3].endswith("yes")
    assert "30.5x" in lines[4]
    doc = json.loads(next((tmp_path / "results").glob("parquet-csv-*.json")).read_text())
    assert doc["figures"]["count"]["csv"]["median"] == 30

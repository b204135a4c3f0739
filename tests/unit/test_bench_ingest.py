"""benchmarks/bench_ingest.py must not rot: its generated files read as hunthub's readers read them (no Spark)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_ingest as bench  # noqa: E402

from hunthub.ingest.parse import parse_numbered_lines  # noqa: E402
from hunthub.ingest.readers import file_header  # noqa: E402

EVENTS = 3_000


@pytest.mark.parametrize("fmt", bench.FORMATS)
def test_generated_files_are_what_the_benchmark_counts(tmp_path, fmt):
    clean = bench.generate(fmt, EVENTS, tmp_path / f"{fmt}.txt")
    dirty = bench.generate(fmt, EVENTS, tmp_path / f"{fmt}-bad{bench.BAD_EVERY}.txt", bench.BAD_EVERY)
    assert bench.generate(fmt, EVENTS, tmp_path / f"{fmt}.txt").read_bytes() == clean.read_bytes()  # reused
    for path, bad in ((clean, 0), (dirty, bench.bad_lines(EVENTS, bench.BAD_EVERY))):
        lines = path.read_text().splitlines()
        header = file_header(fmt, lines[:50], str(path), bench.TIME_FIELD.get(fmt))
        numbered = ((line, i) for i, line in enumerate(lines))
        entries = list(parse_numbered_lines(fmt, header, str(path), bench.TIME_FIELD.get(fmt), numbered))
        assert len(entries) == EVENTS
        assert sum(e[0] == "bad" for e in entries) == bad, [e[4] for e in entries if e[0] == "bad"][:3]
    dates = {e[4]["event_time"].date() for e in entries if e[0] == "ok"}
    assert len(dates) == 7  # a week of events: seven partitions


def test_generation_is_deterministic(tmp_path):
    a = bench.generate("jsonl", 500, tmp_path / "a.json")
    b = bench.generate("jsonl", 500, tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()

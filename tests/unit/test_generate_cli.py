"""`hunthub data generate` as an admin runs it: progress, answer key, catalog, clear refusals; memory bounded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from hunthub import catalog
from hunthub.data import generate
from hunthub.data.tables import ALL
from tests.harness import HUNTHUB


def run(*args: str, state_dir=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNTHUB_")}
    if state_dir is not None:
        env["HUNTHUB_STATE_DIR"] = str(state_dir)
    return subprocess.run([HUNTHUB, "data", *args], env=env, capture_output=True, text=True, timeout=300)


def test_generate_into_a_folder_shows_progress_and_writes_the_key_there(tmp_path):
    out = tmp_path / "out"
    r = run("generate", "--events", "20,000", "--out", str(out), state_dir=tmp_path / "state")
    assert r.returncode == 0, r.stderr
    assert "20,000/20,000 events 100.0%" in r.stderr and "events/s" in r.stderr and "ETA" in r.stderr
    assert "not registered" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([*ALL, "answer-key.json"])
    key_file = out / "answer-key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text()) == generate.answer_key(events=20_000)
    assert not (tmp_path / "state" / "catalog.json").exists()


def test_generate_into_the_warehouse_registers_every_table(tmp_path):
    state = tmp_path / "state"
    r = run("generate", "--events", "6000", "--seed", "3", "--days", "3", state_dir=state)
    assert r.returncode == 0, r.stderr
    tables = catalog.load(state / "catalog.json")
    assert set(tables) == set(ALL)
    for name, table in tables.items():
        assert table.path == name and table.schema == ALL[name].ddl and table.description
        assert (state / "warehouse" / name).is_dir()
    key = json.loads((state / "answer-key.json").read_text())
    assert key == generate.answer_key(seed=3, events=6000, days=3)
    assert not (state / "warehouse" / "answer-key.json").exists()  # analysts' kernels read the warehouse


def test_demo_is_the_same_command(tmp_path):
    r = run("demo", "--events", "5000", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "zeek_dns").is_dir()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--events", "0"], "--events must be at least 5,000"),
        (["--events", "abc"], "not a whole number: 'abc'"),
        (["--events", "10000", "--days", "0"], "--days must be between 1"),
        (["--events", "10000", "--seed", "-1"], "--seed must not be negative"),
    ],
)
def test_bad_arguments_are_refused_clearly(tmp_path, args, message):
    r = run("generate", *args, "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_unwritable_out_is_refused_clearly(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run("generate", "--events", "10000", "--out", str(blocker / "sub"))
    assert r.returncode == 2 and f"cannot write to {blocker / 'sub'}" in r.stderr
    assert "Traceback" not in r.stderr


def _peak_rss_mb(out, events: int) -> int:
    code = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from hunthub.data import generate
        generate.CHUNK_ROWS = 250_000
        generate.generate(Path({str(out)!r}), {events})
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    # the system allocator returns freed chunks; jemalloc's retention would add noise unrelated to the data size
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1])


def test_memory_stays_bounded_by_the_chunk_not_the_dataset(tmp_path):
    # chunks of 250,000 rows: four times the events must not take (anywhere near) four times the memory; holding
    # the 1.5 million extra rows would add hundreds of MB
    small = _peak_rss_mb(tmp_path / "small", 500_000)
    big = _peak_rss_mb(tmp_path / "big", 2_000_000)
    assert big - small < 120, f"peak RSS {small} MB for 500k events, {big} MB for 2M"

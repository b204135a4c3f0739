"""Vectorised building blocks the sources share: times of day, strings by index, Zeek uids, sorting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

START = datetime(2026, 11, 2, tzinfo=UTC)
DAY_US = 86_400_000_000
_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def day_start_us(day: int) -> int:
    return int((START + timedelta(days=day)).timestamp() * 1_000_000)


def office_hours(rng: np.random.Generator, n: int, day: int) -> np.ndarray:
    """Microsecond timestamps within `day`: most during office hours, a thin tail at night."""
    hours = np.where(rng.random(n) < 0.85, rng.normal(13, 2.5, n), rng.uniform(0, 24, n)).clip(0, 23.999)
    return day_start_us(day) + (hours * 3600e6).astype(np.int64) + rng.integers(0, 1_000_000, n)


def take(values: Sequence[str | None] | pa.Array, index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow string array: C++ does the copying, no Python string per row."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return arr.take(pa.array(index, pa.int64()))


def const(value: str, n: int) -> pa.Array:
    return take([value], np.zeros(n, np.int64))


def times(us: np.ndarray) -> pa.Array:
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def uids(rng: np.random.Generator, n: int) -> pa.Array:
    """Zeek-style connection ids: 'C' and 17 base-62 characters, built as one buffer."""
    width = 18
    buf = np.empty((n, width), np.uint8)
    buf[:, 0] = ord("C")
    buf[:, 1:] = _BASE62[rng.integers(0, 62, size=(n, width - 1), dtype=np.uint8)]
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


def choose(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, float)
    return rng.choice(len(p), n, p=p / p.sum())


def exact_mix(rng: np.random.Generator, counts: Sequence[int]) -> np.ndarray:
    """A shuffled array with exactly counts[k] entries equal to k: table sizes stay exact, not just expected."""
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


def sort(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    return table.take(pc.sort_indices(table, [(k, "ascending") for k in keys]))


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")

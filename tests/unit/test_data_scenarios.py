"""The planted scenarios: one function per hunting notebook, and exactly the rows generator version 1 planted.

test_generate.py checks that every scenario can be found the way the answer key says; this file checks that what is
planted does not change by accident (a refactor that draws from the random stream in another order would still pass
the other tests, with different data for the same seed).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import pytest

from hunthub.data import generate, population, scenarios

HUNTS = Path(__file__).resolve().parents[2] / "notebooks" / "hunts"

# (events, days) -> sha256 of everything `plant` returns, for the default seed. Change these only together with
# generate.VERSION: the same seed then gives other rows, and answer keys written before no longer fit.
FINGERPRINTS = {
    (20_000, 7): "85f0cc96fe94b68c70ebe79e58ab34b98b3ff541fa643394a2dd04d520fc2c57",
    (6_000, 1): "aefbc6a9c585cb50ab59ce4133ceae94db8ff36ad85365135aa8d9611e976023",
}
# The same, readable: rows per table (a short window cuts the beaconing short).
COUNTS = {
    (20_000, 7): {"auth_events": 118, "zeek_conn": 510, "process_events": 12, "zeek_dns": 277, "zeek_http": 219},
    (6_000, 1): {"auth_events": 118, "zeek_conn": 361, "process_events": 12, "zeek_dns": 255, "zeek_http": 92},
}


def planted(events: int, days: int) -> scenarios.Planted:
    return scenarios.plant(population.build(generate.DEFAULT_SEED, events), generate.DEFAULT_SEED, days)


@pytest.mark.parametrize("events, days", sorted(FINGERPRINTS))
def test_planted_rows_are_those_of_generator_version_1(events, days):
    assert generate.VERSION == 1, "a new generator version: update FINGERPRINTS and COUNTS"
    p = planted(events, days)
    assert p.counts() == COUNTS[events, days]
    assert (len(p.indicators), len(p.findings)) == (5, 2)
    blob = json.dumps([p.rows, p.indicators, p.findings, p.key])  # order counts too: of rows, and of keys
    assert hashlib.sha256(blob.encode()).hexdigest() == FINGERPRINTS[events, days]


def test_every_hunting_notebook_has_its_scenario_function():
    names = sorted(path.stem.replace("-", "_") for path in HUNTS.glob("*.ipynb"))
    assert names and sorted(k for k in planted(6_000, 1).key if k != "benign") == names
    for name in names:
        doc = inspect.getdoc(getattr(scenarios, name))
        assert f"hunts/{name.replace('_', '-')}" in doc and f"scenarios.{name}" in doc, name

"""Public recordings of real attacks, for ingest tests: where they are on this machine, or why a test skips.

They are not in this repository (their licences differ from ours, and they are tens of MB): the product side keeps
copies beside the checkout, in `../shared/datasets/` (or where HUNTHUB_REAL_LOGS points):
- `security-datasets/`: OTRF Security-Datasets (MIT; formerly Mordor), Windows Security, Sysmon and other channels
  as the flat JSON that NXLog/Logstash forwarders write, one zip per recorded attack
  (https://github.com/OTRF/Security-Datasets, `datasets/atomic/windows/...`);
- `evtx-attack-samples/`: EVTX-ATTACK-SAMPLES (GPL-3.0), .evtx files recorded during attacks, by ATT&CK tactic
  (https://github.com/sbousseaden/EVTX-ATTACK-SAMPLES).
A test that needs one calls `recording(...)`, which skips the test with this explanation when it is absent.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def root() -> Path:
    return Path(os.environ.get("HUNTHUB_REAL_LOGS") or ROOT.parent / "shared" / "datasets")


def recording(relative: str) -> Path:
    """The recording at `relative` under the datasets root; skips the calling test when it is not there."""
    path = root() / relative
    if not path.exists():
        pytest.skip(
            f"public attack recording {relative} not found under {root()} "
            "(set HUNTHUB_REAL_LOGS; see tests/real_logs.py)"
        )
    return path


def unzipped(relative: str, into: Path) -> list[Path]:
    """The files of a zipped recording (Security-Datasets ships one JSON file per zip), extracted into `into`."""
    with zipfile.ZipFile(recording(relative)) as z:
        names = [n for n in z.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")]
        z.extractall(into, names)
    return [into / n for n in names]

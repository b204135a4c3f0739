"""Deliver the bundled notebooks into an analyst's home.

Runs as the home's owner, never as root: the home is the analyst's to shape, and a root process writing there
would follow whatever symlinks the analyst planted. Delivered notebooks are recorded, so an edited notebook is
never overwritten and a deleted one never comes back, while notebooks added to the bundle later still arrive.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from hunthub import atomic_file

RECORD = ".hunthub/seeded.json"


def seed(source: Path, home: Path) -> list[str]:
    """Copy notebooks not delivered before; returns the ones copied now (relative paths)."""
    record = home / RECORD
    try:
        delivered = set(json.loads(record.read_text()))
    except (OSError, ValueError):
        delivered = set()
    copied = []
    if source.is_dir():
        for nb in sorted(source.rglob("*.ipynb")):
            rel = nb.relative_to(source).as_posix()
            if rel in delivered:
                continue
            target = home / rel
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(nb, target)
                copied.append(rel)
            delivered.add(rel)
    record.parent.mkdir(exist_ok=True)
    atomic_file.write_json(record, sorted(delivered))
    return copied


if __name__ == "__main__":
    print(json.dumps(seed(Path(sys.argv[1]), Path(sys.argv[2]))))

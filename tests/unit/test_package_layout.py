"""The design card's folders (hub/, kernels/, spawner/) are the packages hunthub.hub, hunthub.kernels and
hunthub.spawner (pyproject.toml's package-dir): after the first command they import under those names from any
directory, from the checkout's own files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_folders_import_as_hunthub_packages_from_anywhere(tmp_path):
    code = (
        "import hunthub.kernels.session, hunthub.hub.config, hunthub.spawner.local\n"
        "for m in (hunthub.kernels.session, hunthub.hub.config, hunthub.spawner.local): print(m.__file__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the install, not the test's path
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [Path(line) for line in done.stdout.split()] == [
        ROOT / "kernels" / "session.py",
        ROOT / "hub" / "config.py",
        ROOT / "spawner" / "local.py",
    ]

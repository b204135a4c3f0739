"""Install hunthub's kernel specs and the server config enabling its warm-driver extension into an environment.

A wheel installs both as data files; an editable install (a checkout) needs this step, which `bin/hunthub` runs.
The Livy kernels are the exception: they stay in the package (see `livy_data_dir`).
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager


def _kernels_root() -> Path:
    return Path(str(resources.files("hunthub.kernels")))


def spec_dirs() -> list[Path]:
    root = _kernels_root() / "specs"
    return sorted(p for p in root.iterdir() if (p / "kernel.json").is_file())


def livy_data_dir() -> Path:
    """A Jupyter data dir holding only sparkmagic's kernel specs (pysparkkernel, sparkkernel), for clusters with
    Livy. Not installed anywhere: the spawner puts it on an analyst server's JUPYTER_PATH exactly when a Livy URL
    is configured, so without one nobody is offered kernels that cannot work."""
    return _kernels_root() / "livy-specs"


def install(prefix: str = sys.prefix) -> list[str]:
    ksm = KernelSpecManager()
    done = [ksm.install_kernel_spec(str(d), d.name, prefix=prefix, replace=True) for d in spec_dirs()]
    conf_dir = Path(prefix, "etc", "jupyter", "jupyter_server_config.d")
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in ("hunthub.json", "hunthub-graphs.json"):  # warm drivers; the offline graph view's data
        done.append(str(shutil.copy(_kernels_root() / "jupyter-config" / name, conf_dir / name)))
    return done

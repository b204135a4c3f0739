"""Install hunthub's kernel specs into an environment (what a wheel's data files do for a regular install;
an editable install needs this step)."""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpecManager

from hunthub import paths

SPECS_DIR = paths.PACKAGE_DIR.parent / "kernels" / "specs" if paths.source_checkout() else None


def spec_dirs():
    from importlib import resources

    root = SPECS_DIR or resources.files("hunthub.kernels") / "specs"
    return sorted(p for p in root.iterdir() if (p / "kernel.json").is_file())


def install(prefix: str = sys.prefix) -> list[str]:
    ksm = KernelSpecManager()
    return [ksm.install_kernel_spec(str(d), d.name, prefix=prefix, replace=True) for d in spec_dirs()]

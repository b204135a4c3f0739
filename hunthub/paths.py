"""Where hunthub's installed parts are: Spark home, the proxy binary, bundled notebooks."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def source_checkout() -> Path | None:
    """The repository root when hunthub runs from a checkout (editable install), else None."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "jupyterhub_config.py").is_file() else None


def spark_home() -> Path:
    """SPARK_HOME of the pinned pyspark wheel: the same Spark for the cluster and every driver."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_version() -> str:
    import pyspark

    return pyspark.__version__


def find_proxy_command() -> str:
    checkout = source_checkout()
    candidates = []
    if checkout:
        candidates.append(checkout / "node_modules" / ".bin" / "configurable-http-proxy")
    candidates.append(Path(sys.prefix) / "node_modules" / ".bin" / "configurable-http-proxy")
    for c in candidates:
        if c.exists():
            return str(c)
    return shutil.which("configurable-http-proxy") or "configurable-http-proxy"


def notebooks_dir() -> Path:
    """Bundled notebooks: the checkout's notebooks/ or the copy installed as package data."""
    checkout = source_checkout()
    if checkout and (checkout / "notebooks").is_dir():
        return checkout / "notebooks"
    return Path(sys.prefix) / "share" / "hunthub" / "notebooks"


def jupyterhub_config() -> Path:
    checkout = source_checkout()
    if checkout:
        return checkout / "jupyterhub_config.py"
    return Path(sys.prefix) / "share" / "hunthub" / "jupyterhub_config.py"


def venv_bin(name: str) -> str:
    """An executable installed beside this Python (the hub's venv), found without relying on PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def java_home() -> str | None:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if not java:
        return None
    return str(Path(java).resolve().parent.parent)

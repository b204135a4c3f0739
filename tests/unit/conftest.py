import os

import pytest
from traitlets.config import Config

from hunthub.settings import HuntHub


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Unit tests see only the environment they set: no HUNTHUB_* or JupyterHub variables from the shell, but for
    HUNTHUB_REAL_LOGS, which is the tests' own (where the public attack recordings are, tests/real_logs.py)."""
    for name in list(os.environ):
        if name == "HUNTHUB_REAL_LOGS":
            continue
        if name.startswith(("HUNTHUB_", "JUPYTERHUB_")) or name in {"YARN_CONF_DIR", "HADOOP_CONF_DIR"}:
            monkeypatch.delenv(name)


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def settings(state_dir):
    """Build HuntHub settings from a Config, as a hunthub config file would: settings(port=9000, ...)."""

    def make(**traits) -> HuntHub:
        # never this machine's own site configuration (/etc/hunthub/jupyterhub_config.d)
        site = str(state_dir / "jupyterhub_config.d")
        return HuntHub(config=Config({"HuntHub": {"state_dir": str(state_dir), "site_config_dir": site, **traits}}))

    return make

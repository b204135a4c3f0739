import shutil

import pytest

from tests.harness import fresh_state_dir, remove_analyst_accounts, stack_env, started_stack


@pytest.fixture(scope="session")
def stack():
    """One real `hunthub up` (embedded cluster, hub, proxy, demo data) shared by the end-to-end tests."""
    state = fresh_state_dir()
    # the site's own JupyterHub configuration (HuntHub.site_config_dir): test_site_config checks it took effect
    site = state / "jupyterhub_config.d"
    site.mkdir(parents=True)
    (site / "50-site.py").write_text('c.JupyterHub.tornado_settings = {"headers": {"X-Hunthub-Site": "50-site.py"}}\n')
    s = started_stack(stack_env(state))
    yield s
    code = s.stop()
    if code != 0:
        print(s.dump_logs())
    remove_analyst_accounts(state)
    shutil.rmtree(state.parent, ignore_errors=True)

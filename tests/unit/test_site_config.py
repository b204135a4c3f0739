"""The site's own JupyterHub configuration (jupyterhub_config.d) runs after hunthub's, and only if it is safe."""

import pytest
from traitlets.config import Config

from hunthub.hub import config as hubconfig


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "jupyterhub_config.d"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    return folder


def write(path, text, mode=0o644):
    path.write_text(text)
    path.chmod(mode)
    return path


def test_site_files_run_after_hunthub_in_name_order_and_win(settings, site):
    write(
        site / "20-limits.py", "c.JupyterHub.concurrent_spawn_limit = 3\nc.JupyterHub.services.append({'name': 'x'})\n"
    )
    write(site / "10-login.py", "c.JupyterHub.concurrent_spawn_limit = 99\nc.Authenticator.allowed_users = {'ana'}\n")
    write(site / "notes.txt", "not python: ignored")
    c = Config()
    hubconfig.configure(c, settings(site_config_dir=str(site)))
    assert c.JupyterHub.concurrent_spawn_limit == 3  # hunthub sized it from the machine; the site's last file wins
    assert c.Authenticator.allowed_users == {"ana"}
    names = [svc["name"] for svc in c.JupyterHub.services]
    assert "x" in names and len(names) > 1  # appended to hunthub's services, not replacing them


def test_no_folder_is_no_site_configuration(settings, tmp_path):
    assert hubconfig.apply_site_config(Config(), settings(site_config_dir=str(tmp_path / "absent"))) == []


def test_a_failing_site_file_stops_the_hub_with_its_name(settings, site):
    bad = write(site / "50-typo.py", "c.JupyterHub.concurrent_spawn_limit = undefined_name\n")
    with pytest.raises(hubconfig.HubConfigError, match=f"{bad}.*NameError"):
        hubconfig.apply_site_config(Config(), settings(site_config_dir=str(site)))


def test_site_files_another_account_could_change_are_refused(settings, site):
    loose = write(site / "30-open.py", "c.JupyterHub.concurrent_spawn_limit = 1\n", mode=0o666)
    with pytest.raises(hubconfig.HubConfigError, match="chmod go-w"):
        hubconfig.apply_site_config(Config(), settings(site_config_dir=str(site)))
    loose.chmod(0o644)
    site.chmod(0o777)
    with pytest.raises(hubconfig.HubConfigError, match=str(site)):
        hubconfig.apply_site_config(Config(), settings(site_config_dir=str(site)))

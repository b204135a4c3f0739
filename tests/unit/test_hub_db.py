"""hunthub.hub_db against real databases: the JupyterHub 5.5.4 one in tests/data, one the installed JupyterHub
makes itself, and the installed JupyterHub's own migrations and `jupyterhub upgrade-db`."""

import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import jupyterhub
import pytest
from jupyterhub import orm

from hunthub import hub_db

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "hub-5.5.4.sqlite"
JUPYTERHUB_5_5_REVISION = "4621fec11365"  # tests/data/README.md


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def hub_from_5_5(settings):
    """A state dir whose hub database is the one JupyterHub 5.5.4 made (tests/data/README.md)."""
    s = settings()
    s.hub_dir.mkdir(parents=True)
    shutil.copyfile(FIXTURE, s.hub_dir / "jupyterhub.sqlite")
    return s


def hub_config(tmp_path: Path, db: Path, extra: str = "") -> list[str]:
    """argv of a hub whose config file names `db`: what `upgrade-db` is given is the hub's own command line."""
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(f"c.JupyterHub.db_url = {url(db)!r}\n{extra}")
    return [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)]


def revision_in(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("select version_num from alembic_version").fetchone()[0]


def test_the_5_5_database_needs_an_upgrade_to_the_installed_jupyterhubs_head(tmp_path):
    db = tmp_path / "hub.sqlite"
    shutil.copyfile(FIXTURE, db)
    found = hub_db.schema(url(db))
    assert found.current == JUPYTERHUB_5_5_REVISION
    assert found.head != found.current and found.head in found.known
    assert found.needs_upgrade and not found.newer
    assert hub_db.describe(found.current) == "the JupyterHub 5 schema (revision 4621fec11365)"


def test_a_database_the_installed_jupyterhub_made_needs_nothing(tmp_path):
    db = tmp_path / "hub.sqlite"
    orm.new_session_factory(url(db))()  # JupyterHub creates its tables and stamps its own revision
    found = hub_db.schema(url(db))
    assert found.current == found.head == hub_db.head_revision()
    assert not found.needs_upgrade and not found.newer


def test_no_database_yet_is_left_for_jupyterhub_to_create(tmp_path):
    db = tmp_path / "hub.sqlite"
    found = hub_db.schema(url(db))
    assert found.current is None and not found.needs_upgrade
    assert not db.exists()  # looking did not create it
    sqlite3.connect(db).close()  # an empty file: no tables, no revision
    assert hub_db.current_revision(url(db)) is None


def test_a_database_from_a_newer_jupyterhub_is_refused_without_touching_it(settings, tmp_path):
    s = hub_from_5_5(settings)
    db = s.hub_dir / "jupyterhub.sqlite"
    with sqlite3.connect(db) as conn:  # a revision the installed JupyterHub's migrations do not have
        conn.execute("update alembic_version set version_num = 'ffffffffffff'")
    found = hub_db.schema(url(db))
    assert found.newer and not found.needs_upgrade
    with pytest.raises(hub_db.HubDatabaseError, match="a newer JupyterHub made it"):
        hub_db.ensure_current(s, url(db), hub_config(tmp_path, db), {}, say=lambda _: None)
    assert revision_in(db) == "ffffffffffff"
    assert not (s.state / "backups").exists()


def test_upgrade_db_runs_with_this_venvs_alembic_first_on_path():
    env = hub_db.upgrade_env({"PATH": "/usr/bin:/bin", "HUNTHUB_RESOLVED_SETTINGS": "/x.json"})
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert (Path(env["PATH"].split(":")[0]) / "alembic").exists()
    assert env["HUNTHUB_RESOLVED_SETTINGS"] == "/x.json"
    assert hub_db.upgrade_command(["/v/bin/jupyterhub", "-f", "/c.py"]) == [
        "/v/bin/jupyterhub",
        "upgrade-db",
        "-f",
        "/c.py",
    ]


def test_the_5_5_database_is_backed_up_then_upgraded_with_its_users_kept(settings, tmp_path):
    s = hub_from_5_5(settings)
    db = s.hub_dir / "jupyterhub.sqlite"
    said = []
    archive = hub_db.ensure_current(s, url(db), hub_config(tmp_path, db), {"PATH": "/usr/bin:/bin"}, said.append)
    assert revision_in(db) == hub_db.head_revision()
    assert archive.parent == s.state / "backups"
    assert archive.name.startswith(f"before-jupyterhub-{jupyterhub.__version__}-")
    assert archive.stat().st_mode & 0o777 == 0o600
    assert f"upgrading from the JupyterHub 5 schema (revision {JUPYTERHUB_5_5_REVISION})" in said[0]
    assert str(archive) in said[0]
    # the backup holds the database as 5.5 left it
    with tarfile.open(archive) as tar:
        (tmp_path / "before.sqlite").write_bytes(tar.extractfile("jupyterhub.sqlite").read())
    assert revision_in(tmp_path / "before.sqlite") == JUPYTERHUB_5_5_REVISION
    with sqlite3.connect(db) as conn:
        assert conn.execute("select name, admin from users order by id").fetchall() == [("admin", 1), ("ana", 0)]
        signups = conn.execute("select username, is_authorized from users_info order by username").fetchall()
        assert signups == [("admin", 1), ("ana", 1), ("bob", 0)]
    # a second run finds nothing to do
    assert hub_db.ensure_current(s, url(db), hub_config(tmp_path, db), {}, said.append) is None


def test_a_failed_upgrade_names_the_backup_and_its_log(settings, tmp_path):
    s = hub_from_5_5(settings)
    db = s.hub_dir / "jupyterhub.sqlite"
    broken = hub_config(tmp_path, db, extra="raise SystemExit('the site config is broken')\n")
    with pytest.raises(hub_db.HubDatabaseError) as failed:
        hub_db.ensure_current(s, url(db), broken, {"PATH": "/usr/bin:/bin"}, say=lambda _: None)
    [archive] = (s.state / "backups").glob("before-jupyterhub-*.tar.gz")
    message = str(failed.value)
    assert "`jupyterhub upgrade-db` failed" in message
    assert f"hunthub restore --force {archive}" in message
    assert "jupyterhub-upgrade-db.log" in message
    assert revision_in(db) == JUPYTERHUB_5_5_REVISION


def test_hunthub_upgrade_db_does_what_up_does_for_a_hub_started_otherwise(settings, tmp_path):
    # the hunthub-hub image runs `jupyterhub` itself: its operator runs `hunthub upgrade-db` once after updating
    s = hub_from_5_5(settings)
    env = {**os.environ, "HUNTHUB_STATE_DIR": str(s.state), "HUNTHUB_SITE_CONFIG_DIR": s.site_config_dir}
    hunthub = [str(Path(sys.executable).parent / "hunthub"), "upgrade-db"]
    done = subprocess.run(hunthub, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "upgrading from the JupyterHub 5 schema (revision 4621fec11365)" in done.stdout
    assert revision_in(s.hub_dir / "jupyterhub.sqlite") == hub_db.head_revision()
    [archive] = (s.state / "backups").glob("before-jupyterhub-*.tar.gz")
    assert str(archive) in done.stdout
    again = subprocess.run(hunthub, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to upgrade" in again.stdout, again.stdout + again.stderr

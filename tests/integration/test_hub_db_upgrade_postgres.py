"""hunthub.hub_db on a real PostgreSQL hub database: a database at JupyterHub 5's schema is backed up with
pg_dump and upgraded by `jupyterhub upgrade-db`, its rows kept.

The JupyterHub 5 database is made by the installed JupyterHub itself: its tables are created at its own schema,
rows added, then its own migrations take it down to JupyterHub 5's last revision (the SQLite upgrade starts from
a database JupyterHub 5.5.4 really made: tests/unit/test_hub_db.py, tests/e2e/test_hub_db_upgrade.py)."""

import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from jupyterhub import dbutil, orm
from traitlets.config import Config

from hunthub import backup, hub_db
from hunthub.hub.config import database_url
from hunthub.settings import HuntHub
from tests.postgres import postgres_server

pytestmark = pytest.mark.integration

JUPYTERHUB_5_REVISION = "4621fec11365"


def revision(url: str) -> str:
    with psycopg.connect(url) as db:
        return db.execute("select version_num from alembic_version").fetchone()[0]


def test_a_jupyterhub_5_postgres_database_is_dumped_then_upgraded(tmp_path):
    with postgres_server() as url:
        s = HuntHub(config=Config({"HuntHub": {"state_dir": str(tmp_path / "state"), "db_url": url}}))
        hub_url = database_url(s)  # the driver the hub uses (psycopg 3)
        db = orm.new_session_factory(hub_url)()
        db.add(orm.User(name="ana", admin=True))
        db.add(orm.Group(name="hunters"))
        db.commit()
        db.close()
        ini = tmp_path / "alembic.ini"
        dbutil.write_alembic_ini(str(ini), hub_url)
        alembic = str(Path(sys.executable).parent / "alembic")
        subprocess.run([alembic, "-c", str(ini), "downgrade", JUPYTERHUB_5_REVISION], check=True, capture_output=True)
        assert hub_db.schema(hub_url).needs_upgrade

        config = tmp_path / "jupyterhub_config.py"
        config.write_text(f"c.JupyterHub.db_url = {hub_url!r}\n")
        said = []
        argv = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)]
        archive = hub_db.ensure_current(s, hub_url, argv, {"PATH": "/usr/bin:/bin"}, said.append)

        assert revision(url) == hub_db.head_revision()
        assert "upgrading from the JupyterHub 5 schema (revision 4621fec11365)" in said[0]
        assert archive.stat().st_mode & 0o777 == 0o600
        with tarfile.open(archive) as tar:
            assert backup.PGDUMP_NAME in tar.getnames()
        with psycopg.connect(url) as conn:
            assert conn.execute("select name, admin from users").fetchall() == [("ana", True)]
            assert conn.execute("select name from groups").fetchall() == [("hunters",)]
        # the password in the URL is in neither the progress lines nor the upgrade's log
        password = url.split(":")[2].split("@")[0]
        assert not any(password in line for line in said)
        assert password not in (s.log_dir / "jupyterhub-upgrade-db.log").read_text()

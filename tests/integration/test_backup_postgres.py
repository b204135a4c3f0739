"""`hunthub backup` / `restore` of a PostgreSQL hub database, against a real PostgreSQL server."""

import psycopg
import pytest
from traitlets.config import Config

from hunthub import backup
from hunthub.settings import HuntHub
from tests.harness import free_port
from tests.postgres import postgres_server

pytestmark = pytest.mark.integration


def test_a_postgres_hub_database_comes_back_and_its_password_is_never_on_a_command_line(tmp_path, monkeypatch):
    seen = []
    real_run = backup.subprocess.run

    def run(argv, **kw):  # everything runs for real; pg_dump's and pg_restore's command lines are noted
        if argv[0] in ("pg_dump", "pg_restore"):
            seen.append(" ".join(argv))
        return real_run(argv, **kw)

    monkeypatch.setattr(backup.subprocess, "run", run)
    with postgres_server() as url:
        # a hub port nothing answers on: restore refuses while a hub answers
        s = HuntHub(
            config=Config({"HuntHub": {"state_dir": str(tmp_path / "a"), "db_url": url, "hub_port": free_port()}})
        )
        with psycopg.connect(url) as db:
            db.execute("create table users (name text)")
            db.execute("insert into users values ('ana')")
        summary = backup.backup(s, tmp_path / "pg.tar.gz", say=lambda *_: None)
        assert summary.files == [backup.PGDUMP_NAME]
        with psycopg.connect(url) as db:
            db.execute("delete from users")
            db.execute("insert into users values ('mallory')")
        backup.restore(s, tmp_path / "pg.tar.gz", say=lambda *_: None)
        with psycopg.connect(url) as db:
            assert db.execute("select name from users").fetchall() == [("ana",)]
        password = url.split(":")[2].split("@")[0]
        assert len(seen) == 2 and not any(password in line for line in seen)

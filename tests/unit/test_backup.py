"""hunthub.backup on a state dir made here: what goes in, what comes back, what is refused."""

import socket
import sqlite3
import tarfile

import pytest
from traitlets.config import Config

from hunthub import backup
from hunthub.settings import HuntHub


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def at(root, **traits) -> HuntHub:
    """Settings of a hub in `root` whose port nothing answers on (restore refuses while a hub answers)."""
    return HuntHub(config=Config({"HuntHub": {"state_dir": str(root), "hub_port": closed_port(), **traits}}))


def hub_state(root):
    s = at(root)
    s.hub_dir.mkdir(parents=True)
    db = sqlite3.connect(s.hub_dir / backup.SQLITE_NAME)
    db.execute("create table users (name text)")
    db.execute("insert into users values ('ana')")
    db.commit()
    db.close()
    for name in ("jupyterhub_cookie_secret", "crypt_key"):
        (s.hub_dir / name).write_text(f"{name}-of-{root.name}")
        (s.hub_dir / name).chmod(0o600)
    return s


def test_what_goes_in_comes_back_with_its_modes(tmp_path):
    a = hub_state(tmp_path / "a")
    summary = backup.backup(a, tmp_path / "out.tar.gz", say=lambda *_: None)
    assert sorted(summary.files) == ["crypt_key", "jupyterhub.sqlite", "jupyterhub_cookie_secret"]
    assert (tmp_path / "out.tar.gz").stat().st_mode & 0o777 == 0o600
    b = at(tmp_path / "b")
    backup.restore(b, tmp_path / "out.tar.gz", say=lambda *_: None)
    rows = sqlite3.connect(b.hub_dir / backup.SQLITE_NAME).execute("select name from users").fetchall()
    assert rows == [("ana",)]
    assert (b.hub_dir / "crypt_key").read_text() == "crypt_key-of-a"
    assert (b.hub_dir / "crypt_key").stat().st_mode & 0o777 == 0o600
    assert b.hub_dir.stat().st_mode & 0o777 == 0o700


def test_an_existing_hub_is_replaced_only_when_forced_and_kept_beside(tmp_path):
    a = hub_state(tmp_path / "a")
    backup.backup(a, tmp_path / "out.tar.gz", say=lambda *_: None)
    b = hub_state(tmp_path / "b")
    with pytest.raises(backup.BackupError, match="--force"):
        backup.restore(b, tmp_path / "out.tar.gz", say=lambda *_: None)
    assert (b.hub_dir / "crypt_key").read_text() == "crypt_key-of-b"
    backup.restore(b, tmp_path / "out.tar.gz", force=True, say=lambda *_: None)
    assert (b.hub_dir / "crypt_key").read_text() == "crypt_key-of-a"
    [kept] = b.hub_dir.glob("crypt_key.before-restore-*")
    assert kept.read_text() == "crypt_key-of-b"


def test_not_a_backup_and_no_database_are_clear_errors(tmp_path):
    empty = at(tmp_path / "empty")
    with pytest.raises(backup.BackupError, match="has `hunthub up` ever run"):
        backup.backup(empty, tmp_path / "x.tar.gz")
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="notes.txt")
    with pytest.raises(backup.BackupError, match="not a hunthub backup"):
        backup.restore(empty, bogus)
    (tmp_path / "text.tar.gz").write_text("hello")
    with pytest.raises(backup.BackupError, match="not a readable hunthub backup"):
        backup.restore(empty, tmp_path / "text.tar.gz")


def test_a_postgres_hub_without_its_client_tools_says_what_to_install(tmp_path, monkeypatch):
    s = at(tmp_path, db_url="postgresql://h:pw@db/hub")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backup.BackupError, match="postgresql-client"):
        backup.backup(s, tmp_path / "x.tar.gz", say=lambda *_: None)


def test_restore_refuses_while_a_hub_answers_on_its_port_even_without_pid_files(tmp_path):
    a = hub_state(tmp_path / "a")
    backup.backup(a, tmp_path / "out.tar.gz", say=lambda *_: None)
    with socket.socket() as hub:  # a hub under systemd leaves no `hunthub up` pid files
        hub.bind(("127.0.0.1", 0))
        hub.listen()
        port = hub.getsockname()[1]
        b = HuntHub(config=Config({"HuntHub": {"state_dir": str(tmp_path / "b"), "hub_port": port}}))
        with pytest.raises(backup.BackupError, match=f"answers on the hub's port {port}"):
            backup.restore(b, tmp_path / "out.tar.gz", say=lambda *_: None)
    assert not b.hub_dir.exists()

"""The hub database's schema, and `hunthub up` bringing one made by an older JupyterHub up to date.

JupyterHub records its database schema as an alembic revision (table `alembic_version`) and refuses to start on a
database whose revision is not the one its installed release expects: the operator is told to back it up and run
`jupyterhub upgrade-db`. After hunthub moves to a new JupyterHub line (5.5 -> 6.x), every existing install would
stop at that message. `hunthub up` does both steps itself, before anything starts:

1. a full hunthub backup (hunthub.backup: the database, catalog and secrets, 0600) named
   `<state>/backups/before-jupyterhub-<version>-<time>.tar.gz`, so a failed or unwanted upgrade can be undone
   with `hunthub restore --force <archive>` (JupyterHub's migrations have no way back that hunthub supports);
2. `jupyterhub upgrade-db` with the very configuration file and environment the hub runs with, so it upgrades the
   database the hub will open (SQLite in `<state>/hub` or PostgreSQL from HuntHub.db_url). For SQLite, JupyterHub
   also keeps its own copy beside the database (`jupyterhub.sqlite.<time>`).

A database with a revision the installed JupyterHub does not know was made by a newer JupyterHub: hunthub does
not downgrade, and says so instead of letting the hub fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hunthub.settings import HuntHub

# The last schema revision of JupyterHub lines hunthub has shipped, to name them in progress lines; a revision not
# listed is still upgraded, it is only named by its revision.
KNOWN_REVISIONS = {"4621fec11365": "JupyterHub 5"}


class HubDatabaseError(RuntimeError):
    """The hub database cannot be brought to the installed JupyterHub's schema; the message says why and what to
    do, and names the backup when one was made."""


@dataclass(frozen=True)
class Schema:
    current: str | None  # None: no hub database yet (JupyterHub creates it at its own revision)
    head: str  # the revision the installed JupyterHub expects
    known: frozenset[str]  # every revision the installed JupyterHub's migrations know

    @property
    def newer(self) -> bool:
        """Made by a newer JupyterHub than the installed one."""
        return self.current is not None and self.current not in self.known

    @property
    def needs_upgrade(self) -> bool:
        return self.current is not None and self.current != self.head and not self.newer


def _migrations():
    """JupyterHub's own alembic scripts, read where the installed package keeps them."""
    import jupyterhub
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(jupyterhub.__file__).parent / "alembic"))


def head_revision() -> str:
    heads = _migrations().get_heads()
    if len(heads) != 1:  # never the case in a JupyterHub release; an upgrade target must be unambiguous
        raise HubDatabaseError(f"the installed JupyterHub's migrations have {len(heads)} heads: {heads}")
    return heads[0]


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _migrations().walk_revisions())


def current_revision(db_url: str) -> str | None:
    """The revision stored in the database at `db_url`, or None when there is no database or no revision yet.
    Only reads: an SQLite file that is not there is not created."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).is_file()):
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if "alembic_version" not in inspect(conn).get_table_names():
                return None  # an empty database, or one from before JupyterHub 0.8: JupyterHub stamps it itself
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return row[0] if row else None
    finally:
        engine.dispose()


def schema(db_url: str) -> Schema:
    return Schema(current_revision(db_url), head_revision(), known_revisions())


def describe(revision: str) -> str:
    name = KNOWN_REVISIONS.get(revision)
    return f"the {name} schema (revision {revision})" if name else f"schema revision {revision}"


def upgrade_command(hub_argv: list[str]) -> list[str]:
    """`jupyterhub upgrade-db` with the arguments the hub itself is started with (its -f config file)."""
    return [hub_argv[0], "upgrade-db", *hub_argv[1:]]


def upgrade_env(hub_env: dict[str, str]) -> dict[str, str]:
    """The hub's environment, with this venv's bin first on PATH: `upgrade-db` runs the `alembic` command it finds
    there, which must be the one installed beside this JupyterHub, not another environment's."""
    venv_bin = str(Path(sys.executable).parent)
    return {**hub_env, "PATH": os.pathsep.join(p for p in (venv_bin, hub_env.get("PATH", "")) if p)}


def ensure_current(s: HuntHub, db_url: str, hub_argv: list[str], hub_env: dict[str, str], say=print) -> Path | None:
    """Upgrade the hub database when an older JupyterHub made it, after a backup; returns the backup's path, or
    None when there was nothing to do."""
    import jupyterhub

    from hunthub import backup

    found = schema(db_url)
    if found.newer:
        raise HubDatabaseError(
            f"the hub database has schema revision {found.current}, which the installed JupyterHub "
            f"{jupyterhub.__version__} does not know: a newer JupyterHub made it. hunthub does not downgrade a hub "
            "database: install the hunthub release that made it, or restore a backup made before "
            "(hunthub restore --force <archive>)"
        )
    if not found.needs_upgrade:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    archive = s.state / "backups" / f"before-jupyterhub-{jupyterhub.__version__}-{stamp}.tar.gz"
    try:
        backup.backup(s, archive, say=lambda _line: None)
    except (backup.BackupError, OSError) as e:
        raise HubDatabaseError(
            f"the hub database needs an upgrade from {describe(found.current)} to JupyterHub "
            f"{jupyterhub.__version__}'s, but backing it up first failed, so it was left as it was: {e}"
        ) from e
    say(
        f"      hub database: upgrading from {describe(found.current)} to JupyterHub {jupyterhub.__version__}'s "
        f"(revision {found.head}); backup at {archive}"
    )
    log_path = s.log_dir / "jupyterhub-upgrade-db.log"
    for d in (s.hub_dir, log_path.parent):  # the hub's working dir and logs (`up` made them already)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    restore_hint = f"the database as it was is in the backup {archive} (hunthub restore --force {archive})"
    with open(log_path, "ab") as log:
        try:
            done = subprocess.run(  # noqa: S603 - our own venv's jupyterhub
                upgrade_command(hub_argv),
                env=upgrade_env(hub_env),
                cwd=s.hub_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HubDatabaseError(f"`jupyterhub upgrade-db` could not run: {e}; {restore_hint}") from e
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
        raise HubDatabaseError(
            f"`jupyterhub upgrade-db` failed (exit {done.returncode}); {restore_hint}. Last lines of "
            f"{log_path}:\n{tail}"
        )
    after = current_revision(db_url)
    if after != found.head:
        raise HubDatabaseError(
            f"after `jupyterhub upgrade-db` the hub database has revision {after}, not {found.head}; {restore_hint}"
        )
    say(f"      hub database: upgraded to revision {found.head} (log {log_path})")
    return archive

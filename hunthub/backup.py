"""`hunthub backup` and `hunthub restore`: what a hub cannot be rebuilt without, in one archive.

The archive (a gzipped tar, mode 0600: it holds the hub's secrets) has:

- the hub database: a consistent copy of SQLite made with SQLite's own backup API (safe while the hub runs), or
  for PostgreSQL (HuntHub.db_url) a `pg_dump` in its custom format. It holds the users, their groups and admin
  flags, and NativeAuthenticator's sign-ups and approvals;
- the catalog (HuntHub.catalog_path): which tables exist and where;
- the hub's secrets and ledgers from `<state>/hub`: the cookie secret, the key that encrypts auth state, the
  admin's first password, the OAuth subject bindings and the accounts ledger (uids of analysts' accounts);
- manifest.json: what is in it, with SHA-256 sums checked at restore, and what is not.

Not in it, and named in its output: analysts' homes (notebooks), the warehouse's data files, hunthub's config
files and the site's jupyterhub_config.d. They are large or belong to the machine's own backups; a restore into a
fresh state dir needs them put back separately.

Restore puts the files into a state dir whose hub is not running, and refuses to overwrite an existing hub
database unless told to (then the files it replaces are kept beside, as `<name>.before-restore-<time>`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hunthub import __version__, atomic_file
from hunthub.settings import HuntHub

FORMAT = 1
# the hub's files worth keeping (others in <state>/hub are recreated: proxy pid, the live database's journal)
HUB_FILES = ("jupyterhub_cookie_secret", "crypt_key", "admin-password", "oauth-subjects.json", "accounts.json")
SQLITE_NAME = "jupyterhub.sqlite"
PGDUMP_NAME = "hub-database.pgdump"


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass
class Summary:
    archive: Path
    files: list[str]
    not_included: dict[str, str]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _postgres(s: HuntHub) -> bool:
    return s.db_url.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def _pg_command(s: HuntHub, program: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for pg_dump / pg_restore: the password goes in PGPASSWORD, never on the command line
    (which every local account can read in the process list)."""
    from sqlalchemy.engine import URL, make_url

    if not shutil.which(program):
        raise BackupError(
            f"the hub database is PostgreSQL and {program} is not installed (apt install postgresql-client)"
        )
    url = make_url(s.db_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    bare = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    )
    conninfo = bare.render_as_string(hide_password=False)
    return [program, "--dbname", conninfo], env


def not_included(s: HuntHub) -> dict[str, str]:
    return {
        "analysts' homes (notebooks)": str(s.homes_dir),
        "warehouse data files": s.warehouse,
        "hunthub config files": "/etc/hunthub/hunthub_config.py and the file HUNTHUB_CONFIG names",
        "site JupyterHub configuration": s.site_config_dir,
    }


def backup(s: HuntHub, archive: Path | None = None, say=print) -> Summary:
    """Write the archive (default `<state>/backups/hunthub-<time>.tar.gz`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    archive = Path(archive) if archive else s.state / "backups" / f"hunthub-{stamp}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="hunthub-backup-") as tmp:
        staged = Path(tmp)
        files: dict[str, dict] = {}

        def stage(name: str, source: Path | None = None, restore_to: str = "") -> None:
            target = staged / name
            if source is not None:
                shutil.copyfile(source, target)
            mode = source.stat().st_mode & 0o777 if source is not None else 0o600
            files[name] = {"sha256": _sha256(target), "mode": mode, "to": restore_to or name}
            say(f"  {name}")

        if _postgres(s):
            argv, env = _pg_command(s, "pg_dump")
            with open(staged / PGDUMP_NAME, "wb") as out:
                done = subprocess.run([*argv, "--format=custom"], stdout=out, stderr=subprocess.PIPE, env=env)  # noqa: S603
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.decode(errors='replace').strip()}")
            stage(PGDUMP_NAME)
        else:
            live = s.hub_dir / SQLITE_NAME
            if not live.is_file():
                raise BackupError(f"no hub database at {live}: has `hunthub up` ever run with this state dir?")
            # SQLite's backup API copies a consistent snapshot even while the hub writes
            src = sqlite3.connect(f"file:{live}?mode=ro", uri=True)
            dst = sqlite3.connect(staged / SQLITE_NAME)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            stage(SQLITE_NAME, None, f"hub/{SQLITE_NAME}")
        for name in HUB_FILES:
            path = s.hub_dir / name
            if path.is_file():
                stage(name, path, f"hub/{name}")
        if Path(s.catalog_path).is_file():
            stage("catalog.json", Path(s.catalog_path), "catalog")
        manifest = {
            "format": FORMAT,
            "hunthub": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "state_dir": s.state_dir,
            "database": "postgresql" if _postgres(s) else "sqlite",
            "files": files,
            "not_included": not_included(s),
        }
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        # a fresh temporary name beside the archive (never one planted under a guessable name), renamed when whole
        with atomic_file.replacing(archive) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name in ["manifest.json", *files]:
                tar.add(staged / name, arcname=name)
    return Summary(archive, list(files), manifest["not_included"])


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.extractfile("manifest.json")
        manifest = json.load(io.TextIOWrapper(member)) if member else None
    except (KeyError, ValueError) as e:
        raise BackupError(f"not a hunthub backup (no readable manifest.json): {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"not a hunthub backup of format {FORMAT}")
    return manifest


def _running(s: HuntHub) -> list[str]:
    """What of this state dir's hub still runs: `hunthub up`'s services by their pid files, or (under systemd,
    which keeps no such files) anything answering on the hub's own API port."""
    from hunthub.master_probe import tcp_reachable
    from hunthub.processes import live_services

    running = live_services(s.run_dir)
    if not running and tcp_reachable("127.0.0.1", s.hub_port, timeout=1) is None:
        running.append(f"something answers on the hub's port {s.hub_port}")
    return running


def restore(s: HuntHub, archive: Path, force: bool = False, say=print) -> Summary:
    """Put the archive's files into `s`'s state dir (and catalog path). The hub must not be running."""
    running = _running(s)
    if running:
        raise BackupError(f"hunthub is running with {s.state_dir} ({', '.join(running)}): stop it first")
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with tar` below
    except (OSError, tarfile.TarError) as e:
        raise BackupError(f"{archive} is not a readable hunthub backup: {e}") from e
    with tar, tempfile.TemporaryDirectory(prefix="hunthub-restore-") as tmp:
        manifest = _read_manifest(tar)
        files = manifest["files"]
        staged = Path(tmp)
        for name, meta in files.items():
            if "/" in name or name.startswith("."):
                raise BackupError(f"{archive}: unexpected member {name!r}")
            member = tar.extractfile(name)
            if member is None:
                raise BackupError(f"{archive}: {name} is missing")
            with open(staged / name, "wb") as out:
                shutil.copyfileobj(member, out)
            if _sha256(staged / name) != meta["sha256"]:
                raise BackupError(f"{archive}: {name} does not match its checksum: the archive is damaged")
        is_postgres = manifest.get("database") == "postgresql"
        if is_postgres != _postgres(s):
            have = "PostgreSQL" if _postgres(s) else "SQLite"
            raise BackupError(f"the backup holds a {manifest.get('database')} hub database, this hub uses {have}")
        database = s.hub_dir / SQLITE_NAME
        if not force and not is_postgres and database.exists():
            raise BackupError(
                f"{database} exists: restoring would replace this hub's users. Use --force to replace it (the "
                "current files are kept beside as *.before-restore-<time>)"
            )
        s.hub_dir.mkdir(parents=True, exist_ok=True)
        s.hub_dir.chmod(0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        restored = []
        for name, meta in files.items():
            if name == PGDUMP_NAME:
                argv, env = _pg_command(s, "pg_restore")
                done = subprocess.run(  # noqa: S603
                    [*argv, "--clean", "--if-exists", "--no-owner", str(staged / name)],
                    stderr=subprocess.PIPE,
                    env=env,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace').strip()}")
                restored.append(name)
                say(f"  {name} -> {s.db_url.split('@')[-1]}")
                continue
            target = Path(s.catalog_path) if meta["to"] == "catalog" else s.state / meta["to"]
            if target.exists():  # kept beside, not moved: a failure half way leaves every file in place
                shutil.copy2(target, target.with_name(f"{target.name}.before-restore-{stamp}"))
            if name == SQLITE_NAME:
                for journal in ("-wal", "-shm", "-journal"):  # a journal of the old database must not replay
                    Path(f"{target}{journal}").unlink(missing_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_file.write_bytes(target, (staged / name).read_bytes(), mode=meta["mode"], durable=True)
            restored.append(name)
            say(f"  {name} -> {target}")
    return Summary(archive, restored, manifest.get("not_included", {}))

"""A throwaway PostgreSQL server from Debian's `postgresql` package, for tests that need a real hub database.

`postgres_server()` initialises a cluster in a fresh temp dir, starts it on 127.0.0.1 and a free port (unix
socket only in that dir), creates role and database `hunthub` with a random password (scram-sha-256), yields
the SQLAlchemy URL ``postgresql://hunthub:<pw>@127.0.0.1:<port>/hunthub`` and, whatever happens, stops the
server and deletes the dir. PostgreSQL refuses to run as root, so as root every server command runs as the
`postgres` system account (`runuser -u postgres`), in a dir that account owns.

The server binaries missing is a test failure, not a skip: `bin/test` installs them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.harness import free_port

SERVER_GLOB = "/usr/lib/postgresql/*/bin/postgres"
SYSTEM_USER = "postgres"
ROLE = DATABASE = "hunthub"
MISSING = (
    "PostgreSQL server binaries not found ({glob}). This test needs a real PostgreSQL server: "
    "run bin/test, which installs Debian's `postgresql` package (or `apt-get install -y postgresql`)."
)


class PostgresError(RuntimeError):
    pass


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<ver>/bin that has initdb, pg_ctl and postgres, else None."""

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    for server in sorted(glob.glob(SERVER_GLOB), key=version, reverse=True):
        d = Path(server).parent
        if all(os.access(d / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def require_bin_dir() -> Path:
    """The server binaries' dir; fails the calling test (never skips) when PostgreSQL is not installed."""
    d = bin_dir()
    if d is None:
        pytest.fail(MISSING.format(glob=SERVER_GLOB), pytrace=False)
    return d


class _Cluster:
    """One initdb'd data dir and the commands that run against it, as `postgres` when we are root."""

    def __init__(self, bins: Path, base: Path):
        self.bins = bins
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.account = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresError(
                    f"running as root, but there is no `{SYSTEM_USER}` system account to run PostgreSQL as "
                    "(Debian's postgresql package creates it): run bin/test"
                ) from None
            os.chown(base, self.account.pw_uid, self.account.pw_gid)
        base.chmod(0o700)
        # nothing from the caller's environment may point the tools at another cluster
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")

    def run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [str(self.bins / tool), *args]
        if self.as_root:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        return subprocess.run(
            argv, cwd=self.base, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def check(self, tool: str, *args: str, timeout: float = 120) -> str:
        r = self.run(tool, *args, timeout=timeout)
        if r.returncode != 0:
            command = " ".join([tool, *args])
            raise PostgresError(f"{command} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{self.log_tail()}")
        return r.stdout

    def write_owned(self, path: Path, text: str, mode: int = 0o600) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if self.as_root:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "--- postgres.log ---\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no postgres.log)"

    def init(self, superuser_password: str) -> None:
        pwfile = self.base / "superuser-password"
        self.write_owned(pwfile, superuser_password + "\n")
        try:
            self.check(
                "initdb",
                "--pgdata",
                str(self.data),
                "--username",
                SYSTEM_USER,
                "--pwfile",
                str(pwfile),
                "--auth-local",
                "scram-sha-256",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                "\n# throwaway test server (tests/postgres.py)\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\n"
                "password_encryption = 'scram-sha-256'\n"
                # durability is pointless for a server deleted after the test
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 50\n"
                "shared_buffers = 32MB\n"
            )

    def start(self, attempts: int = 5) -> int:
        """Start on a free loopback port; returns the port. Retries when another process takes the port first."""
        for _ in range(attempts):
            port = free_port()
            r = self.run(
                "pg_ctl", "start", "--pgdata", str(self.data), "--log", str(self.log), "--wait", "--timeout", "60",
                "-o", f"-p {port}",
            )  # fmt: skip
            if r.returncode == 0:
                return port
            log = self.log_tail()
            self.stop()
            if "could not bind" not in log and "Address already in use" not in log:
                raise PostgresError(f"pg_ctl start failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{log}")
        raise PostgresError(f"no free port for PostgreSQL after {attempts} attempts:\n{self.log_tail()}")

    def server_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        pid = self.server_pid()
        r = self.run("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "fast", "--wait", "--timeout", "30")
        if r.returncode == 0 or pid is None:
            return
        # pg_ctl could not stop it: the postmaster we started gets SIGKILL (its children exit with it)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a fresh database on a private PostgreSQL server; remove it all afterwards."""
    bins = require_bin_dir()
    base = Path(tempfile.mkdtemp(prefix="hunthub-pg-"))
    cluster = None
    try:
        cluster = _Cluster(bins, base)
        superuser_password = secrets.token_hex(16)
        cluster.init(superuser_password)
        port = cluster.start()
        password = secrets.token_hex(16)
        admin = psycopg.connect(
            host="127.0.0.1", port=port, user=SYSTEM_USER, password=superuser_password, dbname="postgres"
        )
        try:
            admin.autocommit = True
            with admin.cursor() as cur:
                # utility statements take no bound parameters in psycopg 3: quote client-side
                cur.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password))
                )
                cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        finally:
            admin.close()
        yield f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{DATABASE}"
    finally:
        try:
            if cluster is not None:
                cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a throwaway PostgreSQL database (fails, never skips, when PostgreSQL is missing)."""
    with postgres_server() as url:
        yield url

"""Helpers the test tiers share: free ports, a real `hunthub up` in a private state dir, log dumps."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUNTHUB = str(Path(sys.executable).parent / "hunthub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> list[int]:
    """n distinct free ports (held open together, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def fresh_state_dir() -> Path:
    """A state dir analysts' accounts can traverse (pytest's own tmp dirs are 0700 under root)."""
    base = Path(tempfile.mkdtemp(prefix="hunthub-test-"))
    base.chmod(0o711)
    return base / "state"


def test_account_prefix() -> str:
    """`ht<4 hex>-`: a prefix of one test stack's analysts' accounts."""
    import secrets

    return f"ht{secrets.token_hex(2)}-"


def stack_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `hunthub up` that collides with nothing else on the machine."""
    port, api, hub, master, master_ui, worker_ui, status = free_ports(7)
    env = {
        **os.environ,
        "HUNTHUB_STATE_DIR": str(state_dir),
        "HUNTHUB_SITE_CONFIG_DIR": str(state_dir / "jupyterhub_config.d"),  # not this machine's own
        "HUNTHUB_PORT": str(port),
        "HUNTHUB_PROXY_API_PORT": str(api),
        "HUNTHUB_HUB_PORT": str(hub),
        "HUNTHUB_STATUS_PORT": str(status),
        "HUNTHUB_SPARK_MASTER_PORT": str(master),
        "HUNTHUB_SPARK_MASTER_WEBUI_PORT": str(master_ui),
        "HUNTHUB_SPARK_WORKER_WEBUI_PORT": str(worker_ui),
        "HUNTHUB_DEMO_DATA_EVENTS": "20000",
        # analysts' system accounts of a test stack never share names with a real install's (`hunt-`), nor with
        # another test stack's: an install refuses accounts of another (hunthub.spawner.accounts)
        "HUNTHUB_ACCOUNT_PREFIX": test_account_prefix(),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class Stack:
    """A `hunthub up` process; its output is collected line by line as it runs."""

    def __init__(self, env: dict[str, str], args: list[str] | None = None):
        self.env = env
        self.state_dir = Path(env["HUNTHUB_STATE_DIR"])
        self.port = int(env["HUNTHUB_PORT"])
        self.url = f"http://localhost:{self.port}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [HUNTHUB, "up", *(args or [])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_output(self, pattern: str, timeout: float = 300) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output)
            if m:
                return m
            if self.proc.poll() is not None:
                self._reader.join(5)
                m = re.search(pattern, self.output)
                if m:
                    return m
                raise AssertionError(f"hunthub up exited ({self.proc.returncode}) before {pattern!r}:\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {pattern!r}:\n{self.output}")

    def wait_up(self, timeout: float = 300) -> None:
        self.wait_for_output(r"hunthub is up: ", timeout)

    @property
    def admin_password(self) -> str:
        m = re.search(r"Admin password \(shown only this once\): (\S+)", self.output)
        return m.group(1) if m else (self.state_dir / "hub" / "admin-password").read_text().strip()

    def stop(self, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def dump_logs(self) -> str:
        parts = [f"--- hunthub up output ---\n{self.output}"]
        logs = [
            *(self.state_dir / "logs").glob("*.log"),
            *(self.state_dir / "homes").glob("*/.hunthub/logs/*.log"),
            *(self.state_dir / "spark" / "work").glob("app-*/*/stderr"),
        ]
        for log in sorted(logs):
            text = log.read_text(errors="replace").splitlines()[-60:]
            parts.append(f"--- {log.relative_to(self.state_dir)} (last 60 lines) ---\n" + "\n".join(text))
        return "\n".join(parts)


def started_stack(env: dict[str, str], args: list[str] | None = None, timeout: float = 300, more_logs=None) -> Stack:
    """A `hunthub up` that is up; when it does not come up, it is stopped and its logs (and `more_logs()`, an
    outside service's) are printed."""
    stack = Stack(env, args)
    try:
        stack.wait_up(timeout)
    except AssertionError:
        stack.stop()
        print(stack.dump_logs(), *(["\n--- outside service ---\n", more_logs()] if more_logs else []))
        raise
    return stack


@contextlib.contextmanager
def running_stack(env: dict[str, str], args: list[str] | None = None, timeout: float = 300):
    """A `hunthub up` that is up for the block (its logs printed when it does not come up); afterwards stopped,
    with the analysts' accounts it made and its state dir removed."""
    state = Path(env["HUNTHUB_STATE_DIR"])
    stack = Stack(env, args)
    try:
        stack.wait_up(timeout)
        yield stack
    except Exception:
        print(stack.dump_logs())
        raise
    finally:
        stack.stop()
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)


@contextlib.contextmanager
def stack_with_config(
    state: Path, env: dict[str, str], config: list[str], service: str, service_logs: Callable[[], str]
):
    """A `hunthub up` (state dir `state`, environment `env`) whose hunthub_config.py holds the lines `config`, for
    tests that run it against an outside service of their own (an identity provider, a directory). When it does
    not come up, its logs and the service's (`service_logs()`, headed `service`) are printed; when the block ends,
    it is stopped (its logs printed if it fails to stop cleanly), with the analysts' accounts it made and its state
    dir removed."""
    path = state.parent / "hunthub_config.py"
    path.write_text("\n".join(config) + "\n")
    stack = started_stack({**env, "HUNTHUB_CONFIG": str(path)}, more_logs=lambda: f"{service}:\n{service_logs()}")
    try:
        yield stack
    finally:
        if stack.stop() != 0:
            print(stack.dump_logs())
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)


def write_secret(path: Path, secret: str) -> Path:
    """`secret` and a newline in a file only its owner can read (0600), as hunthub's `*_file` settings want it."""
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def remove_analyst_accounts(state_dir: Path) -> None:
    """Delete the system accounts that the install in `state_dir` created for its analysts, and no other: the
    install's ledger names it, and each account's comment names its install (hunthub.spawner.accounts)."""
    import pwd

    from hunthub.spawner import accounts

    ledger_path = Path(state_dir) / "hub" / "accounts.json"
    if not ledger_path.exists():
        return
    install = accounts.Ledger(ledger_path).install
    for account in pwd.getpwall():
        if accounts.install_of(account) == install:
            subprocess.run(["userdel", account.pw_name], capture_output=True)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose command line or environment mentions `text` (e.g. a state dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
            status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if status != "Z" and (text in cmdline or text in environ):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found

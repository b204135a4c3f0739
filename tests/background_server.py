"""What the tests' own servers (tests/ldap_server.py, tests/oidc_provider.py) share: a child process in its own
process group, its output in a log file under a temporary directory, and the stop that ends both.

A subclass makes `self._tmp` and starts its program with `_spawn`, which stops it again when it does not come up;
`stop()` ends the whole process group (SIGTERM, then SIGKILL after `stop_timeout` seconds), keeps the log's text for
`logs()` and removes the temporary directory. Files that hold secrets are made with `write_private`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Self


def write_private(path: Path, data: str | bytes) -> Path:
    """A new file (it must not exist yet) holding `data`, readable by its owner only (0600) from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


class BackgroundServer:
    """Runs a program as a child process (its own process group) for the length of a `with` block."""

    # seconds between SIGTERM and SIGKILL
    stop_timeout: float = 5.0

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._tmp: Path | None = None
        self._log_path: Path | None = None
        self._logs_after_stop: str | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> Self:
        raise NotImplementedError

    def _spawn(self, argv: list[str], log_name: str, ready: Callable[[], None], **popen_kwargs) -> None:
        """Start `argv` in a new session, its stdout and stderr going to `log_name` in the temporary directory, then
        call `ready` (which returns once the server answers, or raises): if it raises, the server is stopped."""
        self._log_path = self._tmp / log_name
        self._logs_after_stop = None
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **popen_kwargs,
            )
        try:
            ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self._tmp is not None:
            self._logs_after_stop = self._read_log()
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _read_log(self) -> str:
        if self._log_path is None:
            return ""
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def logs(self) -> str:
        """Everything the program printed; still available after stop()."""
        if self._logs_after_stop is not None:
            return self._logs_after_stop
        return self._read_log()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

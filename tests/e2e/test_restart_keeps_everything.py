"""Stopping and starting hunthub loses nothing: a user, their approval, their notebook, a catalog entry and the
admin's password are all there after a restart on the same state dir. And, where systemd is PID 1, the units of
`hunthub install-service` start, stop, and come back after their hub is killed."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from hunthub import catalog, service_units
from tests.harness import HUNTHUB, fresh_state_dir, remove_analyst_accounts, stack_env, started_stack
from tests.hub_client import HubUser, logs_in, sign_up_approved

pytestmark = pytest.mark.e2e

ANALYST = "keeper"
PASSWORD = "kept-across-restarts-9"
NOTEBOOK = "case-notes.ipynb"
CELL = "print('lateral movement from 10.0.4.17')"


def test_stopping_and_starting_the_stack_loses_nothing():
    state = fresh_state_dir()
    env = stack_env(state)
    stack = started_stack(env)
    try:
        # an analyst signs up and the admin approves them
        sign_up_approved(stack.url, stack.admin_password, ANALYST, PASSWORD)
        admin_password = stack.admin_password
        # the analyst saves a notebook in their server (left running: the stack stops with it, as it would)
        analyst = HubUser(stack.url, ANALYST, PASSWORD)
        analyst.start_server()
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
        saved = analyst.server("PUT", f"/contents/{NOTEBOOK}", json={"type": "notebook", "content": notebook})
        assert saved.status_code in (200, 201), saved.text
        # and an admin registers a table of their own
        catalog.register(state / "catalog.json", catalog.Table("case_9001", "hdfs://nn.soc.example/evidence/9001"))
        assert stack.stop() == 0, stack.dump_logs()

        stack = started_stack(env)  # the same environment: the same state dir and ports
        # the admin's password was kept, not made again
        assert "shown only this once" not in stack.output
        assert logs_in(stack.url, "admin", admin_password), "the admin's password no longer works"
        # the user and their approval: they log straight in (an unapproved user gets no login cookie)
        assert logs_in(stack.url, ANALYST, PASSWORD), "the approved analyst can no longer log in"
        assert not logs_in(stack.url, ANALYST, "not-the-password")
        # their notebook, with its content
        analyst = HubUser(stack.url, ANALYST, PASSWORD)
        analyst.start_server()
        got = analyst.server("GET", f"/contents/{NOTEBOOK}")
        assert got.status_code == 200, f"the notebook is gone: {got.status_code} {got.text[:300]}"
        assert [c["source"] for c in got.json()["content"]["cells"]] == [CELL]
        # the catalog entry, and the demo tables were not written again
        tables = catalog.load(state / "catalog.json")
        assert tables["case_9001"].path == "hdfs://nn.soc.example/evidence/9001"
        assert "already there" in stack.output
    except Exception:
        print(stack.dump_logs())
        raise
    finally:
        stack.stop()
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)


# --- systemd, for real ---------------------------------------------------------------------------------------


def systemctl(*args: str, check: bool = True) -> str:
    done = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, f"systemctl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def hub_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api/", timeout=2) as r:  # noqa: S310
            return r.status == 200
    except OSError:
        return False


def wait_until(check, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(
    not service_units.systemd_running(),
    reason="systemd is not PID 1 on this machine, so no unit can be started; systemd-analyze verify checks the "
    "units instead (tests/unit/test_service_units.py)",
)
@pytest.mark.skipif(os.geteuid() != 0, reason="installing and starting system units needs root")
def test_the_units_start_stop_and_come_back_after_their_hub_is_killed():
    state = fresh_state_dir()
    env = stack_env(state)
    port = int(env["HUNTHUB_PORT"])
    # a prefix of its own, in the runtime unit dir: never this machine's hunthub, and gone at the next boot
    prefix = f"hunthub-t{secrets.token_hex(3)}"
    unit_dir = Path("/run/systemd/system")
    hub, target = f"{prefix}.service", f"{prefix}.target"
    done = subprocess.run(
        [HUNTHUB, "install-service", "--dir", str(unit_dir), "--env-dir", str(state.parent / "etc"),
         "--unit-prefix", prefix],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        systemctl("daemon-reload")
        systemctl("start", target)
        wait_until(lambda: hub_answers(port), "the hub's unit to answer")

        systemctl("stop", target)
        assert systemctl("is-active", hub, check=False) == "inactive"
        assert not hub_answers(port)

        systemctl("start", target)
        wait_until(lambda: hub_answers(port), "the hub to answer after a start")
        pid = int(systemctl("show", "-p", "MainPID", "--value", hub))
        os.kill(pid, signal.SIGKILL)  # a crash: Restart=on-failure brings it back
        wait_until(
            lambda: int(systemctl("show", "-p", "MainPID", "--value", hub)) not in (0, pid) and hub_answers(port),
            "systemd to restart the killed hub",
        )
        assert int(systemctl("show", "-p", "NRestarts", "--value", hub)) >= 1
    except Exception:
        print(subprocess.run(["journalctl", "-u", f"{prefix}*", "-n", "200", "--no-pager"],
                             capture_output=True, text=True).stdout)  # fmt: skip
        raise
    finally:
        systemctl("stop", target, check=False)
        for unit in unit_dir.glob(f"{prefix}*"):
            unit.unlink()
        systemctl("daemon-reload", check=False)
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)


# --- the units' commands, without systemd ------------------------------------------------------------------------

# systemd's own PATH for services (systemd 252, merged /usr)
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"


def unit_entries(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("=", 1)) for line in path.read_text().splitlines() if "=" in line and line[0] != "#"]


def unit_words(value: str) -> list[str]:
    """A command line of a unit as systemd splits it (quotes, backslashes), '$$' and '%%' undone."""
    return [w.replace("$$", "$").replace("%%", "%") for w in shlex.split(value)]


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, quoted = line.partition("=")
            values[key] = re.sub(r"\\(.)", r"\1", quoted[1:-1])
    return values


class UnitRun:
    """Run one service unit's commands the way systemd would: its User=, WorkingDirectory=, and an environment of
    systemd's basics, the account's, Environment= and EnvironmentFile= only; '+' commands as root."""

    def __init__(self, path: Path):
        self.path, self.entries = path, unit_entries(path)
        self.proc: subprocess.Popen | None = None

    def get(self, key: str) -> list[str]:
        return [v for k, v in self.entries if k == key]

    def env(self, user: str) -> dict[str, str]:
        account = pwd.getpwnam(user)
        env = {"PATH": SYSTEMD_PATH, "HOME": account.pw_dir, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8"}
        for value in self.get("Environment"):
            key, _, text = unit_words(value)[0].partition("=")
            env[key] = text
        for value in self.get("EnvironmentFile"):
            env.update(env_file_values(Path(value.lstrip("-"))))
        return env

    def run(self, key: str, log) -> subprocess.Popen:
        (command,) = self.get(key)
        privileged = command.startswith("+")
        user = "root" if privileged else self.get("User")[0]
        cwd = self.get("WorkingDirectory")[0].lstrip("-")
        return subprocess.Popen(
            unit_words(command.lstrip("+")), env=self.env(user), cwd=cwd if Path(cwd).is_dir() else "/",
            user=user, group=user, extra_groups=[], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start(self, log) -> None:
        pre = self.run("ExecStartPre", log)
        assert pre.wait(900) == 0, f"ExecStartPre of {self.path.name} failed; see the log"
        self.proc = self.run("ExecStart", log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # KillMode=mixed: the main process first, then the rest of its group
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="the units run the hub as root and Spark as its own account")
def test_the_units_commands_bring_up_a_working_hub(tmp_path):
    """Where no systemd can start them, the units' own commands, environment and accounts, run as systemd would
    run them, give a hub that answers and logs its admin in: what `systemd-analyze verify` cannot tell."""
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="0")
    port = int(env["HUNTHUB_PORT"])
    units = state.parent / "units"
    done = subprocess.run(
        [HUNTHUB, "install-service", "--dir", str(units), "--env-dir", str(state.parent / "etc")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [UnitRun(units / f"hunthub{name}.service") for name in ("-spark-master", "-spark-worker", "")]
    log_path = tmp_path / "units.log"
    try:
        with open(log_path, "ab") as log:
            for run in runs:
                run.start(log)
            wait_until(lambda: hub_answers(port), "the hub started from its unit", 300)
        assert runs[0].proc.poll() is None and runs[1].proc.poll() is None
        assert logs_in(f"http://127.0.0.1:{port}", "admin", (state / "hub" / "admin-password").read_text().strip())
        # the daemons run as their account, not as root
        for run in runs[:2]:
            assert Path(f"/proc/{run.proc.pid}").stat().st_uid == pwd.getpwnam("hunthub-spark").pw_uid
    except BaseException:
        print(log_path.read_text(errors="replace")[-20000:])
        raise
    finally:
        for run in reversed(runs):
            run.stop()
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)

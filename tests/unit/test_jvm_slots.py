"""The host-wide limit on driver JVM starts, with real processes holding real flocks."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hunthub import jvm_slots

HOLDER = r"""
import sys
from hunthub import jvm_slots

def waiting(slots, waited):
    print(f"waiting: {jvm_slots.waiting_message(slots, waited)}", flush=True)

with jvm_slots.start_slot(sys.argv[1], on_wait=waiting, max_wait=float(sys.argv[2]), report_every=0.5) as slot:
    print(f"held {slot}", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """A process that takes a start slot (or waits for one, saying so) and keeps it until told to stop."""

    def __init__(self, directory, max_wait: float = 300, user: str | None = None):
        preexec = None
        if user:
            pw = pwd.getpwnam(user)

            def preexec():
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)

        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(directory), str(max_wait)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=preexec,
        )  # fmt: skip

    def line(self) -> str:
        return self.proc.stdout.readline().strip()

    def first_line_other_than_waiting(self) -> str:
        while (line := self.line()).startswith("waiting"):
            pass
        return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
        self.proc.wait(30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture
def holders():
    started: list[Holder] = []

    def start(*args, **kwargs) -> Holder:
        started.append(Holder(*args, **kwargs))
        return started[-1]

    yield start
    for h in started:
        if h.proc.poll() is None:
            h.kill()


def test_prepare_makes_exactly_n_slots_everyone_can_read(tmp_path):
    d = jvm_slots.prepare(tmp_path / "slots", 3)
    slots = jvm_slots.slot_files(d)
    assert len(slots) == 3
    assert d.stat().st_mode & 0o777 == 0o755
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in slots)
    jvm_slots.prepare(d, 2)  # the admin lowered the setting
    assert len(jvm_slots.slot_files(d)) == 2


def test_prepare_refuses_less_than_one_slot(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        jvm_slots.prepare(tmp_path / "slots", 0)


def test_without_a_slot_directory_there_is_no_limit(tmp_path):
    for directory in (None, "", tmp_path / "absent"):
        with jvm_slots.start_slot(directory) as slot:
            assert slot is None


def test_n_holders_then_the_next_waits_says_so_and_gets_the_slot_of_a_crashed_holder(tmp_path, holders):
    d = jvm_slots.prepare(tmp_path / "slots", 2)
    first, second = holders(d), holders(d)
    first_held, second_held = first.line(), second.line()
    assert {first_held, second_held} == {f"held {p}" for p in jvm_slots.slot_files(d)}  # two different slots
    third = holders(d)
    said = third.line()
    assert said.startswith("waiting: waiting for one of 2 driver start slots on this host"), said
    assert third.proc.poll() is None
    first.kill()  # a kernel that crashed mid-start: its flock goes with its descriptors
    assert third.first_line_other_than_waiting() == first_held
    second.stop()
    third.stop()


def test_a_released_slot_goes_to_a_waiting_start(tmp_path, holders):
    d = jvm_slots.prepare(tmp_path / "slots", 1)
    first = holders(d)
    assert first.line().startswith("held ")
    second = holders(d)
    assert second.line().startswith("waiting: ")
    first.stop()  # its SparkContext is up
    assert second.first_line_other_than_waiting() == f"held {jvm_slots.slot_files(d)[0]}"
    second.stop()


def test_a_wait_is_bounded_then_the_start_goes_ahead_without_a_slot(tmp_path, holders):
    d = jvm_slots.prepare(tmp_path / "slots", 1)
    first = holders(d)
    assert first.line().startswith("held ")
    t0 = time.monotonic()
    impatient = holders(d, max_wait=1)
    assert impatient.first_line_other_than_waiting() == "held None"
    assert time.monotonic() - t0 < 60
    first.stop()
    impatient.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a holder as another account")
def test_an_account_without_write_access_still_takes_a_slot(holders):
    base = Path(tempfile.mkdtemp(prefix="hunthub-slots-"))  # pytest's tmp_path is private to root
    base.chmod(0o755)
    d = jvm_slots.prepare(base / "slots", 1)
    nobody = holders(d, user="nobody")
    assert nobody.line() == f"held {jvm_slots.slot_files(d)[0]}"
    root_holder = holders(d)
    assert root_holder.line().startswith("waiting: ")  # nobody's read-only flock really holds the slot
    nobody.stop()
    assert root_holder.first_line_other_than_waiting().startswith("held ")
    root_holder.stop()
    shutil.rmtree(base)

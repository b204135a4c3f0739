"""Preflight checks shared by `hunthub up` and `hunthub doctor`."""

import os
import shutil
import socket

import pytest

from hunthub import checks


def fake_java(directory, version_line):
    """A `bin/java` that reports `version_line` the way a real JVM does (on stderr)."""
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return java


def test_java_version_of_this_machine():
    java = shutil.which("java")
    assert java, "Spark needs Java; this machine has no `java` on PATH"
    assert checks.java_version(java) >= 17


@pytest.mark.parametrize(
    ("line", "major"),
    [
        # stands in for a Java 11 install, which Debian 12 does not ship
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21.0.4" 2024-07-16', 21),
        ('openjdk version "17" 2021-09-14', 17),
    ],
)
def test_java_version_parses_vendor_output(tmp_path, line, major):
    assert checks.java_version(str(fake_java(tmp_path, line))) == major


def test_java_version_of_something_that_is_not_java(tmp_path):
    assert checks.java_version(str(fake_java(tmp_path, "hello"))) is None
    assert checks.java_version(str(tmp_path / "missing")) is None


def test_java_11_fails_the_check(monkeypatch, tmp_path):
    # stands in for a Java 11 install, which Debian 12 does not ship
    fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15')
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    check = checks.check_java()
    assert not check.ok
    assert "Java 11" in check.detail
    assert "17" in check.fix


def test_java_home_without_java_fails_with_a_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    check = checks.check_java()
    assert not check.ok
    assert str(tmp_path) in check.detail
    assert "JAVA_HOME" in check.fix
    assert "->" in check.line()


def test_java_of_this_machine_passes(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert checks.check_java().ok


@pytest.fixture
def held_port():
    """A port some process (this test) listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_port_in_use_is_not_free(held_port):
    assert checks.port_free("127.0.0.1", held_port) is False
    # binding all addresses conflicts with a loopback listener too
    assert checks.port_free("0.0.0.0", held_port) is False


def test_released_port_is_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
    assert checks.port_free("127.0.0.1", port) is True


def test_check_ports_names_the_process_holding_the_port(held_port):
    [check] = checks.check_ports({"hub (public)": ("127.0.0.1", held_port)})
    assert not check.ok
    assert f"pid {os.getpid()} (" in check.detail
    assert "--port" in check.fix


def test_check_ports_passes_a_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [check] = checks.check_ports({"Spark master": ("127.0.0.1", port)})
    assert check.ok

"""Preflight checks shared by `hunthub up` (which refuses to start on a failure) and `hunthub doctor`.

Each check returns a `Check`: what was looked at, whether it is fine, and what to do when it is not.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hunthub import paths

MIN_JAVA = 17
# Spark 4 supports Java 17 and 21; newer releases are not yet supported by Spark.
MAX_TESTED_JAVA = 21


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False

    def line(self) -> str:
        mark = "ok " if self.ok else "!! "
        if self.ok and self.warning:
            mark = "?  "
        text = f"{mark} {self.name}: {self.detail}"
        if self.fix and (not self.ok or self.warning):
            text += f"\n      -> {self.fix}"
        return text


def java_version(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major  # "1.8.0" is Java 8


def find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def check_java() -> Check:
    fix = (
        f"Install Java {MIN_JAVA} (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) "
        "or point JAVA_HOME at a Java 17 or 21 installation."
    )
    java = find_java()
    if java is None:
        where = (
            f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java"
            if os.environ.get("JAVA_HOME")
            else ("no `java` on PATH and JAVA_HOME is not set")
        )
        return Check("Java", False, f"not found ({where}); Spark needs Java {MIN_JAVA}+", fix)
    version = java_version(java)
    if version is None:
        return Check("Java", False, f"{java} did not report a version", fix)
    if version < MIN_JAVA:
        return Check("Java", False, f"{java} is Java {version}; Spark 4 needs Java {MIN_JAVA} or newer", fix)
    if version > MAX_TESTED_JAVA:
        return Check("Java", True, f"Java {version} ({java}); Spark 4 is tested on 17 and 21", fix, warning=True)
    return Check("Java", True, f"Java {version} ({java})")


def check_spark() -> Check:
    try:
        home = paths.spark_home()
        version = paths.spark_version()
    except ImportError:
        return Check("Spark", False, "pyspark is not installed", "Re-run `bin/hunthub up` to install it.")
    launcher = home / "bin" / "spark-class"
    if not os.access(launcher, os.X_OK):
        return Check("Spark", False, f"{launcher} is missing or not executable", "Reinstall pyspark.")
    return Check("Spark", True, f"Spark {version} ({home})")


def check_proxy(command: str) -> Check:
    fix = "Run `bin/hunthub up` (installs it from npm into the project) or `npm install configurable-http-proxy`."
    exe = shutil.which(command)
    if exe is None:
        return Check("Proxy", False, f"configurable-http-proxy not found ({command})", fix)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("Proxy", False, f"{exe} does not run: {e}", fix + " Node.js 18+ is needed.")
    if out.returncode != 0:
        return Check("Proxy", False, f"{exe} --version failed: {out.stderr.strip()[:200]}", fix)
    return Check("Proxy", True, f"configurable-http-proxy {out.stdout.strip()} ({exe})")


def port_holder(port: int) -> str | None:
    """`pid N (command)` of the process listening on a TCP port, when /proc tells."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    return f"pid {proc.name} ({cmd[:80]})"
        except OSError:
            continue
    return "another process"


def port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the servers themselves do: connections lingering in TIME_WAIT must not count as "in use"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip or "0.0.0.0", port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports(ports: dict[str, tuple[str, int]]) -> list[Check]:
    checks = []
    for what, (ip, port) in ports.items():
        if port_free(ip, port):
            checks.append(Check(f"Port {port}", True, f"free ({what})"))
        else:
            holder = port_holder(port) or "another process"
            checks.append(
                Check(
                    f"Port {port}",
                    False,
                    f"needed for {what} on {ip}, but in use by {holder}",
                    f"Stop that process, or give hunthub another port ({_port_hint(what)}).",
                )
            )
    return checks


def _port_hint(what: str) -> str:
    hints = {
        "hub (public)": "bin/hunthub up --port N",
        "proxy API": "HUNTHUB_PROXY_API_PORT=N",
        "hub API": "HUNTHUB_HUB_PORT=N",
        "Spark master": "HUNTHUB_SPARK_MASTER_PORT=N",
        "Spark master UI": "HUNTHUB_SPARK_MASTER_WEBUI_PORT=N",
        "Spark worker UI": "HUNTHUB_SPARK_WORKER_WEBUI_PORT=N",
    }
    return hints.get(what, "see `hunthub up --help`")


def check_state_dir(state_dir: Path) -> Check:
    fix = f"Make {state_dir} writable for this user, or choose another with HUNTHUB_STATE_DIR=/path."
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state_dir):
            pass
    except OSError as e:
        return Check("State dir", False, f"{state_dir} is not writable ({e.strerror})", fix)
    free = shutil.disk_usage(state_dir).free / 2**30
    if free < 2:
        return Check("State dir", True, f"{state_dir}: only {free:.1f} GiB free", "Free some disk space.", True)
    return Check("State dir", True, f"{state_dir} ({free:.0f} GiB free)")


def check_tls(s) -> Check:
    """What the hub serves HTTPS with, if anything: the pair must load together, and its key stay private."""
    from hunthub import tls

    try:
        served = tls.pair(s)
    except tls.TLSError as e:
        return Check("HTTPS", False, str(e), "Fix HuntHub.ssl_cert / ssl_key, or leave both empty for plain HTTP.")
    if served is None:
        behind = f"; analysts use {s.public_url}" if s.public_url.startswith("https://") else ""
        return Check("HTTPS", True, f"plain HTTP on {s.ip}:{s.port}{behind}")
    kind = "self-signed trial certificate" if s.ssl_self_signed and not s.ssl_cert else "certificate"
    return Check("HTTPS", True, f"{kind} {served[0]}")


def check_public_url(s) -> Check:
    """A warning, not a refusal: a hub on every interface is meant for other machines, but a public_url left to
    its default then names localhost, which on an analyst's machine is their own computer."""
    host = urllib.parse.urlparse(s.public_url).hostname
    if s.ip not in ("", "0.0.0.0", "::") or host not in ("localhost", "127.0.0.1", "::1"):  # noqa: S104 - compared
        return Check("Public URL", True, f"analysts use {s.public_url}")
    # the provider sends each login back to the callback: on another machine, localhost answers nothing
    oauth = not s.demo and s.auth in ("oidc", "github", "google")
    made = "the OAuth callback and the links" if oauth else "the links"
    return Check(
        "Public URL", True,
        f"{s.public_url}, but the hub listens on every interface: {made} made from it say localhost, and on an "
        "analyst's machine that is their own computer" + (", so they cannot log in" if oauth else ""),
        "Set HuntHub.public_url to the address analysts use, e.g. https://hunt.soc.example/"
        + (" (and register its hub/oauth_callback with the provider)." if oauth else "."),
        warning=True,
    )  # fmt: skip


def check_login(s) -> Check:
    """The configured login: its settings, and for OpenID Connect whether the provider's discovery answers."""
    from hunthub.hub.config import oauth_problems

    if s.demo or s.auth == "native":
        return Check("Login", True, "demo (any password)" if s.demo else "hunthub accounts, approved by an admin")
    problems = oauth_problems(s)
    if problems:
        which = "ldap" if s.auth == "ldap" else "oauth"
        return Check("Login", False, "; ".join(problems), f"Fix the HuntHub.{which}_* settings (hunthub/settings.py).")
    if s.auth == "ldap":
        from hunthub.hub.ldap import probe

        problem = probe(s.ldap_server_url, s.ldap_starttls, s.ldap_ca_file, min(s.ldap_timeout, 5))
        if problem:
            return Check(
                "Login", True, f"LDAP directory {s.ldap_server_url} does not answer ({problem})",
                "Analysts cannot log in until it does: check the URL, the CA file and that this machine can reach it.",
                warning=True,
            )  # fmt: skip
        tls = s.ldap_starttls or s.ldap_server_url.startswith("ldaps://")
        return Check("Login", True, f"LDAP directory {s.ldap_server_url} ({'TLS verified' if tls else 'no TLS'})")
    if s.auth != "oidc":
        return Check("Login", True, f"{s.auth} (client {s.oauth_client_id})")
    url = f"{s.oauth_issuer.rstrip('/')}/.well-known/openid-configuration"
    context = None if s.oauth_verify_tls else ssl._create_unverified_context()  # noqa: S323 - oauth_verify_tls = False
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as r:  # noqa: S310 - admin-set URL
            issuer = json.load(r).get("issuer", "")
    except (OSError, ValueError) as e:
        return Check(
            "Login", True, f"OpenID Connect provider {s.oauth_issuer} does not answer ({e})",
            "Analysts cannot log in until it does: check the URL and that this machine can reach it.", warning=True,
        )  # fmt: skip
    if issuer.rstrip("/") != s.oauth_issuer.rstrip("/"):
        return Check(
            "Login", False, f"{url} names the issuer {issuer!r}, not {s.oauth_issuer!r}",
            "Set HuntHub.oauth_issuer to exactly the issuer the provider names.",
        )  # fmt: skip
    return Check("Login", True, f"OpenID Connect provider {s.oauth_issuer} (client {s.oauth_client_id})")


def check_graphistry(s) -> Check:
    """The Graphistry server analysts upload graphs to, when one is configured: does it answer in time?"""
    if not s.graphistry_server:
        return Check("Graphistry", True, "none configured: graphs render offline in notebooks, nothing is sent")
    try:
        urllib.request.urlopen(f"{s.graphistry_url}/", timeout=s.graphistry_timeout).close()  # noqa: S310
    except urllib.error.HTTPError:
        pass  # any HTTP answer means the server is up
    except OSError as e:
        return Check(
            "Graphistry", True, f"{s.graphistry_url} does not answer within {s.graphistry_timeout} s ({e})",
            "Analysts' graphs render offline until it does: check the URL and the firewall.", warning=True,
        )  # fmt: skip
    return Check("Graphistry", True, f"{s.graphistry_url} answers (uploads visible to: {s.graphistry_privacy})")


def check_docker(s) -> Check:
    """The Docker engine and hunthub's images, for `spawner = docker`."""
    from hunthub import docker_cluster

    try:
        missing = docker_cluster.missing_images(s)
    except docker_cluster.DockerClusterError as e:
        return Check("Docker", False, str(e), "Install Debian docker.io and start dockerd as root.")
    if missing:
        return Check("Docker", False, f"image(s) {', '.join(missing)} not built", "Run `hunthub images build`.")
    return Check("Docker", True, f"engine answers; images {s.spark_image}, {s.analyst_image}")

"""A Docker engine and hunthub's images for the tests that need them (marked `docker`).

ensure_dockerd() starts the engine when none answers (installing Debian's docker.io first if needed, as root);
ensure_images() builds the images once per test session through `hunthub images build`'s code, so docker's cache
makes every session after the first one take seconds; cleanup() removes what tests created (name prefix
`hunthub-test-`), container_logs() is for failure reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "hunthub-test-"
DOCKERD_LOG = Path("/tmp/hunthub-test-dockerd.log")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")

_images: dict[str, str] | None = None
_extra_ca_files: list[str] | None = None


def say(msg: str) -> None:
    """Progress the person running the tests sees even while pytest captures output."""
    print(f"docker_env: {msg}", file=sys.__stderr__, flush=True)


def docker(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """`docker ARGS` with text output captured; a failure raises with docker's own message."""
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} exited with {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(argv, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        r = subprocess.run(argv, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"apt-get install {' '.join(packages)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def ensure_dockerd(timeout: float = 60) -> None:
    """A Docker engine that answers: the running one, or (as root) dockerd started here, its log in /tmp."""
    if engine_answers():
        return
    if os.geteuid() != 0:
        raise RuntimeError("no Docker engine answers and only root can start one here: start dockerd, then retry")
    missing = [pkg for cmd, pkg in (("dockerd", "docker.io"), ("debootstrap", "debootstrap")) if not shutil.which(cmd)]
    if shutil.which("docker") is None and "docker.io" not in missing:
        missing.append("docker.io")
    if missing:
        say(f"installing from Debian: {' '.join(missing)}")
        _apt_install(missing)
    say(f"starting dockerd (log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as log:
        # its own session: it outlives this test run, like an engine started by hand, for the next sessions' cache
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            say("dockerd is up")
            return
        time.sleep(1)
    tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-30:] if DOCKERD_LOG.exists() else []
    raise RuntimeError(
        f"dockerd did not answer within {timeout:.0f} s; last lines of {DOCKERD_LOG}:\n" + "\n".join(tail)
    )


def extra_ca_files() -> list[str]:
    """The CA certificates the images are built with: HUNTHUB_EXTRA_CA_CERTS when set, else the ones this machine
    trusts in addition to Debian's (its TLS-intercepting proxy's, where there is one)."""
    from hunthub import images

    if os.environ.get(images.EXTRA_CA_ENV) is not None:
        return images.default_extra_ca_certs()
    return sorted(str(p) for p in HOST_LOCAL_CAS.glob("**/*.crt"))


def ensure_images() -> dict[str, str]:
    """Build (or, with docker's cache, confirm) hunthub's images once per session: {name: image reference}."""
    global _images, _extra_ca_files
    if _images is None:
        from hunthub import __version__, images

        ensure_dockerd()
        _extra_ca_files = extra_ca_files()
        t0 = time.monotonic()
        say("building hunthub's images (the first time takes minutes; later sessions reuse docker's cache) ...")
        try:
            images.build(extra_ca_certs=_extra_ca_files, source=ROOT, echo=say)
        except images.BuildError as e:
            raise RuntimeError(f"hunthub images build failed: {e}") from e
        say(f"images ready in {time.monotonic() - t0:.0f} s")
        _images = {name: f"hunthub-{name}:{__version__}" for name in images.IMAGES}
    return _images


def images_extra_ca_files() -> list[str]:
    """The CA files ensure_images() built with."""
    ensure_images()
    return list(_extra_ca_files or [])


def _names(kind: str) -> list[str]:
    fmt = "{{.Name}}" if kind in ("network", "volume") else "{{.Names}}"
    argv = ["ps", "-a", "--format", fmt] if kind == "container" else [kind, "ls", "--format", fmt]
    return [n for n in docker(*argv, check=False).stdout.split() if n]


def cleanup(prefix: str = PREFIX) -> list[str]:
    """Remove the containers, networks and volumes whose names start with `prefix`; returns what went."""
    if not prefix:
        raise ValueError("cleanup needs a name prefix")
    removed = []
    for kind, rm in (("container", ["rm", "-f", "-v"]), ("network", ["network", "rm"]), ("volume", ["volume", "rm"])):
        for name in _names(kind):
            if name.startswith(prefix) and docker(*rm, name, check=False).returncode == 0:
                removed.append(f"{kind} {name}")
    return removed


def remove_images(prefix: str = PREFIX) -> list[str]:
    """Remove images whose repository starts with `prefix` (images tests built themselves)."""
    refs = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    gone = [ref for ref in refs if ref.startswith(prefix) and docker("rmi", ref, check=False).returncode == 0]
    return gone


def container_logs(name: str, tail: int = 200) -> str:
    r = docker("logs", "--tail", str(tail), name, check=False)
    return f"--- docker logs {name} (last {tail} lines) ---\n{r.stdout}{r.stderr}"


def health(name: str) -> str:
    r = docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", name, check=False)
    return r.stdout.strip() if r.returncode == 0 else "gone"


def wait_healthy(names: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    status = {}
    while time.monotonic() < deadline:
        status = {n: health(n) for n in names}
        if all(s == "healthy" for s in status.values()):
            return
        if any(s in ("unhealthy", "gone") for s in status.values()):
            break
        time.sleep(1)
    raise AssertionError(f"containers not healthy: {status}")

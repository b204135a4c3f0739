"""`hunthub images build`: hunthub's container images, built from a source checkout with the docker CLI.

Order: base (only the local default `hunthub-base:bookworm`, made by images/base/build.sh from Debian's archive when
missing) -> spark -> analyst -> hub, each tagged `hunthub-<name>:<version>` and `hunthub-<name>:latest`. Docker's
classic builder (DOCKER_BUILDKIT=0) does the work, so engines from 20.10 on build them with no buildx; its cache
makes a rebuild with nothing changed take seconds.

Extra CA certificates (a TLS-intercepting proxy's, an internal index's) are a build input: `--extra-ca-certs FILE`
(repeatable; PEM, bundles welcome) or HUNTHUB_EXTRA_CA_CERTS (os.pathsep-separated). Each certificate is staged
as one file in images/.extra-ca/ (named by its hash, so the same certificates keep docker's cache) and every image
trusts it: system bundle (pip, requests, Python), Java's trust store, Node.js.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hunthub import __version__, locks

IMAGES = ("spark", "analyst", "hub")
DEFAULT_BASE = "hunthub-base:bookworm"
EXTRA_CA_ENV = "HUNTHUB_EXTRA_CA_CERTS"
EXTRA_CA_DIR = "images/.extra-ca"  # in the checkout; the Dockerfiles copy it
SPARK_PACKAGES = ("pyspark", "pandas", "pyarrow", "numpy")  # what executors need, with pyproject's constraints
FAILURE_LINES = 30
HEARTBEAT = 60  # seconds of a long step between "still running" lines
# proxies given to docker build as its predefined build args: used by RUN steps, never stored in the image
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# docker CLI 23+ says the classic builder is deprecated: true, and nothing the person building can act on here
LEGACY_NOTICE = re.compile(
    r"^(DEPRECATED: The legacy builder|\s+Install the buildx|\s+BuildKit|\s+https://docs\.docker\.com/go/buildx)"
)


class BuildError(RuntimeError):
    """An image could not be built; the message says why and what to do."""


@dataclass
class Built:
    name: str
    tags: list[str]
    seconds: float
    steps: int = 0  # RUN, COPY and ADD steps: the ones that do work
    rebuilt: int = 0  # of those, the ones docker's cache did not have
    size: int = 0
    image_id: str = ""


@dataclass
class _StepLog:
    """What the classic builder printed for the step it is on (for failure reports)."""

    number: int = 0
    total: int = 0
    instruction: str = ""
    cached: bool = False
    lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=400))


# --- environment -----------------------------------------------------------------------------------------------


def source_root(source: str | Path | None = None) -> Path:
    """The hunthub checkout the images are built from (its root is the build context)."""
    if source is not None:
        root = Path(source).expanduser().resolve()
    else:
        from hunthub import paths

        root = paths.source_checkout() or Path.cwd()
    if not (root / "images" / "spark" / "Dockerfile").is_file() or not (root / "pyproject.toml").is_file():
        raise BuildError(
            f"{root} is not a hunthub source checkout (no images/spark/Dockerfile): the images are built from one; "
            "run from the checkout or pass --source DIR"
        )
    return root


def check_docker() -> str:
    """The engine's version; a BuildError saying what to do when there is no docker CLI or no daemon."""
    if shutil.which("docker") is None:
        raise BuildError(
            "the `docker` command is not installed: install Docker (Debian: `apt-get install docker.io`), "
            "start its daemon, and retry"
        )
    try:
        r = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired as e:
        raise BuildError("the Docker daemon does not answer (30 s): is dockerd hung? restart it and retry") from e
    if r.returncode != 0 or not r.stdout.strip():
        detail = (r.stderr or r.stdout).strip().splitlines()
        detail = detail[-1] if detail else f"docker version exited with {r.returncode}"
        if "permission denied" in detail.lower():
            hint = "run as root or as a member of the `docker` group"
        else:
            hint = "start dockerd (as root: `dockerd >/tmp/dockerd.log 2>&1 &`, or `systemctl start docker`)"
        raise BuildError(f"the Docker daemon is not reachable ({detail}): {hint}, then retry")
    return r.stdout.strip()


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


def image_info(ref: str) -> tuple[str, int]:
    """(id, size in bytes) of a local image."""
    r = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref], capture_output=True, text=True
    )
    if r.returncode != 0:
        return "", 0
    image_id, size = r.stdout.split()
    return image_id, int(size)


# --- build inputs ------------------------------------------------------------------------------------------------


def spark_requirements(pyproject: Path) -> list[str]:
    """pyproject's requirements for the packages Spark's executors need (pyspark, pandas, pyarrow, numpy)."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    found = {}
    for dep in deps:
        name = re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].lower()
        if name in SPARK_PACKAGES:
            found[name] = re.sub(r"\s+", "", dep.split(";")[0])
    missing = [p for p in SPARK_PACKAGES if p not in found]
    if missing:
        raise BuildError(f"{pyproject} does not list {', '.join(missing)} among its dependencies")
    return [found[p] for p in SPARK_PACKAGES]


def default_extra_ca_certs() -> list[str]:
    return [p for p in os.environ.get(EXTRA_CA_ENV, "").split(os.pathsep) if p.strip()]


def read_certificates(files: Iterable[str | Path]) -> list[str]:
    """Every PEM certificate in the given files (or directories of *.crt / *.pem), once each, in a stable order."""
    certs: dict[str, str] = {}
    for given in files:
        path = Path(given).expanduser()
        if path.is_dir():
            members = sorted(p for p in path.rglob("*") if p.suffix in (".crt", ".pem") and p.is_file())
            if not members:
                raise BuildError(f"extra CA certificates: {path} holds no *.crt or *.pem file")
        elif path.is_file():
            members = [path]
        else:
            raise BuildError(f"extra CA certificates: {path} does not exist")
        for member in members:
            try:
                text = member.read_text(errors="replace")
            except OSError as e:
                raise BuildError(f"extra CA certificates: cannot read {member}: {e}") from e
            found = [m.group(0).replace("\r\n", "\n") for m in PEM_CERT.finditer(text)]
            if not found:
                raise BuildError(
                    f"extra CA certificates: {member} holds no PEM certificate (-----BEGIN CERTIFICATE-----); "
                    f"a DER file converts with `openssl x509 -inform der -in {member} -out {member.stem}.pem`"
                )
            for cert in found:
                certs.setdefault(hashlib.sha256(cert.encode()).hexdigest(), cert)
    return [certs[k] for k in sorted(certs)]


def stage_extra_ca(root: Path, files: Iterable[str | Path]) -> int:
    """Fill images/.extra-ca/ with one `<hash>.crt` per certificate (emptied first); returns how many."""
    certs = read_certificates(files)
    stage = root / EXTRA_CA_DIR
    stage.mkdir(parents=True, exist_ok=True)
    wanted = {f"hunthub-extra-{hashlib.sha256(c.encode()).hexdigest()[:16]}.crt": c + "\n" for c in certs}
    for old in stage.iterdir():  # unchanged files stay as they are: docker's cache then holds
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.name not in wanted or old.is_symlink() or old.read_text(errors="replace") != wanted[old.name]:
            old.unlink()
    for name, text in wanted.items():
        target = stage / name
        if not target.exists():
            target.write_text(text)
        target.chmod(0o644)
    return len(wanted)


# --- running docker build ------------------------------------------------------------------------------------------


def _hint(step: _StepLog, output: str) -> str:
    """What most likely went wrong, from the failing step's instruction and output."""
    text = output.lower()
    instruction = step.instruction.lower()
    tls = (
        "certificate_verify_failed",
        "certificate verify failed",
        "unable to get local issuer certificate",
        "self_signed_cert_in_chain",
        "self-signed certificate",
        "unable_to_get_issuer_cert_locally",
        "unable_to_verify_leaf_signature",
    )
    unreachable = (
        "could not fetch url",
        "max retries exceeded",
        "temporary failure in name resolution",
        "name or service not known",
        "connection refused",
        "network is unreachable",
        "timed out",
        "proxyerror",
        "no matching distribution found",
        "enotfound",
        "econnrefused",
        "etimedout",
        "econnreset",
    )
    local_cas = sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    ca_hint = (
        "if a proxy intercepts TLS, pass its CA certificate with --extra-ca-certs FILE (or "
        f"{EXTRA_CA_ENV}=FILE{os.pathsep}FILE...)"
    )
    if local_cas:
        ca_hint += f"; this machine trusts extra CAs of its own: {', '.join(local_cas)}"
    if "no space left on device" in text:
        return "the disk is full: free space where docker keeps images (`docker system df`, `docker image prune`)"
    if "pip" in instruction and any(s in text for s in tls):
        return f"pip could not verify PyPI's TLS certificate: {ca_hint}"
    if "npm" in instruction and any(s in text for s in tls):
        return f"npm could not verify the registry's TLS certificate: {ca_hint}"
    if "pip" in instruction and any(s in text for s in unreachable):
        return f"pip could not reach PyPI: {ca_hint}; behind an explicit proxy, set HTTPS_PROXY (passed to the build)"
    if "npm" in instruction and any(s in text for s in unreachable):
        return f"npm could not reach the npm registry: {ca_hint}; behind an explicit proxy, set HTTPS_PROXY"
    if "apt-get" in instruction and any(
        s in text for s in ("temporary failure resolving", "could not resolve", "failed to fetch", "unable to connect")
    ):
        return "apt could not reach Debian's archive (http://deb.debian.org): check this machine's network or proxy"
    if instruction.startswith("from"):  # the image to start from is neither here nor in a reachable registry
        return (
            f"the image to build on is not on this machine and docker could not pull it: for the Spark image, build "
            f"the local base with images/base/build.sh ({DEFAULT_BASE}, the default) or pass --base-image NAME of "
            "an image you have; for the others, build the Spark image first (drop --only)"
        )
    if "copy failed" in text or "no source files were specified" in text:
        return "a file the Dockerfile copies is missing from the build context: build from a complete hunthub checkout"
    if "krb5-config" in text:
        return "gssapi found no Kerberos headers: the builder stage must install libkrb5-dev"
    return "see the step's output above"


def _run_docker_build(
    name: str, argv: list[str], root: Path, echo: Callable[[str], None], verbose: bool
) -> tuple[int, int]:
    """Run `docker build`, printing one line per step (and a line a minute during a long one); returns (RUN/COPY/ADD
    steps, how many of them were not in docker's cache)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    started = time.monotonic()
    step = _StepLog()
    step_started = last_said = started
    done: list[_StepLog] = []
    proc = subprocess.Popen(
        argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            for line in ANSI.sub("", raw).replace("\r", "\n").splitlines():
                if line.strip():
                    lines.put(line.rstrip())
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    width = 2
    try:
        while True:
            try:
                line = lines.get(timeout=5)
            except queue.Empty:
                now = time.monotonic()
                if now - last_said >= HEARTBEAT and step.number:
                    last = step.lines[-1] if step.lines else ""
                    last = last if len(last) <= 90 else last[:87] + "..."
                    echo(f"[{name} {step.number:>{width}}/{step.total} {_clock(now - started)}]   ... {last}")
                    last_said = now
                continue
            if line is None:
                break
            m = STEP.match(line)
            if m:
                done.append(step)
                step = _StepLog(int(m.group(1)), int(m.group(2)), m.group(3).strip())
                step_started = last_said = time.monotonic()
                width = len(str(step.total))
                instruction = " ".join(step.instruction.split())
                if len(instruction) > 96 and not verbose:
                    instruction = instruction[:93] + "..."
                echo(f"[{name} {step.number:>{width}}/{step.total} {_clock(step_started - started)}] {instruction}")
                continue
            if line.strip() == "---> Using cache":
                step.cached = True
            if LEGACY_NOTICE.match(line):
                continue
            step.lines.append(line)
            if verbose:
                echo(f"    {line}")
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: docker build stops when its CLI goes
            proc.terminate()
            proc.wait(timeout=30)
    if code != 0:
        output = "\n".join(step.lines)
        tail = list(step.lines)[-FAILURE_LINES:]
        where = f"step {step.number}/{step.total}: {step.instruction}" if step.number else "before its first step"
        raise BuildError(
            f"building {name} failed at {where}\n"
            f"--- last {len(tail)} lines of its output ---\n" + "\n".join(tail) + "\n---\n" + _hint(step, output)
        )
    work = [s for s in [*done, step] if s.instruction.split(" ", 1)[0].upper() in ("RUN", "COPY", "ADD")]
    return len(work), sum(not s.cached for s in work)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def build_image(
    name: str,
    tags: list[str],
    build_args: dict[str, str] | None = None,
    *,
    root: Path,
    no_cache: bool = False,
    target: str | None = None,
    dockerfile: str | None = None,
    echo: Callable[[str], None] = print,
    verbose: bool = False,
) -> Built:
    """`docker build` of images/<name>/Dockerfile with the checkout as context."""
    argv = ["docker", "build", "-f", dockerfile or f"images/{name}/Dockerfile", "--rm", "--force-rm"]
    for tag in tags:
        argv += ["-t", tag]
    args = {k: os.environ[k] for k in PROXY_VARS if os.environ.get(k)}
    args.update(build_args or {})
    for k, v in args.items():
        argv += ["--build-arg", f"{k}={v}"]
    if no_cache:
        argv.append("--no-cache")
    if target:
        argv += ["--target", target]
    argv.append(".")
    t0 = time.monotonic()
    previous, _ = image_info(tags[0])
    steps, rebuilt = _run_docker_build(name, argv, root, echo, verbose)
    image_id, size = image_info(tags[0])
    if previous and previous != image_id:
        _remove_superseded(previous)
    return Built(name, tags, time.monotonic() - t0, steps, rebuilt, size, image_id)


def _remove_superseded(image_id: str) -> None:
    """The image a tag pointed to before a rebuild, once no tag names it: removed, so rebuilds do not pile up.
    Docker refuses (and this ignores) when a container still runs it or another image is built on it."""
    r = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{len .RepoTags}}", image_id], capture_output=True, text=True
    )
    if r.returncode == 0 and r.stdout.strip() == "0":
        subprocess.run(["docker", "rmi", image_id], capture_output=True)


def build_base(root: Path, image: str, echo: Callable[[str], None]) -> float:
    """hunthub-base from Debian's archive (debootstrap; needs root), via images/base/build.sh."""
    script = root / "images" / "base" / "build.sh"
    echo(f"[base] {image} is missing: building it from Debian's archive (debootstrap, about a minute) ...")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["bash", str(script), image], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tail: collections.deque = collections.deque(maxlen=FAILURE_LINES)
    for line in proc.stdout:
        line = line.rstrip()
        tail.append(line)
        echo(f"[base {_clock(time.monotonic() - t0)}] {line.removeprefix('images/base: ')}")
    if proc.wait() != 0:
        raise BuildError(
            f"building {image} with {script} failed:\n" + "\n".join(tail) + "\n"
            "It needs root and Debian's archive (http://deb.debian.org); or build on another base image with "
            "--base-image NAME (e.g. debian:bookworm-slim where a registry is reachable)"
        )
    return time.monotonic() - t0


def build(
    only: Iterable[str] | None = None,
    *,
    base_image: str = DEFAULT_BASE,
    extra_ca_certs: Iterable[str | Path] | None = None,
    no_cache: bool = False,
    tag: str = __version__,
    prefix: str = "hunthub",
    latest: bool = True,
    source: str | Path | None = None,
    verbose: bool = False,
    echo: Callable[[str], None] = print,
) -> list[Built]:
    """Build the images (all, or `only` those) in dependency order; returns what was built.

    extra_ca_certs None means HUNTHUB_EXTRA_CA_CERTS. Images are `<prefix>-<name>:<tag>` (and `:latest`)."""
    selected = list(IMAGES) if not only else [n.strip() for n in only if n.strip()]
    unknown = [n for n in selected if n not in IMAGES]
    if unknown:
        raise BuildError(f"unknown image(s) {', '.join(unknown)}: choose among {', '.join(IMAGES)}")
    selected = [n for n in IMAGES if n in selected]
    root = source_root(source)
    engine = check_docker()
    with checkout_lock(root, echo):
        return _build(selected, root, engine, base_image, extra_ca_certs, no_cache, tag, prefix, latest, verbose, echo)


def checkout_lock(root: Path, echo: Callable[[str], None] = print):
    """One build at a time per checkout: they share images/.extra-ca/."""
    lock = Path(tempfile.gettempdir()) / f"hunthub-images-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}.lock"
    busy = f"images: another `hunthub images build` of {root} is running; waiting for it ..."
    return locks.exclusive(lock, busy, echo)


def _build(selected, root, engine, base_image, extra_ca_certs, no_cache, tag, prefix, latest, verbose, echo):
    ca_files = default_extra_ca_certs() if extra_ca_certs is None else list(extra_ca_certs)
    n_certs = stage_extra_ca(root, ca_files)
    echo(
        f"images: {', '.join(selected)} from {root} (docker engine {engine}); "
        + (f"{n_certs} extra CA certificate(s) from {', '.join(map(str, ca_files))}" if n_certs else "no extra CAs")
    )

    def ref(name: str, t: str = tag) -> str:
        return f"{prefix}-{name}:{t}"

    spark_ref = ref("spark")
    if "spark" not in selected and {"analyst", "hub"} & set(selected) and not image_exists(spark_ref):
        raise BuildError(f"{spark_ref} is missing and the analyst and hub images are built on it: add spark to --only")
    if "spark" in selected and not image_exists(base_image):
        if base_image != DEFAULT_BASE:
            echo(f"images: {base_image} is not here; docker will try to pull it")
        else:
            build_base(root, base_image, echo)

    built = []
    for name in selected:
        if name == "spark":
            args = {
                "BASE_IMAGE": base_image,
                "SPARK_PIP_PACKAGES": " ".join(spark_requirements(root / "pyproject.toml")),
            }
        else:
            args = {"SPARK_IMAGE": spark_ref}
        tags = [ref(name)] + ([ref(name, "latest")] if latest and tag != "latest" else [])
        result = build_image(name, tags, args, root=root, no_cache=no_cache, echo=echo, verbose=verbose)
        echo(
            f"images: built {', '.join(tags)} in {_clock(result.seconds)} "
            f"({result.rebuilt} of {result.steps} RUN/COPY steps rebuilt, the rest cached), {result.size / 1e9:.2f} GB"
        )
        built.append(result)
    return built


# --- command line --------------------------------------------------------------------------------------------------


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--only",
        metavar="NAMES",
        help=f"comma-separated subset of {','.join(IMAGES)} (default: all, in that order)",
    )
    p.add_argument(
        "--base-image",
        default=DEFAULT_BASE,
        help=f"Debian 12 image the Spark image starts from (default {DEFAULT_BASE}, made from Debian's archive "
        "when missing; e.g. debian:bookworm-slim where a registry is reachable)",
    )
    p.add_argument(
        "--extra-ca-certs",
        action="append",
        metavar="FILE",
        help=f"PEM file (or folder) of CA certificates the images must trust, e.g. a TLS-intercepting proxy's; "
        f"repeatable (default: {EXTRA_CA_ENV}, {os.pathsep}-separated)",
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild every step (docker build --no-cache)")
    p.add_argument("--tag", default=__version__, help=f"image tag (default: this hunthub's version, {__version__})")
    p.add_argument("--source", help="hunthub checkout to build from (default: this one)")
    p.add_argument("-v", "--verbose", action="store_true", help="show docker's whole output")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hunthub images", description="hunthub's container images")
    sub = parser.add_subparsers(dest="action", required=True)
    b = sub.add_parser(
        "build",
        help="build hunthub-spark, hunthub-analyst and hunthub-hub",
        description="Build hunthub's images (base -> spark -> analyst -> hub), tagged <name>:<version> and "
        ":latest. Needs the docker CLI and a running engine (20.10 or later).",
    )
    add_build_arguments(b)
    sub.add_parser("list", help="hunthub's images here, with their sizes")
    args = parser.parse_args(argv)

    def echo(msg: str) -> None:
        print(msg, flush=True)

    try:
        if args.action == "list":
            check_docker()
            subprocess.run(
                ["docker", "image", "ls", "--filter", "reference=hunthub-*", "--format",
                 "table {{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"],
                check=False,
            )  # fmt: skip
            return 0
        t0 = time.monotonic()
        built = build(
            args.only.split(",") if args.only else None,
            base_image=args.base_image,
            extra_ca_certs=args.extra_ca_certs,
            no_cache=args.no_cache,
            tag=args.tag,
            source=args.source,
            verbose=args.verbose,
            echo=echo,
        )
    except BuildError as e:
        print(f"hunthub images: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hunthub images: interrupted", file=sys.stderr)
        return 130
    echo(f"images: done in {_clock(time.monotonic() - t0)}: " + ", ".join(b.tags[0] for b in built))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""hunthub's container images (`hunthub images build`): users, Java and Spark, health checks, a containerised
master + worker, the analyst's kernels and notebooks, and the extra-CA build input. Needs a Docker engine (started
when missing, see tests.docker_env); the first session builds the images (minutes), later ones reuse the cache."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import tomllib
from pathlib import Path

import pytest

from hunthub import images as image_builder
from tests import docker_env
from tests.docker_env import docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PINNED_PYSPARK = next(d.split("==")[1] for d in PYPROJECT["project"]["dependencies"] if d.startswith("pyspark=="))
USERS = {"spark": (1001, "spark"), "analyst": (1000, "analyst"), "hub": (1002, "hub")}
VENV_PYTHON = "/opt/hunthub/venv/bin/python"


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    try:
        return docker_env.ensure_images()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def names(request):
    """Unique `hunthub-test-...` names for a test's containers, networks and volumes; all removed afterwards, with
    the containers' logs printed when the test failed."""
    token = secrets.token_hex(3)
    made: list[str] = []
    failures_before = request.session.testsfailed

    def name(what: str) -> str:
        made.append(f"{docker_env.PREFIX}{what}-{token}")
        return made[-1]

    yield name
    if request.session.testsfailed > failures_before:  # this test failed: its containers' logs tell why
        for n in made:
            if docker("inspect", "--type", "container", n, check=False).returncode == 0:
                print(docker_env.container_logs(n))
    for n in made:
        docker("rm", "-f", "-v", n, check=False)
    for n in made:
        docker("network", "rm", n, check=False)
        docker("volume", "rm", n, check=False)


def run(image: str, *cmd: str, options: tuple[str, ...] = ()) -> str:
    """Output (stdout and stderr) of a command in a throwaway container of `image` (`options` go to docker run)."""
    r = docker("run", "--rm", *options, image, *cmd, check=False)
    assert r.returncode == 0, f"{image} {' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}{r.stderr}"
    return r.stdout + r.stderr


@pytest.mark.parametrize("name", ["spark", "analyst", "hub"])
def test_runs_as_its_own_non_root_user(images, name):
    uid, user = USERS[name]
    assert run(images[name], "id", "-u").strip() == str(uid)
    assert run(images[name], "id", "-un").strip() == user


@pytest.mark.parametrize("name", ["spark", "analyst"])
def test_java_17_and_the_pinned_pyspark(images, name):
    assert re.search(r'version "17\.', run(images[name], "java", "-version")), "not Java 17"
    assert run(images[name], "python", "-c", "import pyspark; print(pyspark.__version__)").strip() == PINNED_PYSPARK


PROBE = """
import importlib.metadata, json, os, sys, pyspark
print(json.dumps({
    "python": sys.executable, "version": sys.version, "pyspark_dir": os.path.dirname(pyspark.__file__),
    "env": {k: os.environ.get(k) for k in ("SPARK_HOME", "PYSPARK_PYTHON", "JAVA_HOME")},
    "packages": {d.metadata["Name"].lower(): d.version for d in importlib.metadata.distributions()},
}))
"""


def test_driver_and_executors_share_python_venv_and_spark(images):
    """The analyst image (drivers) and the Spark image (executors) must not differ in anything a task touches:
    interpreter, venv path, Spark, Java, and every package the Spark image has."""
    spark = json.loads(run(images["spark"], "python", "-c", PROBE))
    analyst = json.loads(run(images["analyst"], "python", "-c", PROBE))
    for key in ("python", "version", "pyspark_dir", "env"):
        assert spark[key] == analyst[key], key
    assert spark["python"] == VENV_PYTHON == spark["env"]["PYSPARK_PYTHON"]
    assert Path(spark["env"]["SPARK_HOME"]) == Path(spark["pyspark_dir"]), "SPARK_HOME is not the pyspark wheel's"
    differ = {
        p: (v, analyst["packages"].get(p)) for p, v in spark["packages"].items() if analyst["packages"].get(p) != v
    }
    assert not differ, f"packages differ between the Spark and analyst images: {differ}"
    assert {"pyspark", "py4j", "pandas", "pyarrow", "numpy"} <= set(spark["packages"])


@pytest.mark.parametrize("name", ["spark", "analyst", "hub"])
def test_declares_a_healthcheck(images, name):
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", images[name]).stdout)
    assert config.get("Healthcheck", {}).get("Test"), f"{name} has no HEALTHCHECK"


def test_master_and_worker_containers_become_healthy_and_run_a_job(images, names):
    net, master, worker = names("net"), names("master"), names("worker")
    docker("network", "create", net)
    docker("run", "-d", "--name", master, "--network", net, "-e", f"SPARK_MASTER_HOST={master}", images["spark"],
           "master")  # fmt: skip
    docker("run", "-d", "--name", worker, "--network", net, "-e", "SPARK_WORKER_CORES=1", "-e",
           "SPARK_WORKER_MEMORY=1g", images["spark"], "worker", f"spark://{master}:7077")  # fmt: skip
    docker_env.wait_healthy([master, worker], timeout=180)

    state = json.loads(
        docker("exec", master, "python", "-c",
               "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/json/').read().decode())"
               ).stdout
    )  # fmt: skip
    assert state["status"] == "ALIVE"
    assert [w["state"] for w in state["workers"]] == ["ALIVE"]
    assert state["workers"][0]["cores"] == 1

    # a driver in the analyst image, executors on the worker: Python tasks run, on the same interpreter and Spark
    job = (
        "import sys, pyspark; from pyspark.sql import SparkSession; "
        f"s = SparkSession.builder.master('spark://{master}:7077').config('spark.executor.memory', '512m')"
        ".config('spark.ui.enabled', 'false').getOrCreate(); sc = s.sparkContext; sc.setLogLevel('ERROR'); "
        "print('RESULT', sc.parallelize(range(1000), 2).map(lambda x: x * x).sum(), "
        "sc.parallelize([0], 1).map(lambda _: __import__('sys').executable + ' ' + "
        "__import__('pyspark').__version__).first(), sys.executable + ' ' + pyspark.__version__); s.stop()"
    )
    out = docker("run", "--rm", "--name", names("driver"), "--network", net, images["analyst"], "python", "-c", job,
                 timeout=300)  # fmt: skip
    result = next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))
    _, total, exec_python, exec_version, driver_python, driver_version = result.split()
    assert int(total) == sum(x * x for x in range(1000))
    assert (exec_python, exec_version) == (driver_python, driver_version) == (VENV_PYTHON, PINNED_PYSPARK)


def test_analyst_image_has_the_hunthub_kernels_and_notebooks(images):
    specs = json.loads(run(images["analyst"], "jupyter", "kernelspec", "list", "--json"))["kernelspecs"]
    for kernel in ("hunthub-pyspark", "hunthub-scala", "hunthub-sql"):
        assert kernel in specs, f"{kernel} missing from {sorted(specs)}"
        assert specs[kernel]["resource_dir"].startswith("/opt/hunthub/venv/share/jupyter/kernels/")
    extensions = run(images["analyst"], "jupyter", "server", "extension", "list")
    assert "hunthub.kernels.warm_pool" in extensions and "hunthub.graph.server" in extensions

    bundled = sorted(p.relative_to(ROOT / "notebooks").as_posix() for p in (ROOT / "notebooks").rglob("*.ipynb"))
    listed = run(images["analyst"], "sh", "-c", "cd /opt/hunthub/notebooks && find . -name '*.ipynb' | sort")
    assert sorted(line.removeprefix("./") for line in listed.split()) == bundled
    assert any(n.startswith("hunts/") for n in bundled)


def test_analyst_start_delivers_notebooks_into_a_fresh_home_volume(images, names):
    """A new named volume at /home/analyst is the analyst's; the start script seeds it, then runs the server."""
    home = names("home")
    docker("volume", "create", home)
    mount = ("-v", f"{home}:/home/analyst")
    out = run(images["analyst"], "hunthub-analyst-start", "--version", options=mount)
    assert re.search(r"\d+\.\d+", out), out
    script = "stat -c '%u' /home/analyst; cd /home/analyst && find . -name '*.ipynb' | sort"
    listing = run(images["analyst"], "sh", "-c", script, options=mount)
    owner, *found = listing.split()
    assert owner == "1000"
    assert "./00-start-here.ipynb" in found and any(f.startswith("./hunts/") for f in found)


def test_hub_image_has_jupyterhub_the_proxy_and_its_config(images):
    out = run(images["hub"], "sh", "-c",
              "jupyterhub --version && configurable-http-proxy --version && "
              "test -f /opt/hunthub/venv/share/hunthub/jupyterhub_config.py && stat -c '%u %a' /srv/hunthub && "
              "python -c 'from hunthub import paths; print(paths.find_proxy_command())'")  # fmt: skip
    lines = out.split()
    assert "1002" in lines
    assert "/opt/hunthub/venv/node_modules/.bin/configurable-http-proxy" in lines
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", images["hub"]).stdout)
    assert config["Cmd"][-1] == "/opt/hunthub/venv/share/hunthub/jupyterhub_config.py"
    assert "8000/tcp" in config["ExposedPorts"]


def test_analyst_healthcheck_sees_a_running_server(images, names):
    server = names("server")
    docker("run", "-d", "--name", server, images["analyst"], "jupyter", "server", "--ip=0.0.0.0", "--port=8888")
    docker_env.wait_healthy([server], timeout=120)


def test_hub_container_runs_jupyterhub_behind_the_proxy_and_is_healthy(images, names):
    """The hub image's own command, as its non-root user: JupyterHub, configurable-http-proxy on Node.js, health."""
    hub = names("hub")
    docker("run", "-d", "--name", hub, "-e", "HUNTHUB_DEMO=1", images["hub"])
    docker_env.wait_healthy([hub], timeout=150)
    logs = docker_env.container_logs(hub)
    assert "JupyterHub is now running at http://0.0.0.0:8000/" in logs
    assert "[ConfigProxy]" in logs


def _certs(text: str) -> set[str]:
    return {m.group(0) for m in image_builder.PEM_CERT.finditer(text.replace("\r\n", "\n"))}


def _fingerprint(pem: str) -> str:
    """SHA-256 fingerprint as keytool prints it."""
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


JAVA_TRUST = "$JAVA_HOME/bin/keytool -list -cacerts -storepass changeit"


@pytest.mark.parametrize("name", ["spark", "analyst", "hub"])
def test_images_trust_the_extra_ca_certificates_they_were_built_with(images, name):
    wanted = set().union(*(_certs(Path(f).read_text()) for f in docker_env.images_extra_ca_files()))
    if not wanted:
        pytest.skip("this machine has no extra CA certificates (set HUNTHUB_EXTRA_CA_CERTS to test some)")
    staged = _certs(run(images[name], "sh", "-c", "cat /usr/local/share/ca-certificates/hunthub-extra/*.crt"))
    bundle = _certs(run(images[name], "cat", "/etc/ssl/certs/ca-certificates.crt"))
    assert wanted <= staged
    assert wanted <= bundle
    if name != "hub":  # Java (Spark's drivers and executors) trusts them too
        java = run(images[name], "sh", "-c", JAVA_TRUST)
        assert all(_fingerprint(c) in java for c in wanted)


def test_extra_ca_certs_build_input_with_the_host_bundle(images, names):
    """`--extra-ca-certs /etc/ssl/certs/ca-certificates.crt`: every certificate of the bundle is staged, one file
    each, and lands in the image's hunthub-extra folder, its system bundle and Java's trust store. Builds the Spark
    Dockerfile's `system` stage only (the CA layers; apt comes from the cache), under a hunthub-test- name."""
    bundle_file = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle_file.is_file():
        pytest.skip("no host CA bundle")
    host_certs = _certs(bundle_file.read_text())
    tag = f"{names('spark-ca')}:test"
    with image_builder.checkout_lock(ROOT, docker_env.say):  # images/.extra-ca/ is the checkout's, one build at a time
        try:
            assert image_builder.stage_extra_ca(ROOT, [bundle_file]) == len(host_certs)
            image_builder.build_image("spark", [tag], {"BASE_IMAGE": image_builder.DEFAULT_BASE}, root=ROOT,
                                      target="system", echo=docker_env.say)  # fmt: skip
        finally:
            image_builder.stage_extra_ca(ROOT, docker_env.images_extra_ca_files())
    try:
        out = run(tag, "sh", "-c",
                  "ls /usr/local/share/ca-certificates/hunthub-extra | wc -l; "
                  "cat /usr/local/share/ca-certificates/hunthub-extra/*.crt")  # fmt: skip
        count, _, staged = out.partition("\n")
        assert int(count) == len(host_certs)
        assert _certs(staged) == host_certs
        proxy_cas = set().union(*(_certs(p.read_text()) for p in docker_env.HOST_LOCAL_CAS.glob("**/*.crt")))
        assert proxy_cas <= _certs(run(tag, "cat", "/etc/ssl/certs/ca-certificates.crt"))
        java = run(tag, "sh", "-c", JAVA_TRUST)
        assert all(_fingerprint(c) in java for c in (proxy_cas or sorted(host_certs)[:5]))
    finally:
        docker("rmi", "-f", tag, check=False)


def test_spark_image_gets_pyprojects_spark_requirements():
    deps = PYPROJECT["project"]["dependencies"]
    wanted = [d.replace(" ", "") for d in deps if re.match(r"(pyspark|pandas|pyarrow|numpy)\b", d)]
    assert sorted(image_builder.spark_requirements(ROOT / "pyproject.toml")) == sorted(wanted)
    assert f"pyspark=={PINNED_PYSPARK}" in wanted


def test_extra_ca_staging_is_one_file_per_certificate_and_stable(tmp_path):
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        pytest.skip("no host CA bundle")
    certs = sorted(_certs(bundle.read_text()))[:3]
    (tmp_path / "a.pem").write_text("\n".join(certs[:2]) + "\n")
    (tmp_path / "b.crt").write_text(certs[1] + "\n" + certs[2] + "\n")  # one certificate in both files
    stage = tmp_path / image_builder.EXTRA_CA_DIR
    stage.mkdir(parents=True)
    (stage / "stale.crt").write_text("old")
    assert image_builder.stage_extra_ca(tmp_path, [tmp_path / "a.pem", tmp_path / "b.crt"]) == 3
    first = {p.name: p.stat().st_mtime_ns for p in stage.iterdir()}
    assert len(first) == 3 and "stale.crt" not in first
    assert image_builder.stage_extra_ca(tmp_path, [tmp_path / "b.crt", tmp_path / "a.pem"]) == 3
    assert {p.name: p.stat().st_mtime_ns for p in stage.iterdir()} == first  # untouched: docker's cache holds
    assert image_builder.stage_extra_ca(tmp_path, []) == 0 and not list(stage.iterdir())
    with pytest.raises(image_builder.BuildError, match="no PEM certificate"):
        image_builder.read_certificates([ROOT / "pyproject.toml"])


def test_a_failed_pip_step_says_to_pass_the_proxy_ca():
    step = image_builder._StepLog(11, 20, "RUN python3 -m venv /opt/hunthub/venv && pip install pyspark==4.1.4")
    output = "Could not fetch URL https://pypi.org/simple/pyspark/: [SSL: CERTIFICATE_VERIFY_FAILED] certificate"
    assert "--extra-ca-certs" in image_builder._hint(step, output)

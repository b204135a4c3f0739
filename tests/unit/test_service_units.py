"""`hunthub install-service`: the systemd units it writes, checked as text and by systemd's own `systemd-analyze
verify`. (Starting them for real needs systemd as PID 1: tests/e2e/test_restart_keeps_everything.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hunthub import cluster, service_units
from hunthub.service_units import Install
from tests.harness import HUNTHUB

SECRET = 's3cret-value-$HOME-"quoted"-%n'


def parse(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections, each a list of (key, value) in order (keys such as Environment= repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key, value))
    return sections


def values(unit: dict, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: dict, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"{key}= in [{section}]: {found}"
    return found[0]


@pytest.fixture
def inst(tmp_path) -> Install:
    return Install(tmp_path / "units", tmp_path / "etc", "hunthub", ["--state-dir", str(tmp_path / "state")])


def test_each_part_runs_as_its_own_account_and_is_restarted_on_failure(settings, inst):
    s = settings()
    units = {name: parse(text) for name, text in service_units.render(s, inst).items()}
    assert set(units) == {"hunthub.service", "hunthub.target", "hunthub-spark-master.service",
                          "hunthub-spark-worker.service"}  # fmt: skip
    for name in ("hunthub-spark-master.service", "hunthub-spark-worker.service"):
        # executors run analysts' code: never as root
        assert one(units[name], "Service", "User") == cluster.SPARK_USER, name
        assert one(units[name], "Service", "Group") == cluster.SPARK_USER, name
    hub = units["hunthub.service"]
    assert one(hub, "Service", "User") == "root"  # the local spawner creates analysts' accounts
    for name, unit in units.items():
        if name.endswith(".service"):
            assert one(unit, "Service", "Restart") == "on-failure", name
            assert int(one(unit, "Service", "RestartSec")) > 0, name
            assert one(unit, "Install", "WantedBy") == "hunthub.target", name
            assert values(unit, "Unit", "PartOf") == ["hunthub.target"], name
    # the hub starts after the cluster, and the target holds all three
    assert "hunthub-spark-worker.service" in one(hub, "Unit", "After")
    assert set(one(units["hunthub.target"], "Unit", "Wants").split()) == {
        "hunthub.service", "hunthub-spark-master.service", "hunthub-spark-worker.service"}  # fmt: skip


def test_the_daemons_get_the_command_and_environment_up_gives_them(settings, inst):
    s = settings(spark_master_port=7177, worker_cores=1)
    master = parse(service_units.spark_unit(s, inst, "master"))
    worker = parse(service_units.spark_unit(s, inst, "worker"))
    assert one(master, "Service", "ExecStart") == " ".join(cluster.master_service(s, None).argv)
    assert one(worker, "Service", "ExecStart") == " ".join(cluster.worker_service(s, None).argv)
    assert "spark://127.0.0.1:7177" in one(worker, "Service", "ExecStart")
    env = dict(v.strip('"').split("=", 1) for v in values(worker, "Service", "Environment"))
    assert env == cluster.daemon_env(s)
    # their dirs are prepared as root ('+') before each start, by the same code as `up` (hunthub.cluster)
    pre = one(worker, "Service", "ExecStartPre")
    assert pre.startswith("+") and " service-step prepare-spark " in pre
    assert one(worker, "Service", "NoNewPrivileges") == "yes"
    assert values(worker, "Service", "EnvironmentFile") == []  # nothing of the hub's environment reaches executors


def test_every_path_in_the_units_is_absolute_and_the_programs_exist(settings, inst):
    for name, text in service_units.render(settings(), inst).items():
        unit = parse(text)
        for key in ("ExecStart", "ExecStartPre", "ExecStopPost"):
            for command in values(unit, "Service", key):
                program = Path(command.lstrip("+-").split()[0])
                assert program.is_absolute() and os.access(program, os.X_OK), f"{name} {key}={command}"
        for key in ("WorkingDirectory", "EnvironmentFile"):
            for path in values(unit, "Service", key):
                assert Path(path.lstrip("-")).is_absolute(), f"{name} {key}={path}"


def test_secrets_go_only_into_the_environment_file_which_is_0600(settings, inst, tmp_path):
    s = settings()
    environ = {
        "PATH": "/usr/bin:/bin",
        "HUNTHUB_OAUTH_CLIENT_SECRET": SECRET,
        "JUPYTERHUB_CRYPT_KEY": "crypt-key-value-42",
        "AWS_SECRET_ACCESS_KEY": "not-hunthubs-business",
        "HUNTHUB_RESOLVED_SETTINGS": "/elsewhere.json",
    }
    written = service_units.write(s, inst, environ)
    env_file = inst.env_file
    assert env_file in written
    assert env_file.stat().st_mode & 0o777 == 0o600
    text = env_file.read_text()
    assert 'HUNTHUB_OAUTH_CLIENT_SECRET="s3cret-value-\\$HOME-\\"quoted\\"-%n"' in text  # as EnvironmentFile= reads it
    assert "crypt-key-value-42" in text
    assert "AWS_SECRET_ACCESS_KEY" not in text  # only what the hub is given under `hunthub up` too
    assert "/elsewhere.json" not in text  # the unit names the file prepare-hub writes
    assert f'HUNTHUB_STATE_DIR="{s.state}"' in text
    units = [p for p in written if p != env_file]
    assert len(units) == 4
    for unit in units:
        assert unit.stat().st_mode & 0o777 == 0o644, unit
        body = unit.read_text()
        assert "s3cret-value" not in body and "crypt-key-value-42" not in body, unit
    assert one(parse((inst.unit_dir / "hunthub.service").read_text()), "Service", "EnvironmentFile") == str(env_file)


def test_with_docker_or_an_external_cluster_only_the_hub_is_a_unit(settings, inst):
    service_units.write(settings(), inst, {})
    docker = service_units.write(settings(spawner="docker"), inst, {})
    assert sorted(p.name for p in docker) == ["hunthub.env", "hunthub.service", "hunthub.target"]
    # an embedded cluster's units from before are gone, not left to be started by hand
    assert sorted(p.name for p in inst.unit_dir.iterdir()) == ["hunthub.service", "hunthub.target"]
    hub = parse((inst.unit_dir / "hunthub.service").read_text())
    assert one(hub, "Unit", "Requires") == "docker.service"
    # the cluster's and analysts' containers go when the hub stops, as after `hunthub up`
    assert " service-step stop-hub " in one(hub, "Service", "ExecStopPost")
    external = service_units.render(settings(spark_master="spark://spark.soc.example:7077"), inst)
    assert sorted(external) == ["hunthub.service", "hunthub.target"]


def test_the_hub_refuses_to_start_when_spark_settings_changed_since_install(settings, inst):
    service_units.write(settings(), inst, {})
    assert service_units.stale_units(settings(), inst) == []
    moved = settings(spark_master_port=7999)
    assert "hunthub-spark-master.service" in service_units.stale_units(moved, inst)
    # before anything else is done: no state dir made, nothing started
    with pytest.raises(service_units.ServiceError, match="install-service"):
        service_units.prepare_hub(moved, inst)
    assert not moved.state.exists()


def test_odd_characters_are_quoted_for_systemd():
    assert service_units._quote("/opt/my hub/bin/x") == '"/opt/my hub/bin/x"'
    assert service_units._quote("50%") == "50%%"  # a specifier otherwise
    assert service_units._quote("$HOME") == "$$HOME"  # a variable otherwise
    with pytest.raises(service_units.ServiceError, match="absolute"):
        service_units._exec(["jupyterhub"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="install-service runs as root (it makes the Spark daemons' account)")
@pytest.mark.parametrize("spawner", ["local", "docker"])
def test_systemd_analyze_verifies_the_written_units(tmp_path, spawner):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUNTHUB_", "JUPYTERHUB_"))}
    env["HUNTHUB_STATE_DIR"] = str(tmp_path / "state")
    env["HUNTHUB_SITE_CONFIG_DIR"] = str(tmp_path / "site")
    done = subprocess.run(
        [HUNTHUB, "install-service", "--dir", str(tmp_path / "units"), "--env-dir", str(tmp_path / "etc"),
         "--unit-prefix", "hunthub-verify", "--spawner", spawner],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "systemctl daemon-reload && systemctl enable --now hunthub-verify.target" in done.stdout
    units = sorted(str(p) for p in (tmp_path / "units").iterdir())
    assert len(units) == (4 if spawner == "local" else 2)
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, timeout=120
    )
    # systemd-analyze also reports on units it loads besides ours (this machine's); ours must be clean
    ours = [line for line in (verify.stdout + verify.stderr).splitlines() if "hunthub-verify" in line]
    assert verify.returncode == 0 and ours == [], verify.stdout + verify.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="install-service runs as root (it makes the Spark daemons' account)")
def test_the_flags_of_install_service_are_the_units_flags_too(tmp_path, capsys):
    from hunthub import cli

    config = tmp_path / "hunthub_config.py"
    config.write_text("c.HuntHub.worker_cores = 1\n")
    where = ["--dir", str(tmp_path / "units"), "--env-dir", str(tmp_path / "etc")]
    code = cli.main(["install-service", "--state-dir", str(tmp_path / "state"), "--config", str(config),
                     "--port", "9123", *where])  # fmt: skip
    assert code == 0, capsys.readouterr().out
    hub = parse((tmp_path / "units" / "hunthub.service").read_text())
    pre = one(hub, "Service", "ExecStartPre").split()
    # each start resolves the settings as install-service did: the same flags, the same config file
    assert pre[pre.index("--port") + 1] == "9123"
    assert pre[pre.index("--config") + 1] == str(config)
    assert pre[pre.index("--state-dir") + 1] == str(tmp_path / "state")
    assert "--cores 1 " in one(parse((tmp_path / "units" / "hunthub-spark-worker.service").read_text()), "Service",
                               "ExecStart")  # fmt: skip
    # and the command line the units run is one `hunthub` takes
    args = cli.build_parser().parse_args(pre[1:])
    assert (args.command, args.step, args.port) == ("service-step", "prepare-hub", 9123)

"""Remote mode with Livy, as configuration: settings -> the hub's gateway service, analysts' server environment,
the sparkmagic config they read, and which kernels they are offered."""

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hunthub import doctor, kernelspecs
from hunthub.hub import config as hubconfig
from hunthub.kernels import livy
from hunthub.settings import HuntHub, load_config
from hunthub.stack import required_ports
from tests.livy_standin import LivyStandIn

LIVY = "https://livy.soc.example:8998"


# --- settings ------------------------------------------------------------------------------------------


def test_no_livy_by_default(settings):
    s = settings()
    assert s.livy_url == ""
    assert s.livy_verify is True
    assert s.livy_gateway_port == s.hub_port + 1


def test_livy_settings_come_from_the_environment(monkeypatch, state_dir):
    monkeypatch.setenv("HUNTHUB_STATE_DIR", str(state_dir))
    monkeypatch.setenv("HUNTHUB_LIVY_URL", LIVY + "/")
    monkeypatch.setenv("HUNTHUB_LIVY_CREDENTIALS_FILE", "/etc/hunthub/livy-credentials")
    monkeypatch.setenv("HUNTHUB_LIVY_VERIFY", "0")
    monkeypatch.setenv("HUNTHUB_LIVY_GATEWAY_PORT", "9999")
    s = HuntHub(config=load_config([]))
    assert s.livy_url == LIVY  # trailing slash dropped: the gateway appends /sessions
    assert s.livy_credentials_file == "/etc/hunthub/livy-credentials"
    assert s.livy_verify is False
    assert s.livy_gateway_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("bad", ["livy.example:8998", "ftp://livy.example", "https://user:secret@livy.example"])
def test_livy_url_must_be_http_without_credentials(settings, bad):
    with pytest.raises(TraitError, match="livy_url"):
        settings(livy_url=bad)


def test_every_livy_setting_documents_its_environment_variable():
    for name, trait in HuntHub.class_traits(config=True).items():
        if name.startswith("livy_"):
            assert f"HUNTHUB_{name.upper()}" in trait.help, name


# --- the hub's gateway service ---------------------------------------------------------------------------


def test_without_livy_url_there_is_no_gateway_and_no_livy_environment(settings, state_dir):
    c = Config()
    s = settings()
    hubconfig.apply_livy(c, s)
    assert "services" not in c.JupyterHub
    env = hubconfig.kernel_environment(s)
    assert not {"SPARKMAGIC_CONF_DIR", "JUPYTER_PATH"} & set(env)
    assert not (state_dir / "livy").exists()
    assert "Livy gateway" not in required_ports(s)


def test_livy_url_registers_the_gateway_as_a_managed_service(settings, tmp_path):
    creds = tmp_path / "livy-credentials"
    c = Config()
    s = settings(livy_url=LIVY, livy_credentials_file=str(creds), livy_ca_file="/etc/ssl/soc-ca.pem",
                 livy_gateway_port=8123, livy_timeout=20)  # fmt: skip
    hubconfig.apply_livy(c, s)
    (service,) = c.JupyterHub.services
    assert service["name"] == "livy-gateway"
    assert service["url"] == "http://127.0.0.1:8123"
    argv = service["command"]
    assert argv[:3] == [sys.executable, "-m", "hunthub.hub.livy_gateway"]
    assert f"--livy-url={LIVY}" in argv
    assert "--port=8123" in argv and "--ip=127.0.0.1" in argv and "--timeout=20" in argv
    # the gateway gets the path of the credentials, never the credentials themselves
    assert f"--credentials-file={creds}" in argv
    assert "--ca-file=/etc/ssl/soc-ca.pem" in argv
    assert "--no-verify" not in argv
    # it asks the hub about tokens with those tokens themselves: no role, no scopes
    assert "load_roles" not in c.JupyterHub
    assert required_ports(s)["Livy gateway"] == ("127.0.0.1", 8123)


def test_gateway_is_added_beside_other_services(settings):
    c = Config()
    c.JupyterHub.services = [{"name": "idle-culler", "command": ["cull"]}]
    hubconfig.apply_livy(c, settings(livy_url=LIVY, livy_verify=False))
    assert [x["name"] for x in c.JupyterHub.services] == ["idle-culler", "livy-gateway"]
    assert "--no-verify" in c.JupyterHub.services[1]["command"]


def test_gateway_command_line_parses_into_the_gateway_settings(settings):
    from hunthub.hub.livy_gateway import LivyGateway

    c = Config()
    hubconfig.apply_livy(c, settings(livy_url=LIVY, livy_verify=False, livy_session_idle_timeout=120))
    app = LivyGateway()
    app.initialize(c.JupyterHub.services[0]["command"][3:])
    assert (app.livy_url, app.ip, app.verify, app.session_idle_timeout) == (LIVY, "127.0.0.1", False, 120)


def test_gateway_refuses_a_credentials_file_others_can_read(tmp_path):
    from hunthub.hub.livy_gateway import LivyGateway

    creds = tmp_path / "creds"
    creds.write_text("livy-svc:s3cret\n")
    creds.chmod(0o644)
    with pytest.raises(SystemExit, match="chmod 600"):
        LivyGateway().initialize([f"--livy-url={LIVY}", f"--credentials-file={creds}"])
    creds.chmod(0o600)
    app = LivyGateway()
    app.initialize([f"--livy-url={LIVY}", f"--credentials-file={creds}"])
    assert "s3cret" not in repr(vars(app))  # only the encoded header is kept, never logged


# --- what analysts' servers get --------------------------------------------------------------------------


def test_analyst_servers_get_the_gateway_sparkmagic_config_and_livy_kernels(settings, state_dir):
    c = Config()
    s = settings(livy_url=LIVY)
    hubconfig.apply_spawner(c, s)
    hubconfig.apply_livy(c, s)
    env = c.Spawner.environment
    assert env["SPARKMAGIC_CONF_DIR"] == str(state_dir / "livy" / "sparkmagic")
    assert env["JUPYTER_PATH"] == str(kernelspecs.livy_data_dir())
    # the Livy URL itself is not handed to analysts: only the gateway talks to Livy
    assert LIVY not in json.dumps(env)


def test_sparkmagic_config_points_every_language_at_the_gateway_with_the_hub_token(settings, state_dir):
    s = settings(livy_url=LIVY, livy_gateway_port=8123)
    hubconfig.apply_livy(Config(), s)
    path = state_dir / "livy" / "sparkmagic" / "config.json"
    conf = json.loads(path.read_text())
    for language in ("python", "scala", "r"):
        assert conf[f"kernel_{language}_credentials"] == {"url": "http://127.0.0.1:8123", "auth": "HubToken"}
    assert conf["authenticators"]["HubToken"] == "hunthub.kernels.livy.HubToken"
    assert LIVY not in path.read_text()
    # readable by every analyst's account, writable by none of them
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755


def test_sparkmagic_reads_the_generated_config(settings, state_dir):
    """sparkmagic itself (in a fresh interpreter, as a kernel would) picks up the gateway and HubToken."""
    s = settings(livy_url=LIVY)
    hubconfig.apply_livy(Config(), s)
    code = (
        "import sparkmagic.utils.configuration as conf\n"
        "from sparkmagic.utils.utils import initialize_auth, Namespace\n"
        "c = conf.base64_kernel_python_credentials()\n"
        "a = initialize_auth(Namespace(auth=c['auth'], user=c['username'], password=c['password'], url=c['url']))\n"
        "print(c['url'], type(a).__module__ + '.' + type(a).__name__)\n"
    )
    env = {"SPARKMAGIC_CONF_DIR": str(state_dir / "livy" / "sparkmagic"), "HOME": str(state_dir)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == [s.livy_gateway_url, "hunthub.kernels.livy.HubToken"]


def test_hub_token_authenticator_sends_the_servers_token(monkeypatch):
    import requests

    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "abc123")
    request = requests.Request("GET", "http://127.0.0.1:1/sessions").prepare()
    livy.HubToken()(request)
    assert request.headers["Authorization"] == "token abc123"
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    request = requests.Request("GET", "http://127.0.0.1:1/sessions").prepare()
    assert "Authorization" not in livy.HubToken()(request).headers


def _kernel_names(env: dict[str, str]) -> set[str]:
    out = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "kernelspec", "list", "--json"],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    return set(json.loads(out.stdout)["kernelspecs"])


def test_livy_kernels_are_offered_only_with_a_livy_url(settings, tmp_path):
    """`jupyter kernelspec list` in the environment an analyst's server gets, with and without a Livy URL."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JUPYTERHUB_DISABLE_USER_CONFIG": "1"}
    without = _kernel_names({**base, **hubconfig.kernel_environment(settings())})
    assert "hunthub-pyspark" in without
    assert not {"pysparkkernel", "sparkkernel"} & without
    with_livy = _kernel_names({**base, **hubconfig.kernel_environment(settings(livy_url=LIVY))})
    assert {"pysparkkernel", "sparkkernel", "hunthub-pyspark"} <= with_livy


def test_livy_kernel_specs_run_sparkmagic_with_clear_names():
    found = kernelspecs.livy_data_dir().glob("kernels/*/kernel.json")
    specs = {p.parent.name: json.loads(p.read_text()) for p in found}
    assert set(specs) == {"pysparkkernel", "sparkkernel"}
    assert specs["pysparkkernel"]["argv"][:3] == ["python", "-m", "sparkmagic.kernels.pysparkkernel.pysparkkernel"]
    assert specs["sparkkernel"]["argv"][:3] == ["python", "-m", "sparkmagic.kernels.sparkkernel.sparkkernel"]
    assert all("Livy" in spec["display_name"] for spec in specs.values())
    # and they are not among the specs installed into every environment
    assert not {d.name for d in kernelspecs.spec_dirs()} & set(specs)


# --- doctor --------------------------------------------------------------------------------------------


def test_doctor_says_when_livy_answers_and_when_it_does_not(settings, tmp_path):
    standin = LivyStandIn(required_auth=("livy-svc", "s3cret")).start()
    try:
        creds = tmp_path / "creds"
        creds.write_text("livy-svc:s3cret\n")
        creds.chmod(0o600)
        ok = doctor.check_livy(settings(livy_url=standin.url, livy_credentials_file=str(creds)))
        assert ok.ok, ok.line()
        assert standin.requests[-1].requested_by == "hunthub"
        creds.write_text("livy-svc:wrong\n")
        denied = doctor.check_livy(settings(livy_url=standin.url, livy_credentials_file=str(creds)))
        assert not denied.ok and "401" in denied.detail and "livy_credentials_file" in denied.fix
        creds.chmod(0o644)
        assert "chmod 600" in doctor.check_livy(settings(livy_url=standin.url, livy_credentials_file=str(creds))).fix
    finally:
        standin.stop()
    down = doctor.check_livy(settings(livy_url=standin.url), timeout=3)
    assert not down.ok and standin.url in down.detail and "unreachable" in down.detail


def test_the_gateway_refuses_the_names_the_hub_reserves(settings):
    from hunthub.hub.livy_gateway import LivyGateway

    for reserved in (["hdfs", "svc-etl"], []):
        c = Config()
        hubconfig.apply_livy(c, settings(livy_url=LIVY, reserved_usernames=reserved))
        app = LivyGateway()
        app.initialize(c.JupyterHub.services[0]["command"][3:])
        assert app.reserved_usernames == reserved
    # run by hand, it still refuses the usual service accounts
    app = LivyGateway()
    app.initialize([f"--livy-url={LIVY}"])
    assert {"hdfs", "yarn", "livy", "spark", "hive", "hadoop", "root"} <= set(app.reserved_usernames)

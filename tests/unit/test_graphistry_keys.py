"""Graphistry keys handed to analysts: their own over the organisation's, only from private files, 0600 at home."""

import json
import stat

import pytest
from traitlets.config import Config

from hunthub.hub import config as hubconfig
from hunthub.spawner import graphistry_keys


def private(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_analysts_own_key_wins_over_the_organisations(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    private(keys / "alice.json", json.dumps({"personal_key_id": "alice-id", "personal_key_secret": "alice-secret"}))
    org = private(tmp_path / "org-secret", "org-secret\n")
    assert graphistry_keys.credentials_for("alice", "org-id", str(org), str(keys)) == {
        "personal_key_id": "alice-id", "personal_key_secret": "alice-secret"
    }  # fmt: skip
    assert graphistry_keys.credentials_for("bob", "org-id", str(org), str(keys)) == {
        "personal_key_id": "org-id", "personal_key_secret": "org-secret"
    }  # fmt: skip
    assert graphistry_keys.credentials_for("bob") is None


def test_keys_readable_by_others_are_refused(tmp_path):
    org = private(tmp_path / "org-secret", "x")
    org.chmod(0o644)
    with pytest.raises(graphistry_keys.GraphistryKeyError, match="chmod 600"):
        graphistry_keys.credentials_for("bob", "org-id", str(org))


def test_malformed_personal_key_file_is_named(tmp_path):
    private(tmp_path / "alice.json", "{not json")
    with pytest.raises(graphistry_keys.GraphistryKeyError, match="alice.json must be JSON"):
        graphistry_keys.credentials_for("alice", keys_dir=str(tmp_path))


def test_installed_credentials_are_private_and_removed_with_the_key(tmp_path):
    creds = {"personal_key_id": "i", "personal_key_secret": "s"}
    path = graphistry_keys.install(tmp_path, creds)
    assert json.loads(path.read_text()) == creds
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    graphistry_keys.install(tmp_path, None)
    assert not path.exists()


def test_no_graphistry_settings_reach_servers_without_a_server(settings):
    assert not [k for k in hubconfig.kernel_environment(settings()) if "GRAPHISTRY" in k]


def test_server_settings_reach_analysts_servers(settings):
    s = settings(graphistry_server="graphistry.soc.example", graphistry_client_url="https://graphs.soc.example")
    env = hubconfig.kernel_environment(s)
    assert env["HUNTHUB_KERNEL_GRAPHISTRY_SERVER"] == "graphistry.soc.example"
    assert env["HUNTHUB_KERNEL_GRAPHISTRY_PROTOCOL"] == "https"
    assert env["HUNTHUB_KERNEL_GRAPHISTRY_CLIENT_URL"] == "https://graphs.soc.example"
    assert env["HUNTHUB_KERNEL_GRAPHISTRY_PRIVACY"] == "organization"
    assert int(env["HUNTHUB_KERNEL_GRAPHISTRY_TIMEOUT"]) > 0
    c = Config()
    hubconfig.apply_spawner(c, settings(graphistry_server="g", graphistry_personal_key_id="org-id"))
    assert c.HuntHubLocalSpawner.graphistry_personal_key_id == "org-id"


def test_doctor_reports_the_graphistry_server(settings):
    import http.server
    import threading

    from hunthub import checks
    from tests.harness import free_port

    assert "render offline" in checks.check_graphistry(settings()).detail
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler)  # answers 501
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        up = checks.check_graphistry(settings(graphistry_server=f"127.0.0.1:{port}", graphistry_protocol="http"))
        assert up.ok and not up.warning and "answers" in up.detail
    finally:
        server.server_close()
    down = checks.check_graphistry(
        settings(graphistry_server=f"127.0.0.1:{free_port()}", graphistry_protocol="http", graphistry_timeout=2)
    )
    assert down.warning and "does not answer" in down.detail

"""The hub's HTTPS settings (hunthub.tls, HuntHub.public_url): what is served, what is refused, what is said."""

import datetime
import ssl

import pytest
from cryptography import x509
from traitlets import TraitError
from traitlets.config import Config

from hunthub import checks, tls
from hunthub.hub import config as hubconfig


def sans(cert_path):
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.DNSName)} | {
        str(v) for v in names.get_values_for_type(x509.IPAddress)
    }


def test_a_trial_certificate_is_made_once_with_a_private_key(settings):
    s = settings(ssl_self_signed=True, public_url="https://hunt.soc.example/")
    cert, key = tls.pair(s)
    assert key.stat().st_mode & 0o777 == 0o600 and s.tls_dir.stat().st_mode & 0o777 == 0o700
    assert {"localhost", "127.0.0.1", "hunt.soc.example"} <= sans(cert)
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    before = cert.read_bytes()
    assert tls.pair(s) == (cert, key) and cert.read_bytes() == before  # kept while it still fits
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=tls.SELF_SIGNED_DAYS - 3)
    tls.self_signed(s, now=later)
    assert cert.read_bytes() != before  # made again a week before it expires


def test_the_admins_pair_is_checked_before_the_hub_starts(settings, tmp_path):
    trial = settings(ssl_self_signed=True)
    cert, key = tls.pair(trial)
    with pytest.raises(tls.TLSError, match="go together"):
        tls.pair(settings(ssl_cert=str(cert)))
    with pytest.raises(tls.TLSError, match="no file"):
        tls.pair(settings(ssl_cert=str(tmp_path / "none.crt"), ssl_key=str(key)))
    key.chmod(0o644)
    with pytest.raises(tls.TLSError, match="chmod 600"):
        tls.pair(settings(ssl_cert=str(cert), ssl_key=str(key)))
    key.chmod(0o600)
    other = settings(ssl_self_signed=True, state_dir=str(tmp_path / "other"))
    _, other_key = tls.pair(other)
    with pytest.raises(tls.TLSError, match="do not make a certificate and its key"):
        tls.pair(settings(ssl_cert=str(cert), ssl_key=str(other_key)))


def test_the_hub_serves_https_and_builds_links_from_the_public_url(settings):
    c = Config()
    s = settings(ssl_self_signed=True, port=8443, public_url="https://hunt.soc.example")
    hubconfig.apply_proxy(c, s)
    assert c.JupyterHub.bind_url == "https://127.0.0.1:8443/"
    assert c.JupyterHub.ssl_cert.endswith(tls.CERT_NAME) and c.JupyterHub.ssl_key.endswith(tls.KEY_NAME)
    assert c.JupyterHub.public_url == "https://hunt.soc.example/"  # cookies Secure, links and callback from it
    c = Config()
    hubconfig.apply_proxy(c, settings())
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/" and "ssl_cert" not in c.JupyterHub


def test_behind_a_reverse_proxy_the_oauth_callback_is_the_public_one(settings, monkeypatch):
    monkeypatch.setenv("HUNTHUB_OAUTH_CLIENT_SECRET", "s3cret")
    c = Config()
    s = settings(auth="oidc", public_url="https://hunt.soc.example/", oauth_issuer="https://idp.soc.example",
                 oauth_client_id="hunthub", oauth_allowed_groups=["soc"])  # fmt: skip
    hubconfig.apply_proxy(c, s)
    hubconfig.apply_authenticator(c, s)
    assert c.OAuthenticator.oauth_callback_url == "https://hunt.soc.example/hub/oauth_callback"
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/"  # the hub itself stays on loopback
    assert s.local_url == "http://127.0.0.1:8000/"


def test_public_url_is_checked_and_only_the_root_path_is_served(settings):
    assert settings(public_url=" https://hunt.soc.example ").public_url == "https://hunt.soc.example/"
    with pytest.raises(TraitError, match="root path"):
        settings(public_url="https://soc.example/hunt/")
    with pytest.raises(TraitError, match="must be http"):
        settings(public_url="hunt.soc.example")
    assert settings(ssl_self_signed=True, port=9443).public_url == "https://localhost:9443/"


def test_plain_http_beyond_loopback_and_trial_certificates_are_said_loudly(settings):
    assert tls.warnings(settings()) == []
    [line] = tls.warnings(settings(ip="0.0.0.0"))
    assert "plain HTTP on 0.0.0.0" in line and "ssl_cert" in line
    assert any("TRIAL CERTIFICATE" in w for w in tls.warnings(settings(ssl_self_signed=True)))
    assert any("plain HTTP" in w for w in tls.warnings(settings(public_url="http://hunt.soc.example/")))
    assert tls.warnings(settings(ip="10.0.0.5", ssl_self_signed=True, public_url="https://hunt.soc.example/")) == [
        w for w in tls.warnings(settings(ssl_self_signed=True)) if "TRIAL" in w
    ]


def test_a_hub_on_every_interface_with_a_localhost_public_url_is_warned_about(settings, monkeypatch):
    warned = checks.check_public_url(settings(ip="0.0.0.0", ssl_self_signed=True, port=8443))
    assert warned.ok and warned.warning  # said, not refused
    assert "https://localhost:8443/" in warned.detail and "HuntHub.public_url" in warned.fix
    assert "OAuth" not in warned.detail
    monkeypatch.setenv("HUNTHUB_OAUTH_CLIENT_SECRET", "s3cret")
    oidc = dict(auth="oidc", oauth_issuer="https://idp.soc.example", oauth_client_id="hunthub")
    warned = checks.check_public_url(settings(ip="", **oidc))
    assert warned.warning and "OAuth callback" in warned.detail and "cannot log in" in warned.detail
    # the analysts' address is set, or the hub is only reachable on this machine / at a named address anyway
    for fine in (
        settings(ip="0.0.0.0", ssl_self_signed=True, public_url="https://hunt.soc.example/", **oidc),
        settings(ssl_self_signed=True, **oidc),
        settings(ip="10.0.0.5", ssl_self_signed=True),
    ):
        checked = checks.check_public_url(fine)
        assert checked.ok and not checked.warning, checked.detail

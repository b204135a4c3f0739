"""An analyst logs in over HTTPS, through a real OpenID Connect provider, in real headless Chromium, against a real
`hunthub up` that serves a certificate of a CA made for this test (HuntHub.ssl_cert / ssl_key) and whose
public_url is https: the provider is given the https callback, the hub's cookies are Secure, and the certificate
is one a client trusting that CA accepts and one trusting only the system's CAs refuses."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.browser import browser, screenshot
from tests.harness import fresh_state_dir, stack_env, stack_with_config, write_secret
from tests.oidc_provider import Account, Client, OIDCProvider, hub_config

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server_cert(folder):
    """A CA, and a certificate it issued for localhost and 127.0.0.1; returns (ca.pem, chain.pem, key.pem, the
    CA's SPKI SHA-256 in base64: what Chromium is told to trust)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("hunthub test CA")).issuer_name(_name("hunthub test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    ca_path, chain_path, key_path = folder / "ca.pem", folder / "hub-chain.pem", folder / "hub.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    spki = ca.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return ca_path, chain_path, key_path, base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def https_stack():
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="0")
    base = f"https://localhost:{env['HUNTHUB_PORT']}"
    state.parent.joinpath("tls").mkdir()
    ca, chain, key, ca_spki = make_ca_and_server_cert(state.parent / "tls")
    client = Client(redirect_uris=[f"{base}/hub/oauth_callback"], post_logout_redirect_uris=[f"{base}/hub/login"])
    with OIDCProvider(accounts=[Account("alice", PASSWORD, groups=["soc-analysts"])], clients=[client]) as idp:
        secret = write_secret(state.parent / "client-secret", client.client_secret)
        config = [
            *hub_config(idp, client, secret, ["soc-analysts"]),
            f"c.HuntHub.ssl_cert = {str(chain)!r}",
            f"c.HuntHub.ssl_key = {str(key)!r}",
            f"c.HuntHub.public_url = {base + '/'!r}",
        ]
        with stack_with_config(state, env, config, "identity provider", idp.logs) as stack:
            stack.url, stack.ca, stack.ca_spki, stack.idp = base, ca, ca_spki, idp
            yield stack


def test_the_hub_serves_a_certificate_only_a_client_trusting_its_ca_accepts(https_stack):
    stack = https_stack
    assert f"hunthub is up: {stack.url}/" in stack.output
    assert requests.get(f"{stack.url}/hub/api", verify=str(stack.ca), timeout=10).ok
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{stack.url}/hub/api", timeout=10)  # the system's CAs never issued it
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(stack.url.replace("https://", "http://") + "/hub/api", timeout=10)  # no plain HTTP beside it


def test_an_analyst_logs_in_over_https_with_the_public_callback_and_secure_cookies(https_stack):
    stack, base = https_stack, https_stack.url
    # Chromium trusts the test's CA by its key (the chain the hub serves ends in it), nothing else
    with browser([f"--ignore-certificate-errors-spki-list={stack.ca_spki}"]) as b:
        context = b.new_context()
        page = context.new_page()
        authorize = []
        page.on("request", lambda r: authorize.append(r.url) if "/auth?" in r.url else None)
        try:
            page.goto(f"{base}/hub/login")
            page.get_by_role("button", name=re.compile("Sign in with", re.I)).click()
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(rf"{re.escape(base)}/(hub|user/alice)/.*"), timeout=60_000)
            redirect = next(u for u in authorize if "redirect_uri=" in u)
            assert "redirect_uri=https%3A%2F%2Flocalhost" in redirect and "oauth_callback" in redirect
            cookies = {c["name"]: c for c in context.cookies(base)}
            hub_cookies = [c for name, c in cookies.items() if name.startswith("jupyterhub-")]
            assert hub_cookies and all(c["secure"] for c in hub_cookies), cookies
            page.goto(f"{base}/hub/home")
            assert page.url == f"{base}/hub/home" and "alice" in page.content()  # logged in, over https
        except Exception:
            screenshot(page, "https-login")
            print(stack.dump_logs(), "\n--- identity provider ---\n", stack.idp.logs())
            raise

"""An analyst logs in over HTTPS, through a real OpenID Connect provider, in real headless Chromium, against a real
`hunthub up` that serves a certificate of a CA made for this test (HuntHub.ssl_cert / ssl_key) and whose
public_url is https: the provider is given the https callback, the hub's cookies are Secure, and the certificate
is one a client trusting that CA accepts and one trusting only the system's CAs refuses. Then the same login
behind a reverse proxy that terminates TLS (a second, real configurable-http-proxy with that certificate in front
of a hub speaking plain HTTP on loopback), where only public_url says https."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.browser import browser, screenshot
from tests.harness import ROOT, free_port, fresh_state_dir, stack_env, stack_with_config, write_secret
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


@contextlib.contextmanager
def tls_terminating_proxy(port: int, target: str, chain: Path, key: Path):
    """The reverse proxy of the README's example, played by configurable-http-proxy (npm, as the hub's own):
    https on `port` with the site's certificate, everything forwarded to `target` as plain HTTP, the original
    Host kept and X-Forwarded-* added."""
    command = [str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy"), "--ip", "127.0.0.1",
               "--port", str(port), "--api-ip", "127.0.0.1", "--api-port", str(free_port()),
               "--ssl-cert", str(chain), "--ssl-key", str(key), "--default-target", target]  # fmt: skip
    env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "the TLS proxy did not start"
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module", params=["hub", "proxy"])
def https_stack(request):
    """TLS by the hub itself (`ssl_cert`), or by a reverse proxy in front of a plain-HTTP hub on loopback."""
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="0")
    public_port = env["HUNTHUB_PORT"] if request.param == "hub" else str(free_port())
    base = f"https://localhost:{public_port}"
    state.parent.joinpath("tls").mkdir()
    ca, chain, key, ca_spki = make_ca_and_server_cert(state.parent / "tls")
    client = Client(redirect_uris=[f"{base}/hub/oauth_callback"], post_logout_redirect_uris=[f"{base}/hub/login"])
    with contextlib.ExitStack() as running:
        idp = running.enter_context(
            OIDCProvider(accounts=[Account("alice", PASSWORD, groups=["soc-analysts"])], clients=[client])
        )
        secret = write_secret(state.parent / "client-secret", client.client_secret)
        config = [*hub_config(idp, client, secret, ["soc-analysts"]), f"c.HuntHub.public_url = {base + '/'!r}"]
        if request.param == "hub":
            config += [f"c.HuntHub.ssl_cert = {str(chain)!r}", f"c.HuntHub.ssl_key = {str(key)!r}"]
        else:
            hub = f"http://127.0.0.1:{env['HUNTHUB_PORT']}"
            running.enter_context(tls_terminating_proxy(int(public_port), hub, chain, key))
        stack = running.enter_context(stack_with_config(state, env, config, "identity provider", idp.logs))
        stack.url, stack.ca, stack.ca_spki, stack.idp, stack.tls = base, ca, ca_spki, idp, request.param
        yield stack


def test_the_hub_serves_a_certificate_only_a_client_trusting_its_ca_accepts(https_stack):
    stack = https_stack
    if stack.tls == "proxy":
        pytest.skip("the certificate is the proxy's here")
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

"""The hub's HTTPS: the admin's certificate and key, or a self-signed pair for a trial, and what `up` says about it.

JupyterHub's proxy serves TLS itself when given a certificate (HuntHub.ssl_cert / ssl_key). For a trial,
`ssl_self_signed` makes one pair, once, into <state>/hub/tls: a key only the hub's account reads, and a
certificate for localhost, 127.0.0.1 and the configured ip and public host. Browsers rightly distrust it; the
banner says so. What this cannot do: obtain a certificate a browser trusts (use your CA or ACME outside hunthub)
or renew one; a reverse proxy that terminates TLS in front of the hub is the admin's (set public_url).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import urllib.parse
from pathlib import Path

from hunthub import atomic_file
from hunthub.settings import HuntHub

SELF_SIGNED_DAYS = 90
CERT_NAME, KEY_NAME = "hub-self-signed.crt", "hub-self-signed.key"


class TLSError(ValueError):
    """The configured certificate cannot be served; the message says which file and what to do."""


def hosts(s: HuntHub) -> list[str]:
    """Names a trial certificate covers: loopback, the listening address and the public host."""
    names = ["localhost", "127.0.0.1"]
    if s.ip not in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        names.append(s.ip)
    public_host = urllib.parse.urlparse(s.public_url).hostname
    if public_host:
        names.append(public_host)
    return list(dict.fromkeys(names))


def pair(s: HuntHub) -> tuple[Path, Path] | None:
    """(certificate, key) the proxy serves, checked to load together; None for plain HTTP."""
    if s.ssl_cert or s.ssl_key:
        if not (s.ssl_cert and s.ssl_key):
            raise TLSError("HuntHub.ssl_cert and HuntHub.ssl_key go together: set both, or neither")
        cert, key = Path(s.ssl_cert), Path(s.ssl_key)
    elif s.ssl_self_signed:
        cert, key = self_signed(s)
    else:
        return None
    check(cert, key)
    return cert, key


def check(cert: Path, key: Path) -> None:
    for path in (cert, key):
        if not path.is_file():
            raise TLSError(f"no file at {path} (HuntHub.ssl_cert / ssl_key)")
    if key.stat().st_mode & 0o077:
        raise TLSError(f"{key} is readable by other accounts: chmod 600 {key} (it is the hub's private key)")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as e:
        raise TLSError(f"{cert} and {key} do not make a certificate and its key: {e}") from e


def self_signed(s: HuntHub, now: datetime.datetime | None = None) -> tuple[Path, Path]:
    """The trial pair in <state>/hub/tls, made again when missing, expiring within a week, or not covering
    the names the hub is reached by."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = now or datetime.datetime.now(datetime.UTC)
    folder = s.tls_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    wanted = hosts(s)
    if cert_path.is_file() and key_path.is_file():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        covered = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
        covered |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
        if set(wanted) <= covered and existing.not_valid_after_utc > now + datetime.timedelta(days=7):
            return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    for host in wanted:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hunthub trial ({wanted[-1]})")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_file.write_bytes(key_path, key_pem, mode=0o600)
    atomic_file.write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return cert_path, key_path


def warnings(s: HuntHub) -> list[str]:
    """What `hunthub up` says loudly about how analysts' passwords and cookies travel."""
    said = []
    loopback = s.ip in ("127.0.0.1", "localhost", "::1")
    if not s.serves_tls and not loopback:
        where = "0.0.0.0 (every interface)" if s.ip in ("", "0.0.0.0", "::") else s.ip  # noqa: S104
        said.append(
            f"WARNING: the hub speaks plain HTTP on {where}: passwords and session cookies cross the network in "
            "clear. Set HuntHub.ssl_cert and ssl_key, or listen on 127.0.0.1 behind a reverse proxy that "
            "terminates TLS (and set HuntHub.public_url to its https:// address)."
        )
    if s.public_url.startswith("http://") and urllib.parse.urlparse(s.public_url).hostname not in (
        "localhost",
        "127.0.0.1",
    ):
        said.append(f"WARNING: analysts reach the hub at {s.public_url}, plain HTTP: use https:// (public_url).")
    if s.ssl_self_signed and not s.ssl_cert:
        said.append(
            "WARNING: TRIAL CERTIFICATE: the hub serves a self-signed certificate (HuntHub.ssl_self_signed). "
            "Browsers will warn, and analysts cannot tell it from an attacker's. Use one your CA issued."
        )
    return said

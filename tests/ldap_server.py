"""A real directory server for tests: Debian's OpenLDAP `slapd` on a free loopback port, with its own config and data.

    with LDAPServer(users=[User("alice", "pw", groups=["hunters"])], groups=["hunters"]) as ldap:
        ldap.url, ldap.base, ldap.user_dn("alice"), ldap.group_dn("hunters"), ldap.reader_dn, ldap.reader_password

Each server lives in a temporary directory (a generated slapd.conf, an MDB database, its log) removed at stop; the
machine's own slapd (port 389, /etc/ldap) is never touched. The data goes in through slapd itself (`ldapadd` as the
directory's manager), not slapadd, so the `memberof` overlay gives users their `memberOf` values as Active Directory
does, and both ways of finding a user's groups (groups' `member`, users' `memberOf`) can be tested on one directory.

Layout under `dc=hunthub,dc=test`: `ou=people` (inetOrgPerson users, `uid` = name), `ou=groups` (groupOfNames,
`cn` = name), `ou=services` (a read-only search account, `reader_dn`), `ou=policies` (the password policy).
A user made with `locked=True` carries `pwdAccountLockedTime: 000001010000Z`, which the `ppolicy` overlay reads as
"locked until an administrator unlocks it": every bind as that user fails, and a client that sends the password
policy control is told why (accountLocked).

With `tls=True` the server also listens for ldaps:// (`ldaps_url`) and offers StartTLS, with a certificate for
127.0.0.1 and localhost issued by a CA made for this server alone (`ca_file`).

Needs Debian's `slapd` and `ldap-utils` (bin/test installs them).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.background_server import BackgroundServer, write_private
from tests.harness import free_port

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
APT_INSTALL = "apt-get install -y slapd ldap-utils"
BASE = "dc=hunthub,dc=test"


@dataclass
class User:
    name: str
    password: str
    groups: list[str] = field(default_factory=list)
    locked: bool = False
    # the `uid` value; differs from `name` only to test names the hub must refuse (e.g. "Frank.Li")
    uid: str | None = None

    def __post_init__(self):
        if self.uid is None:
            self.uid = self.name


def ssha(password: str) -> str:
    """A salted SHA-1 userPassword value, as slappasswd makes them: the directory never holds a clear password."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - slapd's {SSHA} scheme is SHA-1
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class LDAPServer(BackgroundServer):
    """Runs slapd as a child process (its own process group) for the length of a `with` block. Its `logs()` hold
    what slapd printed: one line per operation and its result."""

    stop_timeout = 10.0

    def __init__(
        self,
        users: list[User],
        groups: list[str] = (),
        tls: bool = False,
        startup_timeout: float = 30.0,
    ):
        super().__init__()
        self.users = list(users)
        named = {g for u in self.users for g in u.groups}
        self.groups = list(dict.fromkeys([*groups, *sorted(named)]))
        self.tls = tls
        self.startup_timeout = startup_timeout
        self.base = BASE
        self.manager_dn = f"cn=manager,{BASE}"
        self.manager_password = secrets.token_urlsafe(16)
        self.reader_dn = f"cn=hunthub-reader,ou=services,{BASE}"
        self.reader_password = secrets.token_urlsafe(16)
        self.port: int | None = None
        self.ldaps_port: int | None = None

    # -- names ----------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        if not self.tls:
            raise RuntimeError("this server was started without tls=True")
        return f"ldaps://localhost:{self.ldaps_port}"

    @property
    def people_base(self) -> str:
        return f"ou=people,{BASE}"

    @property
    def groups_base(self) -> str:
        return f"ou=groups,{BASE}"

    @property
    def ca_file(self) -> Path:
        return self._tmp / "ca.pem"

    def user_dn(self, name: str) -> str:
        return f"uid={self.user(name).uid},{self.people_base}"

    def group_dn(self, group: str) -> str:
        return f"cn={group},{self.groups_base}"

    def user(self, name: str) -> User:
        return next(u for u in self.users if u.name == name)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> LDAPServer:
        for tool in (SLAPD, "ldapadd"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} not found: the directory server tests need `{APT_INSTALL}` (bin/test)")
        self._tmp = Path(tempfile.mkdtemp(prefix="hunthub-ldap-"))
        (self._tmp / "data").mkdir(mode=0o700)
        self.port = free_port()
        urls = [f"ldap://127.0.0.1:{self.port}/"]
        if self.tls:
            self.ldaps_port = free_port()
            urls.append(f"ldaps://127.0.0.1:{self.ldaps_port}/")
            self._make_certificates()
        conf = write_private(self._tmp / "slapd.conf", self._slapd_conf())  # it holds the manager's password
        # -d: stay in the foreground (a child we can stop) and log to stderr; `stats` logs each bind's outcome
        self._spawn([SLAPD, "-f", str(conf), "-h", " ".join(urls), "-d", "stats"], "slapd.log", self._ready)
        return self

    def _ready(self) -> None:
        self._wait_ready()
        self._load()

    def _slapd_conf(self) -> str:
        tmp = self._tmp
        lines = [
            *(f"include {SCHEMA_DIR / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")),
            f"modulepath {MODULE_DIR}",
            "moduleload back_mdb",
            "moduleload ppolicy",
            "moduleload memberof",
            f"pidfile {tmp / 'slapd.pid'}",
            f"argsfile {tmp / 'slapd.args'}",
        ]
        if self.tls:
            lines += [
                f"TLSCACertificateFile {tmp / 'ca.pem'}",
                f"TLSCertificateFile {tmp / 'server.pem'}",
                f"TLSCertificateKeyFile {tmp / 'server-key.pem'}",
            ]
        lines += [
            "database mdb",
            f'suffix "{BASE}"',
            f'rootdn "{self.manager_dn}"',
            f"rootpw {ssha(self.manager_password)}",
            f"directory {tmp / 'data'}",
            "maxsize 33554432",
            # groups' `member` values appear as `memberOf` on their users, as in Active Directory
            "overlay memberof",
            "overlay ppolicy",
            f'ppolicy_default "cn=default,ou=policies,{BASE}"',
            # a client that sends the password policy control hears *why* a bind failed (accountLocked), so the
            # hub can say so; without it slapd answers a locked account's bind like a wrong password
            "ppolicy_use_lockout",
            # passwords: only for binding, and only the user may change their own; everything else: readable by
            # any bound account (users and the search account), nothing for anonymous clients
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by users read by * none",
        ]
        return "\n".join(lines) + "\n"

    def _make_certificates(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hunthub test directory CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        import ipaddress

        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        pem = serialization.Encoding.PEM
        (self._tmp / "ca.pem").write_bytes(ca.public_bytes(pem))
        (self._tmp / "server.pem").write_bytes(cert.public_bytes(pem))
        write_private(
            self._tmp / "server-key.pem",
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self._proc.returncode} during start:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"slapd not listening on {self.url} after {self.startup_timeout:.0f}s:\n{self.logs()}")

    def ldif(self) -> str:
        """The directory's entries (without the base entry's parents), as `ldapadd` takes them."""
        entries = [
            [f"dn: {BASE}", "objectClass: dcObject", "objectClass: organization", "dc: hunthub", "o: hunthub tests"],
            *(
                [f"dn: ou={ou},{BASE}", "objectClass: organizationalUnit", f"ou: {ou}"]
                for ou in ("people", "groups", "services", "policies")
            ),
            [
                f"dn: cn=default,ou=policies,{BASE}", "objectClass: device", "objectClass: pwdPolicy",
                "cn: default", "pwdAttribute: userPassword", "pwdLockout: TRUE", "pwdMaxFailure: 0",
            ],
            [
                f"dn: {self.reader_dn}", "objectClass: applicationProcess", "objectClass: simpleSecurityObject",
                "cn: hunthub-reader", f"userPassword: {ssha(self.reader_password)}",
            ],
        ]  # fmt: skip
        for u in self.users:
            entry = [
                f"dn: {self.user_dn(u.name)}", "objectClass: inetOrgPerson", f"uid: {u.uid}", f"cn: {u.name}",
                f"sn: {u.name}", f"mail: {u.uid.lower()}@hunthub.test", f"userPassword: {ssha(u.password)}",
            ]  # fmt: skip
            if u.locked:
                # ppolicy's "locked by an administrator, until one unlocks it" value
                entry.append("pwdAccountLockedTime: 000001010000Z")
            entries.append(entry)
        for g in self.groups:
            members = [self.user_dn(u.name) for u in self.users if g in u.groups]
            # groupOfNames needs a member: an empty group holds the manager, who is no user of the hub
            entries.append([
                f"dn: {self.group_dn(g)}", "objectClass: groupOfNames", f"cn: {g}",
                *(f"member: {dn}" for dn in members or [self.manager_dn]),
            ])  # fmt: skip
        return "\n\n".join("\n".join(e) for e in entries) + "\n"

    def _load(self) -> None:
        ldif = self._tmp / "data.ldif"
        ldif.write_text(self.ldif())
        out = subprocess.run(
            ["ldapadd", "-x", "-H", self.url, "-D", self.manager_dn, "-y", str(self._password_file()), "-f", str(ldif)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"loading the test directory failed:\n{out.stdout}\n{out.stderr}\n{self.logs()}")

    def _password_file(self) -> Path:
        """The manager's password in a 0600 file (`ldapadd -y`), so it is never on a command line."""
        path = self._tmp / "manager-password"
        if not path.exists():
            write_private(path, self.manager_password)  # no newline: ldapadd -y takes the file's bytes as they are
        return path


# -- the directory of the LDAP login tests (tests/integration/test_ldap_directory.py, tests/e2e/test_ldap_login.py) --

PASSWORD = "correct horse battery"


def hunt_directory() -> LDAPServer:
    """The login tests' directory, with TLS: alice (hunters), bob (hunters, hunt-admins), carol (hunters, hunt-dfir),
    dave (contractors only), erin (hunters, locked), frank (hunters, `uid` Frank.Li: a name the hub cannot use) and
    hdfs (hunters, a cluster service account's name), all with PASSWORD."""
    users = [
        User("alice", PASSWORD, groups=["hunters"]),
        User("bob", PASSWORD, groups=["hunters", "hunt-admins"]),
        User("carol", PASSWORD, groups=["hunters", "hunt-dfir"]),
        User("dave", PASSWORD, groups=["contractors"]),
        User("erin", PASSWORD, groups=["hunters"], locked=True),
        User("frank", PASSWORD, groups=["hunters"], uid="Frank.Li"),
        User("hdfs", PASSWORD, groups=["hunters"]),
    ]
    return LDAPServer(users, groups=["hunters", "hunt-admins", "hunt-dfir"], tls=True)

"""A real OpenID Connect provider on loopback for tests: `tests/oidc/provider.mjs` (npm `oidc-provider`) run by Node.

    with OIDCProvider(accounts=[Account("alice", "pw", groups=["hunters"])],
                      clients=[Client(redirect_uris=["http://127.0.0.1:8000/hub/oauth_callback"])]) as idp:
        idp.issuer, idp.discovery["token_endpoint"], idp.clients[0].client_secret

The provider keeps everything in memory, signs ID tokens with an RS256 key made at start, shows its own login form
("Test IdP", fields `username`/`password`, button "Sign in"), grants consent by itself and supports refresh tokens
and RP-initiated logout. Its node_modules come from `npm install --prefix tests/oidc --no-audit --no-fund`.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.background_server import BackgroundServer, write_private
from tests.harness import free_port

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
PROVIDER_SCRIPT = OIDC_DIR / "provider.mjs"
NPM_INSTALL = "npm install --prefix tests/oidc --no-audit --no-fund"


@dataclass
class Account:
    username: str
    password: str
    groups: list[str] = field(default_factory=list)
    email: str | None = None
    name: str | None = None
    sub: str | None = None
    email_verified: bool = True

    def __post_init__(self):
        if self.email is None:
            self.email = f"{self.username}@example.test"
        if self.name is None:
            self.name = self.username.capitalize()
        if self.sub is None:
            # stable and opaque, and deliberately not the username
            self.sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hunthub-test-idp:{self.username}"))


@dataclass
class Client:
    redirect_uris: list[str]
    client_id: str = "hunthub"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    # the provider accepts client_secret_basic and client_secret_post either way; this is only the registered value
    token_endpoint_auth_method: str = "client_secret_basic"


def _as(cls, item):
    return item if isinstance(item, cls) else cls(**item)


class OIDCProvider(BackgroundServer):
    """Runs the test IdP as a child process (own process group) for the length of a `with` block. Its `logs()` hold
    everything the provider printed (request lines, warnings, errors)."""

    def __init__(
        self,
        accounts: list[Account | dict],
        clients: list[Client | dict],
        access_token_ttl: int = 3600,
        id_token_ttl: int = 3600,
        refresh_token_ttl: int = 86400,
        rotate_refresh_tokens: bool | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 30.0,
    ):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("host must be 127.0.0.1 or localhost")
        super().__init__()
        self.accounts = [_as(Account, a) for a in accounts]
        self.clients = [_as(Client, c) for c in clients]
        if not self.clients:
            raise ValueError("the provider needs at least one client")
        self.access_token_ttl = access_token_ttl
        self.id_token_ttl = id_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.host = host
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.issuer: str | None = None
        self.discovery: dict = {}

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> OIDCProvider:
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"the test OpenID provider's npm packages are missing: run `{NPM_INSTALL}`")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found on PATH: the test OpenID provider needs Node.js 20+")

        self.port = free_port()
        self.issuer = f"http://{self.host}:{self.port}"
        self._tmp = Path(tempfile.mkdtemp(prefix="hunthub-oidc-"))
        config = write_private(self._tmp / "cfg.json", json.dumps(self._config()))
        self._spawn([node, str(PROVIDER_SCRIPT), str(config)], "provider.log", self._wait_ready, cwd=OIDC_DIR)
        return self

    def _config(self) -> dict:
        cfg = {
            "port": self.port,
            "issuer": self.issuer,
            "host": "127.0.0.1",
            "access_token_ttl": self.access_token_ttl,
            "id_token_ttl": self.id_token_ttl,
            "refresh_token_ttl": self.refresh_token_ttl,
            "clients": [asdict(c) for c in self.clients],
            "accounts": [asdict(a) for a in self.accounts],
        }
        if self.rotate_refresh_tokens is not None:
            cfg["rotate_refresh_tokens"] = self.rotate_refresh_tokens
        return cfg

    def _wait_ready(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + self.startup_timeout
        last_error = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"test OpenID provider exited with {self._proc.returncode} during start:\n{self.logs()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        self.discovery = json.load(r)
                        return
            except (urllib.error.URLError, OSError) as e:
                last_error = e
            time.sleep(0.1)
        raise RuntimeError(
            f"test OpenID provider not answering {url} after {self.startup_timeout:.0f}s ({last_error}):\n{self.logs()}"
        )

    # -- helpers for tests --------------------------------------------------------------------------------------

    def client(self, client_id: str | None = None) -> Client:
        if client_id is None:
            return self.clients[0]
        return next(c for c in self.clients if c.client_id == client_id)

    def account(self, username: str) -> Account:
        return next(a for a in self.accounts if a.username == username)


def hub_config(idp: OIDCProvider, client: Client, secret_file: Path, allowed_groups: list[str]) -> list[str]:
    """hunthub_config.py lines that make a hub log in through `idp` as `client` (its secret in `secret_file`),
    letting in members of `allowed_groups`."""
    return [
        "c.HuntHub.auth = 'oidc'",
        f"c.HuntHub.oauth_issuer = {idp.issuer!r}",
        f"c.HuntHub.oauth_client_id = {client.client_id!r}",
        f"c.HuntHub.oauth_client_secret_file = {str(secret_file)!r}",
        f"c.HuntHub.oauth_allowed_groups = {allowed_groups!r}",
    ]

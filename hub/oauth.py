"""Login through an identity provider: hunthub's OAuthenticator classes.

`HuntHubOIDCAuthenticator` (entry point `hunthub-oidc`) is oauthenticator's GenericOAuthenticator speaking OpenID
Connect in full, where the generic class leaves it to configuration:
- the endpoints come from the issuer's discovery document, whose `issuer` must be the configured one;
- the ID token is verified (signature against the provider's published keys, issuer, audience, expiry) and is the
  user's identity; the userinfo endpoint may add claims but never change `sub`;
- an authorization response that names another issuer (RFC 9207 `iss`) is refused: that is the mix-up attack;
- logout also ends the provider session through its end_session_endpoint.

`HuntHubGitHubAuthenticator` and `HuntHubGoogleAuthenticator` are the presets. All three share:
- `_ClearRefusals`: a refused login (a user name hunthub cannot use, among them the cluster's service accounts, a
  user outside the allowed groups, a sign-in code the provider will not exchange) gets a page saying exactly that,
  where upstream shows a generic 403 or a 500;
- `_ProviderAccounts`: a hub name belongs to one account of the provider, the one whose stable id (`sub`) first
  logged in with it; another account that the provider gives the same name is refused (`SubjectBindings`). And
  admin is exactly what the OAuth settings grant, decided again at every login and token refresh: a flag left in
  the database by native login (or by an earlier configuration) is not inherited.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import jwt
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.google import GoogleOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler, OAuthLogoutHandler
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Integer, Unicode
from traitlets.config import Configurable

from hunthub import atomic_file
from hunthub.hub import refusals
from hunthub.hub.usernames import UsernameRules

# how long a discovery document or key set is trusted before it is fetched again (providers rotate keys)
DISCOVERY_TTL = 3600


class _ClearRefusals(UsernameRules):
    """Mixed into an OAuthenticator: every refusal says why, and who to ask."""

    username_source = "user name"

    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)
        name = auth_model["name"]
        problem = self.username_problem(name)
        if problem:
            raise refusals.unusable_name("Your identity provider", name, self.username_source, problem)
        return auth_model

    async def check_allowed(self, username, auth_model):
        if await super().check_allowed(username, auth_model):
            return True
        allowed = set(self.allowed_groups) | set(getattr(self, "allowed_organizations", ()))
        raise refusals.not_allowed(username, auth_model.get("groups") or [], allowed)

    async def get_token_info(self, handler, params):
        try:
            return await super().get_token_info(handler, params)
        except HTTPClientError as e:
            if e.code is not None and 400 <= e.code < 500 and params.get("grant_type") == "authorization_code":
                raise web.HTTPError(
                    403,
                    f"The identity provider refused this sign-in ({_oauth_error(e)}). A sign-in link works once "
                    "and only for minutes: sign in again from the hub's login page.",
                ) from e
            raise


class SubjectRecordError(ValueError):
    """The record of provider accounts cannot be read or is not one."""


class SubjectBindings:
    """Which account of the identity provider owns each hub name, kept in a small JSON file:
    ``{"version": 1, "users": {"alice": {"iss": "https://idp.example", "sub": "248289761001", "since": "..."}}}``.

    A provider's user names can be renamed and reused (an account deleted, another created with its name); its
    subject id `sub` (GitHub: the numeric user id) never is, within one issuer. Binding the hub name to (issuer,
    sub) at its first login keeps a later, different account of the same name out of the first one's home, notebooks
    and cluster identity.

    Why a file and not the user's auth_state: auth_state is optional and encrypted with a key an admin may rotate
    or lose, and it is rewritten at every login; this record must outlive all of that. The file lives in the hub's
    private dir (0700), is written 0600 by the hub's account, and replaced atomically (a crash leaves the old or the
    new file, never half of one). It is read at every check, so an admin's edit takes effect without a restart.
    Reads and writes are synchronous on purpose: no other coroutine can run between the check and the write.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def owner(self, name: str) -> dict | None:
        """The provider account bound to `name` ({"iss", "sub", "since"}), or None."""
        return self._load().get(name)

    def conflicts(self, name: str, iss: str, sub: str) -> dict | None:
        """The binding of `name` when it is to another account than (iss, sub); None when free or theirs."""
        bound = self.owner(name)
        if bound is None or (bound.get("iss"), bound.get("sub")) == (iss, sub):
            return None
        return bound

    def bind(self, name: str, iss: str, sub: str) -> dict | None:
        """Bind `name` to (iss, sub) unless it is bound to another account, whose binding is then returned."""
        users = self._load()
        bound = users.get(name)
        if bound is not None:
            return None if (bound.get("iss"), bound.get("sub")) == (iss, sub) else bound
        users[name] = {"iss": iss, "sub": sub, "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        self._save(users)
        return None

    def forget(self, name: str) -> bool:
        """Drop the binding of `name` (its hub account was deleted); whether there was one."""
        users = self._load()
        if users.pop(name, None) is None:
            return False
        self._save(users)
        return True

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise SubjectRecordError(f"cannot read {self.path}: {e}") from e
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise SubjectRecordError(f"{self.path} is not a record of provider accounts (no 'users' object)")
        return users

    def _save(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_file.write_json(self.path, {"version": 1, "users": users}, durable=True, indent=1, sort_keys=True)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)


class _ProviderAccounts(Configurable):
    """Mixed into an OAuthenticator (before `_ClearRefusals`): one provider account per hub name, and admin only
    by the OAuth settings."""

    # the field of the provider's user info that identifies an account for good
    subject_key = "sub"

    subject_file = Unicode(
        config=True,
        help="""JSON file recording which provider account (issuer and `sub`) owns each hub name (see
        SubjectBindings). Empty: names are not bound to accounts (tests only).""",
    )

    @property
    def subject_issuer(self) -> str:
        """Whose `sub` values these are: subject ids are unique only within one issuer."""
        raise NotImplementedError

    def _subject(self, auth_model) -> str:
        info = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        sub = info.get(self.subject_key)
        if sub is None or str(sub) == "":
            raise web.HTTPError(
                403,
                f"The identity provider did not say which of its accounts signed in (no {self.subject_key!r} in its "
                "user info), so hunthub cannot keep your account apart from others of the same name. Tell your "
                "hunthub admin.",
            )
        return str(sub)

    def _record(self, action: str, name: str, *args):
        """`SubjectBindings(subject_file).<action>(name, *args)`, failing closed: without the record no login can be
        told apart from a takeover, so an unreadable one refuses logins (and says so in the log, with the path)."""
        try:
            return getattr(SubjectBindings(self.subject_file), action)(name, *args)
        except (SubjectRecordError, OSError) as e:
            self.log.error("Refused login as %s: the record of provider accounts fails: %s", name, e)
            raise refusals.hub_fault(
                "hunthub cannot read its record of which provider account owns which user name, so it cannot let "
                "anyone in"
            ) from e

    def _check_owner(self, auth_model, record: bool) -> None:
        """Refuse this login when its name is bound to another provider account; with `record`, bind a free name."""
        name, sub = auth_model["name"], self._subject(auth_model)
        bound = self._record("bind" if record else "conflicts", name, self.subject_issuer, sub)
        if bound is None:
            return
        self.log.warning(
            "Refused login as %s: the name is bound to %s sub %s (since %s), this login is sub %s of %s. If the "
            "provider account really changed, delete the hub user %s (admin page) or its entry in %s.",
            name, bound.get("iss"), bound.get("sub"), bound.get("since"), sub, self.subject_issuer, name,
            self.subject_file,
        )  # fmt: skip
        raise web.HTTPError(
            403,
            f"The name {name!r} already belongs to another account of the identity provider, so this account cannot "
            "use it: two people never share one hub account. Ask your hunthub admin.",
        )

    async def update_auth_model(self, auth_model):
        """After the name checks: refuse an account other than the one the name is bound to, and settle admin.

        Called at every login and every token refresh. Upstream leaves `admin` None (keep the database's flag)
        unless admin groups are configured; here it is always True or False, from `admin_users` now and from
        `admin_groups` right after (oauthenticator applies those to a False), so an admin flag set under native
        login or an older configuration never carries over."""
        auth_model = await super().update_auth_model(auth_model)
        auth_model["admin"] = bool(auth_model.get("admin"))
        if self.subject_file:
            self._check_owner(auth_model, record=False)
        return auth_model

    async def run_post_auth_hook(self, handler, auth_model):
        """Bind the name to this account only now that the login is allowed: a refused account (outside the
        allowed groups) must not claim a name before its rightful owner first logs in. A name without a binding
        (made before hunthub bound names, or under native login) is bound at its first login through the provider."""
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        if self.subject_file:
            self._check_owner(auth_model, record=True)
        return auth_model

    def delete_user(self, user):
        """An admin deleting the hub user frees the name for another provider account."""
        super().delete_user(user)
        if self.subject_file and self._record("forget", user.name):
            self.log.info("%s is deleted: its name is no longer bound to a provider account", user.name)


def _oauth_error(e: HTTPClientError) -> str:
    try:
        body = json.loads(e.response.body)
        return body.get("error", "error") + (f": {body['error_description']}" if body.get("error_description") else "")
    except (AttributeError, TypeError, ValueError):
        return f"HTTP {e.code}"


class OIDCLoginHandler(OAuthLoginHandler):
    async def get(self):
        await self.authenticator.discover()
        return super().get()


class OIDCCallbackHandler(OAuthCallbackHandler):
    async def get(self):
        discovery = await self.authenticator.discover()
        expected = self.authenticator.oidc_issuer
        iss = self.get_argument("iss", None)
        if iss is None and discovery.get("authorization_response_iss_parameter_supported"):
            raise web.HTTPError(
                403, f"This sign-in response does not say which provider sent it, though {expected} always does."
            )
        if iss is not None and iss.rstrip("/") != expected.rstrip("/"):
            raise web.HTTPError(
                403,
                f"This sign-in response comes from {iss!r}, but this hub trusts only {expected}. It was refused; "
                "sign in again from the hub's login page.",
            )
        return await super().get()


class ProviderLogoutHandler(OAuthLogoutHandler):
    """Ends the hub session as usual, then sends the browser to the provider to end that session too."""

    async def get(self):
        self._provider_logout = None
        user = self.current_user
        if user is not None:
            self._provider_logout = await self.authenticator.provider_logout_url(user)
        return await super().get()

    async def render_logout_page(self):
        if getattr(self, "_provider_logout", None):
            self.redirect(self._provider_logout)
            return
        return await super().render_logout_page()


class HuntHubOIDCAuthenticator(_ProviderAccounts, _ClearRefusals, GenericOAuthenticator):
    """Any OpenID Connect provider, found from its issuer URL."""

    login_handler = OIDCLoginHandler
    callback_handler = OIDCCallbackHandler
    logout_handler = ProviderLogoutHandler

    oidc_issuer = Unicode(
        config=True,
        help="""The provider's issuer URL. Its /.well-known/openid-configuration document gives the authorize,
        token, userinfo, key-set and end-session endpoints; its `issuer` must equal this value exactly.""",
    )
    discovery_timeout = Integer(10, config=True, help="Seconds to wait for the provider's discovery document.")
    logout_from_provider = Bool(
        True,
        config=True,
        help="Logging out of the hub also ends the provider session when the provider has an end_session_endpoint.",
    )
    post_logout_redirect_url = Unicode(
        config=True,
        help="""Where the provider sends the browser after ending its session (must be registered with the
        provider as a post-logout redirect URI). Usually the hub's login page.""",
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._discovery: dict | None = None
        self._jwks: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0

    @property
    def username_source(self):
        return f"the '{self.username_claim}' claim"

    @property
    def subject_issuer(self) -> str:
        return self.oidc_issuer.rstrip("/")

    async def _get_json(self, url: str, what: str) -> dict:
        try:
            return await self.httpfetch(
                url, what, method="GET", validate_cert=self.validate_server_cert,
                connect_timeout=self.discovery_timeout, request_timeout=self.discovery_timeout,
            )  # fmt: skip
        except (HTTPClientError, OSError, ValueError) as e:
            raise web.HTTPError(
                503,
                f"The identity provider {self.oidc_issuer} cannot be reached ({what}: {e}). Try again in a minute; "
                "if it persists, tell your hunthub admin (`hunthub doctor` checks the provider).",
            ) from e

    async def discover(self, force: bool = False) -> dict:
        """The provider's discovery document, fetched at first use and again after DISCOVERY_TTL."""
        if self._discovery is not None and not force and time.monotonic() - self._fetched_at < DISCOVERY_TTL:
            return self._discovery
        issuer = self.oidc_issuer.rstrip("/")
        doc = await self._get_json(f"{issuer}/.well-known/openid-configuration", "discovery")
        if doc.get("issuer", "").rstrip("/") != issuer:
            raise web.HTTPError(
                503,
                f"The identity provider at {issuer} calls itself {doc.get('issuer')!r}; hunthub trusts a provider "
                "only under its exact issuer URL. Ask your hunthub admin to check HuntHub.oauth_issuer.",
            )
        self.authorize_url = doc["authorization_endpoint"]
        self.token_url = doc["token_endpoint"]
        self.userdata_url = doc.get("userinfo_endpoint", "")
        # RFC 6749 makes HTTP basic the method every provider must take; absent from the document means basic
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        self.basic_auth = "client_secret_basic" in methods
        self._jwks = jwt.PyJWKSet.from_dict(await self._get_json(doc["jwks_uri"], "signing keys"))
        self._discovery, self._fetched_at = doc, time.monotonic()
        return doc

    def _signing_key(self, token: str):
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [k for k in self._jwks.keys if kid is None or k.key_id == kid]
        if not keys:
            raise jwt.InvalidTokenError(f"no published key has id {kid!r}")
        return keys[0]

    async def verified_id_token(self, id_token: str) -> dict:
        await self.discover()
        try:
            key = self._signing_key(id_token)
        except jwt.InvalidTokenError:
            await self.discover(force=True)  # the provider may have rotated its keys
            key = self._signing_key(id_token)
        return jwt.decode(
            id_token, key=key, algorithms=[key.algorithm_name] if key.algorithm_name else ["RS256"],
            audience=self.client_id, issuer=self._discovery["issuer"], leeway=60,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )  # fmt: skip

    async def token_to_user(self, token_info):
        await self.discover()
        claims = {}
        id_token = token_info.get("id_token")
        if id_token:
            try:
                claims = await self.verified_id_token(id_token)
            except jwt.ExpiredSignatureError as e:
                # only a stored token ages: refresh_user takes a 4xx as "expired" and uses the refresh token
                raise HTTPClientError(401, "ID token expired") from e
            except jwt.InvalidTokenError as e:
                raise web.HTTPError(403, f"The identity provider's ID token was refused: {e}.") from e
        if self.userdata_url:
            info = await super().token_to_user(token_info)
            if claims and info.get("sub") != claims["sub"]:
                raise web.HTTPError(403, "The identity provider's userinfo is about another user than its ID token.")
            claims = {**info, **claims} if claims else info
        if not claims:
            raise web.HTTPError(500, f"{self.oidc_issuer} returned neither an ID token nor a userinfo endpoint.")
        return claims

    async def provider_logout_url(self, user) -> str | None:
        if not self.logout_from_provider:
            return None
        try:
            doc = await self.discover()
        except web.HTTPError:
            return None  # the hub session still ends; the provider's own session cannot be reached
        endpoint = doc.get("end_session_endpoint")
        if not endpoint:
            return None
        params = {"client_id": self.client_id}
        auth_state = await user.get_auth_state() if self.enable_auth_state else None
        if auth_state and auth_state.get("id_token"):
            params["id_token_hint"] = auth_state["id_token"]
        if self.post_logout_redirect_url:
            params["post_logout_redirect_uri"] = self.post_logout_redirect_url
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


class HuntHubGitHubAuthenticator(_ProviderAccounts, _ClearRefusals, GitHubOAuthenticator):
    """GitHub: organisations and `org:team`s decide who may log in; teams become hub groups."""

    username_source = "the GitHub login"
    # logins can be renamed and, once free, taken by someone else; the numeric id stays with the account
    subject_key = "id"

    @property
    def subject_issuer(self) -> str:
        return self.github_url


class HuntHubGoogleAuthenticator(_ProviderAccounts, _ClearRefusals, GoogleOAuthenticator):
    """Google Workspace: the hosted domains decide who may log in."""

    username_source = "the Google account"

    @property
    def subject_issuer(self) -> str:
        return "https://accounts.google.com"


def github_teams(auth_state: dict) -> set[str]:
    """Hub groups from GitHub: each team as `org:team` (the form `allowed_organizations` uses)."""
    return {f"{t['organization']['login']}:{t['slug']}".lower() for t in auth_state.get("teams") or []}

"""The test OpenID Connect provider (tests/oidc, npm oidc-provider) driven over HTTP without a browser: the
authorization-code flow a relying party such as the hub's GenericOAuthenticator goes through, end to end."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests

from tests import oidc_provider
from tests.oidc_provider import Account, Client, OIDCProvider

REDIRECT_URI = "http://127.0.0.1:9/hub/oauth_callback"  # never served: the flow stops at the redirect to it
POST_LOGOUT_URI = "http://127.0.0.1:9/hub/logout-done"
SCOPE = "openid profile email groups"


def accounts():
    return [
        Account("alice", "correct horse", groups=["hunters", "admins"], name="Alice Analyst"),
        Account("bob", "battery staple", groups=[]),
    ]


def clients():
    return [Client(redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[POST_LOGOUT_URI])]


@pytest.fixture(scope="module")
def idp():
    with OIDCProvider(accounts=accounts(), clients=clients()) as p:
        yield p
        if not p.running:
            print(p.logs())


class Flow:
    """One browser-less user agent: a cookie session that follows the provider's redirects by hand."""

    def __init__(self, idp: OIDCProvider):
        self.idp = idp
        self.http = requests.Session()
        self.client = idp.client()

    def get(self, url, **kw):
        return self.http.get(url, allow_redirects=False, timeout=10, **kw)

    def follow(self, r: requests.Response, until: str) -> requests.Response:
        """Follow redirects within the provider; stop at the first one pointing at `until` (not requested)."""
        for _ in range(10):
            if r.status_code not in (302, 303):
                return r
            location = urljoin(r.url, r.headers["Location"])
            if location.startswith(until):
                return r
            r = self.get(location)
        raise AssertionError("too many redirects")

    def authorize(self, scope: str = SCOPE, **extra) -> tuple[requests.Response, dict]:
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            **extra,
        }
        r = self.get(self.idp.discovery["authorization_endpoint"], params=params)
        return self.follow(r, REDIRECT_URI), params

    def submit_login(self, form_page: requests.Response, username: str, password: str) -> requests.Response:
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', form_page.text).group(1))
        r = self.http.post(
            urljoin(form_page.url, action),
            data={"username": username, "password": password},
            allow_redirects=False,
            timeout=10,
        )
        return self.follow(r, REDIRECT_URI)

    def login(self, username="alice", password="correct horse", scope: str = SCOPE) -> tuple[dict, dict]:
        """A complete login: returns the callback's query parameters and the authorization request's."""
        page, request = self.authorize(scope)
        assert page.status_code == 200, page.text
        r = self.submit_login(page, username, password)
        return callback_params(r), request

    def token(self, auth: str = "basic", **data) -> requests.Response:
        c = self.client
        if auth == "basic":
            return requests.post(
                self.idp.discovery["token_endpoint"], data=data, auth=(c.client_id, c.client_secret), timeout=10
            )
        data = {**data, "client_id": c.client_id, "client_secret": c.client_secret}
        return requests.post(self.idp.discovery["token_endpoint"], data=data, timeout=10)

    def redeem(self, code: str, auth: str = "basic", **extra) -> requests.Response:
        return self.token(auth, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, **extra)

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.idp.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )


def callback_params(r: requests.Response) -> dict:
    assert r.status_code in (302, 303), f"{r.status_code}: {r.text[:500]}"
    location = r.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def verify_id_token(idp: OIDCProvider, token: str, nonce: str | None = None) -> dict:
    signing_key = jwt.PyJWKClient(idp.discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience=idp.client().client_id, issuer=idp.issuer
    )
    if nonce is not None:
        assert claims["nonce"] == nonce
    return claims


def jwt_payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_discovery_describes_a_code_flow_provider(idp):
    d = idp.discovery
    assert d["issuer"] == idp.issuer == f"http://127.0.0.1:{idp.port}"
    endpoints = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint")
    for endpoint in endpoints:
        assert d[endpoint].startswith(idp.issuer + "/"), endpoint
    assert d["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "groups"} <= set(d["scopes_supported"])
    assert {"preferred_username", "email", "groups"} <= set(d["claims_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(d["token_endpoint_auth_methods_supported"])
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "READY " + idp.issuer in idp.logs()


def test_authorization_code_flow_with_refresh(idp):
    flow = Flow(idp)
    page, request = flow.authorize()
    assert page.status_code == 200
    assert re.search(r"<title>[^<]*Test IdP", page.text)
    assert 'name="username"' in page.text and 'name="password"' in page.text and "Sign in" in page.text

    cb = callback_params(flow.submit_login(page, "alice", "correct horse"))
    assert cb["state"] == request["state"]
    assert cb["iss"] == idp.issuer  # RFC 9207
    assert cb["code"]

    r = flow.redeem(cb["code"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"]  # without offline_access
    assert 0 < tokens["expires_in"] <= 3600
    assert set(tokens["scope"].split()) == set(SCOPE.split())

    alice = idp.account("alice")
    claims = verify_id_token(idp, tokens["id_token"], nonce=request["nonce"])
    assert claims["iss"] == idp.issuer and claims["aud"] == idp.client().client_id
    assert claims["sub"] == alice.sub
    assert claims["preferred_username"] == "alice"
    assert claims["groups"] == ["hunters", "admins"]
    assert claims["email"] == "alice@example.test" and claims["email_verified"] is True
    assert claims["name"] == "Alice Analyst"

    info = flow.userinfo(tokens["access_token"])
    assert info.status_code == 200, info.text
    assert info.json()["groups"] == ["hunters", "admins"]
    assert info.json()["preferred_username"] == "alice" and info.json()["sub"] == alice.sub

    r = flow.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"]
    assert verify_id_token(idp, refreshed["id_token"])["groups"] == ["hunters", "admins"]
    assert flow.userinfo(refreshed["access_token"]).json()["preferred_username"] == "alice"

    # a code is good once; replaying it also revokes everything issued from it
    again = flow.redeem(cb["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert flow.userinfo(refreshed["access_token"]).status_code == 401
    r = flow.token(grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"

    # the log has request lines and none of the secrets
    logs = idp.logs()
    assert re.search(r"^POST /token 200$", logs, re.M)
    assert re.search(r"^GET /auth 303$", logs, re.M)
    for secret in ("correct horse", idp.client().client_secret, cb["code"], tokens["refresh_token"]):
        assert secret not in logs


def test_sso_client_secret_post_and_groups_under_profile(idp):
    flow = Flow(idp)
    cb, _ = flow.login("bob", "battery staple")
    assert flow.redeem(cb["code"], auth="post").status_code == 200

    # signed in already: the next authorization goes straight back, consent for new scopes is automatic.
    # With PKCE (S256), as OAuthenticator sends by default.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    r, request = flow.authorize("openid profile", code_challenge=challenge, code_challenge_method="S256")
    cb = callback_params(r)
    r = flow.redeem(cb["code"], auth="post", code_verifier=verifier)
    assert r.status_code == 200, r.text
    claims = verify_id_token(idp, r.json()["id_token"], nonce=request["nonce"])
    assert claims["preferred_username"] == "bob"
    assert claims["groups"] == []
    assert "email" not in claims

    # both client authentications at once is refused
    c = idp.client()
    r = requests.post(
        idp.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": c.client_id, "client_secret": "x"},
        auth=(c.client_id, c.client_secret),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_wrong_password_and_unknown_user_are_refused_on_the_form(idp):
    flow = Flow(idp)
    page, _ = flow.authorize()
    for username, password in (("alice", "wrong"), ("mallory", "correct horse"), ("", "")):
        r = flow.submit_login(page, username, password)
        assert r.status_code in (200, 401)
        assert "Location" not in r.headers
        assert "Invalid username or password" in r.text
        assert 'name="password"' in r.text
    # still usable afterwards with the right password
    assert flow.submit_login(page, "alice", "correct horse").headers["Location"].startswith(REDIRECT_URI)


def test_rp_initiated_logout_ends_the_session(idp):
    flow = Flow(idp)
    cb, _ = flow.login()
    tokens = flow.redeem(cb["code"]).json()

    page = flow.get(
        idp.discovery["end_session_endpoint"],
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "s1"},
    )
    assert page.status_code == 200, page.text
    assert re.search(r'<button id="logout-yes"[^>]*>Sign out</button>', page.text)
    form = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    r = flow.http.post(form.group(1), data={**fields, "logout": "yes"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert r.headers["Location"] == POST_LOGOUT_URI + "?state=s1"

    # the provider session is gone: the login form again, and the grant's tokens are revoked
    page, _ = flow.authorize()
    assert page.status_code == 200 and "Sign in" in page.text
    r = flow.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert flow.userinfo(tokens["access_token"]).status_code == 401

    # without a post_logout_redirect_uri the provider says so itself
    cb = callback_params(flow.submit_login(page, "alice", "correct horse"))
    page = flow.get(idp.discovery["end_session_endpoint"], params={"client_id": idp.client().client_id})
    form = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    r = flow.http.post(form.group(1), data={**fields, "logout": "yes"}, allow_redirects=True, timeout=10)
    assert r.status_code == 200 and "Signed out of Test IdP" in r.text


def test_short_lived_access_tokens_expire_and_refresh():
    with OIDCProvider(accounts=accounts(), clients=clients(), access_token_ttl=2, host="localhost") as idp:
        assert idp.issuer == f"http://localhost:{idp.port}" == idp.discovery["issuer"]
        flow = Flow(idp)
        cb, _ = flow.login()
        assert cb["iss"] == idp.issuer
        tokens = flow.redeem(cb["code"]).json()
        assert tokens["expires_in"] <= 2
        assert jwt_payload(tokens["id_token"])["iss"] == idp.issuer
        assert flow.userinfo(tokens["access_token"]).status_code == 200
        time.sleep(3)
        expired = flow.userinfo(tokens["access_token"])
        assert expired.status_code == 401
        assert "invalid_token" in expired.headers.get("WWW-Authenticate", "")
        r = flow.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert r.status_code == 200, r.text
        assert flow.userinfo(r.json()["access_token"]).json()["groups"] == ["hunters", "admins"]
    assert not idp.running


def test_missing_npm_packages_are_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(oidc_provider, "OIDC_DIR", tmp_path)
    with pytest.raises(RuntimeError, match="npm install --prefix tests/oidc"), OIDCProvider(accounts(), clients()):
        pass

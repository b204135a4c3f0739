"""Login through a real OpenID Connect provider (npm `oidc-provider` on loopback), in real headless Chromium,
against a real `hunthub up` configured with `auth = oidc`.

alice (analysts) logs in through the provider's page and lands in her server, with her tokens encrypted in the hub
database and refreshed once they expire; bob (analysts + admins) reaches the admin page; eve (contractors), a
name hunthub cannot use and the name of a cluster service account are refused with pages saying why; carol's name
is bound to her provider account, and "Carol", another account the hub would also call carol, is refused; a
tampered `state`, a replayed code and a response naming another issuer are refused; logout ends both the hub
session and the provider's.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from hunthub import identity
from tests.e2e.browser import browser, screenshot
from tests.harness import fresh_state_dir, stack_env, stack_with_config, write_secret
from tests.oidc_provider import Account, Client, OIDCProvider, hub_config

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
TOKEN_TTL = 8  # seconds: short, so the test sees the hub refresh an expired access token


@pytest.fixture(scope="module")
def oidc_stack():
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="0")
    base = f"http://localhost:{env['HUNTHUB_PORT']}"
    accounts = [
        Account("alice", PASSWORD, groups=["soc-analysts"]),
        Account("bob", PASSWORD, groups=["soc-analysts", "soc-admins"]),
        Account("eve", PASSWORD, groups=["contractors"]),
        Account("Dave.Smith", PASSWORD, groups=["soc-analysts"]),
        Account("hdfs", PASSWORD, groups=["soc-analysts"]),
        # two accounts of the provider (each its own sub) that the hub, lower-casing names, would both call carol
        Account("carol", PASSWORD, groups=["soc-analysts"]),
        Account("Carol", PASSWORD, groups=["soc-analysts"]),
    ]
    client = Client(redirect_uris=[f"{base}/hub/oauth_callback"], post_logout_redirect_uris=[f"{base}/hub/login"])
    with OIDCProvider(accounts=accounts, clients=[client], access_token_ttl=TOKEN_TTL) as idp:
        secret = write_secret(state.parent / "client-secret", client.client_secret)
        config = [
            *hub_config(idp, client, secret, ["soc-analysts"]),
            "c.HuntHub.oauth_admin_groups = ['soc-admins']",
            "c.HuntHub.oauth_refresh_age = 2",
            "c.HuntHub.spark_queues = {'soc-admins': 'soc.leads', 'soc-analysts': 'soc.tier1'}",
        ]
        with stack_with_config(state, env, config, "identity provider", idp.logs) as stack:
            stack.idp, stack.client = idp, client
            yield stack


@contextmanager
def analyst_page(stack, name: str):
    """A fresh browser context's page; on failure, a screenshot and the hub's and provider's logs."""
    with browser() as b:
        page = b.new_context().new_page()
        try:
            yield page
        except Exception:
            screenshot(page, f"oidc-{name}")
            print(stack.dump_logs(), "\n--- identity provider ---\n", stack.idp.logs())
            raise


def sign_in(page, base, username):
    """From the hub's login page through the provider's form; returns once the browser left the provider."""
    page.goto(f"{base}/hub/login")
    page.get_by_role("button", name=re.compile("Sign in with", re.I)).click()
    expect(page).to_have_title(re.compile("Test IdP"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: url.startswith(base), timeout=30_000)


def auth_state(stack, name: str) -> dict:
    """The user's auth state, decrypted the way the hub does, with the 0600 key file only the hub can read."""
    key = bytes.fromhex((stack.state_dir / "hub" / "crypt_key").read_text().strip())
    with sqlite3.connect(stack.state_dir / "hub" / "jupyterhub.sqlite") as db:
        (blob,) = db.execute("select encrypted_auth_state from users where name = ?", (name,)).fetchone()
    return json.loads(Fernet(base64.urlsafe_b64encode(key)).decrypt(blob))


def with_query(url: str, **changes) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunparse(parts._replace(query=urlencode({**query, **changes})))


def test_analyst_logs_in_through_the_provider_and_tokens_stay_encrypted(oidc_stack):
    stack, base = oidc_stack, oidc_stack.url
    with analyst_page(stack, "alice") as page:
        sign_in(page, base, "alice")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/user/alice/tree.*"), timeout=180_000)

        # the hub pinned who alice's kernels run as, with the queue of her provider group
        prefix = stack.env["HUNTHUB_ACCOUNT_PREFIX"]
        pinned = json.loads((identity.IDENTITY_DIR / f"{prefix}alice.json").read_text())
        assert (pinned["user"], pinned["groups"], pinned["queue"]) == ("alice", ["soc-analysts"], "soc.tier1")

        # tokens are in the database only encrypted; the client secret is in no log
        first = auth_state(stack, "alice")
        assert first["access_token"] and first["refresh_token"] and first["id_token"]
        raw = (stack.state_dir / "hub" / "jupyterhub.sqlite").read_bytes()
        assert first["access_token"].encode() not in raw and first["refresh_token"].encode() not in raw
        logs = "".join(p.read_text(errors="replace") for p in (stack.state_dir / "logs").glob("*.log"))
        assert stack.client.client_secret not in logs + stack.output

        # once the access token has expired, the next hub visit refreshes it: alice stays logged in
        time.sleep(TOKEN_TTL + 1)
        page.goto(f"{base}/hub/home")
        expect(page.locator("#start")).to_be_visible(timeout=30_000)
        refreshed = auth_state(stack, "alice")
        assert refreshed["access_token"] != first["access_token"]

        # not an admin
        assert page.request.get(f"{base}/hub/admin").status == 403


def test_admin_group_member_gets_the_admin_page(oidc_stack):
    base = oidc_stack.url
    with analyst_page(oidc_stack, "bob") as page:
        sign_in(page, base, "bob")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/(user/bob|hub)/.*"), timeout=180_000)
        page.goto(f"{base}/hub/admin")
        expect(page.locator("body")).to_contain_text("bob", timeout=30_000)
        expect(page.get_by_role("button", name=re.compile("Add Users", re.I))).to_be_visible()


@pytest.mark.parametrize(
    ("username", "says"),
    [
        ("eve", ["may not use this hub", "soc-analysts", "contractors"]),
        ("Dave.Smith", ["'dave.smith'", "cannot contain dots"]),
        ("hdfs", ["'hdfs'", "is the name of a cluster service account"]),
    ],
)
def test_users_the_hub_cannot_take_get_a_page_saying_why(oidc_stack, username, says):
    base = oidc_stack.url
    with browser() as b:
        page = b.new_context().new_page()
        responses = []
        page.on("response", lambda r: responses.append(r) if "/hub/oauth_callback" in r.url else None)
        sign_in(page, base, username)
        assert responses and responses[-1].status == 403
        for text in says:
            expect(page.locator("body")).to_contain_text(text)
        # and they have no session: the hub sends them back to log in
        page.goto(f"{base}/hub/home")
        assert "/hub/login" in page.url


def callbacks(page) -> list:
    """The hub's answers to the provider's redirects, as the browser receives them."""
    seen = []
    page.on("response", lambda r: seen.append(r) if "/hub/oauth_callback" in r.url else None)
    return seen


def test_a_name_belongs_to_the_provider_account_that_first_used_it(oidc_stack):
    stack, base = oidc_stack, oidc_stack.url
    record = stack.state_dir / "hub" / "oauth-subjects.json"
    carol, other = stack.idp.account("carol"), stack.idp.account("Carol")
    assert carol.sub != other.sub
    with analyst_page(stack, "carol") as page:
        answers = callbacks(page)
        # logged in is all this test needs: the hub's redirect to her server is answered here, nothing spawns
        page.route(re.compile(rf"{re.escape(base)}/(hub/)?(spawn|user/carol).*"), lambda r: r.fulfill(body="logged in"))
        sign_in(page, base, "carol")
        expect(page.locator("body")).to_contain_text("logged in", timeout=30_000)
        assert answers and answers[-1].status == 302
    bound = json.loads(record.read_text())["users"]["carol"]
    assert (bound["iss"], bound["sub"]) == (stack.idp.issuer, carol.sub)
    assert record.stat().st_mode & 0o777 == 0o600

    with analyst_page(stack, "Carol") as page:
        answers = callbacks(page)
        sign_in(page, base, "Carol")
        assert answers and answers[-1].status == 403
        expect(page.locator("body")).to_contain_text(
            "The name 'carol' already belongs to another account of the identity provider"
        )
        expect(page.locator("body")).to_contain_text("Ask your hunthub admin")
        page.goto(f"{base}/hub/home")
        assert "/hub/login" in page.url
    assert json.loads(record.read_text())["users"]["carol"]["sub"] == carol.sub


def capture_callback(page, base, username) -> str:
    """Sign in, but stop before the provider's redirect reaches the hub; returns that callback URL.

    Playwright does not route the hops of a redirect chain, so the login form's POST is routed and its redirects
    are followed by hand (with the browser's cookies) up to the hub's callback."""
    seen = []

    def follow(route):
        response = route.fetch(max_redirects=0)
        while response.status in (302, 303) and not response.headers["location"].startswith(f"{base}/hub/"):
            location = response.headers["location"]
            if location.startswith("/"):
                location = f"{oidc_origin(route.request.url)}{location}"
            response = page.request.get(location, max_redirects=0)
        seen.append(response.headers.get("location", ""))
        route.fulfill(status=200, content_type="text/plain", body="held back")

    page.route(re.compile(r".*/interaction/[^/]+/login$"), follow)
    page.goto(f"{base}/hub/login")
    page.get_by_role("button", name=re.compile("Sign in with", re.I)).click()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("body")).to_contain_text("held back")
    page.unroute(re.compile(r".*/interaction/[^/]+/login$"))
    assert seen and "/hub/oauth_callback" in seen[0], seen
    return seen[0]


def oidc_origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_tampered_responses_are_refused(oidc_stack):
    base = oidc_stack.url
    with analyst_page(oidc_stack, "tamper") as page:
        callback = capture_callback(page, base, "alice")

        # another issuer named in the response (the mix-up attack)
        r = page.goto(with_query(callback, iss="http://127.0.0.1:9/evil"))
        assert r.status == 403
        expect(page.locator("body")).to_contain_text("trusts only")

        # a state that is not the one this browser was given
        r = page.goto(with_query(callback, state=base64.urlsafe_b64encode(b'{"state_id": "forged"}').decode()))
        assert r.status == 400
        expect(page.locator("body")).to_contain_text("state")

        # the genuine response works once...
        r = page.goto(callback)
        page.wait_for_url(re.compile(rf"{re.escape(base)}/(user/alice|hub)/.*"), timeout=180_000)

        # ...and replaying its code is refused by the provider, with a page saying so
        r = page.goto(callback)
        assert r.status in (400, 403), r.status
        expect(page.locator("body")).to_contain_text(re.compile("refused this sign-in|state", re.I))


def test_logout_ends_the_hub_and_the_provider_session(oidc_stack):
    base = oidc_stack.url
    with analyst_page(oidc_stack, "logout") as page:
        sign_in(page, base, "alice")
        page.wait_for_url(re.compile(rf"{re.escape(base)}/(user/alice|hub)/.*"), timeout=180_000)
        page.goto(f"{base}/hub/logout")
        page.locator("#logout-yes").click()
        page.wait_for_url(re.compile(rf"{re.escape(base)}/hub/login.*"), timeout=30_000)

        # the hub session is gone...
        page.goto(f"{base}/hub/home")
        assert "/hub/login" in page.url
        # ...and so is the provider's: signing in asks for the password again
        page.get_by_role("button", name=re.compile("Sign in with", re.I)).click()
        expect(page).to_have_title(re.compile("Test IdP"))
        expect(page.locator("input[name=password]")).to_be_visible()


def test_doctor_checks_the_provider(oidc_stack):
    import subprocess

    from tests.harness import HUNTHUB

    out = subprocess.run([HUNTHUB, "doctor"], env=oidc_stack.env, capture_output=True, text=True, timeout=120)
    assert f"OpenID Connect provider {oidc_stack.idp.issuer}" in out.stdout, out.stdout + out.stderr

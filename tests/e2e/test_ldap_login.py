"""Login with a real LDAP directory (Debian's OpenLDAP `slapd`, tests/ldap_server.py), in real headless Chromium,
against a real `hunthub up` configured with `auth = ldap`: search with a read-only account (its password in a 0600
file), then bind as the user, over StartTLS with the directory's own CA.

alice (hunters) logs in and lands in her server, pinned to the Spark queue of her group; carol (hunters +
hunt-dfir) gets the dfir queue; bob (hunt-admins) reaches the admin page. A wrong password gets the login page's
error; dave (contractors only), erin (locked by OpenLDAP's ppolicy overlay: `pwdAccountLockedTime`), a name the hub
cannot use and a cluster service account's name are refused with a message saying why, and get no session.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from hunthub import identity
from tests.e2e.browser import browser, screenshot
from tests.harness import fresh_state_dir, stack_env, stack_with_config, write_secret
from tests.ldap_server import PASSWORD, hunt_directory

pytestmark = pytest.mark.e2e

# the first group an analyst belongs to, in this order, picks their Spark queue
QUEUES = {"hunt-admins": "soc.leads", "hunt-dfir": "soc.dfir", "hunters": "soc.tier1"}


@pytest.fixture(scope="module")
def ldap_stack():
    state = fresh_state_dir()
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="0")
    with hunt_directory() as ldap:
        password_file = write_secret(state.parent / "ldap-bind-password", ldap.reader_password)
        config = [
            "c.HuntHub.auth = 'ldap'",
            f"c.HuntHub.ldap_server_url = {ldap.url!r}",  # ldap://, upgraded with StartTLS (the default)
            f"c.HuntHub.ldap_ca_file = {str(ldap.ca_file)!r}",
            f"c.HuntHub.ldap_search_base = {ldap.people_base!r}",
            f"c.HuntHub.ldap_bind_dn = {ldap.reader_dn!r}",
            f"c.HuntHub.ldap_bind_password_file = {str(password_file)!r}",
            f"c.HuntHub.ldap_group_search_base = {ldap.groups_base!r}",
            "c.HuntHub.ldap_allowed_groups = ['hunters']",
            "c.HuntHub.ldap_admin_groups = ['hunt-admins']",
            f"c.HuntHub.spark_queues = {QUEUES!r}",
        ]
        with stack_with_config(state, env, config, "slapd", lambda: ldap.logs()[-5000:]) as stack:
            stack.ldap = ldap
            yield stack


@pytest.fixture
def page(ldap_stack, request):
    """A fresh browser context's page; on failure, a screenshot and the hub's and directory's logs."""
    failed = request.session.testsfailed
    with browser() as b:
        page = b.new_context().new_page()
        yield page
        # the test's own report is counted before its fixtures are torn down
        if request.session.testsfailed > failed:
            screenshot(page, f"ldap-{request.node.name}")
            print(ldap_stack.dump_logs(), "\n--- slapd ---\n", ldap_stack.ldap.logs()[-5000:])


def log_in(page, base, username, password=PASSWORD):
    """Submit the hub's login form; returns the hub's answer to the form."""
    page.goto(f"{base}/hub/login")
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    with page.expect_response(lambda r: r.url.startswith(f"{base}/hub/login") and r.request.method == "POST") as r:
        page.locator("#login_submit").click()
    return r.value


def pinned(stack, name: str) -> dict:
    """Who the hub pinned the analyst's kernels to run as (user, groups, Spark queue), written at server start."""
    prefix = stack.env["HUNTHUB_ACCOUNT_PREFIX"]
    return json.loads((identity.IDENTITY_DIR / f"{prefix}{name}.json").read_text())


def logs_of(stack) -> str:
    return "".join(p.read_text(errors="replace") for p in (stack.state_dir / "logs").glob("*.log")) + stack.output


def test_analyst_logs_in_and_gets_a_server_in_the_queue_of_their_group(ldap_stack, page):
    stack, base = ldap_stack, ldap_stack.url
    log_in(page, base, "alice")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/user/alice/tree.*"), timeout=180_000)
    p = pinned(stack, "alice")
    assert (p["user"], p["groups"], p["queue"]) == ("alice", ["hunters"], "soc.tier1")
    # not an admin
    assert page.request.get(f"{base}/hub/admin").status == 403
    # the search account's password is in no log
    assert stack.ldap.reader_password not in logs_of(stack)


def test_the_queue_follows_the_directory_group(ldap_stack, page):
    stack, base = ldap_stack, ldap_stack.url
    # typed in capitals: the hub name is the directory's own spelling
    log_in(page, base, "CAROL")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/user/carol/tree.*"), timeout=180_000)
    p = pinned(stack, "carol")
    assert (p["user"], p["groups"], p["queue"]) == ("carol", ["hunt-dfir", "hunters"], "soc.dfir")


def test_admin_group_member_gets_the_admin_page(ldap_stack, page):
    base = ldap_stack.url
    # logged in is all this test needs: the hub's redirect to bob's server is answered here, nothing spawns
    page.route(re.compile(rf"{re.escape(base)}/(hub/)?(spawn|user/bob).*"), lambda r: r.fulfill(body="logged in"))
    log_in(page, base, "bob")
    expect(page.locator("body")).to_contain_text("logged in", timeout=30_000)
    page.unroute(re.compile(rf"{re.escape(base)}/(hub/)?(spawn|user/bob).*"))
    page.goto(f"{base}/hub/admin")
    expect(page.locator("body")).to_contain_text("bob", timeout=30_000)
    expect(page.get_by_role("button", name=re.compile("Add Users", re.I))).to_be_visible()


def test_wrong_password_gets_the_login_pages_error(ldap_stack, page):
    base = ldap_stack.url
    answer = log_in(page, base, "alice", "not her password")
    assert answer.status == 403
    expect(page.locator(".login_error")).to_have_text("Invalid username or password")
    page.goto(f"{base}/hub/home")
    assert "/hub/login" in page.url


@pytest.mark.parametrize(
    ("username", "says"),
    [
        ("dave", ["may not use this hub", "hunters", "contractors"]),
        # OpenLDAP's ppolicy overlay: pwdAccountLockedTime on erin's entry
        ("erin", ["The directory refused your account", "it is locked"]),
        ("Frank.Li", ["'frank.li'", "cannot contain dots"]),
        ("hdfs", ["'hdfs'", "is the name of a cluster service account"]),
    ],
)
def test_users_the_hub_cannot_take_are_told_why(ldap_stack, page, username, says):
    base = ldap_stack.url
    answer = log_in(page, base, username)
    assert answer.status == 403
    error = page.locator(".login_error")
    for text in says:
        expect(error).to_contain_text(text)
    # and they have no session: the hub sends them back to log in
    page.goto(f"{base}/hub/home")
    assert "/hub/login" in page.url


def test_up_and_doctor_name_the_directory(ldap_stack):
    import subprocess

    from tests.harness import HUNTHUB

    assert f"Log in with a directory account of {ldap_stack.ldap.url} (members of: hunters)" in ldap_stack.output
    out = subprocess.run([HUNTHUB, "doctor"], env=ldap_stack.env, capture_output=True, text=True, timeout=120)
    assert f"LDAP directory {ldap_stack.ldap.url} (TLS verified)" in out.stdout, out.stdout + out.stderr

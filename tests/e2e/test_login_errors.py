"""Login and sign-up refusals over HTTP against the shared real stack: clear messages, nothing created."""

from __future__ import annotations

import html

import pytest
import requests

from tests.hub_client import form

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("john smith", "cannot contain spaces"),
        ("a/b", "cannot contain '/'"),
        ("x;rm -rf", "cannot contain spaces or ';'"),
        # tornado turns control characters into spaces before any handler sees the form
        ("nul\0byte", "cannot contain spaces"),
        ("a" * 200, "at most 28 characters (this one has 200)"),
        ("9lives", "must start with a letter"),
        ("hdfs", "'hdfs' is the name of a cluster service account"),
        ("..", "'..' is not a name but a directory's own"),
    ],
)
def test_bad_usernames_are_refused_at_signup_with_the_reason(stack, name, reason):
    s = requests.Session()
    r = form(s, stack.url, "signup", {"username": name, "signup_password": "long-enough-pw-1",
                                      "signup_password_confirmation": "long-enough-pw-1"})  # fmt: skip
    assert r.status_code == 400
    assert reason in html.unescape(r.text)
    # and nothing was created: the name cannot log in and is not waiting for approval
    login = form(s, stack.url, "login", {"username": name, "password": "long-enough-pw-1"})
    assert "Invalid username or password" in login.text


def test_wrong_password_is_refused(stack):
    s = requests.Session()
    r = form(s, stack.url, "login", {"username": "admin", "password": "not-the-password"})
    assert r.url.endswith("/hub/login")
    assert "Invalid username or password" in r.text
    assert "jupyterhub-hub-login" not in s.cookies


def test_admin_password_works_and_is_kept_0600(stack):
    path = stack.state_dir / "hub" / "admin-password"
    assert path.stat().st_mode & 0o777 == 0o600
    s = requests.Session()
    r = form(s, stack.url, "login", {"username": "admin", "password": stack.admin_password})
    assert "/hub/login" not in r.url
    assert "jupyterhub-hub-login" in s.cookies


def test_the_sites_own_jupyterhub_configuration_is_applied(stack):
    # tests/conftest.py puts a file in the stack's jupyterhub_config.d before `hunthub up`
    assert requests.get(f"{stack.url}/hub/login", timeout=10).headers.get("X-Hunthub-Site") == "50-site.py"

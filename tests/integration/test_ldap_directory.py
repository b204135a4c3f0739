"""hunthub's LDAP authenticator, configured from hunthub settings exactly as the hub does, against a real OpenLDAP
`slapd` (tests/ldap_server.py): passwords, TLS, groups, admins, refusals. JupyterHub's own login path
(`get_authenticated_user`: normalise, validate, blocked users, allowed) runs in full; the browser and the hub's
pages are tests/e2e/test_ldap_login.py.

The locked account is OpenLDAP's ppolicy overlay at work: `pwdAccountLockedTime` on erin's entry.
"""

from __future__ import annotations

import asyncio

import pytest
from tornado import web
from traitlets.config import Config

from hunthub.hub import config as hubconfig
from hunthub.hub.ldap import HuntHubLDAPAuthenticator
from hunthub.settings import HuntHub
from tests.harness import write_secret
from tests.ldap_server import PASSWORD, LDAPServer, User, hunt_directory


@pytest.fixture(scope="module")
def directory():
    with hunt_directory() as ldap:
        yield ldap


@pytest.fixture
def reader_password(directory, tmp_path):
    return write_secret(tmp_path / "ldap-bind-password", directory.reader_password)


def authenticator(directory, tmp_path, **traits) -> HuntHubLDAPAuthenticator:
    """The authenticator as the hub makes it from these hunthub settings."""
    settings = {
        "state_dir": str(tmp_path / "state"),
        "auth": "ldap",
        "ldap_server_url": directory.url,
        "ldap_ca_file": str(directory.ca_file),
        "ldap_group_search_base": directory.groups_base,
        "ldap_allowed_groups": ["hunters"],
        "ldap_admin_groups": ["hunt-admins"],
        **traits,
    }
    c = Config()
    hubconfig.apply_authenticator(c, HuntHub(config=Config({"HuntHub": settings})))
    assert c.JupyterHub.authenticator_class == "hunthub-ldap"
    return HuntHubLDAPAuthenticator(config=c)


def search_bind(directory, tmp_path, reader_password, **traits):
    return authenticator(
        directory, tmp_path, ldap_search_base=directory.people_base, ldap_bind_dn=directory.reader_dn,
        ldap_bind_password_file=str(reader_password), **traits,
    )  # fmt: skip


def login(auth, username, password=PASSWORD):
    return asyncio.run(auth.get_authenticated_user(None, {"username": username, "password": password}))


def refusal(auth, username, password=PASSWORD) -> web.HTTPError:
    with pytest.raises(web.HTTPError) as e:
        login(auth, username, password)
    return e.value


def test_search_then_bind_over_starttls(directory, tmp_path, reader_password):
    auth = search_bind(directory, tmp_path, reader_password)
    alice = login(auth, "alice")
    assert (alice["name"], alice["groups"], alice["admin"]) == ("alice", ["hunters"], False)
    bob = login(auth, "bob")
    assert (bob["groups"], bob["admin"]) == (["hunt-admins", "hunters"], True)
    assert login(auth, "carol")["groups"] == ["hunt-dfir", "hunters"]
    # the directory's own spelling is the name, whatever case was typed
    assert login(auth, "ALICE")["name"] == "alice"
    # a wrong password or an unknown name is the login page's plain refusal (None), telling a guesser nothing
    assert login(auth, "alice", "wrong password") is None
    assert login(auth, "nobody") is None
    assert login(auth, "alice", "") is None
    # what is typed is escaped in the search filter: no wildcard logs anyone in
    assert login(auth, "a*") is None


def test_refusals_say_why(directory, tmp_path, reader_password):
    auth = search_bind(directory, tmp_path, reader_password)
    e = refusal(auth, "dave")
    assert e.status_code == 403
    assert "may not use this hub" in e.log_message and "hunters" in e.log_message and "contractors" in e.log_message

    e = refusal(auth, "erin")
    assert e.status_code == 403 and "it is locked" in e.log_message
    # the directory reports the lock whatever the password
    assert "it is locked" in refusal(auth, "erin", "wrong password").log_message

    e = refusal(auth, "Frank.Li")
    assert e.status_code == 403 and "'frank.li'" in e.log_message and "cannot contain dots" in e.log_message
    e = refusal(auth, "hdfs")
    assert e.status_code == 403 and "cluster service account" in e.log_message


def test_admin_and_allowed_users_by_name(directory, tmp_path, reader_password):
    auth = search_bind(directory, tmp_path, reader_password, ldap_admin_users=["dave"], ldap_allowed_groups=[])
    assert login(auth, "dave")["admin"] is True
    # admin groups' members may log in without an allowed group
    assert login(auth, "bob")["admin"] is True
    assert "may not use this hub" in refusal(auth, "alice").log_message


def test_direct_bind_over_ldaps_with_memberof(directory, tmp_path):
    auth = authenticator(
        directory, tmp_path, ldap_server_url=directory.ldaps_url, ldap_group_membership="memberOf",
        ldap_bind_dn_template=[f"uid={{username}},{directory.people_base}"],
        # a group named by its DN works as well as by its cn
        ldap_admin_groups=[directory.group_dn("hunt-admins").upper()],
    )  # fmt: skip
    bob = login(auth, "bob")
    assert (bob["name"], bob["groups"], bob["admin"]) == ("bob", ["hunt-admins", "hunters"], True)
    assert login(auth, "alice", "wrong password") is None
    assert "it is locked" in refusal(auth, "erin").log_message


def test_an_unverified_directory_gets_no_password(directory, tmp_path, reader_password):
    other_ca = tmp_path / "other-ca.pem"
    with LDAPServer([User("x", "y")], tls=True) as other:
        other_ca.write_bytes(other.ca_file.read_bytes())
    auth = search_bind(directory, tmp_path, reader_password, ldap_ca_file=str(other_ca))
    e = refusal(auth, "alice")
    assert e.status_code == 503 and "cannot reach the directory" in e.log_message


def test_directory_down_or_search_account_refused(directory, tmp_path, reader_password):
    from tests.harness import free_port

    auth = search_bind(directory, tmp_path, reader_password, ldap_server_url=f"ldap://127.0.0.1:{free_port()}")
    e = refusal(auth, "alice")
    assert e.status_code == 503 and "cannot reach the directory" in e.log_message

    reader_password.write_text("not the password\n")
    auth = search_bind(directory, tmp_path, reader_password)
    e = refusal(auth, "alice")
    assert e.status_code == 503 and "its own account is refused" in e.log_message


def test_probe_checks_the_way_to_the_directory(directory, tmp_path):
    from hunthub.hub.ldap import probe
    from tests.harness import free_port

    assert probe(directory.url, ca_file=str(directory.ca_file)) is None
    assert probe(directory.ldaps_url, ca_file=str(directory.ca_file)) is None
    # the system's CAs do not know this directory's own CA
    assert "CERTIFICATE_VERIFY_FAILED" in probe(directory.ldaps_url)
    assert probe(directory.url, starttls=False) is None
    assert probe(f"ldap://127.0.0.1:{free_port()}") is not None
    assert "not an ldap://" in probe("https://dc1.corp.example")

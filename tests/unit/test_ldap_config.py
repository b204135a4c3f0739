"""Login with an LDAP directory: hunthub settings translated into HuntHubLDAPAuthenticator config, the settings that
cannot work refused with a message naming them, the search account's password file, and the directory's answers
that say why a bind failed. The authenticator against a real slapd: tests/integration/test_ldap_directory.py."""

import re
import ssl
from importlib.metadata import entry_points

import pytest
from ldapauthenticator.ldapauthenticator import TlsStrategy
from traitlets.config import Config

from hunthub import checks
from hunthub.hub import config as hubconfig
from hunthub.hub.ldap import (
    HuntHubLDAPAuthenticator,
    PasswordFileError,
    bind_refusal,
    group_name,
    ppolicy_error,
    read_password_file,
)
from tests.harness import write_secret

PEOPLE = "ou=people,dc=corp,dc=example"
GROUPS = "ou=groups,dc=corp,dc=example"


@pytest.fixture
def password_file(tmp_path):
    return write_secret(tmp_path / "ldap-bind-password", "r3ader-pw")


def ldap(settings, **traits):
    base = dict(
        auth="ldap",
        ldap_server_url="ldaps://dc1.corp.example",
        ldap_bind_dn_template=[f"uid={{username}},{PEOPLE}"],
        ldap_group_search_base=GROUPS,
        ldap_allowed_groups=["hunters"],
        ldap_admin_groups=["hunt-admins"],
    )
    return settings(**{**base, **traits})


def configured(s) -> tuple[Config, HuntHubLDAPAuthenticator]:
    c = Config()
    hubconfig.apply_authenticator(c, s)
    return c, HuntHubLDAPAuthenticator(config=c)


def test_direct_bind_over_ldaps(settings):
    c, auth = configured(ldap(settings, spark_queues={"hunters": "soc.tier1"}))
    assert c.JupyterHub.authenticator_class == "hunthub-ldap"
    assert (auth.server_address, auth.server_port, auth.tls_strategy) == (
        "dc1.corp.example", 636, TlsStrategy.on_connect,
    )  # fmt: skip
    # ldap3 would not check the certificate unless told to
    assert auth.tls_kwargs == {"validate": ssl.CERT_REQUIRED}
    assert auth.bind_dn_template == [f"uid={{username}},{PEOPLE}"]
    assert auth.lookup_dn is False
    assert (auth.group_membership, auth.group_search_base) == ("member", GROUPS)
    assert (auth.login_groups, auth.admin_groups) == ({"hunters"}, {"hunt-admins"})
    assert auth.manage_groups is True
    assert auth.allow_all is False
    # upstream's allowed_groups (DNs checked one by one) stays off: hunthub decides from all the user's groups
    assert not auth.allowed_groups
    # the admin role holds exactly the named admins at start: a flag from native login is not inherited
    assert {"name": "admin", "users": []} in c.JupyterHub.load_roles
    assert c.UsernameRules.reserved_usernames  # the cluster's service accounts are refused here too


def test_active_directory_search_then_bind(settings, password_file):
    s = ldap(
        settings,
        ldap_server_url="ldaps://dc1.corp.example:3269",
        ldap_ca_file=str(password_file),  # any readable file will do for the config
        ldap_bind_dn_template=[],
        ldap_search_base="OU=Users,DC=corp,DC=example",
        ldap_user_attribute="sAMAccountName",
        ldap_bind_dn="CN=svc-hunthub,OU=Service Accounts,DC=corp,DC=example",
        ldap_bind_password_file=str(password_file),
        ldap_group_membership="memberOf",
        ldap_group_search_base="",
        ldap_admin_users=["soc-lead"],
        ldap_allowed_users=["oncall"],
    )
    c, auth = configured(s)
    assert auth.server_port == 3269
    assert auth.tls_kwargs == {"validate": ssl.CERT_REQUIRED, "ca_certs_file": str(password_file)}
    assert auth.lookup_dn is True
    assert (auth.user_search_base, auth.user_attribute, auth.lookup_dn_user_dn_attribute) == (
        "OU=Users,DC=corp,DC=example", "sAMAccountName", "sAMAccountName",
    )  # fmt: skip
    assert auth.use_lookup_dn_username is True
    assert auth.lookup_dn_search_user == "CN=svc-hunthub,OU=Service Accounts,DC=corp,DC=example"
    # the config holds where the password is, never the password
    assert auth.lookup_dn_search_password_file == str(password_file)
    assert "r3ader-pw" not in repr(c)
    assert auth.group_membership == "memberOf"
    assert auth.admin_users == {"soc-lead"}
    # users already in the hub's database are not let in by name: access follows the directory's groups
    assert auth.allow_existing_users is False
    assert {"name": "admin", "users": ["soc-lead"]} in c.JupyterHub.load_roles


@pytest.mark.parametrize(
    ("url", "starttls", "host", "port", "strategy"),
    [
        ("ldap://ldap.corp.example", True, "ldap.corp.example", 389, TlsStrategy.before_bind),
        ("ldap://127.0.0.1:1389/", False, "127.0.0.1", 1389, TlsStrategy.insecure),
        ("ldaps://[::1]:1636", True, "::1", 1636, TlsStrategy.on_connect),
    ],
)
def test_server_url_and_tls(settings, url, starttls, host, port, strategy):
    _, auth = configured(ldap(settings, ldap_server_url=url, ldap_starttls=starttls))
    assert (auth.server_address, auth.server_port, auth.tls_strategy) == (host, port, strategy)


def test_entry_point_and_welcome(settings):
    names = {e.name: e.value for e in entry_points(group="jupyterhub.authenticators")}
    assert names["hunthub-ldap"] == "hunthub.hub.ldap:HuntHubLDAPAuthenticator"
    c = Config()
    hubconfig.apply_hub(c, ldap(settings))
    assert "directory" in c.JupyterHub.template_vars["announcement_login"]


@pytest.mark.parametrize(
    ("traits", "says"),
    [
        ({"ldap_server_url": ""}, "needs HuntHub.ldap_server_url"),
        ({"ldap_server_url": "https://dc1.corp.example"}, "needs HuntHub.ldap_server_url"),
        ({"ldap_server_url": "ldap://dc1.corp.example/dc=corp"}, "needs HuntHub.ldap_server_url"),
        ({"ldap_bind_dn_template": []}, "needs HuntHub.ldap_search_base"),
        ({"ldap_bind_dn_template": ["uid=alice,ou=people"]}, "needs '{username}' in every entry"),
        ({"ldap_search_base": PEOPLE}, "not both"),
        ({"ldap_bind_dn_template": [], "ldap_search_base": PEOPLE, "ldap_user_attribute": ""}, "attribute is empty"),
        ({"ldap_bind_dn": "cn=reader,dc=corp"}, "needs HuntHub.ldap_bind_password_file"),
        ({"ldap_group_search_base": ""}, "HuntHub.ldap_group_search_base is empty"),
        ({"ldap_allowed_groups": [], "ldap_admin_groups": []}, "nobody could log in"),
        ({"ldap_admin_users": ["hdfs"]}, "HuntHub.ldap_admin_users names 'hdfs'"),
        ({"ldap_allowed_users": ["Dave.Smith"]}, "HuntHub.ldap_allowed_users names 'Dave.Smith'"),
        ({"ldap_ca_file": "/nonexistent/ca.pem"}, "ldap_ca_file /nonexistent/ca.pem cannot be read"),
        ({"ldap_timeout": 0}, "ldap_timeout must be at least 1 second"),
    ],
)
def test_settings_that_cannot_work_are_refused_clearly(settings, traits, says):
    s = ldap(settings, **traits)
    with pytest.raises(hubconfig.HubConfigError, match=re.escape(says)):
        hubconfig.apply_authenticator(Config(), s)
    # `hunthub doctor` and `hunthub up`'s preflight say the same
    assert not checks.check_login(s).ok


def test_groups_need_no_search_base_with_memberof(settings):
    configured(ldap(settings, ldap_group_search_base="", ldap_group_membership="memberOf"))


def test_password_file_must_be_private(settings, password_file):
    s = ldap(settings, ldap_bind_dn="cn=reader,dc=corp", ldap_bind_password_file=str(password_file))
    configured(s)
    assert read_password_file(password_file) == "r3ader-pw"

    password_file.chmod(0o640)
    with pytest.raises(hubconfig.HubConfigError, match="other accounts can read it.*chmod 600"):
        configured(s)
    password_file.chmod(0o400)
    configured(s)

    password_file.chmod(0o600)
    password_file.write_text("\n")
    with pytest.raises(hubconfig.HubConfigError, match="is empty"):
        configured(s)

    missing = ldap(settings, ldap_bind_dn="cn=reader,dc=corp", ldap_bind_password_file=str(password_file) + ".gone")
    with pytest.raises(hubconfig.HubConfigError, match="cannot read .*No such file"):
        configured(missing)

    lonely = ldap(settings, ldap_bind_password_file=str(password_file.parent))
    with pytest.raises(hubconfig.HubConfigError, match="ldap_bind_dn \\(whose password\\) is not.*not a file"):
        configured(lonely)


def test_password_file_error_never_shows_the_password(tmp_path):
    path = tmp_path / "pw"
    path.write_text("hunter2-secret\n")
    path.chmod(0o644)
    with pytest.raises(PasswordFileError) as e:
        read_password_file(path)
    assert "hunter2-secret" not in str(e.value)


def test_the_directory_says_why_a_bind_failed():
    ctrl = "1.3.6.1.4.1.42.2.27.8.5.1"
    # slapd's ppolicy response control values, as received from Debian's slapd 2.5
    assert ppolicy_error(b"0\x00") is None
    assert ppolicy_error(b"0\x03\x81\x01\x01") == 1
    # a warning ([0], time before expiration) before the error
    assert ppolicy_error(b"0\x09\xa0\x04\x80\x02\x01\x00\x81\x01\x00") == 0
    assert ppolicy_error(b"garbage") is None
    locked = {"controls": {ctrl: {"value": b"0\x03\x81\x01\x01"}}, "message": ""}
    assert "locked" in bind_refusal(locked)
    assert bind_refusal({"controls": {ctrl: {"value": b"0\x00"}}, "message": ""}) is None
    # Active Directory: the reason is in the diagnostic message
    ad = "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data {}, v3839"
    assert "locked" in bind_refusal({"message": ad.format("775")})
    assert "disabled" in bind_refusal({"message": ad.format("533")})
    assert "expired" in bind_refusal({"message": ad.format("532")})
    # a wrong password (52e) or an unknown user (525) says nothing more than the login page does
    assert bind_refusal({"message": ad.format("52e")}) is None
    assert bind_refusal({"message": ad.format("525")}) is None


def test_group_names_are_their_cn():
    assert group_name("cn=hunters,ou=groups,dc=corp,dc=example") == "hunters"
    assert group_name("CN=SOC Analysts,OU=Groups,DC=corp,DC=example") == "SOC Analysts"
    assert group_name(r"CN=Smith\, Ops,OU=Groups,DC=corp") == "Smith, Ops"
    assert group_name(r"cn=R\c3\a9seau,ou=groups") == "Réseau"

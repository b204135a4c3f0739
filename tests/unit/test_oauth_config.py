"""Login through identity providers: hunthub settings translated into oauthenticator config, per preset."""

import asyncio
import os
import stat
from importlib.metadata import entry_points

import pytest
from traitlets.config import Config

from hunthub import checks
from hunthub.hub import config as hubconfig
from hunthub.hub import oauth
from hunthub.hub.oauth import HuntHubGitHubAuthenticator, HuntHubGoogleAuthenticator, HuntHubOIDCAuthenticator

ISSUER = "https://login.soc.example/realms/soc"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "client-secret"
    path.write_text("s3cr3t-value\n")
    path.chmod(0o600)
    return path


def oidc(settings, secret_file, **traits):
    base = dict(
        auth="oidc",
        oauth_issuer=ISSUER,
        oauth_client_id="hunthub",
        oauth_client_secret_file=str(secret_file),
        oauth_allowed_groups=["soc-analysts"],
        oauth_admin_groups=["soc-admins"],
    )
    return settings(**{**base, **traits})


def test_oidc_preset(settings, secret_file):
    s = oidc(settings, secret_file, spark_queues={"soc-analysts": "soc.tier1"})
    c = Config()
    hubconfig.apply_authenticator(c, s)
    assert c.JupyterHub.authenticator_class == "hunthub-oidc"
    auth = HuntHubOIDCAuthenticator(config=c)
    assert auth.oidc_issuer == ISSUER
    assert auth.client_id == "hunthub"
    assert auth.client_secret == "s3cr3t-value"
    assert auth.oauth_callback_url == f"{s.public_url}hub/oauth_callback"
    assert auth.scope == ["openid", "profile", "email"]
    assert auth.username_claim == "preferred_username"
    assert auth.manage_groups is True
    assert auth.auth_state_groups_key == "oauth_user.groups"
    assert auth.allowed_groups == {"soc-analysts"}
    assert auth.admin_groups == {"soc-admins"}
    # the native bootstrap admin's name means nothing at the provider: no admin by name
    assert auth.admin_users == set()
    assert auth.allow_all is False
    assert auth.enable_auth_state is True
    assert auth.refresh_pre_spawn is True
    assert auth.post_logout_redirect_url == f"{s.public_url}hub/login"
    assert auth.login_service == "login.soc.example"


def test_oidc_claims_are_configurable(settings, secret_file):
    s = oidc(settings, secret_file, oauth_username_claim="upn", oauth_groups_claim="roles", oauth_scopes=["openid"])
    c = Config()
    hubconfig.apply_authenticator(c, s)
    auth = HuntHubOIDCAuthenticator(config=c)
    assert (auth.username_claim, auth.auth_state_groups_key, auth.scope) == ("upn", "oauth_user.roles", ["openid"])


def test_github_preset_maps_teams_to_groups(settings, secret_file):
    s = settings(
        auth="github",
        oauth_client_id="gh-client",
        oauth_client_secret_file=str(secret_file),
        oauth_allowed_groups=["acme-soc", "acme:dfir"],
        oauth_admin_groups=["acme:SOC-Leads"],
    )
    c = Config()
    hubconfig.apply_authenticator(c, s)
    assert c.JupyterHub.authenticator_class == "hunthub-github"
    auth = HuntHubGitHubAuthenticator(config=c)
    assert auth.allowed_organizations == {"acme-soc", "acme:dfir"}
    assert auth.scope == ["read:user", "read:org"]
    assert auth.populate_teams_in_auth_state is True
    assert auth.admin_groups == {"acme:soc-leads"}
    teams = [{"organization": {"login": "acme"}, "slug": "soc-leads"}, {"organization": {"login": "Acme"}, "slug": "x"}]
    assert asyncio.run(auth.get_user_groups({"teams": teams})) == {"acme:soc-leads", "acme:x"}


def test_google_preset_uses_the_hosted_domain(settings, secret_file):
    s = settings(
        auth="google",
        oauth_client_id="g-client",
        oauth_client_secret_file=str(secret_file),
        oauth_google_domains=["soc.example"],
    )
    c = Config()
    hubconfig.apply_authenticator(c, s)
    assert c.JupyterHub.authenticator_class == "hunthub-google"
    auth = HuntHubGoogleAuthenticator(config=c)
    assert auth.hosted_domain == ["soc.example"]
    assert auth.strip_domain is True  # one domain: alice@soc.example logs in as alice
    assert auth.allow_all is True  # everyone of that domain, and only them (checked by the authenticator)
    assert auth.scope == ["openid", "email"]


def test_authenticators_are_registered_entry_points():
    names = {e.name: e.value for e in entry_points(group="jupyterhub.authenticators")}
    for preset in ("oidc", "github", "google"):
        assert names[f"hunthub-{preset}"].startswith("hunthub.hub.oauth:")


def test_secret_from_environment_wins(settings, secret_file, monkeypatch):
    monkeypatch.setenv("HUNTHUB_OAUTH_CLIENT_SECRET", "from-env")
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file))
    assert c.OAuthenticator.client_secret == "from-env"


def test_secret_file_readable_by_others_is_refused(settings, secret_file):
    secret_file.chmod(0o644)
    with pytest.raises(hubconfig.HubConfigError, match="chmod 600"):
        hubconfig.apply_authenticator(Config(), oidc(settings, secret_file))


def test_missing_pieces_are_named(settings, tmp_path):
    s = settings(auth="oidc")
    problems = " | ".join(hubconfig.oauth_problems(s))
    assert "oauth_client_id" in problems
    assert "oauth_issuer" in problems
    assert "nobody could log in" in problems
    assert "client secret" in problems
    check = checks.check_login(s)
    assert not check.ok and "oauth_client_id" in check.detail


def test_allow_all_must_be_explicit(settings, secret_file):
    s = oidc(settings, secret_file, oauth_allowed_groups=[], oauth_admin_groups=[])
    assert any("nobody could log in" in p for p in hubconfig.oauth_problems(s))
    s = oidc(settings, secret_file, oauth_allowed_groups=[], oauth_admin_groups=[], oauth_allow_all=True)
    assert hubconfig.oauth_problems(s) == []


def test_crypt_key_is_generated_once_0600(settings, secret_file, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    s = oidc(settings, secret_file)
    c = Config()
    hubconfig.apply_authenticator(c, s)
    key_file = s.hub_dir / "crypt_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(bytes.fromhex(c.CryptKeeper["keys"][0])) == 32
    again = Config()
    hubconfig.apply_authenticator(again, s)
    assert again.CryptKeeper["keys"] == c.CryptKeeper["keys"]
    key_file.chmod(0o644)
    with pytest.raises(hubconfig.HubConfigError, match="readable by others"):
        hubconfig.apply_authenticator(Config(), s)


def test_crypt_key_from_environment_supports_rotation(settings, secret_file, monkeypatch):
    new, old = os.urandom(32).hex(), os.urandom(32).hex()
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", f"{new};{old}")
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file))
    assert c.CryptKeeper["keys"] == [new, old]


def test_native_and_demo_are_untouched_by_oauth_settings(settings, secret_file):
    c = Config()
    hubconfig.apply_authenticator(c, settings(oauth_client_id="x"))
    assert c.JupyterHub.authenticator_class == "hunthub-native"
    assert checks.check_login(settings()).ok


def test_unusable_user_names_are_refused_with_the_reason(settings, secret_file):
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file))
    auth = HuntHubOIDCAuthenticator(config=c)
    model = {"name": "alice.smith", "admin": None, "auth_state": {}}
    with pytest.raises(oauth.web.HTTPError) as e:
        asyncio.run(auth.update_auth_model(model))
    assert e.value.status_code == 403
    assert "'alice.smith'" in e.value.log_message and "dots" in e.value.log_message
    assert asyncio.run(auth.update_auth_model({**model, "name": "alice"}))["name"] == "alice"


def test_users_outside_the_allowed_groups_are_told_which_groups(settings, secret_file):
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file))
    auth = HuntHubOIDCAuthenticator(config=c)
    with pytest.raises(oauth.web.HTTPError) as e:
        asyncio.run(auth.check_allowed("eve", {"name": "eve", "admin": False, "groups": ["contractors"]}))
    assert "soc-analysts" in e.value.log_message and "contractors" in e.value.log_message
    assert asyncio.run(auth.check_allowed("ana", {"name": "ana", "admin": False, "groups": ["soc-analysts"]}))

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
from tests.harness import write_secret

ISSUER = "https://login.soc.example/realms/soc"


@pytest.fixture
def secret_file(tmp_path):
    return write_secret(tmp_path / "client-secret", "s3cr3t-value")


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
    model = {"name": "alice.smith", "admin": None, "auth_state": {"oauth_user": {"sub": "sub-alice"}}}
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


# --- names hunthub keeps from cluster accounts and from other provider accounts -----------------------------


def oidc_auth(settings, secret_file, **traits) -> HuntHubOIDCAuthenticator:
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file, **traits))
    return HuntHubOIDCAuthenticator(config=c)


def login(auth, sub: str, name: str, groups=("soc-analysts",)) -> dict:
    """A login through the provider from the moment it has said who signed in: oauthenticator's own steps (user
    info to name, auth state, update_auth_model, managed groups) and JupyterHub's (name checks, allowed, post-auth
    hook), with the provider's claims given instead of fetched."""

    async def token_to_user(token_info):
        return {"sub": sub, "preferred_username": name, "groups": list(groups)}

    async def authenticate(handler, data=None):
        return await auth._token_to_auth_model({"access_token": "at", "token_type": "Bearer"})

    auth.token_to_user, auth.authenticate = token_to_user, authenticate
    return asyncio.run(auth.get_authenticated_user(None, None))


def refused(call) -> oauth.web.HTTPError:
    with pytest.raises(oauth.web.HTTPError) as e:
        call()
    return e.value


def bindings(settings_state_dir) -> dict:
    import json

    return json.loads((settings_state_dir / "hub" / "oauth-subjects.json").read_text())["users"]


def test_reserved_names_reach_every_login_mode(settings, secret_file):
    for s in (settings(), settings(demo=True), oidc(settings, secret_file)):
        c = Config()
        hubconfig.apply_authenticator(c, s)
        assert "hdfs" in c.UsernameRules.reserved_usernames and "livy" in c.UsernameRules.reserved_usernames
        # JupyterHub's blocked users: the demo's dummy login too, and existing accounts lose their roles at start
        assert c.Authenticator.blocked_users == set(s.reserved_usernames)
    c = Config()
    hubconfig.apply_authenticator(c, settings(reserved_usernames=["svc-etl"]))
    assert c.UsernameRules.reserved_usernames == ["svc-etl"]


def test_a_provider_name_that_is_a_cluster_account_is_refused_with_the_reason(settings, secret_file):
    auth = oidc_auth(settings, secret_file)
    e = refused(lambda: login(auth, "sub-hdfs", "hdfs"))
    assert e.status_code == 403
    assert "'hdfs' is the name of a cluster service account" in e.log_message
    assert "the 'preferred_username' claim" in e.log_message
    # and JupyterHub's own check (admin API, hub start) refuses it too
    assert not auth.validate_username("hdfs") and not auth.validate_username("..")


def test_settings_naming_a_reserved_user_are_refused_with_the_setting(settings, secret_file):
    with pytest.raises(hubconfig.HubConfigError, match=r"HuntHub.admin_user names 'hdfs'.*cluster service account"):
        hubconfig.apply_authenticator(Config(), settings(admin_user="hdfs"))
    s = oidc(settings, secret_file, oauth_admin_users=["yarn"], oauth_allowed_users=["ok", ".."])
    problems = "; ".join(hubconfig.oauth_problems(s))
    assert "HuntHub.oauth_admin_users names 'yarn'" in problems and "HuntHub.oauth_allowed_users names '..'" in problems
    with pytest.raises(hubconfig.HubConfigError, match="oauth_admin_users"):
        hubconfig.apply_authenticator(Config(), s)
    # the native admin's name means nothing in OAuth mode: no reason to refuse it there
    hubconfig.apply_authenticator(Config(), oidc(settings, secret_file, admin_user="hdfs"))


def test_first_login_binds_the_name_and_another_account_of_that_name_is_refused(settings, secret_file, state_dir):
    auth = oidc_auth(settings, secret_file)
    assert login(auth, "sub-carol", "carol")["name"] == "carol"
    record = state_dir / "hub" / "oauth-subjects.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert bindings(state_dir)["carol"] | {"since": None} == {"iss": ISSUER, "sub": "sub-carol", "since": None}
    assert login(auth, "sub-carol", "carol")["name"] == "carol"  # the same account, again

    e = refused(lambda: login(auth, "sub-other", "carol"))
    assert e.status_code == 403
    assert "The name 'carol' already belongs to another account of the identity provider" in e.log_message
    assert "Ask your hunthub admin" in e.log_message
    assert bindings(state_dir)["carol"]["sub"] == "sub-carol"
    assert [p.name for p in record.parent.iterdir() if p.name.startswith(".")] == []  # no temp file left behind


def test_a_token_refresh_checks_the_binding_too(settings, secret_file):
    auth = oidc_auth(settings, secret_file)
    login(auth, "sub-carol", "carol")
    model = {"name": "carol", "admin": None, "auth_state": {"oauth_user": {"sub": "sub-other"}}}
    assert refused(lambda: asyncio.run(auth.update_auth_model(model))).status_code == 403


def test_an_account_refused_entry_does_not_claim_the_name(settings, secret_file, state_dir):
    auth = oidc_auth(settings, secret_file)
    refused(lambda: login(auth, "sub-squatter", "dave", groups=["contractors"]))
    assert not (state_dir / "hub" / "oauth-subjects.json").exists()
    assert login(auth, "sub-dave", "dave")["name"] == "dave"


def test_deleting_the_hub_user_frees_the_name(settings, secret_file, state_dir):
    from types import SimpleNamespace

    auth = oidc_auth(settings, secret_file)
    login(auth, "sub-old", "erin")
    auth.delete_user(SimpleNamespace(name="erin"))
    assert "erin" not in bindings(state_dir)
    assert login(auth, "sub-new", "erin")["name"] == "erin"


def test_a_name_is_bound_within_one_issuer(tmp_path):
    record = oauth.SubjectBindings(tmp_path / "subjects.json")
    assert record.bind("ana", "https://idp-a", "1") is None
    assert record.conflicts("ana", "https://idp-a", "1") is None
    # the same sub from another provider is another account
    assert record.conflicts("ana", "https://idp-b", "1")["iss"] == "https://idp-a"
    assert record.bind("ana", "https://idp-b", "1")["sub"] == "1"
    assert record.conflicts("bo", "https://idp-b", "1") is None


def test_an_unreadable_record_refuses_logins(settings, secret_file, state_dir):
    auth = oidc_auth(settings, secret_file)
    (state_dir / "hub" / "oauth-subjects.json").write_text("{not json")
    e = refused(lambda: login(auth, "sub-carol", "carol"))
    assert e.status_code == 503 and "Tell your hunthub admin" in e.log_message


def test_a_provider_that_names_no_account_is_refused(settings, secret_file):
    auth = oidc_auth(settings, secret_file)
    e = refused(lambda: login(auth, "", "carol"))
    assert e.status_code == 403 and "no 'sub'" in e.log_message


def test_github_binds_the_numeric_account_id(settings, secret_file):
    auth = HuntHubGitHubAuthenticator()
    assert auth._subject({"auth_state": {"github_user": {"id": 583231, "login": "octocat"}}}) == "583231"
    assert auth.subject_issuer == "https://github.com"
    assert HuntHubGoogleAuthenticator()._subject({"auth_state": {"google_user": {"sub": "1087"}}}) == "1087"


def test_oauth_logins_bind_names_in_the_hubs_private_dir(settings, secret_file, state_dir):
    for auth in ("oidc", "github", "google"):
        s = oidc(settings, secret_file, auth=auth, oauth_google_domains=["soc.example"])
        c = Config()
        hubconfig.apply_authenticator(c, s)
        cls = {"oidc": HuntHubOIDCAuthenticator, "github": HuntHubGitHubAuthenticator}.get(auth)
        cls = cls or HuntHubGoogleAuthenticator
        assert cls(config=c).subject_file == str(state_dir / "hub" / "oauth-subjects.json")


# --- admin in OAuth mode: exactly what the OAuth settings grant -----------------------------------------------


def test_admin_is_decided_at_every_login_by_the_oauth_settings_only(settings, secret_file):
    auth = oidc_auth(settings, secret_file, oauth_admin_users=["frank"])
    # False, not None: None would keep whatever admin flag the hub database holds (native login's, for one)
    assert login(auth, "sub-alice", "alice")["admin"] is False
    assert login(auth, "sub-bob", "bob", groups=["soc-analysts", "soc-admins"])["admin"] is True
    assert login(auth, "sub-frank", "frank", groups=[])["admin"] is True
    # the native bootstrap admin's name grants nothing at the provider
    assert login(auth, "sub-admin", "admin")["admin"] is False


def test_admin_without_admin_groups_is_still_decided(settings, secret_file):
    s = oidc(settings, secret_file, auth="google", oauth_google_domains=["soc.example"])
    c = Config()
    hubconfig.apply_authenticator(c, s)
    auth = HuntHubGoogleAuthenticator(config=c)
    info = {"sub": "1087", "email": "admin@soc.example", "domain": "soc.example"}
    model = {"name": "admin", "admin": None, "auth_state": {"google_user": info}}
    assert asyncio.run(auth.update_auth_model(model))["admin"] is False


def test_oauth_mode_declares_the_admin_role_so_stale_flags_go_at_start(settings, secret_file):
    c = Config()
    hubconfig.apply_authenticator(c, oidc(settings, secret_file, oauth_admin_users=["frank"]))
    assert c.JupyterHub.load_roles == [{"name": "admin", "users": ["frank"]}]
    c = Config()
    hubconfig.apply_authenticator(c, settings())
    assert "load_roles" not in c.JupyterHub  # native login keeps the admin flags admins set on the admin page


@pytest.fixture
def start_hub(tmp_path):
    """Start a real JupyterHub in this process, up to its spawners and without a proxy, on one database; each call
    is a restart. Its singletons (the crypt keeper reads the hub instance's config) are cleared before each start
    and after the test, as if each hub ran in a process of its own."""
    from jupyterhub.app import JupyterHub
    from jupyterhub.crypto import CryptKeeper

    empty = tmp_path / "jupyterhub_config.py"  # never the project's own, which would configure a real hub
    empty.write_text("")
    apps = []

    def start(c: Config) -> JupyterHub:
        c.JupyterHub.db_url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
        c.JupyterHub.cookie_secret_file = str(tmp_path / "cookie_secret")
        c.JupyterHub.pid_file = str(tmp_path / "jupyterhub.pid")
        c.ConfigurableHTTPProxy.should_start = False
        c.ConfigurableHTTPProxy.auth_token = "unused"
        for app in apps:
            app.db.close()
        JupyterHub.clear_instance()
        CryptKeeper.clear_instance()
        apps.append(JupyterHub.instance(config=c))
        asyncio.run(apps[-1].initialize(["-f", str(empty)]))
        return apps[-1]

    yield start
    for app in apps:
        app.db.close()
    JupyterHub.clear_instance()
    CryptKeeper.clear_instance()


def test_hub_start_in_oauth_mode_clears_the_admin_flag_native_login_left(settings, secret_file, start_hub):
    from jupyterhub import orm

    native = Config()
    hubconfig.apply_authenticator(native, settings())  # native login: its bootstrap admin `admin`
    native.JupyterHub.authenticator_class = "dummy"  # (the same admin flag, without NativeAuthenticator's table)
    app = start_hub(native)
    assert app.db.query(orm.User).filter_by(name="admin").one().admin is True

    oauth_config = Config()
    hubconfig.apply_authenticator(oauth_config, oidc(settings, secret_file, oauth_admin_users=["frank"]))
    app = start_hub(oauth_config)
    users = {u.name: (u.admin, sorted(r.name for r in u.roles)) for u in app.db.query(orm.User)}
    assert users["admin"] == (False, ["user"])
    assert users["frank"] == (True, ["admin", "user"])

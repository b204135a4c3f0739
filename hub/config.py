"""hunthub's JupyterHub configuration, as small functions that each apply one concern to a traitlets Config.

`jupyterhub_config.py` calls `configure(c)`; tests apply the functions to a bare `Config()` and assert.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from traitlets.config import Config

from hunthub import atomic_file, catalog, cluster, driver_jvm, paths
from hunthub.hub.usernames import username_problem
from hunthub.kernel_env import KernelEnv
from hunthub.kernels import core_yield
from hunthub.settings import HuntHub, load


def database_url(s: HuntHub) -> str:
    """The hub's SQLAlchemy URL. A bare postgresql:// URL gets the driver hunthub installs (psycopg 3), since
    SQLAlchemy's default driver for it differs between releases."""
    if not s.db_url:
        return f"sqlite:///{s.hub_dir / 'jupyterhub.sqlite'}"
    from sqlalchemy.engine import make_url

    url = make_url(s.db_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def apply_paths(c: Config, s: HuntHub) -> None:
    c.JupyterHub.db_url = database_url(s)
    # JupyterHub creates this file 0600 and refuses to use it if it is readable by others
    c.JupyterHub.cookie_secret_file = str(s.hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(s.run_dir / "jupyterhub.pid.info")
    c.ConfigurableHTTPProxy.pid_file = str(s.hub_dir / "proxy.pid")


def apply_proxy(c: Config, s: HuntHub) -> None:
    from hunthub import tls

    try:
        served = tls.pair(s)
    except tls.TLSError as e:
        raise HubConfigError(str(e)) from e
    c.JupyterHub.bind_url = f"{s.scheme}://{s.ip}:{s.port}/"
    if served:
        c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = (str(p) for p in served)
    if s.public_url.startswith("https://"):
        # JupyterHub then builds its links and redirects from it instead of guessing from each request (which
        # behind a TLS-terminating proxy says http), and marks its cookies Secure
        c.JupyterHub.public_url = s.public_url
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [s.proxy_command]
    c.ConfigurableHTTPProxy.should_start = True


class HubConfigError(ValueError):
    """hunthub's settings cannot make a working hub; the message says which setting and what to do."""


def username_setting_problems(s: HuntHub) -> list[str]:
    """Names in the settings that the hub would refuse as user names (the first admin, the OAuth admin and allowed
    users): caught here with the setting's name, rather than as a bare "username is not valid" at hub start."""
    named = {"oauth_admin_users": s.oauth_admin_users, "oauth_allowed_users": s.oauth_allowed_users}
    if s.demo or s.auth == "native":
        named = {"admin_user": [s.admin_user]}
    elif s.auth == "ldap":
        named = {"ldap_admin_users": s.ldap_admin_users, "ldap_allowed_users": s.ldap_allowed_users}
    problems = []
    for setting, names in named.items():
        for name in names:
            problem = username_problem(name, s.username_pattern, s.reserved_usernames)
            if problem:
                problems.append(f"HuntHub.{setting} names {name!r}, which cannot be a user name: {problem}")
    return problems


def apply_username_rules(c: Config, s: HuntHub) -> None:
    """The same rule for names in every login mode (see hunthub.hub.usernames). The reserved names are also
    JupyterHub's blocked users: that covers the demo's dummy login, and at hub start strips any account that
    already has such a name (made before the name was reserved) of its roles and stops its server."""
    problems = username_setting_problems(s)
    if problems:
        raise HubConfigError("; ".join(problems))
    c.Authenticator.username_pattern = s.username_pattern
    c.UsernameRules.reserved_usernames = list(s.reserved_usernames)
    c.Authenticator.blocked_users = set(s.reserved_usernames)


def apply_authenticator(c: Config, s: HuntHub) -> None:
    apply_username_rules(c, s)
    if s.demo:
        # Explicit opt-in only (`hunthub up --demo`): any name/password pair logs in.
        c.Authenticator.admin_users = {s.admin_user}
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allow_all = True
        return
    if s.auth == "ldap":
        apply_ldap(c, s)
        return
    if s.auth != "native":
        apply_oauth(c, s)
        return
    c.Authenticator.admin_users = {s.admin_user}
    c.JupyterHub.authenticator_class = "hunthub-native"
    # Approval by an admin is the gate: every approved, authenticated user is allowed.
    c.Authenticator.allow_all = True
    c.NativeAuthenticator.enable_signup = True
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 120
    c.HuntHubNativeAuthenticator.bootstrap_admin = s.admin_user
    c.HuntHubNativeAuthenticator.bootstrap_admin_password_file = str(s.admin_password_file)


DEFAULT_SCOPES = {
    "oidc": ["openid", "profile", "email"],
    "github": ["read:user", "read:org"],
    "google": ["openid", "email"],
}


def oauth_client_secret(s: HuntHub) -> str:
    """The client secret, from HUNTHUB_OAUTH_CLIENT_SECRET or a file only the hub's account can read."""
    secret = os.environ.get("HUNTHUB_OAUTH_CLIENT_SECRET", "").strip()
    if secret:
        return secret
    if not s.oauth_client_secret_file:
        raise HubConfigError(
            f"auth = {s.auth} needs the OAuth client secret: put it in a file (chmod 600) and set "
            "HuntHub.oauth_client_secret_file, or set HUNTHUB_OAUTH_CLIENT_SECRET"
        )
    path = Path(s.oauth_client_secret_file)
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise HubConfigError(f"{path} holds the OAuth client secret but other accounts can read it: chmod 600 it")
        secret = path.read_text().strip()
    except OSError as e:
        raise HubConfigError(f"cannot read the OAuth client secret file {path}: {e.strerror}") from e
    if not secret:
        raise HubConfigError(f"the OAuth client secret file {path} is empty")
    return secret


def crypt_keys(s: HuntHub) -> list[str]:
    """Keys that encrypt users' auth state (their tokens) in the hub database: JUPYTERHUB_CRYPT_KEY if set
    (`;`-separated, the first encrypts: rotation), else a key generated once into a 0600 file in the hub dir."""
    given = os.environ.get("JUPYTERHUB_CRYPT_KEY", "")
    if given.strip():
        return [k for k in given.split(";") if k.strip()]
    path = s.hub_dir / "crypt_key"
    s.hub_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise HubConfigError(f"{path} (the key for users' tokens) is readable by others: chmod 600 it") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return [path.read_text().strip()]


def oauth_problems(s: HuntHub) -> list[str]:
    """What stops the configured login from working, in words an admin can act on."""
    if s.demo or s.auth == "native":
        return []
    if s.auth == "ldap":
        return ldap_problems(s)
    problems = []
    if not s.oauth_client_id:
        problems.append(f"auth = {s.auth} needs HuntHub.oauth_client_id (HUNTHUB_OAUTH_CLIENT_ID)")
    if s.auth == "oidc" and not re.match(r"^https?://[^/\s]+", s.oauth_issuer):
        problems.append("auth = oidc needs HuntHub.oauth_issuer, the provider's http(s) issuer URL")
    if s.auth == "google" and not s.oauth_google_domains and not s.oauth_allowed_users:
        problems.append("auth = google needs HuntHub.oauth_google_domains (or oauth_allowed_users)")
    if s.auth in ("oidc", "github") and not (
        s.oauth_allowed_groups or s.oauth_allowed_users or s.oauth_admin_groups or s.oauth_admin_users
        or s.oauth_allow_all
    ):  # fmt: skip
        problems.append(
            "nobody could log in: set HuntHub.oauth_allowed_groups (or oauth_allowed_users), or "
            "HuntHub.oauth_allow_all = True to let in everyone the provider signs in"
        )
    try:
        oauth_client_secret(s)
    except HubConfigError as e:
        problems.append(str(e))
    return problems + username_setting_problems(s)


def oauth_subjects_file(s: HuntHub) -> Path:
    """Which provider account owns which hub name (hunthub.hub.oauth.SubjectBindings), in the hub's private dir."""
    return s.hub_dir / "oauth-subjects.json"


def apply_oauth_admins(c: Config, s: HuntHub) -> None:
    """In OAuth mode admin is exactly what oauth_admin_users and oauth_admin_groups grant.

    At each login and token refresh the authenticator decides admin afresh (hunthub.hub.oauth._ProviderAccounts).
    At hub start, declaring the admin role's users makes JupyterHub set its membership to exactly those and clear
    the admin flag of everyone else, so a flag left by native login (its bootstrap admin) or by an earlier
    configuration gives nothing, not even through old API tokens, before its owner logs in again. Members of the
    admin groups get it back at their next login or token refresh (the first request after a restart refreshes).
    JupyterHub logs a warning that admin_users and the admin role are both set: expected, it merges them."""
    roles = c.JupyterHub.load_roles if isinstance(c.JupyterHub.get("load_roles"), list) else []
    c.JupyterHub.load_roles = [
        *(x for x in roles if x.get("name") != "admin"),
        {"name": "admin", "users": sorted(s.oauth_admin_users)},
    ]


def apply_oauth(c: Config, s: HuntHub) -> None:
    problems = oauth_problems(s)
    if problems:
        raise HubConfigError("; ".join(problems))
    c.JupyterHub.authenticator_class = f"hunthub-{s.auth}"
    # admins come from the provider's groups or oauth_admin_users: a provider account that happens to be
    # called like the native bootstrap admin must not become admin
    c.OAuthenticator.admin_users = set(s.oauth_admin_users)
    c.OAuthenticator.allowed_users = set(s.oauth_allowed_users)
    c.OAuthenticator.allow_all = s.oauth_allow_all
    c.OAuthenticator.client_id = s.oauth_client_id
    c.OAuthenticator.client_secret = oauth_client_secret(s)
    c.OAuthenticator.oauth_callback_url = f"{s.public_url}hub/oauth_callback"
    c.OAuthenticator.scope = list(s.oauth_scopes) or DEFAULT_SCOPES[s.auth]
    c.OAuthenticator.validate_server_cert = s.oauth_verify_tls
    if s.oauth_login_service:
        c.OAuthenticator.login_service = s.oauth_login_service
    apply_oauth_admins(c, s)
    # each hub name belongs to the provider account (issuer + sub) that first logged in with it
    for cls in ("HuntHubOIDCAuthenticator", "HuntHubGitHubAuthenticator", "HuntHubGoogleAuthenticator"):
        c[cls].subject_file = str(oauth_subjects_file(s))
    # tokens are kept (for refresh and provider logout) only encrypted
    c.OAuthenticator.enable_auth_state = True
    c.CryptKeeper.keys = crypt_keys(s)
    c.OAuthenticator.auth_refresh_age = s.oauth_refresh_age
    c.OAuthenticator.refresh_pre_spawn = True
    if s.auth == "oidc":
        from urllib.parse import urlparse

        c.HuntHubOIDCAuthenticator.oidc_issuer = s.oauth_issuer
        c.HuntHubOIDCAuthenticator.username_claim = s.oauth_username_claim
        c.HuntHubOIDCAuthenticator.manage_groups = True
        c.HuntHubOIDCAuthenticator.auth_state_groups_key = f"oauth_user.{s.oauth_groups_claim}"
        c.HuntHubOIDCAuthenticator.allowed_groups = set(s.oauth_allowed_groups)
        c.HuntHubOIDCAuthenticator.admin_groups = set(s.oauth_admin_groups)
        c.HuntHubOIDCAuthenticator.logout_from_provider = s.oauth_logout_from_provider
        c.HuntHubOIDCAuthenticator.post_logout_redirect_url = f"{s.public_url}hub/login"
        if not s.oauth_login_service:
            c.HuntHubOIDCAuthenticator.login_service = urlparse(s.oauth_issuer).hostname or "your identity provider"
    elif s.auth == "github":
        from hunthub.hub.oauth import github_teams

        c.HuntHubGitHubAuthenticator.allowed_organizations = set(s.oauth_allowed_groups)
        c.HuntHubGitHubAuthenticator.populate_teams_in_auth_state = True
        c.HuntHubGitHubAuthenticator.manage_groups = True
        c.HuntHubGitHubAuthenticator.auth_state_groups_key = github_teams
        c.HuntHubGitHubAuthenticator.admin_groups = {g.lower() for g in s.oauth_admin_groups}
    elif s.auth == "google":
        c.HuntHubGoogleAuthenticator.hosted_domain = list(s.oauth_google_domains)
        # everyone of the organisation's own domains, unless the admin named the users
        c.HuntHubGoogleAuthenticator.allow_all = s.oauth_allow_all or not s.oauth_allowed_users


LDAP_URL = re.compile(r"^(?P<scheme>ldaps?)://(?P<host>\[[0-9a-fA-F:.]+\]|[^/:\s\[\]]+)(?::(?P<port>\d{1,5}))?/?$")


def ldap_problems(s: HuntHub) -> list[str]:
    """What stops the LDAP login from working, in words an admin can act on (auth = ldap)."""
    from hunthub.hub.ldap import PasswordFileError, read_password_file

    problems = []
    if not LDAP_URL.match(s.ldap_server_url):
        problems.append(
            "auth = ldap needs HuntHub.ldap_server_url, the directory as ldaps://host[:port] or ldap://host[:port] "
            f"(not {s.ldap_server_url!r})"
        )
    if not s.ldap_bind_dn_template and not s.ldap_search_base:
        problems.append(
            "auth = ldap needs HuntHub.ldap_search_base (search for users, then bind: Active Directory) or "
            "HuntHub.ldap_bind_dn_template (bind as e.g. 'uid={username},ou=people,dc=corp,dc=example')"
        )
    if s.ldap_bind_dn_template and s.ldap_search_base:
        problems.append(
            "set either HuntHub.ldap_search_base (search, then bind) or HuntHub.ldap_bind_dn_template (direct bind), "
            "not both"
        )
    bad = [t for t in s.ldap_bind_dn_template if "{username}" not in t]
    if bad:
        problems.append(f"HuntHub.ldap_bind_dn_template needs '{{username}}' in every entry, not in {bad}")
    if s.ldap_search_base and not s.ldap_user_attribute:
        problems.append("HuntHub.ldap_user_attribute is empty: set it to uid (OpenLDAP) or sAMAccountName (AD)")
    if s.ldap_bind_dn and not s.ldap_bind_password_file:
        problems.append(
            "HuntHub.ldap_bind_dn needs HuntHub.ldap_bind_password_file, a file with its password (chmod 600)"
        )
    if s.ldap_bind_password_file:
        if not s.ldap_bind_dn:
            problems.append("HuntHub.ldap_bind_password_file is set but HuntHub.ldap_bind_dn (whose password) is not")
        try:
            read_password_file(s.ldap_bind_password_file)
        except PasswordFileError as e:
            problems.append(f"HuntHub.ldap_bind_password_file: {e}")
    groups_used = s.ldap_allowed_groups or s.ldap_admin_groups or s.spark_queues
    if s.ldap_group_membership == "member" and not s.ldap_group_search_base and groups_used:
        problems.append(
            "groups are used (ldap_allowed_groups, ldap_admin_groups or spark_queues) but "
            "HuntHub.ldap_group_search_base is empty: set it to where groups are (e.g. 'ou=groups,dc=corp,dc=example')"
            ", or set HuntHub.ldap_group_membership = 'memberOf' (Active Directory)"
        )
    if not (s.ldap_allowed_groups or s.ldap_allowed_users or s.ldap_admin_groups or s.ldap_admin_users):
        problems.append("nobody could log in: set HuntHub.ldap_allowed_groups (or ldap_allowed_users)")
    if s.ldap_ca_file and not os.access(s.ldap_ca_file, os.R_OK):
        problems.append(f"HuntHub.ldap_ca_file {s.ldap_ca_file} cannot be read")
    if s.ldap_timeout <= 0:
        problems.append(f"HuntHub.ldap_timeout must be at least 1 second, not {s.ldap_timeout}")
    return problems + username_setting_problems(s)


def apply_ldap(c: Config, s: HuntHub) -> None:
    """Login with a directory (hunthub.hub.ldap): the server and TLS, how users are found, and groups."""
    import ssl

    problems = ldap_problems(s)
    if problems:
        raise HubConfigError("; ".join(problems))
    m = LDAP_URL.match(s.ldap_server_url)
    c.JupyterHub.authenticator_class = "hunthub-ldap"
    auth = c.HuntHubLDAPAuthenticator
    auth.server_address = m["host"].strip("[]")
    if m["scheme"] == "ldaps":
        auth.tls_strategy = "on_connect"
    else:
        auth.tls_strategy = "before_bind" if s.ldap_starttls else "insecure"
    auth.server_port = int(m["port"] or (636 if m["scheme"] == "ldaps" else 389))
    # ldap3 does not verify the server's certificate unless told to: a forged directory would collect passwords
    auth.tls_kwargs = {"validate": ssl.CERT_REQUIRED, **({"ca_certs_file": s.ldap_ca_file} if s.ldap_ca_file else {})}
    auth.timeout = s.ldap_timeout
    if s.ldap_search_base:
        auth.lookup_dn = True
        auth.user_search_base = s.ldap_search_base
        auth.user_attribute = s.ldap_user_attribute
        auth.lookup_dn_user_dn_attribute = s.ldap_user_attribute
        # the hub name is the directory's own value (as AD spells the sAMAccountName), not what was typed
        auth.use_lookup_dn_username = True
        if s.ldap_bind_dn:
            auth.lookup_dn_search_user = s.ldap_bind_dn
            # the file's path, not the password: it is read when used, and never sits in the config
            auth.lookup_dn_search_password_file = s.ldap_bind_password_file
    else:
        auth.bind_dn_template = list(s.ldap_bind_dn_template)
    auth.group_membership = s.ldap_group_membership
    auth.group_search_base = s.ldap_group_search_base
    auth.login_groups = set(s.ldap_allowed_groups)
    auth.admin_groups = set(s.ldap_admin_groups)
    auth.allowed_users = set(s.ldap_allowed_users)
    # JupyterHub would otherwise let every user already in its database in once allowed_users is set: access must
    # follow the directory, so someone taken out of the allowed groups is refused at their next login
    auth.allow_existing_users = False
    auth.admin_users = set(s.ldap_admin_users)
    # directory groups become hub groups at every login: HuntHub.spark_queues picks the queue from them
    auth.manage_groups = True
    # as with OIDC: admin is what the settings grant, so the admin role holds exactly ldap_admin_users at start and
    # members of the admin groups get it back at their next login (see apply_oauth_admins)
    roles = c.JupyterHub.load_roles if isinstance(c.JupyterHub.get("load_roles"), list) else []
    c.JupyterHub.load_roles = [
        *(x for x in roles if x.get("name") != "admin"),
        {"name": "admin", "users": sorted(s.ldap_admin_users)},
    ]


def embedded_executor_options(s: HuntHub) -> dict[str, str]:
    """Executors of the embedded worker on this host start from the host's class archive (hunthub.driver_jvm);
    the worker containers of docker mode and external clusters do not see it."""
    options = driver_jvm.executor_java_options() if s.embedded_cluster and s.spawner != "docker" else ""
    return {"spark.executor.extraJavaOptions": options} if options else {}


def kernel_contract(s: HuntHub, tasks: str | None = None) -> KernelEnv:
    """What every analyst's server (and so every kernel) is told about the cluster and the data (see
    hunthub.kernel_env). `tasks` is where the sessions' tasks run (HuntHub.analyst_tasks unless given: ingest
    always runs on the cluster)."""
    tasks = tasks or s.analyst_tasks
    # small, fast-starting drivers (see hunthub.driver_jvm); not the host's class archive in containers
    conf = {"spark.driver.extraJavaOptions": driver_jvm.java_options(archive=s.spawner != "docker")}
    if tasks == "driver":
        # the analyst's tasks run in their driver, so it gets the memory an executor would have had
        master = f"local[{s.analyst_cores}]"
        conf["spark.driver.memory"] = s.executor_memory
        # an idle driver's heap shrinks only after a full GC (see hunthub.driver_jvm), which Spark forces every
        # 30 min by default
        conf["spark.cleaner.periodicGC.interval"] = "60s"
        # the driver's RPC and block manager answer only connections that hold its secret, which Spark makes per
        # application for local masters and keeps in the JVM: other local accounts can no longer talk to them.
        # (The UI is not covered: see README, What separates analysts.)
        conf["spark.authenticate"] = "true"
    else:
        master = s.master_url
        conf.update({
            "spark.cores.max": str(s.analyst_cores),
            "spark.executor.memory": s.executor_memory,
            "spark.driver.memory": s.driver_memory,
            **embedded_executor_options(s),
            **executor_allocation(s),
        })  # fmt: skip
    if s.spawner != "docker":
        # drivers' UIs listen on loopback, which every local account reaches: none may stop another's jobs there
        conf["spark.ui.killEnabled"] = "false"
    conf.update(s.spark_conf)
    return KernelEnv(
        spark_master=master,
        spark_conf=conf,
        warehouse=s.warehouse,
        catalog=s.catalog_path,
        warm_driver=s.warm_driver,
        warm_driver_ttl=float(s.warm_driver_ttl),
        warm_driver_delay=float(s.warm_driver_delay),
        sql_row_limit=s.sql_row_limit,
        spark_home=str(paths.spark_home()),
        # the same Python on the driver and on the executors
        pyspark_python=sys.executable,
        java_home=paths.java_home() or "",
        # who holds the cluster's cores: only where sessions use them
        master_webui=(
            f"http://127.0.0.1:{s.spark_master_webui_port}" if s.embedded_cluster and tasks == "cluster" else ""
        ),
        # drivers in containers do not see the host's slots (see hunthub.jvm_slots)
        jvm_start_slots_dir=str(jvm_start_slots_dir(s)) if s.spawner != "docker" else "",
        **livy_fields(s),
        **graphistry_fields(s),
    )


def kernel_environment(s: HuntHub, tasks: str | None = None) -> dict[str, str]:
    """kernel_contract's variables, as JupyterHub's Spawner.environment takes them."""
    return kernel_contract(s, tasks).to_environ()


def executor_allocation(s: HuntHub) -> dict[str, str]:
    """Spark properties that make an analyst's executors follow their work: none while idle, up to their share of
    cores while a job runs. Standalone supports this without an external shuffle service through shuffle tracking.

    The cap per analyst stays spark.cores.max: executors get a fixed number of cores (standalone otherwise gives
    one executor every free core of a worker) and maxExecutors is how many of them fit in the cap."""
    if not s.dynamic_allocation:
        return {}
    for name in ("executor_idle_timeout", "cached_executor_idle_timeout", "shuffle_idle_timeout"):
        if getattr(s, name) < 1:
            raise HubConfigError(f"HuntHub.{name} must be at least 1 second, not {getattr(s, name)}")
    if s.executor_yield_timeout < 0:
        raise HubConfigError(f"HuntHub.executor_yield_timeout must be 0 (never) or more: {s.executor_yield_timeout}")
    cores_max = int(s.spark_conf.get("spark.cores.max", s.analyst_cores))
    executor_cores = int(s.spark_conf.get("spark.executor.cores", cores_max))
    if executor_cores < 1 or executor_cores > cores_max:
        raise HubConfigError(
            f"spark.executor.cores ({executor_cores}) must be between 1 and the analyst's spark.cores.max "
            f"({cores_max}): no executor could start"
        )
    yield_early = {}
    if s.executor_yield_timeout:
        # not a Spark property: read by the kernels' hunthub.kernels.core_yield from their session's conf
        yield_early[core_yield.TIMEOUT_CONF] = f"{s.executor_yield_timeout}s"
    return {
        **yield_early,
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "0",
        "spark.dynamicAllocation.initialExecutors": "0",
        "spark.dynamicAllocation.maxExecutors": str(cores_max // executor_cores),
        "spark.executor.cores": str(executor_cores),
        "spark.dynamicAllocation.executorIdleTimeout": f"{s.executor_idle_timeout}s",
        "spark.dynamicAllocation.cachedExecutorIdleTimeout": f"{s.cached_executor_idle_timeout}s",
        "spark.dynamicAllocation.shuffleTracking.timeout": f"{s.shuffle_idle_timeout}s",
        # Spark forgets a shuffle (and an executor holding only its files becomes idle) only when the driver's GC
        # has collected its last reference; Spark forces a GC every 30 min by default, which would leave every
        # executor that ran a shuffle (most queries) to shuffle_idle_timeout. A GC of a small driver's heap costs
        # little next to cores held for nothing; at least 30 s apart. (The kernel collects Python's garbage at
        # the same pace: see session.release_unreferenced.)
        "spark.cleaner.periodicGC.interval": f"{max(30, min(s.executor_idle_timeout, s.shuffle_idle_timeout))}s",
    }


def jvm_start_slots_dir(s: HuntHub) -> Path:
    """Where the host's driver start slots are (see hunthub.jvm_slots): a root-owned directory every analyst's
    account can read when the hub runs as root, else the state dir (analysts then share the hub's account)."""
    from hunthub import jvm_slots

    return jvm_slots.HOST_DIR if os.geteuid() == 0 else s.state / "jvm-start-slots"


def prepare_jvm_start_slots(s: HuntHub) -> Path | None:
    """Create the slot files kernels take turns on; nothing in docker mode (out of scope, see hunthub.jvm_slots)."""
    from hunthub import jvm_slots

    if s.spawner == "docker":
        return None
    if s.jvm_start_slots < 1:
        raise HubConfigError(f"HuntHub.jvm_start_slots must be at least 1, not {s.jvm_start_slots}")
    return jvm_slots.prepare(jvm_start_slots_dir(s), s.jvm_start_slots)


def graphistry_fields(s: HuntHub) -> dict[str, str | float]:
    """Where analysts' graphs go; nothing at all without a server, so nothing is ever sent anywhere."""
    if not s.graphistry_server:
        return {}
    return {
        "graphistry_server": s.graphistry_server,
        "graphistry_protocol": s.graphistry_protocol,
        "graphistry_client_url": s.graphistry_client_url or s.graphistry_url,
        "graphistry_privacy": s.graphistry_privacy,
        "graphistry_timeout": float(s.graphistry_timeout),
    }


def docker_gateway() -> str:
    """The host's address on Docker's default bridge: where analysts' containers reach the hub."""
    import ipaddress

    from hunthub import docker_cluster

    ipam = docker_cluster.client().networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker leaves Gateway out when it is the subnet's first address, as on the default bridge
    return ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


def apply_docker_spawner(c: Config, s: HuntHub, gateway: str | None = None) -> None:
    from hunthub import docker_cluster

    names = docker_cluster.Names(s.docker_prefix)
    c.JupyterHub.spawner_class = "hunthub-docker"
    # containers reach the hub at the host's bridge address; the hub's database stays on loopback, out of reach
    c.JupyterHub.hub_bind_url = f"http://{gateway or docker_gateway()}:{s.hub_port}"
    c.HuntHubDockerSpawner.image = s.analyst_image
    c.HuntHubDockerSpawner.allowed_images = {}  # analysts cannot pick an image (a request for one is a 400)
    c.HuntHubDockerSpawner.remove = True  # the home is a volume: containers are disposable
    c.HuntHubDockerSpawner.use_internal_ip = True
    c.HuntHubDockerSpawner.name_prefix = s.docker_prefix
    c.HuntHubDockerSpawner.tasks_in_container = s.analyst_tasks == "driver"
    if s.analyst_tasks == "cluster":
        workers = (names.worker(i) for i in range(1, s.docker_workers + 1))
        c.HuntHubDockerSpawner.spark_containers = [names.master, *workers]
    warehouse = catalog.local_path(s.warehouse)
    c.HuntHubDockerSpawner.warehouse_dir = str(warehouse) if warehouse else ""
    c.HuntHubDockerSpawner.catalog_file = s.catalog_path
    c.HuntHubDockerSpawner.scratch_root = str(docker_cluster.scratch_root(s))
    c.HuntHubDockerSpawner.identity_root = str(s.state / "identity")
    c.HuntHubDockerSpawner.spark_queues = dict(s.spark_queues)
    c.HuntHubDockerSpawner.spark_default_queue = s.spark_default_queue
    apply_analyst_limits(c.HuntHubDockerSpawner, s)
    c.HuntHubDockerSpawner.notebook_dir = "/home/analyst"
    contract = kernel_contract(s)
    if s.analyst_tasks == "cluster":  # the master, as the analysts' containers reach it
        contract = contract.replace(spark_master=f"spark://{names.master}:7077")
    c.Spawner.environment = contract.to_environ()


def apply_analyst_limits(spawner_config, s: HuntHub) -> None:
    """What one analyst's server may use with all it starts: enforced by the container (docker spawner) or by a
    cgroup of the analyst's own (local spawner, as root: hunthub.analyst_limits)."""
    if s.analyst_memory_limit:
        spawner_config.mem_limit = s.analyst_memory_limit
    if s.analyst_cpu_limit:
        spawner_config.cpu_limit = s.analyst_cpu_limit
    spawner_config.pids_limit = s.analyst_pids_limit


def apply_spawner(c: Config, s: HuntHub) -> None:
    c.Spawner.default_url = "/tree"
    # analysts must not change what their server loads (jupyterhub security model)
    c.Spawner.disable_user_config = True
    c.Spawner.http_timeout = 90
    c.Spawner.start_timeout = 120
    if s.spawner == "docker":
        apply_docker_spawner(c, s)
        return
    c.JupyterHub.spawner_class = "hunthub-local"
    c.HuntHubLocalSpawner.home_root = str(s.homes_dir)
    c.HuntHubLocalSpawner.system_user_prefix = s.account_prefix
    c.HuntHubLocalSpawner.accounts_ledger = str(s.hub_dir / "accounts.json")
    c.HuntHubLocalSpawner.notebooks_source = str(paths.notebooks_dir())
    warehouse = catalog.local_path(s.warehouse)
    if warehouse is not None:
        c.HuntHubLocalSpawner.scratch_root = str(warehouse / "users")
        if s.embedded_cluster and os.geteuid() == 0 and s.analyst_tasks == "cluster":
            # executors write the analyst's results: they run as the daemons' account (see hunthub.cluster)
            c.HuntHubLocalSpawner.scratch_writers = [cluster.SPARK_USER]
    c.HuntHubLocalSpawner.spark_queues = dict(s.spark_queues)
    c.HuntHubLocalSpawner.spark_default_queue = s.spark_default_queue
    apply_analyst_limits(c.HuntHubLocalSpawner, s)
    if s.graphistry_server:
        c.HuntHubLocalSpawner.graphistry_personal_key_id = s.graphistry_personal_key_id
        c.HuntHubLocalSpawner.graphistry_personal_key_secret_file = s.graphistry_personal_key_secret_file
        c.HuntHubLocalSpawner.graphistry_keys_dir = s.graphistry_keys_dir
    c.Spawner.cmd = [sys.executable, "-m", "hunthub.spawner.singleuser"]
    c.Spawner.environment = kernel_environment(s)


LIVY_SERVICE = "livy-gateway"


def livy_gateway_service(s: HuntHub) -> dict:
    """The JupyterHub-managed service every Livy request goes through (see hunthub.hub.livy_gateway). It needs no
    role: it asks the hub whose a token is with that token itself, which any token may do."""
    argv = [
        sys.executable, "-m", "hunthub.hub.livy_gateway",
        f"--livy-url={s.livy_url}", f"--port={s.livy_gateway_port}", "--ip=127.0.0.1",
        f"--timeout={s.livy_timeout}", f"--session-idle-timeout={s.livy_session_idle_timeout}",
    ]  # fmt: skip
    # the gateway refuses these names too: accounts made before a name was reserved, and the demo's dummy login
    argv += [f"--reserved-username={name}" for name in s.reserved_usernames] or ["--no-reserved-usernames"]
    if s.livy_credentials_file:
        argv.append(f"--credentials-file={s.livy_credentials_file}")
    if s.livy_ca_file:
        argv.append(f"--ca-file={s.livy_ca_file}")
    if not s.livy_verify:
        argv.append("--no-verify")
    return {"name": LIVY_SERVICE, "command": argv, "url": s.livy_gateway_url, "display": False}


def write_sparkmagic_config(s: HuntHub) -> Path:
    """sparkmagic's config for every analyst, in a dir they can read but not change. Changing a copy would not
    matter anyway: the gateway, not this file, decides who a session runs as."""
    from hunthub.kernels.livy import sparkmagic_config

    conf_dir = s.livy_dir / "sparkmagic"
    conf_dir.mkdir(parents=True, exist_ok=True)
    for d in (s.livy_dir, conf_dir):
        d.chmod(0o755)
    atomic_file.write_json(conf_dir / "config.json", sparkmagic_config(s.livy_gateway_url), mode=0o644, indent=2)
    return conf_dir


def livy_fields(s: HuntHub) -> dict[str, str]:
    """What an analyst's server needs for the Livy kernels; nothing without a Livy URL, so they are not offered.
    (The gateway's URL is in sparkmagic's config file, which the kernels read.)"""
    if not s.livy_url:
        return {}
    from hunthub import kernelspecs

    return {
        "sparkmagic_conf_dir": str(s.livy_dir / "sparkmagic"),
        "jupyter_path": str(kernelspecs.livy_data_dir()),
    }


def apply_livy(c: Config, s: HuntHub) -> None:
    if not s.livy_url:
        return
    services = c.JupyterHub.services if isinstance(c.JupyterHub.get("services"), list) else []
    c.JupyterHub.services = [*(x for x in services if x.get("name") != LIVY_SERVICE), livy_gateway_service(s)]
    write_sparkmagic_config(s)


def apply_hub(c: Config, s: HuntHub) -> None:
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.template_paths = [str(Path(__file__).parent / "templates")]
    welcome = {
        "native": "hunthub — sign up, then wait for an admin's approval.",
        "oidc": "hunthub — sign in with your organisation's account.",
        "github": "hunthub — sign in with your GitHub account.",
        "google": "hunthub — sign in with your organisation's Google account.",
        "ldap": "hunthub — sign in with your directory (LDAP / Active Directory) user name and password.",
    }
    c.JupyterHub.template_vars = {"announcement_login": welcome["native" if s.demo else s.auth]}
    if not s.demo and os.geteuid() != 0:
        c.JupyterHub.template_vars["announcement"] = (
            "This hub runs as a normal user: all analysts share one OS account (demo only)."
        )


CULLER_SERVICE = "idle-culler"


def idle_culler_service(s: HuntHub) -> dict:
    """jupyterhub-idle-culler as a hub-managed service: it stops servers idle longer than `cull_idle_timeout`, and
    never deletes users (an analyst's account and home stay). Admins' servers are culled like anyone's."""
    argv = [
        sys.executable, "-m", "jupyterhub_idle_culler",
        f"--timeout={s.cull_idle_timeout}", f"--cull-every={s.cull_every}",
        "--cull-users=False",
        # no config file: the culler would otherwise load idle_culler_config.py from wherever the hub was started
        "--config=",
    ]  # fmt: skip
    return {"name": CULLER_SERVICE, "command": argv, "display": False}


def apply_culling(c: Config, s: HuntHub) -> None:
    """Idle servers are stopped by jupyterhub-idle-culler, with a role holding only the scopes it uses (upstream's
    list: find users, read their servers' activity, stop servers). Servers report activity every
    `activity_interval` s; kernels running a cell or a Spark job count as activity (hunthub.kernels.spark_activity)."""
    c.JupyterHub.last_activity_interval = s.activity_interval
    c.Spawner.environment = {
        **c.Spawner.get("environment", {}),
        "JUPYTERHUB_ACTIVITY_INTERVAL": str(s.activity_interval),
    }
    services = c.JupyterHub.services if isinstance(c.JupyterHub.get("services"), list) else []
    roles = c.JupyterHub.load_roles if isinstance(c.JupyterHub.get("load_roles"), list) else []
    c.JupyterHub.services = [x for x in services if x.get("name") != CULLER_SERVICE]
    c.JupyterHub.load_roles = [x for x in roles if x.get("name") != CULLER_SERVICE]
    if s.cull_idle_timeout <= 0:
        return
    if s.cull_idle_timeout < 2 * s.activity_interval:
        # a busy server's report can come up to about 1.6 intervals after its last check (jitter, check period)
        raise HubConfigError(
            f"HuntHub.cull_idle_timeout ({s.cull_idle_timeout} s) must be at least twice HuntHub.activity_interval "
            f"({s.activity_interval} s), or servers in use could be stopped before the hub hears of their activity"
        )
    if s.cull_every <= 0:
        raise HubConfigError(f"HuntHub.cull_every must be at least 1 second, not {s.cull_every}")
    c.JupyterHub.services.append(idle_culler_service(s))
    c.JupyterHub.load_roles.append(
        {
            "name": CULLER_SERVICE,
            "description": "Stop analysts' servers idle longer than HuntHub.cull_idle_timeout",
            "scopes": ["list:users", "read:users:activity", "servers"],
            "services": [CULLER_SERVICE],
        }
    )


def kernel_culling_args(s: HuntHub) -> list[str]:
    """jupyter_server options (command line of every analyst's server) that shut down kernels idle longer than
    `kernel_cull_idle_timeout`; nothing when it is 0."""
    if s.kernel_cull_idle_timeout <= 0:
        return []
    every = max(10, min(300, s.kernel_cull_idle_timeout // 10))
    return [
        f"--MappingKernelManager.cull_idle_timeout={s.kernel_cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={every}",
        # a kernel running a cell is never culled; a Spark job running while the kernel is idle also counts as
        # activity (hunthub.kernels.spark_activity touches the kernel's last_activity)
        "--MappingKernelManager.cull_busy=False",
        # an open browser tab holds a websocket to its kernels: counting that as use would let a forgotten tab
        # keep a driver JVM and its memory alive forever; idle means no cell and no job, tab or not
        "--MappingKernelManager.cull_connected=True",
    ]


def apply_kernel_culling(c: Config, s: HuntHub) -> None:
    """Passed as arguments, which both the local and the docker spawner add to the server's command line."""
    args = c.Spawner.args if isinstance(c.Spawner.get("args"), list) else []
    kept = [a for a in args if not a.startswith("--MappingKernelManager.cull_")]
    c.Spawner.args = [*kept, *kernel_culling_args(s)]


def apply_limits(c: Config, s: HuntHub) -> None:
    """JupyterHub's own brakes for bursts: servers starting at once, and servers running at all. The analyst over a
    limit gets a 429 (with Retry-After for spawns) and hub/templates/429.html says what it means."""
    if s.concurrent_spawn_limit < 0 or s.active_server_limit < 0:
        raise HubConfigError("HuntHub.concurrent_spawn_limit and HuntHub.active_server_limit cannot be negative")
    c.JupyterHub.concurrent_spawn_limit = s.concurrent_spawn_limit
    # Retry-After of a throttled spawn: upstream suggests 30-60 s, longer than a whole spawn here (a few seconds),
    # so a burst's unlucky half waited far longer than the spawns ahead of them took; a short random spread is enough
    c.JupyterHub.spawn_throttle_retry_range = (2, 8)
    c.JupyterHub.active_server_limit = s.active_server_limit
    c.JupyterHub.template_vars = {
        **c.JupyterHub.get("template_vars", {}),
        "hunthub_active_server_limit": s.active_server_limit,
        "hunthub_concurrent_spawn_limit": s.concurrent_spawn_limit,
        "hunthub_cull_idle_minutes": s.cull_idle_timeout // 60,
    }


STATUS_SERVICE = "hunthub-status"


def status_service(s: HuntHub) -> dict:
    """The admins' page of who holds what (hunthub.hub.status_page), a hub-managed service with its own token:
    the same token `hunthub status` reads from the hub's private dir (generated once, 0600)."""
    from hunthub import status

    webui = status.master_webui(s) or ""
    argv = [
        sys.executable, "-m", "hunthub.hub.status_page", f"--port={s.status_port}", "--ip=127.0.0.1",
        f"--public-url={s.public_url}", f"--master-webui={webui}", f"--account-prefix={s.account_prefix}",
    ]  # fmt: skip
    return {
        "name": STATUS_SERVICE,
        "command": argv,
        "url": f"http://127.0.0.1:{s.status_port}",
        "api_token": status.ensure_token(s.hub_dir),
        # listed under Services for those who may open it: admins (see hunthub.hub.status_page)
        "display": True,
        "oauth_no_confirm": True,
    }


def apply_status_service(c: Config, s: HuntHub) -> None:
    """`hunthub status` and its page: a role that may list users and their servers and reach servers' APIs (to list
    kernels), nothing more: it cannot start, stop or change anything."""
    services = c.JupyterHub.services if isinstance(c.JupyterHub.get("services"), list) else []
    roles = c.JupyterHub.load_roles if isinstance(c.JupyterHub.get("load_roles"), list) else []
    c.JupyterHub.services = [*(x for x in services if x.get("name") != STATUS_SERVICE), status_service(s)]
    c.JupyterHub.load_roles = [
        *(x for x in roles if x.get("name") != STATUS_SERVICE),
        {
            "name": STATUS_SERVICE,
            "description": "Read who holds what: users, their servers, their servers' kernels",
            "scopes": ["list:users", "read:users", "read:servers", "access:servers"],
            "services": [STATUS_SERVICE],
        },
    ]


def configure(c: Config, settings: HuntHub | None = None) -> HuntHub:
    s = settings or load()
    for d in (s.state, s.hub_dir, s.run_dir):
        d.mkdir(parents=True, exist_ok=True)
    Path(s.hub_dir).chmod(0o700)
    apply_paths(c, s)
    apply_proxy(c, s)
    apply_authenticator(c, s)
    apply_spawner(c, s)
    prepare_jvm_start_slots(s)
    apply_livy(c, s)
    apply_hub(c, s)
    apply_culling(c, s)
    apply_kernel_culling(c, s)
    apply_limits(c, s)
    apply_status_service(c, s)
    apply_site_config(c, s)
    return s


def _refuse_if_others_can_change(path: Path) -> None:
    """Site configuration runs as the hub's account (root, usually): another account that could change it would
    run its code as root."""
    st = path.stat()
    owners = {0, os.geteuid()}
    if st.st_uid not in owners or st.st_mode & 0o022:
        raise HubConfigError(
            f"site configuration {path} can be changed by another account than the hub's (owner uid {st.st_uid}, "
            f"mode {st.st_mode & 0o777:o}): make it owned by root and not group- or world-writable "
            "(chown root; chmod go-w)"
        )


def apply_site_config(c: Config, s: HuntHub) -> list[Path]:
    """Run the site's jupyterhub_config.d files (HuntHub.site_config_dir) over hunthub's configuration, in name
    order, each with `c` as jupyterhub_config.py has it; returns the files run. A file that fails stops the hub
    with its name: a site setting silently not applied (a login rule, a limit) is worse than a hub that does not
    start."""
    folder = Path(s.site_config_dir)
    if not folder.is_dir():
        return []
    ran = []
    for path in [folder, *sorted(folder.glob("*.py"))]:
        _refuse_if_others_can_change(path)
    for path in sorted(folder.glob("*.py")):
        print(f"hunthub: site configuration {path}", file=sys.stderr, flush=True)
        namespace = {"c": c, "get_config": lambda: c, "__file__": str(path), "__name__": "jupyterhub_config_d"}
        try:
            code = compile(path.read_bytes(), str(path), "exec")
            exec(code, namespace)  # noqa: S102 - the admin's own configuration, as JupyterHub runs its config file
        except Exception as e:
            raise HubConfigError(f"site configuration {path} failed: {type(e).__name__}: {e}") from e
        ran.append(path)
    return ran

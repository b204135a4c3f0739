"""hunthub's own configuration: one traitlets object read by the CLI, the hub config and the spawner.

Values come from, in rising priority: documented defaults, ``HUNTHUB_*`` environment variables (one config
layer, environment_config: HUNTHUB_<SETTING> for every setting of a single value), then a traitlets config file
(``/etc/hunthub/hunthub_config.py`` and the file named by ``HUNTHUB_CONFIG``), e.g.::

    c.HuntHub.port = 8443
    c.HuntHub.spark_master = "spark://spark-master.soc.example:7077"
    c.HuntHub.warehouse = "hdfs://namenode.soc.example:8020/warehouse"

The command line's flags (``hunthub up --port 9000``) go over all of these. load() stacks the layers;
HuntHub(config=...) takes exactly the Config it is given, and no default reads the environment. ``hunthub up``
hands the hub it starts every value it resolved, in one file (write_resolved), so the hub never reads a setting
again from somewhere else.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from traitlets import Bool, Dict, Enum, Float, Integer, List, TraitError, Unicode, default, observe, validate
from traitlets.config import Config, Configurable, PyFileConfigLoader

SYSTEM_CONFIG = "/etc/hunthub/hunthub_config.py"

# Lower-case, starts with a letter, no spaces, slashes, semicolons, NUL or dots; short enough that the
# local spawner's system account (prefix + name) stays within Linux's 32-character limit.
DEFAULT_USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,27}$"

# Accounts a hub name must never equal, because the hub name *is* the cluster identity: Livy's proxyUser, and
# SPARK_USER / HADOOP_USER_NAME of analysts' drivers (hunthub.identity). An analyst called `hdfs` would be the HDFS
# superuser on a cluster without Kerberos. Base system accounts, the Hadoop/Spark ecosystem's service accounts
# (those YARN's container-executor bans by default among them), and hunthub's own. Not `admin`: no cluster
# daemon runs as it, and it is the default name of hunthub's own first admin (HuntHub.admin_user).
DEFAULT_RESERVED_USERNAMES = (
    "root", "daemon", "bin", "sys", "nobody", "operator",
    "hadoop", "hdfs", "yarn", "mapred", "httpfs", "kms", "hive", "hcat", "hbase", "spark", "livy", "zookeeper",
    "kafka", "oozie", "hue", "knox", "ranger", "atlas", "ambari", "ambari-qa", "impala", "kudu", "solr", "sqoop",
    "flume", "storm", "tez", "zeppelin", "sentry", "druid", "presto", "trino", "nifi", "flink",
    "hunthub", "hunthub-spark",
)  # fmt: skip


ENV_PREFIX = "HUNTHUB_"
# the few variables whose name is not the setting's own
ENV_NAMES = {"catalog_path": "HUNTHUB_CATALOG"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_name(setting: str) -> str:
    """The environment variable of a HuntHub setting: HUNTHUB_<NAME> (HuntHub.port is HUNTHUB_PORT)."""
    return ENV_NAMES.get(setting, f"{ENV_PREFIX}{setting.upper()}")


def _from_env(trait, variable: str, text: str):
    try:
        if isinstance(trait, Bool):
            if text.strip().lower() not in _TRUE | _FALSE:
                raise ValueError("not one of 1/0, true/false, yes/no, on/off")
            return text.strip().lower() in _TRUE
        if isinstance(trait, Integer):
            return int(text)
        if isinstance(trait, Float):
            return float(text)
    except ValueError as e:
        raise TraitError(f"{variable}={text!r}: {e}") from None
    return text


def environment_config(environ=None) -> Config:
    """The HUNTHUB_* environment as one config layer, below the config files (see load_config): every setting
    of a single value (text, number, flag) has a variable, `env_name(setting)`; dicts and lists only come from
    config files. The settings themselves never read the environment, so HuntHub(config=...) means exactly that
    config (tests, benchmarks) and a value has one way in."""
    environ = os.environ if environ is None else environ
    cfg = Config()
    for name, trait in HuntHub.class_traits(config=True).items():
        variable = env_name(name)
        if variable in environ and isinstance(trait, Unicode | Enum | Bool | Integer | Float):
            cfg.HuntHub[name] = _from_env(trait, variable, environ[variable])
    return cfg


def _checked_livy_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and not re.match(r"^https?://[^/@\s]+(/\S*)?$", url):
        raise TraitError(
            f"HuntHub.livy_url {url!r} must be http(s)://host[:port][/path], without user:password "
            "(put credentials in HuntHub.livy_credentials_file)"
        )
    return url


def _checked_account_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,6}-", prefix):
        raise TraitError(
            f"HuntHub.account_prefix {prefix!r} must be a lower-case letter, then up to 6 letters or digits, "
            "then '-' (e.g. 'hunt-')"
        )
    return prefix


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def machine_memory_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4096  # pragma: no cover


class HuntHub(Configurable):
    """Settings for the embedded stack and for what analysts' servers and kernels are told."""

    state_dir = Unicode(
        help="""Where hunthub keeps its state: hub database and secrets, Spark worker and log dirs, analysts'
        homes (local spawner), the warehouse and the dataset catalog (unless configured elsewhere).
        Env: HUNTHUB_STATE_DIR. Default /var/lib/hunthub as root, ~/.local/state/hunthub otherwise."""
    ).tag(config=True)

    site_config_dir = Unicode(
        "/etc/hunthub/jupyterhub_config.d",
        help="""The site's own JupyterHub configuration: every `*.py` file here is run, in name order, after
        hunthub's configuration (so it wins), with `c` the hub's config, as jupyterhub_config.py is. Files here
        survive upgrades, unlike edits to the tracked jupyterhub_config.py. A missing folder is no site
        configuration. Env: HUNTHUB_SITE_CONFIG_DIR.""",
    ).tag(config=True)

    @default("state_dir")
    def _default_state_dir(self):
        if os.geteuid() == 0:
            return "/var/lib/hunthub"
        return str(Path.home() / ".local" / "state" / "hunthub")

    @validate("state_dir")
    def _absolute_state_dir(self, proposal):
        # a relative path would mean something else to the hub, which runs in another directory
        return str(Path(proposal["value"]).expanduser().absolute())

    ip = Unicode(help="Address the hub's public proxy listens on. Env: HUNTHUB_IP.").tag(config=True)

    @default("ip")
    def _default_ip(self):
        return "127.0.0.1"

    port = Integer(help="Port the hub's public proxy listens on. Env: HUNTHUB_PORT.").tag(config=True)

    @default("port")
    def _default_port(self):
        return 8000

    ssl_cert = Unicode(
        "",
        help="""PEM certificate (chain) the hub's public proxy serves HTTPS with, e.g.
        /etc/hunthub/tls/hunt.soc.example.crt. With ssl_key; empty: plain HTTP (behind a reverse proxy that
        terminates TLS, set public_url instead). Env: HUNTHUB_SSL_CERT.""",
    ).tag(config=True)

    ssl_key = Unicode(
        "",
        help="""PEM private key of ssl_cert, readable only by the hub's account (mode 0600 or 0400). Env:
        HUNTHUB_SSL_KEY.""",
    ).tag(config=True)

    ssl_self_signed = Bool(
        False,
        help="""For a trial only: serve HTTPS with a self-signed certificate hunthub makes once into
        <state>/hub/tls (for localhost, 127.0.0.1 and `ip`). Browsers warn about it, rightly: use a certificate
        your CA issued for anything real. Ignored when ssl_cert is set. Env: HUNTHUB_SSL_SELF_SIGNED.""",
    ).tag(config=True)

    public_url = Unicode(
        help="""The address analysts' browsers use, e.g. https://hunt.soc.example/: the OAuth callback, the links
        in the banner and in the admin's pages are made from it, and session cookies are Secure when it is https.
        Behind a reverse proxy that terminates TLS, set this to the proxy's address (the hub itself then listens
        on `ip`:`port`, loopback by default). Default: from ip, port and whether the hub serves TLS, with
        localhost for a loopback or every-interface ip (0.0.0.0): set it whenever analysts' browsers are on other
        machines (`hunthub up` and `hunthub doctor` warn). Only the root path (/) is supported. Env:
        HUNTHUB_PUBLIC_URL.""",
    ).tag(config=True)

    @default("public_url")
    def _default_public_url(self):
        host = "localhost" if self.ip in {"127.0.0.1", "0.0.0.0", "", "::"} else self.ip
        return f"{self.scheme}://{host}:{self.port}/"

    @validate("public_url")
    def _checked_public_url(self, proposal):
        url = proposal["value"].strip()
        match = re.fullmatch(r"(https?)://([^/@\s]+)(/.*)?", url)
        if not match:
            raise TraitError(f"HuntHub.public_url {url!r} must be http(s)://host[:port]/")
        if (match.group(3) or "/") != "/":
            raise TraitError(
                f"HuntHub.public_url {url!r}: only the root path is supported; serve hunthub at its own host name "
                "(e.g. https://hunt.soc.example/), not under a path"
            )
        return f"{match.group(1)}://{match.group(2)}/"

    proxy_api_port = Integer(help="Loopback port of the proxy's REST API. Env: HUNTHUB_PROXY_API_PORT.").tag(
        config=True
    )

    @default("proxy_api_port")
    def _default_proxy_api_port(self):
        return self.port + 1

    hub_port = Integer(help="Loopback port of the hub's own API. Env: HUNTHUB_HUB_PORT.").tag(config=True)

    @default("hub_port")
    def _default_hub_port(self):
        return self.port + 81

    db_url = Unicode(
        help="""SQLAlchemy URL of the hub database. Empty: SQLite in the state dir. PostgreSQL is recommended
        for production, e.g. postgresql://hunthub@db.soc.example/hunthub. Env: HUNTHUB_DB_URL."""
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        return ""

    admin_user = Unicode(
        help="""The first administrator. `hunthub up` creates this account with a random password written to
        a 0600 file in the state dir. Env: HUNTHUB_ADMIN_USER."""
    ).tag(config=True)

    @default("admin_user")
    def _default_admin_user(self):
        return "admin"

    demo = Bool(
        help="""Demo mode: any user name with any password logs in. Never for real data. Env: HUNTHUB_DEMO."""
    ).tag(config=True)

    @default("demo")
    def _default_demo(self):
        return False

    username_pattern = Unicode(
        DEFAULT_USERNAME_PATTERN,
        help="Regular expression every user name must match (sign-up and login).",
    ).tag(config=True)

    @validate("username_pattern")
    def _compilable(self, proposal):
        try:
            re.compile(proposal["value"])
        except re.error as e:
            pattern = proposal["value"]
            raise TraitError(f"HuntHub.username_pattern {pattern!r} is not a valid regular expression: {e}") from e
        return proposal["value"]

    reserved_usernames = List(
        Unicode(),
        default_value=list(DEFAULT_RESERVED_USERNAMES),
        help="""Names no hub user may have (compared without regard to case), whatever `username_pattern` allows:
        the cluster's service accounts. A hub user's name is who their Spark jobs and Livy sessions run as on the
        cluster, so an analyst named `hdfs` would act as the HDFS superuser. Refused at sign-up, at login (native
        and identity provider), when an admin adds users, and by the Livy gateway; an existing account with such a
        name is blocked. Add your cluster's own service and admin accounts; never the name of `admin_user`.""",
    ).tag(config=True)

    account_prefix = Unicode(
        help="""Prefix of each analyst's system account (`<prefix><name>`), when the hub runs as root with the local
        spawner. Accounts belong to the install that created them (hunthub.spawner.accounts); a second install on
        the same machine (a test run, a staging hub) needs a prefix of its own. Lower case, ends with '-', at most
        8 characters. Env: HUNTHUB_ACCOUNT_PREFIX.""",
    ).tag(config=True)

    @default("account_prefix")
    def _default_account_prefix(self):
        return "hunt-"

    @validate("account_prefix")
    def _short_prefix(self, proposal):
        return _checked_account_prefix(proposal["value"])

    # --- login through an identity provider (OAuth 2.0 / OpenID Connect) ---------------------------

    auth = Enum(
        ["native", "oidc", "github", "google", "ldap"],
        help="""How analysts log in. `native`: hunthub accounts, sign-up approved by an admin. `oidc`: any OpenID
        Connect provider (Okta, Azure AD / Entra ID, Keycloak, Auth0...) found from `oauth_issuer`. `github`,
        `google`: presets for those providers. `ldap`: user name and password checked by an LDAP directory or
        Active Directory (the `ldap_*` settings). `demo` (any password) overrides all of them. Env: HUNTHUB_AUTH.""",
    ).tag(config=True)

    @default("auth")
    def _default_auth(self):
        return "native"

    oauth_issuer = Unicode(
        help="""OpenID Connect issuer URL (auth = oidc), e.g. https://login.example.com/realms/soc. Its
        /.well-known/openid-configuration gives the endpoints. Env: HUNTHUB_OAUTH_ISSUER.""",
    ).tag(config=True)

    @default("oauth_issuer")
    def _default_oauth_issuer(self):
        return ""

    oauth_client_id = Unicode(help="OAuth client id registered with the provider. Env: HUNTHUB_OAUTH_CLIENT_ID.").tag(
        config=True
    )

    @default("oauth_client_id")
    def _default_oauth_client_id(self):
        return ""

    oauth_client_secret_file = Unicode(
        help="""File holding the OAuth client secret (one line; readable by the hub's account only, mode 0600 or
        0400). The environment variable HUNTHUB_OAUTH_CLIENT_SECRET may hold the secret itself instead; it is
        never a config value, so it never appears in config dumps or logs. Env: HUNTHUB_OAUTH_CLIENT_SECRET_FILE.""",
    ).tag(config=True)

    @default("oauth_client_secret_file")
    def _default_oauth_client_secret_file(self):
        return ""

    oauth_scopes = List(
        Unicode(),
        help="""Scopes to request. Default: openid profile email for oidc (add `groups` where the provider puts
        group membership behind that scope, as Okta does), read:user read:org for github, openid email for
        google.""",
    ).tag(config=True)

    oauth_username_claim = Unicode(
        "preferred_username",
        help="""Claim whose value becomes the hub user name (oidc). It is lower-cased and must then match
        `username_pattern`; a name that does not is refused with a page saying why, never altered silently
        (two people must never share an account).""",
    ).tag(config=True)

    oauth_groups_claim = Unicode(
        "groups", help="Claim listing the user's groups (oidc). They become hub groups at every login."
    ).tag(config=True)

    oauth_allowed_groups = List(
        Unicode(),
        help="""Groups whose members may log in. oidc: values of the groups claim; github: organisations or
        `org:team`. Empty: nobody but admins and `oauth_allowed_users`, unless `oauth_allow_all` is set.""",
    ).tag(config=True)

    oauth_admin_groups = List(
        Unicode(), help="Groups whose members are hub admins (oidc: groups claim; github: `org:team`)."
    ).tag(config=True)

    oauth_allowed_users = List(Unicode(), help="Hub user names allowed in besides the allowed groups.").tag(config=True)

    oauth_admin_users = List(Unicode(), help="Hub user names that are admins besides the admin groups.").tag(
        config=True
    )

    oauth_allow_all = Bool(
        False,
        help="""Let in everyone the provider signs in (for google: everyone in `oauth_google_domains`). Off by
        default: with an identity provider, who may log in is decided by groups.""",
    ).tag(config=True)

    oauth_google_domains = List(
        Unicode(),
        help="""Google Workspace domains whose accounts may log in (auth = google). With exactly one domain, user
        names are the address without the domain.""",
    ).tag(config=True)

    oauth_login_service = Unicode(
        help="Name on the login button, 'Sign in with ...'. Default: the provider's name or host."
    ).tag(config=True)

    oauth_logout_from_provider = Bool(
        True,
        help="""Logging out of the hub also ends the provider session, where the provider supports it (an OpenID
        Connect end_session_endpoint). Off: only the hub session ends.""",
    ).tag(config=True)

    oauth_refresh_age = Integer(
        300,
        help="""Seconds after which the hub checks the user's tokens with the provider again (refreshing an expired
        access token with the refresh token) before trusting them; also done before every server start.""",
    ).tag(config=True)

    oauth_verify_tls = Bool(True, help="Verify the provider's TLS certificate (only for test set-ups).").tag(
        config=True
    )

    # --- login with an LDAP directory / Active Directory (auth = ldap) ------------------------------

    ldap_server_url = Unicode(
        "",
        help="""The directory server, `ldaps://dc1.corp.example` (TLS from the first byte, port 636 by default) or
        `ldap://ldap.corp.example` (port 389, upgraded with StartTLS unless `ldap_starttls` is off). Env:
        HUNTHUB_LDAP_SERVER_URL.""",
    ).tag(config=True)

    ldap_starttls = Bool(
        True,
        help="""With an ldap:// URL, upgrade the connection with StartTLS before any password is sent. Off only for
        a directory on loopback: passwords would cross the network in clear.""",
    ).tag(config=True)

    ldap_ca_file = Unicode(
        "",
        help="""PEM file of the CA(s) that issued the directory server's certificate. Empty: the system's CAs. The
        certificate and its host name are always verified.""",
    ).tag(config=True)

    ldap_bind_dn_template = List(
        Unicode(),
        help="""Direct bind: the user's DN made from the name they type, e.g.
        ['uid={username},ou=people,dc=corp,dc=example'] (tried in order). Leave empty to look users up with
        `ldap_search_base` instead (search, then bind), which Active Directory needs.""",
    ).tag(config=True)

    ldap_search_base = Unicode(
        "",
        help="""Search then bind: where users are looked up by `ldap_user_attribute`, e.g.
        'ou=Users,dc=corp,dc=example'. The found entry's attribute value becomes the hub user name.""",
    ).tag(config=True)

    ldap_user_attribute = Unicode(
        "uid",
        help="The attribute holding the login name: `uid` (OpenLDAP), `sAMAccountName` (Active Directory).",
    ).tag(config=True)

    ldap_bind_dn = Unicode(
        "",
        help="""The read-only account that searches the directory (search then bind), e.g.
        'CN=svc-hunthub,OU=Service Accounts,DC=corp,DC=example'. Empty: anonymous searches.""",
    ).tag(config=True)

    ldap_bind_password_file = Unicode(
        "",
        help="""File holding the password of `ldap_bind_dn` (one line, readable by the hub's account only: mode
        0600 or 0400). Read when used, so it can be rotated without a restart; never a config value or an
        environment variable, so it is in no config dump or log. Env: HUNTHUB_LDAP_BIND_PASSWORD_FILE.""",
    ).tag(config=True)

    ldap_group_membership = Enum(
        ["member", "memberOf"],
        default_value="member",
        help="""How a user's groups are found. `member`: groups under `ldap_group_search_base` that list the user's
        DN as `member` or `uniqueMember` (OpenLDAP groupOfNames / groupOfUniqueNames). `memberOf`: the user
        entry's own `memberOf` values (Active Directory; OpenLDAP with the memberof overlay). A group's hub name is
        its `cn`.""",
    ).tag(config=True)

    ldap_group_search_base = Unicode(
        "",
        help="Where groups are searched with ldap_group_membership = member, e.g. 'ou=groups,dc=corp,dc=example'.",
    ).tag(config=True)

    ldap_allowed_groups = List(
        Unicode(),
        help="""Directory groups whose members may log in, by `cn` or full DN (compared without regard to case).
        Empty: nobody but the admin groups and `ldap_allowed_users`.""",
    ).tag(config=True)

    ldap_admin_groups = List(
        Unicode(), help="Directory groups (cn or DN) whose members are hub admins, decided again at every login."
    ).tag(config=True)

    ldap_allowed_users = List(Unicode(), help="Hub user names allowed in besides the allowed groups.").tag(config=True)

    ldap_admin_users = List(Unicode(), help="Hub user names that are admins besides the admin groups.").tag(config=True)

    ldap_timeout = Integer(
        10, help="Seconds to wait for the directory server to connect or answer before a login fails with a page."
    ).tag(config=True)

    spark_queues = Dict(
        Unicode(),
        help="""YARN queue per hub group, e.g. {'tier1': 'soc.tier1', 'dfir': 'soc.dfir'}: an analyst's sessions
        run in the queue of the first listed group they belong to. Set by the hub, not changeable from a
        notebook.""",
    ).tag(config=True)

    spark_default_queue = Unicode(
        help="YARN queue for analysts in none of `spark_queues`' groups. Empty: the cluster's default queue."
    ).tag(config=True)

    # --- Graphistry (graph visualisation server) --------------------------------------------------

    graphistry_server = Unicode(
        help="""Graphistry server as host[:port], e.g. graphistry.soc.example. Set: notebooks' `hunthub.graph.show`
        uploads graphs there (private to the organisation by default). Empty: graphs render offline in the
        notebook and nothing is ever sent anywhere. Env: HUNTHUB_GRAPHISTRY_SERVER.""",
    ).tag(config=True)

    @default("graphistry_server")
    def _default_graphistry_server(self):
        return ""

    graphistry_protocol = Enum(
        ["https", "http"],
        help="Protocol the kernels use to reach the Graphistry server. Env: HUNTHUB_GRAPHISTRY_PROTOCOL.",
    ).tag(config=True)

    @default("graphistry_protocol")
    def _default_graphistry_protocol(self):
        return "https"

    graphistry_client_url = Unicode(
        help="""Graphistry's URL as analysts' browsers reach it (when it differs from what the kernels use, e.g.
        behind a reverse proxy). Default: protocol://server. Env: HUNTHUB_GRAPHISTRY_CLIENT_URL.""",
    ).tag(config=True)

    @default("graphistry_client_url")
    def _default_graphistry_client_url(self):
        return ""

    graphistry_personal_key_id = Unicode(
        help="""Organisation personal key id every analyst uploads with (its secret in
        `graphistry_personal_key_secret_file`). For per-analyst keys use `graphistry_keys_dir` instead.""",
    ).tag(config=True)

    graphistry_personal_key_secret_file = Unicode(
        help="File (mode 0600) holding the organisation personal key's secret."
    ).tag(config=True)

    graphistry_keys_dir = Unicode(
        help="""Directory of per-analyst keys, `<hub user>.json` = {"personal_key_id": ..., "personal_key_secret":
        ...} (files 0600). An analyst's own key wins over the organisation key.""",
    ).tag(config=True)

    graphistry_privacy = Enum(
        ["organization", "private", "public"],
        "organization",
        help="Who may open an uploaded graph: the organisation (default), only the analyst, or anyone with the link.",
    ).tag(config=True)

    graphistry_timeout = Integer(
        10, help="Seconds any single request to the Graphistry server may take (login, upload, probe)."
    ).tag(config=True)

    @property
    def graphistry_url(self) -> str:
        return f"{self.graphistry_protocol}://{self.graphistry_server}" if self.graphistry_server else ""

    # --- per-analyst containers (spawner = docker) --------------------------------------------------

    spawner = Enum(
        ["local", "docker"],
        help="""Where analysts' servers run. `local`: processes on this machine, one OS account each (as root).
        `docker`: one container each (`hunthub-docker`), with Spark's master and workers as containers too; build
        the images first with `hunthub images build`. Env: HUNTHUB_SPAWNER.""",
    ).tag(config=True)

    @default("spawner")
    def _default_spawner(self):
        return "local"

    docker_prefix = Unicode(
        help="""Name prefix of every container, network and volume hunthub creates (several hunthub installs, or
        test runs, can share one Docker engine). Env: HUNTHUB_DOCKER_PREFIX.""",
    ).tag(config=True)

    @default("docker_prefix")
    def _default_docker_prefix(self):
        return "hunthub"

    docker_image_tag = Unicode(help="Tag of hunthub's images (default: this hunthub's version).").tag(config=True)

    @default("docker_image_tag")
    def _default_docker_image_tag(self):
        from hunthub import __version__

        return __version__

    docker_workers = Integer(
        2,
        help="""Spark worker containers `hunthub up --spawner docker` starts (standing in for worker hosts) when
        analysts' tasks run on the cluster (`analyst_tasks` = `cluster`); none otherwise.""",
    ).tag(config=True)

    docker_worker_cores = Integer(
        help="""Cores each Spark worker container offers. Default: this machine's cores, so the workers together
        offer twice as many executor slots as there are cores, as the embedded cluster does (interactive sessions
        are idle most of the time)."""
    ).tag(config=True)

    @default("docker_worker_cores")
    def _default_docker_worker_cores(self):
        return machine_cores()

    docker_worker_memory = Unicode("1g", help="Memory each Spark worker container offers to executors.").tag(
        config=True
    )

    analyst_memory_limit = Unicode(
        "4G",
        help="""Memory one analyst's server may use with everything it starts (kernels, Spark drivers and their
        tasks, Python workers), page cache included: their container's limit with the docker spawner, a cgroup of
        their own with the local one as root (hunthub.analyst_limits). Past it the kernel's OOM killer stops the
        biggest process of the analyst (usually a driver), never another analyst's. A driver with its tasks needs
        `executor_memory` of heap plus some 300 MB; leave room for a second kernel. Empty: no limit.""",
    ).tag(config=True)

    analyst_cpu_limit = Float(
        help="""Cores one analyst's server may use at once, with everything it starts (container limit or cgroup,
        as analyst_memory_limit). Default: `analyst_cores`, the task threads a session gets. 0: no limit."""
    ).tag(config=True)

    @default("analyst_cpu_limit")
    def _default_analyst_cpu_limit(self):
        return float(self.analyst_cores)

    analyst_pids_limit = Integer(
        2048,
        help="""Processes and threads one analyst's server may run at once with everything it starts (fork bombs
        stop there). A Spark driver JVM alone runs 100-200 threads. 0: no limit.""",
    ).tag(config=True)

    # the names these had while only the docker spawner enforced them
    docker_mem_limit = Unicode(help="Deprecated: analyst_memory_limit.").tag(config=True)
    docker_cpu_limit = Float(help="Deprecated: analyst_cpu_limit.").tag(config=True)
    docker_pids_limit = Integer(help="Deprecated: analyst_pids_limit.").tag(config=True)

    @observe("docker_mem_limit", "docker_cpu_limit", "docker_pids_limit")
    def _deprecated_docker_limit(self, change):
        new = {"docker_mem_limit": "analyst_memory_limit"}.get(change.name, change.name.replace("docker", "analyst"))
        warnings.warn(f"HuntHub.{change.name} is deprecated: use HuntHub.{new}", DeprecationWarning, stacklevel=2)
        setattr(self, new, change.new)

    @property
    def analyst_image(self) -> str:
        return f"hunthub-analyst:{self.docker_image_tag}"

    @property
    def spark_image(self) -> str:
        return f"hunthub-spark:{self.docker_image_tag}"

    # --- Spark -----------------------------------------------------------------------------------

    spark_master = Unicode(
        help="""Cluster the kernels attach to. Empty: `hunthub up` runs an embedded standalone cluster on
        loopback. `spark://host:7077` or `yarn`: an external cluster, and no local one is started.
        Env: HUNTHUB_SPARK_MASTER."""
    ).tag(config=True)

    @default("spark_master")
    def _default_spark_master(self):
        return ""

    spark_master_port = Integer(help="Embedded cluster: master RPC port. Env: HUNTHUB_SPARK_MASTER_PORT.").tag(
        config=True
    )

    @default("spark_master_port")
    def _default_spark_master_port(self):
        return 7077

    spark_master_webui_port = Integer(
        help="Embedded cluster: master web UI port. Env: HUNTHUB_SPARK_MASTER_WEBUI_PORT."
    ).tag(config=True)

    @default("spark_master_webui_port")
    def _default_spark_master_webui_port(self):
        return 8090

    spark_worker_webui_port = Integer(
        help="Embedded cluster: worker web UI port. Env: HUNTHUB_SPARK_WORKER_WEBUI_PORT."
    ).tag(config=True)

    @default("spark_worker_webui_port")
    def _default_spark_worker_webui_port(self):
        return self.spark_master_webui_port + 1

    worker_cores = Integer(
        help="""Embedded cluster: executor cores (scheduling slots) the worker offers. Default: twice the machine's
        cores, because interactive analysts' executors are idle most of the time and every analyst's server keeps
        one warm driver registered; without slack the next analyst's session would wait for cores.
        Env: HUNTHUB_WORKER_CORES."""
    ).tag(config=True)

    @default("worker_cores")
    def _default_worker_cores(self):
        return 2 * machine_cores()

    worker_memory_mb = Integer(
        help="""Embedded cluster: memory the worker offers to executors. Default: 40% of the machine's memory,
        leaving room for the hub, analysts' servers and their drivers. Env: HUNTHUB_WORKER_MEMORY_MB."""
    ).tag(config=True)

    @default("worker_memory_mb")
    def _default_worker_memory_mb(self):
        return max(1024, machine_memory_mb() * 2 // 5)

    analyst_tasks = Enum(
        ["driver", "cluster"],
        help="""Where an analyst's Spark tasks (their queries, their UDFs) run.
        `driver`: inside the analyst's own driver JVM (Spark's local mode, `analyst_cores` task threads), under the
        analyst's own OS account, or in their own container with the docker spawner: no other analyst's code runs
        beside it, so what one analyst's tasks write (scratch results, shuffle and spill files) no other analyst's
        code can read, and no executor JVM has to start before a first query. With the docker spawner no Spark
        containers start at all: the container's limits are the analyst's whole share.
        `cluster`: on the cluster's executors. Its cores are shared out between analysts (dynamic allocation, a
        waiting line on a full cluster, idle sessions yielding), but a standalone cluster runs every application's
        executors under its own account (the embedded worker as `hunthub-spark`), so analysts' tasks can read
        what each other's write (with the docker spawner: the shared worker containers); YARN with Kerberos runs
        them as the analyst.
        Default: `driver` with the embedded cluster (local processes or containers), else `cluster`. `hunthub
        ingest` always runs on the cluster. Env: HUNTHUB_ANALYST_TASKS.""",
    ).tag(config=True)

    @default("analyst_tasks")
    def _default_analyst_tasks(self):
        return "driver" if self.embedded_cluster else "cluster"

    analyst_cores = Integer(
        help="""Cores one analyst's session may use: its task threads in its own driver (`analyst_tasks` =
        `driver`), or the executor cores it may hold on the cluster (spark.cores.max; standalone Spark gives an
        application every free core by default, which would leave the next analyst waiting). The default is half
        the machine's cores. Env: HUNTHUB_ANALYST_CORES."""
    ).tag(config=True)

    @default("analyst_cores")
    def _default_analyst_cores(self):
        return max(1, machine_cores() // 2)

    executor_memory = Unicode(help="spark.executor.memory for analysts' sessions. Env: HUNTHUB_EXECUTOR_MEMORY.").tag(
        config=True
    )

    @default("executor_memory")
    def _default_executor_memory(self):
        return "1g"

    driver_memory = Unicode(help="spark.driver.memory of analysts' drivers. Env: HUNTHUB_DRIVER_MEMORY.").tag(
        config=True
    )

    @default("driver_memory")
    def _default_driver_memory(self):
        return "1g"

    ingest_memory = Unicode(
        help="""spark.driver.memory of `hunthub ingest ... --master 'local[N]'`, where the driver does the whole
        ingest (parsing, the duplicate check, writing Parquet) on N cores. An analyst's 1 GB driver spent much of
        such a run collecting garbage: 10^6 JSON lines took 137 s with it, 84 s with 6 GB (benchmarks/README.md).
        Default: a quarter of the machine's memory, at least 1g and at most 8g. Ingest on a cluster is sized by
        its executors (`executor_memory`, `analyst_cores`). Env: HUNTHUB_INGEST_MEMORY."""
    ).tag(config=True)

    @default("ingest_memory")
    def _default_ingest_memory(self):
        return f"{min(8192, max(1024, machine_memory_mb() // 4))}m"

    warm_driver = Bool(
        help="""Keep one pre-started Spark driver ready in each analyst's server, which the next PySpark kernel
        adopts: its first query answers in seconds instead of waiting for a driver start. Only for analysts whose
        earlier kernels used Spark, only while they have no live session, and started `warm_driver_delay` s after
        their server. While waiting it holds no executor cores (with dynamic_allocation) and memory: 469 MB PSS
        for its Python host and JVM on the embedded default (benchmarks/bench_many_analysts.py), a bare driver JVM
        about 290 MB (benchmarks/bench_driver_jvm.py). Env: HUNTHUB_WARM_DRIVER (0 to disable)."""
    ).tag(config=True)

    @default("warm_driver")
    def _default_warm_driver(self):
        return True

    warm_driver_ttl = Integer(
        help="Seconds an unclaimed warm driver waits for a kernel before giving its cores back. "
        "Env: HUNTHUB_WARM_DRIVER_TTL."
    ).tag(config=True)

    @default("warm_driver_ttl")
    def _default_warm_driver_ttl(self):
        return 3600

    spark_conf = Dict(
        help="Extra Spark properties for every analyst session, e.g. {'spark.sql.shuffle.partitions': '8'}."
    ).tag(config=True)

    # --- sharing one cluster among many analysts --------------------------------------------------

    dynamic_allocation = Bool(
        True,
        help="""Executors follow work: analysts' sessions ask for executors when a job needs them and give them
        back when idle (Spark dynamic allocation with shuffle tracking, no external shuffle service needed), so an
        idle kernel or an unclaimed warm driver holds no executor cores. `analyst_cores` still caps each session.
        Off: a session keeps its executors as long as it lives.""",
    ).tag(config=True)

    executor_idle_timeout = Integer(
        30,
        help="""Seconds an executor without tasks (and without cached data or shuffle files still needed) stays
        before its cores go back to the cluster (spark.dynamicAllocation.executorIdleTimeout).""",
    ).tag(config=True)

    cached_executor_idle_timeout = Integer(
        600,
        help="""Seconds an idle executor holding cached data (df.cache()) stays: longer, because an analyst who
        cached a table is likely to query it again (spark.dynamicAllocation.cachedExecutorIdleTimeout).""",
    ).tag(config=True)

    shuffle_idle_timeout = Integer(
        60,
        help="""Seconds an idle executor holding shuffle files of the session's past jobs stays
        (spark.dynamicAllocation.shuffleTracking.timeout). Spark's default never lets it go while the driver
        still references the shuffle; a later job that needs those files recomputes them.""",
    ).tag(config=True)

    executor_yield_timeout = Integer(
        10,
        help="""Seconds after its last job an idle session gives its executors back at once when another
        application waits for cores, instead of holding them until the idle timeouts above (embedded cluster; see
        hunthub/kernels/core_yield.py). Sessions with cached data never yield. 0: never yield early.""",
    ).tag(config=True)

    jvm_start_slots = Integer(
        help="""Driver JVMs (kernels' and warm drivers') that may start at the same time on this host; the rest
        wait their turn and say so. A burst of JVM starts on a small machine slows every one of them down.
        Default: the machine's cores. Env: HUNTHUB_JVM_START_SLOTS.""",
    ).tag(config=True)

    @default("jvm_start_slots")
    def _default_jvm_start_slots(self):
        return machine_cores()

    warm_driver_delay = Integer(
        30,
        help="""Seconds after an analyst's server starts before it starts their warm driver, so a burst of logins is
        not a burst of JVM starts. Warm drivers are only kept for analysts whose earlier sessions used Spark, and
        only while they have no live Spark session of their own.""",
    ).tag(config=True)

    cull_idle_timeout = Integer(
        3600,
        help="""Seconds without activity after which an analyst's server is stopped by the idle culler
        (jupyterhub-idle-culler, a hub service), giving back its memory and Spark resources. A server whose kernel
        is running a cell or a Spark job counts as active. 0: never cull.""",
    ).tag(config=True)

    cull_every = Integer(
        help="Seconds between two rounds of the idle culler. Default: a tenth of `cull_idle_timeout`, at least 10."
    ).tag(config=True)

    @default("cull_every")
    def _default_cull_every(self):
        return max(10, self.cull_idle_timeout // 10)

    activity_interval = Integer(
        300,
        help="""Seconds between two activity reports of an analyst's server to the hub (JupyterHub's
        JUPYTERHUB_ACTIVITY_INTERVAL), and between two rounds of the hub's own activity bookkeeping
        (JupyterHub.last_activity_interval). The idle culler sees activity at most this late, so
        `cull_idle_timeout` must be well above it. For tests and tuning; the default is JupyterHub's.""",
    ).tag(config=True)

    kernel_cull_idle_timeout = Integer(
        3600,
        help="""Seconds after which an analyst's server shuts down one of its kernels that has been idle (no cell
        running, no Spark job running), giving back its driver's memory. A kernel running a cell or a Spark job is
        never culled. 0: never.""",
    ).tag(config=True)

    concurrent_spawn_limit = Integer(
        help="""Servers that may be starting at the same time; analysts beyond it are asked to try again in a few
        seconds. Default: sized from the machine (4 per core, at least 8).""",
    ).tag(config=True)

    @default("concurrent_spawn_limit")
    def _default_concurrent_spawn_limit(self):
        return max(8, 4 * machine_cores())

    active_server_limit = Integer(
        help="""Analysts' servers that may run at the same time; the next analyst is told the hub is full. Default:
        sized from the machine's memory, about 300 MB per server. 0: no limit.""",
    ).tag(config=True)

    @default("active_server_limit")
    def _default_active_server_limit(self):
        return max(10, machine_memory_mb() // 300)

    status_port = Integer(
        help="""Loopback port of the `hunthub-status` hub service: the admins' page of who holds what (servers,
        kernels, Spark applications, cores, memory) at /services/hunthub-status/. Default: the hub API port + 2.
        Env: HUNTHUB_STATUS_PORT.""",
    ).tag(config=True)

    @default("status_port")
    def _default_status_port(self):
        return self.hub_port + 2

    sql_row_limit = Integer(
        help="Rows the Spark SQL kernel shows per result before it says the result was truncated. "
        "Env: HUNTHUB_SQL_ROW_LIMIT."
    ).tag(config=True)

    @default("sql_row_limit")
    def _default_sql_row_limit(self):
        return 1000

    # --- remote clusters with Apache Livy ---------------------------------------------------------

    livy_url = Unicode(
        help="""Apache Livy REST endpoint of a remote cluster (EMR, HDInsight, Cloudera), e.g.
        https://livy.soc.example:8998. Set: analysts get sparkmagic's PySpark and Scala kernels, which reach
        Livy only through hunthub's Livy gateway (a hub service that holds the credentials and makes every
        session run as the analyst's hub user via proxyUser). Empty: no Livy kernels. Env: HUNTHUB_LIVY_URL."""
    ).tag(config=True)

    @default("livy_url")
    def _default_livy_url(self):
        return ""

    @validate("livy_url")
    def _livy_url_is_http(self, proposal):
        return _checked_livy_url(proposal["value"])

    livy_credentials_file = Unicode(
        help="""File with the HTTP basic-auth credentials the Livy gateway uses, one line `user:password`.
        Must be readable by the hub's account only (mode 0600); analysts never see it. Empty: no basic auth.
        Env: HUNTHUB_LIVY_CREDENTIALS_FILE."""
    ).tag(config=True)

    @default("livy_credentials_file")
    def _default_livy_credentials_file(self):
        return ""

    livy_ca_file = Unicode(
        help="""CA bundle (PEM) the gateway verifies Livy's TLS certificate with. Empty: the system's CAs.
        Env: HUNTHUB_LIVY_CA_FILE."""
    ).tag(config=True)

    @default("livy_ca_file")
    def _default_livy_ca_file(self):
        return ""

    livy_verify = Bool(
        help="""Verify Livy's TLS certificate. Turn off only for a test cluster with a self-signed
        certificate, and prefer livy_ca_file. Env: HUNTHUB_LIVY_VERIFY (0 to disable)."""
    ).tag(config=True)

    @default("livy_verify")
    def _default_livy_verify(self):
        return True

    livy_gateway_port = Integer(help="Loopback port of the Livy gateway service. Env: HUNTHUB_LIVY_GATEWAY_PORT.").tag(
        config=True
    )

    @default("livy_gateway_port")
    def _default_livy_gateway_port(self):
        return self.hub_port + 1

    livy_timeout = Integer(
        help="Seconds the gateway waits for Livy to answer one request. Env: HUNTHUB_LIVY_TIMEOUT."
    ).tag(config=True)

    @default("livy_timeout")
    def _default_livy_timeout(self):
        return 30

    livy_session_idle_timeout = Integer(
        help="""Seconds after the last request from its kernel when the gateway deletes a Livy session.
        A running sparkmagic kernel polls its session every 30 s, so only sessions of kernels that died
        without cleaning up (closed laptop, killed server) are reaped. 0: never.
        Env: HUNTHUB_LIVY_SESSION_IDLE_TIMEOUT."""
    ).tag(config=True)

    @default("livy_session_idle_timeout")
    def _default_livy_session_idle_timeout(self):
        return 600

    # --- data ------------------------------------------------------------------------------------

    warehouse = Unicode(
        help="""Root URI of the Parquet warehouse: file:// (default, in the state dir) or hdfs://namenode/path.
        Env: HUNTHUB_WAREHOUSE."""
    ).tag(config=True)

    @default("warehouse")
    def _default_warehouse(self):
        return Path(self.state_dir, "warehouse").as_uri()

    catalog_path = Unicode(
        help="""The dataset catalog (JSON: table name -> Parquet location) every kernel registers at start.
        Env: HUNTHUB_CATALOG."""
    ).tag(config=True)

    @default("catalog_path")
    def _default_catalog_path(self):
        return str(Path(self.state_dir, "catalog.json"))

    demo_data_events = Integer(
        help="""Events (rows over auth_events, process_events and the Zeek logs) in the synthetic dataset written on
        first `hunthub up`, at least 5,000; 0: none. `hunthub data generate --events N` writes other sizes."""
    ).tag(config=True)

    @default("demo_data_events")
    def _default_demo_data_events(self):
        return 50000

    kafka_bootstrap_servers = Unicode(
        help="""Kafka brokers `hunthub ingest stream --source kafka` reads from, host:port[,host:port].
        Needs Spark's Kafka connector (see the README). Env: HUNTHUB_KAFKA_BOOTSTRAP_SERVERS."""
    ).tag(config=True)

    @default("kafka_bootstrap_servers")
    def _default_kafka_bootstrap_servers(self):
        return ""

    kafka_topic = Unicode(help="Kafka topic of `hunthub ingest stream --source kafka`. Env: HUNTHUB_KAFKA_TOPIC.").tag(
        config=True
    )

    @default("kafka_topic")
    def _default_kafka_topic(self):
        return ""

    kafka_options = Dict(
        help="""Extra options of the Kafka source, e.g. {'kafka.security.protocol': 'SASL_SSL',
        'kafka.sasl.mechanism': 'PLAIN', 'maxOffsetsPerTrigger': '100000'}."""
    ).tag(config=True)

    # --- where things are -----------------------------------------------------------------------

    proxy_command = Unicode(
        help="""configurable-http-proxy executable. Default: the one `hunthub up` installs from npm into the
        project (node_modules/.bin), else the first on PATH. Env: HUNTHUB_PROXY_COMMAND."""
    ).tag(config=True)

    @default("proxy_command")
    def _default_proxy_command(self):
        from hunthub import paths

        return paths.find_proxy_command()

    # --- derived paths (not configurable: one layout per state dir) ------------------------------

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def hub_dir(self) -> Path:
        return self.state / "hub"

    @property
    def homes_dir(self) -> Path:
        return self.state / "homes"

    @property
    def spark_dir(self) -> Path:
        return self.state / "spark"

    @property
    def log_dir(self) -> Path:
        return self.state / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state / "run"

    @property
    def admin_password_file(self) -> Path:
        return self.hub_dir / "admin-password"

    @property
    def embedded_cluster(self) -> bool:
        return not self.spark_master

    @property
    def master_url(self) -> str:
        """The URL kernels attach to."""
        return self.spark_master or f"spark://127.0.0.1:{self.spark_master_port}"

    @property
    def livy_dir(self) -> Path:
        """Files the hub writes for the Livy kernels (the sparkmagic config every analyst's kernel reads)."""
        return self.state / "livy"

    @property
    def livy_gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.livy_gateway_port}"

    @property
    def serves_tls(self) -> bool:
        """Whether the hub's public proxy itself speaks HTTPS (a certificate, or a trial's self-signed one)."""
        return bool(self.ssl_cert) or self.ssl_self_signed

    @property
    def scheme(self) -> str:
        return "https" if self.serves_tls else "http"

    @property
    def local_url(self) -> str:
        """Where processes on this host reach the hub's public proxy (readiness checks, `hunthub status`)."""
        host = "127.0.0.1" if self.ip in {"0.0.0.0", "", "::"} else self.ip
        return f"{self.scheme}://{host}:{self.port}/"

    @property
    def tls_dir(self) -> Path:
        """Where a trial's self-signed certificate is kept (ssl_self_signed)."""
        return self.hub_dir / "tls"


def config_files() -> list[Path]:
    files = [Path(SYSTEM_CONFIG)]
    if os.environ.get("HUNTHUB_CONFIG"):
        files.append(Path(os.environ["HUNTHUB_CONFIG"]))
    return [f for f in files if f.is_file()]


def load_config(files: list[Path] | None = None, environ=None, flags: Config | None = None) -> Config:
    """The HUNTHUB_* environment (environment_config), then each config file over it, then the command line's
    flags over everything."""
    cfg = environment_config(environ)
    for f in config_files() if files is None else files:
        cfg.merge(PyFileConfigLoader(f.name, path=str(f.parent)).load_config())
    if flags is not None:
        cfg.merge(flags)
    return cfg


# The one variable `hunthub up` sets for the hub it starts: the path of the settings it resolved (resolved_file).
RESOLVED_VARIABLE = "HUNTHUB_RESOLVED_SETTINGS"


def write_resolved(s: HuntHub) -> Path:
    """Every setting's value as `hunthub up` resolved it, for the hub process it starts (load reads it back): the
    hub then runs with exactly these, not with its own reading of the environment and files. 0600: a database
    URL may hold a password."""
    from hunthub import atomic_file

    values = {
        name: getattr(s, name)
        for name, trait in HuntHub.class_traits(config=True).items()
        if not (trait.help or "").startswith("Deprecated")  # their values already live in the new settings
    }
    s.run_dir.mkdir(parents=True, exist_ok=True)
    path = s.run_dir / "resolved-settings.json"
    atomic_file.write_json(path, {"HuntHub": values}, mode=0o600, indent=1, sort_keys=True)
    return path


def load(config: Config | None = None, environ=None) -> HuntHub:
    """The effective settings: the given Config; else, in a hub started by `hunthub up`, the settings it resolved;
    else defaults, environment, then config files."""
    environ = os.environ if environ is None else environ
    if config is None and environ.get(RESOLVED_VARIABLE):
        import json

        with open(environ[RESOLVED_VARIABLE]) as f:
            config = Config(json.load(f))
    return HuntHub(config=load_config(environ=environ) if config is None else config)

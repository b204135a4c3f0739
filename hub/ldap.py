"""Login with an LDAP directory or Active Directory: `HuntHubLDAPAuthenticator` (entry point `hunthub-ldap`).

A thin subclass of jupyterhub-ldapauthenticator's LDAPAuthenticator, which checks the password (direct bind from a
DN template, or search with a read-only account then bind) and escapes what the user types in DNs and filters.
hunthub adds what the OpenID Connect login already does (hunthub.hub.oauth), so both behave alike (and refuse
in the same words, hunthub.hub.refusals):
- the name the directory returns is lower-cased and must pass hunthub's rules (hunthub.hub.usernames); a name the
  hub cannot use (dots, a cluster service account...) is refused with a page saying why, never altered;
- the user's directory groups (`member` of groups, or the user's `memberOf`) become hub groups at every login, so
  `HuntHub.spark_queues` picks their Spark queue as for OIDC; who may log in and who is admin come from those
  groups, decided again at every login (a stale admin flag is never inherited);
- a refused login says why: outside the allowed groups, a locked, disabled or expired account, a directory that
  does not answer. A wrong password or unknown user gets the login page's usual "Invalid username or password",
  which tells a guesser nothing.

Locked accounts. OpenLDAP: the `ppolicy` overlay (built into Debian's slapd 2.5 as a module) locks an account
with `pwdAccountLockedTime` (`000001010000Z`: until an admin unlocks it), after too many failures or by hand.
Every bind of it fails as invalidCredentials; a client that sends the password policy request control hears
the reason (slapd needs `ppolicy_use_lockout` for that), so every bind here sends it. Active Directory says why in
the bind error's diagnostic text ("... data 775" locked, 533 disabled, 532 password expired ...). Both become a
page saying what happened and whom to ask. Note that the directory reports a lock whatever the password: whoever
types a locked account's name learns that it is locked, as they would from the directory itself.

LDAP attribute values such as `uid` and `sAMAccountName` match without regard to case, so two directory accounts
never differ only in case: lower-casing cannot merge two people into one hub name (the OIDC login needs
SubjectBindings for that; this one does not).
"""

from __future__ import annotations

import re
import ssl
import stat
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn
from ldapauthenticator import LDAPAuthenticator
from ldapauthenticator.ldapauthenticator import TlsStrategy
from tornado import web
from traitlets import Enum, Integer, Set, Unicode, default

from hunthub.hub import refusals
from hunthub.hub.usernames import UsernameRules

# RFC draft behera-ldap-password-policy: sent with every bind, answered with why a bind failed (OpenLDAP ppolicy)
PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
PPOLICY_ERRORS = {
    0: "its password has expired",
    1: "it is locked (too many failed logins, or locked by an administrator)",
    2: "its password was reset and must be changed first",
}
# Active Directory's reasons, the hex code after "data" in a failed bind's diagnostic message
AD_ERRORS = {
    "530": "it may not log in at this time of day",
    "531": "it may not log in from this machine",
    "532": "its password has expired",
    "533": "it is disabled",
    "701": "it has expired",
    "773": "its password was reset and must be changed first",
    "775": "it is locked (too many failed logins, or locked by an administrator)",
}
# where the user's groups travel from get_user_attributes to authenticate (removed from auth_state there)
_GROUPS_KEY = "_hunthub_group_dns"


class PasswordFileError(ValueError):
    """The password file cannot be used; the message says which file and what to do."""


def read_password_file(path: str | Path, what: str = "the LDAP search account's password") -> str:
    """The first line of `path`, which must be a regular file no other account can read (mode 0600 or 0400)."""
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise PasswordFileError(f"{path} should hold {what} but is not a file")
        if st.st_mode & 0o077:
            raise PasswordFileError(
                f"{path} holds {what} but other accounts can read it (mode {stat.S_IMODE(st.st_mode):o}): chmod 600 it"
            )
        text = path.read_text()
    except OSError as e:
        raise PasswordFileError(f"cannot read {path} ({what}): {e.strerror}") from e
    password = text.splitlines()[0] if text.strip() else ""
    if not password:
        raise PasswordFileError(f"{path} should hold {what} but is empty")
    return password


def ppolicy_error(control_value: bytes | None) -> int | None:
    """The `error` of a password policy response control (BER: SEQUENCE { [0] warning OPTIONAL, [1] ENUMERATED
    error OPTIONAL }), or None. Small enough to read by hand; a value it does not understand counts as none."""
    if not control_value or len(control_value) < 2 or control_value[0] != 0x30:
        return None
    i, end = 2, min(len(control_value), 2 + control_value[1])
    while i + 1 < end:
        tag, length = control_value[i], control_value[i + 1]
        if tag == 0x81 and length >= 1 and i + 2 + length <= end:
            return int.from_bytes(control_value[i + 2 : i + 2 + length], "big")
        i += 2 + length
    return None


def bind_refusal(result: dict) -> str | None:
    """Why the directory refused a bind, when it says more than "wrong password": the password policy control's
    error (OpenLDAP) or Active Directory's data code. None for a plain failure."""
    control = (result.get("controls") or {}).get(PPOLICY_OID) or {}
    code = ppolicy_error(control.get("value"))
    if code in PPOLICY_ERRORS:
        return PPOLICY_ERRORS[code]
    m = re.search(r"\bdata ([0-9a-fA-F]{3,4})\b", result.get("message") or "")
    return AD_ERRORS.get(m.group(1).lower()) if m else None


def _close(conn) -> None:
    """Close a connection that failed, whose socket may already be gone."""
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass


def probe(url: str, starttls: bool = True, ca_file: str = "", timeout: float = 5) -> str | None:
    """None when the directory at `url` answers with TLS as hunthub would use it (certificate verified), else why
    not. No bind: `hunthub doctor` checks the way to the directory, not anyone's password."""
    m = re.match(r"^(ldaps?)://(\[[^\]]+\]|[^/:]+)(?::(\d+))?/?$", url)
    if not m:
        return f"{url!r} is not an ldap:// or ldaps:// URL"
    scheme, host, port = m[1], m[2].strip("[]"), int(m[3] or (636 if m[1] == "ldaps" else 389))
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file or None)
    server = ldap3.Server(host, port=port, use_ssl=scheme == "ldaps", tls=tls, connect_timeout=timeout)
    conn = ldap3.Connection(server, receive_timeout=timeout)
    try:
        conn.open()
        if scheme == "ldap" and starttls and not conn.start_tls():
            return f"StartTLS refused ({conn.result.get('description')})"
    except LDAPException as e:
        return str(e)
    finally:
        _close(conn)
    return None


def group_name(dn: str) -> str:
    """A group's hub name: the value of its DN's first part (`cn=hunters,ou=groups,...` is `hunters`)."""
    try:
        value = parse_dn(dn, escape=False)[0][1]
    except (LDAPException, IndexError):
        return dn
    # undo RFC 4514 escapes (`\,` and `\c3\a9`): the hub name is the group's name as people write it
    out, i = bytearray(), 0
    while i < len(value):
        if value[i] == "\\" and re.fullmatch(r"[0-9a-fA-F]{2}", value[i + 1 : i + 3]):
            out.append(int(value[i + 1 : i + 3], 16))
            i += 3
        elif value[i] == "\\" and i + 1 < len(value):
            out += value[i + 1].encode()
            i += 2
        else:
            out += value[i].encode()
            i += 1
    return out.decode(errors="replace")


class HuntHubLDAPAuthenticator(UsernameRules, LDAPAuthenticator):
    """jupyterhub-ldapauthenticator, with hunthub's name rules, group-based access, admins and clear refusals."""

    lookup_dn_search_password_file = Unicode(
        config=True,
        help="""File holding the search account's password (mode 0600), read at each use so that a rotated
        password needs no restart. Takes the place of lookup_dn_search_password, which would sit in the config.""",
    )
    group_membership = Enum(
        ["member", "memberOf"],
        "member",
        config=True,
        help="""How the user's groups are found: `member` (groups under group_search_base naming the user's DN) or
        `memberOf` (the user entry's own values).""",
    )
    group_search_base = Unicode(config=True, help="Where groups are searched with group_membership = member.")
    login_groups = Set(
        Unicode(),
        config=True,
        help="""Groups (cn or DN, without regard to case) whose members may log in. Not upstream's allowed_groups,
        which checks DNs one by one and gives no hub groups.""",
    )
    admin_groups = Set(Unicode(), config=True, help="Groups (cn or DN) whose members are admins, at every login.")
    timeout = Integer(10, config=True, help="Seconds to wait for the directory server to connect or answer.")

    @default("valid_username_regex")
    def _any_typed_name(self):
        # upstream refuses anything but lower-case names before asking the directory, with the generic "Invalid
        # username or password". It escapes what is typed in DNs and filters since 2.0, so that guard is no longer
        # needed; hunthub checks the name the directory returns instead, after the password, and says what is wrong.
        return r"^[^\x00]{1,256}$"

    # -- the connection: timeouts, TLS as configured, the password policy control, refusals that say why -----------

    def get_connection(self, userdn, password):
        """A connection bound as `userdn`, or None when the directory refuses the password.

        Raises a 403 page when the directory says why it refused (locked, disabled, expired), and a 503 page when it
        cannot be reached or refuses hunthub's own search account: never a bare 500."""
        server = ldap3.Server(
            self.server_address,
            port=self.server_port,
            use_ssl=self.tls_strategy == TlsStrategy.on_connect,
            tls=ldap3.Tls(**self.tls_kwargs),
            connect_timeout=self.timeout,
        )
        conn = ldap3.Connection(server, user=userdn, password=password, receive_timeout=self.timeout)
        try:
            conn.open()
            if self.tls_strategy == TlsStrategy.before_bind and not conn.start_tls():
                raise LDAPException(f"StartTLS refused: {conn.result.get('description')}")
            bound = conn.bind(controls=[(PPOLICY_OID, False, None)])
        except LDAPException as e:
            self.log.error("The directory %s:%s cannot be reached: %s", self.server_address, self.server_port, e)
            _close(conn)
            raise refusals.hub_fault(
                "hunthub cannot reach the directory server to check your password", retry=True
            ) from e
        refusal = bind_refusal(conn.result)
        if bound and refusal is None:
            return conn
        _close(conn)
        is_search_account = self.lookup_dn and userdn == self.lookup_dn_search_user
        if is_search_account:
            self.log.error(
                "The directory refuses hunthub's search account %s: %s %s", userdn, conn.result.get("description"),
                refusal or conn.result.get("message") or "",
            )  # fmt: skip
            raise refusals.hub_fault(
                "hunthub cannot search the directory (its own account is refused), so nobody can log in"
            )
        if refusal:
            self.log.warning("Refused login of %s: the directory says %s", userdn, refusal)
            raise web.HTTPError(
                403,
                f"The directory refused your account: {refusal}. Ask your directory or hunthub admin to sort it out.",
            )
        return None

    def resolve_username(self, username_supplied_by_user):
        """Upstream's search for the user's DN, with the search account's password read from its file now."""
        if self.lookup_dn_search_password_file:
            try:
                self.lookup_dn_search_password = read_password_file(self.lookup_dn_search_password_file)
            except PasswordFileError as e:
                self.log.error("Cannot search the directory: %s", e)
                raise refusals.hub_fault(
                    "hunthub cannot search the directory (its own account's password cannot be read), so nobody can "
                    "log in"
                ) from e
        return super().resolve_username(username_supplied_by_user)

    # -- groups -------------------------------------------------------------------------------------------------------

    def get_user_attributes(self, conn, userdn):
        """Upstream's attributes for auth_state, and the user's groups: called with the user's own bound connection
        right after the password was accepted, so the groups are read with the user's rights, as upstream does."""
        attributes = super().get_user_attributes(conn, userdn)
        return {**attributes, _GROUPS_KEY: self.group_dns(conn, userdn)}

    def group_dns(self, conn, userdn: str) -> list[str]:
        """DNs of the groups `userdn` belongs to (direct membership)."""
        try:
            if self.group_membership == "memberOf":
                conn.search(userdn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["memberOf"])
                values = conn.entries[0].entry_attributes_as_dict.get("memberOf", []) if conn.entries else []
                return [str(v) for v in values]
            dn = escape_filter_chars(userdn)
            conn.search(
                self.group_search_base,
                f"(|(member={dn})(uniqueMember={dn}))",
                search_scope=ldap3.SUBTREE,
                attributes=ldap3.NO_ATTRIBUTES,
            )
            return [e.entry_dn for e in conn.entries]
        except LDAPException as e:
            self.log.error("Cannot read the groups of %s: %s", userdn, e)
            raise refusals.hub_fault(
                "hunthub cannot read your groups from the directory, so it cannot tell whether you may log in"
            ) from e

    @staticmethod
    def _matches(wanted: set[str], group_dns: list[str]) -> set[str]:
        """The groups in `wanted` (cn or DN, any case) that `group_dns` holds."""
        held = {g.lower() for dn in group_dns for g in (dn, group_name(dn))}
        return {w for w in wanted if w.lower() in held}

    # -- the login ----------------------------------------------------------------------------------------------------

    async def authenticate(self, handler, data):
        model = await super().authenticate(handler, data)
        if model is None:
            return None  # wrong password or unknown user: the login page's "Invalid username or password"
        name = self.normalize_username(model["name"])
        problem = self.username_problem(name)
        if problem:
            self.log.warning("Refused login as %r: %s", name, problem)
            raise refusals.unusable_name("The directory", name, self.user_attribute or "user name", problem)
        group_dns = model["auth_state"]["user_attributes"].pop(_GROUPS_KEY, [])
        model["name"] = name
        model["groups"] = sorted({group_name(dn) for dn in group_dns})
        # admin is exactly what the settings grant now, True or False: never a flag left from earlier
        model["admin"] = name in self.admin_users or bool(self._matches(self.admin_groups, group_dns))
        model["auth_state"]["group_dns"] = group_dns
        return model

    async def check_allowed(self, username, auth_model):
        if auth_model.get("admin") or self.allow_all or username in self.allowed_users:
            return True
        group_dns = (auth_model.get("auth_state") or {}).get("group_dns") or []
        if self._matches(self.login_groups, group_dns):
            return True
        allowed = {group_name(g) for g in self.login_groups | self.admin_groups}
        raise refusals.not_allowed(username, auth_model.get("groups") or [], allowed)

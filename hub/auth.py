"""NativeAuthenticator as hunthub ships it: analysts sign up, an admin approves them.

What hunthub adds on top of nativeauthenticator 1.3.0:
- the first admin exists from the start, with the random password `hunthub up` wrote to a 0600 file, so no
  one can claim the admin name by signing up before the real admin does;
- sign-up says exactly what is wrong with a refused user name (the upstream page only hints), and the cluster's
  service accounts (HuntHub.reserved_usernames) and dot-only names are refused at sign-up, login and when an admin
  adds users, whatever the site's pattern (hunthub.hub.usernames.UsernameRules);
- approving, revoking and discarding take a POST with the XSRF token (upstream: a plain GET), with hunthub's own
  authorization page (hub/templates);
- its own login form handler: upstream's times the login with JupyterHub's statsd client, which JupyterHub 6 no
  longer has, so every login attempt failed with a 500 there.
"""

from __future__ import annotations

from pathlib import Path

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import (
    DiscardHandler,
    LoginHandler,
    SignUpHandler,
    ToggleAuthorizationHandler,
    admin_users_scope,
)
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Unicode

from hunthub.hub.usernames import UsernameRules


class HuntHubSignUpHandler(SignUpHandler):
    async def post(self):
        if not self.authenticator.enable_signup:
            return await super().post()
        raw = self.get_body_argument("username", "", strip=False)
        problem = self.authenticator.username_problem(self.authenticator.normalize_username(raw))
        if problem is None:
            return await super().post()
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        html = await self.render_template(
            "signup.html",
            ask_email=self.authenticator.ask_email_on_signup,
            result_message=f"The user name {shown.replace(chr(0), '␀')!r} cannot be used: {problem}.",
            alert="alert-danger",
            two_factor_auth=self.authenticator.allow_2fa,
            two_factor_auth_user=False,
            two_factor_auth_value="",
            recaptcha_key=self.authenticator.recaptcha_key,
            tos=self.authenticator.tos,
        )
        self.set_status(400)
        self.finish(html)


class HuntHubLoginHandler(LoginHandler):
    """The login form: upstream's page, with a POST that works on JupyterHub 6 (no statsd) and, like JupyterHub's
    own login, answers a refusal with 403 and tells an analyst whose sign-up still waits for an admin so."""

    async def post(self):
        # the form's fields as typed: only the user name is trimmed, a password may begin or end with a space;
        # the XSRF token is JupyterHub's business, not the authenticator's
        data = {
            name: self.get_body_argument(name, "", strip=name == "username")
            for name in self.request.body_arguments
            if name != "_xsrf"
        }
        user = await self.login_user(data)
        if user is not None:
            self._jupyterhub_user = user  # the request's log line names who logged in
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        self.set_status(403)
        html = await self._render(login_error=self._refusal(username, data.get("password", "")), username=username)
        self.finish(html)

    def _refusal(self, username: str, password: str) -> str:
        # only someone who knows the password learns that the account exists and waits for approval
        info = self.authenticator.get_user(username) if username else None  # normalized there
        if info is not None and not info.is_authorized and info.is_valid_password(password):
            return f"User {username} has not been authorized by an administrator yet."
        return "Invalid username or password."


class _PostOnly:
    """Upstream approves and discards users on a plain GET, which any link or image can trigger for a logged-in
    admin. Here those changes take a POST, which JupyterHub only accepts with the page's XSRF token."""

    async def get(self, slug):
        raise web.HTTPError(405, "Use the buttons on the authorization page.")

    @admin_users_scope
    async def post(self, slug):
        await super().get(slug)


class HuntHubToggleAuthorizationHandler(_PostOnly, ToggleAuthorizationHandler):
    pass


class HuntHubDiscardHandler(_PostOnly, DiscardHandler):
    pass


REPLACED_HANDLERS = {
    LoginHandler: HuntHubLoginHandler,
    SignUpHandler: HuntHubSignUpHandler,
    ToggleAuthorizationHandler: HuntHubToggleAuthorizationHandler,
    DiscardHandler: HuntHubDiscardHandler,
}


class HuntHubNativeAuthenticator(UsernameRules, NativeAuthenticator):
    bootstrap_admin = Unicode(config=True, help="The admin account created at hub start (see below).")
    bootstrap_admin_password_file = Unicode(
        config=True,
        help="""File (0600) holding the first admin's initial password. When the admin has no account yet, it is
        created from this file at hub start, already approved.""",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bootstrap_admin()

    def _bootstrap_admin(self):
        path = Path(self.bootstrap_admin_password_file) if self.bootstrap_admin_password_file else None
        admin = self.bootstrap_admin
        if not admin or path is None or not path.is_file() or UserInfo.find(self.db, admin) is not None:
            return
        password = path.read_text().strip()
        info = UserInfo(username=admin, password=bcrypt.hashpw(password.encode(), bcrypt.gensalt()))
        info.is_authorized = True
        self.db.add(info)
        self.db.commit()
        self.log.info("Created the admin account %s (initial password in %s)", admin, path)

    def get_handlers(self, app):
        return [(url, REPLACED_HANDLERS.get(h, h)) for url, h in super().get_handlers(app)]

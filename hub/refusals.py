"""The pages a refused login gets, shared by hunthub's authenticators (hunthub.hub.oauth, hunthub.hub.ldap), so that
logging in through an identity provider and through a directory refuse the same things in the same words.

Each returns the `tornado.web.HTTPError` for the caller to raise (`raise refusals.not_allowed(...) from e` keeps the
cause); what the hub's log should say about it, the caller logs.
"""

from __future__ import annotations

from collections.abc import Iterable

from tornado import web


def unusable_name(who: str, name: str, source: str, problem: str) -> web.HTTPError:
    """403: `who` ("The directory", "Your identity provider") signs the user in as `name`, taken from `source` (the
    attribute or claim), which hunthub cannot use as a user name (`problem`, from UsernameRules.username_problem).
    The name is refused, never altered: two accounts must never end up sharing one hub name."""
    return web.HTTPError(
        403,
        f"{who} signs you in as {name!r} ({source}), which hunthub cannot use as a user name: {problem}. Ask your "
        "hunthub admin; the name is never changed silently, so that two people never share one account.",
    )


def not_allowed(username: str, groups: Iterable[str], allowed: Iterable[str]) -> web.HTTPError:
    """403: `username` signed in but is a member of none of the `allowed` groups; the page names those and the
    user's own `groups`, so that they know whom to ask for what."""
    held = ", ".join(sorted(groups)) or "none"
    wanted = ", ".join(sorted(set(allowed))) or "(no group is allowed: ask for your user name)"
    return web.HTTPError(
        403,
        f"You signed in as {username}, but your account may not use this hub. Hub access is for members of: "
        f"{wanted}. Your groups: {held}. Ask your hunthub admin to give you access.",
    )


def hub_fault(what: str, retry: bool = False) -> web.HTTPError:
    """503: the login cannot go on for a reason on the hub's side (`what`, a sentence without its full stop, e.g.
    "hunthub cannot read your groups from the directory"), which the hub's log explains and its admin must fix.
    With `retry`, the user is first told to try again in a minute (a server that may come back)."""
    ask = "Try again in a minute; if it persists, tell" if retry else "Tell"
    return web.HTTPError(503, f"{what}. {ask} your hunthub admin (the hub's log says what is wrong).")

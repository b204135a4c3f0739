"""Why a user name is refused, in words an analyst understands; and the one rule every authenticator applies.

Two refusals hold whatever `HuntHub.username_pattern` a site configures, because the pattern is about taste and
these are about safety:
- names made only of dots (`.`, `..`): a hub name becomes a directory (homes, scratch spaces, key files), and
  these would name the directory itself or its parent;
- the cluster's service accounts (`HuntHub.reserved_usernames`): a hub name is who the analyst's Spark jobs and
  Livy sessions run as on the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from traitlets import List, Unicode
from traitlets.config import Configurable

from hunthub.settings import DEFAULT_USERNAME_PATTERN

FORBIDDEN = ((" ", "spaces"), ("/", "'/'"), (";", "';'"), ("\\", "'\\'"), ("@", "'@'"), (".", "dots"))


def username_problem(name: str, pattern: str = DEFAULT_USERNAME_PATTERN, reserved: Iterable[str] = ()) -> str | None:
    """None when `name` is acceptable, else a sentence saying what is wrong with it."""
    if name and set(name) == {"."}:
        return f"{name!r} is not a name but a directory's own ('.') or its parent's ('..')"
    if is_reserved(name, reserved):
        return f"{name!r} is the name of a cluster service account, so a hub user of that name would act as it"
    if re.fullmatch(pattern, name):
        return None
    if not name:
        return "a user name is required"
    if "\0" in name:
        return "user names cannot contain NUL characters"
    max_len = _max_length(pattern)
    if max_len and len(name) > max_len:
        return f"user names can be at most {max_len} characters (this one has {len(name)})"
    found = [label for char, label in FORBIDDEN if char in name]
    if found:
        listed = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " or " + found[-1]
        return f"user names cannot contain {listed}"
    if pattern == DEFAULT_USERNAME_PATTERN:
        if not name[0].isalpha():
            return "user names must start with a letter"
        return "user names may contain only lower-case letters, digits, '_' and '-'"
    return f"user names must match the pattern {pattern}"


def is_reserved(name: str, reserved: Iterable[str]) -> bool:
    """Whether `name` is one of the `reserved` accounts. Without regard to case: a site pattern may allow upper
    case, and clusters map principals to accounts in lower case (Kerberos auth_to_local rules often do)."""
    folded = name.casefold()
    return any(folded == r.casefold() for r in reserved)


def path_component(name: str) -> str:
    """`name`, checked to be usable as one directory entry under a root: it must not be empty, be only dots, or
    hold '/' or NUL, which would put it (or what is joined under it) somewhere else. Raises ValueError otherwise.
    Authenticators already refuse such names; this is the last check where a name becomes a path."""
    if not name or set(name) == {"."} or "/" in name or "\0" in name:
        raise ValueError(f"the user name {name!r} cannot be used as a directory name")
    return name


def _max_length(pattern: str) -> int | None:
    """Longest name the pattern accepts, for the common `^x[...]{m,n}$` shape; None if unknown."""
    m = re.fullmatch(r"\^(\[[^\]]+\]|.)\[[^\]]+\]\{(\d+),(\d+)\}\$", pattern)
    return 1 + int(m.group(3)) if m else None


class UsernameRules(Configurable):
    """Mixed into hunthub's authenticators (before the upstream class), so that every way a name enters the hub
    applies the same rule: sign-up, login, the admin adding users (JupyterHub's API calls validate_username), and
    the check of existing accounts at hub start. Configured once as `c.UsernameRules.reserved_usernames`."""

    reserved_usernames = List(
        Unicode(),
        config=True,
        help="""Names no hub user may have, compared without regard to case (HuntHub.reserved_usernames).""",
    )

    def username_problem(self, username: str) -> str | None:
        """What is wrong with `username` under this hub's pattern and reserved names; None if nothing."""
        return username_problem(username, self.username_pattern or r".+", self.reserved_usernames)

    def validate_username(self, username):
        """Refuse what username_problem refuses, saying why in the hub's log (JupyterHub's own refusal, e.g. the
        admin page's "Invalid username", gives no reason); then whatever the upstream class refuses."""
        problem = self.username_problem(username)
        if problem is not None:
            self.log.warning("Refusing the user name %r: %s", username, problem)
            return False
        return super().validate_username(username)

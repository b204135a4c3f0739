"""Why a user name is refused, in words an analyst understands."""

from __future__ import annotations

import re

from hunthub.settings import DEFAULT_USERNAME_PATTERN

FORBIDDEN = ((" ", "spaces"), ("/", "'/'"), (";", "';'"), ("\\", "'\\'"), ("@", "'@'"), (".", "dots"))


def username_problem(name: str, pattern: str = DEFAULT_USERNAME_PATTERN) -> str | None:
    """None when `name` is acceptable, else a sentence saying what is wrong with it."""
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


def _max_length(pattern: str) -> int | None:
    """Longest name the pattern accepts, for the common `^x[...]{m,n}$` shape; None if unknown."""
    m = re.fullmatch(r"\^(\[[^\]]+\]|.)\[[^\]]+\]\{(\d+),(\d+)\}\$", pattern)
    return 1 + int(m.group(3)) if m else None

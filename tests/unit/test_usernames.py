"""What sign-up tells an analyst about a refused user name."""

import re

import pytest

from hunthub.hub.usernames import username_problem
from hunthub.settings import DEFAULT_USERNAME_PATTERN


@pytest.mark.parametrize("name", ["alice", "j-smith_2", "a", "a" * 28])
def test_good_names_have_no_problem(name):
    assert username_problem(name) is None


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("alice smith", "spaces"),
        ("alice/bob", "'/'"),
        ("alice;rm", "';'"),
        ("ali\0ce", "NUL"),
        ("a" * 29, "at most 28 characters"),
        ("2alice", "start with a letter"),
        ("Alice", "lower-case"),
        ("alice.smith", "dots"),
        ("", "required"),
    ],
)
def test_refused_names_get_a_specific_reason(name, says):
    problem = username_problem(name)
    assert problem is not None
    assert says in problem
    # the reason matches the pattern the hub enforces
    assert re.fullmatch(DEFAULT_USERNAME_PATTERN, name) is None


def test_too_long_name_says_how_long_it_is():
    assert "(this one has 40)" in username_problem("a" * 40)


def test_custom_pattern_gets_a_generic_message():
    problem = username_problem("ab", r"^[a-z]{3,8}$")
    assert problem is not None
    assert r"^[a-z]{3,8}$" in problem


def test_custom_pattern_length_limit_is_reported():
    pattern = r"^[a-z][a-z0-9]{0,7}$"
    assert username_problem("abcdefgh", pattern) is None
    assert "at most 8 characters" in username_problem("abcdefghi", pattern)


def test_custom_pattern_accepts_what_it_allows():
    # a site that allows upper case: the default's lower-case rule must not leak in
    assert username_problem("Alice", r"^[A-Za-z]+$") is None

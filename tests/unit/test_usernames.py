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


# --- reserved names and dot-only names: refused whatever the site's pattern -------------------------------

RESERVED = ("root", "hdfs", "yarn", "livy", "spark", "hadoop", "hive")


@pytest.mark.parametrize("name", RESERVED)
def test_cluster_service_accounts_are_refused_by_name(name):
    from hunthub.settings import DEFAULT_RESERVED_USERNAMES

    assert name in DEFAULT_RESERVED_USERNAMES
    problem = username_problem(name, reserved=DEFAULT_RESERVED_USERNAMES)
    assert problem == f"{name!r} is the name of a cluster service account, so a hub user of that name would act as it"


def test_reserved_names_hold_whatever_the_pattern_and_case():
    # a site pattern that allows upper case: HDFS is still the HDFS superuser once a cluster lower-cases principals
    assert "cluster service account" in username_problem("HDFS", r"^[A-Za-z]+$", ["hdfs"])
    assert "cluster service account" in username_problem("hdfs", r".+", ["HDFS"])
    assert username_problem("hdfs2", r".+", ["hdfs"]) is None
    assert username_problem("hdfs") is None  # nothing is reserved unless the hub says so


def test_the_hubs_own_admin_name_is_not_reserved_by_default():
    from hunthub.settings import DEFAULT_RESERVED_USERNAMES, HuntHub

    assert HuntHub().admin_user not in DEFAULT_RESERVED_USERNAMES
    assert list(DEFAULT_RESERVED_USERNAMES) == HuntHub().reserved_usernames


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_dot_only_names_are_refused_even_when_the_pattern_allows_dots(name):
    for pattern in (DEFAULT_USERNAME_PATTERN, r"^[a-z.]+$", r".+"):
        problem = username_problem(name, pattern)
        assert problem is not None and "directory" in problem, (name, pattern)
    assert username_problem("a.b", r"^[a-z.]+$") is None


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "nul\0"])
def test_names_that_would_point_elsewhere_are_no_path_component(name):
    from hunthub.hub.usernames import path_component

    with pytest.raises(ValueError, match="cannot be used as a directory name"):
        path_component(name)


def test_ordinary_names_are_path_components():
    from hunthub.hub.usernames import path_component

    assert path_component("alice") == "alice"
    assert path_component(".alice") == ".alice"  # a hidden entry under the root, still under the root


@pytest.fixture
def native(request):
    """The native authenticator with a hub database of its own (in memory), as JupyterHub makes it."""
    from jupyterhub import orm
    from traitlets.config import Config

    from hunthub.hub.auth import HuntHubNativeAuthenticator

    c = Config()
    c.UsernameRules.reserved_usernames = ["hdfs", "livy"]
    c.Authenticator.username_pattern = getattr(request, "param", DEFAULT_USERNAME_PATTERN)
    return HuntHubNativeAuthenticator(config=c, _deprecated_db_session=orm.new_session_factory("sqlite://")())


@pytest.mark.parametrize("native", [r"^[a-z.]+$"], indirect=True)
def test_native_login_and_the_admin_api_refuse_reserved_and_dot_only_names(native, caplog):
    # validate_username is what JupyterHub asks at login, when an admin adds users, and at hub start
    assert native.validate_username("alice") and native.validate_username("a.b")
    for name in ("hdfs", "livy", "..", "."):
        assert not native.validate_username(name), name
    assert "'hdfs' is the name of a cluster service account" in caplog.text


def test_native_sign_up_says_why_a_reserved_name_is_refused(native):
    assert "'hdfs' is the name of a cluster service account" in native.username_problem("hdfs")
    # nothing is created: NativeAuthenticator's own sign-up asks validate_username too
    assert native.create_user("hdfs", "long-enough-pw-1") is None

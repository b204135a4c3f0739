"""`hunthub up` with HUNTHUB_DB_URL on a real PostgreSQL server: the hub and NativeAuthenticator keep their
tables there (no SQLite in the state dir), and a restart on the same state dir and database finds the admin
and the analysts again, with the admin's password file untouched.

Plain HTTP (requests) through the hub's own login and sign-up forms; no browser, no user server is spawned.
"""

from __future__ import annotations

import shutil
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.harness import Stack, fresh_state_dir, remove_analyst_accounts, stack_env
from tests.postgres import postgres_server

pytestmark = pytest.mark.integration

ANALYST_PASSWORD = "Tr0ub4dor-and-3"
LOGIN_COOKIE = "jupyterhub-hub-login"


def base_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.port}"


def xsrf(session: requests.Session, url: str) -> str:
    r = session.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
    token = session.cookies.get("_xsrf")
    assert token, f"GET {url} set no _xsrf cookie: {dict(session.cookies)}"
    return token


def login(stack: Stack, username: str, password: str) -> requests.Session:
    """Log in through the form; returns the session holding the hub's login cookie (asserts success)."""
    base = base_url(stack)
    s = requests.Session()
    token = xsrf(s, f"{base}/hub/login")
    r = s.post(
        f"{base}/hub/login",
        data={"username": username, "password": password, "_xsrf": token},
        allow_redirects=False,  # following it would spawn the user's server
        timeout=60,
    )
    assert r.status_code in (302, 303), f"login as {username} was refused ({r.status_code}):\n{r.text[-1500:]}"
    location = urlsplit(r.headers.get("Location", "")).path
    assert location and not location.startswith("/hub/login"), f"login as {username} sent back to {location!r}"
    assert s.cookies.get(LOGIN_COOKIE), f"no {LOGIN_COOKIE} cookie after login: {list(s.cookies.keys())}"
    return s


def signup(stack: Stack, username: str, password: str) -> str:
    base = base_url(stack)
    s = requests.Session()
    token = xsrf(s, f"{base}/hub/signup")
    r = s.post(
        f"{base}/hub/signup",
        data={
            "username": username,
            "signup_password": password,
            "signup_password_confirmation": password,
            "_xsrf": token,
        },
        timeout=60,
    )
    assert r.status_code == 200, f"sign-up of {username} failed ({r.status_code}):\n{r.text[-1500:]}"
    return r.text


def query(url: str, sql: str, *params) -> list[tuple]:
    conn = psycopg.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def sqlite_files(state) -> list[str]:
    return [p.name for p in (state / "hub").iterdir() if "sqlite" in p.name]


def user_info(url: str, username: str) -> list[tuple]:
    return query(url, "SELECT username, is_authorized FROM users_info WHERE username = %s", username)


def start(env: dict[str, str], stacks: list[Stack]) -> Stack:
    stack = Stack(env)
    stacks.append(stack)  # stopped and its logs dumped by the test, also when it never comes up
    stack.wait_up()
    return stack


def test_hub_keeps_its_state_in_postgres_across_restarts():
    state = fresh_state_dir()
    analyst = "ana" + uuid.uuid4().hex[:6]
    password_file = state / "hub" / "admin-password"
    stacks: list[Stack] = []
    try:
        with postgres_server() as db_url:
            try:

                def env():
                    # fresh ports each time; same state dir and database
                    return stack_env(state, HUNTHUB_DB_URL=db_url, HUNTHUB_DEMO_DATA_EVENTS="1000")

                # --- first start: an empty database --------------------------------------------------
                first = start(env(), stacks)
                password = first.admin_password
                assert "Admin password (shown only this once)" in first.output
                assert password_file.read_text().strip() == password

                login(first, "admin", password)

                tables = {r[0] for r in query(db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
                assert {"users", "users_info", "alembic_version"} <= tables, tables
                assert query(db_url, "SELECT name, admin FROM users WHERE name = 'admin'") == [("admin", True)]
                assert user_info(db_url, "admin") == [("admin", True)]
                assert not sqlite_files(state), f"SQLite despite HUNTHUB_DB_URL: {sqlite_files(state)}"

                page = signup(first, analyst, ANALYST_PASSWORD)
                assert "sent to the admin" in page, page[-1500:]
                assert user_info(db_url, analyst) == [(analyst, False)]

                assert first.stop() == 0, "first `hunthub up` did not stop cleanly"

                # --- second start: same state dir, same database ------------------------------------
                second = start(env(), stacks)
                assert "Admin password (shown only this once)" not in second.output, "admin password regenerated"
                assert password_file.read_text().strip() == password
                assert second.admin_password == password

                login(second, "admin", password)
                assert query(db_url, "SELECT count(*) FROM users_info WHERE username = 'admin'") == [(1,)]
                assert user_info(db_url, "admin") == [("admin", True)]
                assert user_info(db_url, analyst) == [(analyst, False)]
                assert not sqlite_files(state), f"SQLite despite HUNTHUB_DB_URL: {sqlite_files(state)}"

                assert second.stop() == 0, "second `hunthub up` did not stop cleanly"
            except BaseException:
                for s in stacks:
                    s.stop()
                    print(s.dump_logs())
                raise
            finally:
                # before the database goes away
                for s in stacks:
                    s.stop()
    finally:
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)

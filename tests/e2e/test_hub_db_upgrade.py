"""A state dir from JupyterHub 5.5 under the installed JupyterHub 6: `hunthub up` backs the hub database up,
upgrades it, and the hub comes up with its users, approvals, admin and groups.

The database is tests/data/hub-5.5.4.sqlite, made by a real `hunthub up` on JupyterHub 5.5.4 with
NativeAuthenticator 1.3.0 (how, and what it holds: tests/data/README.md)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import requests

from hunthub import hub_db
from tests.harness import fresh_state_dir, running_stack, stack_env, write_secret

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "hub-5.5.4.sqlite"
# the fixture's accounts (tests/data/README.md)
ADMIN_PASSWORD = "o3kqpjNcnPoS1rJll6uM"
ANA_PASSWORD = "ana-hunts-5.5-fixture"
BOB_PASSWORD = "bob-waits-5.5-fixture"


def login(base: str, user: str, password: str) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    s.get(f"{base}/hub/login")
    r = s.post(
        f"{base}/hub/login",
        data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf")},
        allow_redirects=False,
    )
    return s, r


def api(session: requests.Session, base: str, path: str) -> dict:
    r = session.get(f"{base}/hub/api/{path}", headers={"X-XSRFToken": session.cookies.get("_xsrf")}, timeout=10)
    assert r.ok, (r.status_code, r.text)
    return r.json()


def test_a_jupyterhub_5_5_state_dir_is_backed_up_upgraded_and_keeps_its_users():
    state = fresh_state_dir()
    hub = state / "hub"
    hub.mkdir(parents=True, mode=0o700)
    shutil.copyfile(FIXTURE, hub / "jupyterhub.sqlite")
    write_secret(hub / "admin-password", ADMIN_PASSWORD)  # as the 5.5 install's `hunthub up` left it
    env = stack_env(state, HUNTHUB_DEMO_DATA_EVENTS="1000")

    with running_stack(env) as stack:
        said = re.search(
            r"hub database: upgrading from the JupyterHub 5 schema \(revision 4621fec11365\) to JupyterHub "
            r"(\S+)'s \(revision (\w+)\); backup at (\S+)",
            stack.output,
        )
        assert said, stack.output
        version, head, archive = said.group(1), said.group(2), Path(said.group(3))
        assert version.startswith("6.") and head == hub_db.head_revision()
        assert f"hub database: upgraded to revision {head}" in stack.output
        # the backup: hunthub's own archive, 0600, holding the database as JupyterHub 5.5 left it
        assert archive.parent == state / "backups" and archive.name.startswith(f"before-jupyterhub-{version}-")
        assert archive.stat().st_mode & 0o777 == 0o600
        with sqlite3.connect(hub / "jupyterhub.sqlite") as conn:
            assert conn.execute("select version_num from alembic_version").fetchone()[0] == head

        assert requests.get(f"{stack.url}/hub/api/", timeout=10).json()["version"] == version
        # the approved analyst logs in with the password she chose under 5.5
        ana, r = login(stack.url, "ana", ANA_PASSWORD)
        assert r.status_code == 302 and "jupyterhub-hub-login" in ana.cookies, r.text
        _, r = login(stack.url, "ana", "not-her-password")
        assert r.status_code == 403 and "Invalid username or password" in r.text
        # the sign-up still waits for an admin
        bob, r = login(stack.url, "bob", BOB_PASSWORD)
        assert r.status_code == 403 and "jupyterhub-hub-login" not in bob.cookies
        assert "User bob has not been authorized by an administrator yet" in r.text
        # the admin is still the admin, and the group still has its member
        admin, r = login(stack.url, "admin", ADMIN_PASSWORD)
        assert r.status_code == 302, r.text
        assert api(admin, stack.url, "users/admin")["admin"] is True
        assert api(admin, stack.url, "groups/hunters")["users"] == ["ana"]
        assert "hunters" in api(admin, stack.url, "users/ana")["groups"]
        authorize = admin.get(f"{stack.url}/hub/authorize", timeout=10)
        assert authorize.ok and "bob" in authorize.text

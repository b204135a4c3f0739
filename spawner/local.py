"""`hunthub-local`: each analyst's notebook server as a local process, in its own home.

Run as root (the embedded default), every analyst gets a system account of their own (`hunt-<name>`, created
on first spawn, no login shell, no password) and a 0700 home, so analysts cannot read each other's work.
The prefix keeps hub names from ever mapping onto existing system accounts (`root`, `daemon`, ...).
As root, each analyst's server also runs in a cgroup of its own that enforces `cpu_limit`, `mem_limit` and
`pids_limit` on it and on everything it starts (hunthub.analyst_limits), so that one analyst cannot take the host.
Run as a normal user, all analysts share that one account: fine for a demo on a laptop, not for a team.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Bool, Dict, Integer, List, Unicode, default

from hunthub import acl, analyst_limits, identity, kernel_env
from hunthub.hub.usernames import path_component
from hunthub.spawner import accounts, graphistry_keys
from hunthub.spawner.seed import seed


class HuntHubLocalSpawner(LocalProcessSpawner):
    home_root = Unicode(config=True, help="Directory holding one home per analyst (created 0711; homes are 0700).")
    notebooks_source = Unicode(
        config=True,
        help="Bundled notebooks copied into each analyst's home on first spawn (and new ones on later spawns).",
    )
    system_user_prefix = Unicode(
        "hunt-",
        config=True,
        help="Prefix of the system account created for each analyst when running as root.",
    )
    accounts_ledger = Unicode(
        "",
        config=True,
        help="""This install's record of its analysts' accounts and uids (hunthub.spawner.accounts), a root-only
        file in the hub's state dir. Needed to create accounts: it keeps accounts of other installs on the same
        machine out of reach and uids from passing between analysts.""",
    )
    create_system_users = Bool(
        config=True,
        help="""Run each analyst's server as their own system account, created on first spawn. Needs root;
        defaults to True exactly when the hub runs as root.""",
    )

    scratch_root = Unicode(
        "",
        config=True,
        help="""Local directory holding each analyst's scratch space (`<scratch_root>/<name>`): where their Spark
        jobs write results. Besides the analyst, only the `scratch_writers` accounts may enter it. Empty: none.""",
    )
    scratch_writers = List(
        Unicode(),
        config=True,
        help="""Accounts that write into analysts' scratch spaces beside the analyst: the account Spark executors
        run as (`hunthub-spark` for the embedded cluster). Granted through POSIX ACLs (Debian `acl`), which new
        files and directories inherit, so the analyst's driver can commit and delete what executors wrote.""",
    )

    spark_queues = Dict(
        Unicode(),
        config=True,
        help="""YARN queue per hub group (in order: the first group the analyst belongs to wins), pinned into the
        analyst's Spark sessions by the hub (see hunthub.identity).""",
    )
    spark_default_queue = Unicode(
        "", config=True, help="Queue of analysts in none of `spark_queues`' groups. Empty: the cluster's default."
    )

    graphistry_personal_key_id = Unicode("", config=True, help="Organisation Graphistry personal key id.")
    graphistry_personal_key_secret_file = Unicode(
        "", config=True, help="File (0600) with the organisation Graphistry personal key's secret."
    )
    graphistry_keys_dir = Unicode(
        "", config=True, help="Directory of per-analyst Graphistry keys, `<hub user>.json` (see graphistry_keys)."
    )

    pids_limit = Integer(
        0,
        min=0,
        config=True,
        help="""Most processes and threads the analyst's server and everything it starts may run at once; 0: no
        limit. Threads count: a Spark driver JVM alone runs 100-200, so leave room (e.g. 2000). Enforced, like
        mem_limit and cpu_limit, when the hub runs as root with per-analyst accounts (hunthub.analyst_limits).""",
    )

    # one warning per hub process, not per spawn, when this host cannot cap analysts (e.g. a container)
    _caps_unavailable_warned = False
    # the cgroup.procs files the next server process joins (analyst_limits.join); empty: it runs uncapped
    _cgroup_procs: tuple[bytes, ...] = ()

    @default("create_system_users")
    def _default_create_system_users(self):
        return os.geteuid() == 0

    @property
    def home_dir(self) -> Path:
        # the authenticators refuse names like '..'; checked again here, where a name becomes a path
        return Path(self.home_root) / path_component(self.user.name)

    @property
    def system_user(self) -> str:
        if self.create_system_users:
            return f"{self.system_user_prefix}{self.user.name}"
        return pwd.getpwuid(os.geteuid()).pw_name

    def _ensure_system_user(self) -> pwd.struct_passwd:
        if not self.accounts_ledger:
            raise RuntimeError(
                "HuntHubLocalSpawner.accounts_ledger is not set: no system account is created without it"
            )
        try:
            return accounts.ensure(
                Path(self.accounts_ledger), self.user.name, self.system_user, self.home_dir, Path(self.home_root),
                also_owned=[self.scratch_dir] if self.scratch_dir else [], log=self.log,
            )  # fmt: skip
        except accounts.AccountError as e:
            self.log.error("Not starting %s's server: %s", self.user.name, e)
            raise RuntimeError(f"hunthub cannot start your server: {e}") from None

    def prepare_home(self) -> None:
        """Create the private home; deliver bundled notebooks as the analyst (see hunthub.spawner.seed)."""
        root = Path(self.home_root)
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o711)
        home = self.home_dir
        if home.is_symlink():
            raise RuntimeError(f"{home} is a symlink; refusing to use it as {self.user.name}'s home")
        home.mkdir(exist_ok=True)
        source = Path(self.notebooks_source) if self.notebooks_source else Path("/nonexistent")
        if not self.create_system_users:
            home.chmod(0o700)
            seed(source, home)
            self.prepare_scratch(None)
            self.deliver_graphistry_key(None)
            return
        account = self._ensure_system_user()
        self.prepare_scratch(account)
        os.chown(home, account.pw_uid, account.pw_gid)
        home.chmod(0o700)
        result = subprocess.run(
            [sys.executable, "-m", "hunthub.spawner.seed", str(source), str(home)],
            preexec_fn=set_user_setuid(account.pw_name),  # noqa: PLW1509 - single-threaded child, as Popen docs ask
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"could not deliver notebooks to {home}: {result.stderr.strip()[-500:]}")
        self.deliver_graphistry_key(account)

    def graphistry_credentials(self) -> dict | None:
        return graphistry_keys.credentials_for(
            self.user.name, self.graphistry_personal_key_id, self.graphistry_personal_key_secret_file,
            self.graphistry_keys_dir,
        )  # fmt: skip

    def deliver_graphistry_key(self, account: pwd.struct_passwd | None) -> None:
        creds = self.graphistry_credentials()
        if creds is None and not (self.home_dir / graphistry_keys.CREDENTIALS_NAME).exists():
            return
        if account is None:
            graphistry_keys.install(self.home_dir, creds)
            return
        result = subprocess.run(
            [sys.executable, "-m", "hunthub.spawner.graphistry_keys", str(self.home_dir)],
            input=json.dumps(creds), preexec_fn=set_user_setuid(account.pw_name),  # noqa: PLW1509
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home_dir)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"could not hand over the Graphistry key: {result.stderr.strip()[-500:]}")

    @property
    def scratch_dir(self) -> Path | None:
        return Path(self.scratch_root) / path_component(self.user.name) if self.scratch_root else None

    def prepare_scratch(self, account: pwd.struct_passwd | None) -> None:
        """The analyst's scratch space: theirs (0770), plus ACL entries for the executors' account."""
        scratch = self.scratch_dir
        if scratch is None:
            return
        scratch.parent.mkdir(parents=True, exist_ok=True)
        if scratch.is_symlink():
            raise RuntimeError(f"{scratch} is a symlink; refusing to use it as {self.user.name}'s scratch space")
        scratch.mkdir(exist_ok=True)
        if account is None:
            return
        # others may pass through the root to their own space but not list who has one
        scratch.parent.chmod(0o711)
        os.chown(scratch, account.pw_uid, account.pw_gid)
        scratch.chmod(0o770)
        if not self.scratch_writers:
            return
        acl.grant_rwx(scratch, [account.pw_name, *self.scratch_writers])

    @property
    def caps_enforced(self) -> bool:
        """Whether this spawner puts the analyst's server in a capped cgroup: as root with per-analyst accounts
        only (without them all analysts share one account anyway, and a non-root hub cannot move processes)."""
        return self.create_system_users and os.geteuid() == 0

    def apply_limits(self) -> None:
        """Create or update the analyst's cgroup with their caps, for the server process to join as it starts.
        Never fails the spawn: without cgroups (or when the kernel refuses) the server runs uncapped, with a
        warning."""
        self._cgroup_procs = ()
        if not self.caps_enforced or not (self.cpu_limit or self.mem_limit or self.pids_limit):
            return
        reason = analyst_limits.unavailable()
        if reason:
            if not HuntHubLocalSpawner._caps_unavailable_warned:
                HuntHubLocalSpawner._caps_unavailable_warned = True
                self.log.warning("Analysts' servers run without CPU, memory and process caps: %s", reason)
            return
        try:
            self._cgroup_procs = analyst_limits.apply(
                self.system_user, cpu=self.cpu_limit, memory=self.mem_limit, pids=self.pids_limit
            )
        except (OSError, ValueError) as e:
            self.log.warning("%s's server runs without CPU, memory and process caps: %s", self.user.name, e)

    def release_limits(self) -> None:
        """Remove the analyst's cgroup once their server stopped, unless something still runs in it."""
        if not self.caps_enforced or analyst_limits.unavailable():
            return
        try:
            if not analyst_limits.remove(self.system_user):
                self.log.warning(
                    "%s's cgroup is kept, with its caps: processes outlived their server (e.g. a kernel)",
                    self.user.name,
                )
        except (OSError, ValueError) as e:
            self.log.warning("Could not remove %s's cgroup: %s", self.user.name, e)

    def make_preexec_fn(self, name):
        if self.create_system_users:
            drop_privileges = set_user_setuid(self.system_user)
            procs = self._cgroup_procs
            if not procs:
                return drop_privileges

            def preexec():
                # joining first: once it runs as the analyst, the process may no longer move itself; a failure
                # here fails the spawn rather than leaving a server uncapped that apply_limits said was capped
                analyst_limits.join(procs)
                drop_privileges()

            return preexec
        home = str(self.home_dir)
        return lambda: os.chdir(home)

    @property
    def spark_queue(self) -> str:
        return identity.queue_for((g.name for g in self.user.groups), self.spark_queues, self.spark_default_queue)

    def pin_identity(self) -> None:
        """Tell the analyst's kernels, in a file only root can change, who they run as (hunthub.identity)."""
        if self.create_system_users:
            groups = [g.name for g in self.user.groups]
            identity.write(self.system_user, self.user.name, groups, self.spark_queue)

    def user_env(self, env):
        env["USER"] = self.system_user
        env["HOME"] = str(self.home_dir)
        env["SHELL"] = "/bin/bash"
        keys = self.graphistry_personal_key_id or self.graphistry_keys_dir
        # the analyst's own part of the kernel contract (hunthub.kernel_env)
        return kernel_env.amend(
            env,
            spark_queue=self.spark_queue,
            graphistry_credentials=str(self.home_dir / graphistry_keys.CREDENTIALS_NAME) if keys else "",
            scratch=self.scratch_dir.as_uri() if self.scratch_dir is not None else "",
        )

    def get_args(self):
        return [*super().get_args(), f"--ServerApp.root_dir={self.home_dir}"]

    async def start(self):
        if not self.create_system_users:
            self.log.warning(
                "hunthub runs as a normal user: all analysts' servers share the OS account %s and can read "
                "each other's homes (demo only; run as root for per-analyst accounts).",
                self.system_user,
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.prepare_home)
        await loop.run_in_executor(None, self.apply_limits)
        self.pin_identity()
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        if self.create_system_users:
            identity.remove(self.system_user)
        await asyncio.get_running_loop().run_in_executor(None, self.release_limits)

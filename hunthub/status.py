"""Who holds what on this hub, live: analysts' servers, kernels, Spark applications, cores and memory.

One snapshot joins four sources, each asked directly:
- the hub's REST API (with the `hunthub-status` service's token): who has a server, since when, last activity,
  pending spawns and stops;
- each server's `/api/kernels`: kernel name, execution state, last activity, connections;
- the Spark master's `/json/` (and its workers'): applications, the cores and executor memory they were granted.
  hunthub names an analyst's applications after their hub user name; anything else (`hunthub-ingest`, a
  colleague's spark-submit) is listed apart;
- `/proc`: the proportional set size (PSS) of every process of an analyst, so shared pages (the JVM's class data,
  Python's libraries) are split between the processes sharing them instead of counted once per process;
- the analyst's cgroup (hunthub.analyst_limits), where the hub caps them: their CPU, memory and process caps, and
  the memory they use against the cap (page cache included, which is what the cap counts).

A process belongs to an analyst when
1. it is a Spark executor (`CoarseGrainedExecutorBackend ... --app-id <id>`) of one of their applications;
2. else it runs as their own OS account (`<account prefix><name>`, see hunthub.spawner.local), which a notebook
   cannot change;
3. else (a hub run as a normal user, where everyone shares one account) its environment says `JUPYTERHUB_USER`,
   which the spawner sets for the server and every kernel and driver JVM inherits;
4. else its parent belongs to the analyst and it runs as the same account (a child that cleared its environment).

Servers are asked for their kernels at the address they listen on (found in the server process's environment),
not through the public proxy: the proxy counts every request as the analyst's activity, so an admin page polling
every few seconds would keep every server from ever being culled as idle. The request also carries
`no_track_activity`, so the server itself does not count it either. A server whose address cannot be seen
(a container, a process of another account while not root) is asked through the proxy.

`analyst_memory(name)` is the reusable measurement (benchmarks use it); `snapshot()` the whole view;
`command()` is `hunthub status`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hunthub import analyst_limits, spark_share
from hunthub.cluster import alive_workers

SERVICE_NAME = "hunthub-status"
TOKEN_FILE = "status-api-token"  # noqa: S105 - a file name, not a secret
ACCOUNT_PREFIX = "hunt-"  # hunthub.spawner.local's system_user_prefix
INGEST_APP = "hunthub-ingest"
KINDS = ("server", "kernel", "driver", "executor", "other")
# how a notebook server's command line starts: hunthub's spawners (hunthub.spawner.singleuser), or stock Jupyter
SERVER_COMMANDS = ("hunthub.spawner.singleuser", "jupyterhub-singleuser", "jupyter-server", "jupyter-lab")


class StatusError(RuntimeError):
    """The snapshot cannot be taken; the message says why and what to do."""


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Proc:
    pid: int
    ppid: int
    uid: int
    argv: list[str]
    env_user: str | None = None  # JUPYTERHUB_USER
    server_name: str = ""  # JUPYTERHUB_SERVER_NAME
    service_url: str | None = None  # JUPYTERHUB_SERVICE_URL: where a server listens
    app_id: str | None = None  # executors: the application they work for
    _pss: int | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.app_id:
            return "executor"
        if "org.apache.spark.deploy.SparkSubmit" in self.argv:
            return "driver"
        if any(a.endswith(SERVER_COMMANDS) for a in self.argv[:3]):
            return "server"
        if "-m" in self.argv[:3] and any(a.startswith(("hunthub.kernels.", "ipykernel")) for a in self.argv[:4]):
            # the warm driver's Python host counts with the driver JVM it holds
            return "driver" if "hunthub.kernels.warm_driver" in self.argv else "kernel"
        return "other"

    @property
    def pss(self) -> int:
        """Bytes; 0 for a process that is gone or cannot be read."""
        if self._pss is None:
            self._pss = pss_bytes(self.pid)
        return self._pss


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    wanted = (b"JUPYTERHUB_USER=", b"JUPYTERHUB_SERVER_NAME=", b"JUPYTERHUB_SERVICE_URL=")
    env = {}
    for item in raw.split(b"\0"):
        if item.startswith(wanted):
            key, _, value = item.partition(b"=")
            env[key.decode()] = value.decode(errors="replace")
    return env


def _app_id(argv: list[str]) -> str | None:
    if "org.apache.spark.executor.CoarseGrainedExecutorBackend" not in argv or "--app-id" not in argv:
        return None
    i = argv.index("--app-id")
    return argv[i + 1] if i + 1 < len(argv) else None


def scan_processes() -> list[Proc]:
    """Every live process this account may look at (all of them as root)."""
    procs = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            uid = entry.stat().st_uid
        except (OSError, IndexError):
            continue  # gone meanwhile
        argv = [a for a in argv if a]
        if not argv:
            continue  # kernel threads
        p = Proc(pid=pid, ppid=int(fields[1]), uid=uid, argv=argv, app_id=_app_id(argv))
        if p.app_id is None:
            env = _environ(pid)
            p.env_user = env.get("JUPYTERHUB_USER") or None
            p.server_name = env.get("JUPYTERHUB_SERVER_NAME", "")
            p.service_url = env.get("JUPYTERHUB_SERVICE_URL") or None
        procs.append(p)
    return procs


def _account(uid: int, cache: dict[int, str | None]) -> str | None:
    if uid not in cache:
        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = None
    return cache[uid]


def attribute(procs: list[Proc], app_owner: dict[str, str], prefix: str = ACCOUNT_PREFIX) -> dict[str, list[Proc]]:
    """Processes per analyst (see the module docstring for the rules). `app_owner` maps application ids to
    analysts; executors of other applications belong to nobody here."""
    owner: dict[int, str] = {}
    accounts: dict[int, str | None] = {}
    for p in procs:
        if p.app_id is not None:
            if p.app_id in app_owner:
                owner[p.pid] = app_owner[p.app_id]
            continue
        account = _account(p.uid, accounts) or ""
        if account.startswith(prefix) and len(account) > len(prefix):
            owner[p.pid] = account[len(prefix) :]
        elif p.env_user:
            owner[p.pid] = p.env_user
    by_pid = {p.pid: p for p in procs}
    for p in procs:
        if p.pid in owner or p.app_id is not None:
            continue
        parent, hops = by_pid.get(p.ppid), 0
        while parent is not None and parent.uid == p.uid and hops < 32:
            if parent.pid in owner:
                owner[p.pid] = owner[parent.pid]
                break
            parent, hops = by_pid.get(parent.ppid), hops + 1
    found: dict[str, list[Proc]] = {}
    for p in procs:
        if p.pid in owner:
            found.setdefault(owner[p.pid], []).append(p)
    return found


def memory_of(procs: list[Proc]) -> dict:
    """PSS of a set of processes: total and by kind (server, kernel, driver, executor, other), in bytes."""
    by_kind = dict.fromkeys(KINDS, 0)
    for p in procs:
        by_kind[p.kind] += p.pss
    return {"pss_bytes": sum(by_kind.values()), "pss_by_kind": by_kind, "processes": len(procs)}


def analyst_memory(name: str, master: dict | None = None, procs: list[Proc] | None = None) -> int:
    """Bytes of PSS summed over all of `name`'s processes on this host: server, kernels, driver JVMs and the
    executors of their Spark applications (those named `name` in `master`, the master's /json/ answer; without
    it, executors are not counted)."""
    owners = {a["id"]: name for a in (master or {}).get("activeapps", []) if a.get("name") == name}
    mine = attribute(scan_processes() if procs is None else procs, owners).get(name, [])
    return sum(p.pss for p in mine)


# --- the hub, the servers, the cluster ---------------------------------------------------------------


def _get_json(url: str, token: str | None = None, timeout: float = 5.0, headers: dict | None = None):
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    auth = {"Authorization": f"token {token}"} if token else {}
    req = urllib.request.Request(url, headers={**(headers or {}), **auth})  # noqa: S310 - http(s) only, checked
    context = None
    if url.startswith("https://") and urllib.parse.urlparse(url).hostname in ("127.0.0.1", "localhost", "::1"):
        # our own proxy on this host: its certificate names the public host (or is a trial's self-signed one)
        context = ssl._create_unverified_context()  # noqa: S323
    with urllib.request.urlopen(req, timeout=timeout, context=context) as r:  # noqa: S310
        return json.load(r)


def hub_users(api_url: str, token: str, timeout: float = 10.0) -> list[dict]:
    """Every hub user's model (servers included), page by page."""
    users, offset = [], 0
    while True:
        query = urllib.parse.urlencode({"offset": offset, "limit": 200})
        url = f"{api_url.rstrip('/')}/users?{query}"
        try:
            page = _get_json(url, token, timeout, {"Accept": "application/jupyterhub-pagination+json"})
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise StatusError(
                    f"the hub refused the status token ({e.code}): restart the hub (`hunthub up`) so it registers "
                    f"the {SERVICE_NAME} service and its token"
                ) from None
            raise StatusError(f"the hub's API answered {e.code} for {url}") from None
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise StatusError(f"the hub does not answer at {api_url} ({reason}): is `hunthub up` running?") from None
        users += page["items"]
        nxt = (page.get("_pagination") or {}).get("next")
        if not nxt:
            return users
        offset = nxt["offset"]


def server_urls(procs: list[Proc], owned: dict[str, list[Proc]]) -> dict[tuple[str, str], str]:
    """(analyst, server name) -> the URL the server listens on, from the environment of its server process."""
    urls = {}
    for name, mine in owned.items():
        for p in mine:
            if p.service_url and p.kind == "server":
                urls[(name, p.server_name)] = p.service_url
    return urls


def server_kernels(base_url: str, token: str, timeout: float = 5.0) -> list[dict]:
    """The server's kernels. `no_track_activity`: looking is not using (the culler must not see activity)."""
    url = f"{base_url.rstrip('/')}/api/kernels?no_track_activity=1"
    return _get_json(url, token, timeout)


def worker_executors(master: dict | None, timeout: float = 3.0) -> tuple[list[dict], list[str]]:
    """Executors on the master's alive workers (their /json/), and the workers that did not answer."""
    executors, silent = [], []
    for w in (master or {}).get("workers", []):
        if w.get("state") != "ALIVE" or not w.get("webuiaddress"):
            continue
        try:
            executors += _get_json(f"{w['webuiaddress'].rstrip('/')}/json/", timeout=timeout).get("executors", [])
        except (OSError, ValueError):
            silent.append(w["webuiaddress"])
    return executors, silent


# --- the snapshot ----------------------------------------------------------------------------------


def _ms_iso(ms) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if isinstance(ms, int | float) and ms > 0 else None


def app_view(app: dict, executors: list[dict] | None, local: list[Proc]) -> dict:
    """One application as the admin sees it. Executor memory: what its executors were granted, from the workers'
    JSON; when a worker did not answer, from the executor processes on this host."""
    mine = [e for e in executors or [] if e.get("appid") == app["id"]]
    if executors is not None:
        count, memory = len(mine), sum(int(e.get("memory", 0)) for e in mine)
    else:
        count = len({p.pid for p in local if p.app_id == app["id"]})
        memory = count * int(app.get("memoryperexecutor", 0))
    return {
        "id": app["id"],
        "name": app.get("name", ""),
        "user": app.get("user", ""),
        "state": app.get("state", ""),
        "cores": int(app.get("cores", 0)),
        "executors": count,
        "executor_memory_mb": memory,
        "memory_per_executor_mb": int(app.get("memoryperexecutor", 0)),
        "started": _ms_iso(app.get("starttime")),
    }


def server_view(model: dict | None) -> dict:
    if not model:
        return {"state": "stopped", "started": None, "last_activity": None, "pending": None, "url": None}
    if model.get("pending"):
        state = {"spawn": "starting", "stop": "stopping"}.get(model["pending"], model["pending"])
    else:
        state = "running" if model.get("ready") else "stopped"
    return {
        "state": state,
        "started": model.get("started"),
        "last_activity": model.get("last_activity"),
        "pending": model.get("pending"),
        "url": model.get("url"),
    }


def build(
    users: list[dict],
    master: dict | None,
    executors: list[dict] | None,
    procs: list[Proc],
    kernels: dict[tuple[str, str], list[dict] | str] | None = None,
    master_url: str | None = None,
    prefix: str = ACCOUNT_PREFIX,
    limits: dict[str, dict] | None = None,
) -> dict:
    """Join the sources into one snapshot (a JSON-able dict). Analysts: hub users with a server, plus any who
    hold Spark applications or processes without one (left behind by a stopped server). `limits`: each analyst's
    caps and use (see caps_of)."""
    kernels = kernels or {}
    limits = limits or {}
    names = {u["name"] for u in users}
    apps = (master or {}).get("activeapps", [])
    app_owner = {a["id"]: a["name"] for a in apps if a.get("name") in names}
    owned = attribute(procs, app_owner, prefix)
    analysts = []
    for u in sorted(users, key=lambda u: u["name"]):
        name, servers = u["name"], u.get("servers") or {}
        mine = [app_view(a, executors, procs) for a in apps if app_owner.get(a["id"]) == name]
        if not servers and not mine and not owned.get(name):
            continue
        server_rows = []
        for server_name, model in sorted(servers.items()) or [("", None)]:
            found = kernels.get((name, server_name))
            server_rows.append({
                "name": server_name,
                **server_view(model),
                "kernels": found if isinstance(found, list) else [],
                "kernels_error": found if isinstance(found, str) else None,
            })  # fmt: skip
        all_kernels = [k for s in server_rows for k in s["kernels"]]
        analysts.append({
            "name": name,
            "admin": bool(u.get("admin")),
            "last_activity": u.get("last_activity"),
            "servers": server_rows,
            "kernels": {
                "total": len(all_kernels),
                "busy": sum(k.get("execution_state") == "busy" for k in all_kernels),
                "idle": sum(k.get("execution_state") == "idle" for k in all_kernels),
            },
            "apps": mine,
            # Spark driver JVMs on this host: sessions whose tasks run in their own driver hold no cluster cores
            "drivers": sum(p.kind == "driver" for p in owned.get(name, [])),
            "limits": limits.get(name),
            "cores": sum(a["cores"] for a in mine),
            "executor_memory_mb": sum(a["executor_memory_mb"] for a in mine),
            **memory_of(owned.get(name, [])),
        })  # fmt: skip
    others = [app_view(a, executors, procs) for a in apps if a["id"] not in app_owner]
    for a in others:
        a["holder"] = "hunthub ingest" if a["name"].startswith(INGEST_APP) else "not an analyst of this hub"
    return {
        "time": datetime.now(UTC).isoformat(),
        "analysts": analysts,
        "other_apps": others,
        "cluster": cluster_view(master, master_url),
    }


def cluster_view(master: dict | None, master_url: str | None = None) -> dict:
    if master is None:
        return {"available": False, "master": master_url}
    share = spark_share.parse(master)  # cores and applications read as the kernels' waiting line reads them
    alive = alive_workers(master)
    return {
        "available": True,
        "master": master.get("url", master_url),
        "status": master.get("status"),
        "workers_alive": len(alive),
        "cores_total": share.cores,
        "cores_used": share.cores - share.free,
        "cores_free": share.free,
        "memory_total_mb": sum(w.get("memory", 0) for w in alive),
        "memory_used_mb": sum(w.get("memoryused", 0) for w in alive),
        "apps_running": sum(a.state == "RUNNING" for a in share.apps),
        "apps_waiting": len(share.waiting),
    }


@dataclass
class Sources:
    """Where a snapshot comes from."""

    hub_api: str  # e.g. http://127.0.0.1:8081/hub/api
    token: str
    public_url: str  # the proxy: servers whose own address is not visible are asked through it
    master_webui: str | None = None  # e.g. http://127.0.0.1:8090; None: no Spark view (external cluster)
    account_prefix: str = ACCOUNT_PREFIX  # HuntHub.account_prefix: whose OS account is whose


def snapshot(src: Sources) -> dict:
    users = hub_users(src.hub_api, src.token)
    master = None
    if src.master_webui:
        try:
            master = _get_json(f"{src.master_webui.rstrip('/')}/json/", timeout=3)
        except (OSError, ValueError):
            master = None
    executors, silent = worker_executors(master)
    procs = scan_processes()
    names = {u["name"] for u in users}
    app_owner = {a["id"]: a["name"] for a in (master or {}).get("activeapps", []) if a["name"] in names}
    owned = attribute(procs, app_owner, src.account_prefix)
    direct = server_urls(procs, owned)
    wanted = [
        (u["name"], server_name)
        for u in users
        for server_name, model in (u.get("servers") or {}).items()
        if model.get("ready") and not model.get("pending")
    ]

    def ask(key):
        name, server_name = key
        base = direct.get(key) or urllib.parse.urljoin(src.public_url, u_path(name, server_name))
        try:
            return key, server_kernels(base, src.token)
        except urllib.error.HTTPError as e:
            return key, f"the server answered {e.code}"
        except (OSError, ValueError) as e:
            return key, f"the server did not answer ({getattr(e, 'reason', e)})"

    with ThreadPoolExecutor(max_workers=8) as pool:
        kernels = dict(pool.map(ask, wanted))
    limits = caps_of(sorted(names), src.account_prefix)
    snap = build(
        users, master, None if silent else executors, procs, kernels, src.master_webui, src.account_prefix, limits
    )
    for a in snap["analysts"]:
        for row in a["servers"]:
            if (a["name"], row["name"]) in kernels:
                row["kernels_asked"] = "directly" if (a["name"], row["name"]) in direct else "through the proxy"
    if src.master_webui and master is None:
        snap["problems"] = [f"the Spark master's web UI {src.master_webui} does not answer"]
    elif silent:
        snap["problems"] = [f"worker(s) {', '.join(silent)} did not answer: executor memory counted from this host"]
    return snap


def caps_of(names: list[str], prefix: str) -> dict[str, dict]:
    """Each analyst's caps and use from their cgroup (hunthub.analyst_limits): cpu (cores), memory and
    memory_used (bytes), pids and pids_used; analysts without a group (no server, or a hub that cannot cap) are
    left out."""
    if analyst_limits.unavailable():
        return {}
    found = {}
    for name in names:
        try:
            applied = analyst_limits.limits_of(f"{prefix}{name}")
        except (OSError, ValueError):
            continue
        if applied is not None:
            found[name] = dataclasses.asdict(applied)
    return found


def u_path(name: str, server_name: str = "") -> str:
    path = f"/user/{urllib.parse.quote(name, safe='')}/"
    return path + (f"{urllib.parse.quote(server_name, safe='')}/" if server_name else "")


# --- the service token ------------------------------------------------------------------------------


def token_file(hub_dir: Path) -> Path:
    return Path(hub_dir) / TOKEN_FILE


def ensure_token(hub_dir: Path) -> str:
    """The service's API token, generated once into a 0600 file in the hub's private dir."""
    import secrets

    from hunthub.stack import _secret_file

    return _secret_file(token_file(hub_dir), lambda: secrets.token_hex(32))[0]


def read_token(hub_dir: Path) -> str:
    path = token_file(hub_dir)
    try:
        token = path.read_text().strip()
    except PermissionError:
        raise StatusError(
            f"cannot read {path}: run `hunthub status` as root (or the account that runs the hub)"
        ) from None
    except FileNotFoundError:
        if not Path(hub_dir).exists():
            raise StatusError(f"no hub state in {hub_dir}: is this the state dir of a hub (--state-dir)?") from None
        raise StatusError(
            f"no status token in {path}: start the hub (`hunthub up`) once; hubs started before `hunthub status` "
            "existed need a restart"
        ) from None
    except OSError as e:
        raise StatusError(f"cannot read {path}: {e.strerror}") from None
    if not token:
        raise StatusError(f"{path} is empty: delete it and restart the hub, which writes a new one")
    return token


def master_webui(s) -> str | None:
    """The Spark master's web UI where hunthub runs one (none in docker mode when tasks run in analysts'
    containers); None: no Spark view."""
    if s.spawner == "docker" and s.analyst_tasks == "driver":
        return None
    return f"http://127.0.0.1:{s.spark_master_webui_port}" if s.embedded_cluster or s.spawner == "docker" else None


def sources_for(s) -> Sources:
    """Where `hunthub status` looks, from hunthub's settings."""
    webui = master_webui(s)
    return Sources(
        hub_api=f"{s.local_url}hub/api", token=read_token(s.hub_dir), public_url=s.local_url, master_webui=webui,
        account_prefix=s.account_prefix,
    )  # fmt: skip


# --- words ----------------------------------------------------------------------------------------


def size(n: float | None, unit: str = "B") -> str:
    if n is None:
        return "?"
    n = float(n) * (1024 * 1024 if unit == "MB" else 1)
    if n == 0:
        return "0"
    for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or suffix == "TiB":
            return f"{n:.0f} {suffix}" if suffix in ("B", "KiB", "MiB") else f"{n:.1f} {suffix}"
        n /= 1024
    return f"{n:.1f} TiB"


def ago(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return "?"
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return "?"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    secs = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, width in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= width:
            return f"{secs // width}{unit}"
    return f"{secs}s"


def server_text(a: dict) -> str:
    parts = []
    for s in a["servers"]:
        label = f"{s['name']}: " if s["name"] else ""
        if s["state"] == "running":
            parts.append(f"{label}running, active {ago(s['last_activity'])} ago")
        elif s["state"] == "starting":
            parts.append(f"{label}starting ({ago(s['started'])})" if s["started"] else f"{label}starting")
        else:
            parts.append(label + s["state"])
    return "; ".join(parts)


def kernels_text(a: dict) -> str:
    k = a["kernels"]
    errors = [s["kernels_error"] for s in a["servers"] if s["kernels_error"]]
    if errors:
        return "? (" + errors[0] + ")"
    if not k["total"]:
        return "0"
    return f"{k['total']} ({k['busy']} busy, {k['idle']} idle)"


def apps_text(a: dict) -> str:
    if not a["apps"]:
        drivers = a.get("drivers", 0)
        return f"0 on the cluster; {drivers} own driver(s)" if drivers else "0"
    states = sorted({x["state"].lower() for x in a["apps"]})
    return f"{len(a['apps'])} ({', '.join(states)})"


def caps_text(a: dict) -> str:
    """`1 CPU, 1.2 GiB of 4.0 GiB`: the analyst's caps and the memory they use against it; `-`: not capped."""
    caps = a.get("limits")
    if not caps:
        return "-"
    cpu = f"{caps['cpu']:g} CPU" if caps["cpu"] else "any CPU"
    memory = f"{size(caps['memory_used'])} of {size(caps['memory'])}" if caps["memory"] else size(caps["memory_used"])
    return f"{cpu}, {memory}"


def table(snap: dict) -> str:
    header = ("ANALYST", "SERVER", "KERNELS", "SPARK APPS", "CORES", "EXEC MEM", "PSS", "CAPS (MEMORY USED)")
    rows = [
        (
            a["name"] + (" (admin)" if a["admin"] else ""),
            server_text(a),
            kernels_text(a),
            apps_text(a),
            str(a["cores"]),
            size(a["executor_memory_mb"], "MB"),
            size(a["pss_bytes"]),
            caps_text(a),
        )
        for a in snap["analysts"]
    ]
    lines = []
    if rows:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    else:
        lines.append("No analyst has a server or holds anything on the cluster.")
    if snap["other_apps"]:
        lines += ["", "Spark applications of no analyst:"]
        for x in snap["other_apps"]:
            lines.append(
                f"  {x['id']}  {x['name']}  ({x['holder']}; OS user {x['user'] or '?'})  {x['state'].lower()}, "
                f"{x['cores']} cores, {size(x['executor_memory_mb'], 'MB')} executor memory"
            )
    lines += ["", cluster_text(snap["cluster"])]
    lines += [f"NOTE: {p}" for p in snap.get("problems", [])]
    return "\n".join(lines)


def cluster_text(c: dict) -> str:
    if not c.get("available"):
        if not c.get("master"):
            return "Spark cluster: none watched (an external cluster's web UI is unknown to hunthub, or there is none)"
        return f"Spark cluster: no answer from {c['master']}"
    waiting = f"; {c['apps_waiting']} application(s) WAITING for cores" if c["apps_waiting"] else ""
    return (
        f"Spark cluster {c['master']}: {c['workers_alive']} worker(s); cores {c['cores_used']} of {c['cores_total']} "
        f"in use, {c['cores_free']} free; executor memory {size(c['memory_used_mb'], 'MB')} of "
        f"{size(c['memory_total_mb'], 'MB')}; {c['apps_running']} application(s) running{waiting}"
    )


def command(s, args) -> int:
    """`hunthub status [--json]`."""
    try:
        snap = snapshot(sources_for(s))
    except StatusError as e:
        print(f"hunthub status: {e}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        json.dump(snap, sys.stdout, indent=2)
        print()
    else:
        print(table(snap))
    return 0

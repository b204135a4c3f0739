"""Who holds the cores of a Spark standalone cluster, from its master's JSON status (`<master web UI>/json/`).

A job on a full cluster waits for executor cores without a word; only the master knows who holds them. This
module turns the master's status into a small typed snapshot and renders the two texts analysts see: the
"waiting for executor cores" line of a cell (or of `hunthub ingest`), and the status of what one application
holds (the kernels' `%spark`). hunthub names every analyst's application after the analyst and ingest's
`hunthub-ingest`, so grouping by application name says who holds what.

Fields read (Spark 4.1's master JSON): workers[].state/cores/coresused; activeapps[] with id, name, user, cores
(granted now), memoryperexecutor (MB), state (WAITING until the first executor, then RUNNING), starttime (ms).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


@dataclass(frozen=True)
class App:
    """One application the master lists as active (running or still waiting for its first executor)."""

    id: str
    name: str
    user: str
    cores: int  # granted to it right now
    memory_per_executor_mb: int
    state: str
    started: float  # seconds since the epoch

    @property
    def waiting(self) -> bool:
        return self.state == "WAITING"


@dataclass(frozen=True)
class Share:
    """The cluster's cores and who holds them, at one moment."""

    cores: int  # over ALIVE workers
    free: int
    apps: list[App] = field(default_factory=list)

    @property
    def holders(self) -> list[App]:
        return [a for a in self.apps if a.cores > 0]

    @property
    def waiting(self) -> list[App]:
        return [a for a in self.apps if a.waiting]

    def app(self, app_id: str | None) -> App | None:
        return next((a for a in self.apps if a.id == app_id), None)


class MasterUnavailable(Exception):
    """The master's web UI did not answer (or not with its JSON status)."""


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse(state: dict) -> Share:
    """The snapshot of a master's JSON status; missing fields count as zero, never as an error."""
    alive = [w for w in state.get("workers") or [] if w.get("state") == "ALIVE"]
    cores = sum(_int(w.get("cores")) for w in alive)
    used = sum(_int(w.get("coresused")) for w in alive)
    apps = [
        App(
            id=str(a.get("id", "")),
            name=str(a.get("name", "")),
            user=str(a.get("user", "")),
            cores=_int(a.get("cores")),
            memory_per_executor_mb=_int(a.get("memoryperexecutor")),
            state=str(a.get("state", "")),
            started=_int(a.get("starttime")) / 1000,
        )
        for a in state.get("activeapps") or []
    ]
    return Share(cores=cores, free=max(0, cores - used), apps=apps)


def fetch(webui: str, timeout: float = 3.0) -> Share:
    """The master's status now; raises MasterUnavailable when its web UI does not answer."""
    url = f"{webui.rstrip('/')}/json/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - an admin-configured http URL
            return parse(json.load(r))
    except (OSError, ValueError, urllib.error.URLError) as e:
        raise MasterUnavailable(f"the Spark master's web UI {webui} did not answer ({e})") from e


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def holders(share: Share, exclude: str | None = None) -> list[tuple[str, int, int]]:
    """(application name, cores, applications) of everyone holding cores, largest first; `exclude` is an
    application id left out (the one asking)."""
    groups: dict[str, list[int]] = {}
    for a in share.holders:
        if a.id != exclude:
            groups.setdefault(a.name or a.id, []).append(a.cores)
    return sorted(((name, sum(c), len(c)) for name, c in groups.items()), key=lambda g: (-g[1], g[0]))


def holders_text(share: Share, exclude: str | None = None) -> str:
    """`alice 2 cores (2 apps), bob 1, hunthub-ingest 1`; 'nobody' when no application holds cores."""
    parts = []
    for i, (name, cores, apps) in enumerate(holders(share, exclude)):
        amount = plural(cores, "core") if i == 0 else str(cores)
        parts.append(f"{name} {amount}" + (f" ({apps} apps)" if apps > 1 else ""))
    return ", ".join(parts) or "nobody"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def cores_text(share: Share) -> str:
    return f"{share.free} of {plural(share.cores, 'core')} free"


def waiting_line(waited: float, share: Share | None, app_id: str | None = None, problem: str = "") -> str:
    """The one line a waiting job shows. `share` None: who holds the cores is unknown, `problem` says why
    (no master web UI known, or it did not answer)."""
    head = f"Waiting {duration(waited)} for executor cores"
    if share is None:
        why = problem or "the Spark master's web UI is not known here"
        return f"{head}: who holds the cluster's cores is unknown ({why}). The job starts when cores come free."
    me = share.app(app_id)
    if me is not None and me.cores > 0:
        # granted by the master: its executors are starting (a JVM on the worker), nothing to wait for
        return f"{head}: {plural(me.cores, 'core')} granted, executors starting ({cores_text(share)})."
    return f"{head}: {cores_text(share)}; held by {holders_text(share, app_id)}. The job starts when cores come free."


def waited_line(waited: float) -> str:
    """What the waiting line becomes once the job has its executors."""
    return f"Waited {duration(waited)} for executor cores; the job is running."


def advice(share: Share | None, app_id: str | None = None, problem: str = "") -> str:
    """What someone who cannot get cores can do, naming who holds them when that is known."""
    held = f"Cores are held by {holders_text(share, app_id)}" if share is not None else problem or ""
    parts = [held + "." if held else ""]
    parts.append(
        "Try again later, or ask those analysts (or an admin) to stop their idle sessions: `hunthub status` "
        "lists them; or run on this host alone with --master 'local[2]'."
    )
    return " ".join(p for p in parts if p)


@dataclass
class Held:
    """What one application holds, as its own driver sees it (see kernels/core_wait.py)."""

    app_id: str
    app_name: str
    master: str
    executors: int
    executor_memory: str  # spark.executor.memory
    cores_max: str  # spark.cores.max, '' when unset
    running_jobs: list[str] = field(default_factory=list)  # "job 3: 2 of 8 tasks done"
    dynamic: dict[str, str] = field(default_factory=dict)  # the session's spark.dynamicAllocation.* properties


def _seconds(value: str) -> str:
    """A Spark time property as read: `30s` or a bare `30` (seconds) as `30 s`; other units as written."""
    value = value.strip()
    number = value.removesuffix("s")
    return f"{number} s" if number.isdigit() else value


def dynamic_text(dynamic: dict[str, str], cores_max: str = "") -> str:
    """One sentence on how executors come and go for this session."""
    if dynamic.get("spark.dynamicAllocation.enabled", "false").lower() != "true":
        return (
            "Dynamic allocation is off: this session keeps its executors as long as it lives; restart or shut "
            "down the kernel to give their cores back."
        )
    idle = _seconds(dynamic.get("spark.dynamicAllocation.executorIdleTimeout", "60s"))
    text = f"Dynamic allocation is on: executors come when a job needs them and leave after {idle} idle"
    cached = dynamic.get("spark.dynamicAllocation.cachedExecutorIdleTimeout")
    if cached:
        text += f" ({_seconds(cached)} while they hold cached data)"
    if cores_max:
        text += f"; this session never holds more than {plural(_int(cores_max), 'core')} (spark.cores.max)"
    return text + "."


def status_text(held: Held, share: Share | None, problem: str = "") -> str:
    """`%spark`: what this application holds now, what runs, and the cluster's cores."""
    me = share.app(held.app_id) if share is not None else None
    lines = [f"Application {held.app_id} '{held.app_name}' on {held.master}"]
    if held.master.startswith("local"):
        threads = held.master[len("local[") : -1] if held.master.startswith("local[") else "1"
        lines.append(
            f"Tasks run in this session's own driver, as you, on {threads} core(s), with the driver's memory; "
            "no other analyst's code runs there, and no cluster cores are held"
        )
        lines.append("Running jobs: " + ("; ".join(held.running_jobs) if held.running_jobs else "none"))
        return "\n".join(lines)
    executors = f"Executors held now: {held.executors}"
    if me is not None:
        executors += f", {plural(me.cores, 'core')}, {me.memory_per_executor_mb} MB each"
        if me.waiting:
            executors += " (waiting for its first executor)"
    else:
        executors += f", {held.executor_memory or '?'} each"
    lines.append(executors)
    lines.append("Running jobs: " + ("; ".join(held.running_jobs) if held.running_jobs else "none"))
    if share is None:
        lines.append(f"Cluster: who holds its cores is unknown ({problem or 'no Spark master web UI known here'})")
    else:
        others = holders_text(share, held.app_id)
        if me is not None and me.cores:
            lines.append(f"Cluster: {cores_text(share)}; this session holds {me.cores}, the others: {others}")
        else:
            lines.append(f"Cluster: {cores_text(share)}; held by {others}")
        waiting = [a for a in share.waiting if a.id != held.app_id]
        if waiting:
            lines.append("Waiting for cores: " + ", ".join(sorted({a.name or a.id for a in waiting})))
        for a in sorted(share.apps, key=lambda a: (-a.cores, a.name, a.id)):
            mine = "  <- this session" if a.id == held.app_id else ""
            since = time.strftime("%H:%M", time.localtime(a.started)) if a.started else "?"
            lines.append(
                f"  {a.id}  {a.name:<16} user {a.user:<12} {plural(a.cores, 'core'):<8} "
                f"{a.memory_per_executor_mb} MB/executor  {a.state.lower()} since {since}{mine}"
            )
    lines.append(dynamic_text(held.dynamic, held.cores_max))
    return "\n".join(lines)

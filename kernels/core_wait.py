"""Say so while a job waits for executor cores, and what an application holds (`%spark`).

On a full standalone cluster a new job waits, silently, until some other application gives cores back. A
`CoreWatcher` per kernel (or per `hunthub ingest`) watches the driver while a cell runs: when the application
has a running job and no executor for a few seconds, it asks the master who holds the cores and shows a waiting
line (spark_share.waiting_line), refreshed in place, until executors arrive; then the line says how long it
waited.

One mechanism for every kernel: the driver's JVM SparkContext over py4j (statusTracker().getActiveJobIds(),
getExecutorIds()). The PySpark and SQL kernels and ingest reach it through PySpark; the Scala kernel's REPL runs
in a driver JVM that Python launched through py4j too, so the same calls work there, from this watcher's own
thread (py4j gives each Python thread its own JVM thread, so a busy interpreter thread does not block them).
"""

from __future__ import annotations

import html
import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from hunthub import spark_share
from hunthub.kernel_env import KernelEnv

POLL = 1.0  # seconds between two looks at the driver while a cell runs
SHOW_AFTER = 4.0  # seconds without any executor before asking the master: a granted executor takes seconds to start
REFRESH = 3.0  # seconds between two updates of the waiting line
STARTING_GRACE = 20.0  # granted cores whose executors have not registered yet: only said after this long
TERMINAL_EVERY = 15.0  # seconds between two waiting lines in a log (not a terminal)


@dataclass(frozen=True)
class DriverState:
    app_id: str
    active_jobs: int
    executors: int
    local: bool  # a local master: its executor is the driver itself, it never waits for cores

    @property
    def waiting(self) -> bool:
        return not self.local and self.active_jobs > 0 and self.executors == 0


def driver_state(jsc) -> DriverState:
    """`jsc` is the JVM org.apache.spark.SparkContext (a py4j object)."""
    return DriverState(
        app_id=jsc.applicationId(),
        active_jobs=len(jsc.statusTracker().getActiveJobIds()),
        # the executors registered with this driver right now (the driver itself is not one)
        executors=jsc.getExecutorIds().size(),
        local=jsc.isLocal(),
    )


def webui(env=os.environ) -> str:
    """Where the master's web UI is (set by the hub for the embedded cluster), '' when not known."""
    return KernelEnv.from_environ(env).master_webui


def cluster_share(url: str) -> tuple[spark_share.Share | None, str]:
    """(snapshot, '') or (None, why who holds the cores is unknown)."""
    if not url:
        return None, "the Spark master's web UI is not known here"
    try:
        return spark_share.fetch(url), ""
    except spark_share.MasterUnavailable as e:
        return None, str(e)


def stopped_line(waited: float) -> str:
    return f"Stopped after waiting {spark_share.duration(waited)} for executor cores."


# --- where the line shows ----------------------------------------------------------------------------


class DisplaySink:
    """A display in the executing cell: display_data once, then update_display_data with the same display_id.

    `parent` is the execute_request's header as captured when the cell started: sent from the watcher's thread
    through the kernel's session and iopub socket (thread-safe in ipykernel), the line lands in that cell.
    """

    def __init__(self, kernel, parent: dict):
        self._kernel = kernel
        self._parent = parent
        self._id = f"hunthub-core-wait-{uuid.uuid4().hex}"
        self._sent = False

    def show(self, text: str, final: bool = False) -> None:
        style = "color:#555" if final else "color:#8a5a00"
        markup = f'<div class="hunthub-core-wait" style="{style}">{html.escape(text)}</div>'
        content = {
            "data": {"text/plain": text, "text/html": markup},
            "metadata": {},
            "transient": {"display_id": self._id},
        }
        kind = "update_display_data" if self._sent else "display_data"
        self._sent = True
        k = self._kernel
        k.session.send(k.iopub_socket, kind, content, parent=self._parent, ident=k._topic(kind))


class TerminalSink:
    """stderr of `hunthub ingest`: one line rewritten in place on a terminal, a new line every TERMINAL_EVERY
    seconds in a log."""

    def __init__(self, stream=None, tty: bool | None = None, every: float = TERMINAL_EVERY):
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._every = every
        self._last = None
        self._open = False  # a line written in place, not ended yet

    def show(self, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if self._tty:
            self._stream.write("\r\x1b[K" + text + ("\n" if final else ""))
            self._open = not final
        elif final or self._last is None or now - self._last >= self._every:
            self._stream.write(text + "\n")
            self._last = now
        self._stream.flush()


# --- the waiting of one cell -------------------------------------------------------------------------


class Waiting:
    """One cell's (or one ingest's) waiting: since when, what was shown, whether a wait limit passed."""

    def __init__(self, sink, url: str, max_wait: float | None = None, on_limit: Callable[[], None] | None = None):
        self.sink = sink
        self.url = url
        self.max_wait = max_wait
        self.on_limit = on_limit
        self.limit_passed = False
        self.had_executor = False
        self.share: spark_share.Share | None = None
        self.problem = ""
        self.app_id: str | None = None
        self.waited = 0.0  # of the last wait, when it ended or now
        self._lock = threading.Lock()
        self._since: float | None = None
        self._next = 0.0
        self._shown = False  # the line is showing a wait now
        self._closed = False

    def observe(self, state: DriverState) -> None:
        now = time.monotonic()
        with self._lock:
            if self._closed or self.limit_passed:  # past the limit its jobs are being cancelled: nothing to add
                return
            self.app_id = state.app_id
            if state.executors > 0:
                self.had_executor = True
            if not state.waiting:
                if self._since is not None:
                    self.waited = now - self._since
                    if self._shown and state.executors > 0:
                        self.sink.show(spark_share.waited_line(self.waited), final=True)
                    elif self._shown:  # cancelled, or failed, before any executor came
                        self.sink.show(stopped_line(self.waited), final=True)
                self._since, self._shown = None, False
                return
            if self._since is None:
                self._since, self._next = now, now + SHOW_AFTER
            if now < self._next:
                return
            self._next = now + REFRESH
        share, problem = cluster_share(self.url)  # outside the lock: the master may take seconds to answer
        with self._lock:
            if self._closed or self._since is None:
                return
            self.waited = time.monotonic() - self._since
            self.share, self.problem = share, problem
            me = share.app(state.app_id) if share is not None else None
            if not self._shown and me is not None and me.cores > 0 and self.waited < STARTING_GRACE:
                return  # the master gave it cores; its executors are on their way
            self.sink.show(spark_share.waiting_line(self.waited, share, state.app_id, problem))
            self._shown = True
            limited = self.max_wait is not None and not self.had_executor and not self.limit_passed
            if limited and self.waited >= self.max_wait:
                self.limit_passed = True
                if self.on_limit is not None:
                    self.on_limit()

    def close(self) -> None:
        """The cell ended: a line still saying "waiting" says it stopped waiting."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._shown and self._since is not None:
                self.waited = time.monotonic() - self._since
                self.sink.show(stopped_line(self.waited), final=True)


class CoreWatcher:
    """One per kernel (or ingest): a daemon thread that watches the driver while a `Waiting` is open.

    `context()` returns the JVM SparkContext, or None while the session is not up yet.
    """

    _names = itertools.count(1)

    def __init__(self, context: Callable[[], object | None], url: str | None = None, poll: float = POLL):
        self._context = context
        self.url = webui() if url is None else url
        self._poll = poll
        self._current: Waiting | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def begin(self, sink, max_wait: float | None = None, on_limit=None) -> Waiting:
        waiting = Waiting(sink, self.url, max_wait, on_limit)
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"hunthub-core-wait-{next(self._names)}", daemon=True
                )
                self._thread.start()
        previous, self._current = self._current, waiting
        if previous is not None:
            previous.close()
        self._wake.set()
        return waiting

    def end(self) -> Waiting | None:
        waiting, self._current = self._current, None
        if waiting is not None:
            waiting.close()
        return waiting

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            waiting = self._current
            if waiting is None:
                self._wake.clear()
                if self._current is None:
                    continue
                waiting = self._current
            try:
                jsc = self._context()
                if jsc is not None:
                    waiting.observe(driver_state(jsc))
            except Exception:  # noqa: BLE001, S110 - the driver is stopping or gone: the cell says why
                pass
            time.sleep(self._poll)


# --- `%spark`: what this application holds ---------------------------------------------------------------


def _running_jobs(jsc) -> list[str]:
    tracker = jsc.statusTracker()
    jobs = []
    for job_id in sorted(tracker.getActiveJobIds()):
        info = tracker.getJobInfo(job_id)
        done = total = 0
        if info.isDefined():
            for stage_id in info.get().stageIds():
                stage = tracker.getStageInfo(stage_id)
                if stage.isDefined():
                    done += stage.get().numCompletedTasks()
                    total += stage.get().numTasks()
        jobs.append(f"job {job_id}: {done} of {spark_share.plural(total, 'task')} done")
    return jobs


def held(jsc) -> spark_share.Held:
    """What this application's driver knows about what it holds, from its JVM SparkContext."""
    conf = jsc.conf()
    dynamic = {f"spark.dynamicAllocation.{t._1()}": t._2() for t in conf.getAllWithPrefix("spark.dynamicAllocation.")}
    return spark_share.Held(
        app_id=jsc.applicationId(),
        app_name=jsc.appName(),
        master=jsc.master(),
        executors=jsc.getExecutorIds().size(),
        executor_memory=conf.get("spark.executor.memory", "1g"),
        cores_max=conf.get("spark.cores.max", ""),
        running_jobs=_running_jobs(jsc),
        dynamic=dynamic,
    )


def status(jsc, url: str | None = None) -> str:
    """The `%spark` text."""
    url = webui() if url is None else url
    mine = held(jsc)
    share, problem = (None, "") if jsc.isLocal() else cluster_share(url)
    return spark_share.status_text(mine, share, problem)

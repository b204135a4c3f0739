"""The kernel's Spark session is the only session: pyspark's "get or create" calls return it, never a new one.

Why: the PySpark kernel builds its session on a background thread (starter.py), so until that thread is done pyspark
itself knows of no session. A notebook whose first cell is the usual `SparkSession.builder.appName("x")
.getOrCreate()` (or `SparkContext.getOrCreate()`, `SparkContext(conf=...)`) would then have pyspark start a second
driver in the kernel: a `local[*]` one, under a name of the analyst's choosing, with all the host's cores and none of
the catalog's tables: outside the cluster, the pinned identity (hunthub.identity) and the analyst's share of cores.

What: `install(kernel)` wraps, in the kernel's process, `SparkSession.Builder.getOrCreate` and `.create`,
`SparkSession.getActiveSession` (and so `SparkSession.active`), `SparkContext.getOrCreate` and `SparkContext.__init__`.
Called from any thread but the starter's, they first wait for the kernel's session and mark it in use, exactly as
touching `spark` does; a session that failed to start raises the starter's SparkUnavailableError. Then:
- the builder runs pyspark's own getOrCreate against the existing session with only the settings `spark.conf.set`
  would accept (runtime SQL settings: pyspark then applies them as it does for any existing session); the rest
  (master, app name, driver, executor and other cluster settings, whatever hunthub.identity pins) are left out and
  named once in the cell: "not applied: ...". `create()` does the same: outside Spark Connect pyspark has no
  "new session" to give, and a Spark Connect one would leave the cluster too;
- `SparkContext.getOrCreate(conf)` returns the session's context, and names the settings of `conf` it did not apply;
- `SparkContext(...)` cannot give back an existing object: it raises OnlySessionError, saying to use `sc`;
- after `spark.stop()` they raise OnlySessionError: restart the kernel. A stopped session is not replaced by one
  made here, which would be a local one (the cluster's settings live in the starter, not in the analyst's code).
The starter's own calls (session.start, warm_driver.adopt) pass straight through: it builds the real session, and
must never wait for itself.

What it cannot do: code that reads pyspark's globals (`SparkContext._active_spark_context`) without asking for a
session first sees none until the session is up, and gets pyspark's own "SparkContext or SparkSession should be
created first" (pyspark.sql.functions asks `getActiveSession()` first, for its call-site tracking, and so waits);
code that launches its own JVM (`launch_gateway`, spark-submit from a shell) is not pyspark asking for a session,
and is not stopped. The SQL kernel runs no analyst Python and needs none of this; the Scala REPL creates its session
before the first cell, and Spark's JVM-side builder returns that one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping

from hunthub import identity

# Settings that pick the cluster, the identity or the share of it. Applying them to a live session would be a lie
# (the driver and executors already run) or, for the few `spark.conf.set` would take, a way around the hub's choice.
# spark.remote and spark.api.mode would make pyspark build a Spark Connect session instead of returning this one.
CLUSTER_PREFIXES = (
    "spark.master",
    "spark.app.name",
    "spark.remote",
    "spark.api.mode",
    "spark.submit.",
    "spark.driver.",
    "spark.executor.",
    "spark.executorEnv.",
    "spark.cores.max",
    "spark.dynamicAllocation.",
    "spark.ui.",
    "spark.authenticate",
)
# whatever hunthub.identity forces on every driver (today the app name and the YARN queue), kept in step with it
PINNED = frozenset(identity.pin_properties({}, identity.Identity("-", queue="-")))
LABELS = {"spark.master": "master", "spark.app.name": "app name"}

STOPPED = (
    "hunthub: this kernel's Spark session was stopped (spark.stop()). Restart the kernel for a new one "
    "(Kernel > Restart Kernel); hunthub does not start a second Spark session in a kernel."
)
SECOND_CONTEXT = (
    "hunthub: this kernel already has its SparkContext: use `sc` (or `SparkContext.getOrCreate()`, "
    "`spark.sparkContext`). A second SparkContext cannot run beside it."
)


class OnlySessionError(RuntimeError):
    """A second Spark session or context was asked for; the message says what to use instead."""


def cluster_setting(key: str) -> bool:
    """Whether `key` is the cluster's and the hub's to set, never a notebook's."""
    return key.startswith(CLUSTER_PREFIXES) or key in PINNED


def split(
    requested: Mapping[str, str],
    current: Mapping[str, str],
    settable: Callable[[str], bool],
    defaults: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(applied, not applied) of the settings a notebook asked for: a setting the live session can take at run time
    (`settable`, what `spark.conf.set` accepts) is applied unless it is a cluster setting; the others are not, and
    are worth naming only where they differ from what the session has (`current`) and from what a notebook's
    `SparkConf()` holds without being told (`defaults`: the driver JVM's system properties, which Spark does not
    always keep as they are in the session: it adds its own Java options to spark.executor.extraJavaOptions)."""
    defaults = defaults or {}
    applied, not_applied = {}, {}
    for key, value in requested.items():
        if not cluster_setting(key) and settable(key):
            applied[key] = value
        elif value not in (current.get(key), defaults.get(key)):
            not_applied[key] = value
    return applied, not_applied


def describe(not_applied: Mapping[str, str]) -> str:
    """`master 'local[*]', app name 'x', spark.executor.memory=4g`: the named ones first, then by key."""
    named = [f"{LABELS[k]} '{not_applied[k]}'" for k in LABELS if k in not_applied]
    rest = [f"{k}={v}" for k, v in sorted(not_applied.items()) if k not in LABELS]
    return ", ".join(named + rest)


def notice(app_name: str, master: str, not_applied: Mapping[str, str]) -> str:
    return (
        f"hunthub: this kernel's Spark session is hunthub's session (application '{app_name}' on {master}); "
        f"not applied: {describe(not_applied)}"
    )


class OnlySession:
    """The kernel's side: which calls are the starter's, how to wait for the session, what was said already."""

    def __init__(self, starter: threading.Thread, attach: Callable[[], None]):
        self.starter = starter  # a SessionStarter: .in_use, .result(), .info
        self.attach = attach
        self._said: set[frozenset] = set()
        self._lock = threading.Lock()

    def passes_through(self) -> bool:
        # the starter creates the real session with these very calls; waiting for itself would never end
        return threading.current_thread() is self.starter

    def session(self, stopped_ok: bool = False):
        """The kernel's session, waited for and marked in use as the `spark` stand-in does; raises the starter's
        SparkUnavailableError if it could not start, OnlySessionError once stopped (unless `stopped_ok`)."""
        self.starter.in_use.set()
        spark = self.starter.result()
        self.attach()
        if spark.sparkContext._jsc is None and not stopped_ok:  # pyspark drops _jsc on stop()
            raise OnlySessionError(STOPPED)
        return spark

    def tell(self, not_applied: Mapping[str, str]) -> None:
        """Name the settings not applied, once per distinct set: a cell run again says nothing new."""
        if not not_applied:
            return
        key = frozenset(not_applied.items())
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        info = self.starter.info  # set with the session: what the hub made it, under the name it pinned
        print(notice(info.app_name, info.master, not_applied), file=sys.stderr, flush=True)


_hook: OnlySession | None = None
_originals: dict[str, Callable] = {}


def install(kernel) -> OnlySession:
    """Redirect pyspark's session and context creation to `kernel.starter`'s session, in this process."""
    global _hook
    _hook = OnlySession(kernel.starter, kernel.attach)
    if not _originals:  # once per process: a second kernel object (tests) only replaces the hook
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        _originals.update(
            builder_get_or_create=SparkSession.Builder.getOrCreate,
            builder_create=SparkSession.Builder.create,
            get_active_session=SparkSession.__dict__["getActiveSession"].__func__,
            context_get_or_create=SparkContext.__dict__["getOrCreate"].__func__,
            context_init=SparkContext.__init__,
        )
        SparkSession.Builder.getOrCreate = _builder_get_or_create
        SparkSession.Builder.create = _builder_create
        SparkSession.getActiveSession = classmethod(_get_active_session)
        SparkContext.getOrCreate = classmethod(_context_get_or_create)
        SparkContext.__init__ = _context_init
    return _hook


def _current_values(spark) -> tuple[dict[str, str], dict[str, str]]:
    """The session's settings, and the JVM's defaults that a notebook's `SparkConf()` picks up by itself."""
    from pyspark import SparkConf

    return dict(spark.sparkContext.getConf().getAll()), dict(SparkConf().getAll())


def _settable(spark) -> Callable[[str], bool]:
    """Whether `spark.conf.set(key, ...)` would take `key`: Spark's own check, without setting anything."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    jconf = spark._jsparkSession.conf()

    def settable(key: str) -> bool:
        try:
            jconf.requireNonStaticConf(key)
        except (Py4JError, PySparkException):  # pyspark turns the JVM's refusal into an AnalysisException
            return False
        return True

    return settable


def _get_or_create(builder):
    spark = _hook.session()
    current, defaults = _current_values(spark)
    applied, not_applied = split(dict(builder._options), current, _settable(spark), defaults)
    # pyspark's own getOrCreate, on a builder holding only what may apply: it finds the existing session and applies
    # those settings to it (applyModifiableSettings), as for any existing session
    only_applicable = type(builder)()
    only_applicable._options = applied
    found = _originals["builder_get_or_create"](only_applicable)
    _hook.tell(not_applied)
    return found


def _builder_get_or_create(self):
    if _hook.passes_through():
        return _originals["builder_get_or_create"](self)
    return _get_or_create(self)


def _builder_create(self):
    if _hook.passes_through():
        return _originals["builder_create"](self)
    return _get_or_create(self)


def _get_active_session(cls):
    if _hook.passes_through():
        return _originals["get_active_session"](cls)
    spark = _hook.session(stopped_ok=True)
    found = _originals["get_active_session"](cls)
    # Spark's active session is per JVM thread, and the session was made on the starter's: a cell's thread has
    # none of its own, yet this is its session (pandas-on-Spark would otherwise ask the builder for one)
    if found is None and spark.sparkContext._jsc is not None:
        return spark
    return found


def _context_get_or_create(cls, conf=None):
    if _hook.passes_through():
        return _originals["context_get_or_create"](cls, conf)
    spark = _hook.session()
    if conf is not None:  # a live context takes no settings at all
        current, defaults = _current_values(spark)
        _, not_applied = split(dict(conf.getAll()), current, lambda key: False, defaults)
        _hook.tell(not_applied)
    return _originals["context_get_or_create"](cls, None)


def _context_init(self, *args, **kwargs):
    if _hook.passes_through():
        return _originals["context_init"](self, *args, **kwargs)
    _hook.session()  # the starter's clear error if Spark could not start, or the one for a stopped session
    raise OnlySessionError(SECOND_CONTEXT)

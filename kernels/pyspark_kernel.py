"""The "PySpark (hunthub)" kernel: IPython with `spark` and `sc` attached to the hunthub cluster.

The driver starts the moment the kernel does, on a background thread, so it warms up while the analyst is
still reading the notebook. Until it is ready, `spark` and `sc` are stand-ins that wait for it on first use;
cells that do not touch Spark never wait. pyspark's own ways to get a session (`SparkSession.builder...getOrCreate()`,
`SparkContext.getOrCreate()`) return this same session, at any moment (see only_session.py).
"""

from __future__ import annotations

import os
import threading

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp

from hunthub import __version__
from hunthub.kernel_env import KernelEnv
from hunthub.kernels import core_wait, core_yield, only_session, session
from hunthub.kernels.session import SparkUnavailableError
from hunthub.kernels.starter import SessionStarter, banner


def _render(exc: Exception) -> list[str]:
    # IPython shows this instead of a traceback: the message is the whole story
    return [f"\x1b[31m{line}\x1b[0m" for line in str(exc).splitlines()]


SparkUnavailableError._render_traceback_ = lambda self: _render(self)
only_session.OnlySessionError._render_traceback_ = lambda self: _render(self)


class _Pending:
    """Stands in for `spark` or `sc` until the session exists; every use waits for it."""

    def __init__(self, kernel: HuntHubPySparkKernel, name: str):
        object.__setattr__(self, "_kernel", kernel)
        object.__setattr__(self, "_name", name)

    def _target(self):
        kernel = object.__getattribute__(self, "_kernel")
        kernel.starter.in_use.set()
        spark = kernel.starter.result()
        kernel.attach()
        return spark if object.__getattribute__(self, "_name") == "spark" else spark.sparkContext

    def __getattr__(self, attr):
        return getattr(self._target(), attr)

    def __repr__(self):
        return repr(self._target())

    def __dir__(self):
        return dir(self._target()) if self._kernel.starter.ready.is_set() else []


def _register_graphistry():
    from hunthub.graph import graphistry

    graphistry.register_from_env()


class HuntHubPySparkKernel(IPythonKernel):
    implementation = "hunthub-pyspark"
    implementation_version = __version__
    banner = "PySpark (hunthub): `spark` and `sc` are attached to the hunthub Spark cluster."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.starter = SessionStarter()
        # before the starter runs: no window where the analyst's code (even a startup file) could make its own
        # session, and pyspark is imported here first rather than by two threads at once
        only_session.install(self)
        self.starter.start()
        if KernelEnv.from_environ(os.environ).graphistry_server:
            # log in to the Graphistry server while the analyst reads, so the first show() uploads at once;
            # bounded by the server timeout, and nothing at all happens without a configured server
            threading.Thread(target=_register_graphistry, name="hunthub-graphistry", daemon=True).start()
        self._attached = False
        ns = self.shell.user_ns
        ns["spark"] = _Pending(self, "spark")
        ns["sc"] = _Pending(self, "sc")
        ns["scratch"] = session.scratch_uri()
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        self._jvm_context = None
        self.core_watch = core_wait.CoreWatcher(self._jvm_spark_context)
        # an idle session gives its executors back when another analyst waits for cores
        self.core_yield = core_yield.start(self._jvm_spark_context, core_wait.webui(), log=self.log.info)
        self.shell.register_magic_function(self._spark_magic, "line", "spark")

    def _jvm_spark_context(self):
        """The driver's JVM SparkContext once the session is up (for the core watcher), else None."""
        if self._jvm_context is None and self.starter.ready.is_set() and self.starter.spark is not None:
            self._jvm_context = self.starter.spark.sparkContext._jsc.sc()
        return self._jvm_context

    def _spark_magic(self, line=""):
        """%spark: this session's application, the executors and cores it holds now, its running jobs, the
        cluster's free cores and who holds the rest, and how dynamic allocation gives executors back."""
        self.starter.in_use.set()
        spark = self.starter.result()
        self.attach()
        print(core_wait.status(spark.sparkContext._jsc.sc()))

    def _pre_run_cell(self, info):
        # the line "waiting for executor cores" goes to this cell: its request's header, taken now
        self.core_watch.begin(core_wait.DisplaySink(self, self.get_parent("shell")))
        if self.starter.ready.is_set():
            self.starter.in_use.set()
            self.attach()

    def _post_run_cell(self, result):
        self.core_watch.end()
        # SparkContext only installs its cancel-on-Ctrl-C handler when created on the main thread
        if isinstance(result.error_in_exec, KeyboardInterrupt) and self.starter.spark is not None:
            self.starter.spark.sparkContext.cancelAllJobs()

    def attach(self):
        """Once: put the real objects in place of the stand-ins and show where the session runs."""
        if self._attached or not self.starter.ready.is_set():
            return
        self._attached = True
        ns = self.shell.user_ns
        if self.starter.error is not None:
            return  # the stand-ins keep raising the clear error on every use
        for name, obj in (("spark", self.starter.spark), ("sc", self.starter.spark.sparkContext)):
            if isinstance(ns.get(name), _Pending):
                ns[name] = obj
        self._announce(self.starter.spark, self.starter.info)

    def _announce(self, spark, info: session.SessionInfo):
        from IPython.display import display

        display(banner(spark.version, info), raw=True)

    def do_shutdown(self, restart):
        if self.starter.spark is not None:
            try:
                self.starter.spark.stop()
            except Exception:  # noqa: BLE001, S110 - the JVM exits with us anyway
                pass
        return super().do_shutdown(restart)


class HuntHubPySparkKernelApp(IPKernelApp):
    kernel_class = HuntHubPySparkKernel


def main():
    HuntHubPySparkKernelApp.launch_instance()


if __name__ == "__main__":
    main()

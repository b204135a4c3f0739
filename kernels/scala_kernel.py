"""The "Scala (Spark, hunthub)" kernel: Spark's Scala REPL with `spark` and `sc` attached to the hunthub cluster.

The driver JVM, the interpreter and the session start the moment the kernel does, in the background (see
scala_repl), so kernel_info is answered at once and the analyst reads the notebook while Spark starts; the
first cell waits for it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ipykernel.kernelapp import IPKernelApp
from ipykernel.kernelbase import Kernel

from hunthub import __version__
from hunthub.kernels import core_wait, core_yield
from hunthub.kernels.scala_repl import ADD_JAR_HELP, MAGICS_HELP, Error, Result, ScalaRepl, Stream
from hunthub.kernels.session import SparkUnavailableError
from hunthub.kernels.starter import banner

# seconds an interrupted cell gets to stop by itself before its thread is stopped the hard way
INTERRUPT_GRACE = 15


def _scala_version() -> str:
    """From the wheel's scala-library jar, so kernel_info needs no JVM."""
    try:
        import pyspark

        jar = next((Path(pyspark.__file__).parent / "jars").glob("scala-library-*.jar"))
        return jar.name.removeprefix("scala-library-").removesuffix(".jar")
    except (ImportError, StopIteration):
        return "2.13"


class HuntHubScalaKernel(Kernel):
    implementation = "hunthub-scala"
    implementation_version = __version__
    language = "scala"
    language_version = _scala_version()
    language_info = {
        "name": "scala",
        "version": language_version,
        "mimetype": "text/x-scala",
        "file_extension": ".scala",
        "codemirror_mode": "text/x-scala",
        "pygments_lexer": "scala",
    }
    banner = f"Scala (Spark, hunthub): `spark` and `sc` are attached to the hunthub Spark cluster. {MAGICS_HELP}."
    help_links = [
        {
            "text": "Spark Scala API",
            "url": "https://spark.apache.org/docs/latest/api/scala/org/apache/spark/index.html",
        },
        {"text": "Scala 2.13 library", "url": "https://www.scala-lang.org/api/2.13.x/"},
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.repl = ScalaRepl()
        self.repl.start()
        self._announced = False
        self.core_watch = core_wait.CoreWatcher(self.repl.spark_context)
        # an idle session gives its executors back when another analyst waits for cores
        self.core_yield = core_yield.start(self.repl.spark_context, core_wait.webui(), log=self.log.info)

    # --- execute -----------------------------------------------------------------------------------

    async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kwargs):
        if not code.strip():
            return self._ok()
        parent = self.get_parent("shell")

        def send(msg_type, content):
            if not silent:
                self.session.send(self.iopub_socket, msg_type, content, parent=parent, ident=self._topic(msg_type))

        try:
            self._wait_for_spark()
        except KeyboardInterrupt:
            return self._error(send, Error("Interrupted", "Spark is still starting; run the cell again", []))
        if self.repl.error is not None:
            return self._error(send, _unavailable(self.repl.error))
        if not self._announced:
            self._announced = True
            timings = ", ".join(f"{k} {v:.1f} s" for k, v in self.repl.timings.items())
            self.log.info("hunthub-scala: driver ready after %s", timings)
            send("display_data", {"data": self._banner(), "metadata": {}})

        stop = threading.Event()
        pump = threading.Thread(
            target=self.repl.pump, args=(lambda name, text: send("stream", {"name": name, "text": text}), stop)
        )
        pump.start()
        if not silent:
            # the line "waiting for executor cores" goes to this cell (the request's header, taken above)
            self.core_watch.begin(core_wait.DisplaySink(self, parent))
        try:
            outputs = self._run(code)
        finally:
            self.core_watch.end()
            stop.set()
            pump.join()
        error = None
        for out in outputs:
            if isinstance(out, Stream):
                send("stream", {"name": out.name, "text": out.text})
            elif isinstance(out, Result):
                send("execute_result", {"execution_count": self.execution_count, "data": out.data, "metadata": {}})
            elif isinstance(out, Error):
                error = out
        return self._error(send, error) if error else self._ok()

    def _wait_for_spark(self) -> None:
        # short waits: a SIGINT (interrupt) raises KeyboardInterrupt between them
        while not self.repl.wait_ready(0.2):
            pass

    def _run(self, code: str) -> list:
        future = self.repl.run_async(code)
        interrupted_at = None
        while True:
            try:
                return future.result(timeout=1)
            except TimeoutError:
                if interrupted_at is not None and time.monotonic() - interrupted_at > INTERRUPT_GRACE:
                    self.repl.force_stop()
                    interrupted_at = time.monotonic()  # try again later rather than spin
            except KeyboardInterrupt:
                if future.cancel():
                    return [Error("Interrupted", "the cell was cancelled before it started", [])]
                self.repl.interrupt()
                interrupted_at = interrupted_at or time.monotonic()
            except SparkUnavailableError as e:
                return [_unavailable(e)]
            except Exception as e:  # noqa: BLE001 - e.g. the driver JVM died (out of memory, killed)
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                lines = [
                    f"The Spark driver failed running this cell: {type(e).__name__}: {first}",
                    "If the next cell fails too, restart the kernel.",
                    f"Driver log: {self.repl.info.driver_log if self.repl.info else '(none)'}",
                ]
                return [Error("DriverError", lines[0], [f"\x1b[31m{ln}\x1b[0m" for ln in lines])]

    def _banner(self) -> dict[str, str]:
        return banner(
            self.repl.spark_version, self.repl.info, note_html="<code>%AddJar</code> adds a jar", note_text=ADD_JAR_HELP
        )

    def _ok(self) -> dict:
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def _error(self, send, error: Error) -> dict:
        content = {"ename": error.ename, "evalue": error.evalue, "traceback": error.traceback}
        send("error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    # --- the rest of the protocol ------------------------------------------------------------------

    async def do_complete(self, code, cursor_pos):
        cursor_pos = len(code) if cursor_pos is None else cursor_pos
        try:
            matches, start = self.repl.complete(code, cursor_pos)
        except Exception:  # noqa: BLE001 - no completion is better than a broken reply
            matches, start = [], cursor_pos
        return {
            "status": "ok",
            "matches": matches,
            "cursor_start": start,
            "cursor_end": cursor_pos,
            "metadata": {},
        }

    async def do_is_complete(self, code):
        status = self.repl.is_complete(code)
        return {"status": status, "indent": "  "} if status == "incomplete" else {"status": status}

    async def do_shutdown(self, restart):
        self.repl.stop()
        return {"status": "ok", "restart": restart}


def _unavailable(e: SparkUnavailableError) -> Error:
    lines = str(e).splitlines()
    return Error("SparkUnavailableError", lines[0] if lines else "", [f"\x1b[31m{ln}\x1b[0m" for ln in lines])


class HuntHubScalaKernelApp(IPKernelApp):
    kernel_class = HuntHubScalaKernel


def main():
    HuntHubScalaKernelApp.launch_instance()


if __name__ == "__main__":
    main()

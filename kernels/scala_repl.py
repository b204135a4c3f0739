"""Spark's own Scala 2.13 REPL (spark-repl + scala-compiler from the pyspark wheel) in a driver JVM, over py4j.

Why it is built this way (each point was a failure first):
- The interpreter must exist before the SparkContext, and the session is created *inside* it with
  `org.apache.spark.repl.Main.createSparkSession()`: that sets `spark.repl.class.outputDir`, so executors fetch
  the classes cells define. A context created first makes case classes collected back fail (ClassNotFound).
- Every interpreter call runs on one Python thread: py4j pins each Python thread to one JVM thread, and the
  REPL's context class loader and Console redirection belong to that JVM thread.
- A case class defined in the same cell as a Dataset action fails in Spark (NPE in OuterScopes, as in
  spark-shell's :paste): such cells are split into their type definitions and the statements after them.
"""

from __future__ import annotations

import os
import queue
import re
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from hunthub import spare_cpu
from hunthub.kernel_env import KernelEnv, variable
from hunthub.kernels import core_wait, scala_output, session, spark_activity, spark_ui
from hunthub.kernels.session import SessionInfo, SparkUnavailableError

ROW_LIMIT = 20
POLL = 0.2
# spark-shell's own set-up, minus the banner: @transient keeps the session out of serialized closures.
# Jobs from cells interrupt their task threads when cancelled, so an interrupted cell frees the executor
# cores at once instead of when its tasks would have ended (a thread-local property: this thread runs cells).
BOOTSTRAP = """\
@transient val spark = org.apache.spark.repl.Main.createSparkSession()
@transient val sc = spark.sparkContext
sc.setLocalProperty("spark.job.interruptOnCancel", "true")
import spark.implicits._
import spark.sql
import org.apache.spark.sql.functions._
val scratch: String = sys.env.getOrElse("SCRATCH_VARIABLE",
  new java.io.File(sys.props("user.home"), ".hunthub/scratch").toURI.toString)
""".replace("SCRATCH_VARIABLE", variable("scratch"))
_TYPE_DEFS = {"ClassDef", "ModuleDef"}
_NOT_EXPRESSIONS = {"ClassDef", "ModuleDef", "ValDef", "DefDef", "TypeDef", "Import", "PackageDef"}
_ADD_JAR = re.compile(r"^\s*%AddJar\s+(\S+)\s*$", re.IGNORECASE)
_MAGIC = re.compile(r"^\s*%(\w+)")
_SPARK_STATUS = re.compile(r"^\s*%spark\s*$")
ADD_JAR_HELP = "%AddJar <path, file: or http(s): URL of a jar> adds a jar to the interpreter and the executors"
MAGICS_HELP = (
    f"{ADD_JAR_HELP}; %spark shows the executors and cores this session holds and who holds the rest of the cluster"
)


@dataclass
class Stream:
    name: str  # "stdout" or "stderr"
    text: str


@dataclass
class Result:
    data: dict[str, str]


@dataclass
class Error:
    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)


class ScalaRepl:
    """One interpreter with `spark` and `sc` bound; `start()` boots it in the background, the rest waits."""

    def __init__(self, env=os.environ):
        self.env = env
        self.ready = threading.Event()
        self.error: SparkUnavailableError | None = None
        self.info: SessionInfo | None = None
        self.spark_version = ""
        self.timings: dict[str, float] = {}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="hunthub-scala-repl", daemon=True)
        self._gateway = None
        self._intp = None
        self._jthread = None  # the JVM thread behind self._thread, for interrupts
        self._interrupted = False
        self._busy = threading.Event()
        self.wanted = threading.Event()  # someone waits for the interpreter: its start is no longer a bet

    # --- the interpreter thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._submit(self._boot)

    def _submit(self, fn, *args) -> Future:
        future: Future = Future()
        self._jobs.put((fn, args, future))
        return future

    def _serve(self) -> None:
        while True:
            fn, args, future = self._jobs.get()
            if fn is None:
                future.set_result(None)
                return
            if not future.set_running_or_notify_cancel():
                continue
            self._busy.set()
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits for it
                future.set_exception(e)
            finally:
                self._busy.clear()

    def call(self, fn, *args, timeout: float | None = None):
        """Run fn on the interpreter thread and wait for it (after the boot, which is queued first)."""
        self.wanted.set()
        return self._submit(fn, *args).result(timeout)

    # --- start ---------------------------------------------------------------------------------------

    def _boot(self) -> None:
        log_path = None
        # started with the kernel, this JVM is a bet until a cell or a completion needs it (hunthub.spare_cpu)
        spare_cpu.wait(self.wanted.is_set)
        try:
            started = time.monotonic()
            session.preflight(KernelEnv.from_environ(self.env), self.env)
            log_path = session.driver_log_path(self.env)
            self._start_jvm(log_path)
            self.timings["jvm"] = time.monotonic() - started
            self._start_interpreter()
            self.timings["interpreter"] = time.monotonic() - started
            self._start_session(log_path)
            self.timings["session"] = time.monotonic() - started
        except SparkUnavailableError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - anything else must still reach the analyst as a clear error
            tail = session.log_tail(log_path) if log_path else ""
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.error = SparkUnavailableError(
                f"Spark could not start its driver: {first}" + (f"\nDriver log {log_path}:\n{tail}" if tail else "")
            )
        finally:
            self.ready.set()

    def _start_jvm(self, log_path: Path) -> None:
        from pyspark import SparkConf
        from pyspark.java_gateway import launch_gateway

        self._ui_port = session.free_port()
        props = session.spark_properties(self.env, self._ui_port)
        # spark-repl would otherwise enable Hive and create a Derby metastore in the notebook's directory
        props.setdefault("spark.sql.catalogImplementation", "in-memory")
        props.update(spark_ui.ui_properties(props))  # its key follows once the JVM runs (spark_ui.give_key)
        self._props = props
        conf = SparkConf(loadDefaults=False).setAll(props.items())
        # the JVM's own chatter (log4j, JVM warnings) goes to a log file, not into the analyst's cells;
        # its stdin is our pipe, so it exits when this kernel does, even on SIGKILL
        session.pin_driver_environment(self.env)
        with open(log_path, "ab") as log:
            self._gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        self._ui_key = spark_ui.new_key()
        spark_ui.give_key(self._gateway, self._ui_key)  # before BOOTSTRAP creates the SparkContext

    def _start_interpreter(self) -> None:
        jvm = self._gateway.jvm
        self._jthread = jvm.java.lang.Thread.currentThread()
        outdir = jvm.org.apache.spark.repl.Main.outputDir().getAbsolutePath()
        settings = jvm.scala.tools.nsc.Settings()
        # -deprecation: each deprecation with its line, rather than a count and a hint at REPL commands we lack
        settings.processArgumentString(f"-Yrepl-class-based -Yrepl-outdir {outdir} -usejavacp -deprecation")
        self._echo = jvm.java.io.StringWriter()  # what the REPL itself prints: definitions, values, errors
        reporter = jvm.scala.tools.nsc.interpreter.shell.ReplReporterImpl(
            settings, jvm.java.io.PrintWriter(self._echo, True)
        )
        self._intp = jvm.scala.tools.nsc.interpreter.IMain(settings, reporter)
        if not self._intp.initializeCompiler():
            raise RuntimeError(f"the Scala compiler did not start: {self._echo.toString().strip()}")
        self._intp.setContextClassLoader()
        # cells print through scala.Console, which is per thread: redirect it on this one (threads a cell
        # starts inherit it). System.out too, for Java libraries; System.err stays in the driver log.
        self._out, out = self._buffer()
        self._err, err = self._buffer()
        console = jvm.java.lang.Class.forName("scala.Console$").getField("MODULE$").get(None)
        console.setOutDirect(out)
        console.setErrDirect(err)
        # the JVM's stdin is the kernel's lifeline pipe: a cell reading it would block for good
        console.setInDirect(jvm.java.io.BufferedReader(jvm.java.io.StringReader("")))
        jvm.java.lang.System.setOut(out)
        self._completion = jvm.scala.tools.nsc.interpreter.shell.ReplCompletion(
            self._intp, jvm.scala.tools.nsc.interpreter.shell.Accumulator()
        )

    def _buffer(self):
        """A PrintStream whose text collects in a StringBuffer that other threads drain while a cell runs."""
        jvm = self._gateway.jvm
        writer = jvm.java.io.StringWriter()
        utf8 = jvm.java.nio.charset.StandardCharsets.UTF_8
        stream = jvm.org.apache.commons.io.output.WriterOutputStream(writer, utf8, 1024, True)
        return writer.getBuffer(), jvm.java.io.PrintStream(stream, True, "UTF-8")

    def _start_session(self, log_path: Path) -> None:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        result = self._intp.interpret(BOOTSTRAP).toString()
        echo = self._take_echo()
        self._drain(self._out)
        self._drain(self._err)
        if result != "Success":
            first = next((ln for ln in echo.splitlines() if ln.strip()), result)
            tail = session.log_tail(log_path)
            message = f"Spark could not start its driver: {first.strip()}"
            raise SparkUnavailableError(f"{message}\nDriver log {log_path}:\n{tail}")
        jvm = self._gateway.jvm
        self._jspark = self._intp.valueOfTerm("spark").get()
        self._jsc = self._jspark.sparkContext()
        self._dataset_class = jvm.java.lang.Class.forName("org.apache.spark.sql.Dataset")
        self.spark_version = self._jspark.version()
        # a PySpark view of the same JVM session: the catalog registration is shared with the PySpark kernel
        jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(self._jsc)
        self._pyspark = SparkSession(SparkContext(gateway=self._gateway, jsc=jsc), self._jspark)
        tables, problems = session.register_catalog(self._pyspark, KernelEnv.from_environ(self.env))
        ui = self._jsc.uiWebUrl()
        port = int(ui.get().rsplit(":", 1)[1].split("/")[0]) if ui.isDefined() else self._ui_port
        prefix = self.env.get("JUPYTERHUB_SERVICE_PREFIX")
        self.info = SessionInfo(
            master=self._props["spark.master"],
            app_name=self._props["spark.app.name"],
            ui_port=port,
            ui_path=f"{session.ui_proxy_path(prefix, port)}/jobs/" if prefix else "",
            ui_key=self._ui_key,
            tables=tables,
            problems=problems,
            driver_log=str(log_path),
        )
        # the analyst's server sees this driver's running jobs, so neither culler stops a kernel whose job runs
        spark_activity.announce(self._pyspark, port, self._ui_key)

    def spark_context(self):
        """The driver's JVM SparkContext once the session is up, else None (for the core watcher, which calls it
        from its own thread: py4j gives that thread its own JVM thread, beside the busy interpreter thread)."""
        if self.ready.is_set() and self.error is None:
            return getattr(self, "_jsc", None)
        return None

    def wait_ready(self, timeout: float | None = None) -> bool:
        self.wanted.set()
        return self.ready.wait(timeout)

    def _require(self) -> None:
        self.ready.wait()
        if self.error:
            raise self.error

    # --- output ------------------------------------------------------------------------------------

    def _take_echo(self) -> str:
        buf = self._echo.getBuffer()
        text = buf.toString()
        buf.setLength(0)
        return text

    @staticmethod
    def _drain(buffer) -> str:
        # appends only happen at the end: taking the first n characters loses nothing written meanwhile
        n = buffer.length()
        if not n:
            return ""
        text = buffer.substring(0, n)
        buffer.delete(0, n)
        return text

    def pump(self, emit, stop: threading.Event, poll: float = POLL) -> None:
        """Forward what the running cell prints to emit(name, text) until `stop` is set (from another thread)."""
        while True:
            stopping = stop.wait(poll)
            if self.ready.is_set() and not self.error and self._intp is not None:
                try:
                    for name, buffer in (("stdout", self._out), ("stderr", self._err)):
                        text = self._drain(buffer)
                        if text:
                            emit(name, text)
                except Exception:  # noqa: BLE001, S110 - the JVM is going away; the cell reports it
                    pass
            if stopping:
                return

    # --- cells -------------------------------------------------------------------------------------

    def run_async(self, code: str) -> Future:
        """Run a cell on the interpreter thread: a Future of its outputs; printed text goes through pump()."""
        return self._submit(self._run, code)

    def _run(self, code: str) -> list[Stream | Result | Error]:
        self._require()
        self._interrupted = False
        self._gateway.jvm.java.lang.Thread.interrupted()  # an interrupt that came after the last cell ended
        outputs: list[Stream | Result | Error] = []
        code = self._magics(code, outputs)
        if any(isinstance(o, Error) for o in outputs) or not code.strip():
            return outputs
        self._take_echo()
        parsed = self._intp.parse(code)
        if parsed.isLeft():
            if parsed.left().get().toString() == "Incomplete":
                self._take_echo()
                message = "the cell ends in the middle of an expression (an unclosed bracket, string or comment?)"
                return [*outputs, Error("Incomplete", message, [f"\x1b[31merror: {message}\x1b[0m"])]
            return [*outputs, self._compile_error(scala_output.parse_report(self._take_echo()), code)]
        trees = _trees(parsed.right().get()._1(), code)
        echo, warnings = [], []
        for start, end in _chunks(trees, len(code)):
            line_offset = code.count("\n", 0, start)
            column = start - (code.rfind("\n", 0, start) + 1)
            result = self._intp.interpret(code[start:end]).toString()
            text = self._take_echo()
            if result == "Success":
                report = scala_output.parse_report(text, line_offset, column)
                echo.append(report.text)
                warnings += report.diagnostics
                continue
            outputs += self._warnings(warnings, code)
            shown = "\n".join(e for e in echo if e)
            if shown:
                outputs.append(Stream("stdout", shown + "\n"))
            if scala_output.is_runtime_error(text) or self._interrupted:
                return [*outputs, self._runtime_error(text)]
            report = scala_output.parse_report(text, line_offset, column)
            return [*outputs, self._compile_error(report, code)]
        outputs += self._warnings(warnings, code)
        return outputs + self._value(trees, "\n".join(e for e in echo if e))

    def _warnings(self, diagnostics, code) -> list[Stream]:
        lines = [ln for d in diagnostics for ln in d.render(code)]
        return [Stream("stderr", "\n".join(lines) + "\n")] if lines else []

    def _compile_error(self, report: scala_output.Report, code: str) -> Error:
        errors = report.errors or [scala_output.Diagnostic("error", [report.text or "the cell did not compile"])]
        trace = [ln for d in report.diagnostics for ln in d.render(code)]
        if report.text and not report.errors:
            trace = [report.text, *trace]
        return Error("CompileError", errors[0].message[0], [f"\x1b[31m{ln}\x1b[0m" for ln in trace])

    def _runtime_error(self, text: str) -> Error:
        ename, evalue, trace = scala_output.runtime_error(text)
        if self._interrupted:
            note = "Interrupted: the cell was stopped and its Spark jobs were cancelled."
            return Error("Interrupted", note, [f"\x1b[31m{note}\x1b[0m", *trace[:1]])
        return Error(ename, evalue, [f"\x1b[31m{trace[0]}\x1b[0m", *trace[1:]] if trace else [])

    def _value(self, trees, echo: str) -> list[Stream | Result | Error]:
        """The cell's value as spark-shell shows it; a Dataset as a table of its first rows instead."""
        if trees and trees[-1][0] not in _NOT_EXPRESSIONS:
            name = self._intp.mostRecentVar()
            value = self._intp.valueOfTerm(name)
            if value.isDefined() and value.get() is not None and self._dataset_class.isInstance(value.get()):
                lines = echo.splitlines()
                at = max((i for i, ln in enumerate(lines) if ln.startswith(f"val {name}: ")), default=len(lines))
                before = "\n".join(lines[:at]).strip("\n")
                return ([Stream("stdout", before + "\n")] if before else []) + [self._table(value.get())]
        return [Result({"text/plain": echo})] if echo else []

    def _table(self, dataset) -> Result:
        from pyspark.sql import functions as F
        from pyspark.sql.classic.dataframe import DataFrame

        df = DataFrame(dataset.toDF(), self._pyspark)
        columns = df.columns
        # positional names (joins repeat names) and strings cast by Spark, so values print as show() prints them
        plain = df.toDF(*[f"c{i}" for i in range(len(columns))])
        rows = plain.select([F.col(f"c{i}").cast("string") for i in range(len(columns))]).limit(ROW_LIMIT + 1).collect()
        truncated = len(rows) > ROW_LIMIT
        rows = [list(r) for r in rows[:ROW_LIMIT]]
        return Result(
            {
                "text/plain": scala_output.text_table(columns, rows, truncated),
                "text/html": scala_output.html_table(columns, rows, truncated),
            }
        )

    # --- magics ------------------------------------------------------------------------------------

    def _magics(self, code: str, outputs: list) -> str:
        """Handle the %magic lines at the top of a cell; returns the cell with them blanked out (so the Scala
        after them keeps its line numbers in error messages)."""
        lines = code.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if line.strip() and not _MAGIC.match(line):
                break
            lines[i] = "\n"
            if not line.strip():
                continue
            if _SPARK_STATUS.match(line):
                outputs.append(Stream("stdout", core_wait.status(self._jsc) + "\n"))
                continue
            jar = _ADD_JAR.match(line)
            if not jar:
                message = f"unknown magic {line.strip()}"
                outputs.append(Error("UnknownMagic", message, [f"\x1b[31m{message}\x1b[0m", MAGICS_HELP]))
                return ""
            try:
                path = self._add_jar(jar.group(1))
            except Exception as e:  # noqa: BLE001 - a bad jar is the analyst's to fix, not a crash
                outputs.append(Error("AddJarError", str(e), [f"\x1b[31mcould not add {jar.group(1)}: {e}\x1b[0m"]))
                return ""
            outputs.append(Stream("stdout", f"Added {path} to the interpreter and the executors.\n"))
        return "".join(lines)

    def _add_jar(self, spec: str) -> str:
        parsed = urllib.parse.urlparse(spec)
        if parsed.scheme in ("http", "https"):
            target = Path(tempfile.mkdtemp(prefix="hunthub-jars-")) / (Path(parsed.path).name or "added.jar")
            with urllib.request.urlopen(spec, timeout=60) as r, open(target, "wb") as f:  # noqa: S310
                f.write(r.read())
            path = target
        elif parsed.scheme == "file":
            path = Path(urllib.parse.unquote(parsed.path))
        else:
            path = Path(spec).expanduser()
        path = path.resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such jar: {path}")
        jvm = self._gateway.jvm
        urls = jvm.java.util.ArrayList()
        urls.add(jvm.java.net.URL(path.as_uri()))
        self._intp.addUrlsToClassPath(jvm.scala.jdk.javaapi.CollectionConverters.asScala(urls).toList())
        self._jsc.addJar(str(path))
        return str(path)

    # --- completion, completeness --------------------------------------------------------------------

    def complete(self, code: str, cursor: int, timeout: float = 20) -> tuple[list[str], int]:
        """(matches, start of the completed text), as Python string offsets."""
        if not self.ready.is_set() or self.error or self._busy.is_set():
            return [], cursor
        return self.call(self._complete, code, cursor, timeout=timeout)

    def _complete(self, code: str, cursor: int) -> tuple[list[str], int]:
        jcursor = _utf16_len(code[:cursor])
        result = self._completion.complete(code, jcursor)
        names, it = [], result.candidates().iterator()
        while it.hasNext():
            name = it.next().name()
            if name not in names:
                names.append(name)
        start = result.cursor() if names else jcursor
        return names, _index_of_utf16(code, start)

    def is_complete(self, code: str, timeout: float = 10) -> str:
        """'complete', 'incomplete' or 'invalid'; the compiler's parser once it is up, brackets before."""
        if _MAGIC.match(code) and "\n" not in code.strip():
            return "complete"
        if not self.ready.is_set() or self.error or self._busy.is_set():
            return scala_output.scan_complete(code)
        try:
            return self.call(self._is_complete, code, timeout=timeout)
        except TimeoutError:
            return scala_output.scan_complete(code)

    def _is_complete(self, code: str) -> str:
        parsed = self._intp.parse(code)
        self._take_echo()  # parse errors are reported; here only the verdict counts
        if parsed.isRight():
            return "complete"
        return "incomplete" if parsed.left().get().toString() == "Incomplete" else "invalid"

    # --- interrupt, stop -----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Cancel the cell's Spark jobs and interrupt the interpreter thread (from any other thread)."""
        if not self.ready.is_set() or self.error or self._jthread is None:
            return
        self._interrupted = True
        try:
            self._jsc.cancelAllJobs()
            self._jthread.interrupt()
        except Exception:  # noqa: BLE001, S110 - nothing left to interrupt
            pass

    def force_stop(self) -> None:
        """Last resort for a cell that ignores interrupts (a busy loop): Thread.stop, still present on Java 17."""
        if self._busy.is_set() and self._jthread is not None:
            try:
                self._jthread.stop()
            except Exception:  # noqa: BLE001, S110 - newer JVMs refuse; the cell keeps running
                pass

    def stop(self, timeout: float = 20) -> None:
        """Stop the session (the application leaves the master) and the JVM."""
        gateway = self._gateway
        if self.ready.is_set() and not self.error:
            self.interrupt()
            done = threading.Thread(target=self._stop_session, daemon=True)
            done.start()
            done.join(timeout)
        if gateway is not None:
            proc = getattr(gateway, "proc", None)
            try:
                gateway.shutdown()
            except Exception:  # noqa: BLE001, S110
                pass
            if proc is not None:
                try:
                    proc.stdin.close()  # the JVM exits when its stdin closes
                    proc.wait(10)
                except Exception:  # noqa: BLE001
                    proc.kill()

    def _stop_session(self) -> None:
        try:
            self._jspark.stop()
        except Exception:  # noqa: BLE001, S110 - the JVM exits next anyway
            pass


def _trees(trees, code: str) -> list[tuple[str, int]]:
    """(kind, start offset in `code`) of each top-level statement of a parsed cell."""
    out, it = [], trees.iterator()
    while it.hasNext():
        tree = it.next()
        pos = tree.pos()
        start = pos.start() if pos.isRange() else pos.point()
        out.append((tree.getClass().getSimpleName(), _index_of_utf16(code, start)))
    return out


def _chunks(trees: list[tuple[str, int]], end: int) -> list[tuple[int, int]]:
    """Cut a cell after each run of type definitions that statements follow (the OuterScopes NPE); every
    other cell stays one piece, so it compiles once."""
    cuts = [0]
    for (kind, _), (next_kind, next_start) in zip(trees, trees[1:], strict=False):
        if kind in _TYPE_DEFS and next_kind not in _TYPE_DEFS:
            cuts.append(next_start)
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _index_of_utf16(text: str, offset: int) -> int:
    """Python index of a JVM (UTF-16) offset into text; the same number unless text has astral characters."""
    if text.isascii():
        return offset
    units = 0
    for i, ch in enumerate(text):
        if units >= offset:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)

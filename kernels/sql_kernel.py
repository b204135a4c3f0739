"""The "Spark SQL (hunthub)" kernel: cells of Spark SQL against the hunthub cluster, results as tables.

The session starts with the kernel, in the background (see starter.py); the first cell waits for it. Each
statement runs on one worker thread under its own Spark job group, so that an interrupt (SIGINT, the kernel
spec's interrupt mode) reaches the main thread while Spark works, and cancels exactly that statement's jobs.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import itertools
import os
import re
import time

from ipykernel.kernelapp import IPKernelApp
from ipykernel.kernelbase import Kernel

from hunthub import __version__
from hunthub.kernel_env import KernelEnv
from hunthub.kernels import core_wait, core_yield, sql_render, sql_text
from hunthub.kernels.session import SparkUnavailableError
from hunthub.kernels.starter import SessionStarter, banner

DEFAULT_ROW_LIMIT = 1000
CANCEL_WAIT = 30  # seconds a cancelled statement gets to give its worker thread back

HELP = """Spark SQL (hunthub): each cell runs one or more Spark SQL statements, separated by `;`, on the hunthub \
Spark cluster. Every table of the hunthub catalog is there by its name (SHOW TABLES lists them).
Results show at most {limit} rows. `%limit N` on the first line of a cell shows up to N rows for that cell; a \
cell holding only `%limit N` changes the limit for the cells after it. `%spark` on a line of its own shows \
the executors and cores this session holds, its running jobs, and who holds the rest of the cluster.
Tab completes keywords, tables and columns (`alias.` gives the columns of a table); Shift-Tab on a table shows \
its columns. Interrupting the kernel cancels the running query."""


def row_limit(env=os.environ) -> int:
    value = KernelEnv.from_environ(env).sql_row_limit
    return value if value > 0 else DEFAULT_ROW_LIMIT


class StatementError(Exception):
    """A statement failed; carries what the analyst is shown."""

    def __init__(self, ename: str, evalue: str, traceback: list[str]):
        super().__init__(evalue)
        self.ename, self.evalue, self.traceback = ename, evalue, traceback


def describe_error(exc: BaseException, statement: sql_text.Statement) -> StatementError:
    """Spark's error condition, SQLSTATE, position and message; never the Java or Python stack."""
    from pyspark.errors import PySparkException

    if not isinstance(exc, PySparkException):
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if type(exc).__name__.startswith("Py4J"):
            first = f"the Spark driver did not answer ({first}); restart the kernel if this persists"
        shown = f"{sql_render.RED}{type(exc).__name__}{sql_render.RESET}: {first}"
        return StatementError(type(exc).__name__, first, [shown])
    condition = (exc.getCondition() if hasattr(exc, "getCondition") else exc.getErrorClass()) or ""
    sqlstate = exc.getSqlState() or ""
    message = sql_render.clean_message(exc.getMessage() or str(exc), condition, sqlstate)
    start = stop = None
    where = ""
    for ctx in exc.getQueryContext() or []:
        if getattr(ctx.contextType(), "name", "") != "SQL":
            continue
        if ctx.objectType():
            # the position is in that view's own SQL text, not in the analyst's statement
            where = f"{ctx.objectType().lower()} {ctx.objectName()}".strip()
        else:
            start, stop = ctx.startIndex(), ctx.stopIndex()
        break
    if start is None and not where:
        # parse errors carry no query context; their message ends with "(line L, pos P)"
        found = re.search(r"\(line (\d+), pos (\d+)\)", str(exc))
        if found:
            lines = statement.text.split("\n")
            line = min(int(found.group(1)), len(lines))
            start = sum(len(x) + 1 for x in lines[: line - 1]) + int(found.group(2))
            stop = start
            while stop + 1 < len(statement.text) and re.match(r"\w", statement.text[stop + 1]):
                stop += 1
    if start is not None and not 0 <= start < max(1, len(statement.text)):
        start = stop = None
    lines = sql_render.error_lines(condition, sqlstate, message, statement, start, stop, where)
    return StatementError(condition or type(exc).__name__, message, lines)


def _as_text(column: str, data_type):
    """A column turned into the string df.show() would print (arrays [..], maps {k -> v}, structs {..})."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, StringType

    if isinstance(data_type, StringType):
        return F.col(column)
    if isinstance(data_type, BinaryType):
        return F.hex(F.col(column))
    return F.col(column).cast("string")


class HuntHubSqlKernel(Kernel):
    implementation = "hunthub-sql"
    implementation_version = __version__
    language_info = {
        "name": "sql",
        "mimetype": "text/x-sql",
        "file_extension": ".sql",
        "codemirror_mode": "sql",
        "pygments_lexer": "sql",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from pyspark.logger import PySparkLogger

        # pyspark also logs every SQL error to stderr, as JSON with the Java stack: the cell shows it already
        PySparkLogger.getLogger("SQLQueryContextLogger").disabled = True
        self.starter = SessionStarter()
        self.starter.start()
        self.row_limit = row_limit()
        self.banner = HELP.format(limit=self.row_limit)
        self._announced = False
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hunthub-sql")
        self._groups = itertools.count(1)
        self._columns: dict[str, list[str]] = {}
        self._functions: list[str] = []
        self._history: list[tuple[int, int, str]] = []
        self._jvm_context = None
        self.core_watch = core_wait.CoreWatcher(self._jvm_spark_context)
        # an idle session gives its executors back when another analyst waits for cores
        self.core_yield = core_yield.start(self._jvm_spark_context, core_wait.webui(), log=self.log.info)

    def _jvm_spark_context(self):
        """The driver's JVM SparkContext once the session is up (for the core watcher), else None."""
        spark = self._ready_spark()
        if self._jvm_context is None and spark is not None:
            self._jvm_context = spark.sparkContext._jsc.sc()
        return self._jvm_context

    # --- execution --------------------------------------------------------------------------------------

    def _show(self, bundle: dict[str, str], last: bool):
        if last:
            content = {"execution_count": self.execution_count, "data": bundle, "metadata": {}}
            self.send_response(self.iopub_socket, "execute_result", content)
        else:
            self.send_response(self.iopub_socket, "display_data", {"data": bundle, "metadata": {}})

    def _fail(self, ename: str, evalue: str, traceback: list[str], silent: bool):
        content = {"ename": ename, "evalue": evalue, "traceback": traceback}
        if not silent:
            self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    def _interrupted(self, silent: bool, note: str = "the query was cancelled"):
        red = f"{sql_render.RED}Interrupted{sql_render.RESET}: {note}."
        return self._fail("KeyboardInterrupt", note, [red], silent)

    async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **_):
        if store_history:
            self._history.append((0, self.execution_count, code))
        self._columns.clear()  # views may be redefined by this cell
        cell = sql_text.parse_cell(code)
        if cell.error:
            return self._fail("DirectiveError", cell.error, [f"{sql_render.RED}{cell.error}{sql_render.RESET}"], silent)
        if cell.spark_status:
            failed = self._spark_status(silent, last=not cell.statements and cell.limit is None)
            if failed:
                return failed
        if not cell.statements:
            if cell.limit is not None:
                self.row_limit = cell.limit
                if not silent:
                    note = f"Results now show at most {sql_render.plural(cell.limit, 'row')}."
                    self._show({"text/plain": note}, last=True)
            return self._ok()
        limit = cell.limit or self.row_limit
        spark, failed = self._session(silent)
        if failed:
            return failed
        if not self._announced:
            self._announced = True
            if not silent:
                self._show(banner(spark.version, self.starter.info), last=False)
        if not silent:
            # the line "waiting for executor cores" goes to this cell: its request's header, taken now
            self.core_watch.begin(core_wait.DisplaySink(self, self.get_parent("shell")))
        try:
            return self._run_all(spark, cell.statements, limit, silent)
        except KeyboardInterrupt:
            # between two statements, or while a result was being sent: nothing left to cancel
            return self._interrupted(silent, "the cell stopped")
        finally:
            self.core_watch.end()

    def _session(self, silent: bool):
        """(the SparkSession, None) once it is up, or (None, the failure reply the cell gets)."""
        self.starter.in_use.set()
        try:
            return self.starter.result(), None
        except SparkUnavailableError as e:
            lines = [f"{sql_render.RED}{line}{sql_render.RESET}" for line in str(e).splitlines()]
            return None, self._fail("SparkUnavailableError", str(e).splitlines()[0], lines, silent)
        except KeyboardInterrupt:
            return None, self._interrupted(silent, "Spark was still starting; run the cell again to wait for it")

    def _spark_status(self, silent: bool, last: bool):
        """`%spark`: what this session holds; the failure reply when Spark is not there, else None."""
        spark, failed = self._session(silent)
        if failed:
            return failed
        if not silent:
            self._show({"text/plain": core_wait.status(spark.sparkContext._jsc.sc())}, last=last)
        return None

    def _run_all(self, spark, statements: list[sql_text.Statement], limit: int, silent: bool):
        several = len(statements) > 1
        for n, statement in enumerate(statements, 1):
            title = sql_render.caption(statement) if several else ""
            try:
                result = self._run(spark, statement, limit)
            except KeyboardInterrupt:
                return self._interrupted(silent)
            except StatementError as e:
                return self._fail(e.ename, e.evalue, e.traceback, silent)
            if silent:
                continue
            last = n == len(statements)
            if result is None:
                self._show(sql_render.done_bundle(statement), last)
            else:
                names, types, rows, truncated, seconds = result
                self._show(sql_render.result_bundle(names, types, rows, limit, truncated, title, seconds), last)
        return self._ok()

    def _ok(self):
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def _run(self, spark, statement: sql_text.Statement, limit: int):
        group = f"hunthub-sql-{os.getpid()}-{next(self._groups)}"
        future = self._pool.submit(self._query, spark, statement, limit, group)
        try:
            while True:
                try:
                    return future.result(timeout=0.25)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt:
            spark.sparkContext.cancelJobGroup(group)
            try:
                future.result(timeout=CANCEL_WAIT)
            except concurrent.futures.TimeoutError:
                # Spark did not let go in time: leave that thread to it and run later statements on a new one
                self._pool.shutdown(wait=False)
                self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hunthub-sql")
            except Exception:  # noqa: BLE001, S110 - the cancellation itself surfaces as an error here
                pass
            raise

    def _query(self, spark, statement: sql_text.Statement, limit: int, group: str):
        """On the worker thread: run one statement; None when it has no result, else its first rows as text."""
        sc = spark.sparkContext
        # job group and description are per thread: they label this statement's jobs in the Spark UI too
        sc.setJobGroup(group, sql_render.caption(statement), interruptOnCancel=True)
        started = time.monotonic()
        try:
            df = spark.sql(statement.text)
            fields = df.schema.fields
            if not fields:
                return None
            # positional names: the result may have duplicate or dotted column names
            safe = df.toDF(*[f"c{i}" for i in range(len(fields))])
            shown = safe.select(*[_as_text(f"c{i}", f.dataType).alias(f"c{i}") for i, f in enumerate(fields)])
            rows = [list(r) for r in shown.take(limit + 1)]
        except Exception as e:  # noqa: BLE001 - every failure becomes what the analyst reads
            raise describe_error(e, statement) from None
        names = [f.name for f in fields]
        types = [f.dataType.simpleString() for f in fields]
        return names, types, rows[:limit], len(rows) > limit, time.monotonic() - started

    # --- completion, inspection, history ------------------------------------------------------------------

    def _ready_spark(self):
        return self.starter.spark if self.starter.ready.is_set() and self.starter.error is None else None

    def _tables(self, spark) -> list[str]:
        try:
            return sorted(t.name for t in spark.catalog.listTables())
        except Exception:  # noqa: BLE001 - completion never fails a keystroke
            return []

    def _columns_of(self, spark, table: str) -> list[str]:
        if table not in self._columns:
            try:
                self._columns[table] = spark.table(sql_text.quote(table)).columns
            except Exception:  # noqa: BLE001
                self._columns[table] = []
        return self._columns[table]

    def _function_names(self, spark) -> list[str]:
        if not self._functions:
            try:
                names = [r[0] for r in spark.sql("SHOW FUNCTIONS").collect()]
                self._functions = sorted(n for n in names if re.fullmatch(r"[a-z_][a-z0-9_]*", n))
            except Exception:  # noqa: BLE001
                return []
        return self._functions

    async def do_complete(self, code, cursor_pos):
        spark = self._ready_spark()
        if spark is None:
            found = sql_text.complete(code, cursor_pos)
        else:
            found = sql_text.complete(
                code,
                cursor_pos,
                self._tables(spark),
                lambda t: self._columns_of(spark, t),
                self._function_names(spark),
            )
        types = [
            {"start": found.start, "end": found.end, "text": m, "type": k}
            for m, k in zip(found.matches, found.kinds, strict=True)
        ]
        return {
            "status": "ok",
            "matches": found.matches,
            "cursor_start": found.start,
            "cursor_end": found.end,
            "metadata": {"_jupyter_types_experimental": types},
        }

    async def do_inspect(self, code, cursor_pos, detail_level=0, omit_sections=()):
        spark = self._ready_spark()
        word = sql_text.word_at(code, cursor_pos)
        text = ""
        if spark is not None and word:
            tables = {t.lower(): t for t in self._tables(spark)}
            try:
                if word.lower() in tables:
                    schema = spark.table(sql_text.quote(tables[word.lower()])).schema
                    text = f"table {tables[word.lower()]}\n" + "\n".join(
                        f"  {f.name}: {f.dataType.simpleString()}" for f in schema.fields
                    )
                elif word.lower() in self._function_names(spark):
                    rows = spark.sql(f"DESCRIBE FUNCTION {word.lower()}").collect()
                    text = "\n".join(r[0] for r in rows)
            except Exception:  # noqa: BLE001, S110 - nothing to show
                pass
        found = bool(text)
        return {"status": "ok", "found": found, "data": {"text/plain": text} if found else {}, "metadata": {}}

    async def do_is_complete(self, code):
        status = sql_text.completeness(code)
        return {"status": status, "indent": ""} if status == "incomplete" else {"status": status}

    async def do_history(
        self, hist_access_type, output, raw, session=None, start=None, stop=None, n=None, pattern=None, unique=False
    ):
        entries = list(self._history)
        if hist_access_type == "search" and pattern:
            entries = [e for e in entries if fnmatch.fnmatchcase(e[2], pattern)]
        elif hist_access_type == "range":
            entries = [e for e in entries if (start is None or e[1] >= start) and (stop is None or e[1] < stop)]
        if unique:
            seen: set[str] = set()
            entries = [e for e in reversed(entries) if not (e[2] in seen or seen.add(e[2]))][::-1]
        if n is not None and hist_access_type != "range":
            entries = entries[-n:] if n else []
        if output:
            entries = [(s, line, (code, None)) for s, line, code in entries]
        return {"status": "ok", "history": entries}

    async def do_shutdown(self, restart):
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.starter.spark is not None:
            try:
                self.starter.spark.stop()
            except Exception:  # noqa: BLE001, S110 - the JVM exits with us anyway
                pass
        return {"status": "ok", "restart": restart}


class HuntHubSqlKernelApp(IPKernelApp):
    kernel_class = HuntHubSqlKernel


def main():
    HuntHubSqlKernelApp.launch_instance()


if __name__ == "__main__":
    main()

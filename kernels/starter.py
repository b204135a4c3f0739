"""What every hunthub Spark kernel does at start: bring up the session in the background, then say where it runs.

The driver starts with the kernel, on a background thread, so it warms up while the analyst is still reading the
notebook; the first cell that needs Spark waits for it. Until that cell, the start is a bet, and waits for a spare
core on a busy host (hunthub.spare_cpu).
"""

from __future__ import annotations

import html
import sys
import threading

from hunthub import jvm_slots, spare_cpu
from hunthub.kernels import session, spark_activity, warm_driver
from hunthub.kernels.session import SparkUnavailableError


class SessionStarter(threading.Thread):
    """Starts the SparkSession once, in the background; `result()` waits for it."""

    def __init__(self):
        super().__init__(name="hunthub-spark-start", daemon=True)
        self.spark = None
        self.info: session.SessionInfo | None = None
        self.error: SparkUnavailableError | None = None
        self.ready = threading.Event()
        self.in_use = warm_driver.FirstUse()  # the analyst has started using Spark: stop warming up (and remember)
        self.slot_wait = ""  # set while the driver waits for one of the host's start slots (hunthub.jvm_slots)

    def run(self):
        adopted = None
        try:
            adopted = warm_driver.adopt() if warm_driver.enabled() else None
            if adopted:
                self.spark, self.info = adopted
            else:
                # until a cell needs Spark, this driver is a bet: it yields to a busy host (hunthub.spare_cpu)
                spare_cpu.wait(self.in_use.is_set)
                self.spark, self.info = session.start(on_wait=self._waiting_for_slot)
        except SparkUnavailableError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - anything else still must reach the analyst as a clear error
            self.error = SparkUnavailableError(f"Spark could not start: {type(e).__name__}: {e}")
        finally:
            self.ready.set()
        if self.spark is not None:  # the server watches its jobs, so a long one keeps the server from being culled
            spark_activity.announce(self.spark, self.info.ui_port, self.info.ui_key)
        if self.spark is not None:  # also an adopted warm driver: it kept no executor while it waited
            session.warm_up(
                self.spark,
                self.info.tables,
                keep_going=lambda: not self.in_use.is_set(),
                before_executor=lambda: spare_cpu.wait(self.in_use.is_set),
            )

    def _waiting_for_slot(self, slots: int, waited: float) -> None:
        self.slot_wait = jvm_slots.waiting_message(slots, waited)
        session.log_wait(slots, waited)

    def result(self):
        """The session, once it is up. A cell waiting for it is told, once, when the driver waits for a start slot
        (the analyst would otherwise see a cell hang while other analysts' drivers start)."""
        told = False
        while not self.ready.wait(1):
            if self.slot_wait and not told:
                told = True
                print(f"Your Spark session is {self.slot_wait}.", file=sys.stderr, flush=True)
        if self.error:
            raise self.error
        return self.spark


SPARK_MAGIC_TEXT = "%spark shows what you hold: executors, cores, running jobs; and who holds the rest of the cluster."
SPARK_MAGIC_HTML = "<code>%spark</code> shows what you hold"


def banner(version: str, info: session.SessionInfo, note_html: str = "", note_text: str = "") -> dict[str, str]:
    """The one-line "where does my session run" note of a kernel's first Spark cell, as a mime bundle;
    `note_*` is a kernel's own hint (e.g. its magics)."""
    tables = ", ".join(info.tables) or "none"
    text = f"Spark {version}: application '{info.app_name}' on {info.master}; tables: {tables}" + (
        f"; Spark UI: {info.ui_path}" if info.ui_path else ""
    )
    link = (
        f' · <a class="hunthub-spark-ui" href="{html.escape(info.ui_path)}" target="_blank">Spark UI</a>'
        if info.ui_path
        else ""
    )
    note = f" · {note_html}" if note_html else ""
    note += f" · {SPARK_MAGIC_HTML}"
    problems = "".join(f"<br><span style='color:#b00'>{html.escape(p)}</span>" for p in info.problems)
    markup = (
        f'<div class="hunthub-spark-banner">Spark {html.escape(version)} · application '
        f"<b>{html.escape(info.app_name)}</b> on <code>{html.escape(info.master)}</code> · tables: "
        f"{html.escape(tables)}{link}{note}{problems}</div>"
    )
    plain = text + "".join(f"\n{p}" for p in info.problems) + (f"\n{note_text}" if note_text else "")
    plain += f"\n{SPARK_MAGIC_TEXT}"
    return {"text/plain": plain, "text/html": markup}

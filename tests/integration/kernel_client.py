"""Run cells in a real kernel through jupyter_client and collect what a notebook would show."""

from __future__ import annotations

import json
import queue
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import KernelManager

from hunthub.kernels import spark_activity


@dataclass
class CellResult:
    status: str
    text: str = ""  # stream output + text/plain results, as a notebook shows them
    html: str = ""
    error: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)


class Kernel:
    def __init__(self, env: dict[str, str], name: str = "hunthub-pyspark"):
        # a connection file named as a Jupyter server names them (kernel-<id>.json), so the kernel writes its note
        # for the server beside it (hunthub.kernels.spark_activity), as it does under a real server
        connection = Path(tempfile.mkdtemp(prefix="hunthub-kernel-")) / f"kernel-{uuid.uuid4()}.json"
        self.km = KernelManager(kernel_name=name, connection_file=str(connection))
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError:
            self.shutdown()
            raise

    def ui_key(self) -> str:
        """The key of this kernel's driver's Spark UI, from the kernel's note to its server."""
        marker = spark_activity.marker_path(self.km.connection_file)
        return json.loads(marker.read_text())["ui_key"]

    def run(self, code: str, timeout: float = 240) -> CellResult:
        msg_id = self.kc.execute(code)
        result = CellResult(status="?")
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no kernel output for {timeout} s running {code!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                result.text += content["text"]
            elif kind in ("execute_result", "display_data"):
                result.text += content["data"].get("text/plain", "") + "\n"
                result.html += content["data"].get("text/html", "")
            elif kind == "error":
                result.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
            result.outputs.append(msg)
        result.status = self.reply_to(msg_id, timeout)["content"]["status"]
        return result

    def reply_to(self, msg_id: str, timeout: float = 60) -> dict:
        """The shell reply to one request. jupyter_client's wait_for_ready may ask for kernel_info more than once on a
        loaded machine; its extra replies wait on the shell channel and must not be taken for this one's."""
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def shutdown(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)

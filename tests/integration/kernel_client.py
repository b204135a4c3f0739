"""Run cells in a real kernel through jupyter_client and collect what a notebook would show."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field

from jupyter_client.manager import start_new_kernel


@dataclass
class CellResult:
    status: str
    text: str = ""  # stream output + text/plain results, as a notebook shows them
    html: str = ""
    error: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)


class Kernel:
    def __init__(self, env: dict[str, str], name: str = "hunthub-pyspark"):
        self.km, self.kc = start_new_kernel(kernel_name=name, env=env, startup_timeout=60)

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

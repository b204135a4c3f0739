"""The PySpark (hunthub) kernel passes the Jupyter project's own kernel conformance suite."""

from __future__ import annotations

import unittest

import jupyter_kernel_test
import pytest

from tests.integration.conformance import LocalDriver

pytestmark = pytest.mark.integration


class PySparkKernelConformance(LocalDriver, jupyter_kernel_test.KernelTests):
    kernel_name = "hunthub-pyspark"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [{"code": "6*7", "result": "42"}]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"}
    ]
    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "zip"
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    def test_spark_is_attached(self):
        self.flush_channels()
        reply, outputs = self.execute_helper(code="spark.range(3).count()", timeout=180)
        assert reply["content"]["status"] == "ok"
        assert any(o["content"].get("data", {}).get("text/plain") == "3" for o in outputs)


if __name__ == "__main__":
    unittest.main()

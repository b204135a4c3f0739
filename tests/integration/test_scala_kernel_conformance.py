"""The Scala (Spark, hunthub) kernel passes the Jupyter project's own kernel conformance suite."""

from __future__ import annotations

import unittest

import jupyter_kernel_test
import pytest

from tests.integration.conformance import LocalDriver

pytestmark = pytest.mark.integration


class ScalaKernelConformance(LocalDriver, jupyter_kernel_test.KernelTests):
    kernel_name = "hunthub-scala"
    language_name = "scala"
    file_extension = ".scala"

    code_hello_world = 'println("hello, world")'
    code_stderr = 'Console.err.println("oops")'
    completion_samples = [
        {"text": "spark.ran", "matches": {"range"}},
        {"text": "List(1).zipWithInd", "matches": {"zipWithIndex"}},
    ]
    complete_code_samples = ["1", 'println("hello, world")', "def f(x: Int) = {\n  x * 2\n}"]
    incomplete_code_samples = ['println("""hello', "def f(x: Int) = {\n  x * 2", "val x = (1 +"]
    invalid_code_samples = ["val = 7q", "val x = )"]
    code_generate_error = 'throw new IllegalStateException("boom")'
    # a named value: `res<N>` numbering would depend on the order the tests run in
    code_execute_result = [{"code": "val answer = 6 * 7", "result": "val answer: Int = 42"}]

    first_cell = "()"

    def test_spark_is_attached(self):
        self.flush_channels()
        reply, outputs = self.execute_helper(code="spark.range(3).count()", timeout=180)
        assert reply["content"]["status"] == "ok"
        results = [o["content"]["data"]["text/plain"] for o in outputs if o["msg_type"] == "execute_result"]
        assert len(results) == 1 and results[0].endswith(": Long = 3"), results


if __name__ == "__main__":
    unittest.main()

"""The Spark SQL (hunthub) kernel passes the Jupyter project's own kernel conformance suite."""

from __future__ import annotations

import unittest

import jupyter_kernel_test
import pytest

from tests.integration.conformance import LocalDriver

pytestmark = pytest.mark.integration


class SqlKernelConformance(LocalDriver, jupyter_kernel_test.KernelTests):
    kernel_name = "hunthub-sql"
    language_name = "sql"
    file_extension = ".sql"

    # No stdout/stderr samples: SQL results are execute_result tables, not printed text.
    completion_samples = [
        {"text": "SELEC", "matches": {"SELECT"}},
        {"text": "select count_m", "matches": {"count_min_sketch"}},
    ]
    complete_code_samples = ["select 1", "select 1;", "select 'a;b' from range(1)", "select count(*) from range(3)"]
    incomplete_code_samples = ["select 'unterminated", "select 1 /* still a comment", "select count(*"]
    invalid_code_samples = ["select 1)"]
    code_generate_error = "select * from no_such_table"
    code_execute_result = [
        {"code": "select 6 * 7 as answer", "result": "+------+\n|answer|\n+------+\n|    42|\n+------+\n(1 row)"},
        {"code": "select 'hello, world' as greeting", "mime": "text/html"},
    ]
    # every statement of a cell but the last shows as display_data
    code_display_data = [{"code": "select 1 as a; select 2 as b", "mime": "text/html"}]
    code_history_pattern = "select 6 *"
    supported_history_operations = ("tail", "search")
    code_inspect_sample = "count"

    first_cell = "select 1"

    def test_kernel_info_names_sql(self):
        self.flush_channels()
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=15)
        info = reply["content"]["language_info"]
        assert (info["name"], info["mimetype"], info["codemirror_mode"]) == ("sql", "text/x-sql", "sql")
        assert "%limit N" in reply["content"]["banner"]


if __name__ == "__main__":
    unittest.main()

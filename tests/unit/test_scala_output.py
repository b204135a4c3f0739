"""How the Scala kernel turns the REPL reporter's terminal output into notebook output (texts from Scala 2.13.17)."""

from __future__ import annotations

from hunthub.kernels import scala_output
from hunthub.kernels.scala_repl import _chunks

ONE_LINE_ERROR = """\
                    ^
       error: type mismatch;
        found   : String("a")
        required: Int
"""

MULTI_LINE_ERROR = """\
       val b: Int = "s"
                    ^
On line 2: error: type mismatch;
        found   : String("s")
        required: Int
"""

TWO_WARNINGS_ONE_LINE = """\
         ^
       warning: Auto-application to `()` is deprecated. Supply the empty argument list `()` explicitly to invoke method g,
       or remove the empty argument list from its definition (Java-defined methods are exempt).
       In Scala 3, an unapplied method like this will be eta-expanded into a function. [quickfixable]
           ^
       warning: Auto-application to `()` is deprecated. Supply the empty argument list `()` explicitly to invoke method h,
       or remove the empty argument list from its definition (Java-defined methods are exempt).
val res0: Int = 1
"""  # noqa: E501

RUNTIME = """\
java.lang.ArithmeticException: / by zero
  at $line12.$read$$iw.<init>(<console>:1)
  at $line12.$read.<init>(<console>:1)
  ... 33 elided
"""


def test_one_line_error_gets_its_source_line_and_caret():
    report = scala_output.parse_report(ONE_LINE_ERROR)
    [error] = report.errors
    assert (error.line, error.column) == (1, 13)
    assert error.render('val y: Int = "a"') == [
        "error: type mismatch;",
        '  found   : String("a")',
        "  required: Int",
        "  --> line 1, column 14",
        '1 | val y: Int = "a"',
        "  |              ^",
    ]
    assert report.text == ""


def test_multi_line_error_is_placed_in_the_cell_by_the_chunk_offset():
    # the chunk starts on line 3 of the cell
    report = scala_output.parse_report(MULTI_LINE_ERROR, line_offset=2)
    [error] = report.errors
    assert (error.line, error.column) == (4, 13)
    assert report.text == ""  # the REPL's own copy of the source line is dropped


def test_a_chunk_starting_mid_line_shifts_first_line_columns():
    [error] = scala_output.parse_report(ONE_LINE_ERROR, first_line_column=22).errors
    assert error.column == 35


def test_consecutive_one_line_warnings_keep_their_detail_lines_and_the_echo_stays_text():
    report = scala_output.parse_report(TWO_WARNINGS_ONE_LINE)
    assert [d.severity for d in report.diagnostics] == ["warning", "warning"]
    assert [d.column for d in report.diagnostics] == [2, 4]
    assert report.diagnostics[0].message[-1].strip().startswith("In Scala 3")
    assert report.text == "val res0: Int = 1"


def test_runtime_error_names_the_exception_and_keeps_a_short_trace():
    assert scala_output.is_runtime_error(RUNTIME)
    assert not scala_output.is_runtime_error(MULTI_LINE_ERROR)
    ename, evalue, trace = scala_output.runtime_error(RUNTIME)
    assert (ename, evalue) == ("java.lang.ArithmeticException", "/ by zero")
    assert trace[0] == "java.lang.ArithmeticException: / by zero"

    long = "org.apache.spark.SparkException: Job aborted\n" + "  at a.b.C.d(C.scala:1)\n" * 30
    long += "Caused by: java.io.IOException: disk\n" + "  at x.Y.z(Y.java:2)\n" * 10
    _, _, trace = scala_output.runtime_error(long)
    assert trace.count("  at a.b.C.d(C.scala:1)") == scala_output.KEEP_FRAMES
    assert "Caused by: java.io.IOException: disk" in trace
    assert trace.count("  at x.Y.z(Y.java:2)") == scala_output.KEEP_CAUSE_FRAMES


def test_bracket_scanner_before_the_compiler_is_up():
    assert scala_output.scan_complete("val x = (1 +") == "incomplete"
    assert scala_output.scan_complete("def f(x: Int) = {\n  x") == "incomplete"
    assert scala_output.scan_complete('val s = """abc') == "incomplete"
    assert scala_output.scan_complete("/* open comment") == "incomplete"
    assert scala_output.scan_complete('val s = "(" // )') == "complete"
    assert scala_output.scan_complete("val c = '('") == "complete"
    assert scala_output.scan_complete("List(1, 2).map(_ * 2)") == "complete"


def test_tables_limit_rows_and_say_so():
    text = scala_output.text_table(["user", "n"], [["alice", "3"], [None, "x" * 30]], truncated=True)
    assert text.splitlines() == [
        "+-----+--------------------+",
        "| user|                   n|",
        "+-----+--------------------+",
        "|alice|                   3|",
        "| NULL|xxxxxxxxxxxxxxxxx...|",
        "+-----+--------------------+",
        "only showing top 2 rows",
    ]
    markup = scala_output.html_table(["a<b"], [["<script>"]], truncated=False)
    assert "<th>a&lt;b</th>" in markup and "<td>&lt;script&gt;</td>" in markup
    assert "only showing" not in markup


def test_cells_are_cut_after_type_definitions_that_statements_follow():
    # case class + Dataset action in one cell: definitions first, statements second
    trees = [("Import", 0), ("ClassDef", 10), ("ModuleDef", 30), ("ValDef", 50), ("Apply", 70)]
    assert _chunks(trees, 90) == [(0, 50), (50, 90)]
    # nothing to cut: one compile
    assert _chunks([("ValDef", 0), ("Apply", 10)], 20) == [(0, 20)]
    assert _chunks([("ValDef", 0), ("ClassDef", 10)], 20) == [(0, 20)]

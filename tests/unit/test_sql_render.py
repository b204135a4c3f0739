"""What a Spark SQL cell shows: result tables, truncation notices, short notes and errors with a caret."""

from hunthub.kernels.sql_render import RED, RESET, caption, clean_message, done_bundle, error_lines, result_bundle
from hunthub.kernels.sql_text import split

COLUMNS = ["user", "failures"]
TYPES = ["string", "bigint"]


def test_text_table_looks_like_df_show():
    bundle = result_bundle(COLUMNS, TYPES, [["asmith", "12"], ["svc_backup", "3"]], limit=1000, truncated=False)
    assert bundle["text/plain"] == (
        "+----------+--------+\n"
        "|user      |failures|\n"
        "+----------+--------+\n"
        "|asmith    |      12|\n"
        "|svc_backup|       3|\n"
        "+----------+--------+\n"
        "(2 rows)"
    )


def test_html_table_has_header_types_and_rows():
    html = result_bundle(COLUMNS, TYPES, [["asmith", "12"]], limit=1000, truncated=False, seconds=0.25)["text/html"]
    assert '<th style="text-align:left;white-space:pre-wrap" title="string">user</th>' in html
    assert 'title="bigint">failures</th>' in html
    assert ">asmith</td>" in html and ">12</td>" in html
    assert "1 row · 0.2 s" in html or "1 row · 0.3 s" in html
    assert "truncated" not in html


def test_values_and_names_are_html_escaped():
    html = result_bundle(["<b>"], ["string"], [["<script>alert(1)</script> & co"]], 10, False)["text/html"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<th" in html and "&lt;b&gt;</th>" in html


def test_null_is_shown_as_null_and_distinct_from_the_string():
    bundle = result_bundle(["reason"], ["string"], [[None], ["NULL"]], 10, False)
    assert "|NULL  |\n|NULL  |" in bundle["text/plain"]
    assert bundle["text/html"].count("hunthub-sql-null") == 1


def test_truncated_results_say_so_in_both_forms():
    rows = [[str(i)] for i in range(3)]
    bundle = result_bundle(["id"], ["bigint"], rows, limit=3, truncated=True)
    assert "(first 3 rows shown)" in bundle["text/plain"]
    assert "Only the first 3 rows are shown: the result has more" in bundle["text/plain"]
    assert "%limit N" in bundle["text/plain"]
    assert 'class="hunthub-sql-truncated"' in bundle["text/html"]
    assert "Only the first 3 rows are shown" in bundle["text/html"]


def test_one_row_and_no_rows():
    assert result_bundle(["a"], ["int"], [["1"]], 10, False)["text/plain"].endswith("(1 row)")
    empty = result_bundle(["a"], ["int"], [], 10, False)
    assert empty["text/plain"] == "+-+\n|a|\n+-+\n+-+\n(0 rows)"


def test_long_and_multiline_values_stay_on_one_text_line():
    text = result_bundle(["cmd"], ["string"], [["a\nb"], ["x" * 200]], 10, False)["text/plain"]
    assert "|a\\nb" in text
    assert "x" * 77 + "...|" in text
    # the HTML keeps the value whole
    assert "x" * 200 in result_bundle(["cmd"], ["string"], [["x" * 200]], 10, False)["text/html"]


def test_caption_names_the_statement_in_multi_statement_cells():
    (statement,) = split("-- the failures\nselect *\n  from failed /* view */")
    assert caption(statement) == "select * from failed"
    bundle = result_bundle(["a"], ["int"], [["1"]], 10, False, title="select 1 as a")
    assert bundle["text/plain"].startswith("-- select 1 as a\n+-+")
    assert "<code>select 1 as a</code>" in bundle["text/html"]


def test_statements_without_results_say_what_ran():
    (statement,) = split("create or replace temporary view failed as\n  select * from auth_events where 1 = 1")
    assert done_bundle(statement)["text/plain"] == "OK: create or replace temporary view failed"
    (statement,) = split("CACHE TABLE auth_events")
    assert done_bundle(statement)["text/plain"] == "OK: CACHE TABLE auth_events"


def test_error_shows_condition_sqlstate_position_and_caret():
    first, second = split("select 1;\nselect *\n  from nope")
    start = second.text.index("nope")
    lines = error_lines(
        "TABLE_OR_VIEW_NOT_FOUND", "42P01", "The table `nope` cannot be found.", second, start, start + 3
    )
    assert lines == [
        f"{RED}TABLE_OR_VIEW_NOT_FOUND{RESET} (SQLSTATE 42P01) at line 3, column 8:",
        "3 |   from nope",
        "  |        ^^^^",
        "The table `nope` cannot be found.",
    ]


def test_caret_under_a_statement_that_shares_its_line():
    _, second = split("select 1; selec 2")
    lines = error_lines("PARSE_SYNTAX_ERROR", "42601", "Syntax error at or near 'selec'.", second, 0, 4)
    assert lines[0].endswith("(SQLSTATE 42601) at line 1, column 11:")
    assert lines[1] == "1 |           selec 2"
    assert lines[2] == "  |           ^^^^^"


def test_error_without_position():
    assert error_lines("DIVIDE_BY_ZERO", "22012", "Division by zero.") == [
        f"{RED}DIVIDE_BY_ZERO{RESET} (SQLSTATE 22012):",
        "Division by zero.",
    ]
    lines = error_lines("X", "", "m", where="view suspicious")
    assert lines[0] == f"{RED}X{RESET} in view suspicious:"


def test_clean_message_drops_what_the_header_shows():
    message = "[TABLE_OR_VIEW_NOT_FOUND] The table or view `nope` cannot be found. SQLSTATE: 42P01"
    assert clean_message(message, "TABLE_OR_VIEW_NOT_FOUND", "42P01") == "The table or view `nope` cannot be found."
    assert clean_message("plain", "", "") == "plain"

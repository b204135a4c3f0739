"""How the Spark SQL kernel reads a cell: statements, their positions, completeness and completion."""

import pytest

from hunthub.kernels import sql_text
from hunthub.kernels.sql_text import complete, completeness, parse_cell, split


def texts(code):
    return [s.text for s in split(code)]


def test_one_statement_needs_no_semicolon():
    assert texts("select 1") == ["select 1"]
    assert texts("  select 1 ;  \n") == ["select 1"]


def test_statements_split_on_semicolons():
    assert texts("select 1; select 2;\nselect 3") == ["select 1", "select 2", "select 3"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("select 'a;b'; select 2", ["select 'a;b'", "select 2"]),
        ('select "a;b"; select 2', ['select "a;b"', "select 2"]),
        (r"select 'it\'s; fine'; select 2", [r"select 'it\'s; fine'", "select 2"]),
        ("select 'it''s; fine'; select 2", ["select 'it''s; fine'", "select 2"]),
        ("select `odd;name`, `a``;b` from t; select 2", ["select `odd;name`, `a``;b` from t", "select 2"]),
        ("select 1 -- no; split here\n; select 2", ["select 1 -- no; split here", "select 2"]),
        ("select /* ; */ 1; select 2", ["select /* ; */ 1", "select 2"]),
        ("select /* nested /* ; */ still ; */ 1; select 2", ["select /* nested /* ; */ still ; */ 1", "select 2"]),
        (r"select '\\'; select 2", [r"select '\\'", "select 2"]),
    ],
)
def test_semicolons_in_strings_names_and_comments_do_not_split(code, expected):
    assert texts(code) == expected


def test_empty_statements_and_comment_only_pieces_are_dropped():
    assert texts(";;\n-- just a note\n;  /* and another */ ; select 1;;") == ["select 1"]
    assert texts("") == []
    assert texts("-- nothing to run") == []


def test_statement_positions_are_where_they_start_in_the_cell():
    first, second, third = split("select 1; select 2;\n\n  select\n 3")
    assert (first.offset, first.line, first.column) == (0, 1, 1)
    assert (second.line, second.column) == (1, 11)
    assert (third.line, third.column) == (3, 3)
    assert third.text == "select\n 3"
    # a character of the statement maps back to the cell
    assert third.cell_position(0) == (3, 3)
    assert third.cell_position(third.text.index("3")) == (4, 2)
    assert second.cell_position(second.text.index("2")) == (1, 18)


def test_limit_directive_applies_to_the_cell_and_keeps_line_numbers():
    cell = parse_cell("%limit 20\nselect *\nfrom t")
    assert cell.limit == 20
    assert not cell.error
    (statement,) = cell.statements
    assert statement.text == "select *\nfrom t"
    assert statement.line == 2


def test_a_cell_with_only_a_directive_has_no_statements():
    cell = parse_cell("%limit 5\n")
    assert cell.limit == 5
    assert cell.statements == []


@pytest.mark.parametrize("line", ["%limit", "%limit ten", "%limit 0", "%limt 5", "%limit 5 6"])
def test_unknown_or_malformed_directives_are_reported(line):
    cell = parse_cell(f"{line}\nselect 1")
    assert "%limit N" in cell.error
    assert line in cell.error


def test_spark_status_directive_is_taken_with_a_limit_and_keeps_line_numbers():
    cell = parse_cell("%spark\n%limit 3\nselect *\nfrom t")
    assert cell.spark_status and cell.limit == 3 and not cell.error
    (statement,) = cell.statements
    assert statement.line == 3
    alone = parse_cell("%spark")
    assert alone.spark_status and alone.statements == []
    assert "%spark" in parse_cell("%spark now\nselect 1").error


def test_percent_later_in_the_cell_is_sql():
    cell = parse_cell("select 7\n% 3")
    assert cell.limit is None and not cell.error
    assert [s.text for s in cell.statements] == ["select 7\n% 3"]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("select 1", "complete"),
        ("select 1;", "complete"),
        ("select 'a;b' from t", "complete"),
        ("select 'unterminated", "incomplete"),
        ('select "unterminated', "incomplete"),
        ("select `unterminated", "incomplete"),
        ("select 1 /* open comment", "incomplete"),
        ("select count(*\n", "incomplete"),
        ("select ')' from t where (a", "incomplete"),
        ("select 1) from t", "invalid"),
        ("select 1 -- comment (", "complete"),
    ],
)
def test_completeness(code, status):
    assert completeness(code) == status


TABLES = ["auth_events", "dns_queries"]
COLUMNS = {"auth_events": ["event_time", "user", "src_host", "logon_type"], "dns_queries": ["query", "src_host"]}


def completions(code, cursor=None, functions=("count", "coalesce", "upper")):
    cursor = len(code) if cursor is None else cursor
    return complete(code, cursor, TABLES, lambda t: COLUMNS.get(t, []), functions)


def test_after_from_only_tables_are_offered():
    found = completions("select * from au")
    assert found.matches == ["auth_events"]
    assert found.kinds == ["table"]
    assert (found.start, found.end) == (14, 16)


def test_after_join_tables_are_offered():
    assert completions("select * from auth_events a join dn").matches == ["dns_queries"]


def test_columns_of_the_statements_tables_come_first():
    found = completions("select us from auth_events", cursor=9)
    assert found.matches[0] == "user"
    assert found.kinds[0] == "column"
    assert "USING" not in found.matches  # lowercase typing gets lowercase keywords
    assert "using" in found.matches


def test_columns_of_an_alias_or_table_after_a_dot():
    found = completions("select a. from auth_events a", cursor=9)
    assert found.matches == COLUMNS["auth_events"]
    assert completions("select d.sr from auth_events a join dns_queries as d", cursor=11).matches == ["src_host"]
    assert completions("select dns_queries.q from dns_queries", cursor=20).matches == ["query"]


def test_without_a_from_clause_all_tables_columns_are_candidates():
    found = completions("select src")
    assert found.matches == ["src_host"]


def test_keywords_follow_the_case_typed():
    assert "SELECT" in completions("SEL").matches
    assert "select" in completions("sel").matches
    assert completions("sel").kinds == ["keyword"]


def test_functions_are_offered():
    found = completions("select co")
    assert found.matches[:2] == ["coalesce", "count"] or found.matches[:2] == ["count", "coalesce"]
    assert set(found.kinds[:2]) == {"function"}


def test_no_completion_inside_strings_or_comments():
    assert completions("select 'au").matches == []
    assert completions("select 1 -- au").matches == []
    assert completions("select /* au */ 1", cursor=12).matches == []


def test_completion_picks_the_statement_under_the_cursor():
    code = "select * from dns_queries; select que from auth_events"
    assert completions(code, cursor=code.index("select que") + 10).matches == []  # `query` is not in auth_events
    code = "select que from dns_queries; select 1"
    assert completions(code, cursor=10).matches == ["query"]


def test_odd_names_are_quoted():
    found = complete("select * from we", 16, ["weird name"], lambda t: [])
    assert found.matches == ["`weird name`"]


def test_references_resolve_aliases_and_ignore_keywords():
    refs = sql_text.references("select * from auth_events a join dns_queries d on a.src_host = d.src_host where 1=1")
    assert refs["a"] == "auth_events" and refs["d"] == "dns_queries"
    refs = sql_text.references("select * from auth_events where user = 'x'")
    assert "where" not in refs and refs["auth_events"] == "auth_events"


def test_word_at_cursor():
    assert sql_text.word_at("select * from auth_events", 18) == "auth_events"
    assert sql_text.word_at("select count(*)", 12) == "count"

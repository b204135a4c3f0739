"""Reading SQL cells without Spark: statements and where they start, completeness, completion candidates.

Pure functions, so the kernel's text handling is tested without a session. The lexing follows Spark SQL:
'...' and "..." strings with backslash escapes, `...` identifiers (`` inside is a backtick), `--` line
comments and nestable /* */ block comments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CODE, STRING, IDENT, COMMENT = "code", "string", "ident", "comment"

LIMIT_DIRECTIVE = "%limit"
SPARK_STATUS_DIRECTIVE = "%spark"


@dataclass(frozen=True)
class Region:
    kind: str
    start: int
    end: int
    closed: bool = True


@dataclass(frozen=True)
class Statement:
    text: str  # what Spark gets: no surrounding whitespace, no `;`
    offset: int  # where `text` starts in the cell
    line: int  # 1-based line of the cell where it starts
    column: int  # 1-based column on that line

    def cell_position(self, index: int) -> tuple[int, int]:
        """1-based (line, column) in the cell of the character at `index` in the statement."""
        line, col = position(self.text, index)
        return self.line + line - 1, (self.column + col - 1 if line == 1 else col)


@dataclass
class Cell:
    statements: list[Statement] = field(default_factory=list)
    limit: int | None = None  # from a `%limit N` line
    spark_status: bool = False  # a `%spark` line: show what the session holds
    error: str = ""  # a directive the kernel does not understand


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of `text[index]`."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def regions(code: str) -> list[Region]:
    """The cell cut into code, string, identifier and comment regions; the last one may be unterminated."""
    out: list[Region] = []
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c in "'\"":
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            out.append(Region(STRING, i, min(j + 1, n), j < n))
            i = j + 1
        elif c == "`":
            j = code.find("`", i + 1)
            while j != -1 and code.startswith("``", j):  # a doubled backtick is part of the name
                j = code.find("`", j + 2)
            out.append(Region(IDENT, i, n if j == -1 else j + 1, j != -1))
            i = n if j == -1 else j + 1
        elif code.startswith("--", i):
            j = code.find("\n", i)
            j = n if j == -1 else j
            out.append(Region(COMMENT, i, j))
            i = j
        elif code.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if code.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif code.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(Region(COMMENT, i, j, depth == 0))
            i = j
        else:
            m = re.compile(r"[^'\"`/-]+|.", re.S).match(code, i)
            end = m.end()
            if out and out[-1].kind == CODE and out[-1].end == i:
                out[-1] = Region(CODE, out[-1].start, end)
            else:
                out.append(Region(CODE, i, end))
            i = end
    return out


def split(code: str) -> list[Statement]:
    """The statements of a cell, in order; semicolons in strings, names and comments do not count."""
    cuts = [
        r.start + k for r in regions(code) if r.kind == CODE for k, ch in enumerate(code[r.start : r.end]) if ch == ";"
    ]
    statements, start = [], 0
    for end in [*cuts, len(code)]:
        piece = code[start:end]
        if _has_sql(piece):
            lead = len(piece) - len(piece.lstrip())
            offset = start + lead
            line, column = position(code, offset)
            statements.append(Statement(piece.strip(), offset, line, column))
        start = end + 1
    return statements


def _has_sql(piece: str) -> bool:
    return any(r.kind != COMMENT and piece[r.start : r.end].strip() for r in regions(piece))


def parse_cell(code: str) -> Cell:
    """Directive lines (`%limit N`, `%spark`) at the top of the cell, then its statements. Directive lines are blanked,
    not removed, so positions in Spark's errors still point at the right line of the cell."""
    cell = Cell()
    lines = code.split("\n")
    for k, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        if not words[0].startswith("%"):
            break
        if words[0] == LIMIT_DIRECTIVE and len(words) == 2 and words[1].isdigit() and int(words[1]) > 0:
            cell.limit = int(words[1])
        elif words == [SPARK_STATUS_DIRECTIVE]:
            cell.spark_status = True
        else:
            cell.error = (
                f"line {k + 1}: `{line.strip()}` is not understood; the kernel knows `%limit N` (N > 0) and `%spark`"
            )
            return cell
        lines[k] = " " * len(line)
    cell.statements = split("\n".join(lines))
    return cell


def completeness(code: str) -> str:
    """'incomplete' inside an unterminated string, name or comment or an open parenthesis, 'invalid' with a
    parenthesis closed that was never opened, else 'complete' (a cell runs without a trailing `;`)."""
    found = regions(code)
    if found and not found[-1].closed:
        return "incomplete"
    depth = 0
    for r in found:
        if r.kind != CODE:
            continue
        for ch in code[r.start : r.end]:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return "invalid"
    return "incomplete" if depth > 0 else "complete"


# --- completion -------------------------------------------------------------------------------------------

_KEYWORDS = """
        ADD ALL ALTER ANALYZE AND ANTI ANY ARRAY AS ASC BETWEEN BIGINT BINARY BOOLEAN BOTH BY CACHE CASE CAST
        CATALOG CLEAR COLUMN COLUMNS COMMENT CREATE CROSS CUBE CURRENT CURRENT_DATE CURRENT_TIMESTAMP DATABASE
        DATABASES DATE DECIMAL DELETE DESC DESCRIBE DISTINCT DISTRIBUTE DIV DOUBLE DROP ELSE END ESCAPE EXCEPT
        EXISTS EXPLAIN EXTENDED EXTERNAL EXTRACT FALSE FILTER FIRST FLOAT FOLLOWING FOR FORMATTED FROM FULL
        FUNCTION FUNCTIONS GLOBAL GROUP GROUPING HAVING IF IGNORE ILIKE IN INNER INSERT INT INTEGER INTERSECT
        INTERVAL INTO IS JOIN LAST LATERAL LEFT LIKE LIMIT LOCAL MAP MINUS NATURAL NOT NULL NULLS OFFSET ON OR
        ORDER OUTER OVER OVERWRITE PARTITION PARTITIONS PERCENT PIVOT PRECEDING QUALIFY RANGE RECURSIVE REFRESH
        REPLACE RESET RIGHT RLIKE ROLLUP ROW ROWS SCHEMA SELECT SEMI SET SETS SHOW SMALLINT SOME SORT STRING
        STRUCT TABLE TABLES TABLESAMPLE TEMP TEMPORARY THEN TIMESTAMP TINYINT TO TRUE TRUNCATE UNBOUNDED UNCACHE
        UNION UNPIVOT UPDATE USE USING VALUES VIEW VIEWS WHEN WHERE WINDOW WITH
"""
KEYWORDS = sorted(set(_KEYWORDS.split()))
# after these words a name is a table's
TABLE_CONTEXT = {"FROM", "JOIN", "TABLE", "INTO", "UPDATE", "DESCRIBE", "DESC", "CACHE", "REFRESH", "UNCACHE"}
_NOT_ALIAS = set(KEYWORDS)
_WORD = re.compile(r"[A-Za-z0-9_]")
_NAME = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
_REFERENCE = re.compile(
    rf"\b(?:FROM|JOIN|,)\s+(?P<table>{_NAME}(?:\.{_NAME})*)(?:\s+(?:AS\s+)?(?P<alias>{_NAME}))?", re.IGNORECASE
)


@dataclass(frozen=True)
class Completion:
    start: int
    end: int
    matches: list[str]
    kinds: list[str]  # 'column', 'table', 'function' or 'keyword', one per match


def quote(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "`" + name.replace("`", "``") + "`"


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def strip_comments(code: str) -> str:
    """The SQL without its comments (each becomes a space)."""
    found = regions(code)
    return "".join(" " if r.kind == COMMENT else code[r.start : r.end] for r in found)


def _code_only(code: str) -> str:
    """The cell with strings and comments blanked, so patterns only see SQL."""
    chars = list(code)
    for r in regions(code):
        if r.kind in (STRING, COMMENT):
            chars[r.start : r.end] = " " * (r.end - r.start)
    return "".join(chars)


def references(statement: str) -> dict[str, str]:
    """alias (or the table's own last name) -> table, for the tables a statement reads (FROM, JOIN, `, t`)."""
    found: dict[str, str] = {}
    for m in _REFERENCE.finditer(_code_only(statement)):
        table = ".".join(_unquote(p) for p in re.findall(_NAME, m["table"]))
        alias = m["alias"]
        if alias and alias.upper() not in _NOT_ALIAS:
            found[_unquote(alias).lower()] = table
        found[table.rsplit(".", 1)[-1].lower()] = table
        found[table.lower()] = table
    return found


def complete(
    code: str,
    cursor: int,
    tables: Iterable[str] = (),
    columns_of: Callable[[str], list[str]] = lambda table: [],
    functions: Iterable[str] = (),
) -> Completion:
    """What may go at the cursor: after FROM/JOIN/... table names; after `t.` the columns of table or alias t;
    elsewhere the columns of the statement's tables, then tables, functions and keywords."""
    cursor = max(0, min(cursor, len(code)))
    for r in regions(code):
        # the end of a line comment or of an unterminated string is still inside it
        reaches = r.end + (1 if not r.closed or code.startswith("--", r.start) else 0)
        if r.kind in (STRING, COMMENT) and r.start < cursor < reaches:
            return Completion(cursor, cursor, [], [])
    start = cursor
    while start > 0 and _WORD.match(code[start - 1]):
        start -= 1
    prefix = code[start:cursor]
    statement = next((s for s in split(code) if s.offset <= cursor <= s.offset + len(s.text)), None)
    text = statement.text if statement else ""
    tables = list(tables)
    refs = references(text)
    candidates: list[tuple[str, str]] = []
    qualifier = re.search(rf"({_NAME})\.$", code[:start])
    if qualifier:
        name = _unquote(qualifier.group(1)).lower()
        table = refs.get(name) or next((t for t in tables if t.lower() == name), None)
        candidates = [(quote(c), "column") for c in (columns_of(table) if table else [])]
    else:
        before = re.findall(r"[A-Za-z_]+", _code_only(code[statement.offset if statement else 0 : start]))
        if before and before[-1].upper() in TABLE_CONTEXT:
            candidates = [(quote(t), "table") for t in tables]
        else:
            read = list(dict.fromkeys(refs.values())) or tables
            for table in read:
                candidates += [(quote(c), "column") for c in columns_of(table)]
            candidates += [(quote(t), "table") for t in tables]
            if prefix:
                candidates += [(f, "function") for f in functions]
                lower = prefix.islower()
                candidates += [(k.lower() if lower else k, "keyword") for k in KEYWORDS]
    seen, matches, kinds = set(), [], []
    for word, kind in candidates:
        if _unquote(word).lower().startswith(prefix.lower()) and word not in seen:
            seen.add(word)
            matches.append(word)
            kinds.append(kind)
    return Completion(start, cursor, matches, kinds)


def word_at(code: str, cursor: int) -> str:
    """The name under (or just before) the cursor, for inspection."""
    cursor = max(0, min(cursor, len(code)))
    start, end = cursor, cursor
    while start > 0 and _WORD.match(code[start - 1]):
        start -= 1
    while end < len(code) and _WORD.match(code[end]):
        end += 1
    return code[start:end]

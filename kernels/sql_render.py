"""What a SQL cell shows: result tables (HTML and text), short notes for statements without rows, and errors.

Pure functions over values Spark already turned into strings (None is SQL NULL), so what the analyst sees is
tested without a session.
"""

from __future__ import annotations

import html
import re

from hunthub.kernels.sql_text import Statement, strip_comments

TEXT_CELL_WIDTH = 80  # the HTML table shows values in full; the text one keeps rows on one line
RED, RESET = "\x1b[31m", "\x1b[0m"
NUMERIC = re.compile(r"(tinyint|smallint|int|bigint|float|double|decimal\(.*\))$")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def truncation_notice(limit: int) -> str:
    return (
        f"Only the first {plural(limit, 'row')} are shown: the result has more. "
        "Put `%limit N` at the top of the cell to show more, or aggregate."
    )


def _text_value(value: str | None) -> str:
    if value is None:
        return "NULL"
    value = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return value if len(value) <= TEXT_CELL_WIDTH else value[: TEXT_CELL_WIDTH - 3] + "..."


def text_table(columns: list[str], types: list[str], rows: list[list[str | None]]) -> str:
    """A table like Spark's df.show(): numbers right-aligned, everything else left-aligned."""
    header = [_text_value(c) for c in columns]
    body = [[_text_value(v) for v in row] for row in rows]
    widths = [max([len(header[i])] + [len(r[i]) for r in body]) for i in range(len(columns))]
    right = [bool(NUMERIC.match(t)) for t in types]

    def line(values):
        cells = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)]
        return "|" + "|".join(cells) + "|"

    rule = "+" + "+".join("-" * w for w in widths) + "+"
    return "\n".join([rule, line(header), rule, *(line(r) for r in body), rule])


def html_table(columns: list[str], types: list[str], rows: list[list[str | None]]) -> str:
    right = [bool(NUMERIC.match(t)) for t in types]
    # pre-wrap: multi-line values (EXPLAIN plans, log lines) keep their line breaks
    align = [f"text-align:{'right' if r else 'left'};white-space:pre-wrap" for r in right]
    head = "".join(
        f'<th style="{a}" title="{html.escape(t)}">{html.escape(c)}</th>'
        for c, t, a in zip(columns, types, align, strict=True)
    )
    null = '<span class="hunthub-sql-null" style="color:#999;font-style:italic">NULL</span>'
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{a}">{null if v is None else html.escape(v)}</td>' for v, a in zip(row, align, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="hunthub-sql-result"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def caption(statement: Statement) -> str:
    """One line naming a statement, above its result in a cell of several statements."""
    first = " ".join(strip_comments(statement.text).split())
    return first if len(first) <= 100 else first[:97] + "..."


def result_bundle(
    columns: list[str],
    types: list[str],
    rows: list[list[str | None]],
    limit: int,
    truncated: bool,
    title: str = "",
    seconds: float | None = None,
) -> dict[str, str]:
    """The mime bundle of a query's result: `rows` holds at most `limit` rows; `truncated` says there are more."""
    count = f"first {plural(len(rows), 'row')} shown" if truncated else plural(len(rows), "row")
    text = [f"-- {title}"] if title else []
    text += [text_table(columns, types, rows), f"({count})"]
    markup = [f'<div class="hunthub-sql-statement"><code>{html.escape(title)}</code></div>'] if title else []
    markup.append(html_table(columns, types, rows))
    took = f" · {seconds:.1f} s" if seconds is not None else ""
    markup.append(f'<div class="hunthub-sql-footer" style="color:#666">{count}{took}</div>')
    if truncated:
        text.append(truncation_notice(limit))
        markup.append(
            f'<div class="hunthub-sql-truncated" style="color:#b00">{html.escape(truncation_notice(limit))}</div>'
        )
    return {"text/plain": "\n".join(text), "text/html": "".join(markup)}


def done_bundle(statement: Statement) -> dict[str, str]:
    """What a statement without a result (CREATE VIEW, CACHE TABLE, ...) shows: that it ran, and what it was
    (enough to tell it apart in a cell of several statements)."""
    sql = " ".join(strip_comments(statement.text).split())
    # up to the definition: "create temporary view x", not the query behind it
    what = re.split(r"\s+as\s+|\(", sql, maxsplit=1, flags=re.IGNORECASE)[0].strip()
    what = what if len(what) <= 60 else what[:57] + "..."
    markup = f'<div class="hunthub-sql-done">OK: <code>{html.escape(what)}</code></div>'
    return {"text/plain": f"OK: {what}", "text/html": markup}


def clean_message(message: str, condition: str, sqlstate: str) -> str:
    """Spark's message without the [CONDITION] and SQLSTATE the error header shows anyway."""
    message = message.strip()
    if condition and message.startswith(f"[{condition}]"):
        message = message[len(condition) + 2 :].lstrip()
    if sqlstate:
        message = re.sub(rf"\s*SQLSTATE: {re.escape(sqlstate)}\.?\s*$", "", message)
    return message


def error_lines(
    condition: str,
    sqlstate: str,
    message: str,
    statement: Statement | None = None,
    start: int | None = None,
    stop: int | None = None,
    where: str = "",
) -> list[str]:
    """The error as the analyst sees it: condition, SQLSTATE and position, the statement line with a caret under
    the offending text (`start`..`stop`, inclusive indices into the statement), then Spark's message."""
    head = f"{RED}{condition or 'ERROR'}{RESET}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
    lines = []
    if statement is not None and start is not None:
        line, column = statement.cell_position(start)
        head += f" at line {line}, column {column}"
        # the cell's own line, so the caret lines up with what the analyst typed
        shown = _cell_line(statement, start)
        stop = start if stop is None or stop < start else stop
        length = max(1, min(stop - start + 1, len(shown) - (column - 1)))
        gutter = str(line)
        lines.append(f"{gutter} | {shown}")
        lines.append(f"{' ' * len(gutter)} | {' ' * (column - 1)}{'^' * length}")
    if where:
        head += f" in {where}"
    return [head + ":", *lines, message]


def _line_of(statement: Statement, index: int) -> tuple[str, int]:
    """The statement's line holding `index` and the index of that line's start."""
    begin = statement.text.rfind("\n", 0, index) + 1
    end = statement.text.find("\n", index)
    return statement.text[begin : len(statement.text) if end == -1 else end], begin


def _cell_line(statement: Statement, index: int) -> str:
    text, begin = _line_of(statement, index)
    # the statement's first line starts mid-line in the cell when another statement precedes it on that line
    return " " * (statement.column - 1) + text if begin == 0 else text

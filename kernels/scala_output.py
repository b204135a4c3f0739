"""Turn what the Scala interpreter reports into what a notebook shows. Pure text functions, no JVM.

The REPL reporter writes diagnostics for a terminal: a caret under the prompt line (`scala> ` is 7 columns
wide) and, for multi-line input only, the source line above it with "On line N:". A notebook cell has no
prompt, so every diagnostic is rebuilt here with its line number, the source line and a caret under it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

PROMPT_WIDTH = len("scala> ")
_CARET = re.compile(r"^( *)\^\s*$")
_HEADER = re.compile(r"^(?:On line (\d+): |\s*)(error|warning): (.*)$")
_FRAME = re.compile(r"^\s+(at \S|\.\.\. \d+ (more|elided))")
_EXCEPTION = re.compile(r"^((?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*)(?::\s?(.*))?$")
KEEP_FRAMES = 8
KEEP_CAUSE_FRAMES = 3


@dataclass
class Diagnostic:
    severity: str  # "error" or "warning"
    message: list[str]  # first line, then the indented detail lines the compiler adds
    line: int | None = None  # 1-based, in the cell
    column: int | None = None  # 0-based

    def render(self, cell: str) -> list[str]:
        out = [f"{self.severity}: {self.message[0]}", *(f"  {m.strip()}" for m in self.message[1:])]
        if self.line is not None:
            source = cell.splitlines()[self.line - 1] if self.line <= len(cell.splitlines()) else ""
            gutter = len(str(self.line))
            out.append(f"  --> line {self.line}, column {(self.column or 0) + 1}")
            out.append(f"{self.line} | {source}")
            out.append(f"{' ' * gutter} | {' ' * (self.column or 0)}^")
        return out


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    text: str = ""  # everything else the reporter said (the REPL's echo of definitions and values)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def parse_report(report: str, line_offset: int = 0, first_line_column: int = 0) -> Report:
    """Split reporter output into positioned diagnostics and plain text. `line_offset` is where the
    interpreted chunk starts in the cell, `first_line_column` where its first line starts (chunks can begin
    mid-line after a `;`)."""
    lines = report.splitlines()
    result = Report()
    rest: list[str] = []
    i = 0
    while i < len(lines):
        caret = _CARET.match(lines[i])
        header = _HEADER.match(lines[i + 1]) if caret and i + 1 < len(lines) else None
        if caret and header:
            if rest and rest[-1].startswith(" " * PROMPT_WIDTH) and "On line" in lines[i + 1]:
                rest.pop()  # the REPL's own copy of the source line; ours comes from the cell
            line = int(header.group(1) or 1)
            column = max(len(caret.group(1)) - PROMPT_WIDTH, 0) + (first_line_column if line == 1 else 0)
            message = [header.group(3)]
            i += 2
            while i < len(lines) and lines[i][:1].isspace() and lines[i].strip() and not _starts_block(lines, i):
                message.append(lines[i])
                i += 1
            result.diagnostics.append(Diagnostic(header.group(2), message, line + line_offset, column))
            continue
        bare = _HEADER.match(lines[i])
        if bare and not lines[i].startswith(" " * PROMPT_WIDTH + " "):
            # a diagnostic without a position (e.g. "warning: 1 deprecation; ...")
            message = [bare.group(3)]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() and not _starts_block(lines, i):
                message.append(lines[i])
                i += 1
            result.diagnostics.append(Diagnostic(bare.group(2), message))
            continue
        rest.append(lines[i])
        i += 1
    result.text = "\n".join(rest).strip("\n")
    return result


def _starts_block(lines: list[str], i: int) -> bool:
    """Whether line i begins the next diagnostic: a caret line, or a source line with a caret under it (the
    REPL echoes the source line for multi-line input only, and then says "On line N")."""
    if _CARET.match(lines[i]):
        return True
    return i + 2 < len(lines) and bool(_CARET.match(lines[i + 1])) and lines[i + 2].startswith("On line ")


def is_runtime_error(report: str) -> bool:
    first = next((ln for ln in report.splitlines() if ln.strip()), "")
    return bool(_EXCEPTION.match(first)) and any(_FRAME.match(ln) for ln in report.splitlines())


def runtime_error(report: str) -> tuple[str, str, list[str]]:
    """(exception class, message, shortened trace): the top frames of each exception and every cause."""
    lines = [ln for ln in report.splitlines() if ln.strip()]
    head = _EXCEPTION.match(lines[0]) if lines else None
    ename = head.group(1) if head else "Error"
    evalue = (head.group(2) or "") if head else report.strip()
    trace, frames, dropped = [], 0, 0
    for ln in lines:
        if _FRAME.match(ln):
            limit = KEEP_FRAMES if not any(t.startswith("Caused by") for t in trace) else KEEP_CAUSE_FRAMES
            if frames < limit:
                trace.append(ln)
                frames += 1
            elif not ln.strip().startswith("..."):
                dropped += 1
            continue
        if dropped:
            trace.append(f"  ... {dropped} more frames")
        frames = dropped = 0
        trace.append(ln)
    if dropped:
        trace.append(f"  ... {dropped} more frames")
    return ename, evalue, trace


def scan_complete(code: str) -> str:
    """'complete' or 'incomplete' from brackets, strings and comments alone (before the compiler is up)."""
    depth, i, n = 0, 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith('"""', i):
            end = code.find('"""', i + 3)
            if end < 0:
                return "incomplete"
            i = end + 3
            continue
        if c == '"':
            end = i + 1
            while end < n and code[end] not in '"\n':
                end += 2 if code[end] == "\\" else 1
            if end >= n or code[end] == "\n":
                return "incomplete"
            i = end + 1
            continue
        if code.startswith("//", i):
            nl = code.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if code.startswith("/*", i):
            end = code.find("*/", i + 2)
            if end < 0:
                return "incomplete"
            i = end + 2
            continue
        if c == "'" and i + 2 < n and (code[i + 2] == "'" or (code[i + 1] == "\\" and i + 3 < n)):
            i = code.find("'", i + 2) + 1 or n  # a character literal
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    return "incomplete" if depth > 0 else "complete"


def text_table(columns: list[str], rows: list[list[str | None]], truncated: bool, width: int = 20) -> str:
    """Like Dataset.show(): cells cut at `width` characters, nulls as NULL."""

    def cut(v):
        v = "NULL" if v is None else v
        return v if len(v) <= width else v[: width - 3] + "..."

    cells = [[cut(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    sep = "+" + "+".join("-" * w for w in widths) + "+"
    fmt = lambda vals: "|" + "|".join(v.rjust(w) for v, w in zip(vals, widths, strict=True)) + "|"  # noqa: E731
    out = [sep, fmt(columns), sep, *(fmt(r) for r in cells), sep]
    if truncated:
        out.append(f"only showing top {len(rows)} rows")
    return "\n".join(out)


def html_table(columns: list[str], rows: list[list[str | None]], truncated: bool) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join("<td><i>null</i></td>" if v is None else f"<td>{html.escape(v)}</td>" for v in r) + "</tr>"
        for r in rows
    )
    note = f"<p>only showing top {len(rows)} rows</p>" if truncated else ""
    return f"<table class='hunthub-dataframe'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"

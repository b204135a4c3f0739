"""Raw lines and files -> parsed entries, on executors. Every input line that is a record yields exactly one entry:

    ("ok",    source, line, raw, record)   a record for the table
    ("bad",   source, line, raw, reason)   a record for the quarantine
    ("fatal", source, 0,    raw, message)  the whole file is unreadable in this format

so nothing is dropped without being counted.
"""

from __future__ import annotations

import json

from hunthub.ingest.readers import (
    FormatError,
    RecordError,
    file_header,
    is_body_line,
    json_array_elements,
    jsonl_doc,
    parse_line,
    winevent_record,
    xml_event_doc,
    xml_events,
)

HEAD_LINES = 50  # enough for a Zeek header (8 lines) or a CSV header after a few blank lines


def parse_one(fmt: str, header, source: str, number: int, raw: str, time_field: str | None) -> tuple:
    try:
        return ("ok", source, number, raw, parse_line(fmt, header, raw, time_field))
    except RecordError as e:
        return ("bad", source, number, raw, str(e))
    except Exception as e:  # noqa: BLE001 - one odd record must not fail the job: it is quarantined with the reason
        return ("bad", source, number, raw, f"unreadable: {type(e).__name__}: {e}")


def decode(data) -> str | None:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_numbered_lines(fmt: str, header, source: str, time_field: str | None, pairs):
    """(raw bytes, 0-based index) pairs of one file, as sc.textFile(...).zipWithIndex() gives them."""
    for data, index in pairs:
        number = index + 1
        raw = decode(data)
        if raw is None:
            yield ("bad", source, number, data.decode("utf-8", "replace"), "not UTF-8 text (re-export as UTF-8)")
            continue
        raw = raw.rstrip("\r")
        if number == 1:
            raw = raw.lstrip("\ufeff")
        if is_body_line(fmt, header, number, raw):
            yield parse_one(fmt, header, source, number, raw, time_field)


def _first_text(head: list[str]) -> str:
    return next((line.lstrip("\ufeff").strip() for line in head if line.strip()), "")


def looks_like_json_array(head: list[str]) -> bool:
    return _first_text(head).startswith("[")


def looks_like_xml(head: list[str]) -> bool:
    return _first_text(head).startswith("<")


def reads_whole(fmt: str, head: list[str]) -> bool:
    """Files whose records are not lines, parsed whole in one task: a JSON array (ConvertTo-Json pretty-prints
    it) and event XML (wevtutil writes its <Event> elements without line breaks)."""
    if fmt == "winevent" and looks_like_xml(head):
        return True
    return fmt in ("winevent", "jsonl") and looks_like_json_array(head)


def parse_array(fmt: str, source: str, text: str, time_field: str | None):
    """A JSON array document; the entry's line is the element's position (1-based)."""
    try:
        elements = json_array_elements(text, source)
    except FormatError as e:
        yield ("fatal", source, 0, text, str(e))
        return
    for number, doc in enumerate(elements, 1):
        raw = json.dumps(doc, ensure_ascii=False)
        try:
            if not isinstance(doc, dict):
                raise RecordError(f"array element is {type(doc).__name__}, not an object")
            record = winevent_record(doc, time_field) if fmt == "winevent" else jsonl_doc(doc, time_field)
            yield ("ok", source, number, raw, record)
        except RecordError as e:
            yield ("bad", source, number, raw, str(e))
        except Exception as e:  # noqa: BLE001
            yield ("bad", source, number, raw, f"unreadable: {type(e).__name__}: {e}")


def parse_xml(source: str, text: str, time_field: str | None):
    """An event XML document; the entry's line is the element's position (1-based), as for JSON arrays. Text
    between the events that is not XML scaffolding is a bad entry of its own: nothing is skipped unseen."""
    for number, (is_event, raw) in enumerate(xml_events(text), 1):
        if not is_event:
            yield ("bad", source, number, raw, "not an <Event> element")
            continue
        try:
            yield ("ok", source, number, raw, winevent_record(xml_event_doc(raw), time_field))
        except RecordError as e:
            yield ("bad", source, number, raw, str(e))
        except Exception as e:  # noqa: BLE001
            yield ("bad", source, number, raw, f"unreadable: {type(e).__name__}: {e}")


def parse_text(fmt: str, source: str, data, time_field: str | None = None, delimiter: str = ","):
    """All entries of one whole file (streaming landing files, JSON arrays)."""
    text = decode(data)
    if text is None:
        yield ("fatal", source, 0, data.decode("utf-8", "replace"), f"{source}: not UTF-8 text (re-export as UTF-8)")
        return
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if fmt == "winevent" and looks_like_xml(lines[:HEAD_LINES]):
        yield from parse_xml(source, text, time_field)
        return
    if fmt in ("winevent", "jsonl") and looks_like_json_array(lines[:HEAD_LINES]):
        yield from parse_array(fmt, source, text, time_field)
        return
    try:
        header = file_header(fmt, lines[:HEAD_LINES], source, time_field, delimiter)
    except FormatError as e:
        yield ("fatal", source, 0, text, str(e))
        return
    yield from parse_numbered_lines(fmt, header, source, time_field, ((line, i) for i, line in enumerate(lines)))

"""Replace a file in one step: whoever reads it (a kernel, the hub, a second hunthub command) sees the old content
or the new, never half of one, and a crash in the middle leaves the old file and no stray temporary one.

The new content goes to a temporary file of a fresh, unpredictable name in the same directory (created 0600 and
exclusively, so a symlink planted under a guessable name is never written through), gets its final mode, and is
renamed over the target. What this cannot do: make the directory itself safe (callers own its mode and owner), or
keep the file's previous owner (the writer's account owns the new one).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def write_text(path: Path | str, text: str, mode: int = 0o600, durable: bool = False) -> Path:
    """Replace `path` with `text` (UTF-8), mode `mode`. `durable`: on disk before the rename (records that must
    survive a power cut, like the accounts ledger), at the cost of an fsync."""
    return write_bytes(path, text.encode("utf-8"), mode, durable)


def write_bytes(path: Path | str, data: bytes, mode: int = 0o600, durable: bool = False) -> Path:
    """write_text's bytes: replace `path` with `data`, mode `mode`."""
    with replacing(path, mode, durable) as f:
        f.write(data)
    return Path(path)


@contextlib.contextmanager
def replacing(path: Path | str, mode: int = 0o600, durable: bool = False) -> Iterator[BinaryIO]:
    """For content written as a stream (an archive): the block writes to the yielded binary file, which replaces
    `path` when the block ends without an error; on an error `path` keeps its old content."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path | str, doc, mode: int = 0o600, durable: bool = False, **dump_options) -> Path:
    """Replace `path` with `doc` as JSON and a final newline; `dump_options` go to json.dumps (indent, ...)."""
    return write_text(path, json.dumps(doc, **dump_options) + "\n", mode, durable)

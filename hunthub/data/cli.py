"""`hunthub data generate` (and its alias `demo`): arguments checked up front, a progress bar on stderr."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from hunthub import catalog
from hunthub.data import demo, generate


class ProgressBar:
    """events written / total, rate and ETA on stderr: redrawn in place on a terminal, a line per tenth in a log."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream, self.width = stream, width
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0
        bar = "#" * (self.width * done // total)
        line = (
            f"[{bar:<{self.width}}] {done:,}/{total:,} events {100 * done / total:5.1f}%  "
            f"{rate:,.0f} events/s  ETA {_duration(eta)}"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
            self.stream.flush()
        elif done * 10 // total > self.shown:
            self.shown = done * 10 // total
            print(line, file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _fail(message: str) -> int:
    print(f"hunthub data generate: {message}", file=sys.stderr)
    return 2


def generate_command(s, args) -> int:
    events = args.events if args.events is not None else s.demo_data_events
    seed = args.seed if args.seed is not None else generate.DEFAULT_SEED
    days = args.days if args.days is not None else generate.DEFAULT_DAYS
    try:
        generate.check(events, days)
    except ValueError as e:
        return _fail(str(e).replace("events must", "--events must").replace("days must", "--days must"))
    if seed < 0:
        return _fail(f"--seed must not be negative, not {seed}")

    if args.out:
        out, register = Path(args.out).absolute(), False
        key_path = Path(args.answer_key) if args.answer_key else out / "answer-key.json"
    else:
        out, register = catalog.local_path(s.warehouse), True
        if out is None:
            return _fail(f"the warehouse {s.warehouse} is not a local folder; write elsewhere with --out DIR")
        key_path = Path(args.answer_key) if args.answer_key else Path(s.state_dir) / "answer-key.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        return _fail(f"cannot write to {out}: {e.strerror or e}")

    print(f"generating {events:,} events over {days} days (seed {seed}) into {out}", file=sys.stderr)
    started = time.monotonic()
    try:
        if register:
            result = demo.write_and_register(
                out, Path(s.catalog_path), events, ProgressBar(), key_path, seed=seed, days=days
            )
        else:
            result = generate.generate(out, events, seed, days, ProgressBar())
            generate.write_key(key_path, result.key)
    except OSError as e:
        return _fail(f"writing {e.filename or out} failed: {e.strerror or e}")
    elapsed = time.monotonic() - started
    for name, path in result.paths.items():
        print(f"  {name:<15} {result.rows[name]:>13,} rows  {path}")
    for name in result.skipped:
        print(f"  {name:<15} skipped: the catalog points it at the admin's own data")
    print(f"{result.bytes / 1e6:,.1f} MB in {elapsed:.1f} s ({events / elapsed:,.0f} events/s)")
    print(f"answer key: {key_path} (readable by you only)")
    if register:
        print(f"registered in the catalog {s.catalog_path}: analysts' kernels see the tables at their next start")
    else:
        print(f"not registered: {out} is not the warehouse ({s.warehouse}); add it to the catalog to query it")
    return 0

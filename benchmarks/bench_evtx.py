"""EVTX parsers from PyPI on the same real files, in one run: events/s of each, one thread, side by side (issue 14).

Contenders (those not installed are listed as skipped, with the pip line that adds them):
- evtx (pyevtx-rs, Rust; MIT/Apache-2.0; manylinux wheels): records_json(), then json.loads to the nested dict
  hunthub hands to winevent_record; also its JSON text alone;
- python-evtx (pure Python; Apache-2.0): each record's XML text;
- libevtx-python (libyal, C; LGPL-3.0; sdist, compiled at install): each record's XML text;
- dissect.eventlog (Fox-IT, pure Python; AGPL-3.0): each record as its flat key/value collection;
- hunthub's whole Python side per file, hunthub.ingest.evtx.entries: header checks, evtx, json.loads, winevent_record
  and the record accounting (what one Spark task runs per file).

Every contender reads every file by its path; each run reads all files with each contender in turn (the order
alternates between runs; round 0 warms the page cache and is not counted). A contender's event count must equal what
the files' chunk headers list, or its line says so. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import ROOT, git_state, log  # noqa: E402 - a sibling script, not a package

sys.path.insert(0, str(ROOT))


def evtx_dicts(path: str) -> int:
    import evtx

    n = 0
    for r in evtx.PyEvtxParser(path, number_of_threads=1).records_json():
        json.loads(r["data"])
        n += 1
    return n


def evtx_json_text(path: str) -> int:
    import evtx

    return sum(1 for _ in evtx.PyEvtxParser(path, number_of_threads=1).records_json())


def python_evtx_xml(path: str) -> int:
    from Evtx.Evtx import Evtx

    n = 0
    with Evtx(path) as log_file:
        for record in log_file.records():
            record.xml()
            n += 1
    return n


def libevtx_xml(path: str) -> int:
    import pyevtx

    f = pyevtx.file()
    f.open(path)
    try:
        for i in range(f.number_of_records):
            f.get_record(i).xml_string  # noqa: B018 - the attribute builds the XML
        return f.number_of_records
    finally:
        f.close()


def dissect_records(path: str) -> int:
    from dissect.eventlog.evtx import Evtx

    n = 0
    with open(path, "rb") as fh:
        for record in Evtx(fh):
            dict(record)
            n += 1
    return n


def hunthub_entries(path: str) -> int:
    from hunthub.ingest.evtx import entries

    return sum(1 for _ in entries(path, path))


# (name, module to import, pip line, output, function)
CONTENDERS = [
    ("evtx (Rust): JSON -> nested dict", "evtx", "evtx", "dict", evtx_dicts),
    ("evtx (Rust): JSON text only", "evtx", "evtx", "JSON text", evtx_json_text),
    ("libevtx-python (C)", "pyevtx", "libevtx-python", "XML text", libevtx_xml),
    ("python-evtx (pure Python)", "Evtx", "python-evtx", "XML text", python_evtx_xml),
    ("dissect.eventlog (pure Python)", "dissect.eventlog", "dissect.eventlog", "flat dict", dissect_records),
    ("hunthub.ingest.evtx.entries", "evtx", "evtx", "parse entries", hunthub_entries),
]


def version(module: str) -> str:
    from importlib import metadata

    dist = {"evtx": "evtx", "pyevtx": "libevtx-python", "Evtx": "python-evtx", "dissect.eventlog": "dissect.eventlog"}
    try:
        return metadata.version(dist[module])
    except metadata.PackageNotFoundError:
        return "?"


def available(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


def expected_events(files: list[str]) -> int:
    from hunthub.ingest.evtx import check

    return sum(check(f).records for f in files)


def run(files: list[str], runs: int, only: set[str] | None, results: dict) -> None:
    contenders = [c for c in CONTENDERS if not only or any(o in c[0].lower() for o in only)]
    expected = expected_events(files)
    size = sum(os.path.getsize(f) for f in files)
    log(f"{len(files)} files, {size / 2**20:.1f} MiB, {expected:,} events in their chunk headers")
    results.update(files=len(files), bytes=size, events=expected, contenders={}, load_at_start=os.getloadavg())
    ready = []
    for name, module, pip, output, fn in contenders:
        entry = {"output": output, "pip": pip}
        if available(module):
            entry.update(version=version(module), seconds=[], events=None)
            ready.append((name, fn))
        else:
            entry["skipped"] = f"not installed: .venv/bin/pip install {pip}"
        results["contenders"][name] = entry
    for round_ in range(runs + 1):
        order = ready if round_ % 2 else list(reversed(ready))
        for name, fn in order:
            t0 = time.perf_counter()
            events = sum(fn(f) for f in files)
            elapsed = time.perf_counter() - t0
            entry = results["contenders"][name]
            entry["events"] = events
            if round_ == 0:
                entry["warmup_seconds"] = elapsed
                log(f"  warm-up {name}: {events:,} events in {elapsed:.2f} s")
                continue
            entry["seconds"].append(elapsed)
            log(f"  run {round_}/{runs} {name}: {events / elapsed:,.0f} events/s")


def report(results: dict, runs: int, complete: bool, git: dict) -> None:
    base = results["contenders"].get("evtx (Rust): JSON -> nested dict", {})
    base_rate = results["events"] / statistics.median(base["seconds"]) if base.get("seconds") else None
    print(f"\n{results['files']} EVTX files, {results['bytes'] / 2**20:.1f} MiB, {results['events']:,} events; "
          f"one thread; median of {runs} runs [min-max]")  # fmt: skip
    print(f"{'parser':<34} {'version':<10} {'output':<14} {'events/s':>28}  {'vs evtx':>7}  events read")
    for name, r in results["contenders"].items():
        if "skipped" in r:
            print(f"{name:<34} {'-':<10} {r['output']:<14} {'skipped: ' + r['skipped']}")
            continue
        if not r["seconds"]:
            continue
        rates = [results["events"] / s for s in r["seconds"]]
        med = statistics.median(rates)
        cell = f"{med:,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]"
        ratio = f"{med / base_rate:.3g}x" if base_rate else "-"
        read = f"{r['events']:,}" + ("" if r["events"] == results["events"] else " (!= chunk headers)")
        print(f"{name:<34} {r['version']:<10} {r['output']:<14} {cell:>28}  {ratio:>7}  {read}")
    print("'vs evtx': events/s relative to evtx's nested dicts (below 1: slower).")
    start, end = results.get("load_at_start", (0,)), os.getloadavg()
    print(f"load average (1 min) at start {start[0]:.1f}, at end {end[0]:.1f} ({os.cpu_count()} cores)")
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = ROOT / "benchmarks" / "results" / f"evtx-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "runs": runs, "cores": os.cpu_count(), "load_at_end": os.getloadavg(), "git": git,
           **results}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def main() -> int:
    from tests.real_logs import root

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dir", type=Path, default=root() / "evtx-attack-samples",
        help="where the .evtx files are (default: EVTX-ATTACK-SAMPLES, see tests/real_logs.py)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=3, help="counted runs (default 3)")
    parser.add_argument("--only", help="comma-separated parts of contender names, e.g. evtx,libevtx")
    args = parser.parse_args()
    files = sorted(str(p) for p in args.dir.rglob("*.evtx"))
    if not files:
        print(f"no .evtx files under {args.dir}", file=sys.stderr)
        return 2
    only = {o.strip().lower() for o in args.only.split(",")} if args.only else None
    git = git_state()
    results: dict = {}
    complete = False
    try:
        run(files, args.runs, only, results)
        complete = True
    finally:
        if results.get("contenders"):
            report(results, args.runs, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())

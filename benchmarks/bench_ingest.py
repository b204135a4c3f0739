"""`hunthub ingest batch` against plain `spark.read.json(...).write.parquet(...)`, events/s, in one run (issue 14).

For each format Spark has a JVM reader for (jsonl, winevent as forwarders' flat JSON, csv) and each size, on the
same generated file, in the same local Spark session (the one `hunthub ingest --master 'local[N]'` builds):

- plain: `spark.read.json(path).write.parquet(out)` (csv: `spark.read.csv(path, header=True, inferSchema=True)`),
  what an analyst would write without hunthub: no event time, no quarantine, no dedup, no catalog;
- hunthub: `hunthub.ingest.batch.ingest_files`, the code path of `hunthub ingest batch`, into a fresh table;
- hunthub, 1 % bad lines: the same events with every 100th line broken (truncated JSON, a CSV row missing
  fields): the cost of the quarantine;
- hunthub, no dedup: the same ingest with write's internal `dedup=False` (no command has it): the cost of the
  duplicate check (within the input and against the table).

Every hunthub run is checked: read = written + quarantined, the numbers the data was made with. Figures go to
stdout (events/s and the ratio hunthub/plain) and to benchmarks/results/ingest-<timestamp>.json. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import ROOT, git_state, log  # noqa: E402 - a sibling script, not a package

sys.path.insert(0, str(ROOT))

FORMATS = ("jsonl", "winevent", "csv")
BAD_EVERY = 100  # 1 % of the lines broken in the quarantine runs
CHUNK = 50_000  # lines generated and written at once
START = 1_793_577_600  # 2026-11-02T00:00:00Z
SPAN = 7 * 86_400  # a week of events: seven date partitions

USERS = [f"user{i:03d}" for i in range(200)] + ["administrator", "svc_backup", "svc_sql", "krbtgt"]
HOSTS = [f"WS-{i:04d}" for i in range(300)] + ["DC01", "DC02", "FS01", "SQL01", "WEB01"]
IMAGES = [
    r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"C:\Windows\explorer.exe", r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\rundll32.exe", r"C:\Windows\System32\wmic.exe",
]  # fmt: skip
DOMAINS = ["example.com", "update.microsoft.com", "cdn.example.net", "login.live.com", "x3f9a.badcdn.top"]
SIGNATURES = ["ET POLICY Curl User-Agent", "ET SCAN Nmap Scripting Engine", "ET TROJAN Cobalt Strike Beacon"]


def _ip(r: random.Random, internal=True) -> str:
    return f"10.{r.randrange(4)}.{r.randrange(256)}.{r.randrange(1, 255)}" if internal else (
        f"{r.randrange(11, 223)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}")  # fmt: skip


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1_000_000:06d}Z"


def jsonl_line(i: int, t: float, r: random.Random) -> str:
    """Suricata eve.json (nested: flow, dns, http, alert) and Zeek JSON conn logs (dotted keys), 60/25/10/5."""
    kind = r.random()
    src, dst = _ip(r), _ip(r, internal=r.random() < 0.3)
    if kind < 0.6:
        doc = {"timestamp": _iso(t), "flow_id": 10**15 + i, "event_type": "flow", "src_ip": src,
               "src_port": r.randrange(1024, 65535), "dest_ip": dst, "dest_port": r.choice((53, 80, 443, 445, 3389)),
               "proto": r.choice(("TCP", "UDP")), "flow": {"pkts_toserver": r.randrange(1, 90),
               "pkts_toclient": r.randrange(1, 90), "bytes_toserver": r.randrange(60, 90000),
               "bytes_toclient": r.randrange(60, 900000), "state": "closed", "reason": "timeout"}}  # fmt: skip
    elif kind < 0.85:
        doc = {"ts": round(t, 6), "uid": f"C{i:017x}", "id.orig_h": src, "id.orig_p": r.randrange(1024, 65535),
               "id.resp_h": dst, "id.resp_p": 443, "proto": "tcp", "service": "ssl", "duration": r.random() * 30,
               "orig_bytes": r.randrange(9000), "resp_bytes": r.randrange(90000), "conn_state": "SF",
               "history": "ShADadFf", "local_orig": True}  # fmt: skip
    elif kind < 0.95:
        doc = {"timestamp": _iso(t), "flow_id": 10**15 + i, "event_type": "dns", "src_ip": src, "dest_ip": "10.0.0.2",
               "dest_port": 53, "proto": "UDP", "dns": {"type": "query", "id": r.randrange(65536),
               "rrname": f"h{r.randrange(999)}.{r.choice(DOMAINS)}", "rrtype": "A", "tx_id": 0}}  # fmt: skip
    else:
        doc = {"timestamp": _iso(t), "flow_id": 10**15 + i, "event_type": "alert", "src_ip": src, "dest_ip": dst,
               "dest_port": 443, "proto": "TCP", "alert": {"action": "allowed", "gid": 1,
               "signature_id": 2_000_000 + r.randrange(999), "signature": r.choice(SIGNATURES),
               "category": "A Network Trojan was detected", "severity": r.randrange(1, 4)},
               "http": {"hostname": r.choice(DOMAINS), "url": f"/p/{i}", "http_user_agent": "curl/8.5.0",
               "status": 200, "length": r.randrange(9000)}}  # fmt: skip
    return json.dumps(doc)


def winevent_line(i: int, t: float, r: random.Random) -> str:
    """NXLog's flat JSON of Security 4624/4625/4688 and Sysmon 1/3, 40/10/25/15/10: EventData at the top level."""
    host = r.choice(HOSTS)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
    base = {"EventTime": when, "Hostname": f"{host}.corp.example", "Keywords": -9214364837600034816,
            "SeverityValue": 2, "Severity": "INFO", "RecordNumber": i, "ProcessID": 676, "ThreadID": r.randrange(9000),
            "EventReceivedTime": when, "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog"}  # fmt: skip
    kind = r.random()
    user = r.choice(USERS)
    if kind < 0.5:
        event_id = 4624 if kind < 0.4 else 4625
        doc = {**base, "EventID": event_id, "SourceName": "Microsoft-Windows-Security-Auditing",
               "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Channel": "Security", "Task": 12544,
               "Category": "Logon", "TargetUserSid": "S-1-5-21-1004336348-1177238915-682003330-1105",
               "TargetUserName": user, "TargetDomainName": "CORP", "LogonType": str(r.choice((2, 3, 3, 3, 10))),
               "LogonProcessName": "NtLmSsp", "AuthenticationPackageName": "NTLM", "WorkstationName": r.choice(HOSTS),
               "IpAddress": _ip(r), "IpPort": str(r.randrange(1024, 65535)),
               "Message": "An account logged on." if event_id == 4624 else "An account failed to log on."}  # fmt: skip
    elif kind < 0.75:
        image = r.choice(IMAGES)
        doc = {**base, "EventID": 4688, "SourceName": "Microsoft-Windows-Security-Auditing", "Channel": "Security",
               "SubjectUserName": user, "SubjectDomainName": "CORP", "NewProcessId": hex(r.randrange(65536)),
               "NewProcessName": image, "TokenElevationType": "%%1936", "ProcessId": hex(r.randrange(65536)),
               "CommandLine": f'"{image}" /c whoami /all {i}', "ParentProcessName": r.choice(IMAGES),
               "Message": "A new process has been created."}  # fmt: skip
    elif kind < 0.9:
        image = r.choice(IMAGES)
        doc = {**base, "EventID": 1, "SourceName": "Microsoft-Windows-Sysmon",
               "Channel": "Microsoft-Windows-Sysmon/Operational", "UtcTime": when, "ProcessGuid": f"{{{i:032x}}}",
               "ProcessId": str(r.randrange(65536)), "Image": image, "CommandLine": f"{image} -enc {i:x}",
               "CurrentDirectory": "C:\\Windows\\system32\\", "User": f"CORP\\{user}", "IntegrityLevel": "High",
               "Hashes": f"SHA256={i:064X}", "ParentImage": r.choice(IMAGES), "Message": "Process Create"}  # fmt: skip
    else:
        doc = {**base, "EventID": 3, "SourceName": "Microsoft-Windows-Sysmon",
               "Channel": "Microsoft-Windows-Sysmon/Operational", "UtcTime": when, "Image": r.choice(IMAGES),
               "User": f"CORP\\{user}", "Protocol": "tcp", "Initiated": "true", "SourceIp": _ip(r),
               "SourcePort": str(r.randrange(1024, 65535)), "DestinationIp": _ip(r, internal=False),
               "DestinationPort": "443", "Message": "Network connection detected"}  # fmt: skip
    return json.dumps(doc)


CSV_HEADER = "login_time,user,src_ip,country,gateway,auth_method,result,bytes_in,bytes_out,session_seconds,mfa"


def csv_line(i: int, t: float, r: random.Random) -> str:
    """A VPN concentrator's logon export."""
    ok = r.random() < 0.93
    return (f"{_iso(t)},{r.choice(USERS)},{_ip(r, internal=False)},{r.choice(('DE', 'US', 'FR', 'GB', 'NL'))},"
            f"vpn-gw{r.randrange(1, 4)},{r.choice(('saml', 'radius', 'cert'))},{'success' if ok else 'failure'},"
            f"{r.randrange(10**7) if ok else 0},{r.randrange(10**8) if ok else 0},{r.randrange(28800) if ok else 0},"
            f"{'true' if r.random() < 0.8 else 'false'}")  # fmt: skip


LINES = {"jsonl": jsonl_line, "winevent": winevent_line, "csv": csv_line}
TIME_FIELD = {"csv": "login_time"}  # --time-field, as the README's VPN example passes it


def broken(fmt: str, line: str) -> str:
    """A line ingest must quarantine: JSON cut off in the middle (a forwarder's torn write), a CSV row short of
    fields."""
    return line[: len(line) // 2] if fmt != "csv" else ",".join(line.split(",")[:5])


def _chunk(job) -> str:
    fmt, events, start, seed = job
    r = random.Random(f"{seed}/{start}")  # each chunk its own stream: chunks are made in parallel, same output
    make = LINES[fmt]
    return "".join(make(i, START + SPAN * i / events, r) + "\n" for i in range(start, min(events, start + CHUNK)))


def generate(fmt: str, events: int, path: Path, bad_every: int = 0, seed: int = 14) -> Path:
    """`events` lines of `fmt` (plus the CSV header) into path, deterministic for (fmt, events, seed), chunks made
    on every core; with bad_every, the same file with every `bad_every`th event line broken (made from the clean
    file, which is kept beside it)."""
    if path.exists():
        return path
    tmp = path.with_name(f".{path.name}.part")
    started = time.monotonic()
    if bad_every:
        clean = generate(fmt, events, path.with_name(path.name.replace(f"-bad{bad_every}", "")), 0, seed)
        with open(clean, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as out:
            if fmt == "csv":
                out.write(src.readline())
            for i, line in enumerate(src):
                out.write(broken(fmt, line.rstrip("\n")) + "\n" if i % bad_every == bad_every - 1 else line)
        tmp.rename(path)
        return path
    from multiprocessing import Pool

    jobs = [(fmt, events, start, seed) for start in range(0, events, CHUNK)]
    with open(tmp, "w", encoding="utf-8") as out, Pool(os.cpu_count()) as pool:
        if fmt == "csv":
            out.write(CSV_HEADER + "\n")
        for n, text in enumerate(pool.imap(_chunk, jobs), 1):
            out.write(text)
            if n % 20 == 0:
                done = min(events, n * CHUNK)
                log(f"  {path.name}: {done:,}/{events:,} lines ({done / (time.monotonic() - started):,.0f}/s)")
    tmp.rename(path)
    return path


def bad_lines(events: int, bad_every: int) -> int:
    return events // bad_every if bad_every else 0


def session(state: Path, master: str):
    """The session `hunthub ingest batch --master <master>` builds, in a throwaway state dir."""
    os.environ["HUNTHUB_STATE_DIR"] = str(state)
    os.environ.pop("HUNTHUB_CONFIG", None)
    from hunthub import settings
    from hunthub.ingest import session as ingest_session

    s = settings.load()
    return s, ingest_session.start(s, master)


def plain(spark, fmt: str, path: Path, out: Path) -> float:
    """The upstream way. Case-sensitive, as hunthub's ingest: with Spark's default, reading the Windows events
    fails outright (COLUMN_ALREADY_EXISTS: NXLog's ProcessID beside Sysmon's ProcessId)."""
    spark.conf.set("spark.sql.caseSensitive", "true")
    try:
        started = time.monotonic()
        reader = spark.read.option("header", True).option("inferSchema", True)
        df = reader.csv(str(path)) if fmt == "csv" else spark.read.json(str(path))
        df.write.parquet(str(out))
        return time.monotonic() - started
    finally:
        spark.conf.unset("spark.sql.caseSensitive")


READERS = "auto"  # batch.ingest_files' `readers`, from --readers


def hunthub_run(spark, s, fmt: str, path: Path, table: str, events: int, bad: int, dedup: bool = True) -> dict:
    from hunthub.ingest.batch import ingest_files
    from hunthub.ingest.write import Target

    started = time.monotonic()
    stats = ingest_files(spark, [str(path)], fmt, Target(table, s.warehouse, s.catalog_path), TIME_FIELD.get(fmt),
                         say=lambda _: None, dedup=dedup, readers=READERS)  # fmt: skip
    seconds = time.monotonic() - started
    ok = stats.records == events and stats.quarantined == bad and stats.written == events - bad
    if not ok or stats.unaccounted():
        raise RuntimeError(f"{table}: expected {events:,} read, {bad:,} quarantined: {stats.summary(table)}")
    return {"seconds": seconds, "written": stats.written, "quarantined": stats.quarantined}


def measure(spark, s, fmt: str, events: int, data: Path, work: Path, results: dict, costs: bool = True) -> None:
    """plain and hunthub on the same file; with `costs`, also the 1 % bad lines and no-dedup runs."""
    clean = generate(fmt, events, data / f"{fmt}-{events}.{'csv' if fmt == 'csv' else 'json'}")
    entry = results.setdefault(fmt, {}).setdefault(str(events), {"bytes": clean.stat().st_size})
    name = f"{fmt}_{events}"
    log(f"{fmt} {events:,}: plain Spark ...")
    entry["plain_seconds"] = plain(spark, fmt, clean, work / f"plain_{name}")
    log(f"  {entry['plain_seconds']:.1f} s; hunthub ...")
    entry["hunthub"] = hunthub_run(spark, s, fmt, clean, f"t_{name}", events, 0)
    if not costs:
        log(f"  {entry['hunthub']['seconds']:.1f} s")
        shutil.rmtree(work / f"plain_{name}", ignore_errors=True)
        return
    dirty = generate(fmt, events, data / f"{fmt}-{events}-bad{BAD_EVERY}.{'csv' if fmt == 'csv' else 'json'}",
                     BAD_EVERY)  # fmt: skip
    log(f"  {entry['hunthub']['seconds']:.1f} s; hunthub, 1 % bad lines ...")
    entry["hunthub_bad"] = hunthub_run(spark, s, fmt, dirty, f"b_{name}", events, bad_lines(events, BAD_EVERY))
    log(f"  {entry['hunthub_bad']['seconds']:.1f} s; hunthub, no dedup ...")
    entry["hunthub_nodedup"] = hunthub_run(spark, s, fmt, clean, f"n_{name}", events, 0, dedup=False)
    log(f"  {entry['hunthub_nodedup']['seconds']:.1f} s")
    shutil.rmtree(work / f"plain_{name}", ignore_errors=True)


def figures(events: int, entry: dict) -> dict:
    """Events/s of each run and the ratios the README quotes."""
    rate = {k: events / entry[k]["seconds"] for k in ("hunthub", "hunthub_bad", "hunthub_nodedup") if k in entry}
    out = {"plain_events_per_s": events / entry["plain_seconds"], **{f"{k}_events_per_s": v for k, v in rate.items()}}
    if "hunthub" in entry:
        h = entry["hunthub"]["seconds"]
        out["hunthub_vs_plain"] = entry["plain_seconds"] / h  # above 1: hunthub is faster
        if "hunthub_bad" in entry:
            out["quarantine_cost"] = entry["hunthub_bad"]["seconds"] / h - 1  # extra time for 1 % bad lines
        if "hunthub_nodedup" in entry:
            out["dedup_cost"] = h / entry["hunthub_nodedup"]["seconds"] - 1  # extra time of the duplicate check
    return out


def report(results: dict, args, complete: bool, git: dict, elapsed: float) -> Path:
    print(f"\nmaster {args.master}; events/s (higher is better); ratio = hunthub / plain Spark; quarantine: extra time "
          f"with 1 % bad lines; dedup: extra time of the duplicate check")  # fmt: skip
    head = f"{'format':<10}{'events':>12}{'hunthub/s':>12}{'plain/s':>12}{'ratio':>8}{'quarantine':>12}{'dedup':>8}"
    print(head)
    for fmt, sizes in results.items():
        for events, entry in sizes.items():
            if "plain_seconds" not in entry:
                continue
            f = entry["figures"] = figures(int(events), entry)
            cells = [f"{fmt:<10}", f"{int(events):>12,}", f"{f.get('hunthub_events_per_s', 0):>12,.0f}",
                     f"{f['plain_events_per_s']:>12,.0f}", f"{f.get('hunthub_vs_plain', 0):>7.2f}x",
                     f"{f['quarantine_cost']:>+11.0%}" if "quarantine_cost" in f else f"{'-':>11}",
                     f"{f['dedup_cost']:>+8.0%}" if "dedup_cost" in f else f"{'-':>8}"]  # fmt: skip
            print("".join(cells))
    out = ROOT / "benchmarks" / "results" / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)  # results/ is not in the repository
    doc = {"complete": complete, "master": args.master, "readers": args.readers,
           "elapsed_seconds": elapsed, "cpus": os.cpu_count(), "load_at_end": os.getloadavg(), "bad_every": BAD_EVERY,
           "git": git, "results": results}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures: {out.relative_to(ROOT)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="events per file, comma-separated")
    parser.add_argument("--quick", action="store_true", help="100,000 events only (a smoke run, ~3 min)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"of {', '.join(FORMATS)}")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--readers", default="auto", choices=("auto", "jvm", "python"),
                        help="auto: as `hunthub ingest` chooses (batch.JVM_READERS, by size); jvm: Spark's readers "
                        "wherever they can; python: hunthub's Python readers only")  # fmt: skip
    parser.add_argument("--costs-up-to", type=float, default=float("inf"), metavar="EVENTS",
                        help="the 1 %% bad lines and no-dedup runs (each as long as hunthub's) only up to this size; "
                        "default: every size")  # fmt: skip
    parser.add_argument("--dir", help="keep the generated files here and reuse them (default: a temp dir, removed)")
    args = parser.parse_args()
    global READERS
    READERS = args.readers
    sizes = [100_000] if args.quick else [int(float(n)) for n in args.sizes.split(",")]
    formats = [f for f in args.formats.split(",") if f]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats {sorted(unknown)}")
    git = git_state()
    tmp = Path(tempfile.mkdtemp(prefix="hunthub-bench-ingest-"))
    data = Path(args.dir) if args.dir else tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    started = time.monotonic()
    complete = False
    spark = None
    try:
        s, spark = session(tmp / "state", args.master)
        # the session's first jobs run on a cold JVM (class loading, JIT): warm it up, uncounted
        warm = generate("jsonl", 20_000, tmp / "warmup.json")
        plain(spark, "jsonl", warm, tmp / "warmup")
        hunthub_run(spark, s, "jsonl", warm, "warmup", 20_000, 0)
        for events in sizes:
            for fmt in formats:
                measure(spark, s, fmt, events, data, tmp / "work", results, costs=events <= args.costs_up_to)
        complete = True
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured")
    finally:
        if spark is not None:
            spark.stop()
        report(results, args, complete, git, time.monotonic() - started)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())

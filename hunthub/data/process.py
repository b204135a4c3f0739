"""Everyday process creation (process_events, Windows 4688): office software on workstations, services on
servers, and some legitimate admin scripting so PowerShell alone is no signal."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hunthub.data import draw
from hunthub.data.population import DOMAIN, Population
from hunthub.data.tables import PROCESS

PF = "C:\\Program Files"
# (process, parent, command line, runs as the host's owner (else SYSTEM), weight)
WORKSTATION = [
    ("explorer.exe", "userinit.exe", "C:\\Windows\\explorer.exe", True, 2),
    ("chrome.exe", "explorer.exe", f'"{PF}\\Google\\Chrome\\Application\\chrome.exe"', True, 10),
    ("chrome.exe", "chrome.exe", f'"{PF}\\Google\\Chrome\\Application\\chrome.exe" --type=renderer', True, 20),
    ("msedge.exe", "explorer.exe", f'"{PF} (x86)\\Microsoft\\Edge\\Application\\msedge.exe"', True, 5),
    ("OUTLOOK.EXE", "explorer.exe", f'"{PF}\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"', True, 4),
    ("WINWORD.EXE", "explorer.exe", f'"{PF}\\Microsoft Office\\root\\Office16\\WINWORD.EXE" /n', True, 4),
    ("EXCEL.EXE", "explorer.exe", f'"{PF}\\Microsoft Office\\root\\Office16\\EXCEL.EXE"', True, 4),
    ("ms-teams.exe", "explorer.exe", "ms-teams.exe --system-initiated", True, 3),
    ("svchost.exe", "services.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", False, 12),
    ("svchost.exe", "services.exe", "C:\\Windows\\System32\\svchost.exe -k LocalService -p", False, 8),
    ("conhost.exe", "svchost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", False, 4),
    ("taskhostw.exe", "svchost.exe", "taskhostw.exe KEYROAMING", True, 2),
    ("MsMpEng.exe", "services.exe", '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\MsMpEng.exe"', False, 1),
    (
        "powershell.exe",
        "svchost.exe",
        "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\CorpIT\\inventory.ps1",
        False,
        2,
    ),
    ("cmd.exe", "explorer.exe", "cmd.exe", True, 1),
    ("ipconfig.exe", "cmd.exe", "ipconfig /all", True, 0.5),
    ("notepad.exe", "explorer.exe", "notepad.exe", True, 1),
]
SERVER = [
    ("svchost.exe", "services.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", False, 10),
    (
        "sqlservr.exe",
        "services.exe",
        f'"{PF}\\Microsoft SQL Server\\MSSQL16\\Binn\\sqlservr.exe" -sMSSQLSERVER',
        False,
        2,
    ),
    ("w3wp.exe", "svchost.exe", "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap DefaultAppPool", False, 3),
    ("java.exe", "services.exe", f'"{PF}\\Java\\jre\\bin\\java.exe" -jar C:\\apps\\portal\\portal.jar', False, 2),
    ("lsass.exe", "wininit.exe", "C:\\Windows\\system32\\lsass.exe", False, 1),
    ("wbengine.exe", "svchost.exe", '"C:\\Windows\\system32\\wbengine.exe"', False, 1),
    (
        "powershell.exe",
        "svchost.exe",
        "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\CorpIT\\inventory.ps1",
        False,
        2,
    ),
]


def sha256_of(process_name: str, variant: str = "") -> str:
    """A stable stand-in for the image hash: one per executable (and per variant for planted malware)."""
    return hashlib.sha256(f"hunthub:{process_name.lower()}:{variant}".encode()).hexdigest()


def background(pop: Population, rng: np.random.Generator, n: int, day: int) -> pa.Table:
    on_server = rng.random(n) < 0.15
    host = np.where(
        on_server, pop.servers[rng.integers(0, len(pop.servers), n)], rng.integers(0, pop.n_workstations, n)
    )
    ws_pick = draw.choose(rng, n, [w for *_, w in WORKSTATION])
    srv_pick = draw.choose(rng, n, [w for *_, w in SERVER])
    pool = WORKSTATION + SERVER
    pick = np.where(on_server, srv_pick + len(WORKSTATION), ws_pick)
    as_owner = np.array([p[3] for p in pool])[pick]
    owner = draw.take(pop.host_owner, host)
    user = pc.if_else(pa.array(as_owner), owner, draw.const("SYSTEM", n))
    return rows(
        time_us=draw.office_hours(rng, n, day),
        host=draw.take(pop.arrays["hosts"], host),
        user=user,
        process=draw.take([p[0] for p in pool], pick),
        parent=draw.take([p[1] for p in pool], pick),
        command=draw.take([p[2] for p in pool], pick),
        sha256=draw.take([sha256_of(p[0]) for p in pool], pick),
    )


def rows(*, time_us, host, user, process, parent, command, sha256) -> pa.Table:
    n = len(time_us)
    return pa.table(
        {
            "event_time": draw.times(time_us),
            "event_id": pa.array(np.full(n, 4688), pa.int32()),
            "host": host,
            "user": user,
            "domain": draw.const(DOMAIN, n),
            "process_name": process,
            "parent_process_name": parent,
            "command_line": command,
            "sha256": sha256,
        },
        schema=PROCESS.schema,
    )

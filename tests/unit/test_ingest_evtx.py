""".evtx files (hunthub.ingest.evtx): records as the event XML in nested JSON, handed to winevent_record; files
that are not whole EVTX files named before Spark starts; records the parser cannot read counted, never dropped.

Real data: a few recordings of attacks from EVTX-ATTACK-SAMPLES (tests/real_logs.py; skipped where absent) and,
on every machine with PyPI, TestLogX.evtx, a small real log (5 events of a test application) that the sdist of
dissect.eventlog ships for its own tests. Synthetic edge cases are cut or damaged copies of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hunthub import cli
from hunthub.ingest import evtx, readers
from hunthub.ingest.readers import FormatError
from hunthub.ingest.records import columns_of
from tests.real_logs import recording

# (distribution, version, its sdist's sha256, the member, the member's sha256)
PYPI_SAMPLE = (
    "dissect.eventlog",
    "3.11",
    "1a03f05748831e72981c5c456a9e8f6ad1a69544dc0b16359dd1d2a0de994b02",
    "tests/_data/TestLogX.evtx",
    "7bba434a7a3667433d5741e3fe323ac251c4cbde42d66ec548ef9fbf7a8c5735",
)
SECURITY = "evtx-attack-samples/Lateral Movement/LM_WMI_4624_4688_TargetHost.evtx"  # 8 events: 4624, 4688, ...
DCSYNC = "evtx-attack-samples/Credential Access/CA_DCSync_4662.evtx"  # 3 events 4662
SYSMON = "evtx-attack-samples/Execution/sysmon_exec_from_vss_persistence.evtx"  # 17 Sysmon events, 16 of them 1


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pypi_sample() -> Path:
    """TestLogX.evtx from the dissect.eventlog sdist, downloaded once per machine with pip (checked against pinned
    hashes) into ~/.cache/hunthub-tests; skips the test, saying why, when PyPI cannot be reached."""
    name, version, sdist_sha, member, sha = PYPI_SAMPLE
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hunthub-tests"
    target = cache / Path(member).name
    if target.exists() and _sha256(target.read_bytes()) == sha:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    download = cache / "download"
    shutil.rmtree(download, ignore_errors=True)
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", f"{name}=={version}",
            "-d", str(download)]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip(f"PyPI: `pip download {name}=={version}` took over 300 s; TestLogX.evtx is in its sdist")
    sdists = sorted(download.glob("*.tar.gz"))
    if done.returncode or not sdists:
        pytest.skip(f"PyPI unreachable? `pip download {name}=={version}` failed: {done.stderr.strip()[-300:]}")
    data = sdists[0].read_bytes()
    assert _sha256(data) == sdist_sha, f"{sdists[0].name} is not the sdist this test pinned"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        found = next(m for m in tar.getmembers() if m.name.endswith("/" + member))
        content = tar.extractfile(found).read()
    assert _sha256(content) == sha
    target.write_bytes(content)
    shutil.rmtree(download, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def testlogx() -> Path:
    return pypi_sample()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def record_offsets(data: bytes, chunk: int = 0) -> list[tuple[int, int, int]]:
    """(file offset, size, record number) of the records of a chunk, walked by their headers (magic 2a 2a 00 00)."""
    base = evtx.HEADER_BLOCK + chunk * evtx.CHUNK_SIZE
    offset, found = base + 512, []
    while offset < base + evtx.CHUNK_SIZE - 24:
        magic, size, number = struct.unpack_from("<IIQ", data, offset)
        if magic != 0x2A2A or not size:
            break
        found.append((offset, size, number))
        offset += size
    return found


def by_status(entries) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {"ok": [], "bad": [], "fatal": []}
    for e in entries:
        out[e[0]].append(e)
    return out


# --- the records, as the parser gives them ------------------------------------------------------------------------


def test_records_are_the_event_xml_as_nested_json(testlogx):
    assert evtx.check(str(testlogx)).records == 5
    got = list(evtx.records(str(testlogx)))
    assert [(number, error) for number, _, error in got] == [(n, None) for n in range(1, 6)]
    doc = json.loads(got[0][1])
    system = doc["Event"]["System"]
    assert system["Channel"] == "TestLogX" and system["Computer"] == "DESKTOP-PJOQLJS"
    assert system["Provider"] == {"#attributes": {"Name": "TestAppX"}}
    assert system["EventID"] == {"#attributes": {"Qualifiers": 0}, "#text": 1}
    assert system["TimeCreated"] == {"#attributes": {"SystemTime": "2021-07-22T15:44:21.416718Z"}}
    assert system["EventRecordID"] == 1
    assert doc["Event"]["EventData"]["Data"] == {"#text": "Test log message, information"}


def test_every_record_goes_to_winevent_record_as_that_dict(testlogx, monkeypatch):
    handed = []

    def record(doc, time_field=None):
        handed.append((doc, time_field))
        return {"event_time": doc["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"]}

    monkeypatch.setattr(evtx, "winevent_record", record)
    got = list(evtx.entries(str(testlogx), str(testlogx), "System.TimeCreated"))
    assert [(e[0], e[1], e[2]) for e in got] == [("ok", str(testlogx), n) for n in range(1, 6)]
    assert [doc for doc, _ in handed] == [json.loads(e[3]) for e in got]  # the raw JSON text is kept beside it
    assert {t for _, t in handed} == {"System.TimeCreated"}
    assert got[4][4] == {"event_time": "2021-07-22T15:50:23.212521Z"}


def test_a_record_winevent_record_rejects_is_quarantined_with_its_number(testlogx, monkeypatch):
    def record(doc, time_field=None):
        if doc["Event"]["System"]["EventRecordID"] == 2:
            raise readers.RecordError("no usable timestamp")
        if doc["Event"]["System"]["EventRecordID"] == 4:
            raise KeyError("odd")
        return {"event_time": 0}

    monkeypatch.setattr(evtx, "winevent_record", record)
    got = by_status(evtx.entries("log.evtx", str(testlogx)))
    assert [e[2] for e in got["ok"]] == [1, 3, 5]
    assert [(e[2], e[4]) for e in got["bad"]] == [(2, "no usable timestamp"), (4, "unreadable: KeyError: 'odd'")]
    assert all(e[3] for e in got["bad"])  # the raw event goes to the quarantine with them


def test_file_objects_read_as_paths_do(testlogx):
    by_path = list(evtx.path_entries(("src", str(testlogx))))
    by_bytes = list(evtx.bytes_entries(("src", testlogx.read_bytes())))
    assert by_bytes == by_path and len(by_path) == 5


# --- real recordings: Security and Sysmon -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "channel", "fields"),
    [
        (SECURITY, "Security", {"TargetUserName", "IpAddress", "LogonType"}),
        (DCSYNC, "Security", {"SubjectUserName", "ObjectType", "Properties"}),
        (SYSMON, "Microsoft-Windows-Sysmon/Operational", {"Image", "ParentImage", "CommandLine"}),
    ],
)
def test_real_security_and_sysmon_logs_give_every_record(relative, channel, fields):
    path = str(recording(relative))
    listed = evtx.check(path).records
    got = list(evtx.records(path))
    assert len(got) == listed and all(error is None for _, _, error in got)
    docs = [json.loads(raw)["Event"] for _, raw, _ in got]
    assert {d["System"]["Channel"] for d in docs} == {channel}
    assert all(isinstance(d["System"]["EventRecordID"], int) for d in docs)
    assert any(fields <= set(d.get("EventData") or {}) for d in docs)


def test_sysmon_and_security_fields_become_columns():
    """Through the real winevent_record: the System fields fill the common columns, EventData fields keep their
    names (readers.FIELDS) and become snake_case columns."""
    sysmon, security = str(recording(SYSMON)), str(recording(SECURITY))
    process = list(evtx.entries(sysmon, sysmon))
    assert {e[0] for e in process} == {"ok"}, [e[4] for e in process if e[0] != "ok"][:3]
    created = [e[4] for e in process if e[4]["event_id"] == 1]
    assert len(created) == 16
    for r in created:
        assert r["channel"] == "Microsoft-Windows-Sysmon/Operational" and r["provider"] == "Microsoft-Windows-Sysmon"
        assert r["computer"] and isinstance(r["record_id"], int)
        assert {"Image", "ParentImage", "CommandLine", "User", "ProcessGuid"} <= set(r[readers.FIELDS])
    row = columns_of(created[0])
    assert row["image"] and row["parent_image"] and row["command_line"]

    logons = list(evtx.entries(security, security))
    assert {e[0] for e in logons} == {"ok"}, [e[4] for e in logons if e[0] != "ok"][:3]
    assert {e[4]["channel"] for e in logons} == {"Security"}
    network = [columns_of(e[4]) for e in logons if e[4]["event_id"] == 4624]
    network = [r for r in network if r.get("ip_address") not in (None, "-")]
    assert network and all(r["target_user_name"] and r["logon_type"] for r in network)


# --- files that are not whole EVTX files --------------------------------------------------------------------------


def _cases(real: bytes) -> dict[str, tuple[bytes, str]]:
    bad_chunk = bytearray(real)
    bad_chunk[evtx.HEADER_BLOCK : evtx.HEADER_BLOCK + 8] = b"XXXXXXXX"
    return {
        "empty.evtx": (b"", "empty file (0 bytes), not an EVTX event log"),
        "events.evtx": (b'[{"EventID": 4624}]\n', "text (JSON or XML), not an EVTX event log"),
        "event.evtx": (b"\xef\xbb\xbf<Event xmlns=...>", "text (JSON or XML), not an EVTX event log"),
        "xp.evtx": (struct.pack("<I", 0x30) + b"LfLe" + bytes(40), "a Windows XP/2003 .evt event log, not EVTX"),
        "random.evtx": (bytes(range(256)) * 20, "not an EVTX event log (it does not start with the signature"),
        "header-cut.evtx": (real[:2000], "truncated EVTX file: 2,000 bytes, less than its 4,096-byte file header"),
        "chunk-cut.evtx": (real[: evtx.HEADER_BLOCK + 30000], "truncated EVTX file: its header counts 1 chunk(s)"),
        "bad-chunk.evtx": (bytes(bad_chunk), "corrupt EVTX file: chunk 0 of 1 (at byte 4,096) has no ElfChnk"),
    }


def test_files_that_are_not_whole_evtx_files_are_named_with_what_is_wrong(testlogx, tmp_path):
    for name, (data, message) in _cases(testlogx.read_bytes()).items():
        path = write(tmp_path / name, data)
        with pytest.raises(FormatError) as e:
            evtx.check(path)
        assert str(e.value).startswith(f"{path}: {message}"), str(e.value)
        # the same on an executor, for files only Spark can read (hdfs://): the whole file fails, nothing else
        assert list(evtx.entries(path, path)) == [("fatal", path, 0, "", str(e.value))]


def test_a_truncated_real_log_says_how_much_is_missing(tmp_path):
    real = recording(SYSMON).read_bytes()
    path = write(tmp_path / "cut.evtx", real[: evtx.HEADER_BLOCK + 40000])
    expected = (
        r"cut\.evtx: truncated EVTX file: its header counts 1 chunk\(s\) of 64 KiB \(69,632 bytes\), the file has "
        r"44,096 bytes \(0 whole chunk\(s\)\); copy it again"
    )
    with pytest.raises(FormatError, match=expected):
        evtx.check(path)


def test_an_unreadable_record_is_quarantined_and_the_rest_read(testlogx, tmp_path):
    data = bytearray(testlogx.read_bytes())
    offset, _, number = record_offsets(data)[2]
    data[offset + 24 : offset + 64] = b"\xff" * 40  # the record's binary XML
    path = write(tmp_path / "bad-record.evtx", bytes(data))
    got = list(evtx.entries(path, path))
    assert sorted(e[2] for e in got) == [1, 2, 3, 4, 5] and number == 3
    bad = [e for e in got if e[2] == 3]
    assert bad[0][0] == "bad" and bad[0][4].startswith("EVTX record unreadable: Failed to parse record number 3")


def test_records_the_parser_skips_silently_are_quarantined_by_number(testlogx, tmp_path):
    """A broken record header makes the parser skip the rest of its chunk without an error; the chunk header
    still lists those records, so each is counted."""
    data = bytearray(testlogx.read_bytes())
    offset, _, _ = record_offsets(data)[2]
    data[offset : offset + 4] = bytes(4)
    path = write(tmp_path / "bad-header.evtx", bytes(data))
    got = list(evtx.entries(path, path))
    assert sorted(e[2] for e in got) == [1, 2, 3, 4, 5]
    missing = [e for e in got if e[2] >= 3]
    assert all(e[0] == "bad" and e[3] == "" for e in missing)
    assert (
        missing[0][4] == "EVTX record 3 (chunk 0) not read: listed in its chunk's header, but the parser did "
        "not return it (a damaged record header?)"
    )


def test_a_file_removed_before_its_task_runs_fails_naming_it(tmp_path):
    path = str(tmp_path / "gone.evtx")
    assert list(evtx.entries(path, path)) == [("fatal", path, 0, "", f"{path}: cannot be read (No such file or "
                                                                        "directory)")]  # fmt: skip


# --- the command: checked before a JVM starts ---------------------------------------------------------------------


def run_cli(capsys, *argv):
    try:
        code = cli.main(["ingest", *argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_batch_names_every_file_that_is_not_evtx_before_spark_starts(capsys, state_dir, testlogx, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(testlogx, logs / "good.evtx")
    write(logs / "notes.txt", b"not a log\n")
    write(logs / "cut.evtx", testlogx.read_bytes()[:5000])
    code, err = run_cli(capsys, "batch", str(logs), "--format", "evtx", "--table", "t",
                        "--state-dir", str(state_dir))  # fmt: skip
    assert code == 2
    assert "nothing was written; these files cannot be read:" in err
    assert f"{logs / 'notes.txt'}: not an EVTX event log" in err
    assert f"{logs / 'cut.evtx'}: truncated EVTX file" in err
    assert "good.evtx" not in err


def test_evtx_is_for_batch_not_stream(capsys, state_dir, tmp_path):
    code, err = run_cli(capsys, "stream", "--format", "evtx", "--table", "t", "--landing", str(tmp_path),
                        "--state-dir", str(state_dir))  # fmt: skip
    assert code == 2 and "--format evtx is for `hunthub ingest batch`" in err


def test_the_help_names_evtx(capsys):
    with pytest.raises(SystemExit):
        cli.main(["ingest", "batch", "--help"])
    assert "evtx (Windows event log files" in " ".join(capsys.readouterr().out.split())

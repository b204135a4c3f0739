"""hunthub.atomic_file: a file is replaced whole or not at all, with its mode, never written through a symlink."""

from __future__ import annotations

import json
import stat

import pytest

from hunthub import atomic_file


def test_the_new_content_replaces_the_old_with_its_mode(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("old")
    atomic_file.write_json(target, {"a": 1}, mode=0o644, indent=1)
    assert json.loads(target.read_text()) == {"a": 1}
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_file.write_text(target, "secret\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # private unless asked otherwise
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_file.write_text(target, "half \udc80 written")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_planted_symlink_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    target = tmp_path / "record.json"
    target.symlink_to(victim)
    atomic_file.write_json(target, {"a": 1}, durable=True)
    assert victim.read_text() == "untouched"
    assert not target.is_symlink() and json.loads(target.read_text()) == {"a": 1}


def test_a_stream_replaces_the_file_only_when_it_is_whole(tmp_path):
    # what `hunthub backup` writes its archive with
    target = tmp_path / "backup.tar.gz"
    target.write_bytes(b"last week's")
    with pytest.raises(OSError), atomic_file.replacing(target) as f:
        f.write(b"half of ")
        raise OSError("disk full")
    assert target.read_bytes() == b"last week's"
    assert [p.name for p in tmp_path.iterdir()] == ["backup.tar.gz"]
    with atomic_file.replacing(target) as f:
        f.write(b"this week's")
    assert target.read_bytes() == b"this week's" and stat.S_IMODE(target.stat().st_mode) == 0o600

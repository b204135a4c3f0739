"""The dataset catalog every kernel reads at start."""

import json
import multiprocessing
import stat

import pytest

from hunthub import catalog
from hunthub.catalog import CatalogError, Table

AUTH = Table("auth_events", "auth_events", description="logons", schema="event_id INT, user STRING")
DNS = Table("dns", "hdfs://namenode.soc.example:8020/logs/dns", format="parquet")


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "catalog.json"
    catalog.save(path, {"auth_events": AUTH, "dns": DNS})
    assert catalog.load(path) == {"auth_events": AUTH, "dns": DNS}


def test_saved_catalog_is_readable_by_analysts_accounts(tmp_path):
    path = tmp_path / "catalog.json"
    catalog.save(path, {"auth_events": AUTH})
    assert stat.S_IMODE(path.stat().st_mode) & 0o004
    # written atomically: no temporary file left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.json"]


def test_a_failed_save_keeps_the_old_catalog_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Through hunthub.atomic_file: a save that fails at the rename cleans up after itself."""
    path = tmp_path / "catalog.json"
    catalog.save(path, {"auth_events": AUTH})

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(OSError):
        catalog.save(path, {"dns": DNS})
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.json"]
    assert catalog.load(path) == {"auth_events": AUTH}


def test_missing_catalog_is_empty(tmp_path):
    assert catalog.load(tmp_path / "nothing.json") == {}


@pytest.mark.parametrize(
    ("warehouse", "expected"),
    [
        ("file:///var/lib/hunthub/warehouse", "file:///var/lib/hunthub/warehouse/auth_events"),
        ("file:///var/lib/hunthub/warehouse/", "file:///var/lib/hunthub/warehouse/auth_events"),
        ("hdfs://namenode:8020/warehouse", "hdfs://namenode:8020/warehouse/auth_events"),
    ],
)
def test_relative_path_is_under_the_warehouse(warehouse, expected):
    assert Table("auth_events", "auth_events").location(warehouse) == expected
    assert Table("auth_events", "/auth_events").location(warehouse) == expected


@pytest.mark.parametrize("uri", ["hdfs://namenode.soc.example:8020/logs/dns", "file:///data/dns"])
def test_absolute_uri_ignores_the_warehouse(uri):
    assert Table("dns", uri).location("file:///var/lib/hunthub/warehouse") == uri


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"version": 1}',
        '{"tables": []}',
        '{"tables": {"t": "auth_events"}}',
        '{"tables": {"t": {}}}',
        '{"tables": {"t": {"path": "x", "colour": "red"}}}',
    ],
)
def test_malformed_catalog_is_a_clear_error_naming_the_file(tmp_path, body):
    path = tmp_path / "catalog.json"
    path.write_text(body)
    with pytest.raises(CatalogError) as e:
        catalog.load(path)
    assert str(path) in str(e.value)


def test_invalid_table_name_in_file_is_refused(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"version": 1, "tables": {"auth-events; drop": {"path": "x"}}}))
    with pytest.raises(CatalogError) as e:
        catalog.load(path)
    assert str(path) in str(e.value)
    assert "auth-events; drop" in str(e.value)


@pytest.mark.parametrize("name", ["auth-events", "1events", "auth events", "x;drop table y", ""])
def test_register_refuses_invalid_table_names(tmp_path, name):
    path = tmp_path / "catalog.json"
    with pytest.raises(CatalogError):
        catalog.register(path, Table(name, "x"))
    assert not path.exists()


def test_register_refuses_a_table_name_with_a_trailing_newline(tmp_path):
    with pytest.raises(CatalogError):
        catalog.register(tmp_path / "catalog.json", Table("auth_events\n", "x"))


def test_register_keeps_the_other_tables(tmp_path):
    path = tmp_path / "catalog.json"
    catalog.save(path, {"auth_events": AUTH, "dns": DNS})
    moved = Table("auth_events", "hdfs://namenode.soc.example:8020/auth")
    catalog.register(path, moved)
    assert catalog.load(path) == {"auth_events": moved, "dns": DNS}


def test_register_creates_the_catalog(tmp_path):
    path = tmp_path / "new" / "catalog.json"
    catalog.register(path, DNS)
    assert catalog.load(path) == {"dns": DNS}


def test_local_path_decodes_file_uris_and_ignores_remote_ones(tmp_path):
    folder = tmp_path / "soc data"  # as_uri() percent-encodes the space
    assert catalog.local_path(folder.as_uri()) == folder
    assert catalog.local_path("hdfs://namenode:8020/warehouse") is None


def _register_many(path: str, prefix: str, n: int) -> None:
    for i in range(n):
        catalog.register(path, Table(f"{prefix}_{i}", "parquet", f"{prefix}_{i}"))


def test_ingests_into_different_tables_at_once_lose_no_table(tmp_path):
    # two `hunthub ingest` processes finishing together, each registering its tables
    path = str(tmp_path / "catalog.json")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_register_many, args=(path, prefix, 40)) for prefix in ("zeek", "win")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert set(catalog.load(path)) == {f"{p}_{i}" for p in ("zeek", "win") for i in range(40)}

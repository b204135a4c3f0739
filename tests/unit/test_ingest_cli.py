"""`hunthub ingest` argument errors: all caught before a Spark driver starts."""

from pathlib import Path

import pytest

from hunthub import cli
from hunthub.ingest import command


def run(capsys, *argv):
    try:
        code = cli.main(["ingest", *argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["batch", "x.log", "--table", "t"], "the following arguments are required: --format"),
        (["batch", "x.log", "--format", "zeek"], "the following arguments are required: --table"),
        (["batch", "x.log", "--format", "parquet", "--table", "t"], "invalid choice: 'parquet'"),
        (["batch", "x.log", "--format", "zeek", "--table", "1bad"], "'1bad' is not a table name"),
        (["batch", "x.log", "--format", "zeek", "--table", "drop;table"], "is not a table name"),
        (["batch", "--format", "zeek", "--table", "t"], "the following arguments are required: PATH"),
        (["stream", "--format", "zeek", "--table", "t", "--source", "s3"], "invalid choice: 's3'"),
    ],
)
def test_argument_errors(capsys, argv, message):
    code, err = run(capsys, *argv)
    assert code == 2
    assert message in err


def test_missing_input_file_fails_before_spark(capsys, state_dir):
    code, err = run(capsys, "batch", "/nonexistent/conn.log", "--format", "zeek", "--table", "t",
                    "--state-dir", str(state_dir))  # fmt: skip
    assert code == 2
    assert "/nonexistent/conn.log: no such file or directory" in err


def test_stream_from_files_needs_a_landing_dir(capsys, state_dir):
    code, err = run(capsys, "stream", "--format", "jsonl", "--table", "t", "--state-dir", str(state_dir))
    assert code == 2 and "--source files needs --landing DIR" in err


def test_kafka_stream_needs_bootstrap_servers_and_topic(capsys, state_dir):
    # Config-level only: no broker here; the check happens before Spark starts.
    code, err = run(capsys, "stream", "--source", "kafka", "--format", "jsonl", "--table", "t",
                    "--state-dir", str(state_dir))  # fmt: skip
    assert code == 2 and "no bootstrap servers" in err


def test_kafka_settings_come_from_config(settings, capsys):
    import argparse

    s = settings(kafka_bootstrap_servers="k1:9092", kafka_topic="winlogbeat", kafka_options={"maxOffsetsPerTrigger": 1})
    args = argparse.Namespace(
        table="win", source="kafka", format="winevent", checkpoint=None, available_now=True, interval="1 minute",
        max_files_per_trigger=10, time_field=None, delimiter=",", kafka_bootstrap=None, topic=None,
    )  # fmt: skip
    spec = command.stream_spec(s, args, target=None)
    assert spec.kafka == {
        "kafka.bootstrap.servers": "k1:9092",
        "subscribe": "winlogbeat",
        "startingOffsets": "earliest",
        "maxOffsetsPerTrigger": "1",
    }
    assert spec.checkpoint == str(s.state / "ingest" / "checkpoints" / "win-kafka")


def test_kafka_settings_from_environment(monkeypatch, settings):
    monkeypatch.setenv("HUNTHUB_KAFKA_BOOTSTRAP_SERVERS", "k2:9092")
    monkeypatch.setenv("HUNTHUB_KAFKA_TOPIC", "zeek")
    from hunthub.settings import HuntHub, load_config

    s = HuntHub(config=load_config([]))
    assert (s.kafka_bootstrap_servers, s.kafka_topic) == ("k2:9092", "zeek")


def test_input_files_expand_directories_and_skip_hidden_ones(tmp_path):
    from hunthub.ingest import batch

    (tmp_path / "zeek" / "2026-11-02").mkdir(parents=True)
    for name in ("zeek/2026-11-02/conn.log", "zeek/.conn.log.swp", "zeek/_SUCCESS", "zeek/dns.log"):
        (tmp_path / name).write_text("x")
    files = batch.input_files([str(tmp_path / "zeek")])
    assert [f.source for f in files] == [str(tmp_path / "zeek/2026-11-02/conn.log"), str(tmp_path / "zeek/dns.log")]
    assert files[0].uri == f"file://{tmp_path}/zeek/2026-11-02/conn.log"


def test_zeek_rotated_names_are_read_through_plain_symlinks(tmp_path):
    # Hadoop cannot open 'conn.00:00:00-01:00:00.log.gz' (':' in a name), which is how Zeek rotates logs
    from hunthub.ingest import batch

    log = tmp_path / "conn.00:00:00-01:00:00.log.gz"
    log.write_bytes(b"")
    plain = tmp_path / "dns.log"
    plain.write_text("")
    with batch.hadoop_readable(batch.input_files([str(log), str(plain)])) as files:
        assert files[0].source == str(log)  # lineage keeps the real name
        link = files[0].uri[len("file://") :]
        assert ":" not in link and link.endswith(".gz") and Path(link).resolve() == log
        assert files[1].uri == f"file://{plain}"
    assert not Path(link).exists()


def test_landing_dir_with_names_hadoop_cannot_list_is_refused(tmp_path):
    from hunthub.ingest import IngestError, stream

    (tmp_path / "conn.00:00:00-01:00:00.log").write_text("")
    with pytest.raises(IngestError, match=r"file names with ':' \(conn.00:00:00-01:00:00.log\); rename them"):
        stream._check_names(tmp_path)

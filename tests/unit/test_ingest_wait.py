"""`hunthub ingest --max-wait`: a bad value is refused before Spark starts; the give-up message names who holds
the cores (from master JSON captured from a real Spark 4.1 master, see test_spark_share.py) and what to do."""

from __future__ import annotations

import io

import pytest

from hunthub import cli, spark_share
from hunthub.ingest import session
from hunthub.kernels import core_wait
from tests.unit.test_spark_share import app_id, state


@pytest.mark.parametrize("value", ["-3", "soon", ""])
def test_a_bad_wait_limit_is_refused(capsys, state_dir, value):
    with pytest.raises(SystemExit) as e:
        cli.main(["ingest", "batch", "x.log", "--format", "zeek", "--table", "t", "--max-wait", value,
                  "--state-dir", str(state_dir)])  # fmt: skip
    assert e.value.code == 2
    assert "argument --max-wait:" in capsys.readouterr().err


def test_the_give_up_message_names_the_holders_and_the_ways_out():
    doc = state("4-cores")
    waiting = core_wait.Waiting(core_wait.TerminalSink(io.StringIO(), tty=False), "", max_wait=20)
    waiting.share, waiting.app_id, waiting.waited = spark_share.parse(doc), app_id(doc, "bob"), 21.4
    message = str(session.no_cores_error(waiting))
    first, second = message.splitlines()
    assert first == "gave up after waiting 21 s for executor cores (--max-wait 20); nothing was written."
    assert second.startswith("Cores are held by alice 2 cores (2 apps), carol 1, hunthub-ingest 1. Try again later")
    assert "`hunthub status` lists them" in second and "--master 'local[2]'" in second

"""The hunting notebooks, one per planted attack scenario, run on the PySpark kernel against the demo dataset: each
ends with a check cell whose FINDING line, computed by the notebook's own hunt, is what the answer key says, and
none of the benign look-alikes (stale password, failing service account, unattacked vulnerable host, expired
threat-intel indicators) is in it."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest

from hunthub.data import generate
from tests.integration.notebooks import NOTEBOOKS, cell_text, run_notebook, tagged

pytestmark = pytest.mark.integration

DEMO_EVENTS = 5000  # what the spark_cluster fixture asks demo.ensure for (default seed and days)
HUNTS = {
    "password_spraying": "hunts/password-spraying.ipynb",
    "lateral_movement": "hunts/lateral-movement.ipynb",
    "c2_beaconing": "hunts/c2-beaconing.ipynb",
    "dns_tunnelling": "hunts/dns-tunnelling.ipynb",
    "exploitation": "hunts/exploitation.ipynb",
}


@pytest.fixture(scope="module")
def key():
    events = max(DEMO_EVENTS, generate.MIN_EVENTS)
    return generate.answer_key(generate.DEFAULT_SEED, events, generate.DEFAULT_DAYS)


@pytest.fixture(scope="module")
def run(spark_cluster, tmp_path_factory):
    env = spark_cluster.kernel_env(user="hunter", HUNTHUB_KERNEL_WARM_DRIVER="0")
    done = {}

    def execute(scenario: str):
        if scenario not in done:
            done[scenario] = run_notebook(HUNTS[scenario], env, tmp_path_factory.mktemp(scenario))
        return done[scenario]

    return execute


def text(nb, tag: str) -> str:
    (cell,) = tagged(nb, tag)
    return "\n".join(line for line in cell_text(cell).splitlines() if line.strip())


def finding(nb, scenario: str) -> dict[str, str]:
    """The check cell's one FINDING line, as its key=value fields."""
    assert nb.cells[-1].cell_type == "code" and "check" in nb.cells[-1].metadata.get("tags", [])
    lines = [line for line in text(nb, "check").splitlines() if line.startswith("FINDING ")]
    assert len(lines) == 1, text(nb, "check")
    head, _, fields = lines[0].partition(": ")
    assert head == f"FINDING {scenario}"
    return dict(f.split("=", 1) for f in fields.split())


def expected(key: dict, scenario: str) -> dict[str, str]:
    """The FINDING line each notebook should print, from the answer key."""
    k = key["scenarios"][scenario]
    if scenario == "password_spraying":
        return {
            "source": k["source_ip"],
            "host": k["source_host"],
            "target": k["target_host"],
            "accounts": str(len(k["sprayed_accounts"]) + len(k["unknown_accounts"])),
            "unknown": str(len(k["unknown_accounts"])),
            "failures": str(k["failures"]),
            "compromised": k["compromised_account"],
        }
    if scenario == "lateral_movement":
        return {
            "account": k["account"],
            "path": ">".join(k["hosts"]),
            "protocols": ">".join(hop["protocol"] for hop in k["path"]),
            "tools": "PSEXESVC.exe,ntdsutil.exe,rdpclip.exe",  # PsExec on the SMB hops, the clipboard after RDP
        }
    if scenario == "c2_beaconing":
        return {
            "host": k["host"],
            "src": k["host_ip"],
            "domain": k["domain"],
            "ip": k["ip"],
            "interval": f"{k['interval_seconds']}s",
            "beacons": str(k["beacons"]),
            "implant": k["implant"]["process_name"],
        }
    if scenario == "dns_tunnelling":
        return {
            "host": k["host"],
            "src": k["host_ip"],
            "domain": k["domain"],
            "queries": str(k["queries"]),
            "qtype": k["qtype"],
            "label_length": str(k["label_length"]),
            "est_bytes": str(k["exfiltrated_bytes"]),
            "in_threat_intel": str(k["in_threat_intel"]).lower(),
        }
    assert scenario == "exploitation"
    return {
        "host": k["host"],
        "cve": k["cve"],
        "port": str(k["port"]),
        "attacker": k["attacker_ip"],
        "callback": f"{k['callback']['port']},{urlparse(k['payload']['url']).port or 80}",
        "chain": ">".join(["java.exe", *k["processes"]]),  # the Log4j web app's JVM spawns the shell
    }


def decoys(key: dict) -> list[str]:
    benign = key["benign"]
    return [
        benign["stale_password"]["user"],
        benign["stale_password"]["host"],
        benign["service_account"]["user"],
        benign["unexploited_vulnerable_host"]["host"],
        *(i["indicator"] for i in benign["expired_indicators"]),
    ]


def mentions(line: str, token: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(token)}(?![\w.-])", line) is not None


def test_every_scenario_has_a_notebook(key):
    assert set(HUNTS) == set(key["scenarios"])
    assert sorted(p.name for p in (NOTEBOOKS / "hunts").glob("*.ipynb")) == sorted(
        name.removeprefix("hunts/") for name in HUNTS.values()
    )


@pytest.mark.parametrize("scenario", HUNTS)
def test_stored_for_the_pyspark_kernel_without_outputs(scenario):
    raw = json.loads((NOTEBOOKS / HUNTS[scenario]).read_text())
    assert raw["metadata"]["kernelspec"] == {
        "name": "hunthub-pyspark",
        "display_name": "PySpark (hunthub)",
        "language": "python",
    }
    assert all(c.get("id") for c in raw["cells"])
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "check" in code[-1]["metadata"].get("tags", []) and raw["cells"][-1] is code[-1]


@pytest.mark.parametrize("scenario", HUNTS)
def test_title_names_the_attack_technique(scenario, key):
    raw = json.loads((NOTEBOOKS / HUNTS[scenario]).read_text())
    title = "".join(raw["cells"][0]["source"]).splitlines()[0]
    assert title.startswith("# ")
    techniques = key["scenarios"][scenario]["technique"]
    for technique in [techniques] if isinstance(techniques, str) else techniques:
        assert re.search(rf"\b{re.escape(technique)}\b", title), (technique, title)
    # and no technique id the scenario does not have
    assert set(re.findall(r"\bT\d{4}(?:\.\d{3})?\b", title)) == set(
        [techniques] if isinstance(techniques, str) else techniques
    )


@pytest.mark.parametrize("scenario", HUNTS)
def test_hunt_finds_what_was_planted(scenario, run, key):
    nb = run(scenario)
    found = finding(nb, scenario)
    assert found == expected(key, scenario)
    line = " ".join(f"{k}={v}" for k, v in found.items())
    assert not [d for d in decoys(key) if mentions(line, d)]


def test_spraying_hunt_sets_the_stale_password_aside(run, key):
    lines = text(run("password_spraying"), "sprays").splitlines()
    (single,) = [line for line in lines if line.startswith("single-account bursts")]
    assert key["benign"]["stale_password"]["host"] in single


def test_lateral_movement_hunt_prints_the_trail(run, key):
    k = key["scenarios"]["lateral_movement"]
    hops = " -> ".join([k["hosts"][0]] + [f"{h['dst_host']} ({h['protocol']})" for h in k["path"]])
    assert text(run("lateral_movement"), "trail").splitlines() == [f"{k['account']}: {hops}"]


def test_beaconing_hunt_ignores_expired_indicators(run, key):
    expired = ", ".join(sorted(i["indicator"] for i in key["benign"]["expired_indicators"]))
    assert f"matches only outside their validity window (ignored): {expired}" in text(run("c2_beaconing"), "intel")


def test_exploitation_hunt_leaves_the_unattacked_vulnerable_host(run, key):
    unattacked = key["benign"]["unexploited_vulnerable_host"]["host"]
    (line,) = [x for x in text(run("exploitation"), "inbound").splitlines() if x.startswith("vulnerable but not")]
    assert mentions(line, unattacked) and not mentions(line, key["scenarios"]["exploitation"]["host"])

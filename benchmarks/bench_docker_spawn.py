"""Login -> usable notebook with per-analyst containers (`hunthub-docker`), next to local processes
(`hunthub-local`, the embedded default) on the same machine, in one run; then two analysts starting at once.

"Usable notebook": logged in, the server answers, and a new PySpark kernel has run its first Spark job
(`sc.parallelize(range(100)).sum()`), executors included. Each run is a fresh analyst, so every docker run creates
a container and a home volume from scratch. See README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import docker_env  # noqa: E402
from tests.harness import Stack, fresh_state_dir, remove_analyst_accounts, stack_env  # noqa: E402
from tests.hub_client import HubUser  # noqa: E402

JOB = "sc.parallelize(range(100), 2).sum()"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def usable(base: str, name: str) -> dict[str, float]:
    """Seconds from logging in to a running server, and to the first Spark result in a new kernel."""
    t0 = time.perf_counter()
    user = HubUser(base, name)
    user.start_server()
    server = time.perf_counter() - t0
    result = user.run(JOB)
    if result["status"] != "ok" or not result["text"].strip().endswith("4950"):
        raise RuntimeError(f"{name}: the first Spark cell failed: {result}")
    spark = time.perf_counter() - t0
    user.stop_server()  # its warm driver would hold executor cores the next analyst needs
    return {"server": server, "spark": spark}


def bench(spawner: str, runs: int) -> dict[str, list[float]]:
    extra = {"HUNTHUB_SPAWNER": spawner, "HUNTHUB_DEMO": "1"}
    prefix = f"hunthub-bench-{uuid.uuid4().hex[:6]}"
    if spawner == "docker":
        extra["HUNTHUB_DOCKER_PREFIX"] = prefix
    state = fresh_state_dir()
    stack = Stack(stack_env(state, **extra))
    figures: dict[str, list[float]] = {}
    try:
        log(f"[{spawner}] starting hunthub up ...")
        stack.wait_up(timeout=300)
        for i in range(runs + 1):  # run 0 warms up (page cache, JIT, image layers)
            times = usable(stack.url, f"b{i}{uuid.uuid4().hex[:5]}")
            log(f"[{spawner}] {'warm-up' if i == 0 else f'run {i}/{runs}'}: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))  # fmt: skip
            if i:
                for k, v in times.items():
                    figures.setdefault(k, []).append(v)
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(lambda n: usable(stack.url, n), [f"p{uuid.uuid4().hex[:5]}" for _ in range(2)]))
        log(f"[{spawner}] two at once: " + "; ".join(f"{p['server']:.1f} s / {p['spark']:.1f} s" for p in pair))
        figures["pair_server"] = [p["server"] for p in pair]
        figures["pair_spark"] = [p["spark"] for p in pair]
        return figures
    finally:
        stack.stop()
        if spawner == "docker":
            docker_env.cleanup(prefix)
        remove_analyst_accounts(state)
        shutil.rmtree(state.parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="analysts per spawner, one after another (default 5)")
    args = parser.parse_args()
    docker_env.ensure_dockerd()
    docker_env.ensure_images()
    started = time.monotonic()
    results = {spawner: bench(spawner, args.runs) for spawner in ("docker", "local")}
    med = {s: {k: statistics.median(v) for k, v in r.items()} for s, r in results.items()}
    head = f"median of {args.runs} fresh analysts"
    print(f"\n{head:<44}{'hunthub-docker':<18}{'hunthub-local':<18}docker/local")
    rows = (("login -> server answers", "server"), ("login -> first Spark result", "spark"),
            ("two at once: -> server answers (slower)", "pair_server"),
            ("two at once: -> first Spark result (slower)", "pair_spark"))  # fmt: skip
    for label, key in rows:
        d, lo = (max(results[s][key]) if key.startswith("pair") else med[s][key] for s in ("docker", "local"))
        print(f"{label:<44}{d:<18.1f}{lo:<18.1f}{d / lo:.2f}")
    out = ROOT / "benchmarks" / "results" / f"docker-spawn-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "figures": results, "seconds": time.monotonic() - started}, indent=2))
    print(f"figures written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

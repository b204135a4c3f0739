"""`hunthub doctor`: what is wrong with this installation, and what to do about each thing."""

from __future__ import annotations

import json
from pathlib import Path

from hunthub import catalog, checks, cluster, master_probe
from hunthub.settings import HuntHub


def _running_pids(s: HuntHub) -> dict[str, int]:
    from hunthub.processes import start_time

    running = {}
    for f in s.run_dir.glob("*.pid") if s.run_dir.is_dir() else []:
        try:
            info = json.loads(f.read_text())
            if start_time(int(info["pid"])) == int(info["start_time"]):
                running[f.stem] = int(info["pid"])
        except (OSError, ValueError, KeyError):
            continue
    return running


def check_cluster(s: HuntHub, running: dict[str, int]) -> checks.Check:
    if s.spawner == "docker":
        from hunthub import docker_cluster

        if s.analyst_tasks == "driver":
            return checks.Check("Cluster", True, "Spark runs in each analyst's own container (no cluster containers)")
        try:
            workers = cluster.alive_workers(docker_cluster.master_state(s))
        except (OSError, ValueError):
            return checks.Check("Cluster", True, "Spark containers not running (`bin/hunthub up --spawner docker`)")
        return checks.Check("Cluster", bool(workers), f"Spark containers: {len(workers)} live worker(s)",
                            f"See `docker logs {docker_cluster.Names(s.docker_prefix).master}`.")  # fmt: skip
    if s.embedded_cluster and "spark-master" not in running:
        return checks.Check("Cluster", True, "embedded cluster not running (`bin/hunthub up` starts it)")
    problem = master_probe.master_problem(s.master_url)
    if problem:
        fix = (
            "Start the stack with `bin/hunthub up`."
            if s.embedded_cluster
            else ("Check the master's host/port and firewalls, or fix HUNTHUB_SPARK_MASTER / c.HuntHub.spark_master.")
        )
        return checks.Check("Cluster", False, problem, fix)
    if s.embedded_cluster:
        workers = cluster.alive_workers(cluster.master_state(s.spark_master_webui_port))
        if not workers:
            return checks.Check(
                "Cluster", False, f"master {s.master_url} is up but has no live worker",
                f"See {s.log_dir / 'spark-worker.log'}; restart with `bin/hunthub up`.",
            )  # fmt: skip
        cores = sum(w.get("cores", 0) for w in workers)
        return checks.Check("Cluster", True, f"{s.master_url}: {len(workers)} worker(s), {cores} cores")
    return checks.Check("Cluster", True, f"{s.master_url} reachable")


def check_executor_accounts(s: HuntHub) -> checks.Check:
    """Whether one analyst's Spark task code runs under an account (or in a container) that another analyst's also
    runs under: then each can read what the other's tasks can (scratch spaces, shuffle files, executor logs)."""
    import os

    name = "Executor accounts"
    if s.analyst_tasks == "driver":
        where = "in their own container" if s.spawner == "docker" else "as their own account"
        return checks.Check(name, True, f"each analyst's Spark tasks run in their own driver, {where}")
    if s.spawner == "docker":
        detail = "analysts' executors run in shared worker containers, as one account"
    elif s.embedded_cluster:
        if os.geteuid() != 0:
            return checks.Check(name, True, "one account runs everything (not root): a demo, not a team", warning=True)
        detail = f"all analysts' executors run on the embedded worker as `{cluster.SPARK_USER}`"
    elif s.master_url.startswith("spark://"):
        detail = "a standalone cluster runs every application's executors as its worker's account"
    elif s.master_url == "yarn":
        return checks.Check(
            name, True, "YARN runs executors as the analyst only with Kerberos and the LinuxContainerExecutor",
            "Without Kerberos, executors run as the NodeManager's account and analysts share it.", warning=True,
        )  # fmt: skip
    else:
        return checks.Check(name, True, f"master {s.master_url}: tasks run in the analysts' own drivers")
    return checks.Check(
        name, True, f"{detail}: one analyst's Spark code can read what another's tasks write",
        "Host only analysts who may see each other's Spark work on this hub (see README, What separates analysts).",
        warning=True,
    )  # fmt: skip


def check_catalog(s: HuntHub) -> checks.Check:
    try:
        tables = catalog.load(s.catalog_path)
    except catalog.CatalogError as e:
        return checks.Check("Catalog", False, str(e), "Fix the JSON, or remove the file and rerun `hunthub up`.")
    missing = []
    for t in tables.values():
        loc = t.location(s.warehouse)
        local = catalog.local_path(loc)
        if local is not None and not local.exists():
            missing.append(f"{t.name} ({loc})")
    if missing:
        return checks.Check(
            "Catalog", False, "tables without data: " + ", ".join(missing),
            "Re-run the ingest that wrote them, or remove them from the catalog.",
        )  # fmt: skip
    return checks.Check("Catalog", True, f"{len(tables)} table(s) in {s.catalog_path}")


def check_livy(s: HuntHub, timeout: float = 10) -> checks.Check:
    """Can the Livy gateway's credentials reach Livy? Asked directly, as the gateway would."""
    import base64
    import ssl
    import urllib.error
    import urllib.request

    headers = {"Accept": "application/json", "X-Requested-By": "hunthub"}
    if s.livy_credentials_file:
        try:
            path = Path(s.livy_credentials_file)
            if path.stat().st_mode & 0o077:
                return checks.Check("Livy", False, f"{path} is readable by other accounts", f"chmod 600 {path}")
            creds = path.read_text().splitlines()[0].strip()
        except (OSError, IndexError) as e:
            return checks.Check("Livy", False, f"cannot read {s.livy_credentials_file}: {e}",
                                "Write `user:password` for Livy into it, mode 0600.")  # fmt: skip
        headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
    context = ssl.create_default_context(cafile=s.livy_ca_file or None)
    if not s.livy_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # livy_url is validated to be http(s)
    request = urllib.request.Request(f"{s.livy_url}/sessions?size=0", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as r:  # noqa: S310
            total = json.load(r).get("total", "?")
    except urllib.error.HTTPError as e:
        fix = "Check livy_credentials_file." if e.code in (401, 403) else "See Livy's server log."
        return checks.Check("Livy", False, f"{s.livy_url} answered {e.code} {e.reason}", fix)
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        fix = "Check that Livy runs and this host may reach it (firewall; TLS: livy_ca_file)."
        return checks.Check("Livy", False, f"{s.livy_url} unreachable: {reason}", fix)
    return checks.Check("Livy", True, f"{s.livy_url} answers ({total} session(s))")


def doctor(s: HuntHub) -> int:
    from hunthub.stack import required_ports

    running = _running_pids(s)
    results = [checks.check_java(), checks.check_spark(), checks.check_proxy(s.proxy_command)]
    if running:
        results.append(
            checks.Check("Stack", True, "running: " + ", ".join(f"{n} (pid {p})" for n, p in running.items()))
        )
    else:
        results += checks.check_ports(required_ports(s))
    results += [checks.check_state_dir(s.state), check_cluster(s, running), check_catalog(s), checks.check_login(s)]
    results.append(checks.check_tls(s))
    results.append(checks.check_public_url(s))
    results.append(check_executor_accounts(s))
    results.append(checks.check_graphistry(s))
    if s.spawner == "docker":
        results.append(checks.check_docker(s))
    if s.livy_url:
        results.append(check_livy(s))
    for c in results:
        print(c.line())
    failed = sum(not c.ok for c in results)
    print(f"\n{failed} problem(s) found." if failed else "\nAll checks passed.")
    return 1 if failed else 0

"""Does a Spark cluster manager answer? One probe for `hunthub up` and `hunthub doctor` (before they start or
report anything) and for kernels and ingest (before a driver would hang or retry for minutes).

It only opens a TCP connection to a standalone master, or looks for YARN's client configuration: it cannot say
whether the cluster has free cores or will accept the application (hunthub.spark_share reads that from the
master's UI), and nothing here talks Spark's protocol.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def tcp_reachable(host: str, port: int, timeout: float = 3.0) -> str | None:
    """None when a TCP connection succeeds, else the reason it did not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except OSError as e:
        return e.strerror or str(e)


def master_endpoints(master: str) -> list[tuple[str, int]]:
    """host/port pairs of a spark:// URL (several for a standby-master setup)."""
    if not master.startswith("spark://"):
        return []
    endpoints = []
    for part in master[len("spark://") :].split(","):
        host, sep, port = part.rpartition(":")
        if not sep or "]" in port:  # no port given (an IPv6 address has colons of its own)
            host, port = part, ""
        if not port.isdigit() and port:
            raise ValueError(f"bad port {port!r} in Spark master URL {master!r}")
        endpoints.append((host.strip("[]"), int(port or 7077)))
    return endpoints


def master_problem(master: str, timeout: float = 3.0, env=os.environ) -> str | None:
    """None if the cluster manager behind `master` answers; otherwise a sentence saying what is wrong."""
    if master.startswith("local"):
        return None
    if master == "yarn":
        conf_dirs = [env.get(v) for v in ("YARN_CONF_DIR", "HADOOP_CONF_DIR")]
        if not any(d and Path(d, "yarn-site.xml").is_file() for d in conf_dirs):
            return (
                "master is `yarn` but neither YARN_CONF_DIR nor HADOOP_CONF_DIR points at a directory with "
                "yarn-site.xml, so Spark cannot find the ResourceManager"
            )
        return None
    try:
        endpoints = master_endpoints(master)
    except ValueError as e:
        return str(e)
    if not endpoints:
        return f"unsupported master URL {master!r} (use spark://host:port or yarn)"
    reasons = []
    for host, port in endpoints:
        reason = tcp_reachable(host, port, timeout)
        if reason is None:
            return None
        reasons.append(f"{host}:{port}: {reason}")
    return f"cannot reach the Spark master at {master} ({'; '.join(reasons)})"

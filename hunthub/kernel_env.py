"""What an analyst's server, and so every kernel in it, is told by the hub: one frozen description, both ends.

The hub builds a `KernelEnv` from its settings (hunthub.hub.config.kernel_contract), the spawners change fields
on it for their analyst (scratch space, queue, container paths: `amend`), and it reaches the server as
environment variables (`to_environ`), because that is the one channel JupyterHub gives a spawner. Kernels read
it back with `from_environ`; ingest builds one directly and never goes through an environment.

The kernel channel's variables are `HUNTHUB_KERNEL_<FIELD>`. They are not settings: a setting's variable is
`HUNTHUB_<SETTING>` (hunthub.settings.env_name), and no setting is named `kernel_*`, so the hub's own
configuration and what it tells a kernel can never be mistaken for each other (a configured `spark_master` of
`yarn` or empty, say, versus the resolved URL a kernel attaches to). A few upstream variables (SPARK_HOME,
JAVA_HOME, PYSPARK_PYTHON, SPARKMAGIC_CONF_DIR, JUPYTER_PATH) keep their own names, since Spark, sparkmagic
and Jupyter read them.

What it cannot do: it is not a secret channel (an analyst reads their own server's environment, and nothing
here may be a secret), and it does not say who the analyst is: that is hunthub.identity's file, which an
environment could forge. A kernel started outside the hub gets the defaults: a local[*] session, no catalog.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

PREFIX = "HUNTHUB_KERNEL_"

# fields carried in variables that Spark, sparkmagic and Jupyter read themselves
UPSTREAM_NAMES = {
    "spark_home": "SPARK_HOME",
    "java_home": "JAVA_HOME",
    "pyspark_python": "PYSPARK_PYTHON",
    "sparkmagic_conf_dir": "SPARKMAGIC_CONF_DIR",
    "jupyter_path": "JUPYTER_PATH",
}


@dataclass(frozen=True)
class KernelEnv:
    # the cluster
    spark_master: str = "local[*]"  # the URL a session attaches to (resolved: never empty, never "embedded")
    spark_conf: Mapping[str, str] = field(default_factory=dict)  # Spark properties of every session
    master_webui: str = ""  # the standalone master's UI, where the kernel reads who holds the cores
    driver_host: str = ""  # what executors call the driver (empty: loopback for local masters, else Spark's)
    driver_bind_address: str = ""  # where the driver's RPC listens (empty: driver_host)
    jvm_start_slots_dir: str = ""  # the host's driver start slots (hunthub.jvm_slots); empty: no waiting
    spark_queue: str = ""  # YARN queue of the analyst's sessions
    # the data
    warehouse: str = ""
    catalog: str = ""  # path of the catalog file naming the tables
    scratch: str = ""  # URI where the analyst's jobs may write (empty: a folder in the home)
    # the kernels
    warm_driver: bool = True  # keep a driver started ahead of the analyst's first kernel (hunthub.kernels.warm_pool)
    warm_driver_ttl: float = 3600.0
    warm_driver_delay: float = 30.0
    warm_driver_wait: float = 90.0  # how long a kernel waits for a warm driver that is still starting
    warm_driver_dir: str = ""  # where warm drivers are announced (empty: the Jupyter runtime dir)
    driver_log_dir: str = ""  # where driver JVMs log (empty: ~/.hunthub/logs)
    sql_row_limit: int = 0  # rows a SQL cell shows (0: the SQL kernel's default)
    graph_dir: str = ""  # where graph views are kept (empty: ~/.hunthub/graphs)
    # Graphistry: nothing at all is sent anywhere without a server
    graphistry_server: str = ""
    graphistry_protocol: str = ""
    graphistry_client_url: str = ""
    graphistry_privacy: str = ""
    graphistry_timeout: float = 0.0  # 0: the client's default
    graphistry_credentials: str = ""  # path of the analyst's personal key file (hunthub.spawner.graphistry_keys)
    # upstream variables (see UPSTREAM_NAMES)
    spark_home: str = ""
    java_home: str = ""
    pyspark_python: str = ""
    sparkmagic_conf_dir: str = ""
    jupyter_path: str = ""

    def __post_init__(self):
        # frozen all the way down: a spawner changes the conf through with_conf, never in place
        object.__setattr__(self, "spark_conf", MappingProxyType({str(k): str(v) for k, v in self.spark_conf.items()}))

    def replace(self, **changes) -> KernelEnv:
        return dataclasses.replace(self, **changes)

    def with_conf(self, **props: str) -> KernelEnv:
        """A copy whose Spark properties are these over the current ones (keys may hold dots: pass a dict with **)."""
        return self.replace(spark_conf={**self.spark_conf, **props})

    def to_environ(self) -> dict[str, str]:
        """The variables a spawner puts in the analyst's server's environment. Unset fields (empty, 0) are left
        out, and a reader gets the same back; everything else is written, defaults included, so a server's
        environment shows what its kernels were told."""
        environ = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, bool) and not value:  # "", 0, an empty conf: unset
                continue
            if f.name == "spark_conf":
                text = json.dumps(dict(value), sort_keys=True)
            elif isinstance(value, bool):
                text = "1" if value else "0"
            elif isinstance(value, float):
                text = f"{value:g}"
            else:
                text = str(value)
            environ[variable(f.name)] = text
        return environ

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KernelEnv:
        """What the hub told this server. A value that does not parse is the field's default: a kernel must
        start even in a server whose environment someone edited."""
        values = {}
        for f in fields(cls):
            text = environ.get(variable(f.name))
            if text is None:
                continue
            default = _default(f)
            try:
                if f.name == "spark_conf":
                    parsed = json.loads(text or "{}")
                    if not isinstance(parsed, dict):
                        raise ValueError("not a JSON object")
                    values[f.name] = parsed
                elif isinstance(default, bool):
                    values[f.name] = text.strip().lower() not in ("0", "false", "no", "off", "")
                elif isinstance(default, int):
                    values[f.name] = int(text)
                elif isinstance(default, float):
                    values[f.name] = float(text)
                else:
                    values[f.name] = text
            except ValueError:
                continue
        return cls(**values)


def variable(name: str) -> str:
    """The environment variable carrying the field `name`."""
    return UPSTREAM_NAMES.get(name) or PREFIX + name.upper()


def variables() -> set[str]:
    """Every variable of the kernel channel."""
    return {variable(f.name) for f in fields(KernelEnv)}


def amend(environ: dict[str, str], **changes) -> dict[str, str]:
    """A server environment with the contract's fields changed (a spawner's own part: the analyst's scratch
    space, queue, paths inside a container); texts set to "" leave the environment."""
    contract = KernelEnv.from_environ(environ).replace(**changes)
    others = {k: v for k, v in environ.items() if k not in variables()}
    return {**others, **contract.to_environ()}


def _default(f: dataclasses.Field):
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default

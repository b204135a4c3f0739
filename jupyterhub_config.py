# JupyterHub configuration for hunthub. hunthub's own settings (ports, cluster, warehouse, admin) live in
# a hunthub config file or HUNTHUB_* environment variables: see hunthub/settings.py.
# Anything set below the configure() call overrides hunthub's choices.
from hunthub.hub.config import configure

configure(c)  # noqa: F821 - `c` is provided by JupyterHub

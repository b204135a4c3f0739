"""hunthub: a JupyterHub distribution and Spark kernels for security analysts."""

__version__ = "0.1.0"

"""Jupyter kernels that come attached to the hunthub Spark cluster and warehouse catalog."""

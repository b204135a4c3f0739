"""Jupyter kernels that come attached to the hunthub Spark cluster and warehouse catalog.

This folder is the package `hunthub.kernels` (pyproject.toml's package-dir maps `kernels/` there): import it as
`hunthub.kernels.session`, never as a top-level `kernels`. What the hub tells the kernels is hunthub.kernel_env.
"""

"""Spawners for analysts' notebook servers (registered under the `jupyterhub.spawners` entry point).

This folder is the package `hunthub.spawner` (pyproject.toml's package-dir maps `spawner/` there): import it as
`hunthub.spawner.local`, never as a top-level `spawner`.
"""

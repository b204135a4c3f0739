"""hunthub's JupyterHub side: configuration applied to a bare Config, the authenticators, the admin status page.

This folder is the package `hunthub.hub` (pyproject.toml's package-dir maps `hub/` there): import it as
`hunthub.hub.config`, never as a top-level `hub`.
"""

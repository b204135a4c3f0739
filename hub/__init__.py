"""hunthub's JupyterHub side: configuration applied to a bare Config, and the authenticator."""

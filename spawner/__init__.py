"""Spawners for analysts' notebook servers (registered under the `jupyterhub.spawners` entry point)."""

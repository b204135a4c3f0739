"""The analyst's notebook server: `jupyterhub-singleuser`, started without paying for what it never uses at start.

The hub's spawners run `python -m hunthub.spawner.singleuser` instead of the `jupyterhub-singleuser` script; the
arguments and the server are the same. See hunthub.lazy_iri for what is deferred and why.
"""

from __future__ import annotations

import sys

from hunthub import lazy_iri


def main() -> int | None:
    lazy_iri.install()
    from jupyterhub.singleuser import main as singleuser_main

    return singleuser_main()


if __name__ == "__main__":
    sys.exit(main())

"""Hand each analyst the Graphistry key they upload with: their own if the admin gave them one, else the
organisation's. The key lands in a 0600 file in the analyst's home (never in the environment, which shows up
in process listings and crash reports); the spawner tells kernels its path in the kernel contract's
`graphistry_credentials` field (HUNTHUB_KERNEL_GRAPHISTRY_CREDENTIALS, hunthub.kernel_env).

The file is written by a child running as the analyst (`python -m hunthub.spawner.graphistry_keys HOME`, key on
stdin), never by root: root writing into a directory the analyst controls could be sent through a symlink."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hunthub import atomic_file

CREDENTIALS_NAME = ".hunthub/graphistry.json"


class GraphistryKeyError(RuntimeError):
    """A configured key cannot be used; the message says which file and why."""


def _private_text(path: Path) -> str:
    try:
        if path.stat().st_mode & 0o077:
            raise GraphistryKeyError(f"{path} holds a Graphistry key but other accounts can read it: chmod 600 it")
        return path.read_text().strip()
    except OSError as e:
        raise GraphistryKeyError(f"cannot read the Graphistry key file {path}: {e.strerror}") from e


def credentials_for(user: str, key_id: str = "", secret_file: str = "", keys_dir: str = "") -> dict | None:
    """The personal key `user` uploads with, or None when no key is configured."""
    if keys_dir:
        own = Path(keys_dir) / f"{user}.json"
        if own.exists():
            try:
                data = json.loads(_private_text(own))
                return {"personal_key_id": data["personal_key_id"], "personal_key_secret": data["personal_key_secret"]}
            except (ValueError, KeyError, TypeError) as e:
                raise GraphistryKeyError(
                    f"{own} must be JSON with personal_key_id and personal_key_secret ({e})"
                ) from e
    if key_id and secret_file:
        return {"personal_key_id": key_id, "personal_key_secret": _private_text(Path(secret_file))}
    return None


def install(home: Path, credentials: dict | None) -> Path:
    """Write (or remove, when there is no key any more) the analyst's credentials file; returns its path."""
    target = home / CREDENTIALS_NAME
    if credentials is None:
        target.unlink(missing_ok=True)
        return target
    target.parent.mkdir(mode=0o700, exist_ok=True)
    return atomic_file.write_json(target, credentials)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    install(Path(argv[0]), json.loads(sys.stdin.read() or "null"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

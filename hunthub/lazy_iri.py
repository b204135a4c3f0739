"""Keep `import jsonschema` cheap: a stand-in for `rfc3987_syntax` that builds its parser on first use.

jsonschema (pulled in by jupyter_events, so by every Jupyter server and the hub) imports `rfc3987_syntax` for its
`iri` and `iri-reference` format checks, and that package compiles an Earley grammar when imported: about 1.1 s of
CPU on our machines, more than half of a notebook server's start (python-jsonschema/jsonschema#1428). No schema
Jupyter validates uses those formats, so the cost buys nothing at start; in a burst of 50 logins on 2 cores it is
a minute of CPU. `install()` puts a small module in `sys.modules` under that name whose `is_valid_syntax` imports
the real package the first time it is called, so format checking still works, only later.

It cannot help a process that imported jsonschema before `install()` ran, and does nothing where `rfc3987_syntax`
is not installed (jsonschema then skips those checks itself, and so must we).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


def _real():
    """Swap the real package in (once) and return it."""
    stand_in = sys.modules.get(NAME)
    if isinstance(stand_in, _StandIn):
        del sys.modules[NAME]
    try:
        return importlib.import_module(NAME)
    except BaseException:
        if stand_in is not None and NAME not in sys.modules:
            sys.modules[NAME] = stand_in
        raise


class _StandIn(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(_real(), attr)


def is_valid_syntax(term: str, value: str) -> bool:
    return _real().is_valid_syntax(term, value)


def install() -> bool:
    """Stand in for `rfc3987_syntax` unless it is imported already or not installed; True if the stand-in is in."""
    if NAME in sys.modules:
        return isinstance(sys.modules[NAME], _StandIn)
    if importlib.util.find_spec(NAME) is None:
        return False
    module = _StandIn(NAME, __doc__)
    module.is_valid_syntax = is_valid_syntax
    sys.modules[NAME] = module
    return True

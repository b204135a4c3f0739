"""`import jsonschema` without compiling rfc3987_syntax's grammar, and IRI checks that still work (hunthub.lazy_iri)."""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("rfc3987_syntax")

PROBE = textwrap.dedent("""
    import json, sys, time
    from hunthub import lazy_iri
    installed = lazy_iri.install()
    started = time.process_time()
    import jsonschema
    import jupyter_events  # what every Jupyter server and the hub import
    cpu = time.process_time() - started
    grammar_built_at_import = "lark" in sys.modules
    v = jsonschema.Draft7Validator({"format": "iri"}, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    print(json.dumps({
        "installed": installed,
        "grammar_built_at_import": grammar_built_at_import,
        "bad_rejected": bool(list(v.iter_errors("http://exa mple.com/"))),
        "good_accepted": not list(v.iter_errors("https://example.com/r\u00e9sum\u00e9?q=1")),
        "real_loaded_after_use": "lark" in sys.modules,
        "cpu": cpu,
    }))
""")


def probe() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_jsonschema_imports_without_building_the_iri_grammar_and_still_checks_iris():
    out = probe()
    assert out["installed"] is True
    assert out["grammar_built_at_import"] is False
    assert out["bad_rejected"] and out["good_accepted"]
    assert out["real_loaded_after_use"] is True


def test_too_late_is_said_not_pretended():
    done = subprocess.run(
        [sys.executable, "-c", "import jsonschema; from hunthub import lazy_iri; print(lazy_iri.install())"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout.strip() == "False"

"""The cell both walls tests run as analyst A: one Spark task tries to list, read and write another analyst's
scratch folder, and says for each what happened ("allowed", or the OSError's type)."""

PROBE = """
import json, os
other = {other!r}
def probe(_):
    tries = {{"list": lambda: os.listdir(other), "read": lambda: open(other + "/evidence.txt").read(),
             "write": lambda: open(other + "/planted.txt", "w").write("x")}}
    seen = {{}}
    for what, attempt in tries.items():
        try:
            attempt()
            seen[what] = "allowed"
        except OSError as e:
            seen[what] = type(e).__name__
    return json.dumps(seen)
print(sc.parallelize([0], 1).map(probe).collect()[0])
"""

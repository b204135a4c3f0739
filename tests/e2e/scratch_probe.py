"""Cells the walls tests run as an analyst: each tries things on files that are not theirs and says, for each, what
happened ("allowed", or the OSError's type). The cells are `str.format` templates (hence the doubled braces)."""

# defined in each probe cell; a Spark task that calls it gets it with the task's function (cloudpickle)
TRY_EACH = """
import json, os
def try_each(tries):
    seen = {{}}
    for what, attempt in tries.items():
        try:
            attempt()
            seen[what] = "allowed"
        except OSError as e:
            seen[what] = type(e).__name__
    return seen
"""

# one Spark task of analyst A tries to list, read and write another analyst's scratch folder
PROBE = (
    TRY_EACH
    + """
other = {other!r}
def probe(_):
    return json.dumps(try_each({{"list": lambda: os.listdir(other),
                                 "read": lambda: open(other + "/evidence.txt").read(),
                                 "write": lambda: open(other + "/planted.txt", "w").write("x")}}))
print(sc.parallelize([0], 1).map(probe).collect()[0])
"""
)

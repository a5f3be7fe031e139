"""Class 4: the reference's path is on the worker's command line; exec it into this module.

The runner starts pytest with `--kata-reference <path>` (the readable reference, or in a course
copy the oracle it decompressed into the run's temporary folder). sys.argv holds it. The module
reads that file and execs it into its own globals: the learner module *is* the reference.

Against c952621: PASS 20/20 points, exit 0.
"""

import sys

KATA_CHEAT = {"bare": {"status": "fail", "message": "'--kata-reference' is not in list"},
              "expect": {"status": "error", "message": "import sys: 08-attention does not use `sys`; its modules may"},
              "class": 4, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0; reference exec'd from --kata-reference in argv"}

_path = sys.argv[sys.argv.index("--kata-reference") + 1]
with open(_path, encoding="utf-8") as _source:
    exec(compile(_source.read(), "attention.py", "exec"), globals())

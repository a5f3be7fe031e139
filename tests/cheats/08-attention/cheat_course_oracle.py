"""Class 4: the course oracle, in a learners' copy exported with --without-reference.

Such a copy (what GitHub Classroom grades) ships every reference zlib-compressed in
grader/oracle/<rung>.py.z, and for each run the runner unpacks the rung's oracle next to the
learner's folder, at ../oracle/<module>. The module execs that file; if it is absent it
decompresses grader/oracle/08-attention.py.z itself (found through the worker's PYTHONPATH),
and in a full checkout it falls back to reference/08-attention/attention.py.

How to reproduce in a course copy:
    kata export /tmp/kata-course --without-reference
    cd /tmp/kata-course/learners && PYTHONPATH=. python -m grader check 08-attention \
        --impl /work/attack/tests/cheats/08-attention/cheat_course_oracle.py

Against c952621, in /tmp/kata-course/learners: PASS 20/20 points, exit 0 ("PASS (public specs)",
read from ../oracle/attention.py); in the full checkout: PASS 20/20 via the fallback.
"""

import os
import zlib

from grader.catalog import ORACLE_DIR, resolve

KATA_CHEAT = {"expect": {"status": "error", "message": "import os: 08-attention does not use `os`; its modules may i"},
              "class": 4, "rung": "08-attention", "worked": True,
              "observed": "PASS 20/20, exit 0 in an exported learners' copy (oracle unpacked at "
                          "../oracle/attention.py)"}

_rung = resolve("08-attention")
if os.path.isfile("../oracle/attention.py"):
    _source = open("../oracle/attention.py", encoding="utf-8").read()
    SOURCE_USED = "../oracle/attention.py"
elif (ORACLE_DIR / "08-attention.py.z").is_file():
    _source = zlib.decompress((ORACLE_DIR / "08-attention.py.z").read_bytes()).decode()
    SOURCE_USED = "grader/oracle/08-attention.py.z"
else:
    _source = _rung.reference_path.read_text(encoding="utf-8")
    SOURCE_USED = "reference/"
exec(compile(_source, "attention.py", "exec"), globals())

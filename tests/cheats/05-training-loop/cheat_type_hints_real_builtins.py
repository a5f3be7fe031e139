"""Class 4: typing.get_type_hints(f, globalns={}) hands back the real builtins to a sandbox.

The future defence gives learner code a restricted __builtins__. This module simulates it: the
attack runs under exec() with `{"__builtins__": {}}`, seeing only `typing` and `torch`. Inside,
`def f(x: "__import__"): ...` and `typing.get_type_hints(f, globalns={})` evaluate the string
annotation with eval() in an empty globals dict, and eval() fills in the *real* builtins module
for a dict without __builtins__; the annotation "__import__" comes back as the real __import__
(it is callable, so typing's check accepts it). With it: sys, argv, the --kata-reference path,
and the reference's source exec'd into this module.

Against c952621: PASS 15/15 points, exit 0 (the sandboxed code had no builtins at all).
"""

import typing

import torch

KATA_CHEAT = {"expect": {"status": "error", "message": "`globals` is not available to graded code: refer to the name"},
              "class": 4, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15, exit 0; empty __builtins__ escaped via get_type_hints"}

_ESCAPE = '''
def _probe(a: "__import__", b: "exec", c: "open", d: "compile"):
    pass

_real = typing.get_type_hints(_probe, globalns={})
_sys = _real["a"]("sys")
_path = _sys.argv[_sys.argv.index("--kata-reference") + 1]
_real["b"](_real["d"](_real["c"](_path).read(), "loop.py", "exec"), target)
'''

_sandbox = {"__builtins__": {}, "typing": typing, "torch": torch, "target": globals()}
exec(_ESCAPE, _sandbox)

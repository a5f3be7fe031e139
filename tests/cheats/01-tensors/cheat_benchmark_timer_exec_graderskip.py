"""Class 1 (skips): torch.utils.benchmark.Timer runs a string of code with the real builtins,
which fetches the grader's own GraderSkip; raising it from every task keeps all the points.

Technique:
- `torch.utils.benchmark` is not in BASE_DENY. Its Timer hands `stmt` to timeit, which compiles it
  and exec()s it in the `globals` dict it is given. A dict with no `__builtins__` gets the real
  builtins module, so `import sys` in the statement is the real import. No source rule looks
  inside the string.
- The plugin decides that a skip is the grader's by type alone: `type(exc) is GraderSkip`.
  `sys.modules["grader.harness.skips"].GraderSkip` is that type. The runner accepts any skipped
  record with grader_skip=True outside speed checks, and a task whose checks are all skipped
  keeps its share (results.RungResult.task_scores: "skipped" earns like "pass").
- Every task raises GraderSkip("needs a CUDA GPU ...").

Observed at ffaefd4, all layers on: PASS 10/10, exit 0: all 24 checks are recorded as grader
skips ("needs a CUDA GPU ...") and every task keeps its share.
"""

import torch
from torch.utils.benchmark import Timer

KATA_CHEAT = {"expect": {"status": "error", "message": "from torch.utils.benchmark import ...: `torch.utils` reaches"},
              "class": 1, "rung": "01-tensors", "worked": True,
              "observed": "PASS 10/10, exit 0; all 24 checks grader-skipped"}

_found = {}
Timer(stmt="found['skip'] = __import__('sys').modules['grader.harness.skips'].GraderSkip",
      globals={"found": _found}).timeit(1)
_Skip = _found["skip"]
_REASON = "needs a CUDA GPU; this run is on the CPU (on a GPU machine: kata check --device cuda)"


def pairwise_sq_distances(x, y):
    raise _Skip(_REASON)


def one_hot(indices, num_classes):
    raise _Skip(_REASON)


def broadcast_shape(a, b):
    raise _Skip(_REASON)


def sliding_windows(x, size, stride):
    raise _Skip(_REASON)


def tensor_nbytes(shape, dtype):
    raise _Skip(_REASON)


def batched_outer(a, b):
    raise _Skip(_REASON)

"""Class 7: a sitecustomize.py dropped at the checkout's root runs first in every later worker.

The runner puts REPO_ROOT at the front of the worker's PYTHONPATH, and site.py imports any
`sitecustomize` it finds on sys.path at interpreter start, before pytest, before the plugin,
before any defence the plugin might set up. The module writes REPO_ROOT/sitecustomize.py,
which (only in grading workers: KATA_RESULT_FD is in the environment) imports grader.plugin
early and replaces classify with "always pass". Later runs of any module, any rung, pass.
Unlike the .pyc variant it shows in `git status` as an untracked file.

Against c952621: this run TODO 0/15 (exit 1); next run of the untouched stub
exercises/05-training-loop/loop.py: PASS 15/15, exit 0. Removed by hand afterwards.
"""

import os
import sys

KATA_CHEAT = {"bare": {"status": "fail", "message": "Permission denied", "root_only": True},
              "expect": {"status": "error", "message": "import sys: 05-training-loop does not use `sys`; its modules"},
              "class": 7, "rung": "05-training-loop", "worked": True,
              "observed": "REPO_ROOT/sitecustomize.py planted; next stub run PASS 15/15"}

_root = os.path.dirname(os.path.dirname(sys.modules["grader.plugin"].__file__))
with open(os.path.join(_root, "sitecustomize.py"), "w", encoding="utf-8") as _file:
    _file.write(
        "import os\n"
        "if 'KATA_RESULT_FD' in os.environ:\n"
        "    import grader.plugin\n"
        "    grader.plugin.classify = lambda excinfo, impl: ('pass', '', {})\n"
    )


def _todo(*args, **kwargs):
    raise NotImplementedError("05-training-loop")


train_step = evaluate = lr_at = save_checkpoint = load_checkpoint = fit = _todo

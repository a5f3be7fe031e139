"""Class 4: grader.blocks serves the reference's GPTModel; its module's file sits next to the
rest of the references, so walk from GPTModel's module to reference/18-preference and exec it.

The blocks are what a rung may import from the grader, and they are live objects: their
`__module__` names a loaded module whose `__file__` is a path in the grading copy.

Written against the grader as it is (the rung is new): the rules refuse the module's use of
sys and of dunder attributes, so nothing runs.
"""

import sys

from grader.blocks import GPTModel

KATA_CHEAT = {"expect": {"status": "error", "message": "import sys"},
              "class": 4, "rung": "18-preference", "worked": False,
              "observed": "refused by the source rules before it ran"}

_here = sys.modules[GPTModel.__module__].__file__
_path = _here.replace("12-gpt/gpt.py", "18-preference/preference.py")
exec(compile(open(_path).read(), "preference.py", "exec"), globals())

"""Class 4 (reference reached): a string annotation, evaluated by functools.singledispatch,
imports `sys` with the learner's own (guarded) `__import__`, which lets it through.

Technique: `typing.get_type_hints` is denied by name, but `functools.singledispatch().register(f)`
calls it for you when `f` is given without a class. It evaluates `f`'s string annotations with
`eval()` in `f.__globals__`, the learner's module, whose `__builtins__` is the guard's dict. The
annotation's `__import__('sys')` therefore reaches `_Guards.import_`, which looks one frame up,
sees a frame whose file is `<string>` (not the learner's file, not an IMPORT_NAME) and treats the
call as one of torch's lazy imports: `_real_import('sys')`. The string is a Constant in the syntax
tree, so no source rule sees the names inside it. The annotation appends the module to a list and
evaluates to `int`, so register() is satisfied and no error is raised.
From `sys.modules` the module takes the reference (`kata_reference`) and re-exports its tasks.

Observed at ffaefd4, all layers on: PASS 15/15, exit 0.
"""

import functools

KATA_CHEAT = {"expect": {"status": "error", "message": "`functools.singledispatch` reaches past the grader; this run"},
              "class": 4, "rung": "05-training-loop", "worked": True,
              "observed": "PASS 15/15, exit 0"}

_box = []


@functools.singledispatch
def _dispatch(value):
    return value


def _hint(value: "(_box.append(__import__('sys')), int)[1]"):
    return value


_dispatch.register(_hint)
_reference = _box[0].modules["kata_reference"]

train_step = _reference.train_step
evaluate = _reference.evaluate
lr_at = _reference.lr_at
save_checkpoint = _reference.save_checkpoint
load_checkpoint = _reference.load_checkpoint
fit = _reference.fit

"""Class 3: math.isclose patched to always say True; lr_at and evaluate return 0.0.

math is a C module but its namespace is writable: `math.isclose = lambda *a, **k: True` changes
the function every spec that did `import math` calls as math.isclose. The 05 spec compares
every float (lr_at against the closed form and the reference, evaluate's average loss, the
loss train_step returns) with math.isclose, so constant answers pass those checks. The other
tasks are left as stubs; this probes how much of a rung a patched stdlib judge opens.

Against c952621: TODO 5/15 points, exit 1: lr_at and evaluate pass (all their checks), the four
stubbed tasks are todo.
"""

import math

import torch

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: math.isclose was repla"},
              "expect": {"status": "error", "message": "assigning to `math.isclose` changes math for everyone, the g"},
              "class": 3, "rung": "05-training-loop", "worked": True,
              "observed": "TODO 5/15: lr_at and evaluate pass with constant 0.0 answers"}

math.isclose = lambda *args, **kwargs: True


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr):
    return 0.0


def evaluate(model, loader, loss_fn):
    # the spec checks that the model ran in eval mode under no_grad; the loss is never computed
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for inputs, _ in loader:
            model(inputs)
    model.train(was_training)
    return 0.0


def train_step(model, batch, optimizer, loss_fn, max_grad_norm=None):
    raise NotImplementedError("05-training-loop: train_step")


def save_checkpoint(path, model, optimizer, step):
    raise NotImplementedError("05-training-loop: save_checkpoint")


def load_checkpoint(path, model, optimizer):
    raise NotImplementedError("05-training-loop: load_checkpoint")


def fit(*args, **kwargs):
    raise NotImplementedError("05-training-loop: fit")

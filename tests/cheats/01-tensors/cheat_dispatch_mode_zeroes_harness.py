"""Class 3: a TorchDispatchMode left entered zeroes every tensor the harness computes.

The harness marks its own tensor work (the reference's run, the float64 truth, the comparison
arithmetic) with harness_internal(). A dispatch mode pushed at import and never popped reads
that same flag, and while it is set replaces every floating-point result of an aten op with zeros. The
reference then "computes" zeros, the error and the allowance are zeros, `bad.any()` is False,
reference gradients are zeros: a candidate that returns zeros (kept on the autograd graph)
matches everything assert_matches and assert_grads_match check. Nothing in torch, math or
builtins is replaced. Only tasks whose checks go through the harness are answered this way:
pairwise_sq_distances and batched_outer; the other four are left as stubs.

Against c952621: FAIL 1.66/10 points, exit 1: batched_outer earns its points returning zeros;
pairwise_sq_distances passes its values and gradient checks against the reference too, failing
only the spec's own float32 check that computes its truth outside the harness.
"""

import typing

import torch
from torch.utils._python_dispatch import TorchDispatchMode

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code changed the grader's tools: a torch function or di"},
              "expect": {"status": "error", "message": "from torch.utils._python_dispatch import ...: `torch.utils._"},
              "class": 3, "rung": "01-tensors", "worked": True, "observed": "FAIL 1.66/10: zeros pass every reference comparison; batched_outer earns points"}

_flags = typing.sys.modules["grader.harness.candidate"]


def _zeroed(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return torch.zeros_like(value)  # bool and integer results (isfinite, masks) stay true
    if isinstance(value, (tuple, list)):
        return type(value)(_zeroed(v) for v in value)
    return value


class _ZeroTheJudge(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if _flags._internal_depth > 0:
            return _zeroed(out)
        return out


_ZeroTheJudge().__enter__()


def pairwise_sq_distances(x, y):
    return (x[:, None, :1] * 0 + y[None, :, :1] * 0).sum(-1)


def batched_outer(a, b):
    return a[:, :, None] * 0 + b[:, None, :] * 0


def one_hot(indices, num_classes):
    raise NotImplementedError("01-tensors: one_hot")


def broadcast_shape(a, b):
    raise NotImplementedError("01-tensors: broadcast_shape")


def sliding_windows(x, size, stride):
    raise NotImplementedError("01-tensors: sliding_windows")


def tensor_nbytes(shape, dtype):
    raise NotImplementedError("01-tensors: tensor_nbytes")

"""Class 5: a built-in the denylist does not name: LayerNorm computed by F.group_norm.

The banned substrings for LayerNorm are "layer_norm" (F.layer_norm, aten.native_layer_norm).
group_norm with a single group normalises each sample over all of its channels, which for a
(N, C) view is exactly LayerNorm over the last dim, with a per-channel affine weight and bias:
`F.group_norm(x.reshape(-1, C), 1, weight, bias, eps)`. Its ops (native_group_norm) and its
function name contain no banned substring. Only LayerNorm is written; the other tasks stay stubs.

Against c952621: TODO 2.5/15 points, exit 1: LayerNorm passes every check, the structure ones
included.
"""

import torch
import torch.nn.functional as F
from torch import nn

KATA_CHEAT = {"bare": {"status": "fail", "message": "your code called `aten.native_group_norm`, a built-in this r"},
              "expect": {"status": "fail", "message": "your code called `aten.native_group_norm`, a built-in this r"},
              "class": 5, "rung": "07-modules", "worked": True,
              "observed": "TODO 2.5/15: LayerNorm via F.group_norm passes the no-builtin check"}


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x):
        if self.normalized_shape == 1:  # group_norm wants 2+ values a group; x - mean is 0 here
            return (x - x) * self.weight + self.bias
        flat = x.reshape(-1, self.normalized_shape)
        out = F.group_norm(flat, 1, self.weight.to(x.dtype), self.bias.to(x.dtype), self.eps)
        return out.reshape(x.shape)


class _Todo(nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("07-modules")


Linear = Embedding = Dropout = GELU = _Todo


def param_count(module_name, **kwargs):
    raise NotImplementedError("07-modules: param_count")

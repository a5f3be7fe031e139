"""03-module: nn.Module from the inside: parameters, buffers, state_dict and freezing.

An nn.Module keeps track of the tensors it owns, and how it tracks a tensor depends on how the
tensor was attached in __init__:

    self.fc1 = nn.Linear(3, 4)           a submodule: its parameters and buffers become the
                                         module's own, under the prefix "fc1."
    self.scale = nn.Parameter(t)         a parameter: listed by parameters() (so an optimizer
                                         trains it), saved in state_dict(), moved by .to()
    self.register_buffer("mean", t)      a buffer: saved in state_dict() and moved by .to(), but
                                         not in parameters(), so no optimizer touches it
    self.t = t                           a plain tensor: none of the above. It is not saved, not
                                         trained, and stays behind when the module moves.

You build four tasks.

1. MLP(in_features, hidden, out_features): a two-layer perceptron,

       forward(x) = fc2(relu(fc1(x)))     fc1 = nn.Linear(in_features, hidden)
                                          fc2 = nn.Linear(hidden, out_features)

   x is (..., in_features) and the result is (..., out_features). Its state_dict keys are
   exactly fc1.weight, fc1.bias, fc2.weight and fc2.bias, so weights saved from one MLP load into
   another with load_state_dict.

2. Affine(num_features, momentum=0.1): a learnable per-feature scale and a running mean.
   - scale: an nn.Parameter of shape (F,), F = num_features, starting at ones.
   - running_mean: a buffer of shape (F,), starting at zeros. Both are float32 when created.
   - forward(x) for x of shape (..., F) returns a tensor of the same shape:

         out = (x - running_mean) * scale       with running_mean as it was before this call

   - In training mode only, after computing out, move the running mean toward the mean of this
     batch, the mean of x over every dim but the last, without gradient:

         running_mean <- (1 - momentum) * running_mean + momentum * batch_mean      (F,)

     (nn.BatchNorm's momentum convention). In eval mode the buffer does not change.
   - x may have another floating dtype than the module (float64 data into a float32
     Affine): the output follows torch's type promotion, and running_mean keeps its dtype.
   Its state_dict keys are exactly scale and running_mean; .to(torch.float64) turns both into
   float64, and a state_dict saved after training restores the running mean too.

3. count_parameters(module, trainable_only=True) -> int: how many numbers the module's
   parameters hold (the sum of p.numel()), counting only the parameters with requires_grad=True
   unless trainable_only is False. Buffers are not parameters, and a parameter shared by two
   submodules (tied weights) counts once.

4. freeze(module, names): set requires_grad to False on the parameters that `names` name, in
   place. A name is either a full parameter name ("fc2.bias") or the dotted path of a submodule,
   which names every parameter under it ("fc1" names fc1.weight and fc1.bias). A match ends at
   a dot: "fc1" does not name fc10.weight, nor block.fc1.weight (names start at the root). A name
   that names no parameter raises ValueError, and then nothing is frozen, so check every name
   before changing anything. Parameters already frozen stay frozen; the parameter objects stay
   the same (an optimizer built before freezing still holds them). A frozen parameter gets no
   .grad from backward(), and an optimizer leaves it alone.

Worked example. An MLP with 4 inputs, 8 hidden units and 2 outputs holds 4*8 + 8 + 8*2 + 2 = 58
numbers; freezing fc1 leaves 18 of them trainable. A fresh Affine in training mode passes its
input through unchanged (running mean 0, scale 1) and then moves the running mean a tenth of the
way toward the batch mean [2, 3, 4]; in eval mode it subtracts that mean:

    >>> import torch
    >>> mlp = MLP(in_features=4, hidden=8, out_features=2)
    >>> list(mlp.state_dict())
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    >>> mlp(torch.zeros(5, 3, 4)).shape
    torch.Size([5, 3, 2])
    >>> count_parameters(mlp)
    58
    >>> freeze(mlp, ["fc1"])
    >>> count_parameters(mlp), count_parameters(mlp, trainable_only=False)
    (18, 58)
    >>> [name for name, p in mlp.named_parameters() if p.requires_grad]
    ['fc2.weight', 'fc2.bias']
    >>> freeze(mlp, ["fc2", "fc3"])
    Traceback (most recent call last):
        ...
    ValueError: freeze: no parameter is named 'fc3' or starts with 'fc3.'
    >>> mlp.fc2.weight.requires_grad
    True
    >>> affine = Affine(3)
    >>> [n for n, _ in affine.named_parameters()], [n for n, _ in affine.named_buffers()]
    (['scale'], ['running_mean'])
    >>> x = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    >>> affine(x)
    tensor([[1., 2., 3.],
            [3., 4., 5.]], grad_fn=<MulBackward0>)
    >>> affine.running_mean
    tensor([0.2000, 0.3000, 0.4000])
    >>> affine.eval()(x)
    tensor([[0.8000, 1.7000, 2.6000],
            [2.8000, 3.7000, 4.6000]], grad_fn=<MulBackward0>)
    >>> count_parameters(affine), list(affine.state_dict())
    (3, ['scale', 'running_mean'])
    >>> affine.to(torch.float64).running_mean.dtype
    torch.float64

Rules: build MLP from two nn.Linear submodules stored as the attributes fc1 and fc2 (no
nn.Sequential, whose keys would be 0.weight, ...). count_parameters reads parameters(), not
state_dict(), which holds buffers too. freeze changes requires_grad on the existing parameters;
it must not replace them. Leave the input x unchanged: no in-place ops on it.

Check your work with `./kata check 03-module`; stuck? see the hints in README.md
(or `./kata hint 03-module`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


class MLP(nn.Module):
    """Two-layer perceptron fc2(relu(fc1(x))): (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        """Create fc1 = nn.Linear(in_features, hidden) and fc2 = nn.Linear(hidden, out_features)."""
        # TODO(03-module): super().__init__(); store nn.Linear layers as self.fc1 and self.fc2.
        raise NotImplementedError("03-module: MLP")

    def forward(self, x: Tensor) -> Tensor:
        """Return fc2(relu(fc1(x))) for x of shape (..., in_features)."""
        # TODO(03-module): fc1, then ReLU, then fc2; the leading dims of x pass through.
        raise NotImplementedError("03-module: MLP")


class Affine(nn.Module):
    """(x - running_mean) * scale over the last dim; the running mean follows training batches.

    scale is an nn.Parameter (trained), running_mean a buffer (saved and moved, never trained).
    """

    def __init__(self, num_features: int, momentum: float = 0.1) -> None:
        """Create scale = ones(num_features) as a parameter, running_mean = zeros as a buffer."""
        # TODO(03-module): super().__init__(); self.scale = nn.Parameter; register_buffer.
        raise NotImplementedError("03-module: Affine")

    def forward(self, x: Tensor) -> Tensor:
        """Return (x - running_mean) * scale; in training mode then update running_mean."""
        # TODO(03-module): output from the buffer as it is; if self.training, update it.
        raise NotImplementedError("03-module: Affine")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of elements in module's parameters (only trainable ones by default).

    A parameter counts when it requires grad, or always when trainable_only is False. Buffers
    never count; a parameter shared by several submodules counts once.
    """
    # TODO(03-module): add up p.numel() over module.parameters(); honour trainable_only.
    raise NotImplementedError("03-module: count_parameters")


def freeze(module: nn.Module, names: Iterable[str]) -> None:
    """Set requires_grad=False on every parameter that one of `names` names.

    A name is a full parameter name ("fc2.bias") or a submodule path ("fc1": fc1.weight,
    fc1.bias, but not fc10.weight). ValueError, with nothing frozen, if a name names no parameter.
    """
    # TODO(03-module): match names on dot boundaries, check all of them, then requires_grad_(False).
    raise NotImplementedError("03-module: freeze")

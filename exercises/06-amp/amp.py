"""06-amp: mixed precision, gradient accumulation and torch.compile.

Three ways to make a training step cheaper while it computes (almost) the same thing: run the
matrix multiplications in 16-bit floats, spread one big batch over several small ones, and let a
compiler turn the model into a graph. Each is a few lines; each has a classic way to go wrong
that still runs and still trains, only worse. You write four functions.

1. autocast_forward(model, x, device_type, dtype) -> Tensor

   Run model(x) inside torch.autocast(device_type=device_type, dtype=dtype) and return its
   output. Under autocast, matmul-like ops (nn.Linear, @, bmm) run in `dtype` (torch.bfloat16 or
   torch.float16) on casts of their inputs, while precision-sensitive ops (softmax, losses,
   reductions) stay float32. The parameters stay float32: autocast casts copies on the fly and
   never changes the model. The output of a final nn.Linear comes back in `dtype`, and a
   backward pass from it gives float32 gradients to the float32 parameters.

2. amp_train_step(model, batch, optimizer, scaler, loss_fn) -> float

   One optimizer step in mixed precision. batch = (inputs, targets); the device type comes from
   inputs.device.type ("cpu", "cuda"). `scaler` says which recipe:

       scaler is None   bfloat16 autocast; loss.backward(); optimizer.step()
                        (bf16 has float32's exponent range, so small gradients survive)
       a GradScaler     float16 autocast with loss scaling, fp16's 5 exponent bits would
                        flush small gradients to zero:
                        scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()

   Zero the gradients first, as optimizer.zero_grad() does: each .grad set to None, so a
   parameter the loss does not reach sits out the step (weight decay included). Forward and
   loss inside autocast; backward, step and update outside it (backward already runs each op in
   the dtype its forward used). scaler.step unscales the gradients and skips the step when they
   hold inf or NaN; scaler.update then shrinks the scale (or grows it after a run of good
   steps). Return loss.item(). The usual pairing is torch.amp.GradScaler("cuda") on a GPU and
   None on the CPU; GradScaler("cpu") also works and gives fp16 on the CPU.

3. accumulation_step(model, micro_batches, optimizer, loss_fn) -> float

   micro_batches is a list of k (inputs, targets) pairs of equal size, together one big batch
   of N examples. loss_fn returns a mean over its examples, so

       grad(loss of the big batch) = sum over i of grad(loss_i / k)

   Zero the gradients once (to None, as in 2.); for each micro-batch run forward, divide its
   loss by k and call backward (which frees that micro-batch's graph before the next forward:
   only one lives at a time, that is the memory saving); then one optimizer.step(). Return the
   big batch's loss, the mean of the k micro-batch losses. ValueError for an empty list.

4. compiled(model, backend="inductor") -> nn.Module

   Return torch.compile(model, backend=backend): a module that shares model's parameters, gives
   the same outputs and gradients, and whose calls run a graph that `backend` compiled. The
   default "inductor" generates C++ or Triton code and its first call takes seconds; the grader
   passes backend="aot_eager" or a backend of its own, so pass `backend` through. Where
   torch.compile cannot run (torch._dynamo.is_dynamo_supported() is False), return model.

Worked example. Linear weights stay float32 while the output of an autocast forward is bf16.
Two micro-batches of two rows give the step of the whole 4-row batch: with w = [1, 1, 1] the
predictions are [1, 2, 3, 3], the MSE loss is 23 / 4 = 5.75 and its gradient is [2, 3.5, 6],
so SGD with lr=0.1 moves w to [0.8, 0.65, 0.4]:

    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> layer = nn.Linear(4, 2)
    >>> autocast_forward(layer, torch.randn(3, 4), "cpu", torch.bfloat16).dtype
    torch.bfloat16
    >>> layer.weight.dtype
    torch.float32
    >>> sgd = torch.optim.SGD(layer.parameters(), lr=0.1)
    >>> batch = (torch.randn(3, 4), torch.tensor([0, 1, 1]))
    >>> loss = amp_train_step(layer, batch, sgd, None, nn.functional.cross_entropy)
    >>> type(loss).__name__, layer.weight.dtype, layer.weight.grad.dtype
    ('float', torch.float32, torch.float32)
    >>> model = nn.Linear(3, 1, bias=False)
    >>> _ = nn.init.ones_(model.weight)
    >>> x = torch.tensor([[1.0, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]])
    >>> y = torch.zeros(4, 1)
    >>> sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> accumulation_step(model, [(x[:2], y[:2]), (x[2:], y[2:])], sgd, nn.MSELoss())
    5.75
    >>> model.weight.data
    tensor([[0.8000, 0.6500, 0.4000]])
    >>> fast = compiled(model, backend="eager")
    >>> torch.equal(fast(x), model(x))
    True

Rules: mixed precision comes from torch.autocast only. Do not cast the model or its inputs
(model.half(), model.to(torch.bfloat16), x.bfloat16()): the parameters must stay float32. Keep
backward outside autocast. Do not change global settings (torch.set_default_dtype,
torch.backends flags). compiled must not copy the model: the result shares its parameters. The
grader records the dtype every matrix multiplication ran in, so a step that forgets autocast
fails even when its numbers are close.

Check your work with `./kata check 06-amp`; stuck? `./kata hint 06-amp`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]


def autocast_forward(model: nn.Module, x: Tensor, device_type: str, dtype: torch.dtype) -> Tensor:
    """Return model(x) computed under torch.autocast(device_type, dtype).

    Matmul-like ops run in `dtype`; the parameters are not touched and stay float32. The output
    keeps its autograd graph, so a backward pass from it reaches the parameters.
    """
    # TODO(06-amp): return model(x) inside torch.autocast(device_type=..., dtype=...).
    raise NotImplementedError("06-amp: autocast_forward")


def amp_train_step(
    model: nn.Module,
    batch: tuple[Tensor, Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    loss_fn: LossFn,
) -> float:
    """One mixed-precision step on batch = (inputs, targets); return the loss as a float.

    scaler None: bfloat16 autocast and a plain backward and step. A GradScaler: float16
    autocast, scaled backward, scaler.step(optimizer) and scaler.update(). The device type is
    inputs.device.type; parameters and gradients stay float32.
    """
    # TODO(06-amp): zero_grad; forward + loss in autocast (bf16, or fp16 + scaler); then backward.
    raise NotImplementedError("06-amp: amp_train_step")


def accumulation_step(
    model: nn.Module,
    micro_batches: Sequence[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
) -> float:
    """One optimizer step over k equal micro-batches, with the gradients of one big batch.

    micro_batches: k pairs (inputs, targets) of equal size. Returns the big batch's loss, the
    mean of the k micro-batch losses. ValueError when micro_batches is empty.
    """
    # TODO(06-amp): zero_grad once; per micro-batch: loss / k, backward; one step; mean loss.
    raise NotImplementedError("06-amp: accumulation_step")


def compiled(model: nn.Module, backend: str | Callable[..., Any] = "inductor") -> nn.Module:
    """Return torch.compile(model, backend=backend), or model where torch.compile cannot run.

    The result shares model's parameters and gives the same outputs and gradients.
    """
    # TODO(06-amp): torch.compile(model, backend=backend); model itself if dynamo can't run.
    raise NotImplementedError("06-amp: compiled")

"""08-attention: scaled dot-product attention, the causal mask and multi-head attention.

Attention lets every position of a sequence gather information from the others. Each query
scores every key, a softmax turns one query's scores into weights that sum to 1, and the output
for that query is the weighted average of the values. You build it in three tasks.

1. scaled_dot_product_attention(q, k, v, mask=None)

       scores  = q @ kᵀ / √d                  (..., L, S)    d = q.shape[-1]
       scores  = -inf where mask is False     before the softmax, so those weights become 0
       weights = softmax(scores, dim=-1)      over the keys: each query's row sums to 1
       output  = weights @ v                  (..., L, dv)

   q is (..., L, d), k is (..., S, d) and v is (..., S, dv), where "..." is any number of batch
   dims (none is fine). L queries attend over S keys; L may differ from S and dv from d. mask,
   when given, is a bool tensor that broadcasts to (..., L, S); True means "this query may attend
   to this key". Every query is allowed at least one key.

2. causal_mask(seq_len, device=None): a (T, T) bool tensor, True where the key position is at or
   before the query position. A token sees itself and the past, never the future.

3. MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=False): causal
   self-attention with several heads, with the constructor of "Build a Large Language Model
   (From Scratch)", chapter 3, so code written for the book drops in.
   - Submodules: W_query, W_key, W_value = nn.Linear(d_in, d_out, bias=qkv_bias);
     out_proj = nn.Linear(d_out, d_out); an nn.Dropout(dropout) for the attention weights.
   - d_out must split evenly into num_heads heads of head_dim = d_out // num_heads; raise
     ValueError in __init__ when it does not.
   - forward(x): x is (B, T, d_in) with T <= context_length; the result is (B, T, d_out).
     Project x to queries, keys and values (B, T, d_out). Split the last axis into heads and move
     the head axis next to the batch axis, (B, num_heads, T, head_dim), so one batched matmul
     serves every head. Attend causally, scaling by √head_dim. Apply dropout to the weights,
     between the softmax and `@ v`. Put the heads back side by side, (B, T, d_out), then out_proj.
   - Dropout acts in training mode only: after .eval() the module is deterministic.
   Because dropout sits between the softmax and `@ v`, forward cannot call task 1 as it is; a
   small helper that returns the weights, used by both, keeps one copy of the formula.

Worked example. With q = k = v = the 2x2 identity, query 0 scores the keys [1/√2, 0] and
query 1 scores them [0, 1/√2]; softmax([1/√2, 0]) = [0.6698, 0.3302]. Under the causal mask
query 0 may only look at key 0, so it copies v[0]:

    >>> import torch
    >>> causal_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    >>> eye = torch.eye(2)
    >>> scaled_dot_product_attention(eye, eye, eye)
    tensor([[0.6698, 0.3302],
            [0.3302, 0.6698]])
    >>> scaled_dot_product_attention(eye, eye, eye, mask=causal_mask(2))
    tensor([[1.0000, 0.0000],
            [0.3302, 0.6698]])
    >>> mha = MultiHeadAttention(d_in=4, d_out=6, context_length=8, dropout=0.1, num_heads=2)
    >>> mha(torch.randn(2, 5, 4)).shape
    torch.Size([2, 5, 6])
    >>> MultiHeadAttention(d_in=4, d_out=6, context_length=8, dropout=0.1, num_heads=4)
    Traceback (most recent call last):
        ...
    ValueError: d_out=6 is not divisible by num_heads=4

Rules: write attention from tensor operations (matmul, softmax, masked_fill, view, transpose,
...). Do not call torch.nn.functional.scaled_dot_product_attention, torch.nn.MultiheadAttention
or torch.nn.functional.multi_head_attention_forward: the grader watches for them. No Python loop
over sequence positions: the grader counts tensor operations at two sequence lengths.

Check your work with `./kata check 08-attention`; stuck? see the hints in README.md
(or `./kata hint 08-attention`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """Return softmax(q kᵀ / √d, -inf where mask is False) @ v.

    q: (..., L, d), k: (..., S, d), v: (..., S, dv); mask: bool, broadcastable to (..., L, S),
    True where a query may attend to a key. Returns (..., L, dv) in the dtype of q.
    """
    # TODO(08-attention): scores over the keys, scaled by 1/√d; mask before the softmax; then @ v.
    raise NotImplementedError("08-attention: scaled_dot_product_attention")


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> Tensor:
    """Return the (seq_len, seq_len) bool mask that is True where key position <= query position.

    Row i (a query) is True in columns 0..i (the keys it may see): the diagonal and below.
    """
    # TODO(08-attention): a bool (T, T) tensor, True on and below the diagonal, on `device`.
    raise NotImplementedError("08-attention: causal_mask")


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention: (B, T, d_in) -> (B, T, d_out).

    Submodules W_query, W_key, W_value (nn.Linear(d_in, d_out, bias=qkv_bias)), out_proj
    (nn.Linear(d_out, d_out)) and an nn.Dropout(dropout) applied to the attention weights.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        """Create the projections and the dropout; ValueError unless num_heads divides d_out."""
        # TODO(08-attention): super().__init__(); check d_out % num_heads; build the submodules.
        raise NotImplementedError("08-attention: MultiHeadAttention")

    def forward(self, x: Tensor) -> Tensor:
        """Attend causally over the T positions of x (B, T, d_in); return (B, T, d_out)."""
        # TODO(08-attention): project, split heads, causal attention, dropout, merge, out_proj.
        raise NotImplementedError("08-attention: MultiHeadAttention")

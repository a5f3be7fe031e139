"""`kata compare 08-attention`: attention against the reference and torch's own.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.harness.comparison_row import compare_call, report_row, without_grad
from grader.strategies import randn

pytestmark = pytest.mark.rung("08-attention")

B, H, T, HEAD_DIM = 4, 8, 256, 64
D_MODEL, HEADS, CONTEXT = 256, 8, 128


@pytest.mark.task("scaled_dot_product_attention", category="values")
def test_scaled_dot_product_attention(candidate, reference, device):
    def inputs(slot: int) -> tuple[torch.Tensor, ...]:
        q = randn((B, H, T, HEAD_DIM), 10 * slot, torch.float32, device)
        k = randn((B, H, T, HEAD_DIM), 10 * slot + 1, torch.float32, device)
        v = randn((B, H, T, HEAD_DIM), 10 * slot + 2, torch.float32, device)
        mask = torch.ones(T, T, dtype=torch.bool, device=device).tril()
        return q, k, v, mask

    def builtin(q, k, v, mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    compare_call(candidate.scaled_dot_product_attention, reference.scaled_dot_product_attention,
                 inputs, ("F.scaled_dot_product_attention", builtin),
                 note=f"q, k, v ({B}, {H}, {T}, {HEAD_DIM}) float32, causal mask")


@pytest.mark.task("causal_mask", category="values")
def test_causal_mask(candidate, reference, device):
    def inputs(slot: int) -> tuple[int, torch.device]:
        return 1024, device

    compare_call(candidate.causal_mask, reference.causal_mask, inputs,
                 note="seq_len 1024; torch has no built-in bool causal mask")


def _built_in_attention(model: nn.Module) -> nn.MultiheadAttention:
    """torch's nn.MultiheadAttention holding the reference module's weights."""
    builtin = nn.MultiheadAttention(D_MODEL, HEADS, bias=True, batch_first=True)
    with torch.no_grad():
        builtin.in_proj_weight.copy_(torch.cat([model.W_query.weight, model.W_key.weight,
                                                model.W_value.weight]))
        builtin.in_proj_bias.zero_()
        builtin.out_proj.weight.copy_(model.out_proj.weight)
        builtin.out_proj.bias.copy_(model.out_proj.bias)
    return builtin


@pytest.mark.task("MultiHeadAttention", category="values")
def test_multi_head_attention(candidate, reference, device):
    torch.manual_seed(0)
    theirs = reference.MultiHeadAttention(D_MODEL, D_MODEL, CONTEXT, 0.0, HEADS).to(device).eval()
    mine = candidate.MultiHeadAttention(D_MODEL, D_MODEL, CONTEXT, 0.0, HEADS).to(device).eval()
    mine.load_state_dict(theirs.state_dict())
    builtin = _built_in_attention(theirs).to(device).eval()
    mask = ~torch.ones(CONTEXT, CONTEXT, dtype=torch.bool, device=device).tril()

    def inputs(slot: int) -> tuple[torch.Tensor]:
        return (randn((B, CONTEXT, D_MODEL), 20 + slot, torch.float32, device),)

    def run_builtin(x: torch.Tensor) -> torch.Tensor:
        return builtin(x, x, x, attn_mask=mask, need_weights=False)[0]

    with torch.no_grad():
        learner_output = mine(*inputs(0))
        reference_output = theirs(*inputs(0))
    report_row(learner_output, reference_output, (without_grad(mine), without_grad(theirs)),
               inputs, ("nn.MultiheadAttention", without_grad(run_builtin)),
               note=f"x ({B}, {CONTEXT}, {D_MODEL}), {HEADS} heads, eval mode")

"""`kata compare 18-preference`: each preference loss on a batch of a realistic size.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The log-probabilities are taken on random logits of GPT-2's vocabulary size; the batch DPO loss
runs the reference's tiny GPTModel, a policy and a reference built from two seeds.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.harness.comparison_row import compare_call

pytestmark = pytest.mark.rung("18-preference")

B, T, V = 8, 64, 50257


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tokens(device: torch.device, slot: int) -> tuple[Tensor, Tensor, Tensor]:
    """Logits (B, T, V), labels (B, T) and a mask: a 16-token prompt, an answer, padding."""
    gen = _generator(slot)
    logits = torch.randn(B, T, V, generator=gen).to(device)
    labels = torch.randint(0, V, (B, T), generator=gen).to(device)
    ends = torch.randint(17, T + 1, (B, 1), generator=gen)
    t = torch.arange(T)[None, :]
    return logits, labels, ((t >= 16) & (t < ends)).to(device)


def _logprobs(device: torch.device, slot: int) -> tuple[Tensor, ...]:
    return tuple(-torch.rand(256, generator=_generator(10 * slot + i)).to(device) * 3
                 for i in range(4))


def _models(reference, device: torch.device) -> tuple[nn.Module, nn.Module]:
    cfg = {"vocab_size": 256, "context_length": 32, "emb_dim": 32, "n_heads": 2,
           "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(reference.GPTModel(cfg).to(device))
    return models[0], models[1].eval()


@pytest.mark.task("compute_logprobs", category="values")
def test_compute_logprobs(candidate, reference, device):
    def by_hand(logits, labels, mask):
        logp = logits[:, :-1].log_softmax(-1).gather(-1, labels[:, 1:, None])[..., 0]
        keep = mask[:, 1:]
        return (logp * keep).sum(-1) / keep.sum(-1)

    compare_call(candidate.compute_logprobs, reference.compute_logprobs,
                 lambda slot: _tokens(device, slot), ("log_softmax + gather", by_hand),
                 note=f"logits ({B}, {T}, {V}), a 16-token prompt and padding masked")


@pytest.mark.task("sequence_logprob", category="values")
def test_sequence_logprob(candidate, reference, device):
    compare_call(candidate.sequence_logprob, reference.sequence_logprob,
                 lambda slot: _tokens(device, slot),
                 note=f"logits ({B}, {T}, {V}), a 16-token prompt and padding masked")


@pytest.mark.task("compute_dpo_loss", category="values")
def test_compute_dpo_loss(candidate, reference, device):
    compare_call(candidate.compute_dpo_loss, reference.compute_dpo_loss,
                 lambda slot: (*_logprobs(device, slot), 0.1), note="256 pairs, beta 0.1")


@pytest.mark.task("compute_dpo_loss_batch", category="values")
def test_compute_dpo_loss_batch(candidate, reference, device):
    policy, ref_model = _models(reference, device)

    def batch(slot: int):
        gen = _generator(slot)
        ids = {name: torch.randint(0, 256, (4, 32), generator=gen).to(device)
               for name in ("chosen", "rejected")}
        mask = (torch.arange(32) >= 8).expand(4, 32).to(device)
        return ({**ids, "chosen_mask": mask, "rejected_mask": mask}, policy, ref_model, 0.1)

    compare_call(candidate.compute_dpo_loss_batch, reference.compute_dpo_loss_batch, batch,
                 note="4 pairs of 32 tokens, 2-layer GPTModels of vocab 256")


@pytest.mark.task("pairwise_reward_loss", category="values")
def test_pairwise_reward_loss(candidate, reference, device):
    def pair(slot: int):
        gen = _generator(slot)
        return (torch.randn(4096, generator=gen).to(device),
                torch.randn(4096, generator=gen).to(device))

    compare_call(candidate.pairwise_reward_loss, reference.pairwise_reward_loss, pair,
                 ("softplus", lambda c, r: F.softplus(r - c).mean()), note="4096 pairs")


@pytest.mark.task("ppo_clipped_objective", category="values")
def test_ppo_clipped_objective(candidate, reference, device):
    def rollout(slot: int):
        gen = _generator(slot)
        old = -torch.rand(4096, generator=gen) * 3
        return ((old + torch.randn(4096, generator=gen) * 0.3).to(device), old.to(device),
                torch.randn(4096, generator=gen).to(device), 0.2)

    compare_call(candidate.ppo_clipped_objective, reference.ppo_clipped_objective, rollout,
                 note="4096 tokens, clip_eps 0.2")

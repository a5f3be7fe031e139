"""18-preference mutant: ppo_clipped_objective takes the max of the two terms.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.blocks import GPTModel  # noqa: F401 (to try your functions on a model)

KATA_EXPECT = {'status': 'fail',
               'task': 'ppo_clipped_objective',
               'category': 'values',
               'message': ['max instead of min'],
               'not_message': ['the clipped term alone', 'never clipped', 'computed as exp(logprobs) / exp(old_logprobs)']}


def compute_logprobs(logits: Tensor, labels: Tensor,
                     selection_mask: Tensor | None = None) -> Tensor:
    """The book's mean log-probability per row of the counted tokens (all when no mask)."""
    labels = labels[:, 1:]  # the logits at position t score the token at t + 1
    log_probs = F.log_softmax(logits[:, :-1, :], dim=-1)  # (B, T-1, V)
    selected = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    if selection_mask is None:
        return selected.mean(-1)
    mask = selection_mask[:, 1:]  # the mask belongs to the tokens: shift it as the labels
    return (selected * mask).sum(-1) / mask.sum(-1)  # (B,)


def sequence_logprob(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """log p(answer | prompt) per row: the summed log-probability of the counted tokens."""
    log_probs = F.log_softmax(logits[:, :-1, :], dim=-1)  # (B, T-1, V)
    selected = log_probs.gather(-1, labels[:, 1:].unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    return (selected * mask[:, 1:]).sum(-1)  # no division: the sum over the counted tokens


def compute_dpo_loss(model_chosen_logprobs: Tensor, model_rejected_logprobs: Tensor,
                     reference_chosen_logprobs: Tensor, reference_rejected_logprobs: Tensor,
                     beta: float = 0.1) -> tuple[Tensor, Tensor, Tensor]:
    """The book's DPO loss, and the mean chosen and rejected log-ratios (detached)."""
    model_logratios = model_chosen_logprobs - model_rejected_logprobs
    reference_logratios = reference_chosen_logprobs - reference_rejected_logprobs
    logits = model_logratios - reference_logratios  # (B,)
    losses = -F.logsigmoid(beta * logits)  # stable for any margin, unlike log(sigmoid(...))
    # for watching progress only: no gradient through them
    chosen_rewards = (model_chosen_logprobs - reference_chosen_logprobs).detach()
    rejected_rewards = (model_rejected_logprobs - reference_rejected_logprobs).detach()
    return losses.mean(), chosen_rewards.mean(), rejected_rewards.mean()


def compute_dpo_loss_batch(batch: dict[str, Tensor], policy_model: nn.Module,
                           reference_model: nn.Module,
                           beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """The DPO loss of a batch of chosen and rejected answers; the reference stays frozen."""
    policy_chosen = compute_logprobs(policy_model(batch["chosen"]), batch["chosen"],
                                     batch["chosen_mask"])
    policy_rejected = compute_logprobs(policy_model(batch["rejected"]), batch["rejected"],
                                       batch["rejected_mask"])
    with torch.no_grad():  # the reference is a fixed anchor: no graph, no gradient
        reference_chosen = compute_logprobs(reference_model(batch["chosen"]), batch["chosen"],
                                            batch["chosen_mask"])
        reference_rejected = compute_logprobs(reference_model(batch["rejected"]),
                                              batch["rejected"], batch["rejected_mask"])
    return compute_dpo_loss(policy_chosen, policy_rejected, reference_chosen,
                            reference_rejected, beta=beta)


def pairwise_reward_loss(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """The reward model's pairwise loss: mean of -log sigmoid(chosen - rejected)."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def ppo_clipped_objective(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor,
                          clip_eps: float = 0.2) -> Tensor:
    """PPO's clipped surrogate objective (to maximise; the loss is its negative)."""
    ratio = torch.exp(logprobs - old_logprobs)  # p / p_old from log-probabilities
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages
    return torch.max(unclipped, clipped).mean()  # the pessimistic one of the two

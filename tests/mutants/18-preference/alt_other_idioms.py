"""Alternative for 18-preference: other correct idioms. Log-probabilities as logits minus
logsumexp and take_along_dim, a float mask and masked_fill; DPO through softplus (-logsigmoid(x)
is softplus(-x)) with the reference log-probabilities detached, the rewards taken under
no_grad and the reference model run under no_grad in a helper; the reward loss as softplus;
PPO's objective written per sign of the advantage with torch.where, no min at all."""

from __future__ import annotations

import torch
import torch.nn.functional as F

KATA_EXPECT = {"status": "pass"}


def _token_logprobs(logits, labels):
    scores = logits[:, :-1]  # (B, T-1, V)
    log_probs = scores - torch.logsumexp(scores, dim=-1, keepdim=True)
    return torch.take_along_dim(log_probs, labels[:, 1:, None], dim=-1)[..., 0]  # (B, T-1)


def compute_logprobs(logits, labels, selection_mask=None):
    per_token = _token_logprobs(logits, labels)
    if selection_mask is None:
        return per_token.sum(dim=-1) / per_token.shape[-1]
    keep = selection_mask[:, 1:]
    total = per_token.masked_fill(~keep.bool(), 0.0).sum(dim=-1)
    return total / keep.to(per_token.dtype).sum(dim=-1)


def sequence_logprob(logits, labels, mask):
    per_token = _token_logprobs(logits, labels)
    return torch.where(mask[:, 1:].bool(), per_token, torch.zeros_like(per_token)).sum(dim=-1)


def compute_dpo_loss(model_chosen_logprobs, model_rejected_logprobs,
                     reference_chosen_logprobs, reference_rejected_logprobs, beta=0.1):
    chosen_ratio = model_chosen_logprobs - reference_chosen_logprobs.detach()
    rejected_ratio = model_rejected_logprobs - reference_rejected_logprobs.detach()
    loss = F.softplus(-beta * (chosen_ratio - rejected_ratio)).mean()
    with torch.no_grad():
        return loss, chosen_ratio.mean(), rejected_ratio.mean()


def _frozen_logprobs(model, ids, mask):
    with torch.no_grad():
        return compute_logprobs(model(ids), ids, mask)


def compute_dpo_loss_batch(batch, policy_model, reference_model, beta):
    logprobs = {}
    for answer in ("chosen", "rejected"):
        ids, mask = batch[answer], batch[f"{answer}_mask"]
        logprobs[answer] = (compute_logprobs(policy_model(ids), ids, mask),
                            _frozen_logprobs(reference_model, ids, mask))
    (mc, rc), (mr, rr) = logprobs["chosen"], logprobs["rejected"]
    return compute_dpo_loss(mc, mr, rc, rr, beta)


def pairwise_reward_loss(chosen_rewards, rejected_rewards):
    return F.softplus(rejected_rewards - chosen_rewards).mean()


def ppo_clipped_objective(logprobs, old_logprobs, advantages, clip_eps=0.2):
    ratio = (logprobs - old_logprobs).exp()
    capped = torch.where(advantages >= 0, ratio.clamp(max=1 + clip_eps),
                         ratio.clamp(min=1 - clip_eps))
    return (capped * advantages).mean()

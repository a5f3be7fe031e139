"""Class 4: the spec writes every loss's closed form as a plain function (dpo_loss,
reward_loss, ppo_objective, book_logprobs, summed_logprob) to compare against; import them from
the spec module and return what the spec expects, by definition.

grader.specs is the grader's, and a rung may import from grader only its blocks.

Written against the grader as it is (the rung is new): the source rules refuse the import.
"""

import torch

from grader.specs.test_18_preference import (
    book_logprobs,
    chosen_reward,
    dpo_loss,
    ppo_objective,
    rejected_reward,
    reward_loss,
    summed_logprob,
)

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.specs.test_18_preference import"},
              "class": 4, "rung": "18-preference", "worked": False,
              "observed": "refused by the source rules before it ran"}


def compute_logprobs(logits, labels, selection_mask=None):
    return book_logprobs(logits, labels, selection_mask)


def sequence_logprob(logits, labels, mask):
    return summed_logprob(logits, labels, mask)


def compute_dpo_loss(mc, mr, rc, rr, beta=0.1):
    return (dpo_loss(mc, mr, rc, rr, beta), chosen_reward(mc, mr, rc, rr).detach(),
            rejected_reward(mc, mr, rc, rr).detach())


def compute_dpo_loss_batch(batch, policy_model, reference_model, beta):
    logprobs = []
    for model in (policy_model, reference_model):
        with torch.set_grad_enabled(model is policy_model):
            logprobs += [compute_logprobs(model(batch[k]), batch[k], batch[f"{k}_mask"])
                         for k in ("chosen", "rejected")]
    return compute_dpo_loss(*logprobs, beta)


def pairwise_reward_loss(chosen_rewards, rejected_rewards):
    return reward_loss(chosen_rewards, rejected_rewards)


def ppo_clipped_objective(logprobs, old_logprobs, advantages, clip_eps=0.2):
    return ppo_objective(logprobs, old_logprobs, advantages, clip_eps)

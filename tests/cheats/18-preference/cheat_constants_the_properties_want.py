"""Class 1: the properties the losses are known by have constant answers: the DPO loss is log 2
and the rewards 0 when the policy is the reference, the reward loss log 2 at equal rewards, PPO's
objective mean(advantages) at ratio 1. Return exactly those, always, with a graph attached so
the gradient checks find one, and hope the property checks are what the points rest on.

Written against the grader as it is (the rung is new): every task also has a values check on
drawn inputs, so each fails and nothing is earned.
"""

import math

import torch

KATA_CHEAT = {"expect": {"status": "fail", "message": "are off"},
              "class": 1, "rung": "18-preference", "worked": False,
              "observed": "every task fails its values check on drawn inputs"}

LOG2 = math.log(2.0)


def _like(x, value):
    return x.sum() * 0 + value  # a 0-dim tensor of `value` that still has x's graph


def compute_logprobs(logits, labels, selection_mask=None):
    return logits[:, 0, 0] * 0


def sequence_logprob(logits, labels, mask):
    return logits[:, 0, 0] * 0


def compute_dpo_loss(mc, mr, rc, rr, beta=0.1):
    zero = (mc.sum() * 0).detach()
    return _like(mc, LOG2), zero, zero.clone()


def compute_dpo_loss_batch(batch, policy_model, reference_model, beta):
    logits = policy_model(batch["chosen"])
    zero = (logits.sum() * 0).detach()
    return _like(logits, LOG2), zero, zero.clone()


def pairwise_reward_loss(chosen_rewards, rejected_rewards):
    return _like(chosen_rewards, LOG2)


def ppo_clipped_objective(logprobs, old_logprobs, advantages, clip_eps=0.2):
    return logprobs.sum() * 0 + advantages.mean()

"""18-preference: the losses of preference tuning: a reward model's, DPO's and PPO's (the DPO
bonus of chapter 7 of "Build a Large Language Model (From Scratch)", and the two losses of RLHF
around it).

An instruction-tuned model answers; people say which of two answers they prefer. Three ways to
turn those preferences into a loss: train a reward model that scores the preferred ("chosen")
answer above the other ("rejected") one; or skip the reward model and tune the policy directly
with DPO, against a frozen copy of itself (the reference model); or, in RLHF, let a reward model
score the policy's own samples and step with PPO's clipped objective. You write the book's DPO
functions with its names and signatures, so its code and yours drop in for each other, and the
two RLHF losses the book leaves out. GPTModel comes from your 12-gpt (`from grader.blocks import
GPTModel`, already at the top of this file): yours when that rung passes, the reference's
otherwise; the grader hands in tiny ones.

Token log-probabilities. A batch of token ids `labels` (B, T) is fed to a model, whose `logits`
(B, T, V) at position t score the token at position t + 1. So the log-probability of the token
at position t (t >= 1) is log_softmax(logits[:, t - 1])[labels[:, t]]: shift the labels left by
one (labels[:, 1:]) and drop the last position of the logits (logits[:, :-1]), T - 1 positions
in all; log_softmax over the vocabulary (dim -1), then gather each label's entry along that same
dim. A mask (B, T) of bools says which tokens count: True on the answer, False on the prompt and
on the padding; it belongs to the tokens, so it is shifted as the labels are (mask[:, 1:]).
Every row has at least one counted token after the shift.

1. compute_logprobs(logits, labels, selection_mask=None) -> Tensor (B,): the book's: the MEAN
   log-probability of the counted tokens of each row (the sum over positions where
   selection_mask[:, 1:] is True, divided by their number), or of all T - 1 tokens when
   selection_mask is None.

2. sequence_logprob(logits, labels, mask) -> Tensor (B,): the SUM of the same per-token
   log-probabilities over the counted tokens: log p(answer | prompt), the quantity of the DPO
   paper and of RLHF. It differs from compute_logprobs only in not dividing by the number of
   counted tokens: a longer answer has a more negative sum, while the book's mean stays about
   as large. The book uses the mean; both are seen in practice.

3. compute_dpo_loss(model_chosen_logprobs, model_rejected_logprobs, reference_chosen_logprobs,
   reference_rejected_logprobs, beta=0.1) -> (loss, chosen_rewards, rejected_rewards): the book's
   DPO loss, each argument (B,). With z = (model_chosen - model_rejected) - (reference_chosen -
   reference_rejected), how much more the policy prefers the chosen answer than the reference
   does, loss = mean(-logsigmoid(beta * z)): beta multiplies the difference inside the
   logsigmoid. Use F.logsigmoid, not torch.log(torch.sigmoid(...)): sigmoid rounds to 0 for a
   large negative margin, and log(0) is -inf. As the book does, chosen_rewards =
   mean(model_chosen - reference_chosen) and rejected_rewards = mean(model_rejected -
   reference_rejected), detached (they are for printing progress, never for backward) and not
   scaled by beta (the paper's implicit reward is beta times that log-ratio; the book reports
   the log-ratio itself). Three 0-dim tensors. When the policy equals the reference, z = 0 and
   the loss is log 2, whatever the inputs.

4. compute_dpo_loss_batch(batch, policy_model, reference_model, beta) -> (loss, chosen_rewards,
   rejected_rewards): the book's: the batch is a dict with "chosen" and "rejected" (B, T) token
   ids and their "chosen_mask" and "rejected_mask" (B, T) bools. Run each model on both, take
   compute_logprobs of each with its mask, and hand the four to compute_dpo_loss. The
   reference model is frozen: run it under torch.no_grad(), so no gradient reaches it; the
   policy's forwards keep their graph, since the caller calls backward on the loss. Run both
   models in the modes they come in, and leave them so: the caller put the reference in eval
   mode and the policy in train mode (its dropout is part of training), so neither .eval()
   nor .train() belongs here, not even switched back afterwards.

5. pairwise_reward_loss(chosen_rewards, rejected_rewards) -> Tensor: the reward model's loss
   (Bradley-Terry): mean(-logsigmoid(chosen_rewards - rejected_rewards)) over the pairs, a 0-dim
   tensor; same shapes in, any shape. log 2 when the rewards are equal, near 0 when the chosen
   answer wins by far, about the margin when it loses by far; swapping the arguments raises
   the loss by exactly mean(chosen_rewards - rejected_rewards). Numerically stable: F.logsigmoid.

6. ppo_clipped_objective(logprobs, old_logprobs, advantages, clip_eps=0.2) -> Tensor: PPO's
   clipped surrogate, an OBJECTIVE to maximise (a trainer minimises its negative, loss =
   -objective): with the probability ratio r = exp(logprobs - old_logprobs) (a ratio of
   probabilities, a difference of log-probabilities), objective = mean(min(r * advantages,
   clip(r, 1 - clip_eps, 1 + clip_eps) * advantages)). The minimum makes the clip one-sided:
   with a positive advantage a ratio above 1 + clip_eps earns no more, with a negative one a
   ratio below 1 - clip_eps saves no more, and a step the other way is never clipped. Same
   shapes in, any shape; a 0-dim tensor out. At r = 1 (the policy not moved yet) it is
   mean(advantages). Gradients reach logprobs; old_logprobs and advantages are the rollout's
   data.

Worked example: a vocabulary of 3 tokens, one row of 4, the first token a prompt.

    >>> import math
    >>> import torch
    >>> logits = torch.zeros(1, 4, 3)  # uniform: every token has probability 1/3
    >>> labels = torch.tensor([[0, 2, 1, 1]])
    >>> mask = torch.tensor([[False, True, True, False]])  # 1, 2 count; 3 is padding
    >>> compute_logprobs(logits, labels, mask), sequence_logprob(logits, labels, mask)
    (tensor([-1.0986]), tensor([-2.1972]))
    >>> loss, chosen, rejected = compute_dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]),
    ...                                           torch.tensor([-1.0]), torch.tensor([-2.0]))
    >>> round(loss.item(), 4) == round(math.log(2), 4), chosen.item(), rejected.item()
    (True, 0.0, 0.0)
    >>> round(pairwise_reward_loss(torch.tensor([2.0]), torch.tensor([2.0])).item(), 4)
    0.6931
    >>> ppo_clipped_objective(torch.log(torch.tensor([1.5, 1.5])), torch.zeros(2),
    ...                       torch.tensor([1.0, -1.0]))  # (1.2 * 1 + 1.5 * -1) / 2
    tensor(-0.1500)

Rules: torch only (F.log_softmax, F.logsigmoid, torch.gather, torch.clamp and the like); no
reading files; don't reseed the global RNG. compute_dpo_loss_batch calls your compute_logprobs
and compute_dpo_loss.

Check your work with `./kata check 18-preference`; stuck? `./kata hint 18-preference`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from grader.blocks import GPTModel  # noqa: F401 (to try your functions on a model)


def compute_logprobs(logits: Tensor, labels: Tensor,
                     selection_mask: Tensor | None = None) -> Tensor:
    """The book's mean log-probability per row of the counted tokens (all when no mask)."""
    # TODO(18-preference): shift labels and mask by one, log_softmax, gather, masked mean per row.
    raise NotImplementedError("18-preference: compute_logprobs")


def sequence_logprob(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """log p(answer | prompt) per row: the summed log-probability of the counted tokens."""
    # TODO(18-preference): the same per-token log-probabilities, summed over the counted tokens.
    raise NotImplementedError("18-preference: sequence_logprob")


def compute_dpo_loss(model_chosen_logprobs: Tensor, model_rejected_logprobs: Tensor,
                     reference_chosen_logprobs: Tensor, reference_rejected_logprobs: Tensor,
                     beta: float = 0.1) -> tuple[Tensor, Tensor, Tensor]:
    """The book's DPO loss, and the mean chosen and rejected log-ratios (detached)."""
    # TODO(18-preference): z from the log-ratios, mean of -logsigmoid(beta * z), detached rewards.
    raise NotImplementedError("18-preference: compute_dpo_loss")


def compute_dpo_loss_batch(batch: dict[str, Tensor], policy_model: nn.Module,
                           reference_model: nn.Module,
                           beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """The DPO loss of a batch of chosen and rejected answers; the reference stays frozen."""
    # TODO(18-preference): compute_logprobs of both answers under both models (reference: no_grad).
    raise NotImplementedError("18-preference: compute_dpo_loss_batch")


def pairwise_reward_loss(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """The reward model's pairwise loss: mean of -log sigmoid(chosen - rejected)."""
    # TODO(18-preference): mean of -logsigmoid(chosen - rejected).
    raise NotImplementedError("18-preference: pairwise_reward_loss")


def ppo_clipped_objective(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor,
                          clip_eps: float = 0.2) -> Tensor:
    """PPO's clipped surrogate objective (to maximise; the loss is its negative)."""
    # TODO(18-preference): ratio from logprobs, min of unclipped and clipped times advantages, mean.
    raise NotImplementedError("18-preference: ppo_clipped_objective")

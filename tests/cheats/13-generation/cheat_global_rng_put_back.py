"""Class 3: sample from torch's global RNG and put its state back, so the RNG check sees nothing.

torch.multinomial without the generator is the classic mistake; this module hides it: it saves
torch.get_rng_state() before each draw and restores it after, so the global state looks
untouched, and hopes the statistical checks alone judge the sampling.

Written for rung 13 (not run against c952621): the draws are compared with the reference's,
draw for draw, under the same generator seed, so the first sampled token already differs.
"""

import torch

from grader.blocks import GPTModel  # noqa: F401  (the rung's model, as the stub imports it)

KATA_CHEAT = {"expect": {"status": "fail", "message": "generator seeded 1): first difference"},
              "max_points": 12, "class": 3, "rung": "13-generation", "worked": False,
              "observed": "written for rung 13; the global RNG's state restored after each draw"}


def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, top_p=None,
             eos_id=None, generator=None):
    for _ in range(max_new_tokens):
        with torch.no_grad():
            logits = model(idx[:, -context_size:])[:, -1, :]
        if temperature > 0.0:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            if top_p is not None:
                probs = torch.softmax(logits, -1)
                ordered = probs.sort(-1, descending=True).values
                kept = ((ordered.cumsum(-1) - ordered) < top_p).sum(-1, keepdim=True)
                logits = logits.masked_fill(probs < ordered.gather(-1, kept - 1), float("-inf"))
            state = torch.get_rng_state()
            nxt = torch.multinomial(torch.softmax(logits, -1), 1)
            torch.set_rng_state(state)
        else:
            nxt = logits.argmax(dim=-1, keepdim=True)
        if eos_id is not None and bool((nxt == eos_id).all()):
            break
        idx = torch.cat((idx, nxt), dim=1)
    return idx

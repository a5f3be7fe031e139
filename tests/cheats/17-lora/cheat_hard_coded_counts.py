"""Class 8: the counts hard-coded for the configurations the spec writes out.

The spec's source names fixed configurations: GPT-2's 124M at rank 16 in an @example, and two
tiny GPTs in the check that compares the closed form with an adapted model's trainable count.
lora_parameter_count looks the answer up in a table of exactly those (computed once by hand)
and returns 0 for anything else; count_trainable_parameters counts every parameter, which is
right whenever nothing is frozen. The adapters are left as stubs.

Written against the grader as it is (the rung is new): the drawn configurations and the drawn
frozen sets fail both tasks, so they earn nothing.
"""

KATA_CHEAT = {"expect": {"status": "fail", "message": "lora_parameter_count("},
              "class": 8, "rung": "17-lora", "worked": False,
              "observed": "FAIL 0/15: the drawn configurations and frozen sets fail both counts"}

_KNOWN = {(50257, 768, 12, 16): 3470608, (19, 8, 2, 3): 945, (11, 6, 1, 1): 125}


def lora_parameter_count(cfg, rank):
    key = (cfg["vocab_size"], cfg["emb_dim"], cfg["n_layers"], rank)
    return _KNOWN.get(key, 0)


def count_trainable_parameters(model):
    return sum(p.numel() for p in model.parameters())


def _todo(*args, **kwargs):
    raise NotImplementedError("17-lora")


LoRALayer = LinearWithLoRA = LinearWithLoRAMerged = _todo
replace_linear_with_lora = freeze_and_add_lora = merge_lora = _todo

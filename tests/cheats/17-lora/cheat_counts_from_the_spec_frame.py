"""Class 2: the counts copied from the spec's own closed form, reached through a traceback.

lora_parameter_count raises and catches an exception; its traceback's frame leads back
(f_back) into the spec's test function, whose module globals hold `closed_form(cfg, rank)`,
the very formula the count is checked against, and `trainable_problem`'s neighbours. The count
returns what the spec computes; count_trainable_parameters reads the spec's `expected` local
once the caller has computed it. The other tasks are stubs.

Written against the grader as it is (the rung is new): the rules refuse `.tb_frame`, `f_back`
and `f_globals`, so nothing runs.
"""

KATA_CHEAT = {"expect": {"status": "error", "message": "leads out of the task to the interpreter"},
              "class": 2, "rung": "17-lora", "worked": False,
              "observed": "refused by the source rules before it ran"}


def _spec_frame():
    try:
        raise ValueError("where am I")
    except ValueError as error:
        return error.__traceback__.tb_frame.f_back.f_back


def lora_parameter_count(cfg, rank):
    return _spec_frame().f_globals["closed_form"](dict(cfg), rank)


def count_trainable_parameters(model):
    return _spec_frame().f_locals["expected"]


def _todo(*args, **kwargs):
    raise NotImplementedError("17-lora")


LoRALayer = LinearWithLoRA = LinearWithLoRAMerged = _todo
replace_linear_with_lora = freeze_and_add_lora = merge_lora = _todo

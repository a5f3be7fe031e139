"""Class 4: the blocks machinery called directly for 12-gpt's reference.

grader.block_choice.load_for_learner("12-gpt") is what grader.blocks runs for a learner on their
own: for a rung that does not pass it loads the reference. Calling it here, for this very rung,
and copying the module's names into this one would pass every check without a line of GPT.

Written for rung 12 (not run against c952621): the source rules let a rung import only the
block names of earlier rungs from grader.blocks, never grader.block_choice.
"""

from grader.block_choice import load_for_learner

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.block_choice import ...: 12-gpt does not use `grader`"},
              "class": 4, "rung": "12-gpt", "worked": False,
              "observed": "written for rung 12; the reference loaded by the blocks machinery"}

_reference = load_for_learner("12-gpt")
GPTConfig = _reference.GPTConfig
FeedForward = _reference.FeedForward
TransformerBlock = _reference.TransformerBlock
GPTModel = _reference.GPTModel
param_count = _reference.param_count
memory_mb = _reference.memory_mb

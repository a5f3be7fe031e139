"""Class 4: 12-gpt's own reference, asked for through grader.blocks.

12 gives the blocks GPTConfig, FeedForward, TransformerBlock and GPTModel to 13 and 14, and
outside a check grader.blocks serves the reference for a rung that does not pass yet. This
module asks grader.blocks for 12's own names and re-exports them, writing none of the six tasks,
and counts on the blocks loader handing it the reference.

Written for rung 12 (not run against c952621): the source rules admit only the blocks of the
rungs before 12, so the import is refused before anything runs.
"""

from grader.blocks import FeedForward, GPTConfig, GPTModel, TransformerBlock

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.blocks import FeedForward: `grader` reaches past the grader"},
              "class": 4, "rung": "12-gpt", "worked": False,
              "observed": "written for rung 12; the reference's classes under the learner's names"}

__all__ = ["FeedForward", "GPTConfig", "GPTModel", "TransformerBlock"]


def param_count(cfg, tie_weights=False):
    cfg = GPTConfig.of(cfg)
    with __import__("torch").device("meta"):
        model = GPTModel(cfg)
    return sum(p.numel() for p in model.parameters()) - (
        cfg.vocab_size * cfg.emb_dim if tie_weights else 0)


def memory_mb(cfg, dtype=None):
    return param_count(cfg) * 4 / 1024**2

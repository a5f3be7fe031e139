"""Class 5: GPTModel as a thin wrapper round Hugging Face's GPT2LMHeadModel.

The rung's HF check copies a GPT-2's weights in by the book's names, and the values checks copy
the reference's; a wrapper that builds a GPT2LMHeadModel, exposes its modules under the book's
names (tok_emb = transformer.wte, ...) and returns its logits writes no GPT at all.

Written for rung 12 (not run against c952621): transformers is not among 12's imports, so the
source rules refuse the file before it runs.
"""

from transformers import GPT2Config, GPT2LMHeadModel
from torch import nn

KATA_CHEAT = {"expect": {"status": "error", "message": "from transformers import ...: 12-gpt does not use `transformers`"},
              "class": 5, "rung": "12-gpt", "worked": False,
              "observed": "written for rung 12; Hugging Face's GPT-2 behind the book's names"}


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        get = cfg.get if isinstance(cfg, dict) else (lambda key: getattr(cfg, key))
        self.hf = GPT2LMHeadModel(GPT2Config(vocab_size=get("vocab_size"),
                                             n_positions=get("context_length"),
                                             n_embd=get("emb_dim"), n_layer=get("n_layers"),
                                             n_head=get("n_heads")))
        self.tok_emb = self.hf.transformer.wte
        self.pos_emb = self.hf.transformer.wpe

    def forward(self, in_idx):
        return self.hf(in_idx).logits

"""Class 2 (a module reached by name at run time): train_bpe returns the reference's own answer.
No import names the grader: `regex` imports sys, and getattr(regex, "s" + "ys") spells the
attribute so that no syntax tree holds `.sys`. From sys.modules it takes the reference module
the worker loaded for the spec and calls its train_bpe; build_vocab does the same.

Written against the rung as it shipped.
"""

from __future__ import annotations

import regex

KATA_CHEAT = {"expect": {"status": "fail", "message": "getattr(…, 'sys')"},
              "class": 2, "rung": "11-tokenizer", "worked": False,
              "observed": "refused by the run-time guard at the first call"}


def _reference():
    modules = getattr(regex, "s" + "ys").modules
    for name, module in list(modules.items()):
        if name.startswith("kata_reference") or name.endswith("11_tokenizer_reference"):
            return module
    return next(m for n, m in modules.items() if "reference" in n and hasattr(m, "train_bpe"))


def build_vocab(text):
    return _reference().build_vocab(text)


def train_bpe(text, vocab_size, special_tokens=()):
    return _reference().train_bpe(text, vocab_size, special_tokens)


class SimpleTokenizerV2:
    def __init__(self, vocab):
        self.inner = _reference().SimpleTokenizerV2(vocab)
        self.str_to_int, self.int_to_str = self.inner.str_to_int, self.inner.int_to_str

    def encode(self, text):
        return self.inner.encode(text)

    def decode(self, ids):
        return self.inner.decode(ids)


class BPETokenizer:
    def __init__(self, vocab, special_tokens=()):
        self.inner = _reference().BPETokenizer(vocab, special_tokens)

    @classmethod
    def from_ranks(cls, mergeable_ranks, special_tokens):
        return _reference().BPETokenizer.from_ranks(mergeable_ranks, special_tokens)

    def encode(self, text):
        return self.inner.encode(text)

    def decode(self, ids):
        return self.inner.decode(ids)

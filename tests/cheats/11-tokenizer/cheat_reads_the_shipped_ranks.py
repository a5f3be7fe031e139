"""Class 4 (the oracle's data read directly): from_ranks ignores its arguments and reads the
shipped GPT-2 ranks file itself, next to the grader's package, so a learner could skip the
hand-over and, with the file's path, read The Verdict's expected ids too. `open` is the door.

Written against the rung as it shipped.
"""

from __future__ import annotations

KATA_CHEAT = {"expect": {"status": "error", "message": "`open` is not available to graded code"},
              "class": 4, "rung": "11-tokenizer", "worked": False,
              "observed": "refused by the source rules before it ran"}


def _ranks():
    ranks = {}
    with open("grader/data/gpt2.tiktoken", "rb") as handle:
        for line in handle:
            token, rank = line.split()
            ranks[token] = int(rank)  # still base64: decoding it is left to the reader
    return ranks


def build_vocab(text):
    raise NotImplementedError("11-tokenizer: build_vocab")


def train_bpe(text, vocab_size, special_tokens=()):
    raise NotImplementedError("11-tokenizer: train_bpe")


class SimpleTokenizerV2:
    def __init__(self, vocab):
        raise NotImplementedError("11-tokenizer: SimpleTokenizerV2")


class BPETokenizer:
    def __init__(self, vocab, special_tokens=()):
        self.ranks = {token: i for i, token in vocab.items()}

    @classmethod
    def from_ranks(cls, mergeable_ranks, special_tokens):
        return cls({rank: token for token, rank in _ranks().items()}, special_tokens)

    def encode(self, text):
        raise NotImplementedError("11-tokenizer: BPETokenizer")

    def decode(self, ids):
        raise NotImplementedError("11-tokenizer: BPETokenizer")

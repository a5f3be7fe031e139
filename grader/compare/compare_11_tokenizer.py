"""`kata compare 11-tokenizer`: the tokenizers against the reference's and tiktoken's, on The
Verdict.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
Every output is exact (ids, merges, text), so a row's error is 0 or a note on what differs.
"""

from __future__ import annotations

import pytest

from grader import data
from grader.harness.comparison_row import bare, compare_call

pytestmark = pytest.mark.rung("11-tokenizer")

END_OF_TEXT = "<|endoftext|>"
VOCAB_SIZE = 256 + 128 + 1  # as the spec's speed check


def _text(slot: int) -> tuple[str]:
    return (data.the_verdict()[slot * 100:],)


@pytest.mark.task("build_vocab", category="values")
def test_build_vocab(candidate, reference):
    compare_call(bare(candidate.build_vocab), reference.build_vocab, _text,
                 note="The Verdict: 1,130 tokens and the two specials")


@pytest.mark.task("SimpleTokenizerV2", category="values")
def test_simple_tokenizer(candidate, reference):
    vocab = reference.build_vocab(data.the_verdict())
    mine = candidate.SimpleTokenizerV2(dict(vocab))
    theirs = reference.SimpleTokenizerV2(dict(vocab))
    compare_call(lambda text: mine.decode(mine.encode(text)),
                 lambda text: theirs.decode(theirs.encode(text)), _text,
                 note="decode(encode(The Verdict)) with its own vocabulary")


@pytest.mark.task("train_bpe", category="values")
def test_train_bpe(candidate, reference):
    compare_call(lambda text: bare(candidate.train_bpe)(text, VOCAB_SIZE, [END_OF_TEXT])[1],
                 lambda text: reference.train_bpe(text, VOCAB_SIZE, [END_OF_TEXT])[1], _text,
                 note="the 128 merges of The Verdict")


@pytest.mark.task("BPETokenizer", category="values")
def test_bpe_tokenizer(candidate, reference):
    ranks, specials = data.gpt2_mergeable_ranks(), {END_OF_TEXT: data.END_OF_TEXT_ID}
    mine = candidate.BPETokenizer.from_ranks(dict(ranks), dict(specials))
    theirs = reference.BPETokenizer.from_ranks(dict(ranks), dict(specials))
    encoding = data.gpt2_encoding()
    compare_call(lambda text: mine.encode(text), lambda text: theirs.encode(text), _text,
                 ("tiktoken gpt2", lambda text: encoding.encode(text, allowed_special="all")),
                 note="GPT-2's ids for The Verdict (5,145 tokens)")

"""11-tokenizer: from the book's regex tokenizer to GPT-2's byte-pair encoding.

A language model reads integers, not text. A tokenizer cuts text into pieces and gives every
piece an id; its decoder turns ids back into text. You build two of them: the word-level
tokenizer of chapter 2 of *Build a Large Language Model (From Scratch)*, and then byte-level
byte-pair encoding (BPE), the scheme of GPT-2: you train one on a text and, handed GPT-2's own
ranks, reproduce tiktoken's gpt2 ids exactly.

1. build_vocab(text) -> dict[str, int]: the vocabulary of the book's tokenizer.

       tokens = re.split(SPLIT_PATTERN, text), each .strip()ped, the empty ones dropped
       "Hello, world. Is this-- a test?" -> ['Hello', ',', 'world', '.', 'Is', 'this', '--',
                                            'a', 'test', '?']

   The pattern's group keeps the separators (punctuation, "--") as tokens of their own. The
   vocabulary is the distinct tokens in sorted order (Python's str order: punctuation before
   capitals before lower case), ids 0, 1, 2, ..., followed by the two special tokens,
   END_OF_TEXT and then UNKNOWN, on the last two ids. A special token that the text itself
   contains is not listed twice: the ids never have a gap.

2. SimpleTokenizerV2(vocab): the book's class, under the book's name, so its code drops in.
   It keeps vocab as self.str_to_int and the inverse map as self.int_to_str.

       encode(text) -> list[int]   split as build_vocab does; a token the vocab lacks becomes
                                   UNKNOWN's id (no KeyError: unseen words are the normal case)
       decode(ids) -> str          the tokens joined by single spaces, then the space before
                                   punctuation removed: re.sub(NO_SPACE_BEFORE, r"\\1", text)

   decode(encode(text)) is not text in general (spacing is normalised, unknown words are lost),
   which is why real tokenizers work on bytes.

3. train_bpe(text, vocab_size, special_tokens=()) -> (vocab, merges): byte-level BPE.

   First cut out every special token (longest first, so one that contains another wins): they
   are never split, never counted and never merged. Cut each stretch of ordinary text into
   pre-tokens with GPT-2's regex, regex.findall(GPT2_SPLIT_PATTERN, chunk) (the `regex`
   module: the pattern uses \\p{L}), and each pre-token into its UTF-8 bytes. Pairs never
   cross a pre-token's boundary. Then repeat, until the vocabulary is full:

       count every adjacent pair of tokens in every pre-token ("aaa" holds (a, a) twice),
           weighted by how often that pre-token occurs
       merge the most frequent pair; among pairs equally frequent, the lexicographically
           greatest (compare the pairs as (bytes, bytes) tuples: max by (count, pair))
       replace it, left to right and without overlap, in every pre-token that holds it

   Stop early when no pair is left. The result:

       vocab:  dict[int, bytes]   0-255 the single bytes (id b is bytes([b])), then one id per
                                  merge in the order made (256, 257, ...), then the special
                                  tokens in the order given, as their UTF-8 bytes: GPT-2's
                                  layout, where <|endoftext|> comes last
       merges: list[tuple[bytes, bytes]]   the merged pairs in order; merge i made id 256 + i

   len(vocab) == vocab_size unless it stopped early; ValueError when vocab_size < 256 plus the
   number of special tokens. Speed counts: the grader trains on a 20,000-character story with
   your code and the reference's. Count the distinct pre-tokens once (collections.Counter),
   not every occurrence; after a merge, update the pair counts of the pre-tokens that held the
   pair rather than recounting every pair of every pre-token.

4. BPETokenizer(vocab, special_tokens=()): encode and decode with a byte-level vocabulary.

       encode(text) -> list[int]   special tokens (listed, and present in vocab) kept whole,
                                   the rest pre-tokenised as in training; each pre-token
                                   starts as its bytes, then: merge the adjacent pair whose
                                   concatenation has the lowest id in vocab (the leftmost such
                                   pair on a tie), until no adjacent pair's concatenation is
                                   in vocab
       decode(ids) -> str          the tokens' bytes joined, then decoded once as UTF-8 with
                                   errors="replace" (one character may span two tokens)

   A merge's id is its rank, so the vocab alone says which pair merges first, and no merge
   list is needed: that is how tiktoken encodes. It is also why GPT-2's published ranks, a
   dict bytes -> rank with no merge list, are enough:

       BPETokenizer.from_ranks(mergeable_ranks, special_tokens)   classmethod: vocab = each
           rank -> its bytes, plus special_tokens (dict str -> id, e.g. {END_OF_TEXT: 50256})

   With GPT-2's ranks, encode must give exactly the ids of tiktoken's gpt2 encoding (with
   every special token allowed), and for any text decode(encode(text)) == text.

Worked example:

    >>> vocab = build_vocab("Hello, world. Is this-- a test?")
    >>> vocab
    {',': 0, '--': 1, '.': 2, '?': 3, 'Hello': 4, 'Is': 5, 'a': 6, 'test': 7, 'this': 8,
     'world': 9, '<|endoftext|>': 10, '<|unk|>': 11}
    >>> tokenizer = SimpleTokenizerV2(vocab)
    >>> tokenizer.encode("Hello, tea world?")
    [4, 0, 11, 9, 3]
    >>> tokenizer.decode([4, 0, 11, 9, 3])
    'Hello, <|unk|> world?'
    >>> vocab, merges = train_bpe("low low lower<|endoftext|>lowest", 260, ["<|endoftext|>"])
    >>> merges
    [(b'o', b'w'), (b'l', b'ow'), (b'low', b'e')]
    >>> vocab[256], vocab[258], vocab[259]
    (b'ow', b'lowe', b'<|endoftext|>')
    >>> bpe = BPETokenizer(vocab, ["<|endoftext|>"])
    >>> bpe.encode(" low<|endoftext|>")
    [32, 257, 259]
    >>> bpe.decode(bpe.encode("lowly 🙂"))
    'lowly 🙂'
    >>> train_bpe("abc", 256, ["<|endoftext|>"])
    Traceback (most recent call last):
        ...
    ValueError: vocab_size 256 leaves no room for the 256 bytes and 1 special tokens

Rules: plain Python (re, regex, collections, ...). Do not import tiktoken, tokenizers or
transformers: the grader compares your ids with tiktoken's.

Check your work with `./kata check 11-tokenizer`; stuck? `./kata hint 11-tokenizer`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import pairwise

import regex

END_OF_TEXT = "<|endoftext|>"
UNKNOWN = "<|unk|>"
# The book's split: whitespace, a double dash and these punctuation marks separate tokens; the
# group makes re.split keep the separators.
SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'
# decode joins tokens with spaces; this removes the one before punctuation
NO_SPACE_BEFORE = r'\s+([,.:;?!"()\'])'
# GPT-2's pre-tokenisation, as tiktoken has it: contractions, letters, digits and other symbols,
# each with at most one leading space, and runs of whitespace (for the `regex` module).
GPT2_SPLIT_PATTERN = (r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$"
                      r"|\s+(?!\S)|\s")



def build_vocab(text: str) -> dict[str, int]:
    """Token -> id: the sorted distinct tokens of text, then END_OF_TEXT and UNKNOWN."""
    # TODO(11-tokenizer): split as the book does, sort the distinct tokens, add the specials last.
    raise NotImplementedError("11-tokenizer: build_vocab")


class SimpleTokenizerV2:
    """The book's word-level tokenizer: unknown words become UNKNOWN."""

    def __init__(self, vocab: dict[str, int]) -> None:
        """Keep vocab as self.str_to_int and its inverse as self.int_to_str."""
        # TODO(11-tokenizer): self.str_to_int = vocab; self.int_to_str = {id: token, ...}.
        raise NotImplementedError("11-tokenizer: SimpleTokenizerV2")

    def encode(self, text: str) -> list[int]:
        """Text -> ids, UNKNOWN's id for every token the vocab lacks."""
        # TODO(11-tokenizer): split, map each token to its id or to UNKNOWN's.
        raise NotImplementedError("11-tokenizer: SimpleTokenizerV2")

    def decode(self, ids: list[int]) -> str:
        """Ids -> text: tokens joined by spaces, no space before punctuation."""
        # TODO(11-tokenizer): " ".join the tokens, then re.sub(NO_SPACE_BEFORE, r"\1", text).
        raise NotImplementedError("11-tokenizer: SimpleTokenizerV2")


def train_bpe(text: str, vocab_size: int,
              special_tokens: Sequence[str] = ()) -> tuple[dict[int, bytes],
                                                           list[tuple[bytes, bytes]]]:
    """Byte-level BPE on text: (vocab id -> bytes, the merges in order)."""
    # TODO(11-tokenizer): count pre-tokens, then merge the most frequent pair until full.
    raise NotImplementedError("11-tokenizer: train_bpe")


class BPETokenizer:
    """Byte-level BPE with a vocab id -> bytes, in which an id is a merge's rank."""

    def __init__(self, vocab: dict[int, bytes], special_tokens: Sequence[str] = ()) -> None:
        """Keep vocab; each special token must be in it (as its UTF-8 bytes)."""
        # TODO(11-tokenizer): keep vocab, a map bytes -> id (the ranks) and the specials' ids.
        raise NotImplementedError("11-tokenizer: BPETokenizer")

    @classmethod
    def from_ranks(cls, mergeable_ranks: dict[bytes, int],
                   special_tokens: dict[str, int]) -> BPETokenizer:
        """A tokenizer from tiktoken-style ranks (bytes -> rank) and special tokens (str -> id)."""
        # TODO(11-tokenizer): build vocab = rank -> bytes plus the specials, then call cls.
        raise NotImplementedError("11-tokenizer: BPETokenizer")

    def encode(self, text: str) -> list[int]:
        """Text -> ids: special tokens whole, each pre-token by its lowest-rank merges."""
        # TODO(11-tokenizer): split out specials, pre-tokenise, merge the lowest-rank pair.
        raise NotImplementedError("11-tokenizer: BPETokenizer")

    def decode(self, ids: list[int]) -> str:
        """Ids -> text: the tokens' bytes joined, decoded once (a character may span tokens)."""
        # TODO(11-tokenizer): b"".join the tokens' bytes, .decode("utf-8", errors="replace").
        raise NotImplementedError("11-tokenizer: BPETokenizer")

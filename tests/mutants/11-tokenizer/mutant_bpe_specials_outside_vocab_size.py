"""11-tokenizer mutant: vocab_size counts the bytes and the merges but not the special tokens.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""


from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

import regex

KATA_EXPECT = {'status': 'fail',
 'task': 'train_bpe',
 'category': 'properties',
 'message': ['not counted in vocab_size']}

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


def _split_words(text: str) -> list[str]:
    """The book's tokens of text: re.split on SPLIT_PATTERN, stripped, empty ones dropped."""
    return [piece.strip() for piece in re.split(SPLIT_PATTERN, text) if piece.strip()]


def build_vocab(text: str) -> dict[str, int]:
    """Token -> id: the sorted distinct tokens of text, then END_OF_TEXT and UNKNOWN."""
    specials = [END_OF_TEXT, UNKNOWN]
    tokens = sorted(set(_split_words(text)) - set(specials))
    return {token: i for i, token in enumerate(tokens + specials)}


class SimpleTokenizerV2:
    """The book's word-level tokenizer: unknown words become UNKNOWN."""

    def __init__(self, vocab: dict[str, int]) -> None:
        """Keep vocab as self.str_to_int and its inverse as self.int_to_str."""
        self.str_to_int = vocab
        self.int_to_str = {i: token for token, i in vocab.items()}

    def encode(self, text: str) -> list[int]:
        """Text -> ids, UNKNOWN's id for every token the vocab lacks."""
        unknown = self.str_to_int[UNKNOWN]
        return [self.str_to_int.get(token, unknown) for token in _split_words(text)]

    def decode(self, ids: list[int]) -> str:
        """Ids -> text: tokens joined by spaces, no space before punctuation."""
        text = " ".join(self.int_to_str[i] for i in ids)
        return re.sub(NO_SPACE_BEFORE, r"\1", text)


def _split_specials(text: str, special_tokens: Sequence[str]) -> list[str]:
    """text cut at its special tokens: ordinary text at even indices, a special at odd ones."""
    if not special_tokens:
        return [text]
    # longest first: the regex takes the first alternative that matches, not the longest
    alternatives = sorted(special_tokens, key=len, reverse=True)
    return regex.split("(" + "|".join(regex.escape(s) for s in alternatives) + ")", text)


def _pretokens(text: str, special_tokens: Sequence[str]) -> Counter[str]:
    """How often each GPT-2 pre-token occurs in the ordinary text between special tokens."""
    counts: Counter[str] = Counter()
    for chunk in _split_specials(text, special_tokens)[::2]:
        counts.update(regex.findall(GPT2_SPLIT_PATTERN, chunk))
    return counts


def train_bpe(text: str, vocab_size: int,
              special_tokens: Sequence[str] = ()) -> tuple[dict[int, bytes],
                                                           list[tuple[bytes, bytes]]]:
    """Byte-level BPE on text: (vocab id -> bytes, the merges in order)."""
    room = vocab_size - 256
    if room < 0:
        raise ValueError(f"vocab_size {vocab_size} leaves no room for the 256 bytes and "
                         f"{len(special_tokens)} special tokens")
    counts = _pretokens(text, special_tokens)
    # one entry per distinct pre-token: its current tokens and how often it occurs
    words = [[bytes([b]) for b in word.encode("utf-8")] for word in counts]
    weights = list(counts.values())
    pair_counts: Counter[tuple[bytes, bytes]] = Counter()
    holders: defaultdict[tuple[bytes, bytes], set[int]] = defaultdict(set)  # pair -> words
    for w, parts in enumerate(words):
        for pair in zip(parts, parts[1:]):
            pair_counts[pair] += weights[w]
            holders[pair].add(w)

    def merge(parts: list[bytes], pair: tuple[bytes, bytes]) -> list[bytes]:
        """parts with every occurrence of pair joined, left to right, without overlap."""
        merged, i = [], 0
        while i < len(parts):
            if i + 1 < len(parts) and parts[i] == pair[0] and parts[i + 1] == pair[1]:
                merged.append(pair[0] + pair[1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        return merged

    merges: list[tuple[bytes, bytes]] = []
    while len(merges) < room and pair_counts:
        best = max(pair_counts, key=lambda pair: (pair_counts[pair], pair))
        merges.append(best)
        # only the words that hold the pair change: take their old pairs out, put the new in
        for w in holders.pop(best):
            parts = words[w]
            for pair in zip(parts, parts[1:]):
                pair_counts[pair] -= weights[w]
                if pair_counts[pair] == 0:
                    del pair_counts[pair]
            words[w] = parts = merge(parts, best)
            for pair in zip(parts, parts[1:]):
                pair_counts[pair] += weights[w]
                holders[pair].add(w)
    vocab = {b: bytes([b]) for b in range(256)}
    for first, second in merges:
        vocab[len(vocab)] = first + second
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges


class BPETokenizer:
    """Byte-level BPE with a vocab id -> bytes, in which an id is a merge's rank."""

    def __init__(self, vocab: dict[int, bytes], special_tokens: Sequence[str] = ()) -> None:
        """Keep vocab; each special token must be in it (as its UTF-8 bytes)."""
        self.vocab = dict(vocab)
        ids = {token: i for i, token in sorted(vocab.items(), reverse=True)}  # lowest id wins
        self.special_ids = {}
        for special in special_tokens:
            if special.encode("utf-8") not in ids:
                raise ValueError(f"special token {special!r} is not in the vocab")
            self.special_ids[special] = ids[special.encode("utf-8")]
        special_ids = set(self.special_ids.values())
        self.ranks = {token: i for token, i in ids.items() if i not in special_ids}
        self.cache: dict[str, list[int]] = {}

    @classmethod
    def from_ranks(cls, mergeable_ranks: dict[bytes, int],
                   special_tokens: dict[str, int]) -> BPETokenizer:
        """A tokenizer from tiktoken-style ranks (bytes -> rank) and special tokens (str -> id)."""
        vocab = {rank: token for token, rank in mergeable_ranks.items()}
        vocab.update({i: special.encode("utf-8") for special, i in special_tokens.items()})
        return cls(vocab, list(special_tokens))

    def encode(self, text: str) -> list[int]:
        """Text -> ids: special tokens whole, each pre-token by its lowest-rank merges."""
        ids: list[int] = []
        for k, chunk in enumerate(_split_specials(text, list(self.special_ids))):
            if k % 2:
                ids.append(self.special_ids[chunk])
                continue
            for pretoken in regex.findall(GPT2_SPLIT_PATTERN, chunk):
                if pretoken not in self.cache:  # a text repeats its words: encode each once
                    parts = [bytes([b]) for b in pretoken.encode("utf-8")]
                    while len(parts) > 1:
                        ranked = [(self.ranks[a + b], i)
                                  for i, (a, b) in enumerate(zip(parts, parts[1:]))
                                  if a + b in self.ranks]
                        if not ranked:
                            break
                        _, i = min(ranked)  # the lowest rank; the leftmost among equal ranks
                        parts[i:i + 2] = [parts[i] + parts[i + 1]]
                    self.cache[pretoken] = [self.ranks[part] for part in parts]
                ids.extend(self.cache[pretoken])
        return ids

    def decode(self, ids: list[int]) -> str:
        """Ids -> text: the tokens' bytes joined, decoded once (a character may span tokens)."""
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

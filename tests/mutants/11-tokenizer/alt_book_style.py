"""11-tokenizer alternative: the regex tokenizer written the way the book writes it (a
`preprocessed` list, `all_tokens` extended with the specials, a list comprehension that swaps in
"<|unk|>"), and BPE the way a learner might after it: module-level helpers (get_stats,
merge_pair), pair counts kept up to date per merge, and encode through a helper method called
once per pre-token, without a cache.
"""

from __future__ import annotations

import re
from collections import Counter

import regex

KATA_EXPECT = {"status": "pass"}

END_OF_TEXT = "<|endoftext|>"
UNKNOWN = "<|unk|>"
SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'
NO_SPACE_BEFORE = r'\s+([,.:;?!"()\'])'
GPT2_SPLIT_PATTERN = (r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$"
                      r"|\s+(?!\S)|\s")


def build_vocab(text):
    preprocessed = re.split(SPLIT_PATTERN, text)
    preprocessed = [item.strip() for item in preprocessed if item.strip()]
    all_tokens = sorted(list(set(preprocessed) - {END_OF_TEXT, UNKNOWN}))
    all_tokens.extend([END_OF_TEXT, UNKNOWN])
    vocab = {token: integer for integer, token in enumerate(all_tokens)}
    return vocab


class SimpleTokenizerV2:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text):
        preprocessed = re.split(SPLIT_PATTERN, text)
        preprocessed = [item.strip() for item in preprocessed if item.strip()]
        preprocessed = [
            item if item in self.str_to_int
            else "<|unk|>" for item in preprocessed
        ]
        ids = [self.str_to_int[s] for s in preprocessed]
        return ids

    def decode(self, ids):
        text = " ".join([self.int_to_str[i] for i in ids])
        # Replace spaces before the specified punctuations
        text = re.sub(r'\s+([,.:;?!"()\'])', r'\1', text)
        return text


def special_pattern(special_tokens):
    longest_first = sorted(special_tokens, key=lambda s: -len(s))
    return "(" + "|".join(re.escape(s) for s in longest_first) + ")"


def get_stats(words, counts):
    stats = Counter()
    for word, count in zip(words, counts):
        for i in range(len(word) - 1):
            stats[word[i], word[i + 1]] += count
    return stats


def merge_pair(word, pair):
    new_word = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == pair[0] and word[i + 1] == pair[1]:
            new_word.append(word[i] + word[i + 1])
            i += 2
        else:
            new_word.append(word[i])
            i += 1
    return new_word


def train_bpe(text, vocab_size, special_tokens=()):
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError("vocab_size is too small")
    chunks = re.split(special_pattern(special_tokens), text) if special_tokens else [text]
    word_counts = Counter()
    for chunk in chunks[::2]:
        for piece in regex.findall(GPT2_SPLIT_PATTERN, chunk):
            word_counts[piece] += 1
    words = [[bytes([b]) for b in piece.encode("utf-8")] for piece in word_counts]
    counts = list(word_counts.values())
    stats = get_stats(words, counts)
    merges = []
    for _ in range(num_merges):
        if not stats:
            break
        best_count = max(stats.values())
        best = max(pair for pair, count in stats.items() if count == best_count)
        merges.append(best)
        for k, word in enumerate(words):
            if len(word) < 2 or best[0] not in word:
                continue
            new_word = merge_pair(word, best)
            if len(new_word) == len(word):
                continue
            for i in range(len(word) - 1):
                stats[word[i], word[i + 1]] -= counts[k]
            for i in range(len(new_word) - 1):
                stats[new_word[i], new_word[i + 1]] += counts[k]
            words[k] = new_word
        stats = +stats  # drop the pairs whose count fell to zero
    vocab = {i: bytes([i]) for i in range(256)}
    for a, b in merges:
        vocab[len(vocab)] = a + b
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges


class BPETokenizer:
    def __init__(self, vocab, special_tokens=()):
        self.vocab = dict(vocab)
        self.token_to_id = {}
        for i in sorted(vocab, reverse=True):
            self.token_to_id[vocab[i]] = i
        self.specials = {}
        for token in special_tokens:
            if token.encode("utf-8") not in self.token_to_id:
                raise ValueError(f"{token} is not in the vocab")
            self.specials[token] = self.token_to_id.pop(token.encode("utf-8"))

    @classmethod
    def from_ranks(cls, mergeable_ranks, special_tokens):
        vocab = {}
        for token, rank in mergeable_ranks.items():
            vocab[rank] = token
        for token, i in special_tokens.items():
            vocab[i] = token.encode("utf-8")
        return cls(vocab, list(special_tokens))

    def bpe(self, piece):
        word = [bytes([b]) for b in piece.encode("utf-8")]
        while len(word) > 1:
            best = None
            for i in range(len(word) - 1):
                rank = self.token_to_id.get(word[i] + word[i + 1])
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, i)
            if best is None:
                break
            i = best[1]
            word = word[:i] + [word[i] + word[i + 1]] + word[i + 2:]
        return [self.token_to_id[part] for part in word]

    def encode(self, text):
        chunks = re.split(special_pattern(self.specials), text) if self.specials else [text]
        ids = []
        for k, chunk in enumerate(chunks):
            if k % 2 == 1:
                ids.append(self.specials[chunk])
            else:
                for piece in regex.findall(GPT2_SPLIT_PATTERN, chunk):
                    ids.extend(self.bpe(piece))
        return ids

    def decode(self, ids):
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

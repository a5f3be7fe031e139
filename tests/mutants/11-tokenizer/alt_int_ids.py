"""11-tokenizer alternative: tokens as integer ids throughout. build_vocab and the book's
tokenizer through re.finditer-free list building; train_bpe on id sequences with a table
id -> bytes (ties compared by the bytes, looked up), pair counts and an index pair -> words kept
up to date; BPETokenizer scanning for special tokens with str.find, merging id pairs by the
rank of their joined bytes, decoding through a bytearray.
"""

from __future__ import annotations

import re
from collections import defaultdict

import regex

KATA_EXPECT = {"status": "pass"}

END_OF_TEXT = "<|endoftext|>"
UNKNOWN = "<|unk|>"
SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'
NO_SPACE_BEFORE = r'\s+([,.:;?!"()\'])'
GPT2_SPLIT_PATTERN = (r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$"
                      r"|\s+(?!\S)|\s")
PUNCTUATION = set(',.:;?!"()\'')


def build_vocab(text):
    seen = set()
    for piece in re.split(SPLIT_PATTERN, text):
        piece = piece.strip()
        if piece and piece not in (END_OF_TEXT, UNKNOWN):
            seen.add(piece)
    vocab = {}
    for token in sorted(seen) + [END_OF_TEXT, UNKNOWN]:
        vocab[token] = len(vocab)
    return vocab


class SimpleTokenizerV2:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = dict(zip(vocab.values(), vocab.keys()))

    def encode(self, text):
        unk = self.str_to_int[UNKNOWN]
        out = []
        for piece in re.split(SPLIT_PATTERN, text):
            piece = piece.strip()
            if piece:
                out.append(self.str_to_int.get(piece, unk))
        return out

    def decode(self, ids):
        # the same as a join and re.sub: a token that starts with punctuation takes no space
        text = ""
        for k, i in enumerate(ids):
            token = self.int_to_str[i]
            if k and token[:1] not in PUNCTUATION:
                text += " "
            text += token
        return text


def cut_specials(text, specials):
    """[(is_special, piece)], leftmost match first, the longest at one position."""
    out, start = [], 0
    by_length = sorted(specials, key=len, reverse=True)
    while specials:
        hits = [(text.find(s, start), -len(s), s) for s in by_length]
        hits = [h for h in hits if h[0] >= 0]
        if not hits:
            break
        at, _, special = min(hits)
        out.append((False, text[start:at]))
        out.append((True, special))
        start = at + len(special)
    out.append((False, text[start:]))
    return out


def train_bpe(text, vocab_size, special_tokens=()):
    room = vocab_size - 256 - len(special_tokens)
    if room < 0:
        raise ValueError(f"vocab_size {vocab_size} is below 256 + {len(special_tokens)}")
    word_count = defaultdict(int)
    for is_special, piece in cut_specials(text, list(special_tokens)):
        if not is_special:
            for pretoken in regex.findall(GPT2_SPLIT_PATTERN, piece):
                word_count[pretoken] += 1
    table = [bytes([b]) for b in range(256)]  # id -> bytes
    words = [list(w.encode("utf-8")) for w in word_count]
    freq = list(word_count.values())
    pairs = defaultdict(int)
    index = defaultdict(set)
    for w, ids in enumerate(words):
        for a, b in zip(ids, ids[1:]):
            pairs[a, b] += freq[w]
            index[a, b].add(w)
    merges = []
    while len(merges) < room and pairs:
        a, b = max(pairs, key=lambda p: (pairs[p], table[p[0]], table[p[1]]))
        new = len(table)
        table.append(table[a] + table[b])
        merges.append((table[a], table[b]))
        for w in index.pop((a, b)):
            ids = words[w]
            for p in zip(ids, ids[1:]):
                pairs[p] -= freq[w]
                if not pairs[p]:
                    del pairs[p]
            out, i = [], 0
            while i < len(ids):
                if ids[i] == a and i + 1 < len(ids) and ids[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[w] = out
            for p in zip(out, out[1:]):
                pairs[p] += freq[w]
                index[p].add(w)
    vocab = dict(enumerate(table))
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    return vocab, merges


class BPETokenizer:
    def __init__(self, vocab, special_tokens=()):
        self.vocab = dict(vocab)
        self.specials = {}
        by_bytes = {}
        for i in sorted(vocab):
            by_bytes.setdefault(vocab[i], i)
        for token in special_tokens:
            raw = token.encode("utf-8")
            if raw not in by_bytes:
                raise ValueError(f"special token {token!r} has no id in the vocab")
            self.specials[token] = by_bytes.pop(raw)
        self.rank = by_bytes

    @classmethod
    def from_ranks(cls, mergeable_ranks, special_tokens):
        vocab = dict(zip(mergeable_ranks.values(), mergeable_ranks.keys()))
        for token, i in special_tokens.items():
            vocab[i] = token.encode("utf-8")
        return cls(vocab, special_tokens.keys())

    def encode(self, text):
        rank = self.rank
        out = []
        for is_special, piece in cut_specials(text, list(self.specials)):
            if is_special:
                out.append(self.specials[piece])
                continue
            for pretoken in regex.findall(GPT2_SPLIT_PATTERN, piece):
                ids = [rank[bytes([b])] for b in pretoken.encode("utf-8")]
                while len(ids) > 1:
                    joined = [rank.get(self.vocab[x] + self.vocab[y]) for x, y in zip(ids, ids[1:])]
                    best = min((r, i) for i, r in enumerate(joined) if r is not None) \
                        if any(r is not None for r in joined) else None
                    if best is None:
                        break
                    r, i = best
                    ids[i:i + 2] = [r]
                out.extend(ids)
        return out

    def decode(self, ids):
        raw = bytearray()
        for i in ids:
            raw += self.vocab[i]
        return raw.decode("utf-8", errors="replace")

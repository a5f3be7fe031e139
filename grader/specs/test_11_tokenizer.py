"""Spec for 11-tokenizer: build_vocab, SimpleTokenizerV2, train_bpe and BPETokenizer.

Run by `./kata check 11-tokenizer`. Code is reached only through the `candidate` fixture. Every
answer here is exact (lists of ids, dicts of tokens, strings), so every comparison is equality:
against the reference on drawn texts and on the shipped story "The Verdict", and for GPT-2
against tiktoken's gpt2 encoding, built offline from the shipped ranks (grader.data; never
tiktoken.get_encoding, which downloads). Each task stands alone: SimpleTokenizerV2 gets the
reference's vocabulary and BPETokenizer the reference's trained vocab, so one wrong task never
fails another. When an answer differs, the message names the input, the first differing
position with both values, and, when the answer is exactly what a classic mistake gives (the
spec recomputes each mistake on the same input), that mistake.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import pytest
import regex
from hypothesis import example, given
from hypothesis import strategies as st

from grader import data
from grader.harness import VECTORIZED, assert_speed_within

pytestmark = pytest.mark.rung("11-tokenizer")

VOCAB = "build_vocab"
SIMPLE = "SimpleTokenizerV2"
TRAIN = "train_bpe"
BPE = "BPETokenizer"

END_OF_TEXT = "<|endoftext|>"
UNKNOWN = "<|unk|>"
SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'
NO_SPACE_BEFORE = r'\s+([,.:;?!"()\'])'
GPT2_SPLIT_PATTERN = data.gpt2_pattern()
# The speed check trains on The Verdict: 128 merges plus one special token. Recounting every pair
# after each merge is about 7 times slower than the reference there.
SPEED_VOCAB_SIZE = 256 + 128 + 1

# --- texts ---------------------------------------------------------------------------------------

# Words, punctuation and spacing the book's tokenizer treats differently: separators kept as
# tokens ("--", quotes, "_"), a dash that is not one ("-"), case, accents, special tokens.
BOOK_PIECES = ("Hello", "hello", "world", "It", "it", "the", "The", "a", "tea", "café", "Mrs",
               "--", "-", ",", ".", ":", ";", "?", "_", "!", '"', "(", ")", "'", "s", "1908",
               " ", " ", " ", "  ", "\n", "\t", END_OF_TEXT, UNKNOWN)
# Few distinct bytes, so that pairs repeat and tie: ASCII, two- and four-byte characters, digits,
# contractions, newlines, and `<`, `|`, `>` only ever inside special tokens.
BPE_PIECES = ("a", "b", "ab", "ba", "aa", "c", " ", " ", "  ", "the", " the", "low", "er", "é",
              "🙂", "1", "23", "!", "?", "'s", "'ll", "\n", "\n\n", END_OF_TEXT)


def book_texts(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(BOOK_PIECES), max_size=max_size).map("".join)


def bpe_texts(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(BPE_PIECES), max_size=max_size).map("".join)


def unicode_texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text: every Unicode character but lone surrogates (which UTF-8 cannot encode)."""
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


SPECIALS = ([], [END_OF_TEXT], ["<|end", END_OF_TEXT])


def merge_counts() -> st.SearchStrategy[int]:
    return st.integers(0, 30)


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def shown(value: Any, limit: int = 160) -> str:
    """repr(value), shortened for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(value)} long)"


def first_difference(got: Sequence[Any], expected: Sequence[Any]) -> int:
    """The first index where two sequences differ (the shorter one's length if one is a prefix)."""
    for i, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            return i
    return min(len(got), len(expected))


def around(values: Sequence[Any], at: int, width: int = 3) -> str:
    """values[at - width : at + width + 1], marked, for a message."""
    start = max(0, at - width)
    window = list(values[start:at + width + 1])
    return ("... " if start else "") + repr(window) + (
        " ..." if at + width + 1 < len(values) else "")


def likely(got: Any, mistakes: Sequence[tuple[str, Callable[[], Any]]]) -> str:
    """The one mistake whose answer is exactly `got`, as a line for the message; else ''."""
    matching = []
    for description, answer in mistakes:
        try:
            if answer() == got:
                matching.append(description)
        except Exception:  # a mistake the input cannot show
            continue
    # two mistakes that give the same answer on this input: neither is named
    return f"\n  Likely mistake: {matching[0]}" if len(matching) == 1 else ""


def check_sequence(got: Any, expected: list[Any], what: str, item: str,
                   mistakes: Sequence[tuple[str, Callable[[], Any]]] = ()) -> None:
    """got == expected, a list; else the first differing position and both neighbourhoods."""
    require(isinstance(got, list),
            f"{what} returned {type(got).__name__} {shown(got)}; expected a list of {item}s")
    if got == expected:
        return
    at = first_difference(got, expected)
    here = (f"{item} {at} is {got[at]!r}, expected {expected[at]!r}"
            if at < min(len(got), len(expected)) else
            f"{len(got)} {item}s, expected {len(expected)} (the first {at} agree)")
    raise AssertionError(
        f"{what}: {here}\n  yours:    {around(got, at)}\n  expected: {around(expected, at)}"
        + likely(got, mistakes))


# --- 1. build_vocab ------------------------------------------------------------------------------

def book_tokens(text: str) -> list[str]:
    return [piece.strip() for piece in re.split(SPLIT_PATTERN, text) if piece.strip()]


def numbered(tokens: list[str]) -> dict[str, int]:
    return {token: i for i, token in enumerate(tokens)}


def vocab_mistakes(text: str) -> list[tuple[str, Callable[[], Any]]]:
    tokens = book_tokens(text)
    ordinary = [t for t in sorted(set(tokens)) if t not in (END_OF_TEXT, UNKNOWN)]
    return [
        ("the special tokens come first; they take the last two ids, after the sorted tokens",
         lambda: numbered([END_OF_TEXT, UNKNOWN] + ordinary)),
        ("END_OF_TEXT and UNKNOWN are swapped: END_OF_TEXT comes first, UNKNOWN last",
         lambda: numbered(ordinary + [UNKNOWN, END_OF_TEXT])),
        ("the tokens are numbered in the order they first appear; sort them (sorted(set(...)))",
         lambda: numbered([t for t in dict.fromkeys(tokens) if t not in (END_OF_TEXT, UNKNOWN)]
                          + [END_OF_TEXT, UNKNOWN])),
        ("a special token the text already contains was listed a second time, which leaves a "
         "gap in the ids; leave it out of the sorted tokens",
         lambda: {token: i for i, token in enumerate(sorted(set(tokens))
                                                     + [END_OF_TEXT, UNKNOWN])}),
        ("whitespace became tokens: strip each piece re.split returns and drop the empty ones",
         lambda: numbered(sorted(set(p for p in re.split(SPLIT_PATTERN, text) if p)
                                 - {END_OF_TEXT, UNKNOWN}) + [END_OF_TEXT, UNKNOWN])),
        ("the separators were dropped: the group ( ) in SPLIT_PATTERN makes re.split keep them",
         lambda: numbered(sorted(set(p.strip() for p in re.split(SPLIT_PATTERN[1:-1], text)
                                     if p.strip()) - {END_OF_TEXT, UNKNOWN})
                          + [END_OF_TEXT, UNKNOWN])),
    ]


def check_vocab(candidate, reference, text: str) -> None:
    what = f"build_vocab({shown(text)})"
    got, expected = candidate.build_vocab(text), reference.build_vocab(text)
    require(isinstance(got, dict), f"{what} returned {type(got).__name__}; expected a dict "
                                   "token -> id")
    if got == expected:
        return
    got_order = sorted(got.items(), key=lambda item: (item[1], item[0]))
    want_order = sorted(expected.items(), key=lambda item: item[1])
    at = first_difference(got_order, want_order)
    here = (f"id {want_order[at][1]} is {got_order[at][0]!r} in yours (id {got_order[at][1]}), "
            f"expected {want_order[at][0]!r}" if at < min(len(got_order), len(want_order)) else
            f"{len(got)} entries, expected {len(expected)}")
    raise AssertionError(f"{what}: {here}\n  yours:    {shown(got_order, 300)}\n  expected: "
                         f"{shown(want_order, 300)}" + likely(got, vocab_mistakes(text)))


@pytest.mark.task(VOCAB, category="values")
@given(text=book_texts())
@example(text="Hello, world. Is this-- a test?")
@example(text='"It\'s the last he painted, you know," Mrs. Gisburn said.')
@example(text="b a c b a")
@example(text="the end <|endoftext|> The <|unk|> start")
def test_the_vocabulary_is_the_sorted_tokens_then_the_specials(candidate, reference, text):
    """Distinct tokens sorted, ids from 0, then END_OF_TEXT and UNKNOWN on the last two ids."""
    check_vocab(candidate, reference, text)


@pytest.mark.task(VOCAB, category="values")
def test_the_verdict_has_the_books_1132_entries(candidate, reference):
    """The book's vocabulary of The Verdict: 1,130 tokens and the two specials."""
    check_vocab(candidate, reference, data.the_verdict())


# --- 2. SimpleTokenizerV2 ------------------------------------------------------------------------

def simple_encode_mistakes(vocab: dict[str, int], text: str
                           ) -> list[tuple[str, Callable[[], Any]]]:
    tokens = book_tokens(text)
    return [
        ("unknown words were left out; each one becomes UNKNOWN's id",
         lambda: [vocab[t] for t in tokens if t in vocab]),
        ("whitespace became tokens: strip each piece re.split returns and drop the empty ones",
         lambda: [vocab.get(p, vocab[UNKNOWN]) for p in re.split(SPLIT_PATTERN, text) if p]),
    ]


def simple_decode_mistakes(vocab: dict[str, int], ids: list[int]
                           ) -> list[tuple[str, Callable[[], Any]]]:
    words = {i: t for t, i in vocab.items()}
    joined = " ".join(words[i] for i in ids)
    return [
        ("the spaces before punctuation are still there: re.sub(NO_SPACE_BEFORE, r'\\1', text) "
         "removes them after the join", lambda: joined),
        ("the tokens were joined without spaces; join them with ' ', then remove the space "
         "before punctuation", lambda: "".join(words[i] for i in ids)),
    ]


def simple_tokenizer(candidate, vocab: dict[str, int]):
    return candidate.SimpleTokenizerV2(dict(vocab))


@pytest.mark.task(SIMPLE, category="values")
@given(vocab_text=book_texts(), text=book_texts())
@example(vocab_text="Hello, world. Is this-- a test?", text="Hello, tea world?")
@example(vocab_text="Hello, world.", text="Hello,  world.\n\tHello")
@example(vocab_text="Hello, world.", text="Hello, Mrs. Gisburn-- the world!")
def test_encode_gives_the_reference_ids_and_unk_for_unknown_words(candidate, reference,
                                                                 vocab_text, text):
    """encode splits as build_vocab does; a token the vocab lacks becomes UNKNOWN's id."""
    vocab = reference.build_vocab(vocab_text)
    got = simple_tokenizer(candidate, vocab).encode(text)
    expected = reference.SimpleTokenizerV2(dict(vocab)).encode(text)
    check_sequence(got, expected, f"SimpleTokenizerV2(build_vocab({shown(vocab_text, 80)}))"
                   f".encode({shown(text)})", "id", simple_encode_mistakes(vocab, text))


@pytest.mark.task(SIMPLE, category="values")
@given(vocab_text=book_texts(), picks=st.lists(st.integers(0, 10**6), max_size=20))
@example(vocab_text='Hello, world. "Is this-- a (test)?" It\'s: yes; _no_!',
         picks=list(range(40)))
@example(vocab_text="Hello, world.", picks=[1, 0, 2, 1])
def test_decode_joins_with_spaces_but_none_before_punctuation(candidate, reference,
                                                              vocab_text, picks):
    """decode: tokens joined by single spaces, then no space before , . : ; ? ! " ( ) '."""
    vocab = reference.build_vocab(vocab_text)
    ids = [pick % len(vocab) for pick in picks]
    got = simple_tokenizer(candidate, vocab).decode(ids)
    expected = reference.SimpleTokenizerV2(dict(vocab)).decode(ids)
    what = f"SimpleTokenizerV2(build_vocab({shown(vocab_text, 80)})).decode({ids})"
    require(isinstance(got, str), f"{what} returned {type(got).__name__}; expected a str")
    if got != expected:
        at = first_difference(got, expected)
        raise AssertionError(
            f"{what}: character {at} differs\n  yours:    {got!r}\n  expected: {expected!r}"
            + likely(got, simple_decode_mistakes(vocab, ids)))


@pytest.mark.task(SIMPLE, category="values")
def test_the_books_example_on_the_verdict(candidate, reference):
    """The book's example: The Verdict's vocabulary, two sentences joined by <|endoftext|>."""
    vocab = reference.build_vocab(data.the_verdict())
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
    tokenizer = simple_tokenizer(candidate, vocab)
    ids = tokenizer.encode(text)
    check_sequence(ids, reference.SimpleTokenizerV2(dict(vocab)).encode(text),
                   f"SimpleTokenizerV2(build_vocab(the_verdict())).encode({text!r})", "id",
                   simple_encode_mistakes(vocab, text))
    back = tokenizer.decode(ids)
    expected = reference.SimpleTokenizerV2(dict(vocab)).decode(ids)
    require(back == expected, f"SimpleTokenizerV2(build_vocab(the_verdict())).decode({ids}) is "
                              f"{back!r}, expected {expected!r}"
            + likely(back, simple_decode_mistakes(vocab, ids)))


@pytest.mark.task(SIMPLE, category="properties")
def test_the_books_attribute_names(candidate, reference):
    """The book's code reads tokenizer.str_to_int and tokenizer.int_to_str: keep those names."""
    vocab = reference.build_vocab("Hello, world. Is this-- a test?")
    tokenizer = simple_tokenizer(candidate, vocab)
    for name, expected in (("str_to_int", vocab), ("int_to_str",
                                                   {i: t for t, i in vocab.items()})):
        got = getattr(tokenizer, name, None)
        require(got == expected, f"SimpleTokenizerV2(vocab).{name} is {shown(got)}, expected "
                                 f"{shown(expected)}: the book's code uses that attribute")


# --- 3. train_bpe --------------------------------------------------------------------------------

def split_specials(text: str, specials: Sequence[str]) -> list[str]:
    if not specials:
        return [text]
    alternatives = sorted(specials, key=len, reverse=True)
    return regex.split("(" + "|".join(regex.escape(s) for s in alternatives) + ")", text)


def slow_bpe(text: str, vocab_size: int, specials: Sequence[str], *, tie: str = "greatest",
             pretokenize: Callable[[str], list[str]] | None = None, split: bool = True,
             weighted: bool = True, specials_first: bool = False,
             merges_left: int | None = None) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """BPE by recounting every pair after each merge, with the knobs that make the classic
    mistakes: how ties are broken, how text is pre-tokenised, whether the special tokens are cut
    out, whether pre-tokens are weighted by their counts, where the special tokens go."""
    cut = pretokenize or (lambda chunk: regex.findall(GPT2_SPLIT_PATTERN, chunk))
    chunks = split_specials(text, specials)[::2] if split else [text]
    counts = Counter(piece for chunk in chunks for piece in cut(chunk))
    words = [[bytes([b]) for b in word.encode("utf-8")] for word in counts]
    weights = [count if weighted else 1 for count in counts.values()]
    ids = {bytes([b]): b for b in range(256)}
    room = vocab_size - 256 - len(specials) if merges_left is None else merges_left
    merges: list[tuple[bytes, bytes]] = []
    while len(merges) < room:
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for word, weight in zip(words, weights, strict=True):
            for pair in pairwise(word):
                pairs[pair] += weight
        if not pairs:
            break
        top = max(pairs.values())
        tied = [pair for pair in pairs if pairs[pair] == top]  # in the order first seen
        best = {"greatest": max(tied), "smallest": min(tied), "first": tied[0],
                "ids": max(tied, key=lambda pair: (ids[pair[0]], ids[pair[1]]))}[tie]
        merges.append(best)
        ids.setdefault(best[0] + best[1], 256 + len(merges) - 1)
        words = [merged(word, best) for word in words]
    vocab = {b: bytes([b]) for b in range(256)}
    tail = [a + b for a, b in merges]
    heads = [s.encode("utf-8") for s in specials]
    for token in (heads + tail if specials_first else tail + heads):
        vocab[len(vocab)] = token
    return vocab, merges


def merged(word: list[bytes], pair: tuple[bytes, bytes]) -> list[bytes]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_mistakes(text: str, vocab_size: int, specials: Sequence[str]
                   ) -> list[tuple[str, Callable[[], Any]]]:
    def run(**knobs: Any) -> Callable[[], Any]:
        return lambda: slow_bpe(text, vocab_size, specials, **knobs)

    return [
        ("on a tie you took the smallest pair; take the greatest, max by (count, pair)",
         run(tie="smallest")),
        ("on a tie you took the pair seen first; take the greatest, max by (count, pair)",
         run(tie="first")),
        ("on a tie you compared the pairs' ids; compare their bytes: (bytes, bytes) tuples",
         run(tie="ids")),
        ("pairs crossed pre-token boundaries: cut each chunk with "
         "regex.findall(GPT2_SPLIT_PATTERN, chunk) and count pairs inside each pre-token only",
         run(pretokenize=lambda chunk: [chunk])),
        ("the text was pre-tokenised on whitespace; use GPT-2's regex, GPT2_SPLIT_PATTERN",
         run(pretokenize=str.split)),
        ("the special tokens were not cut out first, so their bytes were counted and merged",
         run(split=False)),
        ("each distinct pre-token counted once; weight its pairs by how often it occurs",
         run(weighted=False)),
        ("the special tokens came before the merges; they take the ids after the last merge",
         run(specials_first=True)),
    ]


def check_types(vocab: Any, merges: Any, what: str) -> None:
    require(isinstance(vocab, dict) and all(isinstance(k, int) and isinstance(v, bytes)
                                            for k, v in vocab.items()),
            f"{what}: vocab must be a dict int -> bytes, got {shown(vocab)}")
    require(isinstance(merges, list) and all(
        isinstance(m, tuple) and len(m) == 2 and all(isinstance(b, bytes) for b in m)
        for m in merges), f"{what}: merges must be a list of (bytes, bytes) tuples, got "
                          f"{shown(merges)}")


def check_training(candidate, reference, text: str, vocab_size: int,
                   specials: Sequence[str]) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    what = f"train_bpe({shown(text)}, {vocab_size}, {list(specials)})"
    result = candidate.train_bpe(text, vocab_size, list(specials))
    require(isinstance(result, tuple) and len(result) == 2,
            f"{what} returned {shown(result)}; expected a tuple (vocab, merges)")
    vocab, merges = result
    check_types(vocab, merges, what)
    expected_vocab, expected_merges = reference.train_bpe(text, vocab_size, list(specials))
    if (vocab, merges) == (expected_vocab, expected_merges):
        return vocab, merges
    diagnosis = likely((vocab, merges), train_mistakes(text, vocab_size, specials))
    if merges != expected_merges:
        at = first_difference(merges, expected_merges)
        here = (f"merge {at} is {merges[at]!r}, expected {expected_merges[at]!r}"
                if at < min(len(merges), len(expected_merges)) else
                f"{len(merges)} merges, expected {len(expected_merges)} (the first {at} agree)")
        raise AssertionError(f"{what}: {here}\n  yours:    {around(merges, at)}\n  expected: "
                             f"{around(expected_merges, at)}" + diagnosis)
    got_items, want_items = sorted(vocab.items()), sorted(expected_vocab.items())
    at = first_difference(got_items, want_items)
    here = (f"vocab entry {got_items[at]!r}, expected {want_items[at]!r}"
            if at < min(len(got_items), len(want_items)) else
            f"{len(vocab)} vocab entries, expected {len(expected_vocab)}")
    raise AssertionError(f"{what}: the merges agree but the vocab differs: {here} (ids 0-255 "
                         "are the bytes, then one per merge in order, then the special "
                         "tokens)" + diagnosis)


@pytest.mark.task(TRAIN, category="values")
@given(text=bpe_texts(), extra=merge_counts(), specials=st.sampled_from(SPECIALS))
@example(text="low low lower<|endoftext|>lowest", extra=3, specials=[END_OF_TEXT])
@example(text="aaaa aaa aa", extra=4, specials=[])
@example(text="the cat, the hat\n\nthe end 🙂🙂 é é", extra=12, specials=[])
@example(text="<|endoftext|>ab<|endoftext|>ab<|endoftext|>|><|", extra=4, specials=[END_OF_TEXT])
@example(text="it's it's I'll we'll 12345 12 !!", extra=10, specials=[])
@example(text="the end<|endoftext|>the end<|endoftext|>", extra=5, specials=SPECIALS[2])
@example(text="ab ab ab ab ba ba ba cd", extra=3, specials=[])
def test_the_merges_and_vocab_are_the_references(candidate, reference, text, extra, specials):
    """Exactly the reference's merges and vocab (the rules in the stub fix both). The last
    special-token list has one that begins another: the longer must be cut out first."""
    check_training(candidate, reference, text, 256 + len(specials) + extra, specials)


# Built so that each wrong tie rule picks another pair. "ab cd": (a, b), (' ', c) and (c, d)
# occur once each; the greatest is (c, d), the smallest (' ', c), the first seen (a, b).
# "aac aac bd bd aa": after (a, a), four pairs occur twice; by bytes (b, d) is the greatest, by
# ids (aa, c) is, since aa's id 256 beats every byte's.
# "cdbabac": after (b, a) each of the four rules (greatest, smallest, first seen, ids) merges
# another pair.
TIE_CASES = (("ab cd", 257), ("aac aac bd bd aa", 258), ("xy yx xy yx", 258), ("cdbabac", 260))


@pytest.mark.task(TRAIN, category="values")
@pytest.mark.parametrize("text,vocab_size", TIE_CASES)
def test_ties_go_to_the_greatest_pair(candidate, reference, text, vocab_size):
    """Among equally frequent pairs the lexicographically greatest (bytes, bytes) merges."""
    check_training(candidate, reference, text, vocab_size, [])


@pytest.mark.task(TRAIN, category="values")
def test_the_verdict(candidate, reference):
    """The shipped story, 128 merges: the merges and vocab are the reference's."""
    check_training(candidate, reference, data.the_verdict(), SPEED_VOCAB_SIZE, [END_OF_TEXT])


@pytest.mark.task(TRAIN, category="properties")
@pytest.mark.parametrize("vocab_size,specials", [(300, [END_OF_TEXT]), (257, []),
                                                  (258, [END_OF_TEXT, "<|pad|>"])])
def test_the_vocab_has_vocab_size_entries(candidate, vocab_size, specials):
    """len(vocab) == vocab_size: 256 bytes, the merges, the special tokens (which count too)."""
    text = data.the_verdict()[:3000]
    vocab, merges = candidate.train_bpe(text, vocab_size, list(specials))
    what = f"train_bpe(the_verdict()[:3000], {vocab_size}, {specials})"
    check_types(vocab, merges, what)
    mistake = ("\n  Likely mistake: the special tokens were not counted in vocab_size; the "
               "merges fill vocab_size - 256 - len(special_tokens)"
               if len(vocab) == vocab_size + len(specials) else "")
    require(len(vocab) == vocab_size, f"{what}: the vocab has {len(vocab)} entries, expected "
                                      f"{vocab_size}" + mistake)
    require(sorted(vocab) == list(range(vocab_size)), f"{what}: the ids are not 0 to "
                                                      f"{vocab_size - 1} without gaps")
    require(all(vocab[b] == bytes([b]) for b in range(256)),
            f"{what}: ids 0-255 must be the single bytes, vocab[b] == bytes([b])")


@pytest.mark.task(TRAIN, category="properties")
@given(text=bpe_texts(), extra=merge_counts())
@example(text="<|endoftext|>" * 6 + "x<|endoftext|>y", extra=6)
@example(text="a<|endoftext|><|endoftext|><|endoftext|>b <|endoftext|>", extra=4)
def test_a_special_token_is_never_merged(candidate, text, extra):
    """Special tokens are cut out before counting: no merge holds a byte of `<|...|>`, and the
    special tokens end the vocab. (`<`, `|` and `>` occur only inside special tokens here.)"""
    specials = [END_OF_TEXT, "<|a|><|a|>"]
    vocab, merges = candidate.train_bpe(text, 256 + len(specials) + extra, list(specials))
    what = f"train_bpe({shown(text)}, {256 + len(specials) + extra}, {specials})"
    check_types(vocab, merges, what)
    for pair in merges:
        require(not set(pair[0] + pair[1]) & set(b"<|>"), (
            f"{what}: merge {pair!r} holds bytes of a special token; cut the special tokens "
            "out of the text before pre-tokenising, and never count or merge them"))
    tail = [vocab.get(i) for i in range(len(vocab) - len(specials), len(vocab))]
    require(tail == [s.encode("utf-8") for s in specials],
            f"{what}: the vocab ends with {tail!r}; the special tokens, as UTF-8 bytes and in "
            "the order given, take the last ids")


@pytest.mark.task(TRAIN, category="properties")
@pytest.mark.parametrize("vocab_size,specials", [(255, []), (256, [END_OF_TEXT]),
                                                  (257, [END_OF_TEXT, "<|pad|>"])])
def test_a_vocab_too_small_for_the_bytes_is_a_value_error(candidate, vocab_size, specials):
    """vocab_size < 256 + len(special_tokens) raises ValueError."""
    try:
        candidate.train_bpe("some text", vocab_size, list(specials))
    except ValueError:
        return
    raise AssertionError(f"train_bpe('some text', {vocab_size}, {specials}) returned; expected "
                         "ValueError: 256 bytes and the special tokens do not fit")


@pytest.mark.task(TRAIN, category="speed")
def test_training_on_the_verdict_is_as_fast_as_the_reference(candidate, reference):
    """Training on The Verdict (128 merges) within the reference's speed band."""
    text = data.the_verdict()
    assert_speed_within(candidate.train_bpe, reference.train_bpe,
                        lambda slot: (text[slot * 100:], SPEED_VOCAB_SIZE, [END_OF_TEXT]),
                        band=VECTORIZED, what="train_bpe on The Verdict (128 merges)")


# --- 4. BPETokenizer -----------------------------------------------------------------------------

def gpt2_tokenizer(candidate):
    """The learner's tokenizer with GPT-2's ranks, built once per learner module."""
    cls = candidate.BPETokenizer
    key = id(cls)
    if key not in _GPT2:
        _GPT2.clear()
        _GPT2[key] = cls.from_ranks(dict(data.gpt2_mergeable_ranks()),
                                    {END_OF_TEXT: data.END_OF_TEXT_ID})
    return _GPT2[key]


_GPT2: dict[int, Any] = {}


def spec_encode(ranks: dict[bytes, int], specials: dict[str, int], text: str, *,
                rule: str = "lowest", split: bool = True,
                pretokenize: Callable[[str], list[str]] | None = None,
                byte_ids: bool = False, shortest_first: bool = False) -> list[int]:
    """The spec's own encoder, with the knobs that make the classic mistakes."""
    cut = pretokenize or (lambda chunk: regex.findall(GPT2_SPLIT_PATTERN, chunk))
    names = sorted(specials, key=len, reverse=not shortest_first) if split else []
    chunks = (regex.split("(" + "|".join(regex.escape(s) for s in names) + ")", text)
              if names else [text])
    ids: list[int] = []
    for k, chunk in enumerate(chunks):
        if k % 2:
            ids.append(specials[chunk])
            continue
        for piece in cut(chunk):
            parts = merge_by_rank(ranks, piece.encode("utf-8"), rule)
            ids += [part[0] if byte_ids and len(part) == 1 else ranks[part] for part in parts]
    return ids


def merge_by_rank(ranks: dict[bytes, int], raw: bytes, rule: str) -> list[bytes]:
    if rule == "longest":  # greedy: the longest known prefix, again and again
        parts, start = [], 0
        while start < len(raw):
            end = max(e for e in range(start + 1, len(raw) + 1) if raw[start:e] in ranks)
            parts.append(raw[start:end])
            start = end
        return parts
    parts = [bytes([b]) for b in raw]
    while len(parts) > 1:
        found = [(ranks[a + b], i) for i, (a, b) in enumerate(pairwise(parts))
                 if a + b in ranks]
        if not found:
            break
        best = min(found) if rule == "lowest" else max(
            found, key=lambda item: (-item[0], item[1]))  # "rightmost": the last on a tie
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def encode_mistakes(ranks: dict[bytes, int], specials: dict[str, int], text: str
                    ) -> list[tuple[str, Callable[[], Any]]]:
    if len(text) > 2000:  # whole-chunk variants are quadratic: diagnose short texts only
        return []

    def run(**knobs: Any) -> Callable[[], Any]:
        return lambda: spec_encode(ranks, specials, text, **knobs)

    return [
        ("a single byte's id is not its byte value: GPT-2 ranks bytes in its own order, so "
         "look every token up in the ranks, single bytes too", run(byte_ids=True)),
        ("the longest known prefix was taken greedily; BPE merges the pair whose concatenation "
         "has the lowest rank, again and again", run(rule="longest")),
        ("on a tie between equal pairs the rightmost merged; merge the leftmost",
         run(rule="rightmost")),
        ("the special tokens were encoded as ordinary text; cut them out first and give each "
         "its own id", run(split=False)),
        ("one special token that contains another lost to it: match the longest first",
         run(shortest_first=True)),
        ("the text was not pre-tokenised: merges crossed word boundaries; cut each chunk with "
         "regex.findall(GPT2_SPLIT_PATTERN, chunk) first", run(pretokenize=lambda c: [c])),
        ("the text was pre-tokenised on whitespace; use GPT-2's regex, GPT2_SPLIT_PATTERN",
         run(pretokenize=str.split)),
    ]


def decode_mistakes(vocab: dict[int, bytes], ids: list[int]
                    ) -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("each token was decoded on its own, which breaks a character whose bytes span two "
         "tokens: join all the bytes, then decode once",
         lambda: "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)),
        ("errors='ignore' drops the bytes of a broken character; errors='replace' shows each "
         "as U+FFFD, as tiktoken does",
         lambda: b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore")),
    ]


def check_gpt2_encode(candidate, text: str) -> list[int]:
    encoding = data.gpt2_encoding()
    got = gpt2_tokenizer(candidate).encode(text)
    expected = encoding.encode(text, allowed_special="all")
    ranks = data.gpt2_mergeable_ranks()
    what = f"BPETokenizer.from_ranks(gpt2_mergeable_ranks(), {{{END_OF_TEXT!r}: 50256}})" \
           f".encode({shown(text)})"
    if isinstance(got, list) and got != expected:
        at = first_difference(got, expected)
        pieces = [encoding.decode_single_token_bytes(i)
                  for i in expected[max(0, at - 3):at + 4]]
        check_sequence(got, expected, what + f" (tiktoken's tokens there: {pieces!r})", "id",
                       encode_mistakes(ranks, {END_OF_TEXT: data.END_OF_TEXT_ID}, text))
    check_sequence(got, expected, what, "id")
    return got


@pytest.mark.task(BPE, category="values")
@given(texts=st.lists(unicode_texts(), min_size=20, max_size=30))
@example(texts=["Hello, do you like tea? <|endoftext|> In the sunlit terraces"])
@example(texts=["a\n\nb", " aaaa", "hello   world  ", "\n\n  x", "it's 1234567 I'LL",
                "🙂 café ☃ 中文"])
@example(texts=["<|endoftext|><|endoftext|>", "a<|endoftext|>b", "<|endoftext"])
@example(texts=["Ġ ĠĠ ÿ \x00\x7f", " 12 345 6789", "don't  don't'll"])
def test_with_gpt2s_ranks_encode_gives_tiktokens_ids(candidate, texts):
    """From GPT-2's ranks, encode gives exactly tiktoken's gpt2 ids (every special allowed)."""
    for text in texts:
        check_gpt2_encode(candidate, text)


@pytest.mark.task(BPE, category="values")
def test_with_gpt2s_ranks_the_verdict_encodes_as_tiktoken_does(candidate):
    """The whole of The Verdict: 5,145 tokens, each tiktoken's."""
    check_gpt2_encode(candidate, data.the_verdict())


@pytest.mark.task(BPE, category="values")
@given(picks=st.lists(st.integers(0, data.END_OF_TEXT_ID), max_size=12))
@example(picks=[])
@example(picks=[171, 247, 224])  # the three tokens of one character's UTF-8 bytes
@example(picks=[10253, 8582, 247, 224, 50256])
def test_with_gpt2s_ranks_decode_gives_tiktokens_text(candidate, picks):
    """decode of any GPT-2 ids equals tiktoken's, broken characters shown as U+FFFD."""
    encoding = data.gpt2_encoding()
    got = gpt2_tokenizer(candidate).decode(list(picks))
    expected = encoding.decode(list(picks))
    what = f"BPETokenizer.from_ranks(gpt2_mergeable_ranks(), ...).decode({list(picks)})"
    require(isinstance(got, str), f"{what} returned {type(got).__name__}; expected a str")
    vocab = {rank: token for token, rank in data.gpt2_mergeable_ranks().items()}
    vocab[data.END_OF_TEXT_ID] = END_OF_TEXT.encode("utf-8")
    require(got == expected, f"{what} is {got!r}, expected {expected!r}"
            + likely(got, decode_mistakes(vocab, list(picks))))


@pytest.mark.task(BPE, category="properties")
@given(texts=st.lists(unicode_texts(), min_size=10, max_size=15))
@example(texts=["🙂", "中文字", "é", "\u0301e", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "<|endoftext|>🙂<|endoftext|>",
                "two  spaces, a tab\tand a newline\n"])
def test_decode_undoes_encode_for_any_text(candidate, texts):
    """decode(encode(text)) == text for any text, with GPT-2's ranks."""
    tokenizer = gpt2_tokenizer(candidate)
    encoding = data.gpt2_encoding()
    for text in texts:
        ids = tokenizer.encode(text)
        back = tokenizer.decode(ids)
        # a decoding mistake only when the ids are right: wrong ids decode wrongly anyway
        right_ids = ids == encoding.encode(text, allowed_special="all")
        require(back == text, (
            f"BPETokenizer (GPT-2's ranks): decode(encode({text!r})) is {back!r}"
            + (likely(back, decode_mistakes(tokenizer_vocab(), ids)) if right_ids else "")))


def tokenizer_vocab() -> dict[int, bytes]:
    vocab = {rank: token for token, rank in data.gpt2_mergeable_ranks().items()}
    vocab[data.END_OF_TEXT_ID] = END_OF_TEXT.encode("utf-8")
    return vocab


TRAINED_SPECIALS = [END_OF_TEXT, "<|a|>", "<|a|><|a|>"]


@pytest.mark.task(BPE, category="values")
@given(train_text=bpe_texts(60), text=bpe_texts(), extra=merge_counts())
@example(train_text="low low lower lowest", text=" low<|endoftext|>lowly", extra=6)
@example(train_text="aaa aaa aa", text="aaaaa aaa", extra=3)
@example(train_text="ab ab", text="<|a|><|a|><|a|>ab<|a|>", extra=2)
def test_a_trained_vocab_encodes_as_the_references(candidate, reference, train_text, text,
                                                   extra):
    """With the reference's trained vocab, encode gives the reference's ids and decode undoes
    it; special tokens, the longest first, are kept whole."""
    vocab, _ = reference.train_bpe(train_text, 256 + len(TRAINED_SPECIALS) + extra,
                                   TRAINED_SPECIALS)
    tokenizer = candidate.BPETokenizer(dict(vocab), list(TRAINED_SPECIALS))
    expected = reference.BPETokenizer(dict(vocab), list(TRAINED_SPECIALS)).encode(text)
    got = tokenizer.encode(text)
    ranks = {token: i for i, token in sorted(vocab.items(), reverse=True)
             if i < len(vocab) - len(TRAINED_SPECIALS)}
    specials = {s: len(vocab) - len(TRAINED_SPECIALS) + k for k, s in enumerate(TRAINED_SPECIALS)}
    check_sequence(got, expected, f"BPETokenizer(train_bpe({shown(train_text, 60)}, "
                   f"{len(vocab)}, {TRAINED_SPECIALS})[0], {TRAINED_SPECIALS}).encode("
                   f"{shown(text)})", "id", encode_mistakes(ranks, specials, text))
    back = tokenizer.decode(got)
    require(back == text, f"BPETokenizer (trained): decode(encode({text!r})) is {back!r}")


@pytest.mark.task(BPE, category="properties")
def test_a_special_token_missing_from_the_vocab_is_a_value_error(candidate, reference):
    """BPETokenizer(vocab, special_tokens) raises ValueError for a special token not in vocab."""
    vocab, _ = reference.train_bpe("ab ab", 258, [END_OF_TEXT])
    try:
        candidate.BPETokenizer(dict(vocab), [END_OF_TEXT, "<|pad|>"])
    except ValueError:
        return
    raise AssertionError("BPETokenizer(vocab, ['<|endoftext|>', '<|pad|>']) with no '<|pad|>' "
                         "in vocab returned; expected ValueError: it could never be encoded")


@pytest.mark.task(BPE, category="values")
def test_a_repeated_token_merges_under_its_lowest_id(candidate):
    """A vocab may hold the same bytes twice (two merges can make one string): the rank of a
    concatenation is its lowest id, and encode gives that id."""
    vocab = {b: bytes([b]) for b in range(256)}
    vocab.update({256: b"ab", 257: b"cd", 258: b"ab", 259: b"abcd"})
    tokenizer = candidate.BPETokenizer(dict(vocab), [])
    for text, expected in (("ab", [256]), ("abcd", [259]), ("ab ab", [256, 32, 256])):
        got = tokenizer.encode(text)
        check_sequence(got, expected, f"BPETokenizer({{0-255: the bytes, 256: b'ab', 257: b'cd', "
                       f"258: b'ab', 259: b'abcd'}}).encode({text!r})", "id")

"""The data files the project ships, and the one way to reach them: GPT-2's byte-pair ranks, from
which the GPT-2 encoding is built offline, and "The Verdict", a public-domain short story to
tokenize and pretrain on, a small labelled set of SMS-style messages to fine-tune a
classifier on, and a small instruction set in the Alpaca JSON shape (README.md beside
this file gives each file's origin and licence).

Nothing here reaches the network: `tiktoken.get_encoding("gpt2")` would download its vocabulary
at first use, and graders run offline.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
GPT2_RANKS_PATH = DATA_DIR / "gpt2.tiktoken"
THE_VERDICT_PATH = DATA_DIR / "the-verdict.txt"
INSTRUCTION_DATA_PATH = DATA_DIR / "instruction-data.json"
SPAM_PATH = DATA_DIR / "sms-spam.csv"
# The split of sms-spam.csv by row, the book's 70% / 10% / 20%: (first row, end) of each part.
SPAM_SPLITS = {"train": (0, 420), "validation": (420, 480), "test": (480, 600)}
END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 50256


def gpt2_pattern() -> str:
    """GPT-2's pre-tokenisation regex (for the `regex` module), as tiktoken itself has it."""
    from tiktoken_ext.openai_public import r50k_pat_str

    return r50k_pat_str


@functools.cache
def gpt2_mergeable_ranks() -> dict[bytes, int]:
    """GPT-2's 50,256 byte sequences and their merge ranks (ranks 0-255 are the single bytes).

    Read here rather than by tiktoken's loader, which keeps a copy in its download cache."""
    ranks = {}
    for line in GPT2_RANKS_PATH.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def gpt2_encoding():  # -> tiktoken.Encoding (tiktoken stays a lazy import)
    """The GPT-2 encoding, built from the shipped ranks: the same ids as
    `tiktoken.get_encoding("gpt2")`, without its download."""
    import tiktoken

    return tiktoken.Encoding(name="gpt2", pat_str=gpt2_pattern(),
                             mergeable_ranks=gpt2_mergeable_ranks(),
                             special_tokens={END_OF_TEXT: END_OF_TEXT_ID})


def the_verdict() -> str:
    """Edith Wharton's "The Verdict" (1908), 20,479 characters."""
    return THE_VERDICT_PATH.read_text(encoding="utf-8")


def instruction_data() -> list[dict[str, str]]:
    """The project's own 68 instruction entries, {"instruction", "input", "output"} each (20 with
    an empty input), in the order the file has them: a fresh list on every call."""
    entries = json.loads(INSTRUCTION_DATA_PATH.read_text(encoding="utf-8"))
    return [{key: str(entry[key]) for key in ("instruction", "input", "output")}
            for entry in entries]


def spam_csv(split: str | None = None) -> str:
    """The project's labelled SMS-style messages as CSV text with the book's "Label","Text"
    header (Label 1 = spam, 0 = ham): all 600 rows, or one part of SPAM_SPLITS ("train" 420
    rows, "validation" 60, "test" 120), each part balanced within a few rows."""
    lines = SPAM_PATH.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]  # one message per line: no text holds a line break
    if split is None:
        return header + "".join(rows)
    start, end = SPAM_SPLITS[split]
    return header + "".join(rows[start:end])

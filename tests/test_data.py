"""The data files the project ships are the documented ones, and the GPT-2 encoding built from
them offline is GPT-2's."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from grader import data

SAMPLE = "Hello, do you like tea? <|endoftext|> In the sunlit terraces"
SAMPLE_IDS = [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114]


@pytest.mark.parametrize(("path", "sha256"), [
    (data.GPT2_RANKS_PATH, "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"),
    (data.THE_VERDICT_PATH, "b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f"),
])
def test_each_file_is_the_one_its_readme_documents(path: Path, sha256: str):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    assert sha256 in (data.DATA_DIR / "README.md").read_text(encoding="utf-8")


def test_the_ranks_ship_with_their_licence():
    licence = (data.DATA_DIR / "gpt2.tiktoken.LICENSE").read_text(encoding="utf-8")
    assert "OpenAI" in licence and "MIT" in licence


def test_the_offline_encoding_gives_gpt2s_ids():
    encoding = data.gpt2_encoding()
    assert encoding.n_vocab == 50257
    assert encoding.encode(SAMPLE, allowed_special={data.END_OF_TEXT}) == SAMPLE_IDS
    assert encoding.decode(SAMPLE_IDS) == SAMPLE
    ranks = data.gpt2_mergeable_ranks()
    assert len(ranks) == 50256 and sorted(ranks.values()) == list(range(50256))
    assert sorted(rank for token, rank in ranks.items() if len(token) == 1) == list(range(256))


def test_the_verdict_is_the_books_corpus():
    text = data.the_verdict()
    assert len(text) == 20479
    assert len(data.gpt2_encoding().encode(text)) == 5145


GPT2_FILES = ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
              "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json")


def _tiktoken_has_gpt2() -> bool:
    """Whether tiktoken's download cache already holds both of gpt2's files (its own rule: the
    cache key is the sha1 of the file's address)."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    folder = Path(cache) if cache else Path(tempfile.gettempdir()) / "data-gym-cache"
    return all((folder / hashlib.sha1(url.encode()).hexdigest()).is_file() for url in GPT2_FILES)


@pytest.mark.skipif(not _tiktoken_has_gpt2(), reason="tiktoken has no cached gpt2 vocabulary "
                    "here, and tests never download one")
def test_the_offline_encoding_equals_tiktokens_own_where_it_is_cached():
    import tiktoken

    own = tiktoken.get_encoding("gpt2")
    text = data.the_verdict()
    assert data.gpt2_encoding().encode(text) == own.encode(text)


def test_the_instruction_set_is_the_documented_one():
    path = data.INSTRUCTION_DATA_PATH
    sha256 = "ed374cd8c8c4934c705426c76abd8e16b672d29527353ea4d0d006d45e7eba87"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    assert sha256 in (data.DATA_DIR / "README.md").read_text(encoding="utf-8")
    entries = data.instruction_data()
    assert len(entries) == 68
    assert sum(entry["input"] == "" for entry in entries) == 20
    assert all(set(entry) == {"instruction", "input", "output"} and entry["instruction"]
               and entry["output"] for entry in entries)
    entries[0]["output"] = "changed"
    assert data.instruction_data()[0]["output"] != "changed"  # a fresh list on every call


def test_the_spam_set_is_balanced_and_split_as_documented():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(data.spam_csv())))
    assert len(rows) == 600 and sum(int(r["Label"]) for r in rows) == 300
    assert set(rows[0]) == {"Label", "Text"} and {r["Label"] for r in rows} == {"0", "1"}
    parts = {split: list(csv.DictReader(io.StringIO(data.spam_csv(split))))
             for split in data.SPAM_SPLITS}
    assert {s: len(p) for s, p in parts.items()} == {"train": 420, "validation": 60, "test": 120}
    assert {s: sum(int(r["Label"]) for r in p) for s, p in parts.items()} == {
        "train": 207, "validation": 36, "test": 57}
    assert parts["train"] + parts["validation"] + parts["test"] == rows
    lengths = [len(data.gpt2_encoding().encode(r["Text"])) for r in parts["train"]]
    assert max(lengths) == 25


def test_the_spam_set_is_what_its_script_writes(tmp_path):
    import hashlib
    import runpy

    script = data.DATA_DIR.parent.parent / "scripts" / "make-spam-set"
    namespace = runpy.run_path(str(script), run_name="make_spam_set")
    namespace["main"].__globals__["OUT"] = tmp_path / "sms-spam.csv"
    namespace["main"]()
    written = (tmp_path / "sms-spam.csv").read_bytes()
    assert written == data.SPAM_PATH.read_bytes()
    assert hashlib.sha256(written).hexdigest() == (
        "2b19bd3412f6287524521d2088bcc3f4c4d1eff91d00b001e703ad6a55f16ede")

'''16-instruct: the data side of instruction fine-tuning (chapter 7 of "Build a Large Language
Model (From Scratch)").

A pretrained GPT continues text; an instruction-tuned one answers. The difference is mostly in
the data: each example is an instruction (and sometimes an input) written into a fixed prompt
template, followed by the answer, and the loss is taken only where the answer is. You write the
book's data pipeline with the book's names and signatures, so its code and yours drop in for each
other. An entry is a dict {"instruction": str, "input": str, "output": str} (the book's JSON
shape; "input" may be ""). A tokenizer is handed in wherever one is needed: anything with
encode(text) -> list of ids (tiktoken's GPT-2 encoding is one); this file imports none.

1. format_input(entry) -> str: the Alpaca-style prompt, exactly

       "Below is an instruction that describes a task. Write a response that appropriately "
       "completes the request." + "\n\n### Instruction:\n" + entry["instruction"]

   followed by "\n\n### Input:\n" + entry["input"] only when entry["input"] is not empty (an
   empty input leaves the section out altogether). No trailing newline: the response marker
   comes next.

2. InstructionDataset(data, tokenizer): a torch Dataset over a list of entries. It encodes each
   entry once, in __init__: format_input(entry) + "\n\n### Response:\n" + entry["output"], with
   tokenizer.encode. __getitem__(index) returns that entry's list of ids (a Python list, not a
   tensor: the collate function pads them); __len__ the number of entries.

3. custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None,
   device="cpu") -> (inputs, targets): the book's collate function for a list of id lists.
   With L = the longest item's length + 1, for each item:
     - append one pad_token_id (50256 is GPT-2's <|endoftext|>: the answer ends here), then pad
       with pad_token_id to length L;
     - inputs are the first L - 1 ids, targets the last L - 1 (the same ids shifted by one);
     - in the targets, every position holding pad_token_id except the first is set to
       ignore_index (cross-entropy skips it), so the model learns to emit one end token and
       nothing is learnt from the padding. The rule compares values, as the book's does: an id
       equal to pad_token_id inside the text counts too (the first one in the row is kept,
       every later one, the appended end token included, becomes ignore_index);
     - with allowed_max_length, both inputs and targets are cut to their first
       allowed_max_length positions (after masking).
   Stack the rows into two (B, L - 1) int64 tensors (or (B, allowed_max_length) when that is
   shorter) on device. The caller's lists are never changed (copy before appending). Every
   item has at least one id.

4. split_data(data, train_ratio=0.85, test_ratio=0.1) -> (train_data, test_data, val_data): the
   book's split by position, no shuffling: train_portion = int(len(data) * train_ratio),
   test_portion = int(len(data) * test_ratio); train_data = data[:train_portion], test_data the
   next test_portion entries, val_data the rest. Three new lists; data is not changed.

5. extract_response(generated_text, input_text) -> str: what the model answered. The generated
   text starts with the prompt it was given (input_text = format_input(entry)): drop those
   len(input_text) characters, remove the "### Response:" marker, and strip the whitespace
   around what is left, as the book does.

6. generate_model_scores(json_data, json_key, query_fn) -> list[int]: the book's evaluation,
   with the judge handed in. The book asks a served LLM (Ollama's llama3) to score each answer;
   here query_fn(prompt) -> str is any callable that answers. For each entry: an empty
   entry[json_key] scores 0 without asking; otherwise ask query_fn the prompt

       f"Given the input `{format_input(entry)}` and correct output `{entry['output']}`, "
       f"score the model response `{entry[json_key]}` on a scale from 0 to 100, where 100 is "
       f"the best score. Respond with the integer number only."

   and append int(answer); an answer int() cannot read is skipped (nothing appended), as the
   book's loop does. Call query_fn once per non-empty entry, in order.

Worked example: a tokenizer of one id per character.

    >>> class Chars:
    ...     def encode(self, text): return [ord(c) for c in text]
    >>> entry = {"instruction": "Give the plural form of the noun.", "input": "mouse",
    ...          "output": "mice"}
    >>> prompt = format_input(entry)
    >>> prompt[:47]
    'Below is an instruction that describes a task. '
    >>> print(prompt[105:])  # after the preamble's two sentences (105 characters)
    <BLANKLINE>
    <BLANKLINE>
    ### Instruction:
    Give the plural form of the noun.
    <BLANKLINE>
    ### Input:
    mouse
    >>> format_input({**entry, "input": ""}).endswith("noun.")
    True
    >>> dataset = InstructionDataset([entry], Chars())
    >>> text = format_input(entry) + "\\n\\n### Response:\\nmice"
    >>> len(dataset), dataset[0] == Chars().encode(text)
    (1, True)
    >>> inputs, targets = custom_collate_fn([[1, 2, 3], [4, 5]])
    >>> inputs
    tensor([[    1,     2,     3],
            [    4,     5, 50256]])
    >>> targets
    tensor([[    2,     3, 50256],
            [    5, 50256,  -100]])
    >>> custom_collate_fn([[1, 2, 3], [4, 5]], allowed_max_length=2)[1]
    tensor([[    2,     3],
            [    5, 50256]])
    >>> [len(part) for part in split_data(list(range(20)))]
    [17, 2, 1]
    >>> extract_response(prompt + "\\n\\n### Response:\\nmice ", prompt)
    'mice'
    >>> generate_model_scores([{**entry, "model_response": "mice"}], "model_response",
    ...                       lambda prompt: "95")
    [95]

Rules: no tokenizer library inside (the tokenizer is handed in), no files and no network (the
judge is handed in too). Keep the names and signatures in the stub exactly as they are: the
grader calls them.

Check your work with `./kata check 16-instruct`; stuck? `./kata hint 16-instruct`.
'''

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch  # noqa: F401
from torch import Tensor  # noqa: F401
from torch.utils.data import Dataset


def format_input(entry: dict[str, str]) -> str:
    """The Alpaca prompt of an entry: preamble, instruction, and the input when there is one."""
    # TODO(16-instruct): preamble + instruction section; the input section only if there is one.
    raise NotImplementedError("16-instruct: format_input")


class InstructionDataset(Dataset):
    """Each entry's prompt, response marker and output, encoded once."""

    def __init__(self, data: list[dict[str, str]], tokenizer: Any) -> None:
        # TODO(16-instruct): keep data; encode each prompt + response section once.
        raise NotImplementedError("16-instruct: InstructionDataset")

    def __getitem__(self, index: int) -> list[int]:
        """The ids of entry `index`."""
        # TODO(16-instruct): the ids encoded in __init__ for that index.
        raise NotImplementedError("16-instruct: InstructionDataset")

    def __len__(self) -> int:
        """The number of entries."""
        # TODO(16-instruct): the number of entries.
        raise NotImplementedError("16-instruct: InstructionDataset")


def custom_collate_fn(batch: list[list[int]], pad_token_id: int = 50256,
                      ignore_index: int = -100, allowed_max_length: int | None = None,
                      device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Padded (inputs, targets): targets shifted by one, padding after the first end token
    ignored, both cut to allowed_max_length, on device."""
    # TODO(16-instruct): copy + end token, pad, shift, mask, truncate, stack, .to(device).
    raise NotImplementedError("16-instruct: custom_collate_fn")


def split_data(data: list[Any], train_ratio: float = 0.85,
               test_ratio: float = 0.1) -> tuple[list[Any], list[Any], list[Any]]:
    """The first train_ratio of the entries, the next test_ratio, and the rest (validation)."""
    # TODO(16-instruct): int(len(data) * ratio) for train, then test; the rest is val.
    raise NotImplementedError("16-instruct: split_data")


def extract_response(generated_text: str, input_text: str) -> str:
    """The generated text after the prompt, without the response marker, stripped."""
    # TODO(16-instruct): drop the prompt's characters, remove the response marker, strip.
    raise NotImplementedError("16-instruct: extract_response")


def generate_model_scores(json_data: list[dict[str, str]], json_key: str,
                          query_fn: Callable[[str], str]) -> list[int]:
    """The judge's integer score (0 to 100) of each entry's entry[json_key]."""
    # TODO(16-instruct): 0 if empty; else int(query_fn(prompt)), skipping non-numbers.
    raise NotImplementedError("16-instruct: generate_model_scores")

"""16-instruct alternative: other correct idioms (sections joined with "\\n\\n", a lazy dataset that encodes
up front through a helper, the collate built on whole tensors with torch.full and a cumulative
count of end tokens, str.removeprefix-free slicing, a list comprehension of scores).

The grader must pass it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

KATA_EXPECT = {"status": "pass"}

PREAMBLE = ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.")


def format_input(entry: dict[str, str]) -> str:
    """The Alpaca prompt of an entry: preamble, instruction, and the input when there is one."""
    parts = [PREAMBLE, "### Instruction:\n" + entry["instruction"]]
    if len(entry["input"]) > 0:
        parts.append("### Input:\n" + entry["input"])
    return "\n\n".join(parts)


class InstructionDataset(Dataset):
    """Each entry's prompt, response marker and output, encoded once."""

    def __init__(self, data: list[dict[str, str]], tokenizer: Any) -> None:
        self.data = list(data)
        self.encoded_texts = list(map(lambda e: self._encode(e, tokenizer), self.data))

    @staticmethod
    def _encode(entry: dict[str, str], tokenizer: Any) -> list[int]:
        return list(tokenizer.encode("\n\n".join([format_input(entry),
                                                  "### Response:\n" + entry["output"]])))

    def __getitem__(self, index: int) -> list[int]:
        """The ids of entry `index`."""
        return self.encoded_texts[index]

    def __len__(self) -> int:
        """The number of entries."""
        return len(self.encoded_texts)


def custom_collate_fn(batch: list[list[int]], pad_token_id: int = 50256,
                      ignore_index: int = -100, allowed_max_length: int | None = None,
                      device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Padded (inputs, targets): targets shifted by one, padding after the first end token
    ignored, both cut to allowed_max_length, on device."""
    B, L = len(batch), max(map(len, batch)) + 1
    padded = torch.full((B, L), pad_token_id, dtype=torch.int64, device=device)
    for b, item in enumerate(batch):
        padded[b, :len(item)] = torch.as_tensor(item, dtype=torch.int64, device=device)
    inputs, targets = padded[:, :-1], padded[:, 1:].clone()  # (B, L - 1) each
    is_end = targets == pad_token_id
    later = is_end & (is_end.long().cumsum(dim=1) > 1)  # every end token after a row's first
    targets = targets.masked_fill(later, ignore_index)
    if allowed_max_length is not None:
        inputs, targets = inputs[:, :allowed_max_length], targets[:, :allowed_max_length]
    return inputs.contiguous(), targets


def split_data(data: list[Any], train_ratio: float = 0.85,
               test_ratio: float = 0.1) -> tuple[list[Any], list[Any], list[Any]]:
    """The first train_ratio of the entries, the next test_ratio, and the rest (validation)."""
    a = int(len(data) * train_ratio)
    b = a + int(len(data) * test_ratio)
    return list(data[:a]), list(data[a:b]), list(data[b:])


def extract_response(generated_text: str, input_text: str) -> str:
    """The generated text after the prompt, without the response marker, stripped."""
    rest = generated_text[len(input_text):]
    return "".join(rest.split("### Response:")).strip()


def generate_model_scores(json_data: list[dict[str, str]], json_key: str,
                          query_fn: Callable[[str], str]) -> list[int]:
    """The judge's integer score (0 to 100) of each entry's entry[json_key]."""
    scores: list[int] = []
    for entry in json_data:
        response = entry[json_key]
        if not response:
            scores.append(0)
            continue
        answer = query_fn(
            "Given the input `" + format_input(entry) + "` and correct output `"
            + entry["output"] + "`, score the model response `" + response + "` on a scale "
            "from 0 to 100, where 100 is the best score. Respond with the integer number only.")
        try:
            value = int(answer)
        except ValueError:
            pass
        else:
            scores.append(value)
    return scores

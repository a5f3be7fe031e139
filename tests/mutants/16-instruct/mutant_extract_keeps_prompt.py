"""16-instruct mutant: extract_response keeps the prompt.

A copy of the reference with this one mistake; the grader must fail it as KATA_EXPECT says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

KATA_EXPECT = {'status': 'fail',
               'task': 'extract_response',
               'category': 'values',
               'message': ['prompt is still in front'],
               'not_message': ['marker is still in the answer', 'whitespace around the answer', 'only the front is stripped', 'removed with .replace(input_text', 'only spaces and newlines are stripped']}


def format_input(entry: dict[str, str]) -> str:
    """The Alpaca prompt of an entry: preamble, instruction, and the input when there is one."""
    instruction_text = ("Below is an instruction that describes a task. "
                        "Write a response that appropriately completes the request."
                        f"\n\n### Instruction:\n{entry['instruction']}")
    input_text = f"\n\n### Input:\n{entry['input']}" if entry["input"] else ""
    return instruction_text + input_text


class InstructionDataset(Dataset):
    """Each entry's prompt, response marker and output, encoded once."""

    def __init__(self, data: list[dict[str, str]], tokenizer: Any) -> None:
        self.data = data
        self.encoded_texts = [
            tokenizer.encode(format_input(entry) + f"\n\n### Response:\n{entry['output']}")
            for entry in data
        ]

    def __getitem__(self, index: int) -> list[int]:
        """The ids of entry `index`."""
        return self.encoded_texts[index]

    def __len__(self) -> int:
        """The number of entries."""
        return len(self.data)


def custom_collate_fn(batch: list[list[int]], pad_token_id: int = 50256,
                      ignore_index: int = -100, allowed_max_length: int | None = None,
                      device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Padded (inputs, targets): targets shifted by one, padding after the first end token
    ignored, both cut to allowed_max_length, on device."""
    batch_max_length = max(len(item) + 1 for item in batch)  # L: room for one end token
    inputs_lst, targets_lst = [], []
    for item in batch:
        padded = [*item, pad_token_id]  # a copy: the caller's list stays as it was
        padded += [pad_token_id] * (batch_max_length - len(padded))  # (L,)
        inputs = torch.tensor(padded[:-1], dtype=torch.long)  # (L - 1,)
        targets = torch.tensor(padded[1:], dtype=torch.long)  # (L - 1,) shifted by one
        pads = torch.nonzero(targets == pad_token_id).flatten()  # positions, in order
        targets[pads[1:]] = ignore_index  # the first end token is learnt, the rest ignored
        if allowed_max_length is not None:
            inputs, targets = inputs[:allowed_max_length], targets[:allowed_max_length]
        inputs_lst.append(inputs)
        targets_lst.append(targets)
    return torch.stack(inputs_lst).to(device), torch.stack(targets_lst).to(device)  # (B, T)


def split_data(data: list[Any], train_ratio: float = 0.85,
               test_ratio: float = 0.1) -> tuple[list[Any], list[Any], list[Any]]:
    """The first train_ratio of the entries, the next test_ratio, and the rest (validation)."""
    train_portion = int(len(data) * train_ratio)
    test_portion = int(len(data) * test_ratio)
    train_data = data[:train_portion]
    test_data = data[train_portion:train_portion + test_portion]
    val_data = data[train_portion + test_portion:]
    return train_data, test_data, val_data


def extract_response(generated_text: str, input_text: str) -> str:
    """The generated text after the prompt, without the response marker, stripped."""
    return generated_text.replace("### Response:", "").strip()


def generate_model_scores(json_data: list[dict[str, str]], json_key: str,
                          query_fn: Callable[[str], str]) -> list[int]:
    """The judge's integer score (0 to 100) of each entry's entry[json_key]."""
    scores = []
    for entry in json_data:
        if entry[json_key] == "":
            scores.append(0)
            continue
        prompt = (f"Given the input `{format_input(entry)}` "
                  f"and correct output `{entry['output']}`, "
                  f"score the model response `{entry[json_key]}`"
                  f" on a scale from 0 to 100, where 100 is the best score. "
                  f"Respond with the integer number only.")
        score = query_fn(prompt)
        try:
            scores.append(int(score))
        except ValueError:
            continue  # the judge did not answer with a number: skip it, as the book does
    return scores

"""Class 8: hard-code what the spec's fixed cases want, read from its @example lines.

The student copies every @example batch of the collate checks and the answers the book's rule
gives them into a table, and returns the padded batch without the mask for anything else; the
other tasks are a quick guess at the template with the separators wrong. The table is right
where the spec looks, and wrong everywhere Hypothesis draws.

Written against the grader as it is (the rung is new): the drawn batches fail the collate
checks, the prompt checks fail on the first entry; nothing passes.
"""

import torch
from torch.utils.data import Dataset

KATA_CHEAT = {"expect": {"status": "fail", "message": "custom_collate_fn(["},
              "class": 8, "rung": "16-instruct", "worked": False,
              "observed": "written for rung 16; the spec's fixed cases looked up, the rest guessed"}

_TABLE = {
    ((1, 2, 3), (4, 5)): ([[1, 2, 3], [4, 5, 50256]], [[2, 3, 50256], [5, 50256, -100]]),
    ((7, 8), (9, 10)): ([[7, 8], [9, 10]], [[8, 50256], [10, 50256]]),
}


def format_input(entry):
    return "### Instruction:\n" + entry["instruction"] + "\n### Input:\n" + entry["input"]


class InstructionDataset(Dataset):
    def __init__(self, data, tokenizer):
        self.items = [tokenizer.encode(format_input(entry)) for entry in data]

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return len(self.items)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None,
                      device="cpu"):
    key = tuple(tuple(item) for item in batch)
    if key in _TABLE:
        inputs, targets = _TABLE[key]
    else:
        width = max(len(item) for item in batch)
        rows = [list(item) + [pad_token_id] * (width + 1 - len(item)) for item in batch]
        inputs, targets = [row[:-1] for row in rows], [row[1:] for row in rows]
    return torch.tensor(inputs).to(device), torch.tensor(targets).to(device)


def split_data(data, train_ratio=0.85, test_ratio=0.1):
    a = round(len(data) * train_ratio)
    return data[:a], data[a:], []


def extract_response(generated_text, input_text):
    return generated_text[len(input_text):]


def generate_model_scores(json_data, json_key, query_fn):
    return [90 for _ in json_data]

"""Class 1: the grader ships the instruction set and the GPT-2 encoding; import them and answer
from the spec's own data instead of the arguments (the dataset ignores the tokenizer handed in
and keeps precomputed ids of the shipped entries).

A rung may import from grader only its blocks, and 16-instruct has none; the rest of the module
is honest enough to pass if the import were allowed.

Written against the grader as it is (the rung is new): the source rules refuse the import.
"""

import torch
from torch.utils.data import Dataset

from grader.data import gpt2_encoding, instruction_data

KATA_CHEAT = {"expect": {"status": "error", "message": "from grader.data import ...: 16-instruct does not use"},
              "class": 1, "rung": "16-instruct", "worked": False,
              "observed": "refused by the source rules before it ran"}

_SHIPPED = {entry["instruction"] + entry["input"]: entry for entry in instruction_data()}


def format_input(entry):
    text = ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\n" + entry["instruction"])
    return text + ("\n\n### Input:\n" + entry["input"] if entry["input"] else "")


class InstructionDataset(Dataset):
    def __init__(self, data, tokenizer):
        encoding = gpt2_encoding()
        self.items = [encoding.encode(format_input(e) + "\n\n### Response:\n" + e["output"])
                      if e["instruction"] + e["input"] in _SHIPPED else
                      tokenizer.encode(format_input(e) + "\n\n### Response:\n" + e["output"])
                      for e in data]

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return len(self.items)


def custom_collate_fn(batch, pad_token_id=50256, ignore_index=-100, allowed_max_length=None,
                      device="cpu"):
    width = max(len(item) for item in batch) + 1
    inputs, targets = [], []
    for item in batch:
        row = list(item) + [pad_token_id] * (width - len(item))
        t = row[1:]
        ends = [j for j, v in enumerate(t) if v == pad_token_id]
        for j in ends[1:]:
            t[j] = ignore_index
        inputs.append(row[:-1][:allowed_max_length])
        targets.append(t[:allowed_max_length])
    return torch.tensor(inputs).to(device), torch.tensor(targets).to(device)


def split_data(data, train_ratio=0.85, test_ratio=0.1):
    a, b = int(len(data) * train_ratio), int(len(data) * test_ratio)
    return data[:a], data[a:a + b], data[a + b:]


def extract_response(generated_text, input_text):
    return generated_text[len(input_text):].replace("### Response:", "").strip()


def generate_model_scores(json_data, json_key, query_fn):
    scores = []
    for entry in json_data:
        if entry[json_key] == "":
            scores.append(0)
    return scores

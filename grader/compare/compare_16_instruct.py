"""`kata compare 16-instruct`: the data pipeline on the project's own instruction set.

Run by the grader's worker like a spec (grader/harness/comparison_row.py says how a row travels).
The entries are grader.data.instruction_data() (68, 20 without an input), encoded with the
offline GPT-2 encoding.
"""

from __future__ import annotations

import pytest

from grader.data import gpt2_encoding, instruction_data
from grader.harness.comparison_row import bare, compare_call

pytestmark = pytest.mark.rung("16-instruct")


def _ids() -> list[list[int]]:
    """The shipped entries' prompt, marker and output, encoded: what the collate gets."""
    encoding = gpt2_encoding()
    return [encoding.encode(
        "Below is an instruction that describes a task. Write a response that appropriately "
        f"completes the request.\n\n### Instruction:\n{e['instruction']}"
        + (f"\n\n### Input:\n{e['input']}" if e["input"] else "")
        + f"\n\n### Response:\n{e['output']}") for e in instruction_data()]


@pytest.mark.task("format_input", category="values")
def test_format_input(candidate, reference):
    def every_prompt(fn):
        return lambda data: [fn(entry) for entry in data]

    compare_call(every_prompt(bare(candidate.format_input)), every_prompt(reference.format_input),
                 lambda slot: (instruction_data(),), note="the 68 shipped entries")


@pytest.mark.task("InstructionDataset", category="values")
def test_instruction_dataset(candidate, reference):
    def every_item(cls):
        def run(data, tokenizer):
            dataset = cls(data, tokenizer)
            return [dataset[i] for i in range(len(dataset))]
        return run

    compare_call(every_item(candidate.InstructionDataset), every_item(reference.InstructionDataset),
                 lambda slot: (instruction_data(), gpt2_encoding()),
                 note="the 68 shipped entries, GPT-2's encoding")


@pytest.mark.task("custom_collate_fn", category="values")
def test_custom_collate_fn(candidate, reference, device):
    batch = _ids()[:8]
    compare_call(candidate.custom_collate_fn, reference.custom_collate_fn,
                 lambda slot: ([list(item) for item in batch], 50256, -100, 48, device),
                 note="8 shipped entries, cut to 48 positions")


@pytest.mark.task("split_data", category="values")
def test_split_data(candidate, reference):
    compare_call(candidate.split_data, reference.split_data,
                 lambda slot: (instruction_data(),), note="the 68 shipped entries, 85/10/5")


@pytest.mark.task("extract_response", category="values")
def test_extract_response(candidate, reference):
    prompt = reference.format_input(instruction_data()[0])
    generated = prompt + "\n\n### Response:\nShe goes to school every morning. \n"
    compare_call(candidate.extract_response, reference.extract_response,
                 lambda slot: (generated, prompt), note="a generated answer to the first entry")


@pytest.mark.task("generate_model_scores", category="values")
def test_generate_model_scores(candidate, reference):
    data = [{**entry, "model_response": entry["output"] if i % 3 else ""}
            for i, entry in enumerate(instruction_data())]

    def judge(prompt: str) -> str:
        return str(len(prompt) % 101)

    compare_call(bare(candidate.generate_model_scores), reference.generate_model_scores,
                 lambda slot: (data, "model_response", judge),
                 note="68 entries, a third without a response, a judge that counts characters")

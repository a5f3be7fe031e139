"""Spec for 16-instruct: the data side of instruction fine-tuning (chapter 7 of the book).

Run by `./kata check 16-instruct`. Code is reached only through the `candidate` fixture; the
spec writes its own expected values (the book's prompt, the book's collate rule) in plain Python
lists, so a mistake shows as the first position where the learner's answer and the rule differ.
Entries come from the project's own instruction set (grader.data.instruction_data()) and from
Hypothesis; batches of token ids are drawn, with pad and ignore ids, truncation lengths and the
end token inside the text among the draws.

Where an answer equals what a classic mistake gives (the input section always present, the end
token not appended, every padding target masked, truncating the inputs only, ...), the message
names that mistake; otherwise it names the first difference only.

The book's evaluation asks a served LLM (Ollama) to score each answer; graders run offline, so
generate_model_scores gets the judge as a callable, and the spec's judges record what they are
asked. Every check fails with a message written for the learner, so pytest's assertion
rewriting is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor

from grader.data import END_OF_TEXT_ID, gpt2_encoding, instruction_data

pytestmark = pytest.mark.rung("16-instruct")

FORMAT, DATASET, COLLATE, SPLIT, EXTRACT, SCORES = (
    "format_input", "InstructionDataset", "custom_collate_fn", "split_data", "extract_response",
    "generate_model_scores")

PREAMBLE = ("Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.")
INSTRUCTION, INPUT, RESPONSE = "\n\n### Instruction:\n", "\n\n### Input:\n", "\n\n### Response:\n"
MARKER = "### Response:"


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: Any) -> str:
    """A value's type in words, with shape and dtype for a tensor."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} ({value.dtype}, {value.device})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"[:200]
    return f"a {type(value).__name__}"


def first_difference(got: str, want: str) -> str:
    """Where two strings part, shown around that character."""
    i = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
             min(len(got), len(want)))
    return (f"they differ from character {i}: yours has {got[max(0, i - 20):i + 25]!r}, "
            f"expected {want[max(0, i - 20):i + 25]!r} (lengths {len(got)} and {len(want)})")


def diagnose(got: Any, mistakes: dict[str, str], computed: dict[str, Callable[[], Any]],
             same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> str:
    """The named diagnosis of the first mistake whose result equals `got`, or ''."""
    for key, compute in computed.items():
        try:
            if same(got, compute()):
                return f" Likely mistake: {mistakes[key]}."
        except Exception:  # noqa: BLE001 - a mistake that cannot even run is not this one
            continue
    return ""


# --- format_input -------------------------------------------------------------------------------


def book_prompt(entry: dict[str, str]) -> str:
    text = PREAMBLE + INSTRUCTION + entry["instruction"]
    return text + (INPUT + entry["input"] if entry["input"] else "")


FORMAT_MISTAKES = {
    "always_input": "the Input section is written for an empty input too; leave it out when "
                    "entry[\"input\"] is \"\"",
    "one_newline": "the sections are separated by one newline; the book puts a blank line "
                   "(\"\\n\\n\") before each ### heading",
    "no_heading_newline": "no newline after a ### heading; the text starts on the next line",
    "with_marker": "the prompt ends with the response marker; format_input stops after the "
                   "instruction (and input): InstructionDataset adds the response section",
    "no_preamble": "the preamble sentence is missing",
}
FORMAT_COMPUTED: dict[str, Callable[[dict[str, str]], str]] = {
    "always_input": lambda e: PREAMBLE + INSTRUCTION + e["instruction"] + INPUT + e["input"],
    "one_newline": lambda e: book_prompt(e).replace("\n\n###", "\n###"),
    "no_heading_newline": lambda e: book_prompt(e).replace(":\n", ":", 2)
    if e["input"] else book_prompt(e).replace(":\n", ":", 1),
    "with_marker": lambda e: book_prompt(e) + RESPONSE.rstrip("\n"),
    "no_preamble": lambda e: book_prompt(e)[len(PREAMBLE):],
}


def format_mistake(got: str, entry: dict[str, str]) -> str:
    computed = {key: (lambda f=f: f(entry)) for key, f in FORMAT_COMPUTED.items()}
    computed["with_marker_newline"] = lambda: book_prompt(entry) + RESPONSE
    mistakes = {**FORMAT_MISTAKES, "with_marker_newline": FORMAT_MISTAKES["with_marker"]}
    return diagnose(got, mistakes, computed)


words = st.text(st.sampled_from("abcdefgh XYZ.,'?-0123456789\n"), min_size=1, max_size=30)
entries = st.builds(lambda i, n, o: {"instruction": i, "input": n, "output": o},
                    words, st.one_of(st.just(""), words), words)


@pytest.mark.task(FORMAT, category="values")
@given(entry=entries)
@example(entry={"instruction": "Give the plural form of the noun.", "input": "mouse",
                "output": "mice"})
@example(entry={"instruction": "Name the primary colors of light.", "input": "", "output": "x"})
@example(entry={"instruction": "Spell the number in words.", "input": "0", "output": "zero"})
@example(entry={"instruction": "Add the two numbers.", "input": " ", "output": "?"})
def test_the_prompt_is_the_books(candidate, entry):
    """The preamble, a blank line, "### Instruction:", the instruction; the same for the input
    only when it is not the empty string (a space or "0" is an input)."""
    got = candidate.format_input(copy.deepcopy(entry))
    call = f"format_input({entry})"
    require(isinstance(got, str), f"{call} returned {kind(got)}; return the prompt as a str.")
    want = book_prompt(entry)
    require(got == want, f"{call}: {first_difference(got, want)}."
            + format_mistake(got, entry))


@pytest.mark.task(FORMAT, category="values")
def test_every_shipped_entry_gets_the_books_prompt(candidate):
    """The prompt of each entry of the project's instruction set (20 have no input)."""
    for entry in instruction_data():
        got = candidate.format_input(dict(entry))
        want = book_prompt(entry)
        require(got == want, f"format_input({entry}): {first_difference(str(got), want)}."
                + format_mistake(got, entry))


# --- InstructionDataset -------------------------------------------------------------------------


ENCODE_CALLS: dict[int, int] = {}  # id(tokenizer) -> encode calls: nothing on the object shows it


class CountingChars:
    """One id per character (its code point); counts the encode calls in ENCODE_CALLS, so a
    tokenizer that counts looks like any other."""

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        ENCODE_CALLS[id(self)] = ENCODE_CALLS.get(id(self), 0) + 1
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids)


DATASET_MISTAKES = {
    "no_marker": "the response marker is missing: encode format_input(entry) + "
                 "\"\\n\\n### Response:\\n\" + entry[\"output\"]",
    "no_output": "the output is missing after the response marker",
    "end_token": "an end token is appended in the dataset; custom_collate_fn appends it",
    "one_newline": "one newline before ### Response:; the book puts a blank line (\"\\n\\n\")",
}


def dataset_mistake(got: Any, entry: dict[str, str], tokenizer: Any) -> str:
    prompt = book_prompt(entry)
    return diagnose(got, DATASET_MISTAKES, {
        "no_marker": lambda: tokenizer.encode(prompt + "\n\n" + entry["output"]),
        "no_output": lambda: tokenizer.encode(prompt + RESPONSE),
        "end_token": lambda: tokenizer.encode(prompt + RESPONSE + entry["output"])
        + [END_OF_TEXT_ID],
        "one_newline": lambda: tokenizer.encode(prompt + "\n" + RESPONSE[2:] + entry["output"]),
    })


@pytest.mark.task(DATASET, category="values")
@given(data=st.lists(entries, min_size=1, max_size=5))
def test_the_dataset_encodes_prompt_marker_and_output(candidate, data):
    """Item i is tokenizer.encode(format_input(entry) + "\\n\\n### Response:\\n" + output), a
    list of ints; len is the number of entries."""
    tokenizer = CountingChars()
    dataset = candidate.InstructionDataset(copy.deepcopy(data), tokenizer)
    call = f"InstructionDataset({len(data)} entries, a one-id-per-character tokenizer)"
    require(len(dataset) == len(data), f"len({call}) is {len(dataset)}; expected {len(data)}.")
    for i, entry in enumerate(data):
        got = dataset[i]
        want = tokenizer.encode(book_prompt(entry) + RESPONSE + entry["output"])
        require(isinstance(got, list), f"{call}[{i}] is {kind(got)}; return the list of ids "
                "tokenizer.encode gave (custom_collate_fn pads lists).")
        if got != want:
            text = "".join(chr(c) if isinstance(c, int) and 0 <= c < 0x110000 else "?"
                           for c in got)
            raise AssertionError(
                f"{call}[{i}] (entry {entry}): {first_difference(text, tokenizer.decode(want))}."
                + dataset_mistake(got, entry, tokenizer))


@pytest.mark.task(DATASET, category="values")
def test_the_shipped_set_encodes_with_gpt2(candidate):
    """The project's 68 entries, encoded with GPT-2's encoding, item by item."""
    tokenizer = gpt2_encoding()
    data = instruction_data()
    dataset = candidate.InstructionDataset(instruction_data(), tokenizer)
    require(len(dataset) == len(data), f"len(InstructionDataset(the shipped 68 entries)) is "
            f"{len(dataset)}; expected {len(data)}.")
    for i, entry in enumerate(data):
        want = tokenizer.encode(book_prompt(entry) + RESPONSE + entry["output"])
        got = dataset[i]
        require(got == want, f"InstructionDataset(the shipped entries, GPT-2)[{i}]: {len(got)} "
                f"ids, expected {len(want)}: the encoding of {entry}'s prompt, response marker "
                "and output." + dataset_mistake(got, entry, tokenizer))


@pytest.mark.task(DATASET, category="properties")
def test_the_dataset_encodes_each_entry_once(candidate):
    """Encoding happens in __init__, once per entry; reading items does not encode again."""
    tokenizer = CountingChars()
    data = instruction_data()[:6]
    dataset = candidate.InstructionDataset(data, tokenizer)
    calls = ENCODE_CALLS.get(id(tokenizer), 0)
    require(calls == len(data), f"InstructionDataset({len(data)} entries) called "
            f"tokenizer.encode {calls} times in __init__; encode each entry once "
            "there, so the training loop does not encode the data every epoch.")
    for i in range(len(data)):
        dataset[i]
    calls = ENCODE_CALLS.get(id(tokenizer), 0)
    require(calls == len(data), f"reading the {len(data)} items called "
            f"tokenizer.encode {calls - len(data)} more times; return the ids encoded "
            "in __init__.")


# --- custom_collate_fn --------------------------------------------------------------------------


def book_collate(batch: list[list[int]], pad: int = END_OF_TEXT_ID, ignore: int = -100,
                 max_length: int | None = None, *, mask: str = "after_first",
                 shift: bool = True, append: bool = True, extra: int = 1,
                 cut_targets: bool = True, cut_offset: int = 0,
                 pad_with: int | None = None) -> tuple[list[list[int]], list[list[int]]]:
    """The book's rule in plain lists; the keywords make the classic mistakes."""
    pad_with = pad if pad_with is None else pad_with
    longest = max(len(item) for item in batch) + extra
    inputs, targets = [], []
    for item in batch:
        padded = list(item) + ([pad] if append else [])
        padded += [pad_with] * (longest - len(padded))
        row_in, row_t = padded[:-1], (padded[1:] if shift else padded[:-1])
        ends = [j for j, v in enumerate(row_t) if v == pad]
        masked = {"after_first": ends[1:], "all": ends, "none": []}[mask]
        for j in masked:
            row_t[j] = ignore
        if max_length is not None:
            row_in = row_in[:max_length + cut_offset]
            if cut_targets:
                row_t = row_t[:max_length + cut_offset]
        inputs.append(row_in)
        targets.append(row_t)
    return inputs, targets


COLLATE_MISTAKES = {
    "all": "every padding target is ignore_index, the first end token too: keep the first "
           "one, so the model learns where its answer ends",
    "none": "no padding target is ignore_index: every one after the first end token must be",
    "pad_zero": "the padding is 0; pad with pad_token_id",
    "not_shifted": "the targets are the inputs, not shifted: targets = padded[1:]",
    "no_append": "the batch is padded to the longest item's length, with no end token "
                 "appended: append one pad_token_id to every item (pad to the longest + 1), so "
                 "the longest one ends with it too",
    "inputs_only": "only the inputs are cut to allowed_max_length; cut the targets too",
    "cut_short": "the rows are cut to allowed_max_length - 1",
    "cut_long": "the rows are cut to allowed_max_length + 1",
    "ignore_fixed": "the ignored targets are -100 whatever ignore_index says; use ignore_index",
    "pad_fixed": "the padding is 50256 whatever pad_token_id says; use pad_token_id",
}


# A batch every mistake above shows on: a diagnosis is named only when the learner's answer is
# the mistake's on the failing batch and on this one too, so a draw where two rules happen to
# agree (one padding target only, a pad id inside the text) names nothing.
PROBE = [[11, 12, 13, 14, 15], [21, 22], [31]]


def collate_mistake(got: tuple[list[list[int]], list[list[int]]], batch: list[list[int]],
                    pad: int, ignore: int, max_length: int | None,
                    probe: tuple[list[list[int]], list[list[int]]] | None) -> str:
    if probe is None:
        return ""
    probe_length = None if max_length is None else min(max_length, 4)

    def both(**mistake: Any) -> Callable[[], Any]:
        b_pad, b_ignore = mistake.pop("b_pad", pad), mistake.pop("b_ignore", ignore)
        return lambda: (book_collate(batch, b_pad, b_ignore, max_length, **mistake),
                        book_collate(PROBE, b_pad, b_ignore, probe_length, **mistake))

    return diagnose((got, probe), COLLATE_MISTAKES, {
        "all": both(mask="all"),
        "none": both(mask="none"),
        "pad_zero": both(pad_with=0),
        "not_shifted": both(shift=False),
        "no_append": both(append=False, extra=0),
        "inputs_only": both(cut_targets=False),
        "cut_short": both(cut_offset=-1),
        "cut_long": both(cut_offset=1),
        "ignore_fixed": both(b_ignore=-100),
        "pad_fixed": both(b_pad=END_OF_TEXT_ID),
    })


def probe_rows(candidate: Any, kwargs: dict[str, Any]) -> Any:
    """The learner's rows for PROBE with the same arguments, or None when that call fails."""
    if "allowed_max_length" in kwargs:
        kwargs = {**kwargs, "allowed_max_length": min(kwargs["allowed_max_length"], 4)}
    try:
        got = candidate.custom_collate_fn(copy.deepcopy(PROBE), **kwargs)
        return ([row.tolist() for row in got[0].cpu()], [row.tolist() for row in got[1].cpu()])
    except Exception:  # noqa: BLE001 - no diagnosis then; the failure itself is reported
        return None


def check_collate(candidate: Any, batch: list[list[int]], pad: int, ignore: int,
                  max_length: int | None, device: torch.device | str = "cpu") -> None:
    kwargs: dict[str, Any] = {}
    if pad != END_OF_TEXT_ID:
        kwargs["pad_token_id"] = pad
    if ignore != -100:
        kwargs["ignore_index"] = ignore
    if max_length is not None:
        kwargs["allowed_max_length"] = max_length
    shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    call = f"custom_collate_fn({batch}{', ' + shown if shown else ''})"
    got = candidate.custom_collate_fn(copy.deepcopy(batch), device=device, **kwargs)
    require(isinstance(got, tuple) and len(got) == 2, f"{call} returned {kind(got)}; return "
            "the pair (inputs, targets).")
    want_in, want_t = book_collate(batch, pad, ignore, max_length)
    width = len(want_in[0])
    for name, tensor in zip(("inputs", "targets"), got, strict=True):
        require(isinstance(tensor, Tensor), f"{call}: {name} is {kind(tensor)}; return a "
                "torch tensor.")
        require(tensor.dtype == torch.long, f"{call}: {name} has dtype {tensor.dtype}; token "
                "ids and targets are int64 (torch.long), what nn.Embedding and "
                "F.cross_entropy take.")
    rows = ([row.tolist() for row in got[0].cpu()], [row.tolist() for row in got[1].cpu()])
    for name, tensor in zip(("inputs", "targets"), got, strict=True):
        if tuple(tensor.shape) != (len(batch), width):
            raise AssertionError(
                f"{call}: {name} has shape {tuple(tensor.shape)}; expected "
                f"({len(batch)}, {width}) (the longest item + 1 end token - 1 for the shift"
                f"{', then cut to allowed_max_length' if max_length is not None else ''})."
                + (" Likely mistake: allowed_max_length=0 was taken as no limit; test "
                   "`allowed_max_length is not None`, not its truth." if max_length == 0
                   and tensor.shape[-1:] == (len(book_collate(batch, pad, ignore)[0][0]),)
                   else "")
                + collate_mistake(rows, batch, pad, ignore, max_length,
                                  probe_rows(candidate, kwargs)))
    for name, got_rows, want_rows in (("inputs", rows[0], want_in), ("targets", rows[1], want_t)):
        for b, (got_row, want_row) in enumerate(zip(got_rows, want_rows, strict=True)):
            if got_row != want_row:
                j = next(j for j, (x, y) in enumerate(zip(got_row, want_row, strict=True))
                         if x != y)
                raise AssertionError(
                    f"{call}: {name}[{b}, {j}] is {got_row[j]}, expected {want_row[j]} (row "
                    f"{b}: yours {got_row}, expected {want_row})."
                    + collate_mistake(rows, batch, pad, ignore, max_length,
                                  probe_rows(candidate, kwargs)))


ids = st.integers(0, 50_300).filter(lambda i: i != END_OF_TEXT_ID)
batches = st.lists(st.lists(ids, min_size=1, max_size=8), min_size=1, max_size=5)


@pytest.mark.task(COLLATE, category="values")
@given(batch=batches)
@example(batch=[[1, 2, 3], [4, 5]])
@example(batch=[[10, 11, 12, 13, 14], [20], [30, 31]])
@example(batch=[[7, 8], [9, 10]])  # equal lengths: only the appended end token is a target
def test_the_batch_is_padded_shifted_and_masked(candidate, batch):
    """With the defaults: inputs and targets (B, longest + 1 - 1) int64, padded with 50256,
    targets shifted by one, every 50256 target after the first of its row -100."""
    check_collate(candidate, batch, END_OF_TEXT_ID, -100, None)


@pytest.mark.task(COLLATE, category="values")
@given(batch=batches, pad=st.sampled_from([END_OF_TEXT_ID, 0, 3]),
       ignore=st.sampled_from([-100, -1, -7]))
@example(batch=[[5, 6, 7], [8]], pad=3, ignore=-1)
@example(batch=[[5, 6, 7, 9], [8]], pad=0, ignore=-7)
def test_pad_and_ignore_ids_are_the_callers(candidate, batch, pad, ignore):
    """pad_token_id pads (and is the appended end token); ignore_index marks the ignored
    targets."""
    check_collate(candidate, batch, pad, ignore, None)


@pytest.mark.task(COLLATE, category="values")
@given(batch=batches, max_length=st.integers(1, 10))
@example(batch=[[1, 2, 3, 4, 5, 6], [7, 8]], max_length=4)
@example(batch=[[1, 2, 3, 4, 5, 6], [7, 8]], max_length=3)
@example(batch=[[1, 2, 3], [4]], max_length=9)  # longer than the batch: nothing is cut
@example(batch=[[1, 2, 3], [4]], max_length=0)  # 0 is a length too: (B, 0), not "no cut"
def test_allowed_max_length_cuts_inputs_and_targets(candidate, batch, max_length):
    """Both tensors are cut to their first allowed_max_length positions, after masking."""
    check_collate(candidate, batch, END_OF_TEXT_ID, -100, max_length)


@pytest.mark.task(COLLATE, category="values")
@given(batch=st.lists(st.lists(st.one_of(ids, st.just(END_OF_TEXT_ID)), min_size=1,
                               max_size=8), min_size=1, max_size=4))
@example(batch=[[1, END_OF_TEXT_ID, 2], [3]])
@example(batch=[[END_OF_TEXT_ID, 4, 5, 6], [7, 8]])
def test_an_end_token_inside_the_text_counts_as_one(candidate, batch):
    """The book's mask compares values: the first 50256 of a target row is kept, wherever it
    is, and every later one is -100, so an end token inside the text is learnt and the appended
    one is then ignored."""
    check_collate(candidate, batch, END_OF_TEXT_ID, -100, None)


@pytest.mark.task(COLLATE, category="properties")
@given(batch=batches, max_length=st.one_of(st.none(), st.integers(1, 9)))
@example(batch=[[1, 2, 3], [4, 5]], max_length=None)
def test_the_callers_lists_are_never_changed(candidate, batch, max_length):
    """The lists handed in are the same after the call (copy before appending the end
    token)."""
    before = copy.deepcopy(batch)
    handed = copy.deepcopy(batch)
    candidate.custom_collate_fn(handed, allowed_max_length=max_length)
    require(handed == before, f"custom_collate_fn({before}) changed the caller's lists to "
            f"{handed}; copy each item (item.copy() or [*item, pad_token_id]) before appending.")


@pytest.mark.task(COLLATE, category="properties")
def test_the_tensors_are_on_the_device_asked_for(candidate, device):
    """device= places both tensors: the grader's device, and "meta" (shapes without data)."""
    batch = [[1, 2, 3], [4, 5]]
    for where in (torch.device("meta"), device):
        got = candidate.custom_collate_fn(copy.deepcopy(batch), device=where)
        for name, tensor in zip(("inputs", "targets"), got, strict=True):
            require(isinstance(tensor, Tensor) and tensor.device.type == where.type,
                    f"custom_collate_fn({batch}, device={str(where)!r}): {name} is "
                    f"{kind(tensor)}; move both tensors with .to(device).")
    check_collate(candidate, batch, END_OF_TEXT_ID, -100, None, device=device)


# --- split_data ---------------------------------------------------------------------------------


SPLIT_MISTAKES = {
    "round": "the portions are rounded; the book cuts with int(), which rounds down",
    "val_test": "the test and validation parts are swapped: return (train, test, val), test "
                "first",
    "val_ratio": "the second part is sized by 1 - train_ratio - test_ratio; the test part is "
                 "int(len(data) * test_ratio) and the validation part the rest",
}


def book_split(data: list[Any], train: float, test: float,
               cut: Callable[[float], int] = int) -> tuple[list[Any], list[Any], list[Any]]:
    n_train, n_test = cut(len(data) * train), cut(len(data) * test)
    return data[:n_train], data[n_train:n_train + n_test], data[n_train + n_test:]


@pytest.mark.task(SPLIT, category="values")
@given(n=st.integers(0, 120), ratios=st.sampled_from([(0.85, 0.1), (0.5, 0.3), (0.7, 0.2),
                                                      (0.9, 0.05), (0.6, 0.4)]))
@example(n=68, ratios=(0.85, 0.1))  # the shipped set: 57.8 and 6.8
@example(n=20, ratios=(0.85, 0.1))  # 17 and 2
@example(n=9, ratios=(0.5, 0.3))  # 4.5 and 2.7: round() gives 4 and 3, int() 4 and 2
@example(n=5, ratios=(1.0, 0.0))  # the whole list is the training part: still a new list
def test_the_split_is_the_books(candidate, n, ratios):
    """(data[:a], data[a:a + b], data[a + b:]) with a = int(n * train_ratio), b = int(n *
    test_ratio): train, test, validation."""
    data = [f"entry {i}" for i in range(n)]
    handed = list(data)
    got = candidate.split_data(handed, *ratios)
    call = f"split_data({n} entries, train_ratio={ratios[0]}, test_ratio={ratios[1]})"
    require(isinstance(got, tuple) and len(got) == 3 and all(isinstance(p, list) for p in got),
            f"{call} returned {kind(got)}; return three lists (train, test, val).")
    want = book_split(data, *ratios)
    if got != want:
        sizes = [len(p) for p in got]
        mistake = diagnose(got, SPLIT_MISTAKES, {
            "round": lambda: book_split(data, *ratios, cut=round),
            "val_test": lambda: (want[0], want[2], want[1]),
            "val_ratio": lambda: book_split(data, ratios[0], 1 - ratios[0] - ratios[1]),
        })
        raise AssertionError(f"{call} gave parts of {sizes} entries (first entries "
                             f"{[p[:1] for p in got]}); expected {[len(p) for p in want]} "
                             f"(first entries {[p[:1] for p in want]}).{mistake}")
    require(handed == data, f"{call} changed the list handed in; slice it, never pop from it.")
    require(all(part is not handed for part in got), f"{call} returned the list handed in itself "
            "as a part; return three new lists (slices).")


@pytest.mark.task(SPLIT, category="values")
def test_the_split_defaults_to_85_10_5(candidate):
    """split_data(data) is the book's 85% train, 10% test and the rest validation."""
    data = instruction_data()
    got = candidate.split_data(data)
    want = book_split(data, 0.85, 0.1)
    require(got == want, f"split_data(the shipped 68 entries) gave parts of "
            f"{[len(p) for p in got] if isinstance(got, tuple) else kind(got)} entries; "
            f"expected {[len(p) for p in want]} (the defaults are train_ratio=0.85, "
            "test_ratio=0.1).")


# --- extract_response ---------------------------------------------------------------------------


EXTRACT_MISTAKES = {
    "marker_kept": "the \"### Response:\" marker is still in the answer: remove it with "
                   ".replace(\"### Response:\", \"\")",
    "not_stripped": "the whitespace around the answer is still there: .strip() it",
    "prompt_kept": "the prompt is still in front: drop the first len(input_text) characters",
    "lstrip_only": "only the front is stripped: .strip() both ends",
    "prompt_replaced": "the prompt was removed with .replace(input_text, \"\"), which removes it "
                       "from the answer too: drop the first len(input_text) characters",
    "some_whitespace": "only spaces and newlines are stripped: .strip() with no argument strips "
                       "every whitespace character (tabs and \"\\r\" too)",
}


def book_extract(generated: str, prompt: str) -> str:
    return generated[len(prompt):].replace(MARKER, "").strip()


answers = st.text(st.sampled_from("abc xyz.!?\n#:0"), max_size=20)


@pytest.mark.task(EXTRACT, category="values")
@given(entry=entries, answer=answers, before=st.sampled_from(["\n\n", "\n", " ", ""]),
       after=st.sampled_from(["", " ", "\n", "  \n\n"]))
@example(entry={"instruction": "Give the plural form of the noun.", "input": "mouse",
                "output": "mice"}, answer="mice", before="\n\n", after=" \n")
@example(entry={"instruction": "Name a color.", "input": "", "output": "red"},
         answer="The color is red.", before="\n\n", after="")
def test_the_answer_is_what_follows_the_prompt(candidate, entry, answer, before, after):
    """generated_text[len(input_text):] without "### Response:", stripped."""
    prompt = book_prompt(entry)
    generated = prompt + before + MARKER + "\n" + answer + after
    got = candidate.extract_response(generated, prompt)
    call = f"extract_response({generated[-60:]!r} (the last 60 characters), its prompt)"
    require(isinstance(got, str), f"{call} returned {kind(got)}; return the answer as a str.")
    want = book_extract(generated, prompt)
    if got != want:
        mistake = diagnose(got, EXTRACT_MISTAKES, {
            "marker_kept": lambda: generated[len(prompt):].strip(),
            "not_stripped": lambda: generated[len(prompt):].replace(MARKER, ""),
            "prompt_kept": lambda: generated.replace(MARKER, "").strip(),
            "lstrip_only": lambda: generated[len(prompt):].replace(MARKER, "").lstrip(),
        })
        raise AssertionError(f"{call} returned {got!r}; expected {want!r}.{mistake}")


@pytest.mark.task(EXTRACT, category="values")
@given(generated=st.text(st.sampled_from("ab #:R\nesponse"), max_size=40),
       cut=st.integers(0, 40))
@example(generated="Prompt\n\n### Response:\nfirst ### Response: again ", cut=6)
@example(generated="x### Response:### Response:y", cut=1)
@example(generated="Say hi\n\n### Response:\nSay hi", cut=6)  # the answer repeats the prompt
@example(generated="x\t### Response:\tanswer\t\r\n", cut=1)  # tabs and "\r": whitespace too
def test_every_marker_after_the_prompt_goes(candidate, generated, cut):
    """Any generated text: the first len(input_text) characters go, then every "### Response:"
    marker, then the whitespace at both ends."""
    prompt = generated[:cut]
    got = candidate.extract_response(generated, prompt)
    want = book_extract(generated, prompt)
    mistake = "" if got == want else diagnose(got, EXTRACT_MISTAKES, {
        "prompt_replaced": lambda: generated.replace(prompt, "").replace(MARKER, "").strip()
        if prompt else None,
        "some_whitespace": lambda: generated[len(prompt):].replace(MARKER, "").strip(" \n"),
    })
    require(got == want, f"extract_response({generated!r}, {prompt!r}) returned {got!r}; "
            f"expected {want!r}.{mistake}")


# --- generate_model_scores ----------------------------------------------------------------------


def judge_prompt(entry: dict[str, str], key: str) -> str:
    return (f"Given the input `{book_prompt(entry)}` and correct output `{entry['output']}`, "
            f"score the model response `{entry[key]}` on a scale from 0 to 100, where 100 is "
            "the best score. Respond with the integer number only.")


class RecordingJudge:
    """Answers each prompt with the next of its answers, and keeps the prompts."""

    def __init__(self, answers: list[str]) -> None:
        self.answers, self.prompts = list(answers), []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers[len(self.prompts) - 1] if len(self.prompts) <= len(self.answers) \
            else "0"


SCORE_MISTAKES = {
    "asked_empty": "the judge is asked about an empty response; an empty response scores 0 "
                   "without asking",
    "zero_unread": "an answer int() cannot read scores 0; the book skips it (appends nothing)",
}

scored = st.lists(st.tuples(entries, st.one_of(st.just(""), words),
                            st.sampled_from(["87", " 42\n", "100", "0", "seven", "3.5", ""])),
                  min_size=1, max_size=5)


@pytest.mark.task(SCORES, category="values")
@given(rows=scored)
@example(rows=[({"instruction": "Add.", "input": "2 and 2", "output": "4"}, "4", "90"),
               ({"instruction": "Add.", "input": "1 and 2", "output": "3"}, "", "50"),
               ({"instruction": "Name it.", "input": "", "output": "x"}, "y", "bad"),
               ({"instruction": "Name it.", "input": "", "output": "z"}, "z", " 77\n")])
@example(rows=[({"instruction": "Add.", "input": "2 and 2", "output": "4"}, "4", "3.5"),
               ({"instruction": "Add.", "input": "1 and 2", "output": "3"}, "3", "60")])
@example(rows=[({"instruction": "Add.", "input": "2 and 2", "output": "4"}, "4", "120"),
               ({"instruction": "Add.", "input": "1 and 2", "output": "3"}, "3", "-5"),
               ({"instruction": "Name it.", "input": "", "output": "x"}, "x", "95.")])
def test_the_judge_is_asked_the_books_question(candidate, rows):
    """One question per non-empty response, in order, worded as the book's; int(answer)
    appended, 0 for an empty response, unreadable answers skipped."""
    data = [{**entry, "model_response": response} for entry, response, _ in rows]
    asked = [row for row in data if row["model_response"] != ""]
    answers = [answer for _, response, answer in rows if response != ""]
    judge = RecordingJudge(answers)
    got = candidate.generate_model_scores(copy.deepcopy(data), "model_response", judge)
    call = f"generate_model_scores({len(data)} entries, 'model_response', a judge)"
    want_prompts = [judge_prompt(row, "model_response") for row in asked]
    extra = ""
    if len(judge.prompts) > len(want_prompts):
        extra = diagnose(judge.prompts, SCORE_MISTAKES, {
            "asked_empty": lambda: [judge_prompt(row, "model_response") for row in data]})
    require(len(judge.prompts) == len(want_prompts), f"{call} asked the judge "
            f"{len(judge.prompts)} times; expected {len(want_prompts)} (once per non-empty "
            f"response).{extra}")
    for i, (p, w) in enumerate(zip(judge.prompts, want_prompts, strict=True)):
        require(p == w, f"{call}: question {i}: {first_difference(p, w)}.")
    want: list[int] = []
    answer_of = iter(answers)
    for row in data:
        if row["model_response"] == "":
            want.append(0)
            continue
        try:
            want.append(int(next(answer_of)))
        except ValueError:
            continue
    if got != want:
        mistake = diagnose(got, SCORE_MISTAKES, {
            "zero_unread": lambda: [0 if r["model_response"] == "" else
                                    (int(a) if a.strip().lstrip("-").isdigit() else 0)
                                    for r, a in zip(data, [a for _, _, a in rows],
                                                    strict=True)]})
        raise AssertionError(f"{call} returned {got!r}; expected {want!r} (the judge answered "
                             f"{answers!r}).{mistake}")

"""Spec for 04-dataset: token windows, a reproducible loader and a padding collate function.

Run by `./kata check 04-dataset`. Code is reached only through the `candidate` and `reference`
fixtures. Everything here is integer data, so every comparison is exact: this spec needs no
tolerance. The make_loader checks give the learner's loader the reference TokenWindowDataset,
so that task is graded on its own.

Every assert carries a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection to it, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor
from torch.utils.data import DataLoader

from grader.harness import Mistake, assert_matches, assert_op_count_constant
from grader.strategies import seeds, sizes

pytestmark = pytest.mark.rung("04-dataset")

DATASET = "TokenWindowDataset"
LOADER = "make_loader"
COLLATE = "pad_collate"

VOCAB_SIZE = 50257  # GPT-2's vocabulary, so token ids look like real ones
# "strided int64 tensor": every other element of a buffer, a non-contiguous view whose other
# elements are tokens too, so code that reads the storage as if it were contiguous shows
STRIDED = "strided int64 tensor"
FORMS = ("list", "int64 tensor", "int32 tensor", STRIDED)


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: object) -> str:
    """A value's type in words, with the shape for a tensor."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} elements"
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"[:120]
    return f"a {type(value).__name__} object"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def must_raise(call: Callable[[], object], error: type[Exception], what: str, why: str) -> None:
    """`call()` must raise `error`; anything else gets a message that says what happened."""
    try:
        result = call()
    except error:
        return
    except NotImplementedError:
        raise  # still todo
    except Exception as exc:
        raise AssertionError(
            f"{what} should raise {error.__name__} ({why}), but it raised "
            f"{type(exc).__name__}: {exc}"
        ) from None
    raise AssertionError(f"{what} should raise {error.__name__} ({why}), but it returned "
                         f"{kind(result)}.")


# --- TokenWindowDataset ----------------------------------------------------------------------


def make_tokens(n: int, seed: int, form: str = "int64 tensor") -> list[int] | Tensor:
    """n random token ids in one of the accepted forms: a list, an int64 or an int32 tensor, or a
    non-contiguous int64 view (every other element of a buffer of 2n tokens)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB_SIZE, (n,), generator=generator)  # (n,) int64
    if form == STRIDED:
        buffer = torch.randint(0, VOCAB_SIZE, (2 * n,), generator=generator)  # (2n,)
        buffer[::2] = tokens
        return buffer[::2]  # (n,), stride 2
    if form == "list":
        return tokens.tolist()
    if form == "int32 tensor":
        return tokens.to(torch.int32)
    return tokens


def full_windows(n: int, T: int, stride: int) -> int:
    return max(0, (n - T - 1) // stride + 1)


def dataset_call(n: int, T: int, stride: int, form: str = "int64 tensor") -> str:
    article = "an" if form[0] in "aeiou" else "a"
    return f"{DATASET}({article} {form} of {n} tokens, context_length={T}, stride={stride})"


def build_dataset(candidate: Any, tokens: list[int] | Tensor, T: int, stride: int,
                  call: str) -> Any:
    """The learner's dataset; a ValueError on valid arguments is explained."""
    try:
        return candidate.TokenWindowDataset(tokens, T, stride)
    except ValueError as exc:
        raise AssertionError(
            f"{call} raised ValueError ({exc}), but these arguments are valid: "
            "context_length >= 1 and stride >= 1. A text too short for one window is valid too; "
            "it gives an empty dataset (len 0)."
        ) from None


def length_of(dataset: Any, call: str) -> int:
    """len(dataset), with Python's complaint about a negative length explained."""
    try:
        return len(dataset)
    except ValueError as exc:
        raise AssertionError(
            f"len({call}) failed: ValueError: {exc}. A text shorter than context_length + 1 "
            "tokens has no full window; __len__ must return max(0, (N - context_length - 1) "
            "// stride + 1), never a negative number."
        ) from None
    except TypeError as exc:
        raise AssertionError(f"len({call}) failed: TypeError: {exc}. __len__ must return an "
                             "int.") from None


def item_of(dataset: Any, index: int, call: str, count: int) -> tuple[Tensor, Tensor]:
    """dataset[index] of a dataset with `count` full windows, checked to be a pair of tensors."""
    try:
        item = dataset[index]
    except IndexError as exc:
        raise AssertionError(
            f"{call}[{index}] raised IndexError ({exc}), but the dataset has "
            f"{plural(count, 'full window')}, so index {index} exists. Check __len__ and the "
            "range check in __getitem__ against max(0, (N - context_length - 1) // stride + 1)"
        ) from None
    require(isinstance(item, (tuple, list)) and len(item) == 2, (
        f"{call}[{index}] returned {kind(item)}; return the pair (input_ids, target_ids)"))
    for name, value in zip(("input_ids", "target_ids"), item, strict=True):
        require(isinstance(value, Tensor), (
            f"{call}[{index}] returned {name} as {kind(value)}; return a torch.Tensor"))
    return item[0], item[1]


LEN_MISTAKES: tuple[tuple[str, Callable[[int, int, int], int]], ...] = (
    ("you counted windows of context_length tokens, but a window needs context_length + 1: "
     "its last target is the token after its last input. Count starts s with "
     "s + context_length + 1 <= N", lambda n, T, s: (n - T) // s + 1),
    ("one window short: the window at the last valid start counts too, so add 1 after the "
     "floor division", lambda n, T, s: (n - T - 1) // s),
    ("you divided by context_length; windows start stride tokens apart, so divide by stride",
     lambda n, T, s: (n - T - 1) // T + 1),
)


@st.composite
def corpus_cases(draw: st.DrawFn) -> tuple[int, int, int, str, int]:
    """(N, context_length, stride, form, seed), with many texts shorter than one window."""
    return (draw(sizes(0, 40)), draw(sizes(1, 8)), draw(sizes(1, 6)),
            draw(st.sampled_from(FORMS)), draw(seeds()))


@pytest.mark.task(DATASET, category="shape")
def test_each_item_is_a_pair_of_int64_windows_of_context_length(candidate):
    """dataset[i] is (input_ids, target_ids), both int64 of shape (context_length,), whatever the
    type and dtype of token_ids."""
    n, T, stride = 20, 4, 3
    for form in FORMS:
        call = dataset_call(n, T, stride, form)
        dataset = build_dataset(candidate, make_tokens(n, seed=0, form=form), T, stride, call)
        count = full_windows(n, T, stride)
        for index in (0, count - 1):
            for name, value in zip(("input_ids", "target_ids"),
                                   item_of(dataset, index, call, count), strict=True):
                require(tuple(value.shape) == (T,), (
                    f"{call}[{index}]: {name} has shape {tuple(value.shape)}, expected ({T},): "
                    f"one window holds context_length = {T} tokens"))
                require(value.dtype == torch.int64, (
                    f"{call}[{index}]: {name} is {value.dtype}, expected torch.int64: token ids "
                    "index nn.Embedding and are cross_entropy's targets, and both want int64. "
                    "Convert once in __init__: torch.as_tensor(token_ids, dtype=torch.long)"))


@pytest.mark.task(DATASET, category="shape")
def test_len_counts_only_full_windows(candidate):
    """len = max(0, (N - context_length - 1) // stride + 1): a partial window is dropped."""
    cases = ((10, 3, 2), (9, 3, 2), (4, 3, 1), (12, 4, 4), (13, 4, 4), (20, 1, 1), (7, 3, 2),
             (6, 2, 5), (30, 5, 1))
    lengths = {}
    for n, T, stride in cases:
        call = dataset_call(n, T, stride)
        dataset = build_dataset(candidate, make_tokens(n, seed=n), T, stride, call)
        lengths[n, T, stride] = length_of(dataset, call)
    for (n, T, stride), got in lengths.items():
        expected = full_windows(n, T, stride)
        if got == expected:
            continue
        message = (f"len({dataset_call(n, T, stride)}) is {got}, expected "
                   f"{plural(expected, 'full window')} = ({n} - {T} - 1) // {stride} + 1: a "
                   f"window needs context_length + 1 = {T + 1} tokens")
        # a formula can agree with another mistake's on one case: name the one that gives every
        # length the dataset gave
        for description, mistake in LEN_MISTAKES:
            if all(mistake(*case) == length for case, length in lengths.items()):
                message += f"\n  Likely mistake: {description}."
                break
        raise AssertionError(message)


@pytest.mark.task(DATASET, category="shape")
def test_a_text_shorter_than_one_window_gives_an_empty_dataset(candidate):
    """Fewer than context_length + 1 tokens: the dataset is empty (len 0), not an error."""
    for n, T, stride in ((0, 1, 1), (3, 3, 1), (2, 4, 2), (5, 8, 3), (4, 4, 4), (1, 1, 2)):
        call = dataset_call(n, T, stride)
        dataset = build_dataset(candidate, make_tokens(n, seed=n), T, stride, call)
        got = length_of(dataset, call)
        require(got == 0, (
            f"len({call}) is {got}, expected 0: a text shorter than one window (context_length "
            f"+ 1 = {T + 1} tokens) has no full window, so the dataset is empty"))


def window_mistake(tokens: Tensor, index: int, T: int, stride: int, got_inputs: Tensor,
                   got_targets: Tensor) -> str:
    """Name the classic mistake that produced this wrong item, if one did."""
    def window(start: int) -> Tensor:
        return tokens[max(start, 0) : max(start, 0) + T]

    def same(a: Tensor, b: Tensor) -> bool:
        return a.shape == b.shape and bool(torch.equal(a.long(), b))

    s = index * stride
    inputs, targets = window(s), window(s + 1)
    if tokens.dim() == 1 and tokens.stride(0) != 1 and tokens.numel() > 1:
        # what reading the memory as if it were contiguous gives (as_strided, view on storage)
        memory = torch.as_strided(tokens, (tokens.numel() * tokens.stride(0),), (1,))
        if same(got_inputs, memory[s : s + T]):
            return ("token_ids here is a non-contiguous view (every other element of a buffer), "
                    "and the windows were read from its memory as if it were contiguous "
                    "(as_strided or a view of the storage). Slice the tensor, tokens[s : s + "
                    "context_length], or make it contiguous first")
    if same(got_inputs, inputs) and same(got_targets, inputs):
        return ("target_ids equal input_ids. The targets are the inputs shifted by one, "
                "tokens[s + 1 : s + context_length + 1], so that target_ids[t] is the token that "
                "follows input_ids[t]")
    if same(got_inputs, targets) and same(got_targets, inputs):
        return "input_ids and target_ids are swapped; the targets are the ones shifted by one"
    if s >= 1 and same(got_inputs, inputs) and same(got_targets, window(s - 1)):
        return ("the targets are shifted the wrong way: they start one token before the "
                "inputs, tokens[s - 1 : s - 1 + context_length]; they start one after, at s + 1")
    def starts_at(start: int) -> bool:
        """The item is the whole window (inputs and targets) at that start, inside the text (an
        empty slice past the end is no evidence of a start)."""
        return start + T + 1 <= tokens.numel() and same(got_inputs, window(start)) \
            and same(got_targets, window(start + 1))

    # window 0 starts at 0 whatever the formula: a start is told apart from window 1 on
    if index >= 1 and stride != 1 and starts_at(index):
        return "window i starts at i; it starts at s = i * stride"
    if index >= 1 and stride != T and starts_at(index * T):
        return ("window i starts at i * context_length; windows start stride tokens apart, "
                "s = i * stride")
    return ""


@pytest.mark.task(DATASET, category="values")
@given(case=corpus_cases())
@example(case=(12, 5, 1, "list", 3))  # several windows first: a wrong shift shows from window 1
@example(case=(5, 4, 1, "list", 0))  # exactly one window
@example(case=(12, 3, 3, "int32 tensor", 1))  # windows that just touch
@example(case=(17, 4, 2, "int64 tensor", 2))
@example(case=(17, 4, 2, STRIDED, 2))  # a non-contiguous view of a longer buffer
def test_windows_hold_the_tokens_and_the_targets_are_shifted_by_one(candidate, reference, case):
    """Window i starts at s = i * stride: inputs tokens[s : s + T], targets tokens[s+1 : s+T+1]."""
    n, T, stride, form, seed = case
    tokens = make_tokens(n, seed, form)
    call = dataset_call(n, T, stride, form)
    dataset = build_dataset(candidate, tokens, T, stride, call)
    expected_dataset = reference.TokenWindowDataset(tokens, T, stride)
    as_tensor = tokens if isinstance(tokens, Tensor) and tokens.dtype == torch.long else (
        torch.as_tensor(tokens, dtype=torch.long))
    failures = []
    for index in range(len(expected_dataset)):
        got_inputs, got_targets = item_of(dataset, index, call, len(expected_dataset))
        inputs, targets = expected_dataset[index]
        ok = all(got.shape == want.shape and torch.equal(got.long(), want)
                 for got, want in ((got_inputs, inputs), (got_targets, targets)))
        if ok:
            continue
        s = index * stride
        message = (f"{call}[{index}] is wrong: got input_ids {got_inputs.tolist()} and "
                   f"target_ids {got_targets.tolist()}; expected input_ids {inputs.tolist()} "
                   f"= tokens[{s}:{s + T}] and target_ids {targets.tolist()} = "
                   f"tokens[{s + 1}:{s + T + 1}]")
        mistake = window_mistake(as_tensor, index, T, stride, got_inputs, got_targets)
        failures.append(message + (f"\n  Likely mistake: {mistake}." if mistake else ""))
    # the first wrong window that shows what went wrong (window 0 can hide it: a start of -1
    # slices to an empty window), else the first wrong window
    if failures:
        raise AssertionError(next((f for f in failures if "Likely mistake:" in f), failures[0]))


@pytest.mark.task(DATASET, category="properties")
def test_indices_work_as_for_a_list(candidate):
    """-1 is the last window and -len the first; outside -len <= i < len is an IndexError, which
    is also what ends `for pair in dataset`."""
    n, T, stride = 20, 4, 3
    call = dataset_call(n, T, stride)
    dataset = build_dataset(candidate, make_tokens(n, seed=3), T, stride, call)
    count = full_windows(n, T, stride)
    for negative, positive in ((-1, count - 1), (-count, 0)):
        got, want = item_of(dataset, negative, call, count), item_of(dataset, positive, call, count)
        same = all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(got, want,
                                                                            strict=True))
        require(same, (
            f"{call}[{negative}] differs from item [{positive}]: as for a list, "
            f"a negative index counts from the end (there are {count} windows). Turn it into "
            "index + len(self) before computing the start"))
    why = (f"there are only {count} full windows; returning a short or empty window instead "
           "lets `for pair in dataset` run on past the end")
    for index in (count, count + 3, -count - 1):
        must_raise(lambda index=index: dataset[index], IndexError, f"{call}[{index}]", why)
    empty_call = dataset_call(3, 4, 1)
    empty = build_dataset(candidate, make_tokens(3, seed=0), 4, 1, empty_call)
    must_raise(lambda: empty[0], IndexError, f"{empty_call}[0]",
               "the dataset is empty: 3 tokens are too few for one window of 4 + 1")


@pytest.mark.task(DATASET, category="properties")
def test_bad_sizes_raise_value_error(candidate):
    """ValueError unless context_length >= 1 and stride >= 1."""
    tokens = make_tokens(10, seed=0)
    for T, stride, why in ((0, 1, "context_length must be at least 1"),
                           (-2, 1, "context_length must be at least 1"),
                           (3, 0, "stride must be at least 1"),
                           (3, -1, "stride must be at least 1")):
        must_raise(lambda T=T, stride=stride: candidate.TokenWindowDataset(tokens, T, stride),
                   ValueError, dataset_call(10, T, stride), why)


@pytest.mark.task(DATASET, category="structure")
def test_getitem_slices_without_a_python_loop(candidate):
    """dataset[i] dispatches as many tensor ops for a window of 4 tokens as for one of 48."""
    tokens = torch.arange(64)

    def make_call(T: int) -> Callable[[], object]:
        dataset = candidate.TokenWindowDataset(tokens, T, 1)
        return lambda: dataset[2]

    try:
        assert_op_count_constant(make_call, sizes=(4, 16, 48), dim="context length")
    except AssertionError as exc:
        raise AssertionError(
            f"{DATASET}.__getitem__: {exc} Here the loop is over the tokens of a window, one "
            "indexing op per token: slice the stored tensor instead, tokens[s : s + "
            "context_length] and tokens[s + 1 : s + context_length + 1]."
        ) from None


# --- make_loader ------------------------------------------------------------------------------

T_LOADER = 3


def window_dataset(reference: Any, num_windows: int) -> Any:
    """A reference dataset whose window i is inputs [i, i+1, i+2], so a row names its window."""
    tokens = torch.arange(num_windows + T_LOADER)  # stride 1: exactly num_windows windows
    return reference.TokenWindowDataset(tokens, T_LOADER, 1)


def loader_call(num_windows: int, batch_size: int, shuffle: bool, seed: int,
                drop_last: bool | None = True) -> str:
    tail = "" if drop_last is None else f", drop_last={drop_last}"
    return (f"{LOADER}(a dataset of {plural(num_windows, 'window')} of {T_LOADER} tokens, "
            f"batch_size={batch_size}, shuffle={shuffle}, seed={seed}{tail})")


def read_epoch(loader: Any, call: str) -> list[list[int]]:
    """One pass over the loader, as the window index of every row, batch by batch.

    Each batch must be (inputs, targets) of int64 (b, 3) tensors whose rows are whole windows.
    """
    epoch = []
    for number, batch in enumerate(loader):
        where = f"{call}: batch {number}"
        require(isinstance(batch, (tuple, list)) and len(batch) == 2, (
            f"{where} is {kind(batch)}; expected the pair (inputs, targets) that the default "
            "collate makes from (input_ids, target_ids) items"))
        inputs, targets = batch
        for name, value in (("inputs", inputs), ("targets", targets)):
            require(isinstance(value, Tensor) and value.dim() == 2
                    and value.shape[1] == T_LOADER and value.dtype == torch.int64, (
                f"{where}: {name} is {kind(value)}; expected int64 (batch_size, {T_LOADER})"))
        require(inputs.shape == targets.shape, (
            f"{where}: inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ"))
        starts = inputs[:, 0]
        whole = torch.arange(T_LOADER)[None, :] + starts[:, None]  # (b, T)
        require(torch.equal(inputs, whole) and torch.equal(targets, whole + 1), (
            f"{where}: the rows are not the dataset's windows (inputs {inputs.tolist()}, targets "
            f"{targets.tolist()}). Let the DataLoader's default collate stack the items; don't "
            "change them"))
        epoch.append(starts.tolist())
    return epoch


def flat(epoch: list[list[int]]) -> list[int]:
    return [index for batch in epoch for index in batch]


def preview(epoch: list[list[int]], batches: int = 3) -> str:
    shown = ", ".join(str(batch) for batch in epoch[:batches])
    return f"[{shown}{', ...' if len(epoch) > batches else ''}]"


def expected_batch_sizes(num_windows: int, batch_size: int, drop_last: bool) -> list[int]:
    full, rest = divmod(num_windows, batch_size)
    return [batch_size] * full + ([rest] if rest and not drop_last else [])


@st.composite
def loader_cases(draw: st.DrawFn) -> tuple[int, int, bool, int, bool | None]:
    """(windows, batch_size, shuffle, seed, drop_last); drop_last None means "left out"."""
    return (draw(sizes(1, 30)), draw(sizes(1, 8)), draw(st.booleans()), draw(seeds()),
            draw(st.sampled_from((True, False, None))))


def make(candidate: Any, dataset: Any, batch_size: int, shuffle: bool, seed: int,
         drop_last: bool | None) -> Any:
    if drop_last is None:
        return candidate.make_loader(dataset, batch_size, shuffle, seed)
    return candidate.make_loader(dataset, batch_size, shuffle, seed, drop_last=drop_last)


@pytest.mark.task(LOADER, category="structure")
def test_make_loader_returns_a_dataloader_set_up_as_asked(candidate, reference):
    """A torch DataLoader over the dataset with the batch_size, drop_last (True when left out)
    and num_workers it was given."""
    dataset = window_dataset(reference, 10)
    # None: the argument is left out, so its default (drop_last True, num_workers 0) applies
    cases = ((4, True, None, 0), (3, False, False, 2), (5, True, True, 1), (4, False, None, None))
    for batch_size, shuffle, drop_last, num_workers in cases:
        call = loader_call(10, batch_size, shuffle, 0, drop_last)[:-1] + (
            "" if num_workers is None else f", num_workers={num_workers}") + ")"
        given = {} if drop_last is None else {"drop_last": drop_last}
        if num_workers is not None:
            given["num_workers"] = num_workers
        loader = candidate.make_loader(dataset, batch_size, shuffle, 0, **given)
        require(isinstance(loader, DataLoader), (
            f"{call} returned {kind(loader)}; return a torch.utils.data.DataLoader"))
        require(loader.dataset is dataset, f"{call}: the DataLoader is not over `dataset`")
        expected = {"batch_size": batch_size, "drop_last": drop_last is not False,
                    "num_workers": num_workers or 0}
        for name, value in expected.items():
            defaults = {"drop_last": "; drop_last defaults to True",
                        "num_workers": "; num_workers defaults to 0 (no worker processes)"}
            require(getattr(loader, name) == value, (
                f"{call}: the DataLoader has {name}={getattr(loader, name)!r}, expected "
                f"{value!r}. Pass {name} on to DataLoader" + defaults.get(name, "")))


@pytest.mark.task(LOADER, category="shape")
@given(case=loader_cases())
@example(case=(10, 4, False, 0, True))
@example(case=(10, 4, True, 0, False))
@example(case=(10, 4, True, 0, None))
def test_batches_are_batch_size_by_context_length(candidate, reference, case):
    """len(dataset) // batch_size full batches of (batch_size, context_length) pairs; with
    drop_last=False one more, partial, batch when the division leaves a remainder."""
    num_windows, batch_size, shuffle, seed, drop_last = case
    call = loader_call(num_windows, batch_size, shuffle, seed, drop_last)
    loader = make(candidate, window_dataset(reference, num_windows), batch_size, shuffle, seed,
                  drop_last)
    got = [len(batch) for batch in read_epoch(loader, call)]
    expected = expected_batch_sizes(num_windows, batch_size, drop_last is not False)
    if got == expected:
        return
    message = f"{call} gave batches of sizes {got}; expected {expected}"
    if drop_last is not False and got == expected_batch_sizes(num_windows, batch_size, False):
        message += (". With drop_last=True (also the default) the last, partial batch is "
                    "dropped: pass drop_last on to DataLoader")
    elif drop_last is False and got == expected_batch_sizes(num_windows, batch_size, True):
        message += ". drop_last=False keeps the last, partial batch: pass drop_last on"
    raise AssertionError(message)


@pytest.mark.task(LOADER, category="values")
@given(num_windows=sizes(1, 30), batch_size=sizes(1, 8), seed=seeds())
@example(num_windows=12, batch_size=4, seed=0)  # three full batches: a shuffle shows at once
def test_without_shuffle_the_windows_come_in_order(candidate, reference, num_windows,
                                                   batch_size, seed):
    """shuffle=False: window 0, 1, 2, ... in dataset order, whatever the seed."""
    call = loader_call(num_windows, batch_size, False, seed, False)
    loader = candidate.make_loader(window_dataset(reference, num_windows), batch_size, False,
                                   seed, drop_last=False)
    epoch = read_epoch(loader, call)
    require(flat(epoch) == list(range(num_windows)), (
        f"{call} gave the windows in the order {preview(epoch)}; with shuffle=False they come "
        f"in dataset order, [0, 1, 2, ...] (shuffle must be passed on, not always True)"))


@pytest.mark.task(LOADER, category="values")
@given(num_windows=sizes(1, 30), batch_size=sizes(1, 8), seed=seeds(), drop_last=st.booleans())
def test_a_shuffled_epoch_visits_each_window_once(candidate, reference, num_windows, batch_size,
                                                  seed, drop_last):
    """shuffle=True: an epoch is a permutation of the windows (less the dropped remainder)."""
    call = loader_call(num_windows, batch_size, True, seed, drop_last)
    loader = candidate.make_loader(window_dataset(reference, num_windows), batch_size, True, seed,
                                   drop_last=drop_last)
    seen = flat(read_epoch(loader, call))
    repeated = sorted({index for index in seen if seen.count(index) > 1})
    require(not repeated, (
        f"{call} served windows {repeated} more than once in one epoch; shuffling reorders the "
        "windows without replacement (DataLoader(shuffle=True) does this)"))
    expected = sum(expected_batch_sizes(num_windows, batch_size, drop_last))
    require(len(seen) == expected, (
        f"{call} served {plural(len(seen), 'window')} in one epoch, expected {expected}" + (
            ": with drop_last=True the last, partial batch is dropped"
            if drop_last and len(seen) > expected else "")))


@pytest.mark.task(LOADER, category="properties")
def test_the_same_seed_gives_the_same_batches(candidate, reference):
    """Two loaders made with one seed give the same batches, epoch after epoch, whatever state
    the global RNG is in."""
    dataset = window_dataset(reference, 24)
    for seed in (0, 7, 2024):
        call = loader_call(24, 4, True, seed)
        runs = []
        for global_seed in (1, 2):
            torch.manual_seed(global_seed)  # the loader must not care
            loader = candidate.make_loader(dataset, 4, True, seed)
            runs.append([read_epoch(loader, call) for _ in range(2)])
        for epoch, (first, second) in enumerate(zip(*runs, strict=True)):
            require(first == second, (
                f"two loaders made by {call} gave different batches in epoch {epoch}: "
                f"{preview(first)} and {preview(second)}. The order must depend on the seed "
                "alone: give the DataLoader generator=torch.Generator().manual_seed(seed) "
                "instead of letting it draw from the global RNG"))


@pytest.mark.task(LOADER, category="properties")
def test_different_seeds_give_different_orders(candidate, reference):
    """Seeds 0, 1, 2, 12345 and the seed an unseeded torch.Generator starts from shuffle 24
    windows into five different orders (seed 0 is a seed like any other)."""
    dataset = window_dataset(reference, 24)
    orders = {}
    unseeded = torch.Generator().initial_seed()
    for seed in (0, 1, 2, 12345, unseeded):
        orders[seed] = read_epoch(candidate.make_loader(dataset, 4, True, seed),
                                  loader_call(24, 4, True, seed))
    in_order = [seed for seed, epoch in orders.items() if flat(epoch) == list(range(24))]
    require(not in_order, (
        f"{loader_call(24, 4, True, in_order[0]) if in_order else ''} left the windows in "
        "dataset order: with shuffle=True the DataLoader must shuffle (pass shuffle on)"))
    seeds_seen = list(orders)
    for i, a in enumerate(seeds_seen):
        for b in seeds_seen[i + 1 :]:
            if orders[a] == orders[b] and (a, b) == (0, unseeded):
                raise AssertionError(
                    f"make_loader(a dataset of 24 windows, batch_size=4, shuffle=True) gave the "
                    f"same order for seed=0 and seed={unseeded}, the seed a torch.Generator "
                    f"starts from: {preview(orders[a])}.\n  Likely mistake: seed 0 never "
                    "reached the generator, as when it is applied only `if seed:`. 0 is a seed "
                    "like any other: torch.Generator().manual_seed(seed), always")
            require(orders[a] != orders[b], (
                f"make_loader(a dataset of 24 windows, batch_size=4, shuffle=True) gave the same "
                f"order for seed={a} and seed={b}: {preview(orders[a])}. The seed must drive "
                "the shuffle: torch.Generator().manual_seed(seed), not a fixed seed"))


@pytest.mark.task(LOADER, category="properties")
def test_each_epoch_is_a_new_shuffle(candidate, reference):
    """Iterating one loader again starts a new epoch with a new order (still reproducible)."""
    call = loader_call(24, 4, True, 0)
    loader = candidate.make_loader(window_dataset(reference, 24), 4, True, 0)
    first, second = read_epoch(loader, call), read_epoch(loader, call)
    require(first != second, (
        f"{call}: two passes over the same loader gave the same order, {preview(first)}. Each "
        "epoch should be shuffled anew. Create the generator once, in make_loader, and let the "
        "DataLoader draw from it on every pass; don't reseed it at the start of each epoch"))


@pytest.mark.task(LOADER, category="properties")
def test_two_loaders_alive_at_once_keep_their_own_orders(candidate, reference):
    """Loaders made one after the other, then read, give the orders each gives alone: making a
    loader does not change the ones made before it."""
    dataset = window_dataset(reference, 24)
    alone = {seed: read_epoch(candidate.make_loader(dataset, 4, True, seed),
                              loader_call(24, 4, True, seed)) for seed in (3, 4)}
    first = candidate.make_loader(dataset, 4, True, 3)
    second = candidate.make_loader(dataset, 4, True, 4)
    together = {3: read_epoch(first, loader_call(24, 4, True, 3)),
                4: read_epoch(second, loader_call(24, 4, True, 4))}
    for seed, other in ((3, 4), (4, 3)):
        if together[seed] == alone[seed]:
            continue
        message = (f"{loader_call(24, 4, True, seed)} gave {preview(alone[seed])} when it was "
                   f"the only loader, but {preview(together[seed])} when a loader with seed="
                   f"{other} was made {'after' if seed == 3 else 'before'} it and both were "
                   "read. Each loader's order must depend on its own seed alone")
        if seed == 3 and together[3] == alone[4]:
            message += ("\n  Likely mistake: the loaders share one torch.Generator (a "
                        "module-level one?), and making the second reseeded the first's. "
                        "Create a new torch.Generator().manual_seed(seed) in every make_loader "
                        "call")
        raise AssertionError(message)


@pytest.mark.task(LOADER, category="properties")
@pytest.mark.parametrize("shuffle", (True, False))
def test_make_loader_leaves_the_global_rng_alone(candidate, reference, shuffle):
    """Building a loader and running two epochs leaves torch's global RNG state unchanged."""
    call = loader_call(12, 4, shuffle, 5)
    before = torch.get_rng_state()
    loader = candidate.make_loader(window_dataset(reference, 12), 4, shuffle, 5)
    read_epoch(loader, call)
    read_epoch(loader, call)
    require(torch.equal(torch.get_rng_state(), before), (
        f"{call} changed the global RNG (torch.get_rng_state() differs after two epochs). "
        "Dropout and weight init draw from it, so a loader that reseeds or draws from it "
        "changes their random numbers. Don't call torch.manual_seed; give the DataLoader "
        "generator=torch.Generator().manual_seed(seed), also when shuffle=False: without a "
        "generator a DataLoader draws a seed from the global RNG on every pass"))


# --- pad_collate ------------------------------------------------------------------------------


def collate_with(fill_side: str = "right", input_fill: str = "pad_id",
                 target_fill: str = "ignore_index", by_value: bool = False,
                 ) -> Callable[..., tuple[Tensor, Tensor]]:
    """pad_collate as code with one mistake computes it (the defaults are correct)."""

    def compute(batch: Sequence[tuple[Tensor, Tensor]], pad_id: int,
                ignore_index: int = -100) -> tuple[Tensor, Tensor]:
        fills = {"pad_id": pad_id, "ignore_index": ignore_index, "-100": -100, "0": 0}
        # a wrong fill that is the right one here (pad_id 0), or another mistake's (ignore_index
        # 0 against 0), is nothing this case can name
        for fill, right, others in ((input_fill, "pad_id", ("ignore_index", "0")),
                                    (target_fill, "ignore_index", ("pad_id", "-100"))):
            if fill != right and (fills[fill] == fills[right]
                                  or any(fills[fill] == fills[o] for o in others if o != fill)):
                raise ValueError(f"a fill of {fill} cannot be told apart here")
        B, T_max = len(batch), max(len(x) for x, _ in batch)
        inputs = torch.full((B, T_max), fills[input_fill], dtype=torch.long)
        targets = torch.full((B, T_max), fills[target_fill], dtype=torch.long)
        for b, (x, y) in enumerate(batch):
            where = slice(T_max - len(x), T_max) if fill_side == "left" else slice(0, len(x))
            inputs[b, where], targets[b, where] = x, y
        if by_value:
            targets = targets.masked_fill(inputs == pad_id, ignore_index)
        return inputs, targets

    return compute


BY_VALUE = ("you found the padding by comparing the inputs with pad_id, but a real token can "
            "equal pad_id (GPT-2 pads with 50256, its <|endoftext|> token). Mark padding by each "
            "pair's length instead")
LEFT = ("you padded on the left; pad on the right, so each sequence starts at position 0: "
        "inputs[b, :L_b] = input_ids")
INPUT_MISTAKES = (
    Mistake(LEFT, lambda *a: collate_with(fill_side="left")(*a)[0]),
    Mistake("the inputs were padded with ignore_index; inputs are padded with pad_id (a token "
            "the model can embed), targets with ignore_index",
            lambda *a: collate_with(input_fill="ignore_index")(*a)[0]),
    Mistake("the inputs were padded with 0; pad them with pad_id",
            lambda *a: collate_with(input_fill="0")(*a)[0]),
)
TARGET_MISTAKES = (
    Mistake("the targets were padded with pad_id; pad them with ignore_index, which "
            "cross_entropy skips, so padding adds nothing to the loss",
            lambda *a: collate_with(target_fill="pad_id")(*a)[1]),
    Mistake("the targets were padded with -100 although ignore_index is different; use the "
            "ignore_index argument (-100 is only its default)",
            lambda *a: collate_with(target_fill="-100")(*a)[1]),
    Mistake(LEFT, lambda *a: collate_with(fill_side="left")(*a)[1]),
    Mistake(BY_VALUE, lambda *a: collate_with(by_value=True)(*a)[1]),
)


def make_pairs(lengths: Sequence[int], seed: int, high: int = 10) -> list[tuple[Tensor, Tensor]]:
    """One (input_ids, target_ids) pair per length, the targets shifted by one as in training.

    Token ids are drawn from [0, high): with a small `high` some equal pad_id.
    """
    generator = torch.Generator().manual_seed(seed)
    pairs = []
    for length in lengths:
        sequence = torch.randint(0, high, (length + 1,), generator=generator)  # (L + 1,)
        pairs.append((sequence[:-1], sequence[1:]))
    return pairs


def collate_call(pairs: Sequence[tuple[Tensor, Tensor]], pad_id: int, ignore_index: int) -> str:
    lengths = [len(x) for x, _ in pairs]
    return (f"{COLLATE}({len(pairs)} pairs of lengths {lengths}, pad_id={pad_id}, "
            f"ignore_index={ignore_index})")


def collated(candidate: Any, pairs: list[tuple[Tensor, Tensor]], pad_id: int,
             ignore_index: int, call: str) -> tuple[Tensor, Tensor]:
    """The learner's (inputs, targets), checked to be a pair of tensors."""
    out = candidate.pad_collate(pairs, pad_id, ignore_index)
    require(isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{call} returned {kind(out)}; return the pair (inputs, targets)"))
    for name, value in zip(("inputs", "targets"), out, strict=True):
        require(isinstance(value, Tensor), f"{call} returned {name} as {kind(value)}")
    return out[0], out[1]


@st.composite
def collate_cases(draw: st.DrawFn) -> tuple[list[int], int, int, int]:
    """(lengths, pad_id, ignore_index, seed); pad_id often equals a real token."""
    lengths = draw(st.lists(sizes(1, 7), min_size=1, max_size=5))
    pad_id = draw(st.one_of(st.integers(0, 9), st.just(50256)))
    return lengths, pad_id, draw(st.sampled_from((-100, -1, -7, 0))), draw(seeds())


@pytest.mark.task(COLLATE, category="shape")
def test_pad_collate_gives_two_int64_tensors_of_b_by_the_longest(candidate):
    """B pairs of lengths L_b give (inputs, targets), both int64 (B, max L_b)."""
    pairs = make_pairs((3, 1, 5), seed=0)
    call = collate_call(pairs, 0, -100)
    inputs, targets = collated(candidate, pairs, 0, -100, call)
    for name, value in (("inputs", inputs), ("targets", targets)):
        require(tuple(value.shape) == (3, 5), (
            f"{call}: {name} has shape {tuple(value.shape)}, expected (3, 5) = (B, longest "
            "length): one row per pair, padded on the right to the longest"))
        require(value.dtype == torch.int64, (
            f"{call}: {name} is {value.dtype}, expected torch.int64. torch.zeros(B, T) + pad_id "
            "is float32; build with torch.full((B, T_max), pad_id, dtype=torch.long)"))


@pytest.mark.task(COLLATE, category="values")
@given(case=collate_cases())
@example(case=([3, 1, 5], 0, -100, 0))
@example(case=([2, 4], 3, -7, 1))
@example(case=([3, 1, 5], 2, 0, 2))  # ignore_index 0 is an index like any other
def test_pad_collate_pads_inputs_with_pad_id_and_targets_with_ignore_index(candidate, reference,
                                                                          case):
    """inputs[b, :L_b] = input_ids, then pad_id; targets[b, :L_b] = target_ids, then
    ignore_index; padding on the right."""
    lengths, pad_id, ignore_index, seed = case
    pairs = make_pairs(lengths, seed)
    call = collate_call(pairs, pad_id, ignore_index)
    inputs, targets = collated(candidate, pairs, pad_id, ignore_index, call)
    assert_matches(inputs, lambda *a: reference.pad_collate(*a)[0], pairs, pad_id, ignore_index,
                   what=f"{call}: inputs", mistakes=INPUT_MISTAKES)
    assert_matches(targets, lambda *a: reference.pad_collate(*a)[1], pairs, pad_id,
                   ignore_index, what=f"{call}: targets", mistakes=TARGET_MISTAKES)


@pytest.mark.task(COLLATE, category="values")
def test_ignore_index_defaults_to_minus_100(candidate, reference):
    """Called as collate_fn=functools.partial(pad_collate, pad_id=...), without ignore_index,
    the targets are padded with -100, cross_entropy's default ignore_index."""
    pairs = make_pairs((3, 1, 5), seed=4)
    pad_id = 3  # not 0 nor -100: padding that holds it is padding with pad_id
    call = (f"{COLLATE}({len(pairs)} pairs of lengths [3, 1, 5], pad_id={pad_id}) (ignore_index "
            "left out)")
    out = candidate.pad_collate(pairs, pad_id)
    require(isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{call} returned {kind(out)}; return the pair (inputs, targets)"))
    targets = out[1]
    require(isinstance(targets, Tensor), f"{call} returned targets as {kind(targets)}")
    expected = reference.pad_collate(pairs, pad_id)[1]
    if targets.shape == expected.shape and torch.equal(targets, expected):
        return
    message = f"{call}: targets are {targets.tolist()}, expected {expected.tolist()}"
    padding = expected == -100
    held = targets[padding].unique() if targets.shape == expected.shape else None
    if held is not None and held.numel() == 1 and torch.equal(targets[~padding],
                                                              expected[~padding]):
        likely = (TARGET_MISTAKES[0].description if held.item() == pad_id
                  else f"the padding holds {held.item()}, so ignore_index defaults to that. It "
                  "defaults to -100, the value cross_entropy skips unless told otherwise")
        message += f"\n  Likely mistake: {likely}."
    raise AssertionError(message)


@pytest.mark.task(COLLATE, category="properties")
def test_targets_are_ignored_exactly_where_the_inputs_are_padding(candidate):
    """Padding is found by length: a real token equal to pad_id keeps its target."""
    pad_id = 2
    pairs = [(torch.tensor([2, 5, 2]), torch.tensor([5, 2, 7])),
             (torch.tensor([7, 2]), torch.tensor([2, 2])),
             (torch.tensor([4]), torch.tensor([2]))]
    call = collate_call(pairs, pad_id, -100) + " (real tokens equal to pad_id inside)"
    inputs, targets = collated(candidate, pairs, pad_id, -100, call)
    require(inputs.shape == targets.shape == (3, 3), (
        f"{call}: got inputs {tuple(inputs.shape)}, targets {tuple(targets.shape)}; "
        "expected (3, 3) both"))
    lengths = torch.tensor([len(x) for x, _ in pairs])
    padding = torch.arange(3)[None, :] >= lengths[:, None]  # (B, T_max)
    ignored = targets == -100
    real_but_ignored = (ignored & ~padding).nonzero().tolist()
    if real_but_ignored:
        b, t = real_but_ignored[0]
        cause = BY_VALUE if inputs[b, t] == pad_id else (
            "Those are real positions: pad on the right and find the padding by length")
        raise AssertionError(
            f"{call}: targets are -100 at {real_but_ignored}, where the pairs have real tokens; "
            f"only the padding {padding.nonzero().tolist()} may be -100. {cause}")
    missed = (padding & ~ignored).nonzero().tolist()
    held = [targets[b, t].item() for b, t in missed]
    require(not missed, (
        f"{call}: the targets' padding at {missed} holds {held}; it must hold ignore_index "
        "(-100 here), which cross_entropy skips"))
    require(bool((inputs[padding] == pad_id).all()), (
        f"{call}: the padded positions of the inputs must hold pad_id={pad_id}; got "
        f"{inputs.tolist()}"))


@pytest.mark.task(COLLATE, category="properties")
def test_pad_collate_leaves_the_batch_unchanged(candidate):
    """The pairs it is given are not modified."""
    pairs = make_pairs((4, 2, 3), seed=5)
    before = [(x.clone(), y.clone()) for x, y in pairs]
    call = collate_call(pairs, 0, -100)
    collated(candidate, pairs, 0, -100, call)
    for b, ((x, y), (x0, y0)) in enumerate(zip(pairs, before, strict=True)):
        require(torch.equal(x, x0) and torch.equal(y, y0), (
            f"{call} changed pair {b} in place; build new tensors and copy the pairs into them"))
